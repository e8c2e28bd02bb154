//! The example broker in this process, probed as a hostile peer would: one probe per way of
//! making a broker grow without bound, stall the others, or hand out what is not the client's.
//! Each waits for an event (a packet, a closed socket, a counter reaching its value) with a
//! generous bound, never for a fixed time.
#![cfg(all(feature = "mqtt", feature = "ws"))]

#[path = "../examples/broker/mod.rs"]
mod broker;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use broker::client::{ConnectOptions, MiniClient};
use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{self, Connect, DecodeOptions, Packet, Subscribe, Subscription};
use mqtt_ws::mqtt::properties::{PropertiesBuilder, Property};
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};

struct Started {
    broker: broker::Broker,
    tcp: String,
    ws: String,
}

fn start(options: broker::Options) -> Started {
    let broker = broker::Broker::new(options);
    let r = broker.start(Some("127.0.0.1:0"), Some("127.0.0.1:0")).unwrap();
    Started { broker, tcp: r.tcp.unwrap().to_string(), ws: r.ws.unwrap().to_string() }
}

/// A socket speaking raw MQTT 5.0.
struct Raw {
    tcp: TcpStream,
    input: Vec<u8>,
}

impl Raw {
    fn open(addr: &str) -> Raw {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { tcp, input: Vec::new() }
    }

    fn connect(addr: &str, client_id: &str, properties: &[Property<'_>]) -> Raw {
        Raw::connect_with_will(addr, client_id, properties, None)
    }

    /// CONNECT with a will on `topic`, published `delay` seconds after the connection drops.
    fn connect_with_will(
        addr: &str,
        client_id: &str,
        properties: &[Property<'_>],
        will: Option<(&str, u32)>,
    ) -> Raw {
        let mut raw = Raw::open(addr);
        let mut buf = [0u8; 64];
        let mut b = PropertiesBuilder::new(&mut buf);
        for p in properties {
            b.push(*p).unwrap();
        }
        let mut c = Connect::new(Version::V5, client_id);
        c.properties = b.finish();
        let mut will_buf = [0u8; 8];
        if let Some((topic, delay)) = will {
            let mut w = PropertiesBuilder::new(&mut will_buf);
            w.push(Property::WillDelayInterval(delay)).unwrap();
            c.will = Some(packet::Will {
                qos: Qos::AtLeastOnce,
                retain: false,
                properties: w.finish(),
                topic,
                payload: b"gone",
            });
        }
        raw.send(&Packet::Connect(c));
        raw
    }

    fn send(&mut self, p: &Packet<'_>) {
        let mut buf = vec![0u8; p.encoded_len(Version::V5).unwrap()];
        p.encode(Version::V5, &mut buf).unwrap();
        self.tcp.write_all(&buf).unwrap();
    }

    /// The next whole packet's bytes.
    fn next(&mut self) -> Vec<u8> {
        let options = DecodeOptions::new(Version::V5);
        loop {
            if let Ok(Status::Progress { event: h, .. }) =
                packet::FixedHeader::decode(&self.input, &options)
                && self.input.len() >= h.total_len()
            {
                return self.input.drain(..h.total_len()).collect();
            }
            let mut buf = [0u8; 64 << 10];
            let n = self.tcp.read(&mut buf).expect("a packet within 10 s");
            assert!(n > 0, "closed; have {:02x?}", self.input);
            self.input.extend_from_slice(&buf[..n]);
        }
    }
}

/// Waits (at most 30 s) until `done` holds, looking again whenever the broker may have moved.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not reached in 30 s");
        std::thread::yield_now();
    }
}

