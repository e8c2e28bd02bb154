//! Nothing lost across cut connections: a proxy between our clients and Mosquitto cuts every
//! connection after a random number of bytes (mid-packet too), splits and delays writes, while
//! 10,000 messages are published at QoS 1 and at QoS 2 with persistent sessions. The publisher
//! and the subscriber (both ours, both behind their own proxy) reconnect by themselves
//! (`io::blocking::Reconnecting`) and resume their sessions. QoS 1: none lost; QoS 2: none lost
//! and none delivered twice (payloads carry a sequence number). Over TCP and over WebSocket.
//!
//! Seeded: set `RELIAB_SEED` to replay a run, `RELIAB_CUT_BYTES` to change how many bytes a
//! connection may carry at most (default 60,000), `RELIAB_DEBUG` to trace events and messages.
//! Through Mosquitto `#[ignore]`d: run through `scripts/broker`; through the example broker in
//! this process (TCP at QoS 2, WebSocket at QoS 1), with the rest of the suite.
//!
//! Mosquitto 2.0.11 breaks QoS 2 itself when its write of a re-sent PUBREL fails: the reset at
//! the next reconnect (`db__message_reconnect_reset_outgoing`) turns the message back into a
//! PUBLISH (DUP 1), which the client, having already sent PUBCOMP for that Packet Identifier,
//! must treat as a new message (MQTT 5.0 §4.3.3), and delivers twice. The broker's log shows
//! `Sending PUBREL`, `disconnected: Broken pipe`, then on the next connection `Sending PUBLISH
//! (d1 ...)` with the same id; with abrupt cuts that happened in about 1 run in 20 at the
//! default budget. So the proxies cut Mosquitto's side by closing only their write half and
//! reading what it still sends ([`Cut::Drain`]): it sees the end of the stream mid-packet and
//! loses what it wrote, but no write fails. The example broker's side is cut abruptly.
//!
//! Below about 20,000 bytes a connection, every resumed session's burst from the broker (owed
//! PUBRELs and up to Receive Maximum queued messages) uses up the budget before the client's
//! acknowledgements get through, so progress slows to a crawl.
#![cfg(all(feature = "mqtt", feature = "std", feature = "ws"))]

#[path = "../examples/broker/mod.rs"]
mod broker;
mod common_reliab;

use std::sync::mpsc;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use common_reliab::{Cut, Proxy, buf, clock, open_tcp, open_ws, port, sleep_until};
use embedded_io::{Read, Write};
use mqtt_ws::io::blocking::{Connection, Reconnecting};
use mqtt_ws::io::{Backoff, DriverError, Step};
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Event, Outgoing, SliceStore, UsageError,
};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, client};
use mqtt_ws::time::Duration;

const MESSAGES: u64 = 10_000;
const LIMIT: StdDuration = StdDuration::from_secs(150);

/// 64 messages in flight out; `RX` identifiers of QoS 2 messages in flight in.
type Store = SliceStore<'static, 64, Vec<u8>, RX>;

/// Incoming QoS 2 messages tracked at once. Mosquitto 2.0.11, with a backlog queued for the
/// subscriber, moves up to Receive Maximum queued messages into flight on each PUBCOMP for the
/// oldest message in flight, whatever the number still in flight, and so sends past the Receive
/// Maximum the client announced (MQTT 5.0 §3.3.4, §4.9); the client treats that as the protocol
/// error it is (0x93), on every connection. Tracking many absorbs the overshoot in this test:
/// 512 was not always enough on a loaded machine, where the subscriber falls behind and the
/// backlog grows; and each such fault is a close while the broker writes a burst, the moment
/// its other QoS 2 fault needs (see the module docs), so it must stay rare here.
const RX: usize = 4096;

fn debug(who: &str, what: &dyn std::fmt::Debug) {
    if std::env::var_os("RELIAB_DEBUG").is_some() {
        eprintln!("{:?} {who}: {what:?}", clock());
    }
}

/// The most bytes a proxied connection carries before it is cut (`RELIAB_CUT_BYTES`).
fn cut_bytes() -> u64 {
    std::env::var("RELIAB_CUT_BYTES").ok().and_then(|s| s.parse().ok()).unwrap_or(60_000)
}

