//! The MQTT client against a real Mosquitto broker, over TCP and over WebSocket (`ws::Stream`).
//!
//! `#[ignore]`d: run through `scripts/broker`, which starts Mosquitto and passes its ports in
//! `MQTT_TCP_PORT` and `MQTT_WS_PORT`:
//! `scripts/broker cargo test --all-features --test broker_mosquitto -- --ignored`.
#![cfg(all(feature = "mqtt", feature = "std", feature = "ws"))]

use std::net::TcpStream;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use mqtt_ws::io::blocking;
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::io::{DriverError, StdIo};
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Event, Outgoing, Sent, SliceStore, request_properties,
    response_to,
};
use mqtt_ws::mqtt::packet::{Subscription, SubscriptionOptions, Will};
use mqtt_ws::mqtt::properties::{Properties, PropertiesBuilder, Property};
use mqtt_ws::mqtt::{Qos, ReasonCode, Version};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::Config as WsConfig;
use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};
use mqtt_ws::ws::stream::Stream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Ws,
}

type Keys = Box<dyn FnMut() -> [u8; 4] + Send>;
type Store = SliceStore<'static, 64, Vec<u8>>;
type TcpConn = Connection<'static, StdIo<TcpStream>, Client<Store>, Vec<u8>>;
type WsStream = Stream<'static, StdIo<TcpStream>, Keys, Vec<u8>>;
type WsConn = Connection<'static, WsStream, Client<Store>, Vec<u8>>;

enum Link {
    Tcp(Box<TcpConn>),
    Ws(Box<WsConn>),
}

/// What the client reported, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Connected(bool),
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: Qos,
        retain: bool,
        user: Vec<(String, String)>,
        response_topic: Option<String>,
        correlation: Option<Vec<u8>>,
        sub_ids: Vec<u32>,
    },
    Published(u16, ReasonCode),
    Subscribed(Vec<ReasonCode>),
    Other(String),
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Connected(c) => Ev::Connected(c.session_present),
        Event::Message(m) => Ev::Message {
            topic: m.topic.to_string(),
            payload: m.payload.into(),
            qos: m.qos,
            retain: m.retain,
            user: m.properties.user_properties().map(|(k, v)| (k.into(), v.into())).collect(),
            response_topic: m.response_topic().map(String::from),
            correlation: m.correlation_data().map(Vec::from),
            sub_ids: m.subscription_identifiers().map(|i| i.get()).collect(),
        },
        Event::Published { packet_id, reason_code: reason, .. } => {
            Ev::Published(packet_id.get(), reason)
        }
        Event::Subscribed { reason_codes, .. } => Ev::Subscribed(reason_codes.iter().collect()),
        other => Ev::Other(format!("{other:?}")),
    }
}

fn buf(n: usize) -> Vec<u8> {
    vec![0u8; n]
}

fn port(var: &str) -> u16 {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run through scripts/broker"))
        .parse()
        .unwrap()
}

fn clock() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(StdInstant::now);
    Instant::from_millis(start.elapsed().as_millis() as u64)
}

fn err<E: std::fmt::Debug>(e: DriverError<E, mqtt_ws::mqtt::client::Error>) -> String {
    format!("{e:?}")
}

macro_rules! with {
    ($link:expr, $c:ident => $e:expr) => {
        match $link {
            Link::Tcp($c) => $e,
            Link::Ws($c) => $e,
        }
    };
}

fn client() -> Client<Store> {
    Client::new(SliceStore::with_buffer(buf(64 * 1024)), Config::new(8192))
}

fn tcp(p: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", p)).expect("the broker listens");
    s.set_read_timeout(Some(StdDuration::from_millis(50))).unwrap();
    s
}

impl Link {
    fn open(kind: Kind, opts: &ConnectOptions<'_>) -> (Link, bool) {
        Self::open_with(kind, client(), opts)
    }

    /// The client back, for a reconnect over a new transport (the old one is dropped).
    fn into_client(self) -> Client<Store> {
        match self {
            Link::Tcp(c) => c.into_machine(),
            Link::Ws(c) => c.into_machine(),
        }
    }

