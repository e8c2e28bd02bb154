//! End-to-end publish rate through a local Mosquitto over TCP: mqtt-ws's blocking and async
//! drivers against rumqttc (tokio, `AsyncClient` + `EventLoop`, MQTT 5) in the same run.
//!
//! Every case (QoS 0 and 1, 64 B and 1 KiB payloads) publishes a bounded number of messages to a
//! fresh topic that one subscriber (the same for every publisher: an mqtt-ws blocking client on
//! its own thread, subscribed at the case's QoS) counts. The rate is messages *delivered to the
//! subscriber* per second, from the first publish to the last delivery; QoS 1 publishers also
//! wait for every PUBACK. Runs are interleaved (the publisher order rotates each round) and the
//! median of the rounds is reported, as a Markdown table with ratios (ours / rumqttc: above 1
//! means mqtt-ws delivers more per second).
//!
//! Needs the broker's port in `MQTT_TCP_PORT`:
//! `MQTT_MAX_QUEUED=0 scripts/broker cargo bench -p mqtt-ws-benches --bench e2e` (no queue limit
//! in the broker, so that a burst faster than the subscriber is queued rather than dropped).
//! `E2E_ROUNDS` (default 5) and `E2E_COUNT` (messages per run, default 20000) bound the run;
//! every run also stops after 20 s.
//!
//! `E2E_ONLY=blocking|async|rumqttc E2E_QOS=0|1 E2E_SIZE=64|1024` runs one publisher alone,
//! without the subscriber (QoS 1 counts PUBACKs; QoS 0 ends with a DISCONNECT after the last
//! publish): for instruction counts of the client process under `valgrind --tool=callgrind`.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant as StdInstant};

use embedded_io_adapters::tokio_1::FromTokio;
use mqtt_ws::io::{DriverError, StdIo};
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Error, Event, Outgoing, SliceStore, UsageError,
};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Publisher {
    Blocking,
    Async,
    Rumqttc,
}

impl Publisher {
    const ALL: [Publisher; 3] = [Publisher::Blocking, Publisher::Async, Publisher::Rumqttc];

    fn name(self) -> &'static str {
        match self {
            Publisher::Blocking => "blocking",
            Publisher::Async => "async",
            Publisher::Rumqttc => "rumqttc",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Case {
    qos: Qos,
    size: usize,
    count: usize,
}

fn port() -> u16 {
    std::env::var("MQTT_TCP_PORT")
        .expect("MQTT_TCP_PORT is not set: run through scripts/broker")
        .parse()
        .expect("MQTT_TCP_PORT is a port")
}

fn env_usize(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn clock(start: StdInstant) -> Instant {
    Instant::from_millis(start.elapsed().as_millis() as u64)
}

/// `TCP_NODELAY` for every client's socket, the same for all three publishers: on, unless
/// `E2E_NODELAY=0` (Nagle's algorithm on, rumqttc's default; it makes the QoS 1 runs stall on
/// delayed acknowledgements now and then, so the rates scatter much more).
fn nodelay() -> bool {
    std::env::var("E2E_NODELAY").map_or(true, |v| v != "0")
}

fn tcp(read_timeout: Duration) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port())).expect("the broker listens");
    s.set_nodelay(nodelay()).unwrap();
    s.set_read_timeout(Some(read_timeout)).unwrap();
    s
}

/// The broker's Receive Maximum or our store is full: poll for acknowledgements, then publish
/// again.
fn is_full<T>(e: &DriverError<T, Error>) -> bool {
    matches!(
        e,
        DriverError::Machine(Error::Usage(
            UsageError::ReceiveMaximumReached | UsageError::StoreFull
        ))
    )
}

