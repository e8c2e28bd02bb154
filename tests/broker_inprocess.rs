//! The example broker in this process, driven by `mqtt::client::Client` over TCP and
//! WebSocket: QoS flows, wildcards, shared subscriptions, retained messages, session resume
//! with offline queueing, message expiry, session takeover, wills and keep-alive, the
//! WebSocket listener's page, path and Origin checks.
#![cfg(all(feature = "mqtt", feature = "ws"))]

#[path = "../examples/broker/mod.rs"]
mod broker;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use broker::client::{ConnectOptions, MiniClient, Received};
use mqtt_ws::mqtt::client::Outgoing;
use mqtt_ws::mqtt::properties::{PropertiesBuilder, Property};
use mqtt_ws::mqtt::{Qos, ReasonCode, Version};

/// How long a test waits for what must come: long, as only a failing test waits that long and
/// a loaded machine may hold the broker's threads for seconds.
const PATIENCE: Duration = Duration::from_secs(30);

struct Urls {
    tcp: String,
    ws: String,
    ws_addr: String,
    broker: broker::Broker,
}

impl Urls {
    /// Waits until the broker has no open connection (the last DISCONNECT was handled).
    fn all_gone(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.broker.stats().connections > 0 {
            assert!(std::time::Instant::now() < deadline, "a connection stayed open");
            std::thread::yield_now();
        }
    }
}

fn start() -> Urls {
    let b = broker::Broker::new(broker::Options::default());
    let r = b.start(Some("127.0.0.1:0"), Some("127.0.0.1:0")).unwrap();
    let (t, w) = (r.tcp.unwrap(), r.ws.unwrap());
    let ws_addr = w.to_string();
    Urls { tcp: format!("mqtt://{t}"), ws: format!("ws://{w}/mqtt"), ws_addr, broker: b }
}

fn connect(url: &str, id: &str) -> MiniClient {
    MiniClient::connect(url, id, ConnectOptions::default()).unwrap()
}

fn recv(c: &mut MiniClient) -> Received {
    c.recv(PATIENCE).unwrap().expect("a message within the patience")
}

fn nothing(c: &mut MiniClient) {
    assert_eq!(c.recv(Duration::from_millis(200)).unwrap(), None);
}

#[test]
fn qos_levels_and_wildcards_over_tcp_and_websocket() {
    let u = start();
    let mut sub = connect(&u.ws, "sub");
    assert_eq!(sub.subscribe("a/+/c", Qos::ExactlyOnce).unwrap(), ReasonCode::GrantedQos2);
    assert_eq!(sub.subscribe("z/#", Qos::AtLeastOnce).unwrap(), ReasonCode::GrantedQos1);
    let mut publisher = connect(&u.tcp, "pub");
    for qos in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce] {
        publisher.publish("a/b/c", &[qos.as_u8()], qos, false).unwrap();
        let m = recv(&mut sub);
        assert_eq!(
            (m.topic.as_str(), m.payload.as_slice(), m.qos),
            ("a/b/c", &[qos.as_u8()][..], qos)
        );
    }
    // Downgraded to the subscription's QoS [MQTT-3.8.4-8].
    publisher.publish("z/1/2", b"q2", Qos::ExactlyOnce, false).unwrap();
    assert_eq!(recv(&mut sub).qos, Qos::AtLeastOnce);
    // Not matching.
    publisher.publish("a/b/c/d", b"no", Qos::AtMostOnce, false).unwrap();
    nothing(&mut sub);
}

