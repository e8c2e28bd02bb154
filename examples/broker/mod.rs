//! A small single-node MQTT broker built on `mqtt_ws::mqtt::server::Server`, shared by the
//! `broker` and `demo` examples and the broker tests.
//!
//! The broker runs on a tokio runtime of its own: a connection's task runs its `Server` session
//! in the crate's async driver over the connection's transport (TCP, or `ws::Stream` for MQTT
//! over WebSocket) and waits, at once, for the client's bytes, for the messages other
//! connections route to it over a bounded channel, and for the session's next timer. A plain
//! TCP connection that goes quiet gives its task and buffers up and waits parked on the same
//! three ([`park`]), as an event loop's connection would.
//! Broker-wide state (sessions, the subscription index, retained messages) sits behind one
//! mutex, never held across an await. Good for local use, tests, demos and gateways.
//!
//! Supported: MQTT 5.0 and 3.1.1 over TCP and WebSocket (path `/mqtt`, subprotocol `mqtt`,
//! `Origin` allow-list), QoS 0/1/2 both ways, exactly once across reconnects (each session's
//! protocol state is carried from one connection to the next), wildcards and shared
//! subscriptions (`$share/group/filter`, round robin), retained messages, subscription
//! identifiers, No Local, Retain As Published, Retain Handling, session expiry, session
//! takeover, wills with Will Delay Interval, Message Expiry Interval (expired messages are not
//! delivered from queues or the retained store; the rest carry the time left), and incoming
//! topic aliases.
//!
//! Bounded against a misbehaving client: routing never waits for a connection, and a session
//! holds at most [`MAX_QUEUED`] messages queued plus as many in its channel (beyond that they
//! are dropped and counted in [`Stats::dropped`]); a write that blocks longer than
//! [`Options::write_timeout`] closes the connection; the WebSocket upgrade and CONNECT must be
//! done within [`Options::connect_timeout`]; delayed wills wait on the broker's one timer;
//! subscriptions and retained messages are found through topic trees ([`tree`]); assigned
//! Client Identifiers are random; topics starting with `$` are the broker's (a client's
//! PUBLISH there is refused with 0x87).
//!
//! Configured as Mosquitto is ([`config`], [`setup`]): listeners (TLS too), who may connect
//! ([`passwd`]), what each client may do ([`acl`]), limits, and persistence ([`journal`]:
//! [`Broker::persistent`]).
#![allow(dead_code)]

pub mod acl;
mod chan;
pub mod client;
pub mod config;
mod conn;
pub mod file_error;
mod journal;
mod listen;
mod park;
pub mod passwd;
pub mod setup;
pub mod transport;
pub mod tree;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::num::{NonZeroU16, NonZeroU32, NonZeroU64};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use mqtt_ws::mqtt::packet::{RetainHandling, SubscriptionOptions};
use mqtt_ws::mqtt::properties::{Properties, PropertyContext};
use mqtt_ws::mqtt::server::{Availability, Config, HeapAliases, Server};
use mqtt_ws::mqtt::topic::SharedSubscription;
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode};
use mqtt_ws::time::Instant;
use tokio::sync::oneshot;

use chan::TrySendError;

use journal::{Journal, Record, SessionStore};
pub(crate) use transport::invalid;
use tree::Tree;

/// Largest MQTT packet the broker accepts (announced as Maximum Packet Size).
pub const MAX_PACKET: u32 = 1 << 20;
/// [`Options::connect_timeout`] by default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// [`Options::write_timeout`] by default.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages kept per session (offline: QoS 1 and 2 only; online: waiting for the client's
/// Receive Maximum); more are dropped and counted in [`Stats::dropped`] (Mosquitto's
/// `max_queued_messages` default).
pub const MAX_QUEUED: usize = 1000;
/// Receive Maximum each way.
const INFLIGHT: usize = 32;

/// The protocol machine of a connection, over the session state it keeps between connections
/// (QoS 2 identifiers awaiting PUBREL, what each message in flight waits for), with its topic
/// aliases on the heap: nothing until the client or the broker uses one.
type Session = Server<INFLIGHT, TOPIC_ALIASES, 256, SessionStore, HeapAliases>;
/// Topic aliases each way per connection (Mosquitto's `max_topic_alias` default), each of a
/// topic of up to 256 bytes.
const TOPIC_ALIASES: usize = 10;

/// Who may connect, and what each client may do (Mosquitto's `allow_anonymous`,
/// `password_file` and `acl_file`).
#[derive(Debug, Default)]
pub struct Security {
    /// Clients without a user name may connect.
    pub allow_anonymous: bool,
    /// The user names and passwords accepted; without it any user name is.
    pub passwords: Option<passwd::PasswordFile>,
    /// What each client may publish, subscribe to and receive; without it, everything.
    pub acl: Option<acl::Acl>,
}

