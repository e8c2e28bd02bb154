//! Persistence (`persistence true`): an append-only journal of every change to what must
//! outlive the process, written before the change is acted on, so a restart (after `kill -9`
//! too) finds sessions, subscriptions, retained messages, the messages waiting to be sent to
//! each client (offline or connected) and each session's QoS 1 / 2 state as they were.
//!
//! A record is a length (u32, big endian) and that many bytes: a tag, then fields (integers big
//! endian, strings and byte strings with a u32 length). A record cut short by a kill is ignored
//! on replay. On start the journal is replayed and written again with only what is still live
//! (one record per session, subscription, retained or queued message and QoS flow), and again
//! while the broker runs, each time it has grown past its limit ([`Journal::rewrite`], on a
//! thread of its own: the records up to then are folded into what is live, those appended
//! meanwhile are carried over as they are).
//!
//! What is not kept: QoS 0 messages, retained messages a subscription sent while its client was
//! connected (the retained message itself is kept), and wills waiting for their delay.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant as StdInstant, SystemTime};

use mqtt_ws::mqtt::packet::SubscriptionOptions;
use mqtt_ws::mqtt::server::{MemoryStore, Outgoing, Store};
use mqtt_ws::mqtt::{AwaitingRelease, PacketId, Qos, StoreFull, Version};

use super::{Delivery, Msg, Sub};

/// One change.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    /// A session exists (again) with this expiry and user name.
    Session {
        client: String,
        expiry: u32,
        username: Option<String>,
    },
    /// A session ended.
    Drop {
        client: String,
    },
    Subscribe {
        client: String,
        sub: Sub,
    },
    Unsubscribe {
        client: String,
        full: String,
    },
    Retain {
        msg: Msg,
    },
    Unretain {
        topic: String,
    },
    /// A message waiting to be sent to the client, in its session's queue (offline) or its
    /// connection's, by its number ([`Delivery::seq`]).
    Queue {
        client: String,
        delivery: Delivery,
    },
    /// Queued message `seq` was dropped (its queue was full, it expired, it was too large).
    Dequeued {
        client: String,
        seq: u64,
    },
    /// A message sent and not yet acknowledged, and the broker's copy of it (with the number it
    /// was queued under: it is queued no more).
    Inflight {
        client: String,
        id: PacketId,
        delivery: Delivery,
    },
    Acked {
        client: String,
        id: PacketId,
    },
    /// The session's store: what outgoing `id` waits for.
    Outgoing {
        client: String,
        id: PacketId,
        state: Outgoing,
    },
    OutgoingDone {
        client: String,
        id: PacketId,
    },
    /// The session's store: incoming QoS 2 `id` awaits PUBREL, or got it.
    Awaiting {
        client: String,
        id: PacketId,
    },
    Released {
        client: String,
        id: PacketId,
    },
    StoreCleared {
        client: String,
    },
}

/// The journal file, appended to under its lock.
#[derive(Debug)]
pub(crate) struct Journal {
    file: Mutex<File>,
    path: PathBuf,
    /// Bytes appended since the journal was last written whole.
    grown: AtomicU64,
    /// How far it may grow before it is written whole again.
    limit: AtomicU64,
    /// The bytes it may grow by at least (`None`: [`MIN_GROWTH`]).
    min_growth: Option<u64>,
    /// Told (once per crossing) when `grown` passes `limit`.
    due: OnceLock<SyncSender<()>>,
}

const FILE: &str = "mqtt-ws-broker.journal";

/// The least a journal grows by before it is written whole again; more when what is live is
/// larger (it may grow by twice that).
const MIN_GROWTH: u64 = 4 << 20;

/// The whole records at the start of `bytes`; a record that does not read back is the torn
/// tail of a kill, and ends them.
fn records(bytes: &[u8]) -> Vec<Record> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        let Some(body) = tail.get(..len) else { break };
        match decode(body) {
            Some(r) => records.push(r),
            None => break,
        }
        rest = &tail[len..];
    }
    records
}

