//! The example broker with `persistence true`, killed with SIGKILL and started again over the
//! same directory: sessions, subscriptions, retained and queued messages and the QoS 2 state of
//! a flow cut in the middle are all there afterwards.
//!
//! The broker runs in a child process: this test binary again, with `BROKER_PERSIST_DIR` set.
#![cfg(all(feature = "mqtt", feature = "ws"))]

#[path = "../examples/broker/mod.rs"]
mod broker;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use broker::client::{ConnectOptions, MiniClient};
use mqtt_ws::mqtt::packet::{Connect, Packet, Publish, QosPid, Subscribe, Subscription};
use mqtt_ws::mqtt::properties::{PropertiesBuilder, Property};
use mqtt_ws::mqtt::{PacketId, Qos, Version};

/// The broker process: persistent over `BROKER_PERSIST_DIR`, on `BROKER_PORT`, until killed;
/// its journal rewritten each time it grew by `BROKER_JOURNAL_GROWTH` bytes, when set.
#[test]
#[ignore = "the child process of the persistence test"]
fn persistent_broker_child() {
    let Ok(dir) = std::env::var("BROKER_PERSIST_DIR") else { return };
    let port = std::env::var("BROKER_PORT").unwrap();
    let journal_growth = std::env::var("BROKER_JOURNAL_GROWTH").ok().map(|v| v.parse().unwrap());
    let options = broker::Options { journal_growth, ..Default::default() };
    let b = broker::Broker::persistent(options, Path::new(&dir)).unwrap();
    let listen = broker::Listen {
        addr: format!("127.0.0.1:{port}"),
        websocket: false,
        max_connections: None,
        tls: None,
    };
    b.start_listeners(&[listen]).unwrap();
    loop {
        std::thread::park();
    }
}

/// The broker process, killed (SIGKILL) when dropped, however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &Path, port: u16) -> Running {
    spawn_with(dir, port, None)
}

fn spawn_with(dir: &Path, port: u16, journal_growth: Option<u64>) -> Running {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if let Some(g) = journal_growth {
        command.env("BROKER_JOURNAL_GROWTH", g.to_string());
    }
    let child = command
        .args([
            "persistent_broker_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BROKER_PERSIST_DIR", dir)
        .env("BROKER_PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Listening once a connection is taken (at most 20 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the broker did not start");
        std::thread::yield_now();
    }
    Running(child)
}

/// A raw MQTT 5.0 connection with a 600 s session, to stop a QoS 2 flow midway.
fn raw(port: u16, client_id: &str) -> (TcpStream, Vec<u8>) {
    raw_with(port, client_id, None)
}

/// [`raw`], with a Receive Maximum.
fn raw_with(port: u16, client_id: &str, receive_max: Option<NonZeroU16>) -> (TcpStream, Vec<u8>) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut props = [0u8; 16];
    let mut b = PropertiesBuilder::new(&mut props);
    b.push(Property::SessionExpiryInterval(600)).unwrap();
    if let Some(max) = receive_max {
        b.push(Property::ReceiveMaximum(max)).unwrap();
    }
    let mut c = Connect::new(Version::V5, client_id);
    c.clean_start = false;
    c.properties = b.finish();
    let mut buf = [0u8; 64];
    let n = Packet::Connect(c).encode(Version::V5, &mut buf).unwrap();
    tcp.write_all(&buf[..n]).unwrap();
    let mut connack = [0u8; 64];
    let n = tcp.read(&mut connack).unwrap();
    assert_eq!(connack[0], 0x20, "CONNACK");
    (tcp, connack[..n].to_vec())
}

/// An empty directory named after `name` and this process, and a free port.
fn fresh(name: &str) -> (PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    (dir, port)
}