/// What a client asks to do, for [`Security::acl`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Access<'a> {
    Publish(&'a str),
    Subscribe(&'a str),
}

/// How to run the broker.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Who may connect and what they may do; `None`: anyone, anything.
    pub security: Option<Arc<Security>>,
    /// The longest keep-alive a client may ask for, seconds (sent as Server Keep Alive).
    pub max_keepalive: Option<NonZeroU16>,
    /// The largest packet accepted (at most [`MAX_PACKET`]).
    pub max_packet_size: Option<u32>,
    /// Messages queued per session, [`MAX_QUEUED`] by default.
    pub max_queued_messages: Option<usize>,
    /// Payload bytes queued per session; no limit by default.
    pub max_queued_bytes: Option<usize>,
    /// QoS 1 / 2 messages in flight each way per client (Receive Maximum); 32 by default.
    pub max_inflight_messages: Option<NonZeroU16>,
    /// The largest payload accepted: a larger PUBLISH is dropped (and a QoS 1 / 2 one refused
    /// with 0x97, MQTT 5.0), as Mosquitto's `message_size_limit`.
    pub message_size_limit: Option<u32>,
    /// Time a connection has to complete its WebSocket upgrade and its CONNECT (default 10 s).
    pub connect_timeout: Option<Duration>,
    /// Time a write to a client may block before the connection is closed: a client that stops
    /// reading does not hold its messages, or the broker, forever (default 30 s).
    pub write_timeout: Option<Duration>,
    /// Browser origins allowed on the WebSocket listener (requests without `Origin` are always
    /// allowed). Empty: the WebSocket listener's own `http://` origins.
    pub allowed_origins: Vec<String>,
    /// Where MQTT.js's browser bundle (`mqtt.min.js`) is, served at `/mqtt.min.js`.
    pub mqttjs: Option<PathBuf>,
    /// With persistence: the bytes the journal may grow by before it is written again with
    /// only what is live (at least twice what is live); 4 MiB by default.
    pub journal_growth: Option<u64>,
    /// Print connections and subscriptions.
    pub verbose: bool,
}

/// What the broker holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open network connections.
    pub connections: usize,
    /// Sessions (connected or kept for a client that left).
    pub sessions: usize,
    /// Messages dropped because a session's queue was full, since the start.
    pub dropped: u64,
    /// Subscriptions held (of every session).
    pub subscriptions: usize,
}

/// An application message as the broker keeps it.
#[derive(Clone, Debug)]
pub struct Msg {
    /// Shared by every copy on its way to subscribers and queues.
    pub topic: Arc<str>,
    pub payload: Arc<[u8]>,
    pub qos: Qos,
    pub retain: bool,
    /// The publisher's properties that travel with the message (MQTT 5.0 §3.3.2.3), as a
    /// validated PUBLISH property list.
    pub props: Arc<[u8]>,
    /// The connection it came from (for No Local).
    pub from: u64,
    /// When its Message Expiry Interval runs out (set when the broker publishes it).
    pub expires: Option<StdInstant>,
}

impl Msg {
    /// Whether its Message Expiry Interval has passed at `now` [MQTT-3.3.2-5].
    fn expired(&self, now: StdInstant) -> bool {
        self.expires.is_some_and(|t| now >= t)
    }
}

/// The Message Expiry Interval among a stored PUBLISH property list.
fn expiry_interval(props: &[u8]) -> Option<u32> {
    Properties::parse(props, PropertyContext::Publish).ok()?.message_expiry_interval()
}

/// A member of a shared subscription group: client, QoS, subscription identifier.
type SharedMember = (String, Qos, Option<NonZeroU32>);

/// A message on its way to one subscriber.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    msg: Msg,
    sub_ids: Vec<NonZeroU32>,
    /// Its number in the journal while it waits, in a session's queue or a connection's, to be
    /// sent ([`Broker::journal_queued`]); 0: not journaled.
    seq: u64,
}

/// What a session carries from one connection to the next: the protocol machine's store and
/// the broker's copy of each message in flight (by Packet Identifier), to go out again with its
/// identifier and DUP 1 [MQTT-4.4.0-1].
#[derive(Debug, Default)]
pub(crate) struct Carried {
    store: SessionStore,
    inflight: Vec<(PacketId, Delivery)>,
}

/// What a taken-over connection hands to its successor.
pub(crate) type Handover = Carried;

/// What an ending connection leaves of its session.
struct Leaving {
    conn_id: u64,
    /// Its Session Expiry Interval at the end.
    expiry: u32,
    /// The session's QoS 1 / 2 state.
    carried: Carried,
    /// Messages routed to it and not sent yet.
    pending: Vec<Delivery>,
    /// The connection that took the session over, if one did.
    successor: Option<oneshot::Sender<Handover>>,
}

/// What other connections send a connection.
pub(crate) enum Cmd {
    /// Boxed: every connection's channel holds a block of these from the start.
    Deliver(Box<Delivery>),
    /// A new connection took the session over; what was in flight goes to it.
    Takeover(oneshot::Sender<Handover>),
}

#[derive(Clone, Debug)]
struct Sub {
    /// The filter as subscribed (`$share/g/f` included): the key for UNSUBSCRIBE.
    full: String,
    filter: String,
    group: Option<String>,
    options: SubscriptionOptions,
    id: Option<NonZeroU32>,
}

struct SessionState {
    conn: Option<(u64, chan::Sender<Cmd>)>,
    /// The user name of its last connection (what the ACL file's rules are about).
    username: Option<Arc<str>>,
    /// A will waiting for its Will Delay Interval, and when it is due [MQTT-3.1.3-9] (boxed:
    /// few sessions have one).
    will: Option<Box<(StdInstant, Msg)>>,
    /// Its subscriptions by filter as subscribed (`$share/g/f` included); the details are in
    /// [`State::subs`].
    subs: BTreeSet<String>,
    queue: VecDeque<Delivery>,
    /// The QoS 1 / 2 state the last connection left (boxed, and none while there is none:
    /// a connected session's is its connection's).
    carried: Option<Box<Carried>>,
    expiry: u32,
    offline_since: Option<Stamp>,
}

/// A moment on the broker's clock in 8 bytes, where an `Option<Instant>` takes 16: its
/// milliseconds, plus one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(NonZeroU64);

#[derive(Default)]
struct State {
    /// Boxed: the table's free slots then cost a pointer each, not a session's room.
    sessions: HashMap<Arc<str>, Box<SessionState>>,
    /// Every subscription, filed under its topic filter (a shared one's without
    /// `$share/{group}/`).
    subs: Tree<Subscribed>,
    /// Retained messages by topic.
    retained: Tree<Msg>,
    round_robin: HashMap<String, usize>,
}

