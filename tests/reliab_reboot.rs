//! Reboot: the publisher keeps its in-flight messages in a file-backed [`Store`] (a stand-in for
//! flash), is killed with SIGKILL mid-stream, twice, and restarted. Messages in flight at the
//! kill are re-sent from the file after the restart (Clean Start 0, DUP): at QoS 1 none is lost,
//! at QoS 2 none is lost and none is delivered twice.
//!
//! How a device keeps its session across a reboot: the outgoing half of the session state is
//! exactly the store's content (each unacknowledged PUBLISH as encoded, and the identifiers of
//! QoS 2 messages whose PUBREL is owed); packet identifiers in the store are never reused.
//! Rebuild the client over the same store with [`Client::new`] and connect with Clean Start 0 to
//! the session (Session Expiry > 0): the messages go out again [MQTT-4.4.0-1]. The application
//! knows where it stopped from the store too (here: the highest sequence number ever stored).
//!
//! The child publisher is this test binary run again with `RELIAB_REBOOT_CHILD` set.
//! `#[ignore]`d: run through `scripts/broker`.
#![cfg(all(feature = "mqtt", feature = "std", feature = "ws"))]

mod common_reliab;

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use common_reliab::{buf, clock, open_tcp, port, sleep_until};
use mqtt_ws::io::blocking::{Connection, Reconnecting};
use mqtt_ws::io::{Backoff, DriverError, StdIo, Step};
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Event, Outgoing, Store, StoreFull, Stored, UsageError,
};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{AwaitingRelease, PacketId, Qos, client};
use mqtt_ws::time::Duration;

const MESSAGES: u64 = 2_000;

/// A [`Store`] whose every change is appended to a file before it returns, so a kill at any
/// point leaves the file describing the store (a torn last record is ignored on replay).
/// Records: `I id len packet`, `R id`, `D id`, `A id` (awaiting release), `L id` (released),
/// `C`.
struct FileStore {
    file: Option<File>,
    entries: Vec<(PacketId, Option<Vec<u8>>)>,
    awaiting: Vec<PacketId>,
    /// The highest sequence number (last 8 payload bytes) of any PUBLISH ever stored.
    max_seq: Option<u64>,
}

impl FileStore {
    /// Replays the file at `path` (only reading it: another process may be appending).
    fn read(path: &Path) -> FileStore {
        Self::replay(path).0
    }

    /// Replays the file and keeps it for appending.
    fn open(path: &Path) -> FileStore {
        let (mut s, whole) = Self::replay(path);
        // Drop a torn tail, then append after the last whole record.
        let file = OpenOptions::new().create(true).write(true).truncate(false).open(path).unwrap();
        file.set_len(whole as u64).unwrap();
        s.file = Some(OpenOptions::new().append(true).open(path).unwrap());
        s
    }

    fn replay(path: &Path) -> (FileStore, usize) {
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(path) {
            f.read_to_end(&mut bytes).unwrap();
        }
        let mut s =
            FileStore { file: None, entries: Vec::new(), awaiting: Vec::new(), max_seq: None };
        let mut rest = &bytes[..];
        let id = |b: &[u8]| PacketId::new(u16::from_be_bytes([b[0], b[1]])).unwrap();
        loop {
            match rest {
                [b'I', a, b, l0, l1, l2, l3, tail @ ..] => {
                    let len = u32::from_be_bytes([*l0, *l1, *l2, *l3]) as usize;
                    if tail.len() < len {
                        break;
                    }
                    let packet = tail[..len].to_vec();
                    let seq = u64::from_be_bytes(packet[len - 8..].try_into().unwrap());
                    s.max_seq = s.max_seq.max(Some(seq));
                    s.entries.push((id(&[*a, *b]), Some(packet)));
                    rest = &tail[len..];
                }
                [b'R', a, b, tail @ ..] => {
                    let i = id(&[*a, *b]);
                    s.entries.iter_mut().filter(|e| e.0 == i).for_each(|e| e.1 = None);
                    rest = tail;
                }
                [b'D', a, b, tail @ ..] => {
                    let i = id(&[*a, *b]);
                    s.entries.retain(|e| e.0 != i);
                    rest = tail;
                }
                [b'A', a, b, tail @ ..] => {
                    s.awaiting.push(id(&[*a, *b]));
                    rest = tail;
                }
                [b'L', a, b, tail @ ..] => {
                    let i = id(&[*a, *b]);
                    s.awaiting.retain(|held| *held != i);
                    rest = tail;
                }
                [b'C', tail @ ..] => {
                    s.entries.clear();
                    s.awaiting.clear();
                    rest = tail;
                }
                _ => break,
            }
        }
        let whole = bytes.len() - rest.len();
        (s, whole)
    }