fn seed() -> u64 {
    std::env::var("RELIAB_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_2026)
}

fn options(id: &str) -> ConnectOptions<'_> {
    let mut o = ConnectOptions::new(id);
    o.clean_start = true; // the first time; every reconnect resumes (Clean Start 0)
    o.session_expiry = 600;
    o.keep_alive = 5;
    o
}

fn driver<'o, T: Read + Write, C: FnMut() -> Result<T, String>>(
    mut open: C,
    opts: ConnectOptions<'o>,
    seed: u32,
) -> Reconnecting<'static, 'o, T, C, Client<Store, RX>, Vec<u8>> {
    let first = loop {
        match open() {
            Ok(t) => break t,
            Err(_) => std::thread::sleep(StdDuration::from_millis(5)),
        }
    };
    let mut config = Config::new(8192);
    config.connect_timeout = Duration::from_secs(2);
    config.ping_timeout = Some(Duration::from_secs(2));
    let client: Client<Store, RX> = Client::new(SliceStore::with_buffer(buf(64 * 1024)), config);
    let conn = Connection::with_buffers(first, client, buf(8192), buf(8192));
    let backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(100), seed);
    Reconnecting::new(conn, opts, open, backoff)
}

#[derive(Debug, Default)]
struct Report {
    connects: u32,
    lost: u32,
}

fn publisher<T: Read + Write, C: FnMut() -> Result<T, String>>(
    open: C,
    id: &str,
    topic: &str,
    qos: Qos,
    deadline: StdInstant,
) -> Report {
    let mut link = driver(open, options(id), 11);
    let mut report = Report::default();
    let mut next = 0u64;
    while next < MESSAGES || link.client().in_flight() > 0 || !link.is_connected() {
        assert!(StdInstant::now() < deadline, "publisher: out of time at {next}");
        while next < MESSAGES && link.is_connected() {
            let payload = next.to_be_bytes();
            match link.publish(clock(), &Outgoing::new(topic, &payload).qos(qos)) {
                Ok(_) => next += 1,
                Err(DriverError::Machine(client::Error::Usage(
                    UsageError::ReceiveMaximumReached,
                ))) => {
                    break;
                }
                Err(DriverError::Machine(client::Error::Usage(UsageError::NotConnected))) => break,
                Err(DriverError::Transport(_) | DriverError::Closed | DriverError::Eof) => break,
                Err(e) => panic!("publish: {e:?}"),
            }
        }
        match link.poll(clock()) {
            Step::Offline { until } => sleep_until(until),
            Step::Lost { error, .. } => {
                debug(id, &error);
                report.lost += 1
            }
            Step::Event(Event::Refused { reason_code: reason, .. }) => {
                panic!("refused: {reason:?}")
            }
            Step::Event(e) => debug(id, &e),
            _ => {}
        }
    }
    report.connects = link.connects();
    let now = clock();
    let _ = link.connection_mut().disconnect(
        now,
        mqtt_ws::mqtt::ReasonCode::Success,
        Properties::EMPTY,
    );
    report
}

fn subscriber<T: Read + Write, C: FnMut() -> Result<T, String>>(
    open: C,
    id: &str,
    topic: &str,
    qos: Qos,
    ready: mpsc::Sender<()>,
    deadline: StdInstant,
) -> (Vec<u32>, Report) {
    let mut link = driver(open, options(id), 22);
    let mut counts = vec![0u32; MESSAGES as usize];
    let (mut have, mut subscribed, mut report) = (0u64, false, Report::default());
    let mut done_at: Option<StdInstant> = None;
    loop {
        let now = StdInstant::now();
        assert!(now < deadline, "subscriber: out of time with {have} of {MESSAGES}");
        if done_at.is_some_and(|t| now > t + StdDuration::from_millis(500)) {
            break;
        }
        let mut resubscribe = false;
        match link.poll(clock()) {
            Step::Offline { until } => sleep_until(until),
            Step::Lost { error, .. } => {
                debug(id, &error);
                report.lost += 1
            }
            Step::Event(Event::Connected(c)) => {
                debug(id, &c.session_present);
                resubscribe = !subscribed || !c.session_present
            }
            Step::Event(Event::Subscribed { .. }) if !subscribed => {
                subscribed = true;
                ready.send(()).unwrap();
            }
            Step::Event(Event::Message(m)) => {
                let seq = u64::from_be_bytes(m.payload.try_into().expect("8-byte payload"));
                debug(id, &format_args!("message {seq} id {:?} dup {}", m.packet_id, m.dup));
                let c = &mut counts[seq as usize];
                *c += 1;
                if *c == 1 {
                    have += 1;
                    if have == MESSAGES {
                        done_at = Some(StdInstant::now());
                    }
                } else if qos == Qos::ExactlyOnce {
                    panic!("QoS 2 message {seq} delivered twice");
                }
            }
            Step::Event(Event::Refused { reason_code: reason, .. }) => {
                panic!("refused: {reason:?}")
            }
            _ => {}
        }
        if resubscribe {
            let sub = [Subscription::new(topic, qos)];
            let _ = link.connection_mut().subscribe(clock(), &sub, Properties::EMPTY);
        }
    }
    report.connects = link.connects();
    (counts, report)
}

