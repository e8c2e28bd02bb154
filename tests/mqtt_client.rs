//! The MQTT client against a scripted in-memory broker on a virtual clock.
//!
//! Every test plays the broker by hand: it decodes what the client sent and feeds back packets
//! encoded with the codec (or raw bytes for malformed cases). Time only moves when a test moves it.
#![cfg(feature = "mqtt")]

use core::num::{NonZeroU16, NonZeroU32};

use mqtt_ws::Status;
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Error, Event, Outgoing, RemoteFault, SliceStore, State, Store,
    Stored, Timeout, UsageError, request_properties, response_to, server_reference,
};
use mqtt_ws::mqtt::packet::{
    Ack, Auth, ConnAck, DecodeOptions, Disconnect, Packet, PacketType, Publish, QosPid, SubAck,
    Subscription, UnsubAck,
};
use mqtt_ws::mqtt::properties::{Properties, PropertiesBuilder, Property, PropertyId};
use mqtt_ws::mqtt::{DecodeError, PacketId, Qos, ReasonCode, Version};
use mqtt_ws::time::{Duration, Instant};

type TestClient = Client<SliceStore<'static, 8, Vec<u8>>, 4, 4, 64>;

/// What the client reported, owned so tests can collect several.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Connected { session_present: bool, assigned: Option<String> },
    Refused(ReasonCode, Option<String>),
    Message { topic: String, payload: Vec<u8>, qos: Qos, dup: bool },
    Start { topic: String, len: usize },
    Skipped { topic: String, len: usize },
    Chunk { data: Vec<u8>, offset: usize, last: bool },
    Published(u16, ReasonCode),
    Subscribed(u16, Vec<ReasonCode>),
    Unsubscribed(u16, Vec<ReasonCode>),
    Auth(ReasonCode),
    Disconnected(ReasonCode, Option<String>),
    Pong,
}

fn own<const N: usize>(e: Event<'_, N>) -> Ev {
    match e {
        Event::Connected(c) => Ev::Connected {
            session_present: c.session_present,
            assigned: c.assigned_client_id().map(String::from),
        },
        Event::Refused { reason_code: reason, properties } => {
            Ev::Refused(reason, server_reference(&properties).map(String::from))
        }
        Event::Message(m) => {
            Ev::Message { topic: m.topic.into(), payload: m.payload.into(), qos: m.qos, dup: m.dup }
        }
        Event::MessageStart { message, payload_len } => {
            Ev::Start { topic: message.topic.into(), len: payload_len }
        }
        Event::MessageSkipped { message, payload_len } => {
            Ev::Skipped { topic: message.topic.into(), len: payload_len }
        }
        Event::MessageChunk { data, offset, last } => Ev::Chunk { data: data.into(), offset, last },
        Event::Published { packet_id, reason_code: reason, .. } => {
            Ev::Published(packet_id.get(), reason)
        }
        Event::Subscribed { packet_id, reason_codes, .. } => {
            Ev::Subscribed(packet_id.get(), reason_codes.iter().collect())
        }
        Event::Unsubscribed { packet_id, reason_codes, .. } => {
            Ev::Unsubscribed(packet_id.get(), reason_codes.iter().collect())
        }
        Event::Auth { reason_code: reason, .. } => Ev::Auth(reason),
        Event::Disconnected { reason_code: reason, properties } => {
            Ev::Disconnected(reason, server_reference(&properties).map(String::from))
        }
        Event::Pong => Ev::Pong,
    }
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn enc(version: Version, p: Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = p.encode(version, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn props(list: &[Property<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut b = PropertiesBuilder::new(&mut buf);
    for p in list {
        b.push(*p).unwrap();
    }
    let n = b.len();
    buf.truncate(n);
    buf
}

fn parse(raw: &[u8], ctx: mqtt_ws::mqtt::properties::PropertyContext) -> Properties<'_> {
    Properties::parse(raw, ctx).unwrap()
}

/// A client wired to a test broker on a virtual clock.
struct Harness {
    client: TestClient,
    now: Instant,
    version: Version,
    rx: Vec<u8>,
}

impl Harness {
    fn with(config: Config) -> Self {
        Self {
            client: Client::new(SliceStore::with_buffer(vec![0u8; 4096]), config),
            now: Instant::from_secs(1000),
            version: Version::V5,
            rx: Vec::new(),
        }
    }

    fn new() -> Self {
        Self::with(Config::new(1024))
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
    }

    fn connect(&mut self, opts: &ConnectOptions<'_>) -> Vec<u8> {
        self.version = opts.version;
        let mut out = vec![0u8; 1024];
        let n = self.client.connect(self.now, opts, &mut out).unwrap();
        out.truncate(n);
        out
    }

    /// CONNECT then a CONNACK with `connack_props`.
    fn connected(&mut self, connack_props: &[Property<'_>]) {
        self.connect(&ConnectOptions::new("c1"));
        self.connack(false, connack_props);
    }

    fn connack(&mut self, session_present: bool, connack_props: &[Property<'_>]) -> Vec<Ev> {
        let raw = props(connack_props);
        let mut c = ConnAck::new(ReasonCode::Success);
        c.session_present = session_present;
        c.properties = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::ConnAck);
        let ev = self.feed(&enc(self.version, Packet::ConnAck(c))).unwrap();
        assert!(matches!(ev[..], [Ev::Connected { .. }]), "{ev:?}");
        ev
    }

    /// Feeds `bytes` whole.
    fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Ev>, Error> {
        self.feed_in(bytes, usize::MAX)
    }

    /// Feeds `bytes` in pieces of `step` bytes, as a transport might deliver them.
    fn feed_in(&mut self, bytes: &[u8], step: usize) -> Result<Vec<Ev>, Error> {
        let mut events = Vec::new();
        for piece in bytes.chunks(step.min(bytes.len().max(1))) {
            self.rx.extend_from_slice(piece);
            loop {
                match self.client.handle_input(self.now, &self.rx)? {
                    Status::NeedMore { needed } => {
                        assert!(needed >= 1);
                        break;
                    }
                    Status::Progress { consumed, event } => {
                        assert!(consumed > 0 && consumed <= self.rx.len());
                        if let Some(e) = event {
                            events.push(own(e));
                        }
                        self.rx.drain(..consumed);
                        if self.rx.is_empty() {
                            break;
                        }
                    }
                    status => panic!("{status:?}"),
                }
            }
        }
        Ok(events)
    }

    /// Everything `poll_transmit` owes, one packet per entry.
    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut buf = vec![0u8; 2048];
            match self.client.poll_transmit(self.now, &mut buf).unwrap() {
                Some(n) => {
                    buf.truncate(n);
                    out.push(buf);
                }
                None => return out,
            }
        }
    }

    fn publish(&mut self, msg: &Outgoing<'_>) -> Result<(Vec<u8>, Option<PacketId>), Error> {
        let mut out = vec![0u8; 2048];
        let sent = self.client.publish(self.now, msg, &mut out)?;
        out.truncate(sent.len);
        Ok((out, sent.packet_id))
    }

    fn decode<'b>(&self, bytes: &'b [u8]) -> Packet<'b> {
        match mqtt_ws::mqtt::packet::decode(bytes, &DecodeOptions::new(self.version)).unwrap() {
            Status::Progress { consumed: n, event: p } => {
                assert_eq!(n, bytes.len());
                p
            }
            other => panic!("{other:?}"),
        }
    }
}

fn ack(ty: PacketType, id: u16) -> Vec<u8> {
    let a = Ack::new(pid(id));
    let p = match ty {
        PacketType::PubAck => Packet::PubAck(a),
        PacketType::PubRec => Packet::PubRec(a),
        PacketType::PubRel => Packet::PubRel(a),
        _ => Packet::PubComp(a),
    };
    enc(Version::V5, p)
}

fn incoming(topic: &str, payload: &[u8], qos_pid: QosPid, dup: bool) -> Vec<u8> {
    let mut p = Publish::new(topic, payload);
    p.qos_pid = qos_pid;
    p.dup = dup;
    enc(Version::V5, Packet::Publish(p))
}

fn is_remote(e: Error, fault: RemoteFault, reason: ReasonCode) {
    match e {
        Error::Remote(r) => {
            assert_eq!(r.fault, fault);
            assert_eq!(r.reason(), reason);
        }
        other => panic!("{other:?}"),
    }
}

fn disconnect_reason(h: &Harness, out: &[Vec<u8>]) -> ReasonCode {
    assert_eq!(out.len(), 1, "one DISCONNECT");
    match h.decode(&out[0]) {
        Packet::Disconnect(d) => d.reason_code,
        other => panic!("{other:?}"),
    }
}