/// Buffers for one of our clients: store, receive and transmit.
struct Buffers {
    store: Vec<u8>,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl Buffers {
    fn new() -> Self {
        Self { store: vec![0; 256 * 1024], rx: vec![0; 16 * 1024], tx: vec![0; 16 * 1024] }
    }
}

/// The counting subscriber: subscribes to `topic`, signals `ready`, then counts messages until
/// `count` or the limit. Returns how many arrived and when the last one did.
fn subscribe(topic: String, case: Case, ready: mpsc::Sender<()>) -> (usize, Option<StdInstant>) {
    let start = StdInstant::now();
    let mut b = Buffers::new();
    let client: Client<SliceStore<'_, 64>, 64> =
        Client::new(SliceStore::new(&mut b.store), Config::new(b.rx.len()));
    let mut conn = mqtt_ws::io::blocking::Connection::new(
        StdIo(tcp(Duration::from_millis(20))),
        client,
        &mut b.rx,
        &mut b.tx,
    );
    conn.connect(clock(start), &ConnectOptions::new(&format!("{topic}-sub"))).unwrap();
    let mut subscribed = false;
    while !subscribed {
        match conn.poll(clock(start)).unwrap() {
            Some(Event::Connected(_)) => conn
                .subscribe(clock(start), &[Subscription::new(&topic, case.qos)], Properties::EMPTY)
                .map(|_| ())
                .unwrap(),
            Some(Event::Subscribed { .. }) => subscribed = true,
            _ => {}
        }
    }
    ready.send(()).unwrap();
    let (mut got, mut last) = (0, None);
    let deadline = StdInstant::now() + LIMIT;
    while got < case.count && StdInstant::now() < deadline {
        if let Some(Event::Message(m)) = conn.poll(clock(start)).unwrap() {
            assert_eq!(m.payload.len(), case.size);
            got += 1;
            last = Some(StdInstant::now());
        }
    }
    let _ = conn.disconnect(clock(start), ReasonCode::NormalDisconnection, Properties::EMPTY);
    (got, last)
}

/// Our blocking driver: publishes `case.count` messages, polling for PUBACKs whenever the
/// broker's Receive Maximum is reached; then waits (polling) until `done`.
fn publish_blocking(topic: &str, case: Case, done: &AtomicBool) {
    let start = StdInstant::now();
    let payload = vec![0x5a; case.size];
    let mut b = Buffers::new();
    let client: Client<SliceStore<'_, 64>, 64> =
        Client::new(SliceStore::new(&mut b.store), Config::new(b.rx.len()));
    let mut conn = mqtt_ws::io::blocking::Connection::new(
        StdIo(tcp(Duration::from_millis(20))),
        client,
        &mut b.rx,
        &mut b.tx,
    );
    conn.connect(clock(start), &ConnectOptions::new(&format!("{topic}-pub"))).unwrap();
    while !matches!(conn.poll(clock(start)).unwrap(), Some(Event::Connected(_))) {}
    mark_start();
    let msg = Outgoing::new(topic, &payload).qos(case.qos);
    let (mut sent, mut acked) = (0, 0);
    let deadline = StdInstant::now() + LIMIT;
    let want_acks = if case.qos == Qos::AtMostOnce { 0 } else { case.count };
    while (sent < case.count || acked < want_acks) && StdInstant::now() < deadline {
        if sent < case.count {
            match conn.publish(clock(start), &msg) {
                Ok(_) => {
                    sent += 1;
                    continue;
                }
                Err(e) if is_full(&e) => {}
                Err(e) => panic!("{e}"),
            }
        }
        if let Some(Event::Published { .. }) = conn.poll(clock(start)).unwrap() {
            acked += 1;
        }
    }
    while !done.load(Ordering::Acquire) && StdInstant::now() < deadline {
        let _ = conn.poll(clock(start)).unwrap();
    }
    conn.disconnect(clock(start), ReasonCode::NormalDisconnection, Properties::EMPTY).unwrap();
}

/// Our async driver on a current-thread tokio runtime over a tokio `TcpStream`.
fn publish_async(topic: &str, case: Case, done: &AtomicBool) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let start = StdInstant::now();
        let payload = vec![0x5a; case.size];
        let mut b = Buffers::new();
        let client: Client<SliceStore<'_, 64>, 64> =
            Client::new(SliceStore::new(&mut b.store), Config::new(b.rx.len()));
        let sock = tokio::net::TcpStream::connect(("127.0.0.1", port())).await.unwrap();
        sock.set_nodelay(nodelay()).unwrap();
        let mut conn = mqtt_ws::io::asynch::Connection::new(
            FromTokio::new(sock),
            client,
            &mut b.rx,
            &mut b.tx,
        );
        conn.connect(clock(start), &ConnectOptions::new(&format!("{topic}-pub"))).await.unwrap();
        while !matches!(conn.poll(clock(start)).await.unwrap(), Some(Event::Connected(_))) {}
        mark_start();
        let msg = Outgoing::new(topic, &payload).qos(case.qos);
        let (mut sent, mut acked) = (0, 0);
        let deadline = StdInstant::now() + LIMIT;
        let want_acks = if case.qos == Qos::AtMostOnce { 0 } else { case.count };
        while (sent < case.count || acked < want_acks) && StdInstant::now() < deadline {
            if sent < case.count {
                match conn.publish(clock(start), &msg).await {
                    Ok(_) => {
                        sent += 1;
                        continue;
                    }
                    Err(e) if is_full(&e) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            if let Some(Event::Published { .. }) = conn.poll(clock(start)).await.unwrap() {
                acked += 1;
            }
        }
        while !done.load(Ordering::Acquire) && StdInstant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        conn.disconnect(clock(start), ReasonCode::NormalDisconnection, Properties::EMPTY)
            .await
            .unwrap();
    });
}