    fn log(&mut self, record: &[u8]) {
        let file = self.file.as_mut().expect("opened for writing");
        file.write_all(record).expect("the store file is writable");
    }

    fn position(&self, id: PacketId) -> Option<usize> {
        self.entries.iter().position(|e| e.0 == id)
    }
}

impl Store for FileStore {
    fn insert(&mut self, id: PacketId, packet: &[u8]) -> Result<(), StoreFull> {
        if self.position(id).is_some() || self.entries.len() >= 64 {
            return Err(StoreFull);
        }
        let mut rec = vec![b'I'];
        rec.extend_from_slice(&id.get().to_be_bytes());
        rec.extend_from_slice(&(packet.len() as u32).to_be_bytes());
        rec.extend_from_slice(packet);
        self.log(&rec);
        self.entries.push((id, Some(packet.to_vec())));
        Ok(())
    }
    fn release(&mut self, id: PacketId) -> bool {
        let Some(i) = self.position(id) else { return false };
        let [a, b] = id.get().to_be_bytes();
        self.log(&[b'R', a, b]);
        self.entries[i].1 = None;
        true
    }
    fn remove(&mut self, id: PacketId) -> bool {
        let Some(i) = self.position(id) else { return false };
        let [a, b] = id.get().to_be_bytes();
        self.log(&[b'D', a, b]);
        self.entries.remove(i);
        true
    }
    fn get(&self, index: usize) -> Option<Stored<'_>> {
        let (id, packet) = self.entries.get(index)?;
        Some(match packet {
            Some(p) => Stored::Publish { id: *id, packet: p },
            None => Stored::Released { id: *id },
        })
    }
    fn len(&self) -> usize {
        self.entries.len()
    }
    fn clear(&mut self) {
        self.log(b"C");
        self.entries.clear();
        self.awaiting.clear();
    }
}

impl AwaitingRelease for FileStore {
    fn await_release(&mut self, id: PacketId) -> Result<(), StoreFull> {
        if !self.awaiting.contains(&id) {
            let [a, b] = id.get().to_be_bytes();
            self.log(&[b'A', a, b]);
            self.awaiting.push(id);
        }
        Ok(())
    }
    fn awaits_release(&self, id: PacketId) -> bool {
        self.awaiting.contains(&id)
    }
    fn released(&mut self, id: PacketId) -> bool {
        if !self.awaiting.contains(&id) {
            return false;
        }
        let [a, b] = id.get().to_be_bytes();
        self.log(&[b'L', a, b]);
        self.awaiting.retain(|held| *held != id);
        true
    }
    fn awaiting_release(&self) -> usize {
        self.awaiting.len()
    }
}

struct Tally {
    counts: Vec<u32>,
    have: u64,
    subscribed: bool,
}

fn qos_of(s: &str) -> Qos {
    if s == "2" { Qos::ExactlyOnce } else { Qos::AtLeastOnce }
}