#[test]
fn connect_announces_limits_and_honours_connack() {
    let mut h =
        Harness::with(Config { max_packet_size: NonZeroU32::new(2000), ..Config::new(1024) });
    let mut opts = ConnectOptions::new("");
    opts.keep_alive = 30;
    opts.session_expiry = 3600;
    opts.request_response_information = true;
    opts.user_properties = &[("k", "v")];
    opts.username = Some("u");
    opts.password = Some(b"p");
    let connect = h.connect(&opts);
    match h.decode(&connect) {
        Packet::Connect(c) => {
            assert_eq!(c.keep_alive, 30);
            assert_eq!(c.username, Some("u"));
            let p = c.properties;
            assert_eq!(
                p.get(PropertyId::ReceiveMaximum),
                Some(Property::ReceiveMaximum(NonZeroU16::new(4).unwrap()))
            );
            assert_eq!(p.get(PropertyId::TopicAliasMaximum), Some(Property::TopicAliasMaximum(4)));
            assert_eq!(
                p.get(PropertyId::MaximumPacketSize),
                Some(Property::MaximumPacketSize(NonZeroU32::new(2000).unwrap()))
            );
            assert_eq!(
                p.get(PropertyId::SessionExpiryInterval),
                Some(Property::SessionExpiryInterval(3600))
            );
            assert_eq!(p.user_properties().collect::<Vec<_>>(), [("k", "v")]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.client.state(), State::Connecting);
    let mut out = [0u8; 8];
    assert_eq!(
        h.client.publish(h.now, &Outgoing::new("t", b""), &mut out),
        Err(Error::Usage(UsageError::NotConnected))
    );
    let ev = h.connack(
        false,
        &[
            Property::AssignedClientIdentifier("auto-1"),
            Property::ServerKeepAlive(10),
            Property::ReceiveMaximum(NonZeroU16::new(2).unwrap()),
            Property::MaximumQos(Qos::AtLeastOnce),
            Property::RetainAvailable(false),
            Property::MaximumPacketSize(NonZeroU32::new(64).unwrap()),
            Property::WildcardSubscriptionAvailable(false),
            Property::SharedSubscriptionAvailable(false),
            Property::SubscriptionIdentifierAvailable(false),
        ],
    );
    assert_eq!(ev, [Ev::Connected { session_present: false, assigned: Some("auto-1".into()) }]);
    assert_eq!(h.client.keep_alive(), 10, "[MQTT-3.2.2-21] the server's keep alive wins");
    let s = *h.client.server();
    assert_eq!(
        (s.receive_maximum, s.maximum_qos, s.retain_available),
        (2, Qos::AtLeastOnce, false)
    );
    // Requests the server said it cannot take are refused locally, nothing sent.
    let e = |r: Result<(Vec<u8>, Option<PacketId>), Error>| r.unwrap_err();
    assert_eq!(
        e(h.publish(&Outgoing::new("t", b"x").qos(Qos::ExactlyOnce))),
        Error::Usage(UsageError::QosNotSupported)
    );
    assert_eq!(
        e(h.publish(&Outgoing::new("t", b"x").retain(true))),
        Error::Usage(UsageError::RetainNotSupported)
    );
    assert_eq!(
        e(h.publish(&Outgoing::new("t", &[0u8; 100]))),
        Error::Usage(UsageError::PacketTooLarge { len: 106, max: 64 })
    );
    let mut out = [0u8; 64];
    let mut sub = |f: &str, props: Properties<'_>| {
        h.client.subscribe(h.now, &[Subscription::new(f, Qos::AtMostOnce)], props, &mut out)
    };
    assert_eq!(
        sub("a/+", Properties::EMPTY),
        Err(UsageError::WildcardSubscriptionsNotSupported.into())
    );
    assert_eq!(
        sub("$share/g/a", Properties::EMPTY),
        Err(UsageError::SharedSubscriptionsNotSupported.into())
    );
    let raw = props(&[Property::SubscriptionIdentifier(NonZeroU32::new(5).unwrap())]);
    let p = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Subscribe);
    assert_eq!(sub("a", p), Err(UsageError::SubscriptionIdentifiersNotSupported.into()));
    assert!(h.drain().is_empty());
    assert_eq!(h.client.in_flight(), 0);
}

#[test]
fn shared_subscription_filters_are_checked_by_the_encoder() {
    // The client only classifies a filter as shared (`$share/` prefix) to refuse it when the
    // server has none; an invalid one is the encoder's error, and nothing is sent.
    let mut h = Harness::new();
    h.connected(&[]);
    let mut out = [0u8; 64];
    for bad in ["$share/", "$share/g", "$share/g/", "$share/+/a"] {
        let sub = [Subscription::new(bad, Qos::AtMostOnce)];
        assert_eq!(
            h.client.subscribe(h.now, &sub, Properties::EMPTY, &mut out),
            Err(mqtt_ws::mqtt::EncodeError::InvalidTopicFilter.into()),
            "{bad}"
        );
    }
    let sub = [Subscription::new("$share/g/a/#", Qos::AtMostOnce)];
    assert!(h.client.subscribe(h.now, &sub, Properties::EMPTY, &mut out).is_ok());
}

#[test]
fn connect_properties_longer_than_the_scratch_are_refused() {
    let mut h = Harness::new();
    let long = "v".repeat(200);
    let pairs = [("a", long.as_str()), ("b", long.as_str()), ("c", long.as_str())];
    let mut opts = ConnectOptions::new("c");
    opts.user_properties = &pairs;
    let mut out = vec![0u8; 2048];
    assert_eq!(
        h.client.connect(h.now, &opts, &mut out),
        Err(Error::Usage(UsageError::PropertiesTooLong))
    );
    assert_eq!(h.client.state(), mqtt_ws::mqtt::client::State::Disconnected);
    let bad = [("k", "a\0")];
    opts.user_properties = &bad;
    assert_eq!(
        h.client.connect(h.now, &opts, &mut out),
        Err(mqtt_ws::mqtt::EncodeError::NullCharacter.into())
    );
    opts.user_properties = &pairs[..2];
    assert!(h.client.connect(h.now, &opts, &mut out).is_ok());
}

#[test]
fn acknowledgements_that_do_not_match_the_exchange_are_protocol_errors() {
    // (QoS of the message, PUBREC seen first, the acknowledgement that does not fit)
    let cases = [
        (Qos::ExactlyOnce, false, PacketType::PubAck),
        (Qos::ExactlyOnce, true, PacketType::PubAck),
        (Qos::AtLeastOnce, false, PacketType::PubRec),
        (Qos::AtLeastOnce, false, PacketType::PubComp),
        (Qos::ExactlyOnce, false, PacketType::PubComp),
    ];
    for (qos, released, ty) in cases {
        let mut h = Harness::new();
        h.connected(&[]);
        let (_, id) = h.publish(&Outgoing::new("t", b"x").qos(qos)).unwrap();
        let id = id.unwrap().get();
        if released {
            assert_eq!(h.feed(&ack(PacketType::PubRec, id)).unwrap(), []);
            assert_eq!(h.drain(), [ack(PacketType::PubRel, id)]);
        }
        let e = h.feed(&ack(ty, id)).unwrap_err();
        is_remote(e, RemoteFault::AckMismatch, ReasonCode::ProtocolError);
    }
    // Unknown identifiers: PUBACK and PUBCOMP are ignored, PUBREC is answered with a PUBREL
    // carrying Packet Identifier Not Found.
    let mut h = Harness::new();
    h.connected(&[]);
    assert_eq!(h.feed(&ack(PacketType::PubAck, 9)).unwrap(), []);
    assert_eq!(h.feed(&ack(PacketType::PubComp, 9)).unwrap(), []);
    assert!(h.drain().is_empty());
    assert_eq!(h.feed(&ack(PacketType::PubRec, 9)).unwrap(), []);
    let mut a = Ack::new(pid(9));
    a.reason_code = ReasonCode::PacketIdentifierNotFound;
    assert_eq!(h.drain(), [enc(Version::V5, Packet::PubRel(a))]);
}

#[test]
fn keep_alive_pings_when_idle_and_times_out() {
    let mut h = Harness::new();
    let mut opts = ConnectOptions::new("c");
    opts.keep_alive = 10;
    h.connect(&opts);
    let start = h.now;
    assert_eq!(h.client.poll_timeout(), Some(start + Duration::from_secs(30)), "CONNACK deadline");
    h.connack(false, &[]);
    assert_eq!(h.client.poll_timeout(), Some(start + Duration::from_secs(10)));
    // Early calls do nothing.
    h.advance(Duration::from_secs(9));
    h.client.handle_timeout(h.now).unwrap();
    h.client.handle_timeout(h.now).unwrap();
    assert!(h.drain().is_empty());
    h.advance(Duration::from_secs(1));
    h.client.handle_timeout(h.now).unwrap();
    h.client.handle_timeout(h.now).unwrap();
    assert_eq!(h.drain(), [vec![0xC0, 0x00]], "one PINGREQ");
    assert_eq!(h.client.poll_timeout(), Some(h.now + Duration::from_secs(10)));
    h.advance(Duration::from_secs(2));
    assert_eq!(h.feed(&[0xD0, 0x00]).unwrap(), [Ev::Pong]);
    // Sending anything resets the idle timer.
    h.publish(&Outgoing::new("t", b"x")).unwrap();
    assert_eq!(h.client.poll_timeout(), Some(h.now + Duration::from_secs(10)));
    h.advance(Duration::from_secs(10));
    h.client.handle_timeout(h.now).unwrap();
    assert_eq!(h.drain(), [vec![0xC0, 0x00]]);
    h.advance(Duration::from_secs(9));
    h.client.handle_timeout(h.now).unwrap();
    h.advance(Duration::from_secs(1));
    assert_eq!(h.client.handle_timeout(h.now), Err(Error::Timeout(Timeout::PingResp)));
    assert_eq!(h.client.state(), State::Disconnected);
    assert_eq!(h.client.handle_timeout(h.now), Ok(()), "idempotent");
    assert_eq!(h.client.poll_timeout(), None);
}

#[test]
fn connack_timeout() {
    let mut h = Harness::new();
    h.connect(&ConnectOptions::new("c"));
    h.advance(Duration::from_secs(29));
    assert_eq!(h.client.handle_timeout(h.now), Ok(()));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.client.handle_timeout(h.now), Err(Error::Timeout(Timeout::ConnAck)));
    assert_eq!(h.client.state(), State::Disconnected);
}