    fn open_with(kind: Kind, client: Client<Store>, opts: &ConnectOptions<'_>) -> (Link, bool) {
        let mut link = match kind {
            Kind::Tcp => {
                let t = StdIo(tcp(port("MQTT_TCP_PORT")));
                Link::Tcp(Box::new(Connection::with_buffers(t, client, buf(8192), buf(8192))))
            }
            Kind::Ws => {
                let p = port("MQTT_WS_PORT");
                let t = StdIo(tcp(p));
                let host = format!("127.0.0.1:{p}");
                let hs = Handshake::new(
                    ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]),
                    [9; 16],
                )
                .unwrap();
                let mut hs = blocking::Connection::with_buffers(t, hs, buf(8192), buf(8192));
                assert_eq!(hs.handshake(clock).unwrap(), Some("mqtt"));
                let mut key = 0x1234_5678u32;
                let keys: Keys = Box::new(move || {
                    key = key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    key.to_le_bytes()
                });
                let stream = hs.upgrade(WsConfig::new(), keys).into_stream().unwrap();
                Link::Ws(Box::new(Connection::with_buffers(stream, client, buf(8192), buf(8192))))
            }
        };
        with!(&mut link, c => c.connect(clock(), opts).map_err(err).unwrap());
        match link.next(StdDuration::from_secs(5)) {
            Some(Ev::Connected(session_present)) => (link, session_present),
            other => panic!("no CONNACK: {other:?}"),
        }
    }

    /// The next event within `limit`.
    fn next(&mut self, limit: StdDuration) -> Option<Ev> {
        let deadline = StdInstant::now() + limit;
        while StdInstant::now() < deadline {
            let ev = with!(self, c => c.poll(clock()).map(|e| e.map(own)).map_err(err));
            match ev {
                Ok(Some(e)) => return Some(e),
                Ok(None) => {}
                Err(e) => panic!("{e}"),
            }
        }
        None
    }

    /// Events until `pred` holds for one (returned with all before it).
    fn until(&mut self, limit: StdDuration, pred: impl Fn(&Ev) -> bool) -> Vec<Ev> {
        let deadline = StdInstant::now() + limit;
        let mut all = Vec::new();
        while StdInstant::now() < deadline {
            if let Some(e) = self.next(StdDuration::from_millis(100)) {
                let done = pred(&e);
                all.push(e);
                if done {
                    return all;
                }
            }
        }
        panic!("timed out; got {all:?}");
    }

    /// Every message arriving within `limit`.
    fn messages(&mut self, limit: StdDuration) -> Vec<Ev> {
        let deadline = StdInstant::now() + limit;
        let mut all = Vec::new();
        while StdInstant::now() < deadline {
            if let Some(e @ Ev::Message { .. }) = self.next(StdDuration::from_millis(50)) {
                all.push(e);
            }
        }
        all
    }

    fn publish(&mut self, msg: &Outgoing<'_>) -> Sent {
        with!(self, c => c.publish(clock(), msg).map_err(err).unwrap())
    }

    fn subscribe(&mut self, filters: &[&str], qos: Qos) {
        let subs: Vec<_> = filters.iter().map(|f| Subscription::new(f, qos)).collect();
        with!(self, c => c.subscribe(clock(), &subs, Properties::EMPTY).map_err(err).unwrap());
        let ev = self.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Subscribed(_)));
        match ev.last() {
            Some(Ev::Subscribed(codes)) => {
                assert!(codes.iter().all(|c| !c.is_error()), "{codes:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    fn disconnect(mut self) {
        with!(&mut self, c => c.disconnect(clock(), ReasonCode::NormalDisconnection, Properties::EMPTY).map_err(err).unwrap());
    }
}

fn unique(kind: Kind, what: &str) -> String {
    format!("mqttws-{}-{:?}-{what}", std::process::id(), kind)
}

fn opts(id: &str) -> ConnectOptions<'_> {
    let mut o = ConnectOptions::new(id);
    o.keep_alive = 10;
    o
}

fn payloads(evs: &[Ev]) -> Vec<(Vec<u8>, Qos)> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Message { payload, qos, .. } => Some((payload.clone(), *qos)),
            _ => None,
        })
        .collect()
}

fn both(f: fn(Kind)) {
    f(Kind::Tcp);
    f(Kind::Ws);
}