impl Journal {
    /// Opens the journal in `dir` (made if missing): the records it holds, and the journal to
    /// append to, written whole again once it grew by `min_growth` bytes or twice what is live
    /// (`None`: 4 MiB at least). Call [`Journal::compact`] with the live state once it is
    /// rebuilt.
    pub(crate) fn open(
        dir: &Path,
        min_growth: Option<u64>,
    ) -> io::Result<(Arc<Journal>, Vec<Record>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut bytes)?;
        }
        let records = records(&bytes);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let journal = Journal {
            file: Mutex::new(file),
            path,
            grown: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
            min_growth,
            due: OnceLock::new(),
        };
        Ok((Arc::new(journal), records))
    }

    fn lock(&self) -> MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the journal again with `records` only (the live state), replacing the old one
    /// whole (a new file renamed over it).
    pub(crate) fn compact(&self, records: &[Record]) -> io::Result<()> {
        let mut file = self.lock();
        let (tmp, written) = self.write_new(records)?;
        self.replace(&mut file, tmp, written, 0)
    }

    /// Writes the journal again while appends go on: the records in it now go through `live`
    /// (from what they rebuild to the records that rebuild it), the records appended
    /// meanwhile follow as they are. Returns the sizes before and after.
    pub(crate) fn rewrite(
        &self,
        live: impl FnOnce(Vec<Record>) -> Vec<Record>,
    ) -> io::Result<(u64, u64)> {
        // Appends are whole under the lock: the length read under it ends a record.
        let upto = self.lock().metadata()?.len();
        let mut bytes = Vec::new();
        File::open(&self.path)?.take(upto).read_to_end(&mut bytes)?;
        let (mut tmp, written) = self.write_new(&live(records(&bytes)))?;
        let mut file = self.lock();
        let mut old = File::open(&self.path)?;
        old.seek(SeekFrom::Start(upto))?;
        let carried = io::copy(&mut old, &mut tmp)?;
        let before = file.metadata()?.len();
        self.replace(&mut file, tmp, written, carried)?;
        Ok((before, written + carried))
    }

    /// A new journal file holding `records`, not yet in place; with its length.
    fn write_new(&self, records: &[Record]) -> io::Result<(File, u64)> {
        let mut out = Vec::new();
        for r in records {
            frame(&mut out, r);
        }
        let mut tmp = File::create(self.path.with_extension("journal.new"))?;
        tmp.write_all(&out)?;
        Ok((tmp, out.len() as u64))
    }

    /// Puts the new file in place of the journal, under the lock (`file`): `written` bytes of
    /// live records, then `carried` bytes appended while it was written, which count as growth
    /// (a rewrite that took long may be due again at once).
    fn replace(&self, file: &mut File, tmp: File, written: u64, carried: u64) -> io::Result<()> {
        tmp.sync_all()?;
        drop(tmp);
        std::fs::rename(self.path.with_extension("journal.new"), &self.path)?;
        *file = OpenOptions::new().append(true).open(&self.path)?;
        self.grown.store(carried, Ordering::Relaxed);
        let growth = self.min_growth.unwrap_or(MIN_GROWTH).max(written.saturating_mul(2));
        self.limit.store(growth, Ordering::Relaxed);
        self.tell_if_due();
        Ok(())
    }

    /// Where to hear that the journal has grown past its limit and is due to be rewritten
    /// ([`Journal::rewrite`]); the channel ends when the journal is dropped.
    pub(crate) fn watch(&self) -> Option<Receiver<()>> {
        let (tx, rx) = sync_channel(1);
        self.due.set(tx).ok()?;
        Some(rx)
    }

    /// Appends `record` (one write: a kill leaves it whole or torn, never half-applied).
    pub(crate) fn append(&self, record: &Record) {
        let mut out = Vec::new();
        frame(&mut out, record);
        let mut file = self.lock();
        if let Err(e) = file.write_all(&out) {
            println!("broker: journal write failed: {e}");
            return;
        }
        drop(file);
        self.grown.fetch_add(out.len() as u64, Ordering::Relaxed);
        self.tell_if_due();
    }

    /// Tells the watcher ([`Journal::watch`]) when the journal has grown past its limit.
    fn tell_if_due(&self) {
        if self.is_due()
            && let Some(due) = self.due.get()
        {
            // A full channel: told already.
            let _ = due.try_send(());
        }
    }

    /// Whether the journal has grown past its limit.
    pub(crate) fn is_due(&self) -> bool {
        self.grown.load(Ordering::Relaxed) >= self.limit.load(Ordering::Relaxed)
    }
}