#[test]
fn qos1_and_qos2_outgoing() {
    let mut h = Harness::new();
    h.connected(&[]);
    let (bytes, id1) = h.publish(&Outgoing::new("a", b"1").qos(Qos::AtLeastOnce)).unwrap();
    assert_eq!(bytes, [0x32, 0x07, 0, 1, b'a', 0, 1, 0, b'1']);
    let (_, id2) = h.publish(&Outgoing::new("a", b"2").qos(Qos::ExactlyOnce)).unwrap();
    assert_eq!((id1, id2), (Some(pid(1)), Some(pid(2))));
    assert_eq!(h.client.in_flight(), 2);
    assert_eq!(
        h.feed(&ack(PacketType::PubAck, 1)).unwrap(),
        [Ev::Published(1, ReasonCode::Success)]
    );
    assert_eq!(h.feed(&ack(PacketType::PubAck, 1)).unwrap(), [], "duplicate PUBACK ignored");
    assert_eq!(h.feed(&ack(PacketType::PubRec, 2)).unwrap(), []);
    assert_eq!(h.drain(), [vec![0x62, 0x02, 0, 2]], "PUBREL");
    assert_eq!(h.client.store().get(0), Some(Stored::Released { id: pid(2) }));
    // A re-sent PUBREC gets the PUBREL again.
    h.feed(&ack(PacketType::PubRec, 2)).unwrap();
    assert_eq!(h.drain(), [vec![0x62, 0x02, 0, 2]]);
    assert_eq!(
        h.feed(&ack(PacketType::PubComp, 2)).unwrap(),
        [Ev::Published(2, ReasonCode::Success)]
    );
    assert_eq!(h.client.in_flight(), 0);
    assert_eq!(h.feed(&ack(PacketType::PubComp, 2)).unwrap(), []);
    // PUBREC with an error ends the exchange.
    let (_, id) = h.publish(&Outgoing::new("a", b"3").qos(Qos::ExactlyOnce)).unwrap();
    let mut a = Ack::new(id.unwrap());
    a.reason_code = ReasonCode::NotAuthorized;
    let ev = h.feed(&enc(Version::V5, Packet::PubRec(a))).unwrap();
    assert_eq!(ev, [Ev::Published(3, ReasonCode::NotAuthorized)]);
    assert!(h.drain().is_empty());
    // PUBREC for an unknown id: PUBREL with Packet Identifier Not Found.
    h.feed(&ack(PacketType::PubRec, 77)).unwrap();
    let out = h.drain();
    match h.decode(&out[0]) {
        Packet::PubRel(a) => assert_eq!(a.reason_code, ReasonCode::PacketIdentifierNotFound),
        other => panic!("{other:?}"),
    }
}

#[test]
fn qos2_incoming_exactly_once_with_duplicates() {
    for step in [usize::MAX, 1, 3] {
        let mut h = Harness::new();
        h.connected(&[]);
        let p = incoming("t/x", b"hello", QosPid::ExactlyOnce(pid(7)), false);
        let ev = h.feed_in(&p, step).unwrap();
        let msg = Ev::Message {
            topic: "t/x".into(),
            payload: b"hello".to_vec(),
            qos: Qos::ExactlyOnce,
            dup: false,
        };
        assert_eq!(ev, std::slice::from_ref(&msg));
        assert_eq!(h.drain(), [vec![0x50, 0x02, 0, 7]], "PUBREC");
        // The broker re-sends (DUP): acknowledged, not delivered.
        let dup = incoming("t/x", b"hello", QosPid::ExactlyOnce(pid(7)), true);
        assert_eq!(h.feed_in(&dup, step).unwrap(), []);
        assert_eq!(h.drain(), [vec![0x50, 0x02, 0, 7]]);
        h.feed_in(&ack(PacketType::PubRel, 7), step).unwrap();
        assert_eq!(h.drain(), [vec![0x70, 0x02, 0, 7]], "PUBCOMP");
        // A PUBREL again: PUBCOMP with Packet Identifier Not Found.
        h.feed(&ack(PacketType::PubRel, 7)).unwrap();
        assert_eq!(h.drain(), [vec![0x70, 0x03, 0, 7, 0x92]]);
        // The id is free again: a new message with it is delivered.
        assert_eq!(h.feed(&p).unwrap(), [msg]);
        // QoS 1 and QoS 0.
        let ev = h.feed(&incoming("q1", b"", QosPid::AtLeastOnce(pid(9)), false)).unwrap();
        assert!(matches!(ev[..], [Ev::Message { qos: Qos::AtLeastOnce, .. }]));
        let out = h.drain();
        assert_eq!(out, [vec![0x50, 0x02, 0, 7], vec![0x40, 0x02, 0, 9]]);
        let ev = h.feed(&incoming("q0", b"z", QosPid::AtMostOnce, false)).unwrap();
        assert!(matches!(ev[..], [Ev::Message { qos: Qos::AtMostOnce, .. }]));
        assert!(h.drain().is_empty());
    }
}

#[test]
fn trailing_bytes_are_left_untouched() {
    let mut h = Harness::new();
    h.connected(&[]);
    let mut bytes = incoming("t", b"x", QosPid::AtMostOnce, false);
    let len = bytes.len();
    bytes.extend_from_slice(&[0x30, 0x05, 0x00]); // the start of the next packet
    match h.client.handle_input(h.now, &bytes).unwrap() {
        Status::Progress { consumed, .. } => assert_eq!(consumed, len),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.client.handle_input(h.now, &bytes[len..]).unwrap(),
        Status::NeedMore { needed: 4 }
    );
}