#[test]
fn state_survives_kill_9() {
    let (dir, port) = fresh("mqtt-ws-persist");
    let url = format!("mqtt://127.0.0.1:{port}");
    let session = ConnectOptions { clean_start: false, session_expiry: 600, ..Default::default() };
    let broker = spawn(&dir, port);

    // A subscriber with a session, gone offline; a retained message; a message queued for it.
    let mut sub = MiniClient::connect(&url, "p-sub", session.clone()).unwrap();
    sub.subscribe("p/#", Qos::AtLeastOnce).unwrap();
    sub.disconnect().unwrap();
    let mut publisher = MiniClient::connect(&url, "p-pub", ConnectOptions::default()).unwrap();
    publisher.publish("p/retained", b"kept", Qos::AtLeastOnce, true).unwrap();
    publisher.publish("p/queued", b"waiting", Qos::AtLeastOnce, false).unwrap();
    // A QoS 2 flow cut after the broker's PUBREC: the broker holds identifier 7.
    let (mut q, _) = raw(port, "p-qos2");
    let mut p = Publish::new("p/once", b"once");
    p.qos_pid = QosPid::ExactlyOnce(PacketId::new(7).unwrap());
    let mut buf = [0u8; 64];
    let n = Packet::Publish(p).encode(Version::V5, &mut buf).unwrap();
    q.write_all(&buf[..n]).unwrap();
    let mut pubrec = [0u8; 4];
    q.read_exact(&mut pubrec).unwrap();
    assert_eq!(pubrec, [0x50, 0x02, 0x00, 0x07]);

    // kill -9, and up again over the same directory.
    drop(broker);
    drop(q);
    let broker = spawn(&dir, port);

    // The QoS 2 flow resumes: the PUBLISH again (DUP) is acknowledged, not routed again.
    let (mut q, connack) = raw(port, "p-qos2");
    assert_eq!(connack[2], 1, "session present");
    let mut p = Publish::new("p/once", b"once");
    p.qos_pid = QosPid::ExactlyOnce(PacketId::new(7).unwrap());
    p.dup = true;
    let n = Packet::Publish(p).encode(Version::V5, &mut buf).unwrap();
    q.write_all(&buf[..n]).unwrap();
    q.read_exact(&mut pubrec).unwrap();
    assert_eq!(pubrec, [0x50, 0x02, 0x00, 0x07]);
    q.write_all(&[0x62, 0x02, 0x00, 0x07]).unwrap();
    let mut pubcomp = [0u8; 4];
    q.read_exact(&mut pubcomp).unwrap();
    assert_eq!(pubcomp, [0x70, 0x02, 0x00, 0x07], "PUBCOMP: 7 was awaiting its PUBREL");

    // The subscriber's session: present, with its subscription and the three messages queued
    // for it, the QoS 2 one once (routed before the kill, when its PUBLISH first came).
    let mut sub = MiniClient::connect(&url, "p-sub", session).unwrap();
    assert!(sub.session_present);
    let mut got = Vec::new();
    while let Some(m) = sub.recv(Duration::from_secs(2)).unwrap() {
        got.push((m.topic, m.payload));
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("p/once".into(), b"once".to_vec()),
            ("p/queued".into(), b"waiting".to_vec()),
            ("p/retained".into(), b"kept".to_vec()),
        ]
    );
    // The retained message, to a new subscriber.
    let mut late = MiniClient::connect(&url, "p-late", ConnectOptions::default()).unwrap();
    late.subscribe("p/retained", Qos::AtLeastOnce).unwrap();
    let m = late.recv(Duration::from_secs(30)).unwrap().expect("the retained message");
    assert_eq!((m.topic.as_str(), m.payload.as_slice()), ("p/retained", &b"kept"[..]));
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn messages_waiting_for_a_connected_client_survive_kill_9() {
    let (dir, port) = fresh("mqtt-ws-persist-wait");
    let url = format!("mqtt://127.0.0.1:{port}");
    let broker = spawn(&dir, port);

    // A connected subscriber that takes one QoS 1 message at a time (Receive Maximum 1) and
    // acknowledges none: the first is in flight, the others wait in its connection's queue.
    let (mut sub, _) = raw_with(port, "w-sub", NonZeroU16::new(1));
    let filters = [Subscription::new("w/#", Qos::AtLeastOnce)];
    let mut buf = [0u8; 64];
    let n = Packet::Subscribe(Subscribe::new(PacketId::new(1).unwrap(), &filters))
        .encode(Version::V5, &mut buf)
        .unwrap();
    sub.write_all(&buf[..n]).unwrap();
    let mut suback = [0u8; 6];
    sub.read_exact(&mut suback).unwrap();
    assert_eq!(suback, [0x90, 0x04, 0x00, 0x01, 0x00, 0x01], "SUBACK granting QoS 1");
    let mut publisher = MiniClient::connect(&url, "w-pub", ConnectOptions::default()).unwrap();
    for i in 1..=5 {
        // Acknowledged: the broker has it.
        publisher.publish(&format!("w/{i}"), b"m", Qos::AtLeastOnce, false).unwrap();
    }
    let mut first = [0u8; 1];
    sub.read_exact(&mut first).unwrap();
    assert_eq!(first[0] & 0xf6, 0x32, "the first message, QoS 1");

    // kill -9, and up again over the same directory.
    drop(broker);
    drop(sub);
    let broker = spawn(&dir, port);

    // Every message comes: the one in flight again, the four that waited.
    let session = ConnectOptions { clean_start: false, session_expiry: 600, ..Default::default() };
    let mut sub = MiniClient::connect(&url, "w-sub", session).unwrap();
    assert!(sub.session_present);
    let mut got = Vec::new();
    while let Some(m) = sub.recv(Duration::from_secs(2)).unwrap() {
        got.push(m.topic);
    }
    got.sort();
    assert_eq!(got, ["w/1", "w/2", "w/3", "w/4", "w/5"]);
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The journal's size now.
fn journal_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("mqtt-ws-broker.journal")).map_or(0, |m| m.len())
}