fn qos_both_ways_case(kind: Kind) {
    let topic = unique(kind, "qos");
    let (sub_id, pub_id) = (format!("{topic}-s"), format!("{topic}-p"));
    let (mut sub, _) = Link::open(kind, &opts(&sub_id));
    sub.subscribe(&[&format!("{topic}/#")], Qos::ExactlyOnce);
    let (mut publ, _) = Link::open(kind, &opts(&pub_id));
    let t = format!("{topic}/x");
    for (q, body) in
        [(Qos::AtMostOnce, "zero"), (Qos::AtLeastOnce, "one"), (Qos::ExactlyOnce, "two")]
    {
        let sent = publ.publish(&Outgoing::new(&t, body.as_bytes()).qos(q));
        if let Some(id) = sent.packet_id {
            let ev = publ.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Published(..)));
            assert_eq!(ev.last(), Some(&Ev::Published(id.get(), ReasonCode::Success)));
        }
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend(payloads(
            &sub.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Message { .. })),
        ));
    }
    assert_eq!(
        got,
        [
            (b"zero".to_vec(), Qos::AtMostOnce),
            (b"one".to_vec(), Qos::AtLeastOnce),
            (b"two".to_vec(), Qos::ExactlyOnce)
        ]
    );
    // Many QoS 1 messages through the server's Receive Maximum (Mosquitto: 20) with aliases.
    let mut sent = 0;
    let mut acked = 0;
    while acked < 100 {
        if sent < 100 {
            let msg = Outgoing::new(&t, b"bulk").qos(Qos::AtLeastOnce);
            match with!(&mut publ, c => c.publish(clock(), &msg).map_err(err)) {
                Ok(_) => {
                    sent += 1;
                    continue;
                }
                Err(e) => assert!(e.contains("ReceiveMaximumReached"), "{e}"),
            }
        }
        if let Some(Ev::Published(..)) = publ.next(StdDuration::from_millis(100)) {
            acked += 1;
        }
    }
    let bulk = sub.messages(StdDuration::from_millis(1500));
    assert_eq!(bulk.len(), 100);
    publ.disconnect();
    sub.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn qos_0_1_2_both_ways() {
    both(qos_both_ways_case);
}

fn retained_case(kind: Kind) {
    let topic = unique(kind, "retained");
    let id = format!("{topic}-p");
    let (mut p, _) = Link::open(kind, &opts(&id));
    p.publish(&Outgoing::new(&topic, b"kept").qos(Qos::AtLeastOnce).retain(true));
    p.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Published(..)));
    let id2 = format!("{topic}-s");
    let (mut s, _) = Link::open(kind, &opts(&id2));
    s.subscribe(&[&topic], Qos::AtLeastOnce);
    let ev = s.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Message { .. }));
    match ev.last() {
        Some(Ev::Message { payload, retain, .. }) => {
            assert_eq!(payload, b"kept");
            assert!(retain);
        }
        other => panic!("{other:?}"),
    }
    // Clear it.
    p.publish(&Outgoing::new(&topic, b"").qos(Qos::AtLeastOnce).retain(true));
    p.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Published(..)));
    p.disconnect();
    s.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn retained_messages() {
    both(retained_case);
}

fn will_case(kind: Kind) {
    let topic = unique(kind, "will");
    let id = format!("{topic}-s");
    let (mut s, _) = Link::open(kind, &opts(&id));
    s.subscribe(&[&topic], Qos::AtLeastOnce);
    let wid = format!("{topic}-w");
    let mut o = opts(&wid);
    o.will = Some(Will {
        qos: Qos::AtLeastOnce,
        retain: false,
        properties: Properties::EMPTY,
        topic: &topic,
        payload: b"gone",
    });
    let (w, _) = Link::open(kind, &o);
    drop(w); // abrupt: no DISCONNECT
    let ev = s.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Message { .. }));
    assert_eq!(payloads(&ev[ev.len() - 1..]), [(b"gone".to_vec(), Qos::AtLeastOnce)]);
    s.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn will_on_abrupt_drop() {
    both(will_case);
}

fn offline_case(kind: Kind) {
    let topic = unique(kind, "offline");
    let id = format!("{topic}-s");
    let mut o = opts(&id);
    o.session_expiry = 300;
    let (mut s, present) = Link::open(kind, &o);
    assert!(!present);
    s.subscribe(&[&topic], Qos::AtLeastOnce);
    s.disconnect();
    let pid = format!("{topic}-p");
    let (mut p, _) = Link::open(kind, &opts(&pid));
    for body in [&b"m1"[..], b"m2"] {
        p.publish(&Outgoing::new(&topic, body).qos(Qos::AtLeastOnce));
        p.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Published(..)));
    }
    o.clean_start = false;
    let (mut s, present) = Link::open(kind, &o);
    assert!(present, "session resumed");
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(payloads(
            &s.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Message { .. })),
        ));
    }
    assert_eq!(got, [(b"m1".to_vec(), Qos::AtLeastOnce), (b"m2".to_vec(), Qos::AtLeastOnce)]);
    s.disconnect();
    p.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn offline_queue_on_resume() {
    both(offline_case);
}