/// A subscription as the index keeps it.
struct Subscribed {
    client: Arc<str>,
    sub: Sub,
}

impl Delivery {
    /// The broker's copy of it once sent: in flight, queued no more (not numbered).
    pub(crate) fn sent(self) -> Delivery {
        Delivery { seq: 0, ..self }
    }
}

impl Carried {
    fn is_empty(&self) -> bool {
        self.inflight.is_empty() && self.store.is_empty()
    }
}

impl SessionState {
    /// The QoS 1 / 2 state it carries, made empty if it carried none.
    fn carried(&mut self) -> &mut Carried {
        self.carried.get_or_insert_default()
    }

    /// Carries `c` to the next connection.
    fn keep(&mut self, c: Carried) {
        self.carried = (!c.is_empty()).then(|| Box::new(c));
    }

    /// Takes delivery `seq` out of the queue (sent or dropped), if there (0: none).
    fn dequeue(&mut self, seq: u64) {
        if seq == 0 {
            return;
        }
        // Searched from the front: queues go out in order, so it is the first, mostly.
        if let Some(i) = self.queue.iter().position(|d| d.seq == seq) {
            self.queue.remove(i);
        }
    }

    /// What it carried, for a new connection.
    fn take_carried(&mut self) -> Carried {
        self.carried.take().map_or_else(Carried::default, |c| *c)
    }

    fn new(expiry: u32) -> Self {
        SessionState {
            conn: None,
            username: None,
            will: None,
            subs: BTreeSet::new(),
            queue: VecDeque::new(),
            carried: None,
            expiry,
            offline_since: None,
        }
    }
}

impl State {
    /// Adds (or replaces) subscription `sub` of `client`; `true` if it replaced one.
    fn index(&mut self, client: &str, sub: Sub) -> bool {
        let existed = self.unindex(client, &sub.full);
        if let Some(s) = self.sessions.get_mut(client) {
            s.subs.insert(sub.full.clone());
        }
        self.subs.entry(&sub.filter.clone()).push(Subscribed { client: client.into(), sub });
        self.subs.added(1);
        existed
    }

    /// Keeps `msg` as the retained message of its topic (an empty payload clears it).
    fn retain(&mut self, msg: &Msg) {
        self.retained.retain(&msg.topic, |_| false);
        if !msg.payload.is_empty() {
            self.retained.entry(&msg.topic).push(msg.clone());
            self.retained.added(1);
        }
    }

    /// Applies a journaled change (on start, before any connection).
    fn replay(&mut self, r: &Record) {
        fn session<'s>(st: &'s mut State, client: &str) -> &'s mut SessionState {
            st.sessions.entry(client.into()).or_insert_with(|| Box::new(SessionState::new(0)))
        }
        match r {
            Record::Session { client, expiry, username } => {
                let s = session(self, client);
                s.expiry = *expiry;
                s.username = username.as_deref().map(Arc::from);
            }
            Record::Drop { client } => drop(self.drop_session(client)),
            Record::Subscribe { client, sub } => {
                session(self, client);
                self.index(client, sub.clone());
            }
            Record::Unsubscribe { client, full } => {
                if self.sessions.get_mut(client.as_str()).is_some_and(|s| s.subs.remove(full)) {
                    self.unindex(client, full);
                }
            }
            Record::Retain { msg } => self.retain(msg),
            Record::Unretain { topic } => drop(self.retained.retain(topic, |_| false)),
            Record::Queue { client, delivery } => {
                session(self, client).queue.push_back(delivery.clone());
            }
            Record::Dequeued { client, seq } => session(self, client).dequeue(*seq),
            Record::Inflight { client, id, delivery } => {
                let s = session(self, client);
                s.dequeue(delivery.seq);
                let inflight = &mut s.carried().inflight;
                inflight.retain(|(i, _)| i != id);
                inflight.push((*id, delivery.clone().sent()));
            }
            Record::Acked { client, id } => {
                session(self, client).carried().inflight.retain(|(i, _)| i != id);
            }
            Record::Outgoing { client, .. }
            | Record::OutgoingDone { client, .. }
            | Record::Awaiting { client, .. }
            | Record::Released { client, .. }
            | Record::StoreCleared { client } => session(self, client).carried().store.apply(r),
        }
    }

    /// The records that rebuild this state (sessions as they are kept: offline).
    fn snapshot(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for (client, s) in &self.sessions {
            let client = &client.to_string();
            let username = s.username.clone();
            out.push(Record::Session {
                client: client.clone(),
                expiry: s.expiry,
                username: username.as_deref().map(str::to_owned),
            });
            for full in &s.subs {
                let path = match SharedSubscription::parse(full) {
                    Ok(Some(sh)) => sh.filter,
                    _ => full,
                };
                let found = self
                    .subs
                    .get(path)
                    .iter()
                    .find(|e| &*e.client == client && e.sub.full == *full);
                if let Some(e) = found {
                    out.push(Record::Subscribe { client: client.clone(), sub: e.sub.clone() });
                }
            }
            for d in &s.queue {
                out.push(Record::Queue { client: client.clone(), delivery: d.clone() });
            }
            if let Some(c) = &s.carried {
                for (id, d) in &c.inflight {
                    let delivery = d.clone();
                    out.push(Record::Inflight { client: client.clone(), id: *id, delivery });
                }
                c.store.snapshot(client, &mut out);
            }
        }
        self.retained.for_each(|m| out.push(Record::Retain { msg: m.clone() }));
        out
    }

    /// Removes the subscription `full` of `client` from the index.
    fn unindex(&mut self, client: &str, full: &str) -> bool {
        let path = match SharedSubscription::parse(full) {
            Ok(Some(sh)) => sh.filter,
            _ => full,
        };
        self.subs.retain(path, |e| !(&*e.client == client && e.sub.full == full)) > 0
    }

    /// Ends the session of `client` and its subscriptions; returns its will if one was still
    /// waiting for its delay (due now: the session ended first [MQTT-3.1.3-9]).
    #[must_use]
    fn drop_session(&mut self, client: &str) -> Option<Msg> {
        let s = self.sessions.remove(client)?;
        for full in &s.subs {
            self.unindex(client, full);
        }
        s.will.map(|w| w.1)
    }
}