/// Through the Mosquitto `scripts/broker` started. Its side of a connection is cut without
/// making its writes fail ([`Cut::Drain`]): a failed write of a re-sent PUBREL is what sets off
/// its QoS 2 fault (see the module docs).
fn run(ws: bool, qos: Qos) {
    let upstream = if ws { port("MQTT_WS_PORT") } else { port("MQTT_TCP_PORT") };
    run_via(upstream, ws, qos, Cut::Drain);
}

/// Through the example broker in this process.
fn run_with_the_example_broker(ws: bool, qos: Qos) {
    // Room to queue every message for the subscriber while it is cut off (as the Mosquitto of
    // `scripts/broker` has): the publisher is not slowed by the subscriber.
    let options =
        broker::Options { max_queued_messages: Some(2 * MESSAGES as usize), ..Default::default() };
    let b = broker::Broker::new(options);
    let running = b.start(Some("127.0.0.1:0"), Some("127.0.0.1:0")).unwrap();
    let upstream = if ws { running.ws } else { running.tcp };
    run_via(upstream.unwrap().port(), ws, qos, Cut::Abrupt);
    assert_eq!(b.stats().dropped, 0, "messages dropped by the broker");
}

/// The run through the broker at `upstream` (its WebSocket listener when `ws`).
fn run_via(upstream: u16, ws: bool, qos: Qos, cut: Cut) {
    let seed = seed() ^ (u64::from(ws) << 8) ^ qos as u64;
    let (pub_proxy, sub_proxy) = (
        Proxy::start_with(upstream, seed, cut_bytes(), cut),
        Proxy::start_with(upstream, seed + 1, cut_bytes(), cut),
    );
    let tag = format!("{}-{}-{:?}", std::process::id(), if ws { "ws" } else { "tcp" }, qos);
    let topic = format!("reliab/{tag}");
    let (pid, sid) = (format!("rl-pub-{tag}"), format!("rl-sub-{tag}"));
    let start = StdInstant::now();
    let deadline = start + LIMIT;
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sp, pp) = (sub_proxy.port, pub_proxy.port);
    let (sub, publ) = std::thread::scope(|s| {
        let sub = s.spawn(|| {
            if ws {
                let mut k = 100;
                let open = move || {
                    k += 1;
                    open_ws(sp, k)
                };
                subscriber(open, &sid, &topic, qos, ready_tx, deadline)
            } else {
                subscriber(move || open_tcp(sp), &sid, &topic, qos, ready_tx, deadline)
            }
        });
        ready_rx.recv_timeout(StdDuration::from_secs(30)).expect("the subscriber subscribes");
        let publ = if ws {
            let mut k = 200;
            let open = move || {
                k += 1;
                open_ws(pp, k)
            };
            publisher(open, &pid, &topic, qos, deadline)
        } else {
            publisher(move || open_tcp(pp), &pid, &topic, qos, deadline)
        };
        (sub.join().unwrap(), publ)
    });
    let (counts, sub_report) = sub;
    let missing: Vec<_> = (0..MESSAGES).filter(|&i| counts[i as usize] == 0).collect();
    let twice = counts.iter().filter(|&&c| c > 1).count();
    println!(
        "{} QoS {}: {MESSAGES} published, {} received, {} missing, {twice} delivered more than once; \
         publisher: {} cuts, {} connections, {} lost; subscriber: {} cuts, {} connections, {} lost; {:.1} s (seed {seed})",
        if ws { "WebSocket" } else { "TCP" },
        qos as u8,
        counts.iter().map(|&c| u64::from(c)).sum::<u64>(),
        missing.len(),
        pub_proxy.cuts(),
        publ.connects,
        publ.lost,
        sub_proxy.cuts(),
        sub_report.connects,
        sub_report.lost,
        start.elapsed().as_secs_f64(),
    );
    assert!(missing.is_empty(), "lost: {:?}", &missing[..missing.len().min(20)]);
    if qos == Qos::ExactlyOnce {
        assert_eq!(twice, 0);
    }
    assert!(pub_proxy.cuts() > 0 && sub_proxy.cuts() > 0, "the proxies cut connections");
}