fn shared_case(kind: Kind) {
    let topic = unique(kind, "shared");
    let filter = format!("$share/g/{topic}");
    let (a_id, b_id, p_id) = (format!("{topic}-a"), format!("{topic}-b"), format!("{topic}-p"));
    let (mut a, _) = Link::open(kind, &opts(&a_id));
    a.subscribe(&[&filter], Qos::AtLeastOnce);
    let (mut b, _) = Link::open(kind, &opts(&b_id));
    b.subscribe(&[&filter], Qos::AtLeastOnce);
    let (mut p, _) = Link::open(kind, &opts(&p_id));
    for i in 0..10u8 {
        p.publish(&Outgoing::new(&topic, &[i]));
    }
    let (ga, gb) =
        (a.messages(StdDuration::from_millis(800)), b.messages(StdDuration::from_millis(300)));
    assert_eq!(ga.len() + gb.len(), 10, "each message to one member of the group");
    assert!(!ga.is_empty() && !gb.is_empty(), "{} / {}", ga.len(), gb.len());
    for l in [a, b, p] {
        l.disconnect();
    }
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn shared_subscriptions() {
    both(shared_case);
}

fn request_response_case(kind: Kind) {
    let topic = unique(kind, "rr");
    let (req_t, resp_t) = (format!("{topic}/req"), format!("{topic}/resp"));
    let (r_id, q_id) = (format!("{topic}-r"), format!("{topic}-q"));
    let (mut responder, _) = Link::open(kind, &opts(&r_id));
    responder.subscribe(&[&req_t], Qos::AtLeastOnce);
    let (mut requester, _) = Link::open(kind, &opts(&q_id));
    requester.subscribe(&[&resp_t], Qos::AtLeastOnce);
    let mut buf = [0u8; 128];
    let props = request_properties(&mut buf, &resp_t, Some(b"corr-7")).unwrap();
    requester.publish(&Outgoing::new(&req_t, b"2+2").qos(Qos::AtLeastOnce).properties(props));
    // The responder answers from the event itself (zero-copy).
    let deadline = StdInstant::now() + StdDuration::from_secs(5);
    let mut answered = false;
    while !answered && StdInstant::now() < deadline {
        let mut out = [0u8; 128];
        answered = with!(&mut responder, c => {
            let mut reply = None;
            if let Some(Event::Message(m)) = c.poll(clock()).map_err(err).unwrap()
                && let Some((t, p)) = response_to(&m, &mut out).unwrap()
            {
                reply = Some((t.to_string(), p.as_bytes().to_vec()));
            }
            match reply {
                Some((t, raw)) => {
                    let p = Properties::parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Publish).unwrap();
                    c.publish(clock(), &Outgoing::new(&t, b"4").qos(Qos::AtLeastOnce).properties(p)).map_err(err).unwrap();
                    true
                }
                None => false,
            }
        });
    }
    assert!(answered);
    let ev = requester.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Message { .. }));
    match ev.last() {
        Some(Ev::Message { payload, correlation, topic, .. }) => {
            assert_eq!(payload, b"4");
            assert_eq!(topic, &resp_t);
            assert_eq!(correlation.as_deref(), Some(&b"corr-7"[..]));
        }
        other => panic!("{other:?}"),
    }
    responder.disconnect();
    requester.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn request_response() {
    both(request_response_case);
}

fn user_properties_case(kind: Kind) {
    let topic = unique(kind, "user");
    let (s_id, p_id) = (format!("{topic}-s"), format!("{topic}-p"));
    let (mut s, _) = Link::open(kind, &opts(&s_id));
    s.subscribe(&[&topic], Qos::AtMostOnce);
    let (mut p, _) = Link::open(kind, &opts(&p_id));
    let mut buf = [0u8; 128];
    let mut b = PropertiesBuilder::new(&mut buf);
    b.push(Property::UserProperty("room", "kitchen")).unwrap();
    b.push(Property::UserProperty("room", "hall")).unwrap();
    let props = b.finish();
    p.publish(&Outgoing::new(&topic, b"u").properties(props));
    let ev = s.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Message { .. }));
    match ev.last() {
        Some(Ev::Message { user, .. }) => assert_eq!(
            user,
            &[
                ("room".to_string(), "kitchen".to_string()),
                ("room".to_string(), "hall".to_string())
            ]
        ),
        other => panic!("{other:?}"),
    }
    s.disconnect();
    p.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn user_properties() {
    both(user_properties_case);
}