#[test]
fn a_resumed_session_announces_only_the_free_qos2_slots() {
    let mut h = Harness::new();
    h.connected(&[]);
    for id in 1..=3 {
        h.feed(&incoming("t", b"", QosPid::ExactlyOnce(pid(id)), false)).unwrap();
    }
    h.drain();
    h.client.connection_lost();
    let announced = |h: &mut Harness, clean_start: bool| {
        let mut opts = ConnectOptions::new("c1");
        opts.clean_start = clean_start;
        opts.session_expiry = 60;
        let connect = h.connect(&opts);
        let rm = match h.decode(&connect) {
            Packet::Connect(c) => match c.properties.get(PropertyId::ReceiveMaximum) {
                Some(Property::ReceiveMaximum(v)) => v.get(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        h.client.connection_lost();
        rm
    };
    // RX = 4, three carried over: the server may send one more before PUBRELs free slots.
    assert_eq!(announced(&mut h, false), 1);
    // A re-sent PUBLISH of a carried message is acknowledged, not delivered; one new fits.
    h.connect(&ConnectOptions { clean_start: false, ..ConnectOptions::new("c1") });
    h.connack(true, &[]);
    assert!(h.feed(&incoming("t", b"", QosPid::ExactlyOnce(pid(2)), true)).unwrap().is_empty());
    assert_eq!(h.feed(&incoming("t", b"", QosPid::ExactlyOnce(pid(9)), false)).unwrap().len(), 1);
    h.drain();
    h.client.connection_lost();
    assert_eq!(announced(&mut h, true), 4, "clean start forgets the carried messages");
}

#[test]
fn incoming_qos2_beyond_receive_maximum_is_a_fault() {
    let mut h = Harness::new();
    h.connected(&[]);
    for id in 1..=4 {
        h.feed(&incoming("t", b"", QosPid::ExactlyOnce(pid(id)), false)).unwrap();
    }
    h.drain();
    let e = h.feed(&incoming("t", b"", QosPid::ExactlyOnce(pid(5)), false)).unwrap_err();
    is_remote(e, RemoteFault::ReceiveMaximumExceeded, ReasonCode::ReceiveMaximumExceeded);
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::ReceiveMaximumExceeded);
    assert_eq!(h.client.state(), State::Disconnected);
}

/// The sequence seen from Mosquitto 2.0.11 with a backlog queued for a QoS 2 subscriber. A QoS 2
/// message holds one of the Receive Maximum slots from its PUBLISH until the client's PUBCOMP
/// [MQTT-3.3.4-9] (§4.9: the server's quota is only replenished by PUBCOMP). On each PUBCOMP
/// for the oldest message in flight, that broker moves up to Receive Maximum queued messages
/// into flight regardless of how many are still in flight, so it overshoots. RX = 4.
#[test]
fn qos2_slots_free_at_pubcomp_and_an_overshooting_broker_is_refused_every_time() {
    let qos2 = |id: u16, dup: bool| incoming("t", b"m", QosPid::ExactlyOnce(pid(id)), dup);
    let mut h = Harness::new();
    let mut opts = ConnectOptions::new("c1");
    opts.session_expiry = 600;
    let connect = h.connect(&opts);
    match h.decode(&connect) {
        Packet::Connect(c) => assert_eq!(
            c.properties.get(PropertyId::ReceiveMaximum),
            Some(Property::ReceiveMaximum(NonZeroU16::new(4).unwrap()))
        ),
        other => panic!("{other:?}"),
    }
    h.connack(false, &[]);
    // Four in flight: the quota the client announced.
    for id in 1..=4 {
        assert_eq!(h.feed(&qos2(id, false)).unwrap().len(), 1);
        assert_eq!(h.drain(), [vec![0x50, 0x02, 0, id as u8]], "PUBREC {id}");
    }
    // PUBREL 1 / PUBCOMP 1 frees exactly one slot: one new message is within the quota.
    assert!(h.feed(&ack(PacketType::PubRel, 1)).unwrap().is_empty());
    assert_eq!(h.drain(), [vec![0x70, 0x02, 0, 1]], "PUBCOMP 1");
    assert_eq!(h.feed(&qos2(5, false)).unwrap().len(), 1);
    h.drain();
    // PUBREL 2 / PUBCOMP 2, then the broker sends two new ones for the one freed slot.
    h.feed(&ack(PacketType::PubRel, 2)).unwrap();
    h.drain();
    assert_eq!(h.feed(&qos2(6, false)).unwrap().len(), 1, "3, 4, 5, 6 in flight");
    let e = h.feed(&qos2(7, false)).unwrap_err();
    is_remote(e, RemoteFault::ReceiveMaximumExceeded, ReasonCode::ReceiveMaximumExceeded);
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::ReceiveMaximumExceeded);
    assert_eq!(h.client.state(), State::Disconnected);
    h.rx.clear(); // the transport closes with the refused PUBLISH unread

    // Resumed: 3, 4, 5 and 6 still wait for their PUBREL, no slot is free, and a Receive
    // Maximum cannot be 0: the client announces 1.
    opts.clean_start = false;
    let connect = h.connect(&opts);
    match h.decode(&connect) {
        Packet::Connect(c) => assert_eq!(
            c.properties.get(PropertyId::ReceiveMaximum),
            Some(Property::ReceiveMaximum(NonZeroU16::MIN))
        ),
        other => panic!("{other:?}"),
    }
    h.connack(true, &[]);
    // The broker re-sends the PUBRELs [MQTT-4.4.0-1], then the unacknowledged PUBLISH 7.
    for id in 3..=6 {
        assert!(h.feed(&ack(PacketType::PubRel, id)).unwrap().is_empty());
        assert_eq!(h.drain(), [vec![0x70, 0x02, 0, id as u8]], "PUBCOMP {id}");
    }
    assert_eq!(h.feed(&qos2(7, true)).unwrap().len(), 1, "7 was never delivered");
    h.drain();
    // Compliant: three more fill the four slots. The backlog's next PUBLISH overshoots again,
    // and the caller sees the same typed error on this connection too (no silent loop).
    for id in 8..=10 {
        assert_eq!(h.feed(&qos2(id, false)).unwrap().len(), 1);
    }
    h.drain();
    let e = h.feed(&qos2(11, false)).unwrap_err();
    is_remote(e, RemoteFault::ReceiveMaximumExceeded, ReasonCode::ReceiveMaximumExceeded);
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn receive_maximum_flow_control_and_packet_ids() {
    let mut h = Harness::new();
    h.connected(&[Property::ReceiveMaximum(NonZeroU16::new(3).unwrap())]);
    let q1 = Outgoing::new("t", b"x").qos(Qos::AtLeastOnce);
    for want in 1..=3 {
        assert_eq!(h.publish(&q1).unwrap().1, Some(pid(want)));
    }
    assert_eq!(h.publish(&q1).unwrap_err(), Error::Usage(UsageError::ReceiveMaximumReached));
    // QoS 0 is not counted.
    h.publish(&Outgoing::new("t", b"x")).unwrap();
    h.feed(&ack(PacketType::PubAck, 2)).unwrap();
    // Id 2 is free, ids 1 and 3 are still in flight: the allocator moves on to 4.
    assert_eq!(h.publish(&q1).unwrap().1, Some(pid(4)));
    assert_eq!(h.publish(&q1).unwrap_err(), Error::Usage(UsageError::ReceiveMaximumReached));
}

#[test]
fn store_full_is_a_typed_error() {
    let mut client: Client<SliceStore<'static, 2, Vec<u8>>> =
        Client::new(SliceStore::with_buffer(vec![0u8; 16]), Config::new(256));
    let mut out = [0u8; 256];
    client.connect(Instant::ZERO, &ConnectOptions::new("c"), &mut out).unwrap();
    let connack = enc(Version::V5, Packet::ConnAck(ConnAck::new(ReasonCode::Success)));
    let _ = client.handle_input(Instant::ZERO, &connack).unwrap();
    let m = Outgoing::new("t", b"0123456789").qos(Qos::AtLeastOnce);
    assert_eq!(
        client.publish(Instant::ZERO, &m, &mut out),
        Err(Error::Usage(UsageError::StoreFull))
    );
    assert_eq!(client.in_flight(), 0);
    let small = Outgoing::new("t", b"").qos(Qos::AtLeastOnce);
    client.publish(Instant::ZERO, &small, &mut out).unwrap();
    client.publish(Instant::ZERO, &small, &mut out).unwrap();
    assert_eq!(
        client.publish(Instant::ZERO, &small, &mut out),
        Err(Error::Usage(UsageError::StoreFull))
    );
    // Too small a buffer: the exact size, nothing stored.
    let mut tiny = [0u8; 3];
    let mut c2 = client;
    let _ = c2.handle_input(Instant::ZERO, &ack(PacketType::PubAck, 1)).unwrap();
    assert_eq!(
        c2.publish(Instant::ZERO, &small, &mut tiny),
        Err(Error::Usage(UsageError::Encode(mqtt_ws::mqtt::EncodeError::BufferTooSmall {
            required: 8
        })))
    );
    assert_eq!(c2.in_flight(), 1);
}

#[test]
fn reconnect_resends_with_dup_and_pubrel() {
    let mut h = Harness::new();
    let mut opts = ConnectOptions::new("c");
    opts.clean_start = false;
    opts.session_expiry = 600;
    h.connect(&opts);
    h.connack(false, &[Property::TopicAliasMaximum(5)]);
    let (first, _) = h.publish(&Outgoing::new("s/1", b"one").qos(Qos::AtLeastOnce)).unwrap();
    assert_eq!(h.decode(&first).packet_type(), PacketType::Publish);
    h.publish(&Outgoing::new("s/1", b"two").qos(Qos::ExactlyOnce)).unwrap();
    h.publish(&Outgoing::new("s/1", b"three").qos(Qos::AtLeastOnce)).unwrap();
    h.feed(&ack(PacketType::PubRec, 2)).unwrap();
    h.drain();
    // The network drops; reconnect resuming the session.
    h.client.handle_timeout(h.now).unwrap();
    let mut out = [0u8; 64];
    assert_eq!(
        h.client.connect(h.now, &opts, &mut out),
        Err(Error::Usage(UsageError::AlreadyConnected))
    );
    let mut h2 = h;
    // The transport died: the caller says so and reconnects.
    h2.client.connection_lost();
    assert_eq!(h2.client.state(), State::Disconnected);
    assert_eq!(h2.client.in_flight(), 3);
    h2.connect(&opts);
    assert!(h2.drain().is_empty(), "nothing re-sent before CONNACK");
    h2.connack(true, &[]);
    let out = h2.drain();
    assert_eq!(out.len(), 3);
    match h2.decode(&out[0]) {
        Packet::Publish(p) => {
            assert!(p.dup, "[MQTT-3.3.1-1] DUP on re-delivery");
            assert_eq!(
                (p.topic, p.payload, p.qos_pid),
                ("s/1", &b"one"[..], QosPid::AtLeastOnce(pid(1)))
            );
            assert!(p.properties.topic_alias().is_none(), "aliases do not survive a connection");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out[1], [0x62, 0x02, 0, 2], "PUBREL re-sent in order");
    match h2.decode(&out[2]) {
        Packet::Publish(p) => assert_eq!((p.dup, p.payload), (true, &b"three"[..])),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h2.feed(&ack(PacketType::PubComp, 2)).unwrap(),
        [Ev::Published(2, ReasonCode::Success)]
    );
    // Without a session on the server, the store is dropped.
    let mut buf = [0u8; 64];
    h2.client
        .disconnect(h2.now, ReasonCode::NormalDisconnection, Properties::EMPTY, &mut buf)
        .unwrap();
    h2.connect(&opts);
    h2.connack(false, &[]);
    assert!(h2.drain().is_empty());
    assert_eq!(h2.client.in_flight(), 0);
}

#[test]
fn outgoing_topic_aliases() {
    let mut h = Harness::new();
    h.connected(&[Property::TopicAliasMaximum(2)]);
    let topic_and_alias = |h: &Harness, bytes: &[u8]| match h.decode(bytes) {
        Packet::Publish(p) => (p.topic.to_string(), p.properties.topic_alias().map(|a| a.get())),
        other => panic!("{other:?}"),
    };
    let (b, _) = h.publish(&Outgoing::new("home/a", b"1")).unwrap();
    assert_eq!(topic_and_alias(&h, &b), ("home/a".into(), Some(1)));
    let (b, _) = h.publish(&Outgoing::new("home/a", b"2")).unwrap();
    assert_eq!(topic_and_alias(&h, &b), ("".into(), Some(1)));
    let (b, _) = h.publish(&Outgoing::new("home/b", b"3").qos(Qos::AtLeastOnce)).unwrap();
    assert_eq!(topic_and_alias(&h, &b), ("home/b".into(), Some(2)));
    let (b, _) = h.publish(&Outgoing::new("home/b", b"3").qos(Qos::AtLeastOnce)).unwrap();
    assert_eq!(topic_and_alias(&h, &b), ("".into(), Some(2)));
    match h.client.store().get(1) {
        Some(Stored::Publish { packet, .. }) => {
            assert_eq!(topic_and_alias(&h, packet), ("home/b".into(), None), "stored in full")
        }
        other => panic!("{other:?}"),
    }
    let (b, _) = h.publish(&Outgoing::new("home/c", b"4")).unwrap();
    assert_eq!(topic_and_alias(&h, &b), ("home/c".into(), None), "the server's maximum is 2");
    // A new connection starts without aliases.
    let mut out = [0u8; 16];
    h.client
        .disconnect(h.now, ReasonCode::NormalDisconnection, Properties::EMPTY, &mut out)
        .unwrap();
    h.connected(&[Property::TopicAliasMaximum(2)]);
    let (b, _) = h.publish(&Outgoing::new("home/a", b"5")).unwrap();
    assert_eq!(topic_and_alias(&h, &b), ("home/a".into(), Some(1)));
    // A caller-set alias is refused: the client owns them.
    let raw = props(&[Property::TopicAlias(NonZeroU16::new(1).unwrap())]);
    let p = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Publish);
    assert_eq!(
        h.publish(&Outgoing::new("x", b"").properties(p)).unwrap_err(),
        Error::Usage(UsageError::TopicAliasNotAllowed)
    );
}

fn aliased(topic: &str, alias: u16) -> Vec<u8> {
    let raw = props(&[Property::TopicAlias(NonZeroU16::new(alias).unwrap())]);
    let mut p = Publish::new(topic, b"v");
    p.properties = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Publish);
    enc(Version::V5, Packet::Publish(p))
}

/// An event borrows the input only: the client takes commands while a message is held, and a
/// topic that arrived as an alias alone is still readable after the alias table changes.
#[test]
fn a_held_message_leaves_the_client_free() {
    let mut h = Harness::new();
    h.connected(&[]);
    h.feed(&aliased("sensors/1/temp", 1)).unwrap();
    let input = aliased("", 1);
    let Status::Progress { event: Some(Event::Message(m)), .. } =
        h.client.handle_input(h.now, &input).unwrap()
    else {
        panic!("a message")
    };
    // Reply while holding the message, then change the alias mapping under it.
    let reply = format!("{}/ack", m.topic);
    let mut out = [0u8; 128];
    h.client.publish(h.now, &Outgoing::new(&reply, m.payload), &mut out).unwrap();
    let remap = aliased("other", 1);
    let _ = h.client.handle_input(h.now, &remap).unwrap();
    assert_eq!(m.topic, "sensors/1/temp");
    assert_eq!(m.topic.as_input(), None);
    assert_eq!(reply, "sensors/1/temp/ack");
}

#[test]
fn incoming_topic_aliases() {
    let mut h = Harness::new();
    h.connected(&[]);
    let topic = |ev: &[Ev]| match ev {
        [Ev::Message { topic, .. }] => topic.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(topic(&h.feed(&aliased("x/y", 1)).unwrap()), "x/y");
    assert_eq!(topic(&h.feed(&aliased("", 1)).unwrap()), "x/y");
    assert_eq!(topic(&h.feed(&aliased("x/z", 1)).unwrap()), "x/z", "remapped");
    assert_eq!(topic(&h.feed(&aliased("", 1)).unwrap()), "x/z");
    assert_eq!(topic(&h.feed(&aliased("w", 4)).unwrap()), "w");
    // Unknown alias: Protocol Error.
    let e = h.feed(&aliased("", 2)).unwrap_err();
    is_remote(e, RemoteFault::UnknownTopicAlias, ReasonCode::ProtocolError);
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::ProtocolError);
    // Above the announced maximum (4): Topic Alias Invalid.
    let mut h = Harness::new();
    h.connected(&[]);
    let e = h.feed(&aliased("a", 5)).unwrap_err();
    is_remote(e, RemoteFault::TopicAliasInvalid, ReasonCode::TopicAliasInvalid);
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::TopicAliasInvalid);
    // A topic too long for the alias slots (64 bytes here).
    let mut h = Harness::new();
    h.connected(&[]);
    let long = "l".repeat(65);
    let e = h.feed(&aliased(&long, 1)).unwrap_err();
    is_remote(e, RemoteFault::AliasTopicTooLong, ReasonCode::ImplementationSpecificError);
}