/// The time of the first publish of the current run, set by the publisher once it is connected.
static FIRST_PUBLISH: std::sync::Mutex<Option<StdInstant>> = std::sync::Mutex::new(None);

fn mark_start() {
    *FIRST_PUBLISH.lock().unwrap() = Some(StdInstant::now());
}

/// rumqttc's MQTT 5 `AsyncClient` + `EventLoop` on a current-thread tokio runtime: a task
/// publishes (the payload as a shared `Bytes`, its cheapest form), the event loop is polled
/// until every message is written (QoS 0) or acknowledged (QoS 1), then until `done`.
fn publish_rumqttc(topic: &str, case: Case, done: &AtomicBool) {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{AsyncClient, Event as REvent, Incoming, MqttOptions};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut options = MqttOptions::new(format!("{topic}-pub"), "127.0.0.1", port());
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(Some(64 * 1024));
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(nodelay());
        options.set_network_options(network);
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let payload = bytes::Bytes::from(vec![0x5a; case.size]);
        let qos = if case.qos == Qos::AtMostOnce { QoS::AtMostOnce } else { QoS::AtLeastOnce };
        let (topic, count) = (topic.to_string(), case.count);
        while !matches!(eventloop.poll().await.unwrap(), REvent::Incoming(Incoming::ConnAck(_))) {}
        mark_start();
        let publisher = tokio::spawn(async move {
            for _ in 0..count {
                client.publish_bytes(topic.clone(), qos, false, payload.clone()).await.unwrap();
            }
            client
        });
        let (mut written, mut acked) = (0, 0);
        let deadline = StdInstant::now() + LIMIT;
        let want_acks = if qos == QoS::AtMostOnce { 0 } else { count };
        while (written < count || acked < want_acks) && StdInstant::now() < deadline {
            match eventloop.poll().await.unwrap() {
                REvent::Outgoing(rumqttc::Outgoing::Publish(_)) => written += 1,
                REvent::Incoming(Incoming::PubAck(_)) => acked += 1,
                _ => {}
            }
        }
        let client = publisher.await.unwrap();
        while !done.load(Ordering::Acquire) && StdInstant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(1), eventloop.poll()).await;
        }
        client.disconnect().await.unwrap();
        let _ = tokio::time::timeout(Duration::from_millis(100), eventloop.poll()).await;
    });
}