#[test]
fn the_journal_is_rewritten_while_the_broker_runs_and_a_kill_9_loses_nothing() {
    let (dir, port) = fresh("mqtt-ws-journal");
    let url = format!("mqtt://127.0.0.1:{port}");
    let session = ConnectOptions { clean_start: false, session_expiry: 600, ..Default::default() };
    let growth = 32 << 10;
    let broker = spawn_with(&dir, port, Some(growth));

    // A session gone offline, then 3,000 retained messages on one topic (each a record, one
    // of them live) and, between them, messages queued for the session.
    let mut sub = MiniClient::connect(&url, "j-sub", session.clone()).unwrap();
    sub.subscribe("j/queued", Qos::AtLeastOnce).unwrap();
    sub.disconnect().unwrap();
    let mut publisher = MiniClient::connect(&url, "j-pub", ConnectOptions::default()).unwrap();
    let mut appended = 0;
    let mut before = journal_len(&dir);
    for i in 0..3_000 {
        let payload = format!("value {i:04}");
        publisher.publish("j/retained", payload.as_bytes(), Qos::AtLeastOnce, true).unwrap();
        if i % 500 == 0 {
            publisher.publish("j/queued", payload.as_bytes(), Qos::AtLeastOnce, false).unwrap();
        }
        let now = journal_len(&dir);
        appended += now.saturating_sub(before);
        before = now;
    }
    // Far more was appended than the limit; the journal was written again, smaller, while
    // the broker ran (on its own thread: waited for).
    assert!(appended > 3 * growth, "only {appended} bytes appended");
    let deadline = Instant::now() + Duration::from_secs(20);
    while journal_len(&dir) > 2 * growth {
        assert!(Instant::now() < deadline, "the journal was not rewritten");
        std::thread::yield_now();
    }

    // kill -9 right after: the last retained value and the queued messages are there.
    drop(broker);
    let broker = spawn_with(&dir, port, Some(growth));
    let mut late = MiniClient::connect(&url, "j-late", ConnectOptions::default()).unwrap();
    late.subscribe("j/retained", Qos::AtLeastOnce).unwrap();
    let m = late.recv(Duration::from_secs(30)).unwrap().expect("the retained message");
    assert_eq!(m.payload, b"value 2999");
    let mut sub = MiniClient::connect(&url, "j-sub", session).unwrap();
    assert!(sub.session_present);
    let mut got = Vec::new();
    while let Some(m) = sub.recv(Duration::from_secs(2)).unwrap() {
        got.push(String::from_utf8(m.payload).unwrap());
    }
    assert_eq!(
        got,
        ["value 0000", "value 0500", "value 1000", "value 1500", "value 2000", "value 2500"]
    );
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}