#[test]
fn subscribe_and_unsubscribe_acks_matched_per_filter() {
    let mut h = Harness::new();
    h.connected(&[]);
    let mut out = [0u8; 128];
    let subs =
        [Subscription::new("a/#", Qos::ExactlyOnce), Subscription::new("b", Qos::AtMostOnce)];
    let sent = h.client.subscribe(h.now, &subs, Properties::EMPTY, &mut out).unwrap();
    assert_eq!(sent.packet_id, Some(pid(1)));
    match h.decode(&out[..sent.len]) {
        Packet::Subscribe(s) => assert_eq!(s.filters.iter().collect::<Vec<_>>(), subs),
        other => panic!("{other:?}"),
    }
    // The packet id of a pending SUBSCRIBE is not reused.
    let (_, id) = h.publish(&Outgoing::new("t", b"").qos(Qos::AtLeastOnce)).unwrap();
    assert_eq!(id, Some(pid(2)));
    let codes = [ReasonCode::GrantedQos1, ReasonCode::NotAuthorized];
    let ev = h.feed(&enc(Version::V5, Packet::SubAck(SubAck::new(pid(1), &codes)))).unwrap();
    assert_eq!(ev, [Ev::Subscribed(1, codes.to_vec())]);
    let sent = h.client.unsubscribe(h.now, &["a/#"], Properties::EMPTY, &mut out).unwrap();
    assert_eq!(sent.packet_id, Some(pid(3)));
    let codes = [ReasonCode::NoSubscriptionExisted];
    let ev = h.feed(&enc(Version::V5, Packet::UnsubAck(UnsubAck::new(pid(3), &codes)))).unwrap();
    assert_eq!(ev, [Ev::Unsubscribed(3, codes.to_vec())]);
    // A SUBACK with the wrong number of reason codes is a protocol error.
    h.client.subscribe(h.now, &subs, Properties::EMPTY, &mut out).unwrap();
    let e = h
        .feed(&enc(Version::V5, Packet::SubAck(SubAck::new(pid(4), &[ReasonCode::Success]))))
        .unwrap_err();
    is_remote(e, RemoteFault::AckMismatch, ReasonCode::ProtocolError);
}

#[test]
fn enhanced_auth_and_reauthentication() {
    let mut h = Harness::new();
    let mut opts = ConnectOptions::new("c");
    opts.auth_method = Some("SCRAM-SHA-1");
    opts.auth_data = Some(b"client-first");
    let connect = h.connect(&opts);
    match h.decode(&connect) {
        Packet::Connect(c) => assert_eq!(
            c.properties.get(PropertyId::AuthenticationData),
            Some(Property::AuthenticationData(b"client-first"))
        ),
        other => panic!("{other:?}"),
    }
    let auth_packet = |code, data: &[u8]| {
        let raw = props(&[
            Property::AuthenticationMethod("SCRAM-SHA-1"),
            Property::AuthenticationData(data),
        ]);
        let a = Auth {
            reason_code: code,
            properties: parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Auth),
        };
        enc(Version::V5, Packet::Auth(a))
    };
    let ev = h.feed(&auth_packet(ReasonCode::ContinueAuthentication, b"server-first")).unwrap();
    assert_eq!(ev, [Ev::Auth(ReasonCode::ContinueAuthentication)]);
    let raw = props(&[
        Property::AuthenticationMethod("SCRAM-SHA-1"),
        Property::AuthenticationData(b"client-final"),
    ]);
    let p = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Auth);
    let mut out = [0u8; 128];
    let n = h.client.auth(h.now, ReasonCode::ContinueAuthentication, p, &mut out).unwrap();
    assert_eq!(h.decode(&out[..n]).packet_type(), PacketType::Auth);
    h.connack(false, &[]);
    // Re-authentication on the live connection.
    let n = h.client.auth(h.now, ReasonCode::ReAuthenticate, p, &mut out).unwrap();
    match h.decode(&out[..n]) {
        Packet::Auth(a) => assert_eq!(a.reason_code, ReasonCode::ReAuthenticate),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.feed(&auth_packet(ReasonCode::Success, b"ok")).unwrap(),
        [Ev::Auth(ReasonCode::Success)]
    );
    // AUTH without a method in CONNECT: refused locally and a fault from the broker.
    let mut h = Harness::new();
    h.connected(&[]);
    assert_eq!(
        h.client.auth(h.now, ReasonCode::ReAuthenticate, p, &mut out),
        Err(Error::Usage(UsageError::NoAuthenticationMethod))
    );
    let e = h.feed(&auth_packet(ReasonCode::ContinueAuthentication, b"x")).unwrap_err();
    is_remote(e, RemoteFault::UnexpectedAuth, ReasonCode::ProtocolError);
}

#[test]
fn a_3_1_1_server_refusing_a_5_0_connect_is_a_refusal() {
    // Its 3.1.1 CONNACK: return code 1, unacceptable protocol level, no property length.
    let mut h = Harness::new();
    h.connect(&ConnectOptions::new("c"));
    let ev = h.feed(&[0x20, 0x02, 0x00, 0x01]).unwrap();
    assert_eq!(ev, [Ev::Refused(ReasonCode::UnsupportedProtocolVersion, None)]);
    assert_eq!(h.client.state(), State::Disconnected);
    // Any other two-byte CONNACK is malformed in 5.0.
    let mut h = Harness::new();
    h.connect(&ConnectOptions::new("c"));
    let e = h.feed(&[0x20, 0x02, 0x00, 0x00]).unwrap_err();
    is_remote(e, RemoteFault::Decode(DecodeError::Truncated), ReasonCode::MalformedPacket);
    // Once connected, the same bytes are a malformed CONNACK again.
    let mut h = Harness::new();
    h.connected(&[]);
    let e = h.feed(&[0x20, 0x02, 0x00, 0x01]).unwrap_err();
    let fault = RemoteFault::Decode(DecodeError::ReasonCodeNotAllowed(ReasonCode::GrantedQos1));
    is_remote(e, fault, ReasonCode::ProtocolError);
}

#[test]
fn redirection_and_server_disconnect_surfaced() {
    let mut h = Harness::new();
    h.connect(&ConnectOptions::new("c"));
    let raw = props(&[Property::ServerReference("other.example:1883")]);
    let mut c = ConnAck::new(ReasonCode::UseAnotherServer);
    c.properties = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::ConnAck);
    let ev = h.feed(&enc(Version::V5, Packet::ConnAck(c))).unwrap();
    assert_eq!(ev, [Ev::Refused(ReasonCode::UseAnotherServer, Some("other.example:1883".into()))]);
    assert_eq!(h.client.state(), State::Disconnected);
    let mut h = Harness::new();
    h.connected(&[]);
    let raw = props(&[Property::ServerReference("new.example")]);
    let d = Disconnect {
        reason_code: ReasonCode::ServerMoved,
        properties: parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Disconnect),
    };
    let ev = h.feed(&enc(Version::V5, Packet::Disconnect(d))).unwrap();
    assert_eq!(ev, [Ev::Disconnected(ReasonCode::ServerMoved, Some("new.example".into()))]);
    assert_eq!(h.client.state(), State::Disconnected);
    assert!(h.drain().is_empty());
    let mut out = [0u8; 8];
    assert_eq!(
        h.client.publish(h.now, &Outgoing::new("t", b""), &mut out),
        Err(Error::Usage(UsageError::NotConnected))
    );
}

#[test]
fn client_disconnect_with_reason_and_properties() {
    let mut h = Harness::new();
    h.connected(&[]);
    let raw = props(&[Property::SessionExpiryInterval(0)]);
    let p = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Disconnect);
    let mut out = [0u8; 32];
    let n = h.client.disconnect(h.now, ReasonCode::DisconnectWithWillMessage, p, &mut out).unwrap();
    match h.decode(&out[..n]) {
        Packet::Disconnect(d) => {
            assert_eq!(d.reason_code, ReasonCode::DisconnectWithWillMessage);
            assert_eq!(d.properties, p);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.client.state(), State::Disconnected);
}