/// The publisher process: resumes from its store file, publishes up to `MESSAGES` in bursts
/// (so messages are in flight most of the time) and exits once everything is acknowledged.
#[test]
#[ignore = "the child process of the reboot tests"]
fn reboot_child() {
    let Ok(dir) = std::env::var("RELIAB_REBOOT_CHILD") else { return };
    let dir = PathBuf::from(dir);
    let qos = qos_of(&std::env::var("RELIAB_QOS").unwrap());
    let topic = std::env::var("RELIAB_TOPIC").unwrap();
    let id = std::env::var("RELIAB_ID").unwrap();
    let store = FileStore::open(&dir.join("store"));
    let mut next = store.max_seq.map_or(0, |s| s + 1);
    let fresh = store.max_seq.is_none();
    let broker = port("MQTT_TCP_PORT");
    let open = move || open_tcp(broker);
    let client: Client<FileStore> = Client::new(store, Config::new(4096));
    let conn = Connection::with_buffers(open().unwrap(), client, buf(4096), buf(4096));
    let mut opts = ConnectOptions::new(&id);
    opts.clean_start = fresh;
    opts.session_expiry = 600;
    opts.keep_alive = 5;
    let backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(200), 3);
    let mut link = Reconnecting::new(conn, opts, open, backoff);
    let deadline = StdInstant::now() + StdDuration::from_secs(60);
    while next < MESSAGES || link.client().in_flight() > 0 || !link.is_connected() {
        assert!(StdInstant::now() < deadline, "child: out of time");
        let mut burst = 0;
        while next < MESSAGES && link.is_connected() && burst < 10 {
            let payload = next.to_be_bytes();
            match link.publish(clock(), &Outgoing::new(&topic, &payload).qos(qos)) {
                Ok(_) => {
                    next += 1;
                    burst += 1;
                }
                Err(DriverError::Machine(client::Error::Usage(
                    UsageError::ReceiveMaximumReached | UsageError::NotConnected,
                ))) => break,
                Err(e) => panic!("publish: {e:?}"),
            }
        }
        if burst > 0 {
            std::thread::sleep(StdDuration::from_millis(20));
        }
        if let Step::Offline { until } = link.poll(clock()) {
            sleep_until(until);
        }
    }
    let _ = link.connection_mut().disconnect(
        clock(),
        mqtt_ws::mqtt::ReasonCode::Success,
        Properties::EMPTY,
    );
}