#[test]
fn a_message_of_almost_the_largest_packet_size_crosses_tcp_and_websocket_both_ways() {
    // Connections keep small buffers while idle: this one must grow them on both sides of the
    // broker (what it reads from the publisher, what it writes to the subscriber).
    let u = start();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    for (from, to) in [(&u.tcp, &u.ws), (&u.ws, &u.tcp)] {
        let mut sub = connect(to, "big-sub");
        sub.subscribe("big", Qos::AtLeastOnce).unwrap();
        let mut publisher = connect(from, "big-pub");
        for qos in [Qos::AtMostOnce, Qos::AtLeastOnce] {
            publisher.publish("big", &big, qos, false).unwrap();
            let m = recv(&mut sub);
            assert_eq!((m.payload.len(), m.qos), (big.len(), qos));
            assert!(m.payload == big, "payload changed on the way");
        }
        // Small messages still flow after the buffers shrank back.
        publisher.publish("big", b"small", Qos::AtLeastOnce, false).unwrap();
        assert_eq!(recv(&mut sub).payload, b"small");
    }
}

#[test]
fn retained_message_is_sent_on_subscribe_and_cleared_by_an_empty_one() {
    let u = start();
    let mut p = connect(&u.tcp, "p");
    p.publish("r/t", b"kept", Qos::AtLeastOnce, true).unwrap();
    let mut s = connect(&u.ws, "s");
    s.subscribe("r/#", Qos::AtLeastOnce).unwrap();
    let m = recv(&mut s);
    assert_eq!((m.payload.as_slice(), m.retain), (&b"kept"[..], true));
    p.publish("r/t", b"", Qos::AtLeastOnce, true).unwrap();
    let m = recv(&mut s);
    assert!(m.payload.is_empty());
    let mut s2 = connect(&u.tcp, "s2");
    s2.subscribe("r/#", Qos::AtLeastOnce).unwrap();
    nothing(&mut s2);
}

#[test]
fn shared_subscription_round_robin() {
    let u = start();
    let mut a = connect(&u.tcp, "a");
    let mut b = connect(&u.ws, "b");
    a.subscribe("$share/g/jobs/#", Qos::AtLeastOnce).unwrap();
    b.subscribe("$share/g/jobs/#", Qos::AtLeastOnce).unwrap();
    let mut p = connect(&u.tcp, "p");
    for i in 0..4u8 {
        p.publish("jobs/x", &[i], Qos::AtLeastOnce, false).unwrap();
    }
    let mut got = Vec::new();
    for c in [&mut a, &mut b] {
        for _ in 0..2 {
            got.push(recv(c).payload[0]);
        }
        nothing(c);
    }
    got.sort();
    assert_eq!(got, [0, 1, 2, 3]);
}

#[test]
fn persistent_session_queues_while_offline() {
    let u = start();
    let v311 = |clean| ConnectOptions {
        version: Version::V3_1_1,
        clean_start: clean,
        ..Default::default()
    };
    let mut s = MiniClient::connect(&u.tcp, "keeper", v311(false)).unwrap();
    assert!(!s.session_present);
    s.subscribe("q/#", Qos::AtLeastOnce).unwrap();
    s.disconnect().unwrap();
    // Offline once the broker has handled the DISCONNECT.
    u.all_gone();
    let mut p = connect(&u.tcp, "p");
    p.publish("q/1", b"while away", Qos::AtLeastOnce, false).unwrap();
    p.publish("q/0", b"qos0 is not queued", Qos::AtMostOnce, false).unwrap();
    let mut s = MiniClient::connect(&u.ws, "keeper", v311(false)).unwrap();
    assert!(s.session_present);
    let m = recv(&mut s);
    assert_eq!(m.payload, b"while away");
    nothing(&mut s);
    // Clean session: nothing kept.
    s.disconnect().unwrap();
    let s = MiniClient::connect(&u.tcp, "keeper", v311(true)).unwrap();
    assert!(!s.session_present);
}