#[test]
fn malformed_broker_cases() {
    // (bytes after CONNACK, fault, reason code in DISCONNECT)
    let cases: &[(&[u8], RemoteFault, ReasonCode)] = &[
        (
            &[0x00, 0x00],
            RemoteFault::Decode(mqtt_ws::mqtt::DecodeError::ReservedPacketType),
            ReasonCode::MalformedPacket,
        ),
        (
            &[0x36, 0x00],
            RemoteFault::Decode(mqtt_ws::mqtt::DecodeError::InvalidQos),
            ReasonCode::MalformedPacket,
        ),
        (
            &[0x20, 0x03, 0x00, 0x00, 0x00],
            RemoteFault::UnexpectedPacket(PacketType::ConnAck),
            ReasonCode::ProtocolError,
        ),
        (
            &[0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0],
            RemoteFault::UnexpectedPacket(PacketType::Subscribe),
            ReasonCode::ProtocolError,
        ),
        (
            &[0xC0, 0x00],
            RemoteFault::UnexpectedPacket(PacketType::PingReq),
            ReasonCode::ProtocolError,
        ),
        (&[0x90, 0x04, 0, 9, 0, 0], RemoteFault::AckMismatch, ReasonCode::ProtocolError),
        (
            &[0x30, 0x06, 0, 3, b'a', b'/', b'#', 0],
            RemoteFault::Decode(mqtt_ws::mqtt::DecodeError::InvalidTopicName),
            ReasonCode::ProtocolError,
        ),
        (
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF],
            RemoteFault::Decode(mqtt_ws::mqtt::DecodeError::MalformedVarInt),
            ReasonCode::MalformedPacket,
        ),
        (
            &[0x40, 0x02, 0x00, 0x00],
            RemoteFault::Decode(mqtt_ws::mqtt::DecodeError::ZeroPacketId),
            ReasonCode::ProtocolError,
        ),
        (
            &[0xE0, 0x01, 0x05],
            RemoteFault::Decode(mqtt_ws::mqtt::DecodeError::UnknownReasonCode(5)),
            ReasonCode::ProtocolError,
        ),
    ];
    for (bytes, fault, reason) in cases {
        let mut h = Harness::new();
        h.connected(&[]);
        let e = h.feed(bytes).unwrap_err();
        is_remote(e, *fault, *reason);
        assert_eq!(h.client.state(), State::Closing);
        let out = h.drain();
        assert_eq!(disconnect_reason(&h, &out), *reason, "{bytes:?}");
        assert_eq!(h.client.state(), State::Disconnected);
        let mut out = [0u8; 4];
        // The connection is over: no more input is read.
        assert_eq!(h.client.handle_input(h.now, &[0xD0, 0x00]), Ok(Status::Closed));
        assert_eq!(h.client.poll_transmit(h.now, &mut out), Ok(None));
    }
    // Session Present after Clean Start.
    let mut h = Harness::new();
    h.connect(&ConnectOptions::new("c"));
    let e = h.feed(&[0x20, 0x03, 0x01, 0x00, 0x00]).unwrap_err();
    is_remote(e, RemoteFault::SessionPresentOnCleanStart, ReasonCode::ProtocolError);
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::ProtocolError);
    // Before CONNACK: anything but CONNACK/AUTH is a protocol error too.
    let mut h = Harness::new();
    h.connect(&ConnectOptions::new("c"));
    let e = h.feed(&incoming("t", b"", QosPid::AtMostOnce, false)).unwrap_err();
    is_remote(e, RemoteFault::UnexpectedPacket(PacketType::Publish), ReasonCode::ProtocolError);
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::ProtocolError);
    assert_eq!(h.client.state(), State::Disconnected);
}

