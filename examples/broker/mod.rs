//! A small single-node MQTT broker built on `mqtt_ws::mqtt::server::Server`, shared by the
//! `broker` and `demo` examples and the broker tests.
//!
//! One thread per connection runs its `Server` session in the crate's blocking driver over the
//! connection's transport (TCP, or `ws::Stream` for MQTT over WebSocket); a second thread reads
//! the socket and hands bytes over a bounded channel, the same channel that brings messages
//! routed from other connections (see [`transport::Wire`]). Broker-wide state (sessions, the
//! subscription index, retained messages) sits behind one mutex. Good for local use, tests,
//! demos and gateways; production scale stays with EMQX or Mosquitto.
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
#![allow(dead_code)]

pub mod client;
pub mod transport;
pub mod tree;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::{NonZeroU16, NonZeroU32};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use mqtt_ws::io::{DriverError, Pump, blocking};
use mqtt_ws::mqtt::packet::{Publish, QosPid, RetainHandling, SubscriptionOptions};
use mqtt_ws::mqtt::properties::{Properties, PropertiesBuilder, Property, PropertyContext};
use mqtt_ws::mqtt::server::{
    self, Accept, Availability, Config, Event, MemoryStore, Server, Store as _, UsageError,
    WillAction,
};
use mqtt_ws::mqtt::topic::SharedSubscription;
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::handshake::{self, OriginPolicy, Reject};
use mqtt_ws::ws::stream::Stream;

use transport::{Wire, invalid, mqtt_ws_config};
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
/// Commands a connection's channel holds (received bytes and routed messages): routing never
/// waits for a connection; a message for a full channel is dropped and counted.
const CHANNEL: usize = MAX_QUEUED;
/// Receive Maximum each way.
const INFLIGHT: usize = 32;

type Session = Server<INFLIGHT, 16, 256>;
/// The session state the protocol machine keeps for a client between connections: QoS 2
/// identifiers awaiting PUBREL, and what each message in flight waits for.
type SessionStore = MemoryStore<INFLIGHT>;

/// A session in the blocking driver over transport `T`.
type Driver<'b, T> = blocking::Connection<'b, T, Session>;

/// How to run the broker.
#[derive(Clone, Debug, Default)]
pub struct Options {
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
    successor: Option<Sender<Handover>>,
}

/// What a connection thread receives: bytes from its socket, or from other connections.
pub(crate) enum Cmd {
    Input(Vec<u8>),
    Eof,
    Deliver(Delivery),
    /// A new connection took the session over; what was in flight goes to it.
    Takeover(Sender<Handover>),
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
    conn: Option<(u64, SyncSender<Cmd>)>,
    /// A will waiting for its Will Delay Interval, and when it is due [MQTT-3.1.3-9].
    will: Option<(StdInstant, Msg)>,
    /// Its subscriptions by filter as subscribed (`$share/g/f` included); the details are in
    /// [`State::subs`].
    subs: HashSet<String>,
    queue: VecDeque<Delivery>,
    /// The QoS 1 / 2 state the last connection left.
    carried: Carried,
    expiry: u32,
    offline_since: Option<StdInstant>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, SessionState>,
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

impl State {
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
        s.will.map(|(_, msg)| msg)
    }
}

/// The broker: shared state and listeners.
#[derive(Clone)]
pub struct Broker {
    state: Arc<Mutex<State>>,
    options: Arc<Options>,
    next_conn: Arc<AtomicU64>,
    connections: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
    epoch: StdInstant,
    stop: Arc<AtomicBool>,
}

/// Addresses the broker listens on.
#[derive(Clone, Copy, Debug)]
pub struct Running {
    pub tcp: Option<SocketAddr>,
    pub ws: Option<SocketAddr>,
}