#[test]
fn message_expiry_interval_counts_down_and_expired_messages_are_dropped() {
    let u = start();
    let persistent =
        ConnectOptions { clean_start: false, session_expiry: 60, ..Default::default() };
    let mut s = MiniClient::connect(&u.tcp, "exp-s", persistent.clone()).unwrap();
    s.subscribe("exp/#", Qos::AtLeastOnce).unwrap();
    s.disconnect().unwrap();
    // Offline once the broker has handled the DISCONNECT.
    u.all_gone();

    let mut p = connect(&u.tcp, "exp-p");
    let mut publish = |topic: &str, retain: bool, expiry: Option<u32>| {
        let mut buf = [0u8; 5];
        let mut b = PropertiesBuilder::new(&mut buf);
        if let Some(e) = expiry {
            b.push(Property::MessageExpiryInterval(e)).unwrap();
        }
        let msg = Outgoing::new(topic, b"m").qos(Qos::AtLeastOnce).retain(retain);
        p.publish_message(msg.properties(b.finish())).unwrap();
    };
    publish("exp/retained-1s", true, Some(1));
    publish("exp/retained-10s", true, Some(10));
    publish("exp/queued-1s", false, Some(1));
    publish("exp/queued-10s", false, Some(10));
    publish("exp/queued-forever", false, None);
    std::thread::sleep(Duration::from_millis(1100));

    // Back online: the offline queue lost what expired; the rest carry the time left
    // [MQTT-3.3.2-5], [MQTT-3.3.2-6].
    let mut s = MiniClient::connect(&u.tcp, "exp-s", persistent).unwrap();
    assert!(s.session_present);
    let mut got: Vec<_> = (0..3).map(|_| recv(&mut s)).map(|m| (m.topic, m.expiry)).collect();
    nothing(&mut s);
    got.sort();
    let left = |m: &(String, Option<u32>)| m.1.is_some_and(|e| (1..=9).contains(&e));
    assert_eq!(got[0].0, "exp/queued-10s");
    assert!(left(&got[0]), "{got:?}");
    assert_eq!(got[1], ("exp/queued-forever".to_owned(), None));
    assert_eq!(got[2].0, "exp/retained-10s");
    assert!(left(&got[2]), "{got:?}");

    // A new subscriber gets the retained message that has not expired, and only that one.
    let mut late = connect(&u.ws, "exp-late");
    late.subscribe("exp/#", Qos::AtLeastOnce).unwrap();
    let m = recv(&mut late);
    assert_eq!((m.topic.as_str(), m.retain), ("exp/retained-10s", true));
    assert!(m.expiry.is_some_and(|e| (1..=9).contains(&e)), "{m:?}");
    nothing(&mut late);
}

/// A raw MQTT 5.0 connection that sends what the test says and answers nothing by itself.
struct Raw {
    tcp: TcpStream,
    input: Vec<u8>,
}

impl Raw {
    fn connect(addr: &str, client_id: &str, clean_start: bool) -> Raw {
        use mqtt_ws::mqtt::packet::{Connect, Packet};
        let mut props = [0u8; 5];
        let mut b = PropertiesBuilder::new(&mut props);
        b.push(Property::SessionExpiryInterval(60)).unwrap();
        let mut c = Connect::new(Version::V5, client_id);
        c.clean_start = clean_start;
        c.properties = b.finish();
        let mut raw = Raw { tcp: TcpStream::connect(addr).unwrap(), input: Vec::new() };
        raw.tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        raw.send(&Packet::Connect(c));
        raw
    }

    fn send(&mut self, p: &mqtt_ws::mqtt::packet::Packet<'_>) {
        let mut buf = [0u8; 256];
        let n = p.encode(Version::V5, &mut buf).unwrap();
        self.tcp.write_all(&buf[..n]).unwrap();
    }

    /// The next packet, as (first byte, bytes); reads until one is complete.
    fn next(&mut self) -> (u8, Vec<u8>) {
        use mqtt_ws::Status;
        use mqtt_ws::mqtt::packet::{DecodeOptions, FixedHeader};
        loop {
            if let Ok(Status::Progress { event: h, .. }) =
                FixedHeader::decode(&self.input, &DecodeOptions::new(Version::V5))
                && self.input.len() >= h.total_len()
            {
                let p: Vec<u8> = self.input.drain(..h.total_len()).collect();
                return (p[0], p);
            }
            let mut buf = [0u8; 512];
            let n = self.tcp.read(&mut buf).expect("a packet within the patience");
            assert!(n > 0, "closed; have {:02x?}", self.input);
            self.input.extend_from_slice(&buf[..n]);
        }
    }
}