fn publish(p: Publisher, topic: &str, case: Case, done: &AtomicBool) {
    match p {
        Publisher::Blocking => publish_blocking(topic, case, done),
        Publisher::Async => publish_async(topic, case, done),
        Publisher::Rumqttc => publish_rumqttc(topic, case, done),
    }
}

/// One measured run: delivered messages per second, and how many were delivered.
fn run(p: Publisher, case: Case, run_id: usize) -> (f64, usize) {
    let topic = format!("mqttws-e2e-{}-{run_id}-{}", std::process::id(), p.name());
    let (ready_tx, ready_rx) = mpsc::channel();
    let sub_topic = topic.clone();
    let subscriber = std::thread::spawn(move || subscribe(sub_topic, case, ready_tx));
    ready_rx.recv().expect("the subscriber is ready");
    let done = Arc::new(AtomicBool::new(false));
    *FIRST_PUBLISH.lock().unwrap() = None;
    let publisher = {
        let done = done.clone();
        std::thread::spawn(move || publish(p, &topic, case, &done))
    };
    let (got, last) = subscriber.join().unwrap();
    done.store(true, Ordering::Release);
    publisher.join().unwrap();
    let start = FIRST_PUBLISH.lock().unwrap().expect("the publisher connected");
    let secs = last.map_or(f64::INFINITY, |l| (l - start).as_secs_f64());
    (got as f64 / secs, got)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn qos_of(q: usize) -> Qos {
    if q == 0 { Qos::AtMostOnce } else { Qos::AtLeastOnce }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let count = env_usize("E2E_COUNT", 20_000);
    if let Ok(only) = std::env::var("E2E_ONLY") {
        let p = *Publisher::ALL.iter().find(|p| p.name() == only).expect("E2E_ONLY: a publisher");
        let case =
            Case { qos: qos_of(env_usize("E2E_QOS", 0)), size: env_usize("E2E_SIZE", 64), count };
        // No subscriber: stop right after the last publish (QoS 0) or PUBACK (QoS 1).
        publish(
            p,
            &format!("mqttws-e2e-{}-only", std::process::id()),
            case,
            &AtomicBool::new(true),
        );
        return;
    }
    let rounds = env_usize("E2E_ROUNDS", 5);
    let mut rows = Vec::new();
    let mut run_id = 0;
    for q in [0, 1] {
        for size in [64, 1024] {
            let case = Case { qos: qos_of(q), size, count };
            let mut rates: [Vec<f64>; 3] = Default::default();
            let mut lost = [0usize; 3];
            for round in 0..rounds {
                for k in 0..3 {
                    let i = (round + k) % 3;
                    run_id += 1;
                    let (rate, got) = run(Publisher::ALL[i], case, run_id);
                    rates[i].push(rate);
                    lost[i] += count - got;
                }
            }
            let m: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
            eprintln!(
                "QoS {q} {size:>4} B: blocking {:>9.0}/s  async {:>9.0}/s  rumqttc {:>9.0}/s  \
                 (not delivered in {rounds} rounds: {lost:?})",
                m[0], m[1], m[2]
            );
            rows.push((q, size, m, lost));
        }
    }
    println!();
    println!(
        "Publish rate through Mosquitto over TCP, {count} messages per run, median of {rounds} \
         interleaved runs (msg/s delivered to a subscriber):"
    );
    println!();
    println!(
        "| QoS | payload | mqtt-ws blocking | mqtt-ws async | rumqttc | blocking / rumqttc | async / rumqttc |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (q, size, m, _) in &rows {
        println!(
            "| {q} | {size} B | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
            m[0],
            m[1],
            m[2],
            m[0] / m[2],
            m[1] / m[2]
        );
    }
}