#[test]
fn a_subscriber_that_stops_reading_neither_grows_the_broker_nor_slows_the_publisher() {
    let b = start(broker::Options::default());
    // Subscribes at QoS 1, then never reads again.
    let mut sleeper = Raw::connect(&b.tcp, "sleeper", &[]);
    sleeper.next();
    let filters = [Subscription::new("flood/#", Qos::AtLeastOnce)];
    sleeper.send(&Packet::Subscribe(Subscribe::new(PacketId::new(1).unwrap(), &filters)));
    sleeper.next();
    // Every PUBLISH of the flood is acknowledged: the publisher is never held back.
    let mut publisher = MiniClient::connect(&b.tcp, "flooder", ConnectOptions::default()).unwrap();
    let payload = vec![7u8; 8 << 10];
    const FLOOD: u64 = 10_000;
    for _ in 0..FLOOD {
        publisher.publish("flood/x", &payload, Qos::AtLeastOnce, false).unwrap();
    }
    // What the sleeper's socket buffers cannot take is held up to the bounds (a channel and a
    // queue of 1,000 each, 32 in flight), and the rest is dropped and counted.
    let kernel = 10 << 20; // socket buffers both ways, generously
    let held = 2 * broker::MAX_QUEUED as u64 + 32 + kernel / payload.len() as u64;
    let dropped = b.broker.stats().dropped;
    assert!(dropped >= FLOOD - held, "only {dropped} of {FLOOD} dropped");
    drop(sleeper);
}

#[test]
fn delayed_wills_wait_on_the_brokers_one_timer_not_a_thread_each() {
    let b = start(broker::Options::default());
    let threads = || std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    let before = threads();
    for i in 0..200 {
        // The session lasts 600 s after its connection drops, the will waits 300 s of it.
        let mut c = Raw::connect_with_will(
            &b.tcp,
            &format!("will-{i}"),
            &[Property::SessionExpiryInterval(600)],
            Some(("wills/x", 300)),
        );
        assert_eq!(c.next()[0], 0x20);
        drop(c);
    }
    until("every connection gone", || b.broker.stats().connections == 0);
    // No thread per session left waiting (other tests may run threads meanwhile: allow a few).
    assert!(threads() < before + 20, "{} threads now, {before} before", threads());
    assert_eq!(b.broker.stats().sessions, 200);
    // The timer publishes a will when its delay runs out, or when its session ends first
    // [MQTT-3.1.3-9].
    let mut monitor = MiniClient::connect(&b.tcp, "monitor", ConnectOptions::default()).unwrap();
    monitor.subscribe("wills/timed/#", Qos::AtLeastOnce).unwrap();
    for (name, expiry, delay) in [("delay", 600, 1), ("expiry", 1, 300)] {
        let mut c = Raw::connect_with_will(
            &b.tcp,
            name,
            &[Property::SessionExpiryInterval(expiry)],
            Some((&format!("wills/timed/{name}"), delay)),
        );
        assert_eq!(c.next()[0], 0x20);
        drop(c);
        let m = monitor.recv(Duration::from_secs(10)).unwrap().expect("the will");
        assert_eq!(m.topic, format!("wills/timed/{name}"));
    }
}

#[test]
fn a_subscribe_with_ninety_thousand_filters_is_answered_and_stalls_nobody() {
    let b = start(broker::Options::default());
    let names: Vec<String> = (0..90_000).map(|i| format!("f/{i}")).collect();
    let filters: Vec<Subscription<'_>> =
        names.iter().map(|n| Subscription::new(n, Qos::AtMostOnce)).collect();
    let mut big = Raw::connect(&b.tcp, "big", &[]);
    big.next();
    big.send(&Packet::Subscribe(Subscribe::new(PacketId::new(1).unwrap(), &filters)));
    let suback = big.next();
    assert_eq!(suback[0], 0x90);
    assert!(suback.len() > 90_000, "one reason code per filter");
    // The index finds the one subscription that matches.
    let mut publisher = MiniClient::connect(&b.tcp, "p", ConnectOptions::default()).unwrap();
    publisher.publish("f/89999", b"found", Qos::AtMostOnce, false).unwrap();
    let publish = big.next();
    assert!(publish[0] == 0x30 && publish.ends_with(b"found"), "{publish:02x?}");
}