#[test]
fn large_payloads_are_streamed_in_chunks() {
    let config = Config {
        max_packet_size: NonZeroU32::new(1000),
        stream_large_payloads: true,
        ..Config::new(32)
    };
    let payload: Vec<u8> = (0..200u8).collect();
    for step in [usize::MAX, 1, 7, 32] {
        let mut h = Harness::with(config);
        h.connected(&[]);
        let bytes = incoming("big/topic", &payload, QosPid::AtLeastOnce(pid(3)), false);
        // The harness keeps at most the receive buffer's worth: feed through a 32-byte window.
        let mut events = Vec::new();
        let mut fed = 0;
        while fed < bytes.len() {
            let room = 32 - h.rx.len();
            let n = room.min(step).min(bytes.len() - fed);
            events.extend(h.feed_in(&bytes[fed..fed + n], n).unwrap());
            fed += n;
            if fed < bytes.len() {
                assert!(h.drain().is_empty(), "PUBACK only after the last chunk");
            }
        }
        assert_eq!(events[0], Ev::Start { topic: "big/topic".into(), len: 200 });
        let mut got = Vec::new();
        for e in &events[1..] {
            match e {
                Ev::Chunk { data, offset, .. } => {
                    assert_eq!(*offset, got.len());
                    got.extend_from_slice(data);
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(events.last(), Some(Ev::Chunk { last: true, .. })));
        assert_eq!(got, payload);
        assert_eq!(h.drain(), [vec![0x40, 0x02, 0, 3]]);
        // The next packet is read normally.
        assert_eq!(h.feed(&[0xD0, 0x00]).unwrap(), [Ev::Pong]);
    }
    // Over the announced Maximum Packet Size: Packet Too Large.
    let mut h = Harness::with(config);
    h.connected(&[]);
    let bytes = incoming("t", &[0u8; 1000], QosPid::AtMostOnce, false);
    let e = h.feed(&bytes[..8]).unwrap_err();
    assert!(matches!(e, Error::Remote(r) if r.reason() == ReasonCode::PacketTooLarge));
    let out = h.drain();
    assert_eq!(disconnect_reason(&h, &out), ReasonCode::PacketTooLarge);
    // A non-PUBLISH larger than the receive buffer cannot be streamed.
    let mut h = Harness::with(config);
    h.connected(&[]);
    let raw = props(&[Property::ReasonString(&"r".repeat(40))]);
    let d = Disconnect {
        reason_code: ReasonCode::ServerBusy,
        properties: parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Disconnect),
    };
    let e = h.feed(&enc(Version::V5, Packet::Disconnect(d))[..10]).unwrap_err();
    is_remote(e, RemoteFault::PacketTooLarge, ReasonCode::PacketTooLarge);
}

#[test]
fn large_payloads_are_skipped_without_the_opt_in() {
    let payload = [0x5au8; 100];
    for step in [usize::MAX, 1, 10] {
        let mut h = Harness::with(Config::new(32));
        h.connected(&[]);
        let mut bytes = incoming("big", &payload, QosPid::ExactlyOnce(pid(4)), false);
        bytes.extend(incoming("small", b"ok", QosPid::AtLeastOnce(pid(5)), false));
        let mut events = Vec::new();
        let mut fed = 0;
        while fed < bytes.len() {
            let n = (32 - h.rx.len()).min(step).min(bytes.len() - fed);
            events.extend(h.feed_in(&bytes[fed..fed + n], n).unwrap());
            fed += n;
        }
        assert_eq!(
            events,
            [
                Ev::Skipped { topic: "big".into(), len: 100 },
                Ev::Message {
                    topic: "small".into(),
                    payload: b"ok".to_vec(),
                    qos: Qos::AtLeastOnce,
                    dup: false
                }
            ]
        );
        // PUBREC with Implementation Specific Error ends the QoS 2 exchange; the next message is
        // acknowledged normally.
        assert_eq!(h.drain(), [vec![0x50, 0x03, 0, 4, 0x83], vec![0x40, 0x02, 0, 5]]);
        assert_eq!(h.client.state(), State::Connected);
    }
}

#[test]
fn mqtt_3_1_1_mode() {
    let mut h = Harness::new();
    let mut opts = ConnectOptions::new("c3");
    opts.version = Version::V3_1_1;
    opts.session_expiry = 10;
    let mut out = [0u8; 64];
    assert_eq!(
        h.client.connect(h.now, &opts, &mut out),
        Err(Error::Usage(UsageError::NotInVersion))
    );
    opts.session_expiry = 0;
    opts.keep_alive = 5;
    let connect = h.connect(&opts);
    assert_eq!(&connect[..12], [0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 5]);
    assert_eq!(
        h.feed(&[0x20, 0x02, 0x00, 0x00]).unwrap(),
        [Ev::Connected { session_present: false, assigned: None }]
    );
    let raw = props(&[Property::ContentType("x")]);
    let p = parse(&raw, mqtt_ws::mqtt::properties::PropertyContext::Publish);
    assert_eq!(
        h.publish(&Outgoing::new("t", b"").properties(p)).unwrap_err(),
        Error::Usage(UsageError::NotInVersion)
    );
    let (b, _) = h.publish(&Outgoing::new("t", b"v").qos(Qos::ExactlyOnce)).unwrap();
    assert_eq!(b, [0x34, 0x06, 0, 1, b't', 0, 1, b'v']);
    h.feed(&[0x50, 0x02, 0, 1]).unwrap();
    assert_eq!(h.drain(), [vec![0x62, 0x02, 0, 1]]);
    assert_eq!(h.feed(&[0x70, 0x02, 0, 1]).unwrap(), [Ev::Published(1, ReasonCode::Success)]);
    // PUBREC and PUBREL for unknown identifiers: 3.1.1 acknowledgements carry no reason code.
    h.feed(&[0x50, 0x02, 0, 9]).unwrap();
    assert_eq!(h.drain(), [vec![0x62, 0x02, 0, 9]]);
    h.feed(&[0x62, 0x02, 0, 8]).unwrap();
    assert_eq!(h.drain(), [vec![0x70, 0x02, 0, 8]]);
    // 3.1.1 UNSUBACK has no reason codes.
    let mut out = [0u8; 32];
    h.client.unsubscribe(h.now, &["t"], Properties::EMPTY, &mut out).unwrap();
    assert_eq!(h.feed(&[0xB0, 0x02, 0, 2]).unwrap(), [Ev::Unsubscribed(2, vec![])]);
    assert_eq!(
        h.client.auth(h.now, ReasonCode::ReAuthenticate, Properties::EMPTY, &mut out),
        Err(Error::Usage(UsageError::NotInVersion))
    );
    // A fault in 3.1.1: no DISCONNECT, the transport is closed.
    let e = h.feed(&[0xF0, 0x00]).unwrap_err();
    is_remote(
        e,
        RemoteFault::Decode(mqtt_ws::mqtt::DecodeError::ReservedPacketType),
        ReasonCode::MalformedPacket,
    );
    assert_eq!(h.client.state(), State::Disconnected);
    assert!(h.drain().is_empty());
}

#[test]
fn request_response_helpers() {
    let mut buf = [0u8; 64];
    let p = request_properties(&mut buf, "replies/c1", Some(b"42")).unwrap();
    let mut h = Harness::new();
    h.connected(&[]);
    let (b, _) = h.publish(&Outgoing::new("svc/req", b"q").properties(p)).unwrap();
    // The broker delivers it to a responder (here: the same client).
    let ev_bytes = b.clone();
    let mut rx = ev_bytes.clone();
    rx.truncate(b.len());
    let mut h2 = Harness::new();
    h2.connected(&[]);
    let mut out = [0u8; 64];
    let mut resp = [0u8; 64];
    match h2.client.handle_input(h2.now, &rx).unwrap() {
        Status::Progress { event, .. } => match event {
            Some(Event::Message(m)) => {
                let (topic, props) = response_to(&m, &mut out).unwrap().unwrap();
                assert_eq!(topic, "replies/c1");
                assert_eq!(
                    props.get(PropertyId::CorrelationData),
                    Some(Property::CorrelationData(b"42"))
                );
                resp[..topic.len()].copy_from_slice(topic.as_bytes());
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert_eq!(&resp[..10], b"replies/c1");
}

/// A small deterministic generator for the no-panic test.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 56) as u8
    }
}

#[test]
fn arbitrary_broker_bytes_never_panic() {
    let mut rng = Lcg(7);
    let seeds: Vec<Vec<u8>> = vec![
        incoming("t", b"x", QosPid::ExactlyOnce(pid(1)), false),
        ack(PacketType::PubRel, 1),
        ack(PacketType::PubAck, 1),
        aliased("a", 1),
        aliased("", 1),
        vec![0xD0, 0x00],
    ];
    for round in 0..3000 {
        let mut h = Harness::with(Config::new(64));
        h.connected(&[Property::TopicAliasMaximum(3)]);
        h.publish(&Outgoing::new("o", b"1").qos(Qos::ExactlyOnce)).unwrap();
        let mut input = Vec::new();
        for _ in 0..(rng.next() % 6) {
            let mut s = seeds[usize::from(rng.next()) % seeds.len()].clone();
            if round % 2 == 0 && !s.is_empty() {
                let i = usize::from(rng.next()) % s.len();
                s[i] = rng.next();
            }
            input.extend(s);
        }
        for _ in 0..(rng.next() % 8) {
            input.push(rng.next());
        }
        let mut pos = 0;
        loop {
            if h.client.state() != State::Connected {
                break;
            }
            let end = input.len().min(pos + 64);
            match h.client.handle_input(h.now, &input[pos..end]) {
                Ok(Status::Progress { consumed, .. }) => pos += consumed,
                Ok(_) | Err(_) => break,
            }
            let _ = h.drain();
            h.advance(Duration::from_secs(40));
            let _ = h.client.handle_timeout(h.now);
        }
        let _ = h.drain();
        assert!(matches!(h.client.state(), State::Connected | State::Disconnected));
    }
}

#[test]
fn client_state_is_small() {
    // The session's own state (buffers are the caller's); aliases cost 2 x ALIASES x TOPIC bytes.
    let no_alias = core::mem::size_of::<Client<SliceStore<'static, 8>, 16, 0, 0>>();
    let default = core::mem::size_of::<Client<SliceStore<'static, 8>>>();
    println!("Client without aliases: {no_alias} bytes, with the defaults: {default} bytes");
    assert!(no_alias <= 768, "{no_alias}");
    assert!(default <= 2 * 8 * 128 + 1024, "{default}");
}

// ---- Streamed PUBLISH: the payload handed over in pieces ----

impl Harness {
    /// Starts a streamed PUBLISH of `len` payload bytes: the head's bytes and packet id.
    fn stream(
        &mut self,
        msg: &Outgoing<'_>,
        len: usize,
    ) -> Result<(Vec<u8>, Option<PacketId>), Error> {
        let mut out = vec![0u8; 256];
        let sent = self.client.publish_stream(self.now, msg, len, &mut out)?;
        out.truncate(sent.len);
        Ok((out, sent.packet_id))
    }

    /// Hands `data` over in chunks of the sizes in `chunks` (cycled), each through an output
    /// buffer of a size from `outs` (cycled), as a driver with a small transmit buffer does.
    fn stream_chunks(&mut self, data: &[u8], chunks: &[usize], outs: &[usize]) -> Vec<u8> {
        let mut wire = Vec::new();
        let (mut at, mut i) = (0, 0);
        while at < data.len() {
            let piece = &data[at..(at + chunks[i % chunks.len()]).min(data.len())];
            let mut given = 0;
            while given < piece.len() {
                let mut out = vec![0u8; outs[(i + given) % outs.len()]];
                let n = self.client.publish_chunk(self.now, &piece[given..], &mut out).unwrap();
                assert!(n > 0 && n <= out.len());
                wire.extend_from_slice(&out[..n]);
                given += n;
            }
            at += piece.len();
            i += 1;
        }
        wire
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn streamed_publish_in_odd_chunks_is_one_packet_and_acked_at_qos_1() {
    let mut h = Harness::new();
    h.connected(&[]);
    let data = payload(5000);
    let msg = Outgoing::new("files/a", &[]).qos(Qos::AtLeastOnce);
    let (mut wire, id) = h.stream(&msg, data.len()).unwrap();
    assert_eq!(id, Some(pid(1)));
    assert_eq!(h.client.stream_remaining(), Some(5000));
    wire.extend(h.stream_chunks(&data, &[1, 7, 333, 1021, 2], &[5, 64, 1, 700]));
    assert_eq!(h.client.stream_remaining(), Some(0));
    assert_eq!(h.client.publish_end(h.now), Ok(Some(pid(1))));
    assert_eq!(h.client.stream_remaining(), None);
    match h.decode(&wire) {
        Packet::Publish(p) => {
            assert_eq!(
                (p.topic, p.qos_pid, p.dup),
                ("files/a", QosPid::AtLeastOnce(pid(1)), false)
            );
            assert_eq!(p.payload, &data[..]);
        }
        other => panic!("{other:?}"),
    }
    // Only the head is kept: the payload was never the client's.
    match h.client.store().get(0) {
        Some(Stored::Publish { id, packet }) => {
            assert_eq!(id, pid(1));
            assert_eq!(packet, &wire[..packet.len()]);
            assert!(packet.len() < 32);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.feed(&ack(PacketType::PubAck, 1)).unwrap(),
        [Ev::Published(1, ReasonCode::Success)]
    );
    assert_eq!(h.client.in_flight(), 0);
    // QoS 0, and an empty payload: the head is the whole packet.
    let (wire, id) = h.stream(&Outgoing::new("files/b", &[]), 0).unwrap();
    assert_eq!((id, h.client.publish_end(h.now)), (None, Ok(None)));
    match h.decode(&wire) {
        Packet::Publish(p) => assert_eq!((p.topic, p.payload), ("files/b", &b""[..])),
        other => panic!("{other:?}"),
    }
}

#[test]
fn streamed_publish_at_qos_2_completes_with_pubcomp() {
    let mut h = Harness::new();
    h.connected(&[]);
    let data = payload(777);
    let (mut wire, id) = h.stream(&Outgoing::new("f", &[]).qos(Qos::ExactlyOnce), 777).unwrap();
    wire.extend(h.stream_chunks(&data, &[100, 3], &[50]));
    assert_eq!(h.client.publish_end(h.now), Ok(id));
    match h.decode(&wire) {
        Packet::Publish(p) => {
            assert_eq!((p.qos_pid, p.payload), (QosPid::ExactlyOnce(pid(1)), &data[..]))
        }
        other => panic!("{other:?}"),
    }
    assert!(h.feed(&ack(PacketType::PubRec, 1)).unwrap().is_empty());
    assert_eq!(h.drain(), [vec![0x62, 0x02, 0, 1]], "PUBREL");
    assert_eq!(
        h.feed(&ack(PacketType::PubComp, 1)).unwrap(),
        [Ev::Published(1, ReasonCode::Success)]
    );
    assert_eq!(h.client.in_flight(), 0);
}

#[test]
fn streamed_payload_longer_or_shorter_than_announced_is_a_typed_error() {
    let mut h = Harness::new();
    h.connected(&[]);
    let mut out = [0u8; 64];
    let msg = Outgoing::new("f", &[]).qos(Qos::AtLeastOnce);
    assert_eq!(
        h.client.publish_chunk(h.now, b"x", &mut out),
        Err(Error::Usage(UsageError::NoStream))
    );
    assert_eq!(h.client.publish_end(h.now), Err(Error::Usage(UsageError::NoStream)));
    assert_eq!(
        h.client.publish_stream(h.now, &Outgoing::new("f", b"inline"), 6, &mut out),
        Err(Error::Usage(UsageError::PayloadInStreamedMessage))
    );
    h.stream(&msg, 10).unwrap();
    assert_eq!(h.client.publish_chunk(h.now, b"0123", &mut out), Ok(4));
    // Longer than what remains: refused whole, nothing copied.
    assert_eq!(
        h.client.publish_chunk(h.now, b"4567890", &mut out),
        Err(Error::Usage(UsageError::PayloadTooLong { remaining: 6 }))
    );
    assert_eq!(h.client.stream_remaining(), Some(6));
    // Shorter: the end is refused, and the stream goes on.
    assert_eq!(h.client.publish_chunk(h.now, b"45", &mut out), Ok(2));
    assert_eq!(
        h.client.publish_end(h.now),
        Err(Error::Usage(UsageError::PayloadTooShort { remaining: 4 }))
    );
    assert_eq!(h.client.stream_remaining(), Some(4));
    assert_eq!(h.client.publish_chunk(h.now, b"6789", &mut out), Ok(4));
    assert_eq!(h.client.publish_end(h.now), Ok(Some(pid(1))));
    // An empty output buffer takes nothing: the caller must write first.
    h.feed(&ack(PacketType::PubAck, 1)).unwrap();
    h.stream(&msg, 1).unwrap();
    assert_eq!(
        h.client.publish_chunk(h.now, b"z", &mut []),
        Err(Error::Usage(UsageError::Encode(mqtt_ws::mqtt::EncodeError::BufferTooSmall {
            required: 1
        })))
    );
}

#[test]
fn streamed_publish_over_the_maximum_packet_size_is_refused_before_anything_is_sent() {
    let mut h = Harness::new();
    h.connected(&[Property::MaximumPacketSize(NonZeroU32::new(2000).unwrap())]);
    let msg = Outgoing::new("t/x", &[]).qos(Qos::AtLeastOnce);
    // Fixed header 3 bytes, topic 5, packet id 2, properties 1: 11 bytes of head.
    let mut out = [0u8; 64];
    assert_eq!(
        h.client.publish_stream(h.now, &msg, 1990, &mut out),
        Err(Error::Usage(UsageError::PacketTooLarge { len: 2001, max: 2000 }))
    );
    assert_eq!((h.client.stream_remaining(), h.client.in_flight()), (None, 0));
    // Nothing changed: the packet identifier is still free, and 1989 bytes fit exactly.
    let (_, id) = h.stream(&msg, 1989).unwrap();
    assert_eq!(id, Some(pid(1)));
    // Beyond the protocol's Remaining Length (§1.5.5) without a server limit too.
    let mut h = Harness::new();
    h.connected(&[]);
    assert_eq!(
        h.client.publish_stream(h.now, &Outgoing::new("t", &[]), 268_435_455, &mut out),
        Err(Error::Usage(UsageError::Encode(mqtt_ws::mqtt::EncodeError::PacketTooLarge)))
    );
}

#[test]
fn nothing_is_interleaved_into_a_streamed_publish() {
    let mut h = Harness::new();
    h.connected(&[]);
    // A PINGREQ is owed (keep alive 60 s) when the caller starts the PUBLISH.
    h.advance(Duration::from_secs(60));
    h.client.handle_timeout(h.now).unwrap();
    h.stream(&Outgoing::new("f", &[]).qos(Qos::AtLeastOnce), 100).unwrap();
    let mut out = [0u8; 256];
    assert_eq!(h.client.publish_chunk(h.now, &[1; 40], &mut out), Ok(40));
    // Input is still handled: a message is delivered, its PUBACK held back.
    let ev = h.feed(&incoming("in", b"hi", QosPid::AtLeastOnce(pid(9)), false)).unwrap();
    assert!(matches!(&ev[..], [Ev::Message { topic, .. }] if topic == "in"), "{ev:?}");
    assert!(h.drain().is_empty(), "no PUBACK in the middle of a PUBLISH");
    // The PINGREQ waits too; no timer runs while the payload goes out (the chunks are the
    // traffic keep-alive asks for; the caller writes, it may not read).
    assert_eq!(h.client.poll_timeout(), None);
    h.advance(Duration::from_secs(200));
    h.client.handle_timeout(h.now).unwrap();
    assert!(h.drain().is_empty(), "no PINGREQ in the middle of a PUBLISH");
    // Every other command is refused.
    let unfinished = Err(Error::Usage(UsageError::StreamUnfinished));
    assert_eq!(h.publish(&Outgoing::new("x", b"y")).map(|_| ()), unfinished);
    assert_eq!(h.stream(&Outgoing::new("x", &[]), 1).map(|_| ()), unfinished);
    let sub = [Subscription::new("a", Qos::AtMostOnce)];
    assert_eq!(
        h.client.subscribe(h.now, &sub, Properties::EMPTY, &mut out).map(|_| ()),
        unfinished
    );
    assert_eq!(
        h.client.unsubscribe(h.now, &["a"], Properties::EMPTY, &mut out).map(|_| ()),
        unfinished
    );
    assert_eq!(
        h.client
            .disconnect(h.now, ReasonCode::NormalDisconnection, Properties::EMPTY, &mut out)
            .map(|_| ()),
        unfinished
    );
    assert_eq!(h.client.publish_chunk(h.now, &[2; 60], &mut out), Ok(60));
    assert_eq!(h.client.publish_end(h.now), Ok(Some(pid(1))));
    // Then what waited goes out, in order.
    let owed = h.drain();
    assert_eq!(owed.len(), 2, "{owed:?}");
    assert_eq!(h.decode(&owed[0]).packet_type(), PacketType::PingReq);
    assert_eq!(h.decode(&owed[1]).packet_type(), PacketType::PubAck);
    // The PINGRESP is awaited from when the PINGREQ went out.
    assert_eq!(h.client.poll_timeout(), Some(h.now + Duration::from_secs(60)));
    h.advance(Duration::from_secs(59));
    h.client.handle_timeout(h.now).unwrap();
    h.advance(Duration::from_secs(1));
    assert_eq!(h.client.handle_timeout(h.now), Err(Error::Timeout(Timeout::PingResp)));
}

/// Feeds a CONNACK and returns the `Connected` event's `unsent_stream`.
fn connack_unsent(h: &mut Harness, session_present: bool) -> Option<PacketId> {
    let mut c = ConnAck::new(ReasonCode::Success);
    c.session_present = session_present;
    let bytes = enc(Version::V5, Packet::ConnAck(c));
    match h.client.handle_input(h.now, &bytes).unwrap() {
        Status::Progress { event: Some(Event::Connected(c)), .. } => c.unsent_stream,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unacknowledged_streamed_message_is_named_after_a_reconnect_not_resent() {
    let mut h = Harness::new();
    let mut opts = ConnectOptions::new("c");
    opts.clean_start = false;
    opts.session_expiry = 600;
    h.connect(&opts);
    h.connack(false, &[]);
    h.publish(&Outgoing::new("s/1", b"one").qos(Qos::AtLeastOnce)).unwrap();
    let data = payload(300);
    let msg = Outgoing::new("s/big", &[]).qos(Qos::AtLeastOnce);
    h.stream(&msg, data.len()).unwrap();
    h.stream_chunks(&data, &[300], &[1024]);
    assert_eq!(h.client.publish_end(h.now), Ok(Some(pid(2))));
    h.publish(&Outgoing::new("s/1", b"three").qos(Qos::AtLeastOnce)).unwrap();
    // One streamed QoS 1/2 message at a time awaits its acknowledgement.
    assert_eq!(h.stream(&msg, 1).map(|_| ()), Err(Error::Usage(UsageError::StreamAwaitingAck)));
    assert!(h.stream(&Outgoing::new("s/q0", &[]), 1).is_ok(), "QoS 0 keeps nothing");
    let mut out = [0u8; 8];
    assert_eq!(h.client.publish_chunk(h.now, b"z", &mut out), Ok(1));
    h.client.publish_end(h.now).unwrap();
    // The network drops; the session resumes.
    h.client.connection_lost();
    h.connect(&opts);
    assert_eq!(connack_unsent(&mut h, true), Some(pid(2)));
    let resent = h.drain();
    assert_eq!(resent.len(), 2, "the whole messages only");
    for (bytes, want) in resent.iter().zip([&b"one"[..], b"three"]) {
        match h.decode(bytes) {
            Packet::Publish(p) => assert_eq!((p.dup, p.payload), (true, want)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(h.client.in_flight(), 2);
    // It can be published again at once.
    let (_, id) = h.stream(&msg, 0).unwrap();
    assert!(id.is_some());
    h.client.publish_end(h.now).unwrap();
    // A payload cut short: the caller drops the connection; the next CONNACK names it too,
    // and a new session (no Session Present) as well.
    h.client.connection_lost();
    h.connect(&opts);
    connack_unsent(&mut h, true);
    h.drain();
    let (_, id) = h.stream(&msg, 10).unwrap();
    assert_eq!(h.client.publish_chunk(h.now, b"abc", &mut out), Ok(3));
    assert!(h.client.publish_end(h.now).is_err());
    h.client.connection_lost();
    assert_eq!(h.client.stream_remaining(), None);
    h.connect(&opts);
    assert_eq!(connack_unsent(&mut h, false), id);
    assert_eq!(h.client.in_flight(), 0);
}

#[test]
fn a_streamed_message_that_failed_half_way_can_be_discarded() {
    let mut h = Harness::new();
    let mut opts = ConnectOptions::new("c");
    opts.clean_start = false;
    opts.session_expiry = 600;
    h.connect(&opts);
    h.connack(false, &[]);
    let (_, id) = h.stream(&Outgoing::new("f", &[]).qos(Qos::ExactlyOnce), 10).unwrap();
    let id = id.unwrap();
    assert!(!h.client.discard(id), "not while connected: the server may hold the identifier");
    h.client.connection_lost();
    assert!(h.client.discard(id));
    assert!(!h.client.discard(id), "gone");
    h.connect(&opts);
    assert_eq!(connack_unsent(&mut h, true), None);
    assert!(h.drain().is_empty());
    assert_eq!(h.client.in_flight(), 0);
}