/// Writes the journal again with only what is live each time it is due, until the broker that
/// keeps it is gone.
fn rewrite_when_due(journal: &std::sync::Weak<Journal>, due: &std::sync::mpsc::Receiver<()>) {
    while due.recv().is_ok() {
        let Some(journal) = journal.upgrade() else { return };
        if !journal.is_due() {
            continue;
        }
        // What the records rebuild, as a restart would, and the records that rebuild that.
        let live = |records: Vec<Record>| {
            let mut st = State::default();
            for r in &records {
                st.replay(r);
            }
            st.snapshot()
        };
        if let Err(e) = journal.rewrite(live) {
            println!("broker: journal rewrite failed: {e}");
        }
    }
}

/// Grows the process's descriptor table, once, to the open-file limit (at most 65,536): the
/// kernel grows it by doubling as connections come, and each growth in a process with threads
/// waits for an RCU grace period with every thread that opens or closes a socket stalled (10-25
/// ms each at 256, 1,024 and 2,048 connections, where Mosquitto, single-threaded, pays nothing).
/// Done before the runtime's threads start, that wait does not happen at all. `fd`: any open
/// descriptor, duplicated to the top of the table and closed at once.
fn reserve_descriptors(fd: impl std::os::fd::AsFd) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        let top = limit.current.unwrap_or(u64::MAX).clamp(1, 1 << 16) - 1;
        // A failure (no room at that number) leaves the table to grow as before.
        let _ = rustix::io::fcntl_dupfd_cloexec(fd, top as i32);
    });
}

/// The broker: shared state and listeners. A clone is two pointers to the same broker (each
/// connection holds one).
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
    /// The listeners' (started with [`Broker::start_listeners`]) may differ from the caller's.
    options: Arc<Options>,
}

/// What every connection of a [`Broker`] shares.
pub struct Shared {
    state: Mutex<State>,
    next_conn: AtomicU64,
    /// The next [`Delivery::seq`].
    next_seq: AtomicU64,
    connections: AtomicUsize,
    dropped: AtomicU64,
    epoch: StdInstant,
    stop: AtomicBool,
    /// Where changes go when the broker persists.
    journal: Option<Arc<Journal>>,
    /// The timer of the idle connections (see [`park`]).
    timers: park::Timers,
}

impl std::ops::Deref for Broker {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// A listener to serve.
#[derive(Clone, Debug)]
pub struct Listen {
    /// `ADDRESS:PORT` to bind.
    pub addr: String,
    /// MQTT over WebSocket (on `/mqtt`, with the browser page), else MQTT over TCP.
    pub websocket: bool,
    /// Connections it takes at once; more are closed as they come (Mosquitto's
    /// `max_connections`).
    pub max_connections: Option<u32>,
    /// TLS with this server configuration (`mqtts`, `wss`), else plain.
    pub tls: Option<Arc<mqtt_ws::tls::rustls::ServerConfig>>,
}

/// Addresses the broker listens on.
#[derive(Clone, Copy, Debug)]
pub struct Running {
    pub tcp: Option<SocketAddr>,
    pub ws: Option<SocketAddr>,
}

impl Broker {
    pub fn new(options: Options) -> Self {
        Self::with_journal(options, None)
    }

