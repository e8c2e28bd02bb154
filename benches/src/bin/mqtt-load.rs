//! `mqtt-load`: a load generator for an MQTT 5.0 broker on 127.0.0.1, used by
//! `scripts/broker-scale` to compare the example broker with Mosquitto under the same loads.
//!
//! ```text
//! mqtt-load --port PORT [--pid PID] connections N [--hold SECS] [--max-rss MIB]
//! mqtt-load --port PORT [--pid PID] [--threads N] fan-in  --publishers P  --qos 0|1 --count N
//! mqtt-load --port PORT [--pid PID] [--threads N] fan-out --subscribers S --qos 0|1 --count N
//! ```
//!
//! - `connections N` opens N MQTT 5.0 connections (keep-alive 60 s, raw sockets: CONNECT
//!   encoded by the crate's codec, CONNACK decoded by it), at most `--concurrency` (64)
//!   handshakes at once (Mosquitto listens with a backlog of 100: more at once overflow it and
//!   cost a 1 s SYN retry), and holds them `--hold` seconds (a PINGREQ every 30 s). It reads the
//!   broker's `VmRSS` and `VmSize` from `/proc/PID/status` before, once all are up (after a 2 s
//!   settle), and 2 s after they closed, and counts the connections still open at the end of the
//!   hold. It stops opening more when the broker's RSS passes `--max-rss` MiB (default 8192), so
//!   a broker that grows without bound cannot take the machine down.
//! - `fan-in`: P publishers (`load/TAG/p<i>`), one subscriber on `load/TAG/+`. `fan-out`: one
//!   publisher, S subscribers on `load/TAG/t`. The `--count` messages of `--size` bytes (64; at
//!   least 16: the first 8 bytes are the publish time, the next 8 a sequence number) are split
//!   over the publishers; every subscriber receives all of them. Clients are
//!   `mqtt_ws::net::tokio::MqttClient`s (no reconnect), subscribed at the QoS they publish with,
//!   on `--threads` (1) threads.
//!
//!   Publishers go as fast as a window allows: at most `--window` (500) messages published and
//!   not yet received by the slowest subscriber, so that neither broker queues more than it
//!   keeps (our broker drops past 1000 queued plus 1000 in a connection's channel). With
//!   `--rate R` they publish R messages per second in total (the window still applies), for
//!   latency below saturation. QoS 1 publishers also keep within the broker's Receive Maximum.
//!
//!   Reported: messages per second delivered (all subscribers, from the first publish to the
//!   last delivery); the end-to-end latency (publish call to receipt, one monotonic clock in
//!   this process) as p50 / p99 / max from an HDR histogram, in microseconds; and the CPU time
//!   (user + system, `/proc/PID/stat`) the broker and this process spent per delivery.
//!
//! Every run is bounded: each connection attempt by 10 s, a fan run by `--timeout` (30 s); a
//! run that ends by its deadline reports what it counted so far. The result is one JSON object
//! on stdout; notes go to stderr.

use std::fmt::Write as _;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use mqtt_ws::Status;
use mqtt_ws::mqtt::client::{self, UsageError};
use mqtt_ws::mqtt::packet::{self, Connect, DecodeOptions, Packet};
use mqtt_ws::mqtt::{Qos, ReasonCode, Version};
use mqtt_ws::net::tokio::MqttClient;
use mqtt_ws::net::{Error, Event, Options};
use mqtt_ws::prelude::{ConnectOptions, Outgoing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};

const USAGE: &str = "usage: mqtt-load --port PORT [--pid PID] [--threads N] MODE ...
  connections N [--hold SECS] [--concurrency C] [--max-rss MIB]
  fan-in  --publishers P  --qos 0|1 --count N [--size B] [--rate R] [--window W] [--timeout SECS]
  fan-out --subscribers S --qos 0|1 --count N [--size B] [--rate R] [--window W] [--timeout SECS]";