#[test]
fn tcp_qos2_survives_cuts_with_the_example_broker() {
    run_with_the_example_broker(false, Qos::ExactlyOnce);
}

#[test]
fn ws_qos1_survives_cuts_with_the_example_broker() {
    run_with_the_example_broker(true, Qos::AtLeastOnce);
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn tcp_qos1_survives_cuts() {
    run(false, Qos::AtLeastOnce);
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn tcp_qos2_survives_cuts() {
    run(false, Qos::ExactlyOnce);
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn ws_qos1_survives_cuts() {
    run(true, Qos::AtLeastOnce);
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn ws_qos2_survives_cuts() {
    run(true, Qos::ExactlyOnce);
}

const MQTTJS_SUBSCRIBER: &str = r#"
const mqtt = require('mqtt');
const [url, topic, total] = process.argv.slice(2);
const n = Number(total);
const seen = new Uint8Array(n);
let distinct = 0, twice = 0;
const c = mqtt.connect(url, { protocolVersion: 5, clientId: 'rl-js-' + process.pid, clean: false,
  properties: { sessionExpiryInterval: 600 } });
c.on('error', (e) => { console.error('ERR ' + e.message); process.exit(2); });
c.on('connect', () => c.subscribe(topic, { qos: 2 }, (err) => {
  if (err) { console.error('ERR ' + err.message); process.exit(3); }
  console.log('READY');
}));
c.on('message', (t, payload) => {
  const seq = Number(payload.readBigUInt64BE(0));
  if (seen[seq]++) { twice++; } else if (++distinct === n) {
    setTimeout(() => { console.log('GOT ' + distinct + ' TWICE ' + twice); c.end(false, {}, () => process.exit(0)); }, 500);
  }
});
setTimeout(() => { console.log('GOT ' + distinct + ' TWICE ' + twice); process.exit(4); }, 120000);
"#;

/// Once with another client as the subscriber: MQTT.js (outside the proxy) counts the QoS 2
/// messages our publisher sends through the cutting proxy.
#[test]
#[ignore = "needs Mosquitto and MQTT.js: run through scripts/broker-mqttjs"]
fn tcp_qos2_through_cuts_counted_by_mqttjs() {
    use std::io::BufRead as _;
    let node_path = std::env::var("MQTTJS_NODE_PATH").expect("run through scripts/broker-mqttjs");
    let seed = seed() ^ 0x15;
    let proxy = Proxy::start(port("MQTT_TCP_PORT"), seed, cut_bytes());
    let tag = format!("{}-js", std::process::id());
    let topic = format!("reliab/{tag}");
    let dir = std::env::temp_dir().join(format!("mqttws-reliab-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("sub.js");
    std::fs::write(&script, MQTTJS_SUBSCRIBER).unwrap();
    let start = StdInstant::now();
    let mut node = std::process::Command::new("node")
        .arg(&script)
        .arg(format!("mqtt://127.0.0.1:{}", port("MQTT_TCP_PORT")))
        .arg(&topic)
        .arg(MESSAGES.to_string())
        .env("NODE_PATH", &node_path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = std::io::BufReader::new(node.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "READY");
    let pp = proxy.port;
    let publ = publisher(
        move || open_tcp(pp),
        &format!("rl-pub-{tag}"),
        &topic,
        Qos::ExactlyOnce,
        start + LIMIT,
    );
    let got = lines.next().unwrap().unwrap();
    let status = node.wait().unwrap();
    println!(
        "MQTT.js subscriber, TCP QoS 2: {MESSAGES} published, {got}; publisher: {} cuts, {} \
         connections, {} lost; {:.1} s (seed {seed})",
        proxy.cuts(),
        publ.connects,
        publ.lost,
        start.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(got, format!("GOT {MESSAGES} TWICE 0"));
    assert!(status.success());
    assert!(proxy.cuts() > 0);
}