fn frame(out: &mut Vec<u8>, r: &Record) {
    let mut body = Vec::new();
    encode(&mut body, r);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_bytes(out, s.as_bytes());
        }
        None => out.push(0),
    }
}

fn put_msg(out: &mut Vec<u8>, m: &Msg) {
    put_bytes(out, m.topic.as_bytes());
    put_bytes(out, &m.payload);
    out.push(m.qos.as_u8());
    out.push(u8::from(m.retain));
    put_bytes(out, &m.props);
    // When it expires, as wall-clock seconds (0: never): instants do not outlive the process.
    let expires = m.expires.map_or(0, |t| {
        let left = t.saturating_duration_since(StdInstant::now());
        (SystemTime::now() + left)
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs().max(1))
    });
    out.extend_from_slice(&expires.to_be_bytes());
}

fn put_delivery(out: &mut Vec<u8>, d: &Delivery) {
    out.extend_from_slice(&d.seq.to_be_bytes());
    put_msg(out, &d.msg);
    out.extend_from_slice(&(d.sub_ids.len() as u32).to_be_bytes());
    for id in &d.sub_ids {
        out.extend_from_slice(&id.get().to_be_bytes());
    }
}

fn encode(out: &mut Vec<u8>, r: &Record) {
    let id_of = |id: &PacketId| id.get().to_be_bytes();
    match r {
        Record::Session { client, expiry, username } => {
            out.push(1);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&expiry.to_be_bytes());
            put_opt(out, username.as_deref());
        }
        Record::Drop { client } => {
            out.push(2);
            put_bytes(out, client.as_bytes());
        }
        Record::Subscribe { client, sub } => {
            out.push(3);
            put_bytes(out, client.as_bytes());
            put_bytes(out, sub.full.as_bytes());
            put_bytes(out, sub.filter.as_bytes());
            put_opt(out, sub.group.as_deref());
            out.push(sub.options.to_byte());
            out.extend_from_slice(&sub.id.map_or(0, NonZeroU32::get).to_be_bytes());
        }
        Record::Unsubscribe { client, full } => {
            out.push(4);
            put_bytes(out, client.as_bytes());
            put_bytes(out, full.as_bytes());
        }
        Record::Retain { msg } => {
            out.push(5);
            put_msg(out, msg);
        }
        Record::Unretain { topic } => {
            out.push(6);
            put_bytes(out, topic.as_bytes());
        }
        Record::Queue { client, delivery } => {
            out.push(7);
            put_bytes(out, client.as_bytes());
            put_delivery(out, delivery);
        }
        Record::Dequeued { client, seq } => {
            out.push(8);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
        }
        Record::Inflight { client, id, delivery } => {
            out.push(9);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&id_of(id));
            put_delivery(out, delivery);
        }
        Record::Acked { client, id } => {
            out.push(10);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&id_of(id));
        }
        Record::Outgoing { client, id, state } => {
            out.push(11);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&id_of(id));
            out.push(match state {
                Outgoing::PubAck => 1,
                Outgoing::PubRec => 2,
                Outgoing::PubComp => 3,
            });
        }
        Record::OutgoingDone { client, id } => {
            out.push(12);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&id_of(id));
        }
        Record::Awaiting { client, id } => {
            out.push(13);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&id_of(id));
        }
        Record::Released { client, id } => {
            out.push(14);
            put_bytes(out, client.as_bytes());
            out.extend_from_slice(&id_of(id));
        }
        Record::StoreCleared { client } => {
            out.push(15);
            put_bytes(out, client.as_bytes());
        }
    }
}