/// Time allowed for one connection: TCP, CONNECT, CONNACK.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
/// Time the broker gets to settle before its memory is read.
const SETTLE: Duration = Duration::from_secs(2);
/// Keep-alive of every connection, seconds.
const KEEP_ALIVE: u16 = 60;

/// The command line.
struct Args {
    port: u16,
    pid: Option<u32>,
    threads: usize,
    mode: Mode,
}

/// What to run.
enum Mode {
    Connections(ConnArgs),
    Fan(FanArgs),
}

/// `connections`.
struct ConnArgs {
    count: usize,
    hold: Duration,
    concurrency: usize,
    max_rss_kib: u64,
}

/// `fan-in` and `fan-out`.
#[derive(Clone, Copy)]
struct FanArgs {
    name: &'static str,
    publishers: usize,
    subscribers: usize,
    qos: Qos,
    count: u64,
    size: usize,
    /// Messages per second in total; 0: as fast as the window allows.
    rate: f64,
    window: u64,
    timeout: Duration,
}

fn usage(why: &str) -> ! {
    eprintln!("mqtt-load: {why}\n{USAGE}");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut port, mut pid, mut threads, mut mode) = (None, None, 1, None);
    let (mut n, mut hold, mut concurrency, mut max_rss) = (None, 0.0, 64, 8192u64);
    let (mut publishers, mut subscribers, mut qos, mut count) = (None, None, None, None);
    let (mut size, mut rate, mut window, mut limit) = (64, 0.0, 500, 30.0);
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
        v.and_then(|v| v.parse().ok()).unwrap_or_else(|| usage(&format!("{flag} needs a number")))
    }
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = Some(num(&a, args.next())),
            "--pid" => pid = Some(num(&a, args.next())),
            "--threads" => threads = num(&a, args.next()),
            "--hold" => hold = num(&a, args.next()),
            "--concurrency" => concurrency = num(&a, args.next()),
            "--max-rss" => max_rss = num(&a, args.next()),
            "--publishers" => publishers = Some(num(&a, args.next())),
            "--subscribers" => subscribers = Some(num(&a, args.next())),
            "--qos" => qos = Some(num::<u8>(&a, args.next())),
            "--count" => count = Some(num(&a, args.next())),
            "--size" => size = num(&a, args.next()),
            "--rate" => rate = num(&a, args.next()),
            "--window" => window = num(&a, args.next()),
            "--timeout" => limit = num(&a, args.next()),
            "connections" => {
                mode = Some("connections");
                n = Some(num::<usize>("connections", args.next()));
            }
            "fan-in" | "fan-out" => mode = Some(if a == "fan-in" { "fan-in" } else { "fan-out" }),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    let port = port.unwrap_or_else(|| usage("--port is required"));
    let mode = match mode {
        Some("connections") => Mode::Connections(ConnArgs {
            count: n.unwrap_or(0),
            hold: Duration::from_secs_f64(hold),
            concurrency: concurrency.max(1),
            max_rss_kib: max_rss * 1024,
        }),
        Some(name) => {
            let qos = match qos {
                Some(0) => Qos::AtMostOnce,
                Some(1) => Qos::AtLeastOnce,
                _ => usage("--qos 0 or 1 is required"),
            };
            let (publishers, subscribers) = match name {
                "fan-in" => (publishers.unwrap_or_else(|| usage("--publishers is required")), 1),
                _ => (1, subscribers.unwrap_or_else(|| usage("--subscribers is required"))),
            };
            if publishers == 0 || subscribers == 0 {
                usage("at least one publisher and one subscriber");
            }
            Mode::Fan(FanArgs {
                name,
                publishers,
                subscribers,
                qos,
                count: count.unwrap_or_else(|| usage("--count is required")),
                size: size.max(16),
                rate,
                window: window.max(1),
                timeout: Duration::from_secs_f64(limit),
            })
        }
        None => usage("no mode given"),
    };
    Args { port, pid, threads: threads.max(1), mode }
}