impl Broker {
    pub fn new(options: Options) -> Self {
        Broker {
            state: Arc::default(),
            options: Arc::new(options),
            next_conn: Arc::new(AtomicU64::new(1)),
            connections: Arc::default(),
            dropped: Arc::default(),
            epoch: StdInstant::now(),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.epoch.elapsed().as_millis() as u64)
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

    /// Binds the listeners and serves them on background threads.
    pub fn start(&self, tcp: Option<&str>, ws: Option<&str>) -> io::Result<Running> {
        let mut running = Running { tcp: None, ws: None };
        if let Some(addr) = tcp {
            let l = TcpListener::bind(addr)?;
            running.tcp = Some(l.local_addr()?);
            let b = self.clone();
            thread::Builder::new().spawn(move || b.accept_loop(l, false))?;
        }
        if let Some(addr) = ws {
            let l = TcpListener::bind(addr)?;
            let local = l.local_addr()?;
            running.ws = Some(local);
            let mut b = self.clone();
            if b.options.allowed_origins.is_empty() {
                let mut o = (*b.options).clone();
                let port = local.port();
                o.allowed_origins = vec![
                    format!("http://{local}"),
                    format!("http://localhost:{port}"),
                    format!("http://127.0.0.1:{port}"),
                ];
                b.options = Arc::new(o);
            }
            thread::Builder::new().spawn(move || b.accept_loop(l, true))?;
        }
        let b = self.clone();
        thread::Builder::new().spawn(move || b.expiry_loop())?;
        Ok(running)
    }

    fn accept_loop(self, listener: TcpListener, ws: bool) {
        for stream in listener.incoming() {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let Ok(tcp) = stream else { continue };
            let _ = tcp.set_nodelay(true);
            let b = self.clone();
            let spawned = thread::Builder::new().spawn(move || {
                b.connections.fetch_add(1, Ordering::Relaxed);
                let result = b.serve(tcp, ws);
                b.connections.fetch_sub(1, Ordering::Relaxed);
                if let Err(e) = result {
                    b.log(|| format!("connection ended: {e}"));
                }
            });
            // Out of threads: this connection is refused (its socket closes), others go on.
            if let Err(e) = spawned {
                println!("broker: connection refused: {e}");
            }
        }
    }

    /// The broker's one timer: publishes delayed wills that are due and drops sessions whose
    /// expiry interval ran out (MQTT 5.0 §4.1).
    fn expiry_loop(self) {
        while !self.stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(250));
            let now = StdInstant::now();
            let due: Vec<Msg> = {
                let mut st = self.lock();
                st.sessions
                    .values_mut()
                    .filter(|s| s.will.as_ref().is_some_and(|(at, _)| *at <= now))
                    .filter_map(|s| s.will.take().map(|(_, msg)| msg))
                    .collect()
            };
            for msg in due {
                self.publish(msg);
            }
            let mut st = self.lock();
            let expired: Vec<String> = st
                .sessions
                .iter()
                .filter(|(_, s)| match s.offline_since {
                    Some(t) if s.expiry != u32::MAX => {
                        t.elapsed() >= Duration::from_secs(s.expiry.into())
                    }
                    _ => false,
                })
                .map(|(c, _)| c.clone())
                .collect();
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

    /// Serves one accepted socket: MQTT over TCP, or (on the WebSocket listener) the opening
    /// handshake on `/mqtt` then MQTT over WebSocket, or the browser page.
    fn serve(&self, tcp: TcpStream, ws: bool) -> io::Result<()> {
        // The WebSocket upgrade and CONNECT must both be done by then.
        let deadline = StdInstant::now() + self.options.connect_timeout.unwrap_or(CONNECT_TIMEOUT);
        tcp.set_write_timeout(Some(self.options.write_timeout.unwrap_or(WRITE_TIMEOUT)))?;
        let (tx, rx) = mpsc::sync_channel(CHANNEL);
        let mut reader = tcp.try_clone()?;
        let reader_tx = tx.clone();
        thread::Builder::new().spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = reader_tx.send(Cmd::Eof);
                        return;
                    }
                    Ok(n) => {
                        // Waits while the connection is behind: the socket is read no faster
                        // than the session takes its bytes.
                        if reader_tx.send(Cmd::Input(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
        let closer = tcp.try_clone()?;
        let wire = Wire::new(rx, tcp);
        let result = if ws {
            self.serve_http(wire, tx, deadline)
        } else {
            self.run_connection(wire, tx, deadline, |w| w, close_tcp)
        };
        // However it ended (a refused upgrade, a deadline), the socket closes and its reader
        // thread ends with it.
        let _ = closer.shutdown(std::net::Shutdown::Both);
        result
    }

    /// The WebSocket listener: the opening handshake on `/mqtt`, or the browser page.
    fn serve_http(
        &self,
        mut wire: Wire,
        tx: SyncSender<Cmd>,
        deadline: StdInstant,
    ) -> io::Result<()> {
        // A browser asking for the page sends a plain GET: look at the head first.
        let head = read_head(&mut wire, deadline)?;
        if !contains_ci(&head, b"\nupgrade:") {
            return self.serve_page(wire.tcp(), &head);
        }
        let (mut rx, mut txb) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
        rx[..head.len()].copy_from_slice(&head);
        let left = deadline.saturating_duration_since(StdInstant::now());
        let hs = handshake::Server::default().with_deadline(self.now() + left);
        let pump = Pump::with_input(hs, &mut rx, 0..head.len(), &mut txb);
        let mut conn = blocking::Connection::from_pump(wire, pump);
        let allowed: Vec<&str> = self.options.allowed_origins.iter().map(String::as_str).collect();
        let policy = OriginPolicy::allow_list(&allowed);
        let accepted = conn.handshake(
            || self.now(),
            |req| {
                if req.path().split('?').next() != Some("/mqtt") {
                    return Err(Reject::NotFound);
                }
                if let Err(e) = req.check_origin(&policy) {
                    self.log(|| format!("refused origin {:?}", req.origin()));
                    return Err(e.reject());
                }
                // MQTT over WebSocket: the "mqtt" subprotocol (MQTT 5.0 §6.0).
                req.accept(req.select_protocol(&["mqtt"])).map_err(|_| Reject::BadRequest)
            },
        );
        if !accepted.map_err(invalid)? {
            return Ok(());
        }
        let stream = conn.upgrade(mqtt_ws_config()).into_stream().map_err(invalid)?;
        self.run_connection(stream, tx, deadline, |s| s.transport(), close_ws)
    }

    fn serve_page(&self, tcp: &mut TcpStream, head: &[u8]) -> io::Result<()> {
        if !head.windows(4).any(|w| w == b"\r\n\r\n") {
            return http_reply(tcp, "400 Bad Request", "text/plain", b"bad request\n");
        }
        let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        if method != "GET" {
            return http_reply(tcp, "405 Method Not Allowed", "text/plain", b"GET only\n");
        }
        match path {
            "/" | "/index.html" => http_reply(
                tcp,
                "200 OK",
                "text/html; charset=utf-8",
                include_bytes!("../web/index.html"),
            ),
            "/mqtt.min.js" => match self.options.mqttjs.as_ref().map(std::fs::read) {
                Some(Ok(js)) => http_reply(tcp, "200 OK", "text/javascript", &js),
                _ => http_reply(
                    tcp,
                    "404 Not Found",
                    "text/plain",
                    b"mqtt.min.js not found: run `npm install mqtt` and pass --mqttjs\n",
                ),
            },
            "/favicon.ico" => http_reply(tcp, "204 No Content", "image/x-icon", b""),
            _ => http_reply(tcp, "404 Not Found", "text/plain", b"not found\n"),
        }
    }

    /// Runs one MQTT connection to its end over `transport`; `wire` finds the connection's
    /// [`Wire`] in it, `close` ends the link.
    fn run_connection<T>(
        &self,
        transport: T,
        tx: SyncSender<Cmd>,
        deadline: StdInstant,
        wire: fn(&mut T) -> &mut Wire,
        close: fn(&mut T, CloseCode),
    ) -> io::Result<()>
    where
        T: embedded_io::Read + embedded_io::Write,
        T::Error: std::fmt::Debug,
    {
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        // A whole packet of the largest size fits each way (pages are touched only when used).
        let mut rx = vec![0u8; MAX_PACKET as usize];
        let mut txb = vec![0u8; MAX_PACKET as usize + 4096];
        let left = deadline.saturating_duration_since(StdInstant::now());
        let session = Session::new(server_config(left), self.now());
        let mut conn = blocking::Connection::new(transport, session, &mut rx, &mut txb);
        let mut c = Conn {
            broker: self.clone(),
            id: conn_id,
            tx,
            client_id: None,
            will: None,
            expiry: 0,
            pending: VecDeque::new(),
            inflight: HashMap::new(),
            successor: None,
        };
        let result = c.run(&mut conn, wire);
        c.finish(&mut conn, wire, close, result.is_ok());
        result
    }

    /// A new connection for `client_id`: takes over a connected session, resumes or starts
    /// one. Returns (session present, messages to send again, queued messages).
    fn connect_session(
        &self,
        client_id: &str,
        conn: (u64, SyncSender<Cmd>),
        clean_start: bool,
        expiry: u32,
    ) -> (bool, Carried, Vec<Delivery>) {
        let old = self.lock().sessions.get_mut(client_id).and_then(|s| s.conn.take());
        let successor = old.map(|(_, old_tx)| {
            // [MQTT-3.1.4-3] the existing connection of this Client Identifier is closed (the
            // send waits while its channel is full, without the lock it may need to drain it),
            let (tx, rx) = mpsc::channel();
            let _ = old_tx.send(Cmd::Takeover(tx));
            rx
        });
        // and hands over what it had in flight (the lock is free meanwhile: it needs it to
        // leave), so that the messages go out again with their Packet Identifiers and a QoS 2
        // receiver recognises them [MQTT-4.3.3-9], [MQTT-4.4.0-1].
        let handed_over = successor.and_then(|rx| rx.recv_timeout(Duration::from_secs(2)).ok());
        let mut st = self.lock();
        let ended_will = if clean_start { st.drop_session(client_id) } else { None };
        let present = st.sessions.contains_key(client_id);
        let s = st.sessions.entry(client_id.to_owned()).or_insert_with(|| SessionState {
            conn: None,
            will: None,
            subs: HashSet::new(),
            queue: VecDeque::new(),
            carried: Carried::default(),
            expiry,
            offline_since: None,
        });
        s.conn = Some(conn);
        // Back before the will's delay ran out: it is not published [MQTT-3.1.3-9].
        s.will = None;
        s.expiry = expiry;
        s.offline_since = None;
        // Clean Start discards the old session, what was in flight included [MQTT-3.1.2-4].
        // A live connection's state is newer than what an earlier one left.
        let left = std::mem::take(&mut s.carried);
        let carried = match handed_over {
            Some(h) => h,
            None => left,
        };
        let queued = s.queue.drain(..).collect();
        drop(st);
        if let Some(will) = ended_will {
            self.publish(will);
        }
        (present, carried, queued)
    }

    /// The connection `leaving.conn_id` of `client_id` ended: keep or drop the session.
    fn disconnect_session(&self, client_id: &str, leaving: Leaving, wire: &mut Wire) {
        let Leaving { conn_id, expiry, carried, mut pending, mut successor } = leaving;
        let mut st = self.lock();
        // Messages routed to this connection after it stopped reading, and a takeover that
        // arrived meanwhile (its new connection waits for the session); none can follow while
        // the lock is held and the session no longer points here.
        for cmd in wire.drain() {
            match cmd {
                Cmd::Deliver(d) => pending.push(d),
                Cmd::Takeover(tx) => successor = Some(tx),
                Cmd::Input(_) | Cmd::Eof => {}
            }
        }
        let Some(s) = st.sessions.get_mut(client_id) else { return };
        let current = s.conn.as_ref().is_some_and(|(id, _)| *id == conn_id);
        if current {
            s.conn = None;
            s.expiry = expiry;
            if expiry == 0 {
                // Online until now: no will was waiting.
                let _ = st.drop_session(client_id);
                return;
            }
            s.offline_since = Some(StdInstant::now());
            s.carried = carried;
        } else {
            // Taken over: what was in flight goes to the new connection, to be sent again with
            // its Packet Identifiers; if that connection is gone too, to the queue.
            let unsent = match successor {
                Some(tx) => tx.send(carried).err().map(|e| e.0),
                None => Some(carried),
            };
            // Nobody waits for it: the session keeps it for its next connection.
            if let Some(c) = unsent {
                if s.carried.inflight.is_empty() && s.carried.store == SessionStore::default() {
                    s.carried = c;
                } else {
                    s.queue.extend(c.inflight.into_iter().map(|(_, d)| d));
                }
            }
        }
        let mut dropped = 0;
        for d in pending.into_iter().filter(|d| d.msg.qos != Qos::AtMostOnce) {
            if s.queue.len() < MAX_QUEUED {
                s.queue.push_back(d);
            } else {
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
            st.retained.retain(&msg.topic, |_| false);
            if !msg.payload.is_empty() {
                st.retained.entry(&msg.topic).push(msg.clone());
                st.retained.added(1);
            }
        }
        let mut shared: BTreeMap<(String, String), Vec<SharedMember>> = BTreeMap::new();
        // One delivery per client, however many of its subscriptions match.
        let mut best: HashMap<Arc<str>, Delivery> = HashMap::new();
        let State { sessions, subs, .. } = &*st;
        subs.filters_matching(&msg.topic, |e| {
            let sub = &e.sub;
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
                Delivery { msg: m, sub_ids: Vec::new() }
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
                .filter(|(c, ..)| st.sessions.get(c).is_some_and(|s| s.conn.is_some()))
                .collect();
            let pool = if online.is_empty() { members.iter().collect() } else { online };
            let n = st.round_robin.entry(key).or_insert(0);
            let (c, qos, id) = pool[*n % pool.len()];
            *n = n.wrapping_add(1);
            let mut m = msg.clone();
            m.qos = msg.qos.min(*qos);
            m.retain = false;
            deliveries
                .push((c.clone(), Delivery { msg: m, sub_ids: id.iter().copied().collect() }));
        }
        for (client_id, d) in deliveries {
            let Some(s) = st.sessions.get_mut(&client_id) else { continue };
            match &s.conn {
                Some((_, tx)) => {
                    if let Err(TrySendError::Full(_)) = tx.try_send(Cmd::Deliver(d)) {
                        self.drop_message(&client_id);
                    }
                }
                // Offline: QoS 1 and 2 are queued, up to the bound (MQTT 5.0 §4.1); expired
                // messages make room first [MQTT-3.3.2-5].
                None if d.msg.qos != Qos::AtMostOnce => {
                    if s.queue.len() >= MAX_QUEUED {
                        let now = StdInstant::now();
                        s.queue.retain(|q| !q.msg.expired(now));
                    }
                    if s.queue.len() < MAX_QUEUED {
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
        let client: Arc<str> = client_id.into();
        let now = StdInstant::now();
        for sub in subs {
            // [MQTT-3.8.4-3] a subscription with the same filter replaces the old one.
            let existed = st.unindex(client_id, &sub.full);
            if let Some(s) = st.sessions.get_mut(client_id) {
                s.subs.insert(sub.full.clone());
            }
            let send = match sub.options.retain_handling {
                RetainHandling::SendOnSubscribe => true,
                RetainHandling::SendIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
            // Retained messages are not sent to shared subscriptions (MQTT 5.0 §4.8.2).
            if send && sub.group.is_none() {
                st.retained.names_matching(&sub.filter, |m| {
                    // [MQTT-3.3.2-5] an expired retained message is not sent.
                    if m.expired(now) {
                        return;
                    }
                    let mut m = m.clone();
                    m.qos = m.qos.min(sub.options.qos);
                    // [MQTT-3.3.1-9] retained messages sent on subscribe keep Retain 1.
                    m.retain = true;
                    retained.push(Delivery { msg: m, sub_ids: sub.id.into_iter().collect() });
                });
            }
            st.subs.entry(&sub.filter.clone()).push(Subscribed { client: client.clone(), sub });
            st.subs.added(1);
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
                if held && st.unindex(client_id, f) {
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                }
            })
            .collect()
    }

    /// What the broker holds now.
    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.connections.load(Ordering::Relaxed),
            sessions: self.lock().sessions.len(),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Hands `d` to the connection behind `tx` without waiting: a full channel drops it.
    fn route(&self, client_id: &str, tx: &SyncSender<Cmd>, d: Delivery) {
        if let Err(TrySendError::Full(_)) = tx.try_send(Cmd::Deliver(d)) {
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

/// The session's limits; `connect_timeout` is what is left of the connection's deadline.
fn server_config(connect_timeout: Duration) -> Config {
    let mut c = Config::new();
    c.connect_timeout = mqtt_ws::time::Duration::from_millis(connect_timeout.as_millis() as u64);
    c.max_packet_size = MAX_PACKET;
    c.topic_alias_maximum = 16;
    c.max_keep_alive = NonZeroU16::new(3600);
    c.retain = Availability::Available;
    c
}

fn link_err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

/// Reads a request head (up to the blank line that ends it, at most 8 KiB) from `wire`, by
/// `deadline` however slowly the bytes come.
fn read_head(wire: &mut Wire, deadline: StdInstant) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    wire.wake_at = Some(deadline);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        if StdInstant::now() >= deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match embedded_io::Read::read(wire, &mut chunk) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(head)
}

fn close_tcp(wire: &mut Wire, _: CloseCode) {
    let _ = wire.tcp().shutdown(std::net::Shutdown::Both);
}

/// The WebSocket closing handshake with `code` (if the peer did not start it), then the TCP
/// shutdown.
fn close_ws(stream: &mut Stream<'_, Wire>, code: CloseCode) {
    stream.transport().wake_at = Some(StdInstant::now() + Duration::from_millis(200));
    let _ = stream.close(code);
    close_tcp(stream.transport(), code);
}

/// The WebSocket close code for how the MQTT session ended: 1002 after the client broke the
/// protocol, 1008 when it was refused or timed out, 1001 when the server goes away or the
/// session moved to another connection, 1000 otherwise (RFC 6455 §7.4.1).
fn ws_close_code(closed: Option<server::Closed>) -> CloseCode {
    let Some(c) = closed.filter(|c| c.initiator == server::Initiator::Server) else {
        return CloseCode::Normal;
    };
    match c.reason_code {
        ReasonCode::ServerShuttingDown | ReasonCode::SessionTakenOver => CloseCode::GoingAway,
        ReasonCode::MalformedPacket
        | ReasonCode::ProtocolError
        | ReasonCode::TopicAliasInvalid
        | ReasonCode::ReceiveMaximumExceeded
        | ReasonCode::PacketTooLarge
        | ReasonCode::UnsupportedProtocolVersion => CloseCode::ProtocolError,
        code if code.is_error() => CloseCode::PolicyViolation,
        _ => CloseCode::Normal,
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn http_reply(tcp: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes())?;
    tcp.write_all(body)
}

/// The properties of an incoming PUBLISH that travel to subscribers (MQTT 5.0 §3.3.2.3): all but
/// Topic Alias and Subscription Identifier.
fn forwarded_props(p: &Properties<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; p.as_bytes().len()];
    let mut b = PropertiesBuilder::new(&mut buf);
    for prop in p.iter() {
        if !matches!(prop, Property::TopicAlias(_) | Property::SubscriptionIdentifier(_)) {
            let _ = b.push(prop);
        }
    }
    let n = b.len();
    buf.truncate(n);
    buf
}

/// The will of a CONNECT, kept until the connection ends.
struct Will {
    msg: Msg,
    delay: u32,
}

struct Conn {
    broker: Broker,
    id: u64,
    tx: SyncSender<Cmd>,
    client_id: Option<String>,
    will: Option<Will>,
    expiry: u32,
    /// Deliveries waiting for the client's Receive Maximum.
    pending: VecDeque<Delivery>,
    /// Sent QoS 1 / 2 deliveries by packet identifier.
    inflight: HashMap<PacketId, Delivery>,
    /// Set when taken over: where `inflight` goes when this connection ends.
    successor: Option<Sender<Handover>>,
}

/// What an event asks of the connection, owned so the event's borrow can end.
enum Action {
    None,
    Connect {
        client_id: String,
        /// The broker chose the Client Identifier (the CONNECT's was empty).
        assigned: bool,
        clean_start: bool,
        expiry: u32,
        will: Option<Will>,
        auth: bool,
    },
    Publish(Msg, Option<PacketId>),
    Subscribe(PacketId, Vec<Result<Sub, ReasonCode>>),
    Unsubscribe(PacketId, Vec<String>),
    Acked(PacketId),
    Disconnect(Option<u32>),
}

impl Conn {
    /// Runs the session: its events, the messages routed to it, until the connection ends.
    fn run<T>(&mut self, conn: &mut Driver<'_, T>, wire: fn(&mut T) -> &mut Wire) -> io::Result<()>
    where
        T: embedded_io::Read + embedded_io::Write,
        T::Error: std::fmt::Debug,
    {
        loop {
            let wake_at = conn.poll_timeout().map(|t| self.broker.std_instant(t));
            wire(conn.transport()).wake_at = wake_at;
            let action = match conn.poll(self.broker.now()) {
                Ok(event) => action(self.id, event),
                Err(DriverError::Closed | DriverError::Eof) => return Ok(()),
                Err(DriverError::Machine(e)) => {
                    // The CONNACK or DISCONNECT the fault calls for went out first.
                    self.broker.log(|| format!("client {}: {e}", self.id));
                    return Ok(());
                }
                Err(e) => return Err(invalid(e)),
            };
            self.act(conn, action)?;
            while let Some(cmd) = wire(conn.transport()).routed.pop_front() {
                match cmd {
                    Cmd::Deliver(d) if self.pending.len() < MAX_QUEUED => self.pending.push_back(d),
                    Cmd::Deliver(_) => {
                        let client = self.client_id.as_deref().unwrap_or_default();
                        self.broker.drop_message(client);
                    }
                    Cmd::Takeover(successor) => {
                        // [MQTT-3.1.4-3] DISCONNECT 0x8E to the old connection, will published.
                        let _ = conn.machine_mut().disconnect(ReasonCode::SessionTakenOver);
                        self.successor = Some(successor);
                    }
                    Cmd::Input(_) | Cmd::Eof => {}
                }
            }
            self.send_pending(conn)?;
        }
    }
}

fn action(conn_id: u64, event: Option<Event<'_, 256>>) -> Action {
    match event {
        None => Action::None,
        Some(Event::Connect(c)) => {
            // An identifier nobody can guess, so nobody can take the session over.
            let assigned = c.client_id.is_empty();
            let client_id = if assigned {
                let bytes: [u8; 16] = mqtt_ws::net::random().unwrap_or_else(|_| {
                    // No OS randomness: still unique, though not secret.
                    let mut b = [0u8; 16];
                    b[..8].copy_from_slice(&conn_id.to_be_bytes());
                    b
                });
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                format!("auto-{hex}")
            } else {
                c.client_id.to_owned()
            };
            let expiry = match c.version {
                // 3.1.1: Clean Session 0 keeps the session "forever" (no expiry in 3.1.1).
                Version::V3_1_1 if !c.clean_start => u32::MAX,
                Version::V3_1_1 => 0,
                Version::V5 => c.properties.session_expiry_interval().unwrap_or(0),
            };
            let will = c.will.as_ref().map(|w| Will {
                msg: Msg {
                    topic: w.topic.into(),
                    payload: w.payload.into(),
                    qos: w.qos,
                    retain: w.retain,
                    props: forwarded_will_props(&w.properties).into(),
                    from: conn_id,
                    expires: None,
                },
                delay: w.properties.will_delay_interval().unwrap_or(0),
            });
            Action::Connect {
                client_id,
                assigned,
                clean_start: c.clean_start,
                expiry,
                will,
                auth: c.properties.authentication_method().is_some(),
            }
        }
        Some(Event::Publish(p)) => Action::Publish(
            Msg {
                topic: p.topic.as_str().into(),
                payload: p.payload.into(),
                qos: p.qos,
                retain: p.retain,
                props: forwarded_props(&p.properties).into(),
                from: conn_id,
                expires: None,
            },
            p.packet_id,
        ),
        Some(Event::Subscribe(s)) => {
            let id = s.properties.subscription_identifiers().next();
            let subs = s
                .filters
                .iter()
                .map(|f| {
                    let (group, filter) = match SharedSubscription::parse(f.filter) {
                        Ok(Some(sh)) => (Some(sh.group.to_owned()), sh.filter.to_owned()),
                        Ok(None) => (None, f.filter.to_owned()),
                        Err(_) => return Err(ReasonCode::TopicFilterInvalid),
                    };
                    Ok(Sub { full: f.filter.to_owned(), filter, group, options: f.options, id })
                })
                .collect();
            Action::Subscribe(s.packet_id, subs)
        }
        Some(Event::Unsubscribe(u)) => {
            Action::Unsubscribe(u.packet_id, u.filters.iter().map(str::to_owned).collect())
        }
        Some(Event::Acknowledged { packet_id, .. }) => Action::Acked(packet_id),
        Some(Event::Disconnect(d)) => Action::Disconnect(d.properties.session_expiry_interval()),
        Some(Event::Auth(_)) => Action::None,
    }
}

impl Conn {
    fn act<T>(&mut self, conn: &mut Driver<'_, T>, action: Action) -> io::Result<()>
    where
        T: embedded_io::Read + embedded_io::Write,
        T::Error: std::fmt::Debug,
    {
        let now = self.broker.now();
        match action {
            Action::None => {}
            Action::Connect { client_id, assigned, clean_start, expiry, will, auth } => {
                if auth {
                    // No enhanced authentication methods here (MQTT 5.0 §4.12).
                    return conn.reject(now, ReasonCode::BadAuthenticationMethod).map_err(invalid);
                }
                let (present, carried, queued) = self.broker.connect_session(
                    &client_id,
                    (self.id, self.tx.clone()),
                    clean_start,
                    expiry,
                );
                let version = conn.session().version();
                self.broker.log(|| {
                    format!("{client_id} connected ({version:?}, session present: {present})")
                });
                let assigned = (version == Version::V5 && assigned).then_some(client_id.as_str());
                let accept = Accept {
                    session_present: present,
                    assigned_client_id: assigned,
                    ..Accept::default()
                };
                // The kept session's state first: Accept with Session Present keeps it (and
                // sends the PUBRELs it owes), without it the store starts empty.
                *conn.machine_mut().store_mut() = carried.store;
                conn.accept(now, &accept).map_err(invalid)?;
                self.client_id = Some(client_id);
                self.will = will;
                self.expiry = expiry;
                let mut copies: HashMap<PacketId, Delivery> =
                    carried.inflight.into_iter().collect();
                if present {
                    let again: Vec<PacketId> = conn.session().to_resend().collect();
                    for id in again {
                        match copies.remove(&id) {
                            Some(d) => self.resend(conn, id, d)?,
                            None => {
                                conn.machine_mut().store_mut().remove_outgoing(id);
                            }
                        }
                    }
                    // Those waiting for PUBCOMP: kept until it arrives.
                    self.inflight.extend(copies);
                }
                self.pending.extend(queued);
            }
            // Topics starting with `$` are the server's (MQTT 5.0 §4.7.2): refused, not routed
            // nor retained.
            Action::Publish(msg, id) if msg.topic.starts_with('$') => {
                let client = self.client_id.as_deref().unwrap_or_default();
                println!("broker: {client} may not publish to {}", msg.topic);
                if let Some(id) = id {
                    let _ = conn.machine_mut().refuse_publish(id, ReasonCode::NotAuthorized);
                }
            }
            Action::Publish(msg, _) => self.broker.publish(msg),
            Action::Subscribe(packet_id, subs) => {
                let client_id = self.client_id.clone().unwrap_or_default();
                let codes: Vec<ReasonCode> = subs
                    .iter()
                    .map(|s| match s {
                        Ok(sub) => ReasonCode::granted(sub.options.qos),
                        Err(code) => *code,
                    })
                    .collect();
                let ok: Vec<Sub> = subs.into_iter().filter_map(Result::ok).collect();
                self.broker.log(|| {
                    format!(
                        "{client_id} subscribed to {:?}",
                        ok.iter().map(|s| &s.full).collect::<Vec<_>>()
                    )
                });
                // SUBACK first: a SUBACK the client cannot take (larger than its Maximum Packet
                // Size) ends the connection with nothing stored.
                conn.sub_ack(now, packet_id, &codes).map_err(invalid)?;
                let retained = self.broker.subscribe(&client_id, ok);
                self.pending.extend(retained);
            }
            Action::Unsubscribe(packet_id, filters) => {
                let client_id = self.client_id.clone().unwrap_or_default();
                let codes = self.broker.unsubscribe(&client_id, &filters);
                conn.unsub_ack(now, packet_id, &codes).map_err(invalid)?;
            }
            Action::Acked(id) => {
                self.inflight.remove(&id);
            }
            Action::Disconnect(expiry) => {
                if let Some(e) = expiry {
                    self.expiry = e;
                }
            }
        }
        Ok(())
    }

    fn publish_packet<'a>(d: &'a Delivery, props_buf: &'a mut Vec<u8>) -> Publish<'a> {
        let mut p = Publish::new(&d.msg.topic, &d.msg.payload);
        p.retain = d.msg.retain;
        let one = PacketId::new(1).expect("1 is not 0");
        p.qos_pid = match d.msg.qos {
            Qos::AtMostOnce => QosPid::AtMostOnce,
            Qos::AtLeastOnce => QosPid::AtLeastOnce(one),
            Qos::ExactlyOnce => QosPid::ExactlyOnce(one),
        };
        props_buf.resize(d.msg.props.len() + 5 * d.sub_ids.len(), 0);
        let mut b = PropertiesBuilder::new(props_buf);
        if let Ok(stored) = Properties::parse(&d.msg.props, PropertyContext::Publish) {
            for prop in stored.iter() {
                let prop = match (prop, d.msg.expires) {
                    // [MQTT-3.3.2-6] the time left, in whole seconds (rounded up: a message
                    // still deliverable never says 0).
                    (Property::MessageExpiryInterval(_), Some(t)) => {
                        let left = t.saturating_duration_since(StdInstant::now());
                        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                        Property::MessageExpiryInterval(secs.clamp(1, u64::from(u32::MAX)) as u32)
                    }
                    (other, _) => other,
                };
                let _ = b.push(prop);
            }
        }
        for id in &d.sub_ids {
            let _ = b.push(Property::SubscriptionIdentifier(*id));
        }
        p.properties = b.finish();
        p
    }

    /// Sends the messages routed to this connection, as far as the client's Receive Maximum
    /// lets them go.
    fn send_pending<T>(&mut self, conn: &mut Driver<'_, T>) -> io::Result<()>
    where
        T: embedded_io::Read + embedded_io::Write,
        T::Error: std::fmt::Debug,
    {
        if !conn.session().is_connected() {
            return Ok(());
        }
        let mut props = Vec::new();
        while let Some(d) = self.pending.front() {
            if d.msg.qos != Qos::AtMostOnce && conn.session().send_quota() == 0 {
                break;
            }
            let d = self.pending.pop_front().expect("front exists");
            // [MQTT-3.3.2-5] expired before onward delivery started: deleted.
            if d.msg.expired(StdInstant::now()) {
                continue;
            }
            let p = Self::publish_packet(&d, &mut props);
            match conn.publish(self.broker.now(), &p) {
                Ok(sent) => {
                    if let Some(id) = sent.packet_id {
                        self.inflight.insert(id, d);
                    }
                }
                // [MQTT-3.1.2-25] too large for the client: discarded.
                Err(DriverError::Machine(server::Error::Usage(UsageError::PacketTooLarge {
                    ..
                }))) => {}
                Err(e) => return Err(invalid(e)),
            }
        }
        Ok(())
    }

    fn resend<T>(&mut self, conn: &mut Driver<'_, T>, id: PacketId, d: Delivery) -> io::Result<()>
    where
        T: embedded_io::Read + embedded_io::Write,
        T::Error: std::fmt::Debug,
    {
        let mut props = Vec::new();
        let p = Self::publish_packet(&d, &mut props);
        match conn.republish(self.broker.now(), id, &p) {
            Ok(()) => {
                self.inflight.insert(id, d);
            }
            Err(DriverError::Machine(_)) => {
                // Not deliverable on this connection as it was (too large for the client now):
                // it leaves the session's flow and is queued as a new message.
                conn.machine_mut().store_mut().remove_outgoing(id);
                self.pending.push_back(d);
            }
            Err(e) => return Err(invalid(e)),
        }
        Ok(())
    }

    /// After the session closed: the link, the will, the session's fate.
    fn finish<T>(
        &mut self,
        conn: &mut Driver<'_, T>,
        wire: fn(&mut T) -> &mut Wire,
        close: fn(&mut T, CloseCode),
        link_ok: bool,
    ) where
        T: embedded_io::Read + embedded_io::Write,
    {
        // After a failed (or timed-out) write, nothing more is sent.
        if link_ok {
            let _ = conn.flush(self.broker.now());
        }
        let closed = conn.session().closed();
        close(conn.transport(), ws_close_code(closed));
        let Some(client_id) = self.client_id.take() else {
            // Never connected, or taken over: the will (if due) is still published.
            if let (Some(will), Some(c)) = (self.will.take(), closed)
                && c.will == WillAction::Publish
            {
                self.broker.publish(will.msg);
            }
            return;
        };
        self.broker.log(|| format!("{client_id} disconnected: {closed:?}"));
        let leaving = Leaving {
            conn_id: self.id,
            expiry: self.expiry,
            carried: Carried {
                store: std::mem::take(conn.machine_mut().store_mut()),
                inflight: self.inflight.drain().collect(),
            },
            pending: self.pending.drain(..).collect(),
            successor: self.successor.take(),
        };
        self.broker.disconnect_session(&client_id, leaving, wire(conn.transport()));
        let Some(will) = self.will.take() else { return };
        if closed.is_none_or(|c| c.will != WillAction::Publish) {
            return;
        }
        // [MQTT-3.1.3-9] the will waits for its delay (or the session's end, if sooner) and is
        // dropped if the client reconnects first.
        let delay = will.delay.min(self.expiry);
        if delay == 0 {
            self.broker.publish(will.msg);
            return;
        }
        // The broker's timer publishes it when due, unless a connection takes the session first.
        let due = StdInstant::now() + Duration::from_secs(delay.into());
        let mut st = self.broker.lock();
        match st.sessions.get_mut(&client_id) {
            Some(s) if s.conn.is_none() => s.will = Some((due, will.msg)),
            // Already back on a new connection: not published [MQTT-3.1.3-9].
            Some(_) => {}
            None => {
                drop(st);
                self.broker.publish(will.msg);
            }
        }
    }
}

fn forwarded_will_props(p: &Properties<'_>) -> Vec<u8> {
    // Will properties travel like PUBLISH properties, without Will Delay Interval.
    let mut buf = vec![0u8; p.as_bytes().len()];
    let mut b = PropertiesBuilder::new(&mut buf);
    for prop in p.iter() {
        if !matches!(prop, Property::WillDelayInterval(_)) {
            let _ = b.push(prop);
        }
    }
    let n = b.len();
    buf.truncate(n);
    buf
}