/// Reads fields off a record's bytes; `None` past the end.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn opt(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            _ => Some(Some(self.string()?)),
        }
    }
    fn id(&mut self) -> Option<PacketId> {
        PacketId::new(self.u16()?)
    }
    fn msg(&mut self) -> Option<Msg> {
        let topic = self.string()?;
        let payload = self.bytes()?.to_vec();
        let qos = Qos::from_u8(self.u8()?)?;
        let retain = self.u8()? != 0;
        let props = self.bytes()?.to_vec();
        let expires = match self.u64()? {
            0 => None,
            at => {
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs(at);
                let left = at.duration_since(SystemTime::now()).unwrap_or_default();
                Some(StdInstant::now() + left)
            }
        };
        Some(Msg {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            retain,
            props: props.into(),
            from: 0,
            expires,
        })
    }
    fn delivery(&mut self) -> Option<Delivery> {
        let seq = self.u64()?;
        let msg = self.msg()?;
        let n = self.u32()? as usize;
        let sub_ids = (0..n).map(|_| NonZeroU32::new(self.u32()?)).collect::<Option<_>>()?;
        Some(Delivery { msg, sub_ids, seq })
    }
}

fn decode(body: &[u8]) -> Option<Record> {
    let mut f = Fields(body);
    let r = match f.u8()? {
        1 => Record::Session { client: f.string()?, expiry: f.u32()?, username: f.opt()? },
        2 => Record::Drop { client: f.string()? },
        3 => {
            let client = f.string()?;
            let full = f.string()?;
            let filter = f.string()?;
            let group = f.opt()?;
            let options = SubscriptionOptions::from_byte(f.u8()?, Version::V5).ok()?;
            let id = NonZeroU32::new(f.u32()?);
            Record::Subscribe { client, sub: Sub { full, filter, group, options, id } }
        }
        4 => Record::Unsubscribe { client: f.string()?, full: f.string()? },
        5 => Record::Retain { msg: f.msg()? },
        6 => Record::Unretain { topic: f.string()? },
        7 => Record::Queue { client: f.string()?, delivery: f.delivery()? },
        8 => Record::Dequeued { client: f.string()?, seq: f.u64()? },
        9 => Record::Inflight { client: f.string()?, id: f.id()?, delivery: f.delivery()? },
        10 => Record::Acked { client: f.string()?, id: f.id()? },
        11 => {
            let client = f.string()?;
            let id = f.id()?;
            let state = match f.u8()? {
                1 => Outgoing::PubAck,
                2 => Outgoing::PubRec,
                3 => Outgoing::PubComp,
                _ => return None,
            };
            Record::Outgoing { client, id, state }
        }
        12 => Record::OutgoingDone { client: f.string()?, id: f.id()? },
        13 => Record::Awaiting { client: f.string()?, id: f.id()? },
        14 => Record::Released { client: f.string()?, id: f.id()? },
        15 => Record::StoreCleared { client: f.string()? },
        _ => return None,
    };
    // Every byte read: anything else is not a record of ours.
    f.0.is_empty().then_some(r)
}

/// A session's store (MQTT 5.0 §4.1 state of its QoS 1 / 2 flows) in memory, each change
/// journaled when the broker persists and the store belongs to a client. Its room is allocated
/// with the first QoS 1 / 2 flow (a session that has none holds nothing) and freed when cleared.
#[derive(Debug, Default)]
pub(crate) struct SessionStore {
    mem: Option<Box<Mem>>,
    journal: Option<(Arc<Journal>, Arc<str>)>,
}