fn spawn_child(dir: &Path, qos: &str, topic: &str, id: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["reboot_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("RELIAB_REBOOT_CHILD", dir)
        .env("RELIAB_QOS", qos)
        .env("RELIAB_TOPIC", topic)
        .env("RELIAB_ID", id)
        .spawn()
        .unwrap()
}

fn run(qos_name: &str) {
    let qos = qos_of(qos_name);
    let tag = format!("{}-q{qos_name}", std::process::id());
    let topic = format!("reboot/{tag}");
    let dir = std::env::temp_dir().join(format!("mqttws-reboot-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let start = StdInstant::now();

    // The subscriber: ours, straight to the broker.
    let sub_id = format!("reboot-sub-{tag}");
    // 64 incoming QoS 2 identifiers tracked: Mosquitto sends past the Receive Maximum while it
    // has a backlog (see `reliab_faults`).
    type Sub = Client<mqtt_ws::mqtt::client::SliceStore<'static, 8, Vec<u8>, 64>, 64>;
    let client: Sub =
        Client::new(mqtt_ws::mqtt::client::SliceStore::with_buffer(buf(1024)), Config::new(4096));
    let tcp = open_tcp(port("MQTT_TCP_PORT")).unwrap();
    let mut sub = Connection::with_buffers(tcp, client, buf(4096), buf(4096));
    sub.connect(clock(), &ConnectOptions::new(&sub_id)).unwrap();
    let mut st = Tally { counts: vec![0u32; MESSAGES as usize], have: 0, subscribed: false };
    let pump =
        |sub: &mut Connection<'static, StdIo<std::net::TcpStream>, Sub, Vec<u8>>,
         st: &mut Tally| match sub.poll(clock()).expect("the subscriber stays connected") {
            Some(Event::Connected(_)) => {
                sub.subscribe(clock(), &[Subscription::new(&topic, qos)], Properties::EMPTY)
                    .unwrap();
            }
            Some(Event::Subscribed { .. }) => st.subscribed = true,
            Some(Event::Message(m)) => {
                let seq = u64::from_be_bytes(m.payload.try_into().unwrap());
                st.counts[seq as usize] += 1;
                if st.counts[seq as usize] == 1 {
                    st.have += 1;
                } else {
                    assert!(qos != Qos::ExactlyOnce, "QoS 2 message {seq} delivered twice");
                }
            }
            _ => {}
        };
    while !st.subscribed {
        assert!(start.elapsed() < StdDuration::from_secs(10), "no SUBACK");
        pump(&mut sub, &mut st);
    }

    // Kill the publisher twice mid-stream, with messages in flight in its store.
    let pub_id = format!("reboot-pub-{tag}");
    let mut in_flight_at_kill = Vec::new();
    for kill in 1..=2u64 {
        let mut child = spawn_child(&dir, qos_name, &topic, &pub_id);
        let deadline = StdInstant::now() + StdDuration::from_secs(30);
        loop {
            assert!(StdInstant::now() < deadline, "the child made no progress");
            pump(&mut sub, &mut st);
            let s = FileStore::read(&dir.join("store"));
            if s.max_seq.unwrap_or(0) >= kill * MESSAGES / 3 && !s.entries.is_empty() {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        in_flight_at_kill.push(FileStore::read(&dir.join("store")).entries.len());
    }
    assert!(in_flight_at_kill.iter().all(|&n| n > 0));
    let mut child = spawn_child(&dir, qos_name, &topic, &pub_id);
    let deadline = StdInstant::now() + StdDuration::from_secs(90);
    let mut done: Option<StdInstant> = None;
    loop {
        assert!(StdInstant::now() < deadline, "out of time with {} of {MESSAGES}", st.have);
        pump(&mut sub, &mut st);
        if done.is_none() && st.have == MESSAGES {
            let status = child.wait().unwrap();
            assert!(status.success(), "the last publisher run failed: {status}");
            done = Some(StdInstant::now());
        }
        if done.is_some_and(|t| t.elapsed() > StdDuration::from_millis(500)) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let (have, twice) = (st.have, st.counts.iter().filter(|&&c| c > 1).count());
    println!(
        "reboot QoS {qos_name}: {MESSAGES} published by 3 processes (2 killed with SIGKILL, \
         {in_flight_at_kill:?} in flight in the store at the kills), {have} distinct received, \
         {twice} more than once, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(have, MESSAGES);
    if qos == Qos::ExactlyOnce {
        assert_eq!(twice, 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn reboot_qos1_loses_nothing() {
    run("1");
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn reboot_qos2_exactly_once() {
    run("2");
}

/// A subscriber over a raw socket and its file store: the test decides when its answers go out.
struct Subscriber {
    client: Client<FileStore>,
    sock: std::net::TcpStream,
    rx: Vec<u8>,
}

impl Subscriber {
    /// Connects to the session `id` (Clean Start only when `fresh`) over the store at `path`:
    /// a device starting, or starting again after a reboot.
    fn start(path: &Path, id: &str, fresh: bool) -> Subscriber {
        let sock = std::net::TcpStream::connect(("127.0.0.1", port("MQTT_TCP_PORT"))).unwrap();
        sock.set_read_timeout(Some(StdDuration::from_secs(10))).unwrap();
        let client = Client::new(FileStore::open(path), Config::new(4096));
        let mut s = Subscriber { client, sock, rx: Vec::new() };
        let mut o = ConnectOptions::new(id);
        o.clean_start = fresh;
        o.session_expiry = 600;
        let mut out = [0u8; 256];
        let n = s.client.connect(clock(), &o, &mut out).unwrap();
        s.sock.write_all(&out[..n]).unwrap();
        assert_eq!(s.next(true), Seen::Connected);
        s
    }

    /// Sends what the client owes (when `answer`), then reads until the next event.
    fn next(&mut self, answer: bool) -> Seen {
        loop {
            if answer {
                self.flush();
            }
            match self.client.handle_input(clock(), &self.rx).unwrap() {
                mqtt_ws::Status::Progress { consumed, event } => {
                    let seen = match event {
                        Some(Event::Connected(_)) => Some(Seen::Connected),
                        Some(Event::Subscribed { .. }) => Some(Seen::Subscribed),
                        Some(Event::Message(m)) => Some(Seen::Message(m.payload.to_vec())),
                        _ => None,
                    };
                    self.rx.drain(..consumed);
                    if let Some(seen) = seen {
                        return seen;
                    }
                }
                mqtt_ws::Status::NeedMore { .. } => {
                    let mut chunk = [0u8; 4096];
                    let n = self.sock.read(&mut chunk).expect("the broker answers in time");
                    assert!(n > 0, "the broker closed the connection");
                    self.rx.extend_from_slice(&chunk[..n]);
                }
                other => panic!("subscriber: {other:?}"),
            }
        }
    }

    fn flush(&mut self) {
        let mut out = [0u8; 256];
        while let Some(n) = self.client.poll_transmit(clock(), &mut out).unwrap() {
            self.sock.write_all(&out[..n]).unwrap();
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Connected,
    Subscribed,
    Message(Vec<u8>),
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn reboot_while_receiving_qos2_delivers_once() {
    let tag = std::process::id();
    let topic = format!("reboot/rx/{tag}");
    let id = format!("reboot-rx-{tag}");
    let dir = std::env::temp_dir().join(format!("mqttws-reboot-rx-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store");
    let mut sub = Subscriber::start(&path, &id, true);
    let mut out = [0u8; 256];
    let n = sub
        .client
        .subscribe(
            clock(),
            &[Subscription::new(&topic, Qos::ExactlyOnce)],
            Properties::EMPTY,
            &mut out,
        )
        .unwrap()
        .len;
    sub.sock.write_all(&out[..n]).unwrap();
    assert_eq!(sub.next(true), Seen::Subscribed);

    let publisher: Client<mqtt_ws::mqtt::client::SliceStore<'static, 8, Vec<u8>>> = Client::new(
        mqtt_ws::mqtt::client::SliceStore::with_buffer(vec![0; 4096]),
        Config::new(4096),
    );
    let mut publisher = Connection::with_buffers(
        open_tcp(port("MQTT_TCP_PORT")).unwrap(),
        publisher,
        vec![0; 4096],
        vec![0; 4096],
    );
    publisher.connect(clock(), &ConnectOptions::new(&format!("{id}-pub"))).unwrap();
    let mut publish = |payload: &[u8]| {
        let msg = Outgoing::new(&topic, payload).qos(Qos::ExactlyOnce);
        while publisher.client().state() != client::State::Connected {
            publisher.poll(clock()).unwrap();
        }
        publisher.publish(clock(), &msg).unwrap();
        while publisher.client().in_flight() > 0 {
            publisher.poll(clock()).unwrap();
        }
    };

    // 1. Delivered, then the device reboots before its PUBREC leaves: the broker sends the
    //    message again (DUP) to the resumed session, which acknowledges it without delivering.
    publish(b"one");
    assert_eq!(sub.next(false), Seen::Message(b"one".to_vec()));
    drop(sub);
    let mut sub = Subscriber::start(&path, &id, false);
    // 2. Delivered and PUBREC sent, then a reboot before PUBREL is handled: again no second
    //    delivery, whichever of PUBLISH (DUP) or PUBREL the broker sends on the new connection.
    publish(b"two");
    assert_eq!(sub.next(true), Seen::Message(b"two".to_vec()));
    sub.flush();
    drop(sub);
    let mut sub = Subscriber::start(&path, &id, false);
    // 3. The next message is the next event: neither of the first two came back.
    publish(b"three");
    assert_eq!(sub.next(true), Seen::Message(b"three".to_vec()));
    sub.flush();
    let _ = std::fs::remove_dir_all(&dir);
}