#[test]
fn a_websocket_upgrade_that_stalls_mid_header_is_closed_at_the_deadline() {
    let b = start(broker::Options {
        connect_timeout: Some(Duration::from_millis(500)),
        ..Default::default()
    });
    let mut s = TcpStream::connect(&b.ws).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websock").unwrap();
    let mut buf = [0u8; 256];
    // The broker closes (EOF), well before the test's own 10 s bound.
    assert_eq!(s.read(&mut buf).unwrap(), 0);
    // The same on the MQTT listener for a CONNECT that never completes.
    let mut s = TcpStream::connect(&b.tcp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[0x10, 0x20, 0x00]).unwrap();
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}

#[test]
fn assigned_client_identifiers_are_random() {
    let b = start(broker::Options::default());
    let assigned = || {
        let mut c = Raw::connect(&b.tcp, "", &[]);
        let bytes = c.next();
        let options = DecodeOptions::new(Version::V5);
        let Ok(Status::Progress { event: Packet::ConnAck(ack), .. }) =
            packet::decode(&bytes, &options)
        else {
            panic!("CONNACK: {bytes:02x?}")
        };
        ack.properties.assigned_client_identifier().unwrap().to_owned()
    };
    let (one, two) = (assigned(), assigned());
    assert_ne!(one, two);
    for id in [one, two] {
        let hex = id.strip_prefix("auto-").unwrap();
        assert!(hex.len() == 32 && hex.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
}

#[test]
fn clients_may_not_publish_to_dollar_topics() {
    let b = start(broker::Options::default());
    let mut c = Raw::connect(&b.tcp, "faker", &[]);
    c.next();
    let mut p = packet::Publish::new("$SYS/broker/version", b"fake");
    p.retain = true;
    p.qos_pid = packet::QosPid::AtLeastOnce(PacketId::new(3).unwrap());
    c.send(&Packet::Publish(p));
    assert_eq!(c.next(), [0x40, 0x03, 0x00, 0x03, 0x87], "PUBACK Not authorized");
    // Not retained: a subscriber to `$SYS/#` gets nothing; its next packet is the PINGRESP.
    let mut s = Raw::connect(&b.tcp, "reader", &[]);
    s.next();
    let filters = [Subscription::new("$SYS/#", Qos::AtLeastOnce)];
    s.send(&Packet::Subscribe(Subscribe::new(PacketId::new(1).unwrap(), &filters)));
    assert_eq!(s.next()[0], 0x90);
    s.send(&Packet::PingReq);
    assert_eq!(s.next(), [0xd0, 0x00]);
    let _ = ReasonCode::NotAuthorized;
}

#[test]
fn a_protocol_error_over_websocket_closes_with_1002() {
    let b = start(broker::Options::default());
    let mut s = TcpStream::connect(&b.ws).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Protocol: mqtt\r\n\r\n",
    )
    .unwrap();
    let mut input = Vec::new();
    let mut buf = [0u8; 4096];
    while !input.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        input.extend_from_slice(&buf[..n]);
    }
    assert!(input.starts_with(b"HTTP/1.1 101"));
    let head_end = input.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    input.drain(..head_end);
    // A CONNECT, then a PUBREL with reserved flags 0 (malformed [MQTT-3.6.1-1]), each in a
    // binary frame masked with the zero key (the payload as is).
    let mut connect = vec![0u8; 64];
    let n = Packet::Connect(Connect::new(Version::V5, "ws-bad"))
        .encode(Version::V5, &mut connect)
        .unwrap();
    for payload in [&connect[..n], &[0x60, 0x02, 0x00, 0x01][..]] {
        let mut frame = vec![0x82, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(payload);
        s.write_all(&frame).unwrap();
    }
    // Server frames: CONNACK, DISCONNECT (binary), then Close with its code.
    let code = loop {
        while input.len() < 2 || input.len() < 2 + (input[1] & 0x7f) as usize {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed without a Close frame: {input:02x?}");
            input.extend_from_slice(&buf[..n]);
        }
        let len = (input[1] & 0x7f) as usize;
        let frame: Vec<u8> = input.drain(..2 + len).collect();
        if frame[0] == 0x88 {
            break u16::from_be_bytes([frame[2], frame[3]]);
        }
    };
    assert_eq!(code, 1002);
}