fn v311_case(kind: Kind) {
    let topic = unique(kind, "v311");
    let (s_id, p_id) = (format!("{topic}-s"), format!("{topic}-p"));
    let mut o = opts(&s_id);
    o.version = Version::V3_1_1;
    let (mut s, _) = Link::open(kind, &o);
    s.subscribe(&[&topic], Qos::ExactlyOnce);
    let mut o = opts(&p_id);
    o.version = Version::V3_1_1;
    let (mut p, _) = Link::open(kind, &o);
    p.publish(&Outgoing::new(&topic, b"old").qos(Qos::ExactlyOnce));
    p.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Published(..)));
    let ev = s.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Message { .. }));
    assert_eq!(payloads(&ev[ev.len() - 1..]), [(b"old".to_vec(), Qos::ExactlyOnce)]);
    s.disconnect();
    p.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn mqtt_3_1_1_mode() {
    both(v311_case);
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn keep_alive_against_the_broker() {
    // Keep alive 1 s: the client pings while idle and the broker keeps the connection.
    for kind in [Kind::Tcp, Kind::Ws] {
        let id = unique(kind, "ka");
        let mut o = opts(&id);
        o.keep_alive = 1;
        let (mut l, _) = Link::open(kind, &o);
        let ev = l.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Other(s) if s == "Pong"));
        assert!(!ev.is_empty());
        l.disconnect();
    }
}

fn subscription_options_case(kind: Kind) {
    let topic = unique(kind, "subopts");
    let (a_id, b_id) = (format!("{topic}-a"), format!("{topic}-b"));
    let (mut a, _) = Link::open(kind, &opts(&a_id));
    let mut buf = [0u8; 16];
    let mut b = PropertiesBuilder::new(&mut buf);
    b.push(Property::SubscriptionIdentifier(std::num::NonZeroU32::new(7).unwrap())).unwrap();
    let props = b.finish();
    let sub = [Subscription {
        filter: &topic,
        options: SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::new(Qos::AtLeastOnce)
        },
    }];
    with!(&mut a, c => c.subscribe(clock(), &sub, props).map_err(err).unwrap());
    a.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Subscribed(_)));
    // No Local: our own message does not come back.
    a.publish(&Outgoing::new(&topic, b"own"));
    let (mut b, _) = Link::open(kind, &opts(&b_id));
    b.publish(&Outgoing::new(&topic, b"other"));
    let got = a.messages(StdDuration::from_millis(500));
    assert_eq!(got.len(), 1, "{got:?}");
    match &got[0] {
        Ev::Message { payload, sub_ids, .. } => {
            assert_eq!(payload, b"other");
            assert_eq!(sub_ids, &[7], "subscription identifier delivered with the message");
        }
        other => panic!("{other:?}"),
    }
    a.disconnect();
    b.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn subscription_options_and_identifiers() {
    both(subscription_options_case);
}

fn resume_case(kind: Kind) {
    let topic = unique(kind, "resume");
    let (s_id, p_id) = (format!("{topic}-s"), format!("{topic}-p"));
    let (mut s, _) = Link::open(kind, &opts(&s_id));
    s.subscribe(&[&topic], Qos::ExactlyOnce);
    let mut o = opts(&p_id);
    o.session_expiry = 60;
    let (mut p, _) = Link::open(kind, &o);
    // Sent, and the transport dies before any acknowledgement is read.
    p.publish(&Outgoing::new(&topic, b"once").qos(Qos::ExactlyOnce));
    p.publish(&Outgoing::new(&topic, b"at-least-once").qos(Qos::AtLeastOnce));
    let mut client = p.into_client();
    assert_eq!(client.in_flight(), 2);
    client.connection_lost();
    std::thread::sleep(StdDuration::from_millis(200));
    o.clean_start = false;
    let (mut p, present) = Link::open_with(kind, client, &o);
    assert!(present);
    // The client re-sends both with DUP; the broker completes them.
    let mut done = Vec::new();
    while done.len() < 2 {
        if let Ev::Published(id, code) =
            p.until(StdDuration::from_secs(5), |e| matches!(e, Ev::Published(..))).pop().unwrap()
        {
            assert_eq!(code, ReasonCode::Success);
            done.push(id);
        }
    }
    let got = payloads(&s.messages(StdDuration::from_millis(800)));
    // Exactly once for QoS 2; at least once for QoS 1.
    assert_eq!(got.iter().filter(|(b, _)| b == b"once").count(), 1, "{got:?}");
    assert!(got.iter().any(|(b, _)| b == b"at-least-once"), "{got:?}");
    p.disconnect();
    s.disconnect();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn session_resume_retransmits_with_dup() {
    both(resume_case);
}