impl Raw {
    fn send_bytes(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).unwrap();
    }

    /// The network goes away: whatever the broker sends from now on is lost. Half-closes and
    /// reads to the broker's end (an orderly close, so nothing sent before it is discarded).
    fn lose(mut self) {
        self.tcp.shutdown(std::net::Shutdown::Write).unwrap();
        let mut buf = [0u8; 512];
        while self.tcp.read(&mut buf).is_ok_and(|n| n > 0) {}
    }

    /// CONNECT with Clean Start 0 to the kept session: CONNACK says Session Present.
    fn resume(addr: &str, client_id: &str) -> Raw {
        let mut raw = Raw::connect(addr, client_id, false);
        let (first, connack) = raw.next();
        assert_eq!((first, connack[2]), (0x20, 1), "CONNACK, session present: {connack:02x?}");
        raw
    }
}

/// A QoS 2 PUBLISH of `payload` on `topic` with identifier `id`.
fn qos2_publish(topic: &str, id: u16, dup: bool, payload: &[u8]) -> Vec<u8> {
    use mqtt_ws::mqtt::PacketId;
    use mqtt_ws::mqtt::packet::{Packet, Publish, QosPid};
    let mut p = Publish::new(topic, payload);
    p.qos_pid = QosPid::ExactlyOnce(PacketId::new(id).unwrap());
    p.dup = dup;
    let mut buf = [0u8; 256];
    let n = Packet::Publish(p).encode(Version::V5, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// The packet identifier of a QoS 2 PUBLISH on a one-byte-length packet with topic `topic`.
fn publish_id(bytes: &[u8], topic: &str) -> [u8; 2] {
    let at = 2 + 2 + topic.len();
    [bytes[at], bytes[at + 1]]
}

#[test]
fn qos2_is_exactly_once_across_reconnects_whichever_packet_is_lost() {
    let u = start();
    let addr = u.tcp.trim_start_matches("mqtt://").to_owned();
    let mut sub = connect(&u.tcp, "eo-sub");
    sub.subscribe("eo/in/#", Qos::ExactlyOnce).unwrap();

    // The broker receiving. PUBREC lost: the client sends the PUBLISH again (DUP) on its next
    // connection, which is acknowledged and not routed a second time.
    let mut p = Raw::connect(&addr, "eo-pub", true);
    assert_eq!(p.next().0, 0x20);
    p.send_bytes(&qos2_publish("eo/in/1", 1, false, b"1"));
    p.lose();
    let mut p = Raw::resume(&addr, "eo-pub");
    p.send_bytes(&qos2_publish("eo/in/1", 1, true, b"1"));
    assert_eq!(p.next().1, [0x50, 0x02, 0x00, 0x01], "PUBREC");
    p.send_bytes(&[0x62, 0x02, 0x00, 0x01]);
    assert_eq!(p.next().1, [0x70, 0x02, 0x00, 0x01], "PUBCOMP");
    // PUBREL lost: sent again on the next connection, completed there.
    p.send_bytes(&qos2_publish("eo/in/2", 2, false, b"2"));
    assert_eq!(p.next().1, [0x50, 0x02, 0x00, 0x02], "PUBREC");
    p.lose();
    let mut p = Raw::resume(&addr, "eo-pub");
    p.send_bytes(&[0x62, 0x02, 0x00, 0x02]);
    assert_eq!(p.next().1, [0x70, 0x02, 0x00, 0x02], "PUBCOMP: the identifier was awaiting it");
    // PUBCOMP lost: the PUBREL sent again finds the identifier released (0x92), nothing routed.
    // (The PUBCOMP is read before the loss: a PUBREL still unread when the connection is cut
    // may be lost with it, and then the second one completes normally.)
    p.send_bytes(&qos2_publish("eo/in/3", 3, false, b"3"));
    assert_eq!(p.next().1, [0x50, 0x02, 0x00, 0x03], "PUBREC");
    p.send_bytes(&[0x62, 0x02, 0x00, 0x03]);
    assert_eq!(p.next().1, [0x70, 0x02, 0x00, 0x03], "PUBCOMP, the one the client loses");
    p.lose();
    let mut p = Raw::resume(&addr, "eo-pub");
    p.send_bytes(&[0x62, 0x02, 0x00, 0x03]);
    assert_eq!(p.next().1, [0x70, 0x03, 0x00, 0x03, 0x92], "PUBCOMP, identifier not found");
    for n in ["1", "2", "3"] {
        let m = recv(&mut sub);
        assert_eq!(
            (m.topic.as_str(), m.payload.as_slice()),
            (&*format!("eo/in/{n}"), n.as_bytes())
        );
    }
    nothing(&mut sub);

    // The broker sending.
    use mqtt_ws::mqtt::PacketId;
    use mqtt_ws::mqtt::packet::{Packet, Subscribe, Subscription};
    let mut s = Raw::connect(&addr, "eo-raw-sub", true);
    assert_eq!(s.next().0, 0x20);
    let filters = [Subscription::new("eo/out/#", Qos::ExactlyOnce)];
    s.send(&Packet::Subscribe(Subscribe::new(PacketId::new(1).unwrap(), &filters)));
    assert_eq!(s.next().0, 0x90, "SUBACK");
    let mut publisher = connect(&u.tcp, "eo-pub2");
    // PUBREC lost: the PUBLISH again, DUP 1, same identifier [MQTT-4.4.0-1].
    publisher.publish("eo/out/1", b"1", Qos::ExactlyOnce, false).unwrap();
    let (first, publish) = s.next();
    assert_eq!(first, 0x34, "PUBLISH QoS 2: {publish:02x?}");
    let id = publish_id(&publish, "eo/out/1");
    s.lose();
    let mut s = Raw::resume(&addr, "eo-raw-sub");
    let (first, again) = s.next();
    assert_eq!((first, publish_id(&again, "eo/out/1")), (0x3c, id), "DUP: {again:02x?}");
    s.send_bytes(&[0x50, 0x02, id[0], id[1]]);
    assert_eq!(s.next().1, [0x62, 0x02, id[0], id[1]], "PUBREL");
    s.send_bytes(&[0x70, 0x02, id[0], id[1]]);
    // PUBREL lost (the PUBREC arrived): PUBREL again, never the PUBLISH again [MQTT-4.4.0-1].
    publisher.publish("eo/out/2", b"2", Qos::ExactlyOnce, false).unwrap();
    let (first, publish) = s.next();
    assert_eq!(first, 0x34, "PUBLISH QoS 2: {publish:02x?}");
    let id = publish_id(&publish, "eo/out/2");
    s.send_bytes(&[0x50, 0x02, id[0], id[1]]);
    s.lose();
    let mut s = Raw::resume(&addr, "eo-raw-sub");
    assert_eq!(s.next().1, [0x62, 0x02, id[0], id[1]], "PUBREL again");
    // PUBCOMP lost: PUBREL again on the next connection.
    s.send_bytes(&[0x70, 0x02, id[0], id[1]]);
    publisher.publish("eo/out/3", b"3", Qos::ExactlyOnce, false).unwrap();
    let (_, publish) = s.next();
    let id = publish_id(&publish, "eo/out/3");
    s.send_bytes(&[0x50, 0x02, id[0], id[1]]);
    assert_eq!(s.next().1, [0x62, 0x02, id[0], id[1]], "PUBREL");
    s.lose();
    let mut s = Raw::resume(&addr, "eo-raw-sub");
    assert_eq!(s.next().1, [0x62, 0x02, id[0], id[1]], "PUBREL again");
    s.send_bytes(&[0x70, 0x02, id[0], id[1]]);
    // Nothing else was owed: the next packet is the next message.
    publisher.publish("eo/out/4", b"4", Qos::ExactlyOnce, false).unwrap();
    let (first, publish) = s.next();
    assert!(first == 0x34 && publish.ends_with(b"4"), "{publish:02x?}");
}

#[test]
fn takeover_sends_what_was_in_flight_again_with_its_packet_identifier() {
    use mqtt_ws::mqtt::PacketId;
    use mqtt_ws::mqtt::packet::{Packet, Subscribe, Subscription};
    let u = start();
    let addr = u.tcp.trim_start_matches("mqtt://").to_owned();
    let mut old = Raw::connect(&addr, "tko", true);
    assert_eq!(old.next().0, 0x20, "CONNACK");
    let subs = [Subscription::new("tko/t", Qos::ExactlyOnce)];
    old.send(&Packet::Subscribe(Subscribe::new(PacketId::new(1).unwrap(), &subs)));
    assert_eq!(old.next().0, 0x90, "SUBACK");
    let mut p = connect(&u.tcp, "tko-p");
    p.publish("tko/t", b"exactly once", Qos::ExactlyOnce, false).unwrap();
    // The old connection gets the QoS 2 PUBLISH and never answers (its network died, say).
    let (first, publish) = old.next();
    assert_eq!(first, 0x34, "PUBLISH QoS 2, DUP 0: {publish:02x?}");
    let id = &publish[2 + 2 + 5..2 + 2 + 5 + 2];

    // The client comes back on a new connection before the broker noticed: a takeover.
    let mut new = Raw::connect(&addr, "tko", false);
    let (first, connack) = new.next();
    assert_eq!((first, connack[2]), (0x20, 1), "CONNACK with session present: {connack:02x?}");
    // [MQTT-4.4.0-1] the unacknowledged PUBLISH again, DUP 1, same Packet Identifier: a QoS 2
    // receiver that recorded it will not deliver it twice [MQTT-4.3.3-9].
    let (first, again) = new.next();
    assert_eq!(first, 0x3c, "PUBLISH QoS 2, DUP 1: {again:02x?}");
    assert_eq!(&again[2 + 2 + 5..2 + 2 + 5 + 2], id);
    assert!(again.ends_with(b"exactly once"));
}

#[test]
fn session_takeover_closes_the_old_connection_and_publishes_its_will() {
    let u = start();
    let mut monitor = connect(&u.tcp, "monitor");
    monitor.subscribe("wills/#", Qos::AtLeastOnce).unwrap();
    let with_will = ConnectOptions {
        will: Some(("wills/dup", b"gone", Qos::AtLeastOnce, false)),
        ..Default::default()
    };
    let mut first = MiniClient::connect(&u.tcp, "dup", with_will.clone()).unwrap();
    let mut second = MiniClient::connect(&u.ws, "dup", ConnectOptions::default()).unwrap();
    // The old connection gets DISCONNECT 0x8E and is closed.
    assert!(first.recv(PATIENCE).is_err());
    assert_eq!(recv(&mut monitor).payload, b"gone");
    second.subscribe("x", Qos::AtMostOnce).unwrap();
}

#[test]
fn will_is_discarded_on_normal_disconnect_and_sent_on_keep_alive_timeout() {
    let u = start();
    let mut monitor = connect(&u.tcp, "monitor");
    monitor.subscribe("status/#", Qos::AtLeastOnce).unwrap();
    let opts = |topic: &'static str| ConnectOptions {
        keep_alive: 1,
        will: Some((topic, b"offline", Qos::AtLeastOnce, false)),
        ..Default::default()
    };
    let polite = MiniClient::connect(&u.tcp, "polite", opts("status/polite")).unwrap();
    polite.disconnect().unwrap();
    nothing(&mut monitor);
    // Silent for more than 1.5 x keep-alive [MQTT-3.1.2-22]: over WebSocket, and over TCP,
    // where the idle connection waits without a task of its own, on the broker's timer.
    let _silent = MiniClient::connect(&u.ws, "silent", opts("status/silent")).unwrap();
    let _silent_tcp = MiniClient::connect(&u.tcp, "silent-tcp", opts("status/silent-tcp")).unwrap();
    let mut wills: Vec<_> = (0..2)
        .map(|_| monitor.recv(Duration::from_secs(4)).unwrap().expect("the will"))
        .map(|m| (m.topic, m.payload))
        .collect();
    wills.sort();
    let will = |topic: &str| (topic.to_owned(), b"offline".to_vec());
    assert_eq!(wills, [will("status/silent"), will("status/silent-tcp")]);
}

fn http(addr: &str, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && !request.contains("Upgrade") {
                    continue;
                }
                if out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn websocket_listener_serves_the_page_and_checks_path_and_origin() {
    let u = start();
    let page = http(&u.ws_addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("mqtt.connect("));
    let upgrade = |path: &str, origin: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: mqtt\r\nOrigin: {origin}\r\n\r\n",
            u.ws_addr
        )
    };
    let ok = http(&u.ws_addr, &upgrade("/mqtt", &format!("http://{}", u.ws_addr)));
    assert!(ok.starts_with("HTTP/1.1 101"), "{ok}");
    assert!(ok.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert!(ok.to_ascii_lowercase().contains("sec-websocket-protocol: mqtt"));
    let evil = http(&u.ws_addr, &upgrade("/mqtt", "http://evil.example"));
    assert!(evil.starts_with("HTTP/1.1 403"), "{evil}");
    let wrong_path = http(&u.ws_addr, &upgrade("/other", &format!("http://{}", u.ws_addr)));
    assert!(wrong_path.starts_with("HTTP/1.1 404"), "{wrong_path}");
}

#[test]
fn malformed_client_gets_disconnect_and_others_keep_working() {
    let u = start();
    let mut s = connect(&u.tcp, "good");
    s.subscribe("t", Qos::AtMostOnce).unwrap();
    let addr = u.tcp.trim_start_matches("mqtt://");
    let mut raw = TcpStream::connect(addr).unwrap();
    // CONNECT (5.0, client id "bad"), then a PUBLISH with QoS 3.
    raw.write_all(&[
        0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 0, 0, 0, 3, b'b', b'a', b'd',
    ])
    .unwrap();
    raw.write_all(&[0x36, 0x03, 0, 1, b't']).unwrap();
    raw.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = raw.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    // CONNACK, then DISCONNECT with Malformed Packet (0x81), then the close.
    let disconnect = got.windows(3).any(|w| w == [0xe0, 0x01, 0x81]);
    assert!(disconnect, "{got:02x?}");
    let mut p = connect(&u.ws, "p");
    p.publish("t", b"still here", Qos::AtMostOnce, false).unwrap();
    assert_eq!(recv(&mut s).payload, b"still here");
}

#[test]
fn net_client_offering_permessage_deflate_over_websocket() {
    use mqtt_ws::net::{Event, MqttClient, Options};
    let u = start();
    let options = Options {
        deflate: Some(mqtt_ws::ws::deflate::ClientConfig::new()),
        reconnect: None,
        ..Options::default()
    };
    let connect = mqtt_ws::mqtt::client::ConnectOptions::new("deflating");
    let mut c = MqttClient::connect_with(&u.ws, &connect, &options).unwrap();
    c.subscribe("z/deflate", Qos::AtLeastOnce).unwrap();
    let body = b"{\"temperature\":21.5} ".repeat(2000);
    let message = Outgoing::new("z/deflate", &body).qos(Qos::AtLeastOnce);
    let mut published = false;
    let got = loop {
        match c.next_timeout(PATIENCE).unwrap().expect("an event within the patience") {
            Event::Subscribed { .. } if !published => {
                c.publish(&message).unwrap();
                published = true;
            }
            Event::Message(m) => break m.payload,
            _ => {}
        }
    };
    assert!(got == body, "the message came back changed");
    c.disconnect().unwrap();
}