    fn with_journal(options: Options, journal: Option<Arc<Journal>>) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            next_conn: AtomicU64::new(1),
            next_seq: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            epoch: StdInstant::now(),
            stop: AtomicBool::new(false),
            journal,
            timers: park::Timers::default(),
        });
        Broker { shared, options: Arc::new(options) }
    }

    /// A broker that keeps its state in `dir` (Mosquitto's `persistence_location`): what an
    /// earlier run left there is its state now; every change from now on is journaled there.
    pub fn persistent(options: Options, dir: &std::path::Path) -> io::Result<Self> {
        let (journal, records) = Journal::open(dir, options.journal_growth)?;
        let broker = Broker::with_journal(options, Some(journal.clone()));
        {
            let mut st = broker.lock();
            for r in &records {
                st.replay(r);
            }
            let now = broker.stamp();
            let mut last_seq = 0;
            for (client, s) in st.sessions.iter_mut() {
                let carried = s.carried.iter().flat_map(|c| &c.inflight).map(|(_, d)| d);
                last_seq = s.queue.iter().chain(carried).map(|d| d.seq).fold(last_seq, u64::max);
                s.offline_since = Some(now);
                if let Some(c) = &mut s.carried {
                    c.store.attach(Some(&journal), client);
                }
            }
            broker.next_seq.store(last_seq + 1, Ordering::Relaxed);
            journal.compact(&st.snapshot())?;
            println!(
                "broker: {} sessions, {} retained messages restored from {}",
                st.sessions.len(),
                st.retained.len(),
                dir.display()
            );
        }
        if let Some(due) = journal.watch() {
            let journal = Arc::downgrade(&journal);
            thread::Builder::new()
                .name("journal".into())
                .spawn(move || rewrite_when_due(&journal, &due))?;
        }
        Ok(broker)
    }

    /// Journals a change, when the broker persists.
    fn journal(&self, record: impl FnOnce() -> Record) {
        if let Some(j) = &self.journal {
            j.append(&record());
        }
    }

    /// Journals that `d` (QoS 1 or 2) waits to be sent to `client`, in its session's queue or
    /// its connection's, and numbers it: a restart finds it queued until the record that it was
    /// sent ([`Record::Inflight`], which carries the number) or dropped ([`Record::Dequeued`])
    /// follows. A numbered delivery is journaled already (moved from one queue to another, it
    /// stays queued once); one that was sent is numbered no more.
    pub(crate) fn journal_queued(&self, client: &str, d: &mut Delivery) {
        if self.journal.is_none() || d.msg.qos == Qos::AtMostOnce || d.seq != 0 {
            return;
        }
        d.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        self.journal(|| Record::Queue { client: client.to_owned(), delivery: d.clone() });
    }

    /// Journals that `d`, queued for `client`, was dropped.
    pub(crate) fn journal_dropped(&self, client: &str, d: &Delivery) {
        if d.seq != 0 {
            self.journal(|| Record::Dequeued { client: client.to_owned(), seq: d.seq });
        }
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    /// Now, as a [`Stamp`].
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp(NonZeroU64::MIN.saturating_add(self.now().as_millis()))
    }

    /// The time since `t`.
    pub(crate) fn since(&self, t: Stamp) -> Duration {
        Duration::from_millis(self.stamp().0.get().saturating_sub(t.0.get()))
    }

    /// `at` as a [`Stamp`], rounded up: [`Broker::stamp`] reaches it only once `at` has come.
    pub(crate) fn stamp_at(&self, at: StdInstant) -> Stamp {
        let ms = at.saturating_duration_since(self.epoch).as_micros().div_ceil(1000);
        Stamp(NonZeroU64::MIN.saturating_add(u64::try_from(ms).unwrap_or(u64::MAX)))
    }

    /// The instant of `t`.
    pub(crate) fn stamp_instant(&self, t: Stamp) -> StdInstant {
        self.epoch + Duration::from_millis(t.0.get() - 1)
    }

    /// The std instant of a broker instant (a session's deadline).
    fn std_instant(&self, t: Instant) -> StdInstant {
        self.epoch + Duration::from_millis(t.as_millis())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if self.options.verbose {
            println!("broker: {}", line());
        }
    }

    /// Binds a TCP listener on `tcp` and a WebSocket one on `ws` and serves them; see
    /// [`Broker::start_listeners`].
    pub fn start(&self, tcp: Option<&str>, ws: Option<&str>) -> io::Result<Running> {
        let listen = |addr: &str, websocket| Listen {
            addr: addr.to_owned(),
            websocket,
            max_connections: None,
            tls: None,
        };
        let mut listeners = Vec::new();
        listeners.extend(tcp.map(|a| listen(a, false)));
        listeners.extend(ws.map(|a| listen(a, true)));
        let bound = self.start_listeners(&listeners)?;
        let mut running = Running { tcp: None, ws: None };
        for (l, addr) in listeners.iter().zip(bound) {
            *(if l.websocket { &mut running.ws } else { &mut running.tcp }) = Some(addr);
        }
        Ok(running)
    }

    /// Binds every listener (all or none) and serves them on a runtime of their own (two worker
    /// threads, a task per busy connection), in the background. Returns the addresses bound, in
    /// order.
    pub fn start_listeners(&self, listeners: &[Listen]) -> io::Result<Vec<SocketAddr>> {
        let mut bound = Vec::new();
        for l in listeners {
            let socket = std::net::TcpListener::bind(&l.addr)
                .map_err(|e| io::Error::new(e.kind(), format!("listener {}: {e}", l.addr)))?;
            socket.set_nonblocking(true)?;
            bound.push(socket);
        }
        let addrs = bound.iter().map(|l| l.local_addr()).collect::<io::Result<Vec<_>>>()?;
        if let Some(socket) = bound.first() {
            reserve_descriptors(socket);
        }
        let mut b = self.clone();
        let first_ws = listeners.iter().zip(&addrs).find(|(l, _)| l.websocket).map(|(_, a)| *a);
        if let Some(local) = first_ws
            && b.options.allowed_origins.is_empty()
        {
            let mut o = (*b.options).clone();
            let port = local.port();
            o.allowed_origins = vec![
                format!("http://{local}"),
                format!("http://localhost:{port}"),
                format!("http://127.0.0.1:{port}"),
            ];
            b.options = Arc::new(o);
        }
        let specs: Vec<Listen> = listeners.to_vec();
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        thread::Builder::new().name("broker".into()).spawn(move || {
            runtime.block_on(async move {
                b.timers.start();
                let timers = b.clone();
                tokio::spawn(async move { timers.run_timers().await });
                for (socket, spec) in bound.into_iter().zip(specs) {
                    match tokio::net::TcpListener::from_std(socket) {
                        Ok(l) => drop(tokio::spawn(b.clone().accept_loop(l, spec))),
                        Err(e) => println!("broker: listener {}: {e}", spec.addr),
                    }
                }
                b.expiry_loop().await;
            })
        })?;
        Ok(addrs)
    }

    /// The broker's one timer: publishes delayed wills that are due and drops sessions whose
    /// expiry interval ran out (MQTT 5.0 §4.1).
    async fn expiry_loop(self) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let now = StdInstant::now();
            let due: Vec<Msg> = {
                let mut st = self.lock();
                st.sessions
                    .values_mut()
                    .filter(|s| s.will.as_ref().is_some_and(|w| w.0 <= now))
                    .filter_map(|s| s.will.take().map(|w| w.1))
                    .collect()
            };
            for msg in due {
                self.publish(msg);
            }
            let mut st = self.lock();
            let expired: Vec<Arc<str>> = st
                .sessions
                .iter()
                .filter(|(_, s)| match s.offline_since {
                    Some(t) if s.expiry != u32::MAX => {
                        self.since(t) >= Duration::from_secs(s.expiry.into())
                    }
                    _ => false,
                })
                .map(|(c, _)| c.clone())
                .collect();
            for c in &expired {
                self.journal(|| Record::Drop { client: c.to_string() });
            }
            let wills: Vec<Msg> = expired.iter().filter_map(|c| st.drop_session(c)).collect();
            drop(st);
            for msg in wills {
                self.publish(msg);
            }
        }
    }

    /// Stops accepting connections (connected clients keep running until they leave).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// A new connection for `client_id`: takes over a connected session, resumes or starts
    /// one. Returns (the session table's copy of `client_id`, session present, messages to
    /// send again, queued messages).
    async fn connect_session(
        &self,
        client_id: &str,
        username: Option<Arc<str>>,
        conn: (u64, chan::Sender<Cmd>),
        clean_start: bool,
        expiry: u32,
    ) -> (Arc<str>, bool, Carried, Vec<Delivery>) {
        let old = self.lock().sessions.get_mut(client_id).and_then(|s| s.conn.take());
        // [MQTT-3.1.4-3] the existing connection of this Client Identifier is closed (the send
        // waits while its channel is full, without the lock it may need to drain it), and hands
        // over what it had in flight (the lock is free meanwhile: it needs it to leave), so
        // that the messages go out again with their Packet Identifiers and a QoS 2 receiver
        // recognises them [MQTT-4.3.3-9], [MQTT-4.4.0-1].
        let mut handed_over = None;
        if let Some((_, old_tx)) = old {
            let (tx, rx) = oneshot::channel();
            let wait = Duration::from_secs(2);
            if tokio::time::timeout(wait, old_tx.send(Cmd::Takeover(tx)))
                .await
                .is_ok_and(|r| r.is_ok())
            {
                handed_over = tokio::time::timeout(wait, rx).await.ok().and_then(Result::ok);
            }
        }
        let mut st = self.lock();
        let client = || client_id.to_owned();
        let ended_will = if clean_start && st.sessions.contains_key(client_id) {
            self.journal(|| Record::Drop { client: client() });
            st.drop_session(client_id)
        } else {
            None
        };
        let present = st.sessions.contains_key(client_id);
        self.journal(|| Record::Session {
            client: client(),
            expiry,
            username: username.as_deref().map(str::to_owned),
        });
        let entry = st.sessions.entry(client_id.into());
        let key = entry.key().clone();
        let s = entry.or_insert_with(|| Box::new(SessionState::new(expiry)));
        s.conn = Some(conn);
        s.username = username;
        // Back before the will's delay ran out: it is not published [MQTT-3.1.3-9].
        s.will = None;
        s.expiry = expiry;
        s.offline_since = None;
        // Clean Start discards the old session, what was in flight included [MQTT-3.1.2-4].
        // A live connection's state is newer than what an earlier one left.
        let left = s.take_carried();
        let carried = match handed_over {
            Some(h) => h,
            None => left,
        };
        // Journaled as queued until each is sent (or dropped).
        let queued: Vec<Delivery> = s.queue.drain(..).collect();
        drop(st);
        if let Some(will) = ended_will {
            self.publish(will);
        }
        (key, present, carried, queued)
    }

    /// The connection `leaving.conn_id` of `client_id` ended: keep or drop the session.
    fn disconnect_session(&self, client_id: &str, leaving: Leaving, rx: &mut chan::Receiver<Cmd>) {
        let Leaving { conn_id, expiry, carried, mut pending, mut successor } = leaving;
        let mut st = self.lock();
        // Messages routed to this connection after it stopped reading, and a takeover that
        // arrived meanwhile (its new connection waits for the session); none can follow while
        // the lock is held and the session no longer points here.
        while let Some(cmd) = rx.try_recv() {
            match cmd {
                Cmd::Deliver(d) => pending.push(*d),
                Cmd::Takeover(tx) => successor = Some(tx),
            }
        }
        let Some(s) = st.sessions.get_mut(client_id) else { return };
        let current = s.conn.as_ref().is_some_and(|(id, _)| *id == conn_id);
        if current {
            s.conn = None;
            s.expiry = expiry;
            if expiry == 0 {
                // Online until now: no will was waiting.
                self.journal(|| Record::Drop { client: client_id.to_owned() });
                let _ = st.drop_session(client_id);
                return;
            }
            // (DISCONNECT may have changed the Session Expiry Interval.)
            let username = s.username.clone();
            self.journal(|| Record::Session {
                client: client_id.to_owned(),
                expiry,
                username: username.as_deref().map(str::to_owned),
            });
            s.offline_since = Some(self.stamp());
            s.keep(carried);
        } else {
            // Taken over: what was in flight goes to the new connection, to be sent again with
            // its Packet Identifiers; if that connection is gone too, to the queue.
            let unsent = match successor {
                Some(tx) => tx.send(carried).err(),
                None => Some(carried),
            };
            // Nobody waits for it: the session keeps it for its next connection.
            if let Some(c) = unsent {
                if s.carried.as_ref().is_none_or(|c| c.is_empty()) {
                    s.keep(c);
                } else {
                    for (id, mut delivery) in c.inflight {
                        self.journal(|| Record::Acked { client: client_id.to_owned(), id });
                        if s.conn.is_none() {
                            self.journal_queued(client_id, &mut delivery);
                        }
                        s.queue.push_back(delivery);
                    }
                }
            }
        }
        let mut dropped = 0;
        let offline = s.conn.is_none();
        // Those journaled as queued already stay so; the others are journaled here, or when
        // routed to the connection that took the session over.
        for mut d in pending.into_iter().filter(|d| d.msg.qos != Qos::AtMostOnce) {
            if self.has_room(&s.queue, &d) {
                if offline {
                    self.journal_queued(client_id, &mut d);
                }
                s.queue.push_back(d);
            } else {
                self.journal_dropped(client_id, &d);
                dropped += 1;
            }
        }
        let queue = match &s.conn {
            Some((_, tx)) => Some((tx.clone(), s.queue.drain(..).collect::<Vec<_>>())),
            None => None,
        };
        drop(st);
        for _ in 0..dropped {
            self.drop_message(client_id);
        }
        if let Some((tx, queue)) = queue {
            for d in queue {
                self.route(client_id, &tx, d);
            }
        }
    }

    /// Routes a message to every matching subscription, and keeps it if retained.
    pub fn publish(&self, mut msg: Msg) {
        // The expiry clock starts when the broker has the message (for a will: when it is
        // published, not when the CONNECT that carried it came in).
        msg.expires = expiry_interval(&msg.props)
            .map(|s| StdInstant::now() + Duration::from_secs(u64::from(s)));
        let mut st = self.lock();
        if msg.retain {
            // [MQTT-3.3.1-6] an empty retained message removes the retained one.
            if msg.payload.is_empty() {
                self.journal(|| Record::Unretain { topic: msg.topic.to_string() });
            } else {
                self.journal(|| Record::Retain { msg: msg.clone() });
            }
            st.retain(&msg);
        }
        let mut shared: BTreeMap<(String, String), Vec<SharedMember>> = BTreeMap::new();
        // One delivery per client, however many of its subscriptions match.
        let mut best: HashMap<Arc<str>, Delivery> = HashMap::new();
        let State { sessions, subs, .. } = &*st;
        subs.filters_matching(&msg.topic, |e| {
            let sub = &e.sub;
            let username = sessions.get(&*e.client).and_then(|s| s.username.as_deref());
            if !self.may_receive(&e.client, username, &msg.topic) {
                return;
            }
            if let Some(g) = &sub.group {
                shared.entry((g.clone(), sub.filter.clone())).or_default().push((
                    e.client.to_string(),
                    sub.options.qos,
                    sub.id,
                ));
                return;
            }
            // [MQTT-3.8.3-3] No Local: not to the connection that published it.
            if sub.options.no_local
                && sessions
                    .get(&*e.client)
                    .and_then(|s| s.conn.as_ref())
                    .is_some_and(|(id, _)| *id == msg.from)
            {
                return;
            }
            let d = best.entry(e.client.clone()).or_insert_with(|| {
                let mut m = msg.clone();
                m.qos = Qos::AtMostOnce;
                m.retain = false;
                Delivery { msg: m, sub_ids: Vec::new(), seq: 0 }
            });
            // [MQTT-3.8.4-8] the QoS is the lower of the message's and the subscription's;
            // overlapping subscriptions give the highest (§4.7.2... one copy, all ids).
            d.msg.qos = d.msg.qos.max(msg.qos.min(sub.options.qos));
            // [MQTT-3.3.1-12] Retain As Published keeps the flag, otherwise it is 0.
            d.msg.retain |= sub.options.retain_as_published && msg.retain;
            d.sub_ids.extend(sub.id);
        });
        let mut deliveries: Vec<(String, Delivery)> =
            best.into_iter().map(|(c, d)| (c.to_string(), d)).collect();
        // Shared subscriptions: one member per group, round robin (MQTT 5.0 §4.8.2).
        for ((group, filter), members) in shared {
            let key = format!("{group}/{filter}");
            let online: Vec<_> = members
                .iter()
                .filter(|(c, ..)| st.sessions.get(c.as_str()).is_some_and(|s| s.conn.is_some()))
                .collect();
            let pool = if online.is_empty() { members.iter().collect() } else { online };
            let n = st.round_robin.entry(key).or_insert(0);
            let (c, qos, id) = pool[*n % pool.len()];
            *n = n.wrapping_add(1);
            let mut m = msg.clone();
            m.qos = msg.qos.min(*qos);
            m.retain = false;
            deliveries.push((
                c.clone(),
                Delivery { msg: m, sub_ids: id.iter().copied().collect(), seq: 0 },
            ));
        }
        for (client_id, d) in deliveries {
            let Some(s) = st.sessions.get_mut(client_id.as_str()) else { continue };
            match &s.conn {
                Some((_, tx)) => self.route(&client_id, tx, d),
                // Offline: QoS 1 and 2 are queued, up to the bound (MQTT 5.0 §4.1); expired
                // messages make room first [MQTT-3.3.2-5].
                None if d.msg.qos != Qos::AtMostOnce => {
                    if !self.has_room(&s.queue, &d) {
                        let now = StdInstant::now();
                        s.queue.retain(|q| {
                            let expired = q.msg.expired(now);
                            if expired {
                                self.journal_dropped(&client_id, q);
                            }
                            !expired
                        });
                    }
                    if self.has_room(&s.queue, &d) {
                        let mut d = d;
                        self.journal_queued(&client_id, &mut d);
                        s.queue.push_back(d);
                    } else {
                        self.drop_message(&client_id);
                    }
                }
                None => {}
            }
        }
    }

    /// Adds or replaces subscriptions; returns the retained messages to send.
    fn subscribe(&self, client_id: &str, subs: Vec<Sub>) -> Vec<Delivery> {
        let mut st = self.lock();
        let mut retained = Vec::new();
        if !st.sessions.contains_key(client_id) {
            return retained;
        }
        let now = StdInstant::now();
        for sub in subs {
            let (client, copy) = (client_id.to_owned(), sub.clone());
            self.journal(|| Record::Subscribe { client, sub: copy });
            // [MQTT-3.8.4-3] a subscription with the same filter replaces the old one.
            let existed = st.index(client_id, sub.clone());
            let send = match sub.options.retain_handling {
                RetainHandling::SendOnSubscribe => true,
                RetainHandling::SendIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
            // Retained messages are not sent to shared subscriptions (MQTT 5.0 §4.8.2).
            if send && sub.group.is_none() {
                let username = st.sessions.get(client_id).and_then(|s| s.username.clone());
                st.retained.names_matching(&sub.filter, |m| {
                    // [MQTT-3.3.2-5] an expired retained message is not sent, nor one the
                    // client may not read.
                    if m.expired(now) || !self.may_receive(client_id, username.as_deref(), &m.topic)
                    {
                        return;
                    }
                    let mut m = m.clone();
                    m.qos = m.qos.min(sub.options.qos);
                    // [MQTT-3.3.1-9] retained messages sent on subscribe keep Retain 1.
                    m.retain = true;
                    retained.push(Delivery {
                        msg: m,
                        sub_ids: sub.id.into_iter().collect(),
                        seq: 0,
                    });
                });
            }
        }
        retained
    }

    fn unsubscribe(&self, client_id: &str, filters: &[String]) -> Vec<ReasonCode> {
        let mut st = self.lock();
        if !st.sessions.contains_key(client_id) {
            return vec![];
        }
        filters
            .iter()
            .map(|f| {
                let held = st.sessions.get_mut(client_id).is_some_and(|s| s.subs.remove(f));
                if held {
                    let (client, full) = (client_id.to_owned(), f.clone());
                    self.journal(|| Record::Unsubscribe { client, full });
                }
                if held && st.unindex(client_id, f) {
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                }
            })
            .collect()
    }

    /// `None` if a client with `username` and `password` may connect, else the CONNACK reason
    /// code that refuses it: 0x86 for an unknown user or a wrong password, 0x87 for an
    /// anonymous client where they are not allowed.
    fn authenticate(&self, username: Option<&str>, password: Option<&[u8]>) -> Option<ReasonCode> {
        let security = self.options.security.as_ref()?;
        match (username, &security.passwords) {
            (None, _) if !security.allow_anonymous => Some(ReasonCode::NotAuthorized),
            (None, _) => None,
            (Some(user), Some(file)) if !file.verify(user, password.unwrap_or_default()) => {
                Some(ReasonCode::BadUserNameOrPassword)
            }
            (Some(_), _) => None,
        }
    }

    /// Whether the ACL lets `client_id` (with `username`) do `access`.
    pub(crate) fn may(&self, client_id: &str, username: Option<&str>, access: Access<'_>) -> bool {
        let Some(acl) = self.options.security.as_ref().and_then(|s| s.acl.as_ref()) else {
            return true;
        };
        match access {
            Access::Publish(topic) => acl.can_publish(client_id, username, topic),
            Access::Subscribe(filter) => acl.can_subscribe(client_id, username, filter),
        }
    }

    /// Whether the ACL lets `client_id` receive a message on `topic` (checked on every delivery,
    /// as Mosquitto does: a subscription the ACL allowed may match topics it does not).
    fn may_receive(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        match self.options.security.as_ref().and_then(|s| s.acl.as_ref()) {
            Some(acl) => acl.can_receive(client_id, username, topic),
            None => true,
        }
    }

    /// Whether a session's `queue` may take `d` too: fewer messages than `max_queued_messages`
    /// and, with `max_queued_bytes`, payloads that fit it.
    pub(crate) fn has_room(&self, queue: &VecDeque<Delivery>, d: &Delivery) -> bool {
        if queue.len() >= self.queue_limit() {
            return false;
        }
        self.options.max_queued_bytes.is_none_or(|max| {
            queue.iter().map(|q| q.msg.payload.len()).sum::<usize>() + d.msg.payload.len() <= max
        })
    }

    /// Messages a session queues at most ([`Options::max_queued_messages`]). A connection's
    /// channel, where routed messages wait for its task, holds as many: routing never waits
    /// for a connection, and a message for a full channel is dropped and counted.
    pub(crate) fn queue_limit(&self) -> usize {
        self.options.max_queued_messages.unwrap_or(MAX_QUEUED)
    }

    /// What the broker holds now.
    pub fn stats(&self) -> Stats {
        let st = self.lock();
        Stats {
            connections: self.connections.load(Ordering::Relaxed),
            sessions: st.sessions.len(),
            dropped: self.dropped.load(Ordering::Relaxed),
            subscriptions: st.subs.len(),
        }
    }

    /// Hands `d` to the connection behind `tx` without waiting (journaled first, as its
    /// connection may send it at once): a full channel drops it.
    fn route(&self, client_id: &str, tx: &chan::Sender<Cmd>, mut d: Delivery) {
        self.journal_queued(client_id, &mut d);
        if let Err(TrySendError::Full(Cmd::Deliver(d))) = tx.try_send(Cmd::Deliver(Box::new(d))) {
            self.journal_dropped(client_id, &d);
            self.drop_message(client_id);
        }
    }

    /// Counts a message dropped for `client_id`, and says so for the first of each thousand.
    fn drop_message(&self, client_id: &str) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(1000) {
            println!("broker: queue of {client_id} full, messages dropped ({} so far)", n + 1);
        }
    }
}

impl Broker {
    /// The session's limits; `connect_timeout` is what is left of the connection's deadline.
    pub(crate) fn server_config(&self, connect_timeout: Duration) -> Config {
        let mut c = Config::new();
        c.connect_timeout =
            mqtt_ws::time::Duration::from_millis(connect_timeout.as_millis() as u64);
        c.max_packet_size = self.options.max_packet_size.map_or(MAX_PACKET, |m| m.min(MAX_PACKET));
        c.topic_alias_maximum = TOPIC_ALIASES as u16;
        c.max_keep_alive = self.options.max_keepalive.or(NonZeroU16::new(3600));
        c.retain = Availability::Available;
        c.receive_maximum = self.options.max_inflight_messages;
        c
    }
}