type Mem = MemoryStore<{ super::INFLIGHT }>;

impl SessionStore {
    /// From now on, changes go to `journal` as `client`'s.
    pub(crate) fn attach(&mut self, journal: Option<&Arc<Journal>>, client: &str) {
        self.journal = journal.map(|j| (j.clone(), client.into()));
    }

    /// Nothing in flight either way.
    pub(crate) fn is_empty(&self) -> bool {
        self.outgoing_len() == 0 && self.awaiting_release() == 0
    }

    fn mem_mut(&mut self) -> &mut Mem {
        self.mem.get_or_insert_with(Box::default)
    }

    /// Replays a journaled change.
    pub(crate) fn apply(&mut self, r: &Record) {
        match r {
            Record::Outgoing { id, state, .. } => drop(self.mem_mut().set_outgoing(*id, *state)),
            Record::OutgoingDone { id, .. } => drop(self.mem_mut().remove_outgoing(*id)),
            Record::Awaiting { id, .. } => drop(self.mem_mut().await_release(*id)),
            Record::Released { id, .. } => drop(self.mem_mut().released(*id)),
            Record::StoreCleared { .. } => self.mem = None,
            _ => {}
        }
    }

    /// The records that rebuild this store for `client`.
    pub(crate) fn snapshot(&self, client: &str, out: &mut Vec<Record>) {
        let Some(mem) = self.mem.as_deref() else { return };
        let client = || client.to_owned();
        for i in 0..mem.outgoing_len() {
            if let Some((id, state)) = mem.outgoing_at(i) {
                out.push(Record::Outgoing { client: client(), id, state });
            }
        }
        for &id in mem.awaiting() {
            out.push(Record::Awaiting { client: client(), id });
        }
    }

    fn log(&self, record: impl FnOnce(String) -> Record) {
        if let Some((journal, client)) = &self.journal {
            journal.append(&record(client.to_string()));
        }
    }
}

impl AwaitingRelease for SessionStore {
    fn await_release(&mut self, id: PacketId) -> Result<(), StoreFull> {
        self.mem_mut().await_release(id)?;
        self.log(|client| Record::Awaiting { client, id });
        Ok(())
    }
    fn awaits_release(&self, id: PacketId) -> bool {
        self.mem.as_deref().is_some_and(|m| m.awaits_release(id))
    }
    fn released(&mut self, id: PacketId) -> bool {
        let held = self.mem.as_deref_mut().is_some_and(|m| m.released(id));
        if held {
            self.log(|client| Record::Released { client, id });
        }
        held
    }
    fn awaiting_release(&self) -> usize {
        self.mem.as_deref().map_or(0, |m| m.awaiting_release())
    }
    fn awaiting_capacity(&self) -> usize {
        super::INFLIGHT
    }
}

impl Store for SessionStore {
    fn set_outgoing(&mut self, id: PacketId, state: Outgoing) -> Result<(), StoreFull> {
        self.mem_mut().set_outgoing(id, state)?;
        self.log(|client| Record::Outgoing { client, id, state });
        Ok(())
    }
    fn outgoing(&self, id: PacketId) -> Option<Outgoing> {
        self.mem.as_deref().and_then(|m| m.outgoing(id))
    }
    fn remove_outgoing(&mut self, id: PacketId) -> bool {
        let held = self.mem.as_deref_mut().is_some_and(|m| m.remove_outgoing(id));
        if held {
            self.log(|client| Record::OutgoingDone { client, id });
        }
        held
    }
    fn outgoing_at(&self, index: usize) -> Option<(PacketId, Outgoing)> {
        self.mem.as_deref().and_then(|m| m.outgoing_at(index))
    }
    fn outgoing_len(&self) -> usize {
        self.mem.as_deref().map_or(0, |m| m.outgoing_len())
    }
    fn clear(&mut self) {
        if !self.is_empty() {
            self.log(|client| Record::StoreCleared { client });
        }
        self.mem = None;
    }
}