fn main() {
    let args = parse_args();
    // The fan modes' clients run on threads of their own (see `fan`).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let json = rt.block_on(async {
        match &args.mode {
            Mode::Connections(c) => connections(args.port, args.pid, c).await,
            Mode::Fan(f) => fan(args.port, args.pid, args.threads, f).await,
        }
    });
    println!("{json}");
    // Whatever is left (a client stuck past its deadline) ends with the process.
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// The broker's `VmRSS` and `VmSize` in KiB, from `/proc/PID/status`.
fn memory(pid: Option<u32>) -> (u64, u64) {
    let Some(status) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
    else {
        return (0, 0);
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmSize:"))
}

/// Opens one MQTT 5.0 connection (raw socket) and waits for a successful CONNACK.
async fn open(port: u16, client_id: String) -> Result<TcpStream, String> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut connect = Connect::new(Version::V5, &client_id);
    connect.keep_alive = KEEP_ALIVE;
    let mut buf = [0u8; 256];
    let n = Packet::Connect(connect).encode(Version::V5, &mut buf).map_err(|e| format!("{e:?}"))?;
    tcp.write_all(&buf[..n]).await.map_err(|e| e.to_string())?;
    let mut have = 0;
    loop {
        match packet::decode(&buf[..have], &DecodeOptions::new(Version::V5)) {
            Ok(Status::Progress { event: Packet::ConnAck(ack), .. }) => {
                return match ack.reason_code {
                    ReasonCode::Success => Ok(tcp),
                    code => Err(format!("refused: {code:?}")),
                };
            }
            Ok(Status::Progress { event, .. }) => return Err(format!("not a CONNACK: {event:?}")),
            Ok(Status::NeedMore { .. }) if have < buf.len() => {}
            Ok(Status::NeedMore { .. }) => return Err("CONNACK too large".into()),
            Ok(_) => return Err("no CONNACK".into()),
            Err(e) => return Err(format!("{e:?}")),
        }
        match tcp.read(&mut buf[have..]).await {
            Ok(0) => return Err("closed before CONNACK".into()),
            Ok(n) => have += n,
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// `connections N`: opens and holds N connections, reads the broker's memory.
async fn connections(port: u16, pid: Option<u32>, a: &ConnArgs) -> String {
    let tag = std::process::id();
    let (rss_before, vm_before) = memory(pid);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(a.concurrency));
    let mut set = JoinSet::new();
    let mut stopped = None;
    for i in 0..a.count {
        let permit = gate.clone().acquire_owned().await.expect("never closed");
        if i % 500 == 499 {
            let (rss, _) = memory(pid);
            if rss > a.max_rss_kib {
                stopped = Some(format!("broker RSS {rss} KiB over --max-rss after {i} attempts"));
                break;
            }
        }
        set.spawn(async move {
            let t = Instant::now();
            let r = match timeout(CONNECT_LIMIT, open(port, format!("load-c{i}-{tag}"))).await {
                Ok(r) => r,
                Err(_) => Err("no CONNACK within 10 s".into()),
            };
            drop(permit);
            r.map(|tcp| (tcp, t.elapsed()))
        });
    }
    let mut held = Vec::with_capacity(a.count);
    let (mut failed, mut first_error) = (0usize, None);
    // Connect to CONNACK, microseconds.
    let mut setup = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    while let Some(r) = set.join_next().await {
        match r.expect("connection task") {
            Ok((tcp, took)) => {
                setup.saturating_record((took.as_micros() as u64).max(1));
                held.push(tcp);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    if let Some(why) = &stopped {
        eprintln!("mqtt-load: stopped opening connections: {why}");
    }
    sleep(SETTLE).await;
    let (rss_held, vm_held) = memory(pid);
    // Hold, with a PINGREQ every half keep-alive (answers are read and dropped below).
    let end = Instant::now() + a.hold;
    while Instant::now() < end {
        let next = (Instant::now() + Duration::from_secs(u64::from(KEEP_ALIVE) / 2)).min(end);
        sleep_until(next).await;
        if next < end {
            for tcp in &mut held {
                let _ = tcp.try_write(&[0xC0, 0x00]);
            }
        }
    }
    // Still open: reading finds no EOF (PINGRESPs are all that may be waiting).
    let mut scratch = [0u8; 64];
    let alive = held
        .iter()
        .filter(|tcp| {
            loop {
                match tcp.try_read(&mut scratch) {
                    Ok(0) => break false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                    Err(_) => break false,
                }
            }
        })
        .count();
    let established = held.len();
    drop(held);
    sleep(SETTLE).await;
    let (rss_closed, _) = memory(pid);
    let per_conn = |after: u64| match established {
        0 => 0.0,
        n => (after.saturating_sub(rss_before) as f64) / n as f64,
    };
    let mut j = String::from("{\"mode\":\"connections\"");
    let _ = write!(
        j,
        ",\"requested\":{},\"established\":{established},\"failed\":{failed},\"alive_after_hold\":{alive},\
         \"connect_s\":{connect_secs:.3},\"rss_before_kib\":{rss_before},\"rss_held_kib\":{rss_held},\
         \"rss_after_close_kib\":{rss_closed},\"vm_before_kib\":{vm_before},\"vm_held_kib\":{vm_held},\
         \"kib_per_conn\":{:.2},\"vm_kib_per_conn\":{:.2},\"connack_p50_us\":{},\"connack_p99_us\":{},\
         \"connack_max_us\":{}",
        a.count,
        per_conn(rss_held),
        match established {
            0 => 0.0,
            n => vm_held.saturating_sub(vm_before) as f64 / n as f64,
        },
        setup.value_at_quantile(0.5),
        setup.value_at_quantile(0.99),
        setup.max(),
    );
    if let Some(e) = first_error {
        let _ = write!(j, ",\"first_error\":{:?}", e);
    }
    if let Some(why) = stopped {
        let _ = write!(j, ",\"stopped\":{:?}", why);
    }
    j.push('}');
    j
}

/// What the clients of a fan run share.
struct Shared {
    /// The clock every timestamp is read from.
    epoch: Instant,
    published: AtomicU64,
    /// Messages each subscriber received so far.
    received: Vec<AtomicU64>,
    /// Messages the slowest subscriber may be behind the publishers.
    window: u64,
    /// Set by a publisher that waits for the window; cleared by the subscriber that wakes it.
    waiting: AtomicBool,
    room: Notify,
}

impl Shared {
    fn nanos(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Whether one more message may be published now: the slowest subscriber is less than a
    /// window behind.
    fn room(&self) -> bool {
        let slowest = self.received.iter().map(|r| r.load(Ordering::Acquire)).min().unwrap_or(0);
        self.published.load(Ordering::Acquire).saturating_sub(slowest) < self.window
    }
}

/// A connected `MqttClient` for the load: no reconnect, small buffers.
async fn client(port: u16, id: &str) -> Result<MqttClient, Error> {
    let settings = Options {
        buffer_len: 16 * 1024,
        store_len: 64 * 1024,
        reconnect: None,
        ..Options::default()
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    MqttClient::connect_with(&url, &ConnectOptions::new(id), &settings).await
}

/// Whether `e` only says "wait for acknowledgements first".
fn is_full(e: &Error) -> bool {
    matches!(
        e,
        Error::Mqtt(client::Error::Usage(
            UsageError::ReceiveMaximumReached | UsageError::StoreFull
        ))
    )
}

/// Handles a publisher's event: counts acknowledgements; the end of the connection is an error.
fn on_publisher_event(step: Result<Option<Event>, Error>, acked: &mut u64) -> Result<(), String> {
    match step {
        Ok(Some(Event::Published { reason_code, .. })) if reason_code.is_error() => {
            Err(format!("PUBACK {reason_code:?}"))
        }
        Ok(Some(Event::Published { .. })) => {
            *acked += 1;
            Ok(())
        }
        Ok(Some(Event::Disconnected { reason_code })) => Err(format!("DISCONNECT {reason_code:?}")),
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("connection closed".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Waits for a publisher's next event until `deadline` (then the caller's loop ends).
async fn wait_event(
    mqtt: &mut MqttClient,
    deadline: Instant,
    acked: &mut u64,
) -> Result<(), String> {
    match timeout_at(deadline, mqtt.next()).await {
        Ok(step) => on_publisher_event(step, acked),
        Err(_) => Ok(()),
    }
}

/// One publisher: `count` messages on `topic`, paced or windowed; waits for every PUBACK at
/// QoS 1. Returns how many it published.
async fn publisher(
    mut mqtt: MqttClient,
    topic: String,
    count: u64,
    rate: f64,
    a: &FanArgs,
    shared: &Shared,
    deadline: Instant,
) -> Result<u64, String> {
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut payload = vec![0u8; a.size];
    let start = Instant::now();
    let qos1 = a.qos == Qos::AtLeastOnce;
    while Instant::now() < deadline {
        let unacked = qos1 && acked < sent;
        if sent == count {
            if !unacked {
                break;
            }
            wait_event(&mut mqtt, deadline, &mut acked).await?;
            continue;
        }
        if rate > 0.0 {
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            if due > Instant::now() {
                tokio::select! {
                    step = mqtt.next(), if unacked => on_publisher_event(step, &mut acked)?,
                    () = sleep_until(due) => {}
                }
                continue;
            }
        }
        if !shared.room() {
            let mut woken = pin!(shared.room.notified());
            woken.as_mut().enable();
            shared.waiting.store(true, Ordering::Release);
            if !shared.room() {
                tokio::select! {
                    step = mqtt.next(), if unacked => on_publisher_event(step, &mut acked)?,
                    () = woken => {}
                    () = sleep(Duration::from_millis(5)) => {}
                }
            }
            continue;
        }
        payload[..8].copy_from_slice(&shared.nanos().to_le_bytes());
        payload[8..16].copy_from_slice(&sent.to_le_bytes());
        match mqtt.publish(&Outgoing::new(&topic, &payload).qos(a.qos)).await {
            Ok(_) => {
                sent += 1;
                shared.published.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) if is_full(&e) => {
                wait_event(&mut mqtt, deadline, &mut acked).await?;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let _ = timeout(Duration::from_secs(2), mqtt.disconnect()).await;
    Ok(sent)
}

/// What one subscriber saw.
struct Received {
    got: u64,
    last: Option<Instant>,
    latency: Histogram<u64>,
}

/// One subscriber: counts `expected` messages (or until the deadline), recording latencies.
async fn subscriber(
    mut mqtt: MqttClient,
    index: usize,
    expected: u64,
    shared: &Shared,
    deadline: Instant,
) -> Result<Received, String> {
    let mut r = Received {
        got: 0,
        last: None,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
    };
    while r.got < expected {
        let Ok(step) = timeout_at(deadline, mqtt.next()).await else { break };
        match step {
            Ok(Some(Event::Message(m))) => {
                let now = shared.nanos();
                if let Some(sent) = m.payload.first_chunk::<8>() {
                    let us = now.saturating_sub(u64::from_le_bytes(*sent)) / 1000;
                    r.latency.saturating_record(us.max(1));
                }
                r.got += 1;
                r.last = Some(Instant::now());
                shared.received[index].fetch_add(1, Ordering::AcqRel);
                if shared.waiting.load(Ordering::Acquire)
                    && shared.waiting.swap(false, Ordering::AcqRel)
                {
                    shared.room.notify_waiters();
                }
            }
            Ok(Some(Event::Disconnected { reason_code })) => {
                return Err(format!("subscriber: DISCONNECT {reason_code:?}"));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("subscriber: connection closed".into()),
            Err(e) => return Err(format!("subscriber: {e}")),
        }
    }
    // Wake a publisher still waiting on a window that will not move any more.
    shared.room.notify_waiters();
    let _ = timeout(Duration::from_secs(2), mqtt.disconnect()).await;
    Ok(r)
}

/// When the load starts and must end, sent to every client task once all are connected.
type Start = tokio::sync::watch::Receiver<Option<(Instant, Instant)>>;

/// Waits for the start signal.
async fn started(mut start: Start) -> Option<(Instant, Instant)> {
    start.wait_for(Option::is_some).await.ok().and_then(|s| *s)
}

/// The broker's CPU time so far (user + system), from `/proc/PID/stat`.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
    else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and
    // 13th, in clock ticks of 1/100 s on Linux.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 =
        rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum();
    ticks as f64 / 100.0
}

/// This process's CPU time so far (user + system).
fn own_cpu_seconds() -> f64 {
    cpu_seconds(Some(std::process::id()))
}

/// `fan-in` / `fan-out`: connects the subscribers (subscribed before anything is published),
/// then the publishers, then runs the load. The clients run on `threads` threads of their own,
/// each a single-threaded runtime (`LocalPoolHandle`), the setup the published figures were
/// measured with.
async fn fan(port: u16, pid: Option<u32>, threads: usize, a: &FanArgs) -> String {
    let a = *a;
    let tag = std::process::id();
    let pool = tokio_util::task::LocalPoolHandle::new(threads);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        published: AtomicU64::new(0),
        received: (0..a.subscribers).map(|_| AtomicU64::new(0)).collect(),
        window: a.window,
        waiting: AtomicBool::new(false),
        room: Notify::new(),
    });
    let (go, start) = tokio::sync::watch::channel(None);
    let ready = Arc::new(Semaphore::new(0));
    // At most 64 clients connect at once.
    let gate = Arc::new(Semaphore::new(64));
    let filter = match a.name {
        "fan-in" => format!("load/{tag}/+"),
        _ => format!("load/{tag}/t"),
    };
    let fail = |e: &str| -> ! {
        eprintln!("mqtt-load: {e}");
        std::process::exit(1)
    };
    let mut sub_tasks = Vec::new();
    for i in 0..a.subscribers {
        let (gate, ready, start) = (gate.clone(), ready.clone(), start.clone());
        let (filter, shared) = (filter.clone(), shared.clone());
        sub_tasks.push(pool.spawn_pinned(move || async move {
            let permit = gate.acquire_owned().await.expect("never closed");
            let subscribed = async {
                let mut mqtt = client(port, &format!("load-s{i}-{tag}")).await?;
                mqtt.subscribe(&filter, a.qos).await?;
                loop {
                    match mqtt.next().await? {
                        Some(Event::Subscribed { reason_codes, .. }) => {
                            return match reason_codes.first() {
                                Some(c) if c.is_error() => Err(Error::Refused(*c)),
                                _ => Ok(mqtt),
                            };
                        }
                        Some(_) => {}
                        None => return Err(Error::Closed),
                    }
                }
            };
            let mqtt = match timeout(CONNECT_LIMIT, subscribed).await {
                Ok(Ok(mqtt)) => mqtt,
                Ok(Err(e)) => return Err(format!("subscriber {i}: {e}")),
                Err(_) => return Err(format!("subscriber {i}: not subscribed within 10 s")),
            };
            drop(permit);
            ready.add_permits(1);
            let Some((_, deadline)) = started(start).await else { return Err("no start".into()) };
            subscriber(mqtt, i, a.count, &shared, deadline).await
        }));
    }
    let all = |n: usize| {
        let ready = ready.clone();
        async move {
            let wait = ready.acquire_many(n as u32);
            match timeout(CONNECT_LIMIT + Duration::from_secs(5), wait).await {
                Ok(Ok(permits)) => permits.forget(),
                _ => fail("not every client connected in time"),
            }
        }
    };
    all(a.subscribers).await;
    let per = a.count / a.publishers as u64;
    let mut pub_tasks = Vec::new();
    for i in 0..a.publishers {
        let count = per + u64::from((i as u64) < a.count % a.publishers as u64);
        let topic = match a.name {
            "fan-in" => format!("load/{tag}/p{i}"),
            _ => format!("load/{tag}/t"),
        };
        let rate = a.rate / a.publishers as f64;
        let (gate, ready, start, shared) =
            (gate.clone(), ready.clone(), start.clone(), shared.clone());
        pub_tasks.push(pool.spawn_pinned(move || async move {
            let permit = gate.acquire_owned().await.expect("never closed");
            let mqtt = match timeout(CONNECT_LIMIT, client(port, &format!("load-p{i}-{tag}"))).await
            {
                Ok(Ok(mqtt)) => mqtt,
                Ok(Err(e)) => return Err(format!("publisher {i}: {e}")),
                Err(_) => return Err(format!("publisher {i}: no CONNACK within 10 s")),
            };
            drop(permit);
            ready.add_permits(1);
            let Some((_, deadline)) = started(start).await else { return Err("no start".into()) };
            publisher(mqtt, topic, count, rate, &a, &shared, deadline).await
        }));
    }
    all(a.publishers).await;
    let (cpu_broker, cpu_own) = (cpu_seconds(pid), own_cpu_seconds());
    let start = Instant::now();
    let _ = go.send(Some((start, start + a.timeout)));
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let (mut delivered, mut last, mut errors) = (0u64, None::<Instant>, Vec::new());
    for t in sub_tasks {
        match t.await {
            Ok(Ok(r)) => {
                delivered += r.got;
                last = last.max(r.last);
                let _ = latency.add(&r.latency);
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("subscriber task: {e}")),
        }
    }
    let mut published = 0;
    for t in pub_tasks {
        match t.await {
            Ok(Ok(n)) => published += n,
            Ok(Err(e)) => errors.push(format!("publisher: {e}")),
            Err(e) => errors.push(format!("publisher task: {e}")),
        }
    }
    let cpu_broker = cpu_seconds(pid) - cpu_broker;
    let cpu_own = own_cpu_seconds() - cpu_own;
    let secs = last.map_or(0.0, |l| (l - start).as_secs_f64());
    let rate = if secs > 0.0 { delivered as f64 / secs } else { 0.0 };
    let per_msg = |cpu: f64| if delivered > 0 { cpu * 1e6 / delivered as f64 } else { 0.0 };
    let q = |p: f64| if latency.is_empty() { 0 } else { latency.value_at_quantile(p) };
    let mut j = format!("{{\"mode\":\"{}\"", a.name);
    let _ = write!(
        j,
        ",\"qos\":{},\"publishers\":{},\"subscribers\":{},\"count\":{},\"size\":{},\"rate\":{},\
         \"published\":{published},\"delivered\":{delivered},\"expected\":{},\"seconds\":{secs:.3},\
         \"msgs_per_s\":{rate:.0},\"p50_us\":{},\"p99_us\":{},\"max_us\":{},\
         \"broker_cpu_s\":{cpu_broker:.2},\"broker_cpu_us_per_msg\":{:.2},\
         \"load_cpu_s\":{cpu_own:.2},\"load_cpu_us_per_msg\":{:.2}",
        u8::from(a.qos == Qos::AtLeastOnce),
        a.publishers,
        a.subscribers,
        a.count,
        a.size,
        a.rate,
        a.count * a.subscribers as u64,
        q(0.5),
        q(0.99),
        latency.max(),
        per_msg(cpu_broker),
        per_msg(cpu_own),
    );
    if !errors.is_empty() {
        let _ = write!(j, ",\"errors\":{:?}", errors.join("; "));
    }
    j.push('}');
    j
}
