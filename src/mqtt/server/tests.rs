//! The server session against scripted client bytes on a virtual clock.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;
use crate::Status;
use crate::mqtt::packet::{Subscription, Will};
use crate::mqtt::properties::Properties;
use crate::mqtt::{AwaitingRelease, DecodeError};

type S = Server<4, 2, 16>;
/// The same session over other topic-alias storage.
type With<AL> = Server<4, 2, 16, MemoryStore<4>, AL>;

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn enc(p: Packet<'_>, v: Version) -> Vec<u8> {
    let mut buf = vec![0u8; p.encoded_len(v).unwrap()];
    p.encode(v, &mut buf).unwrap();
    buf
}

fn props(list: &[Property<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let mut b = PropertiesBuilder::new(&mut buf);
    for p in list {
        b.push(*p).unwrap();
    }
    let n = b.len();
    buf.truncate(n);
    buf
}

fn with_props<'a>(raw: &'a [u8], ctx: crate::mqtt::properties::PropertyContext) -> Properties<'a> {
    Properties::parse(raw, ctx).unwrap()
}

fn connect_bytes(v: Version, keep_alive: u16, will: bool) -> Vec<u8> {
    let mut c = Connect::new(v, "dev1");
    c.keep_alive = keep_alive;
    if will {
        c.will = Some(Will {
            qos: Qos::AtLeastOnce,
            retain: false,
            properties: Properties::default(),
            topic: "dev1/status",
            payload: b"offline",
        });
    }
    enc(Packet::Connect(c), v)
}

/// Everything the server owes, decoded as packet type and the raw bytes.
fn drain<AL: TopicAliases>(s: &mut With<AL>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while let Some(n) = s.poll_transmit(Instant::ZERO, &mut buf).unwrap() {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Feeds one whole packet; returns the event as an owned summary.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    None,
    Connect(std::string::String),
    Publish(std::string::String, Vec<u8>, Qos),
    Subscribe(u16),
    Unsubscribe(u16),
    Acked(u16, ReasonCode),
    Disconnect(ReasonCode),
    Auth(ReasonCode),
}

fn summarize<const N: usize>(e: Option<Event<'_, N>>) -> Ev {
    match e {
        None => Ev::None,
        Some(Event::Connect(c)) => Ev::Connect(c.client_id.into()),
        Some(Event::Publish(p)) => Ev::Publish(p.topic.as_str().into(), p.payload.to_vec(), p.qos),
        Some(Event::Subscribe(s)) => Ev::Subscribe(s.packet_id.get()),
        Some(Event::Unsubscribe(u)) => Ev::Unsubscribe(u.packet_id.get()),
        Some(Event::Acknowledged { packet_id, reason_code }) => {
            Ev::Acked(packet_id.get(), reason_code)
        }
        Some(Event::Disconnect(d)) => Ev::Disconnect(d.reason_code),
        Some(Event::Auth(a)) => Ev::Auth(a.reason_code),
    }
}

fn feed<AL: TopicAliases>(s: &mut With<AL>, now: u64, bytes: &[u8]) -> Result<Ev, RemoteError> {
    match s.handle_input(Instant::from_millis(now), bytes)? {
        Status::Progress { consumed, event } => {
            assert_eq!(consumed, bytes.len());
            Ok(summarize(event))
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Feeds `bytes` whole, one byte at a time and with trailing bytes; all three must agree.
fn feed_all_ways(make: impl Fn() -> S, bytes: &[u8]) -> (S, Ev) {
    // Whole.
    let mut a = make();
    let ev = feed(&mut a, 0, bytes).unwrap();
    // Byte by byte: every strict prefix needs more.
    let mut b = make();
    for end in 0..bytes.len() {
        match b.handle_input(Instant::ZERO, &bytes[..end]).unwrap() {
            Status::NeedMore { needed } => assert!(needed >= 1 && needed <= bytes.len() - end),
            other => panic!("prefix {end}: {other:?}"),
        }
    }
    assert_eq!(feed(&mut b, 0, bytes).unwrap(), ev);
    // With trailing bytes, which are left alone.
    let mut c = make();
    let mut long = bytes.to_vec();
    long.extend_from_slice(&[0xc0, 0x00, 0xff]);
    match c.handle_input(Instant::ZERO, &long).unwrap() {
        Status::Progress { consumed, event } => {
            assert_eq!(consumed, bytes.len());
            assert_eq!(summarize(event), ev);
        }
        other => panic!("{other:?}"),
    }
    (a, ev)
}

fn config() -> Config {
    let mut c = Config::new();
    c.topic_alias_maximum = 2;
    c.max_packet_size = 1024;
    c
}

fn connected(v: Version, keep_alive: u16, will: bool) -> S {
    connected_with(v, keep_alive, will)
}

fn connected_with<AL: TopicAliases>(v: Version, keep_alive: u16, will: bool) -> With<AL> {
    let mut s = With::<AL>::new(config(), Instant::ZERO);
    assert_eq!(
        feed(&mut s, 0, &connect_bytes(v, keep_alive, will)).unwrap(),
        Ev::Connect("dev1".into())
    );
    let mut out = [0u8; 128];
    s.accept(Instant::ZERO, &Accept::default(), &mut out).unwrap();
    assert!(s.is_connected());
    s
}

fn publish(topic: &str, qos: QosPid, props_raw: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut p = Publish::new(topic, payload);
    p.qos_pid = qos;
    p.properties = with_props(props_raw, crate::mqtt::properties::PropertyContext::Publish);
    enc(Packet::Publish(p), Version::V5)
}

fn disconnect_reason(bytes: &[u8]) -> ReasonCode {
    assert_eq!(bytes[0], 0xe0, "not a DISCONNECT: {bytes:02x?}");
    ReasonCode::from_u8(*bytes.get(2).unwrap_or(&0)).unwrap()
}

#[test]
fn connect_and_connack_carry_the_limits() {
    let make = || S::new(config(), Instant::ZERO);
    let (mut s, ev) = feed_all_ways(make, &connect_bytes(Version::V5, 30, false));
    assert_eq!(ev, Ev::Connect("dev1".into()));
    // Input waits for the answer.
    assert_eq!(s.handle_input(Instant::ZERO, &[0xc0, 0]), Ok(Status::Blocked));
    let mut out = [0u8; 128];
    let n = s
        .accept(Instant::ZERO, &Accept { session_present: true, ..Accept::default() }, &mut out)
        .unwrap();
    let (packet, used) =
        packet::decode(&out[..n], &DecodeOptions::default()).unwrap().progress().unwrap();
    assert_eq!(used, n);
    let Packet::ConnAck(ack) = packet else { panic!() };
    assert!(ack.session_present);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(ack.properties.receive_maximum().map(NonZeroU16::get), Some(4));
    assert_eq!(ack.properties.maximum_packet_size().map(NonZeroU32::get), Some(1024));
    assert_eq!(ack.properties.topic_alias_maximum(), Some(2));
    assert_eq!(ack.properties.server_keep_alive(), None);
    assert_eq!(s.keep_alive(), 30);
    assert_eq!(drain(&mut s), Vec::<Vec<u8>>::new());
}

#[test]
fn connack_buffer_too_small_changes_nothing() {
    let mut s = S::new(config(), Instant::ZERO);
    feed(&mut s, 0, &connect_bytes(Version::V5, 0, false)).unwrap();
    let mut tiny = [0u8; 4];
    let Err(UsageError::BufferTooSmall { required }) =
        s.accept(Instant::ZERO, &Accept::default(), &mut tiny)
    else {
        panic!()
    };
    assert!(!s.is_connected());
    let mut out = vec![0u8; required];
    assert_eq!(s.accept(Instant::ZERO, &Accept::default(), &mut out), Ok(required));
}

#[test]
fn server_keep_alive_caps_the_client() {
    let mut c = config();
    c.max_keep_alive = NonZeroU16::new(60);
    let mut s = S::new(c, Instant::ZERO);
    feed(&mut s, 0, &connect_bytes(Version::V5, 0, false)).unwrap();
    let mut out = [0u8; 128];
    let n = s.accept(Instant::ZERO, &Accept::default(), &mut out).unwrap();
    let (Packet::ConnAck(ack), _) =
        packet::decode(&out[..n], &DecodeOptions::default()).unwrap().progress().unwrap()
    else {
        panic!()
    };
    assert_eq!(ack.properties.server_keep_alive(), Some(60));
    assert_eq!(s.keep_alive(), 60);
}

#[test]
fn empty_client_id_needs_an_assigned_one() {
    let mut s = S::new(config(), Instant::ZERO);
    feed(&mut s, 0, &enc(Packet::Connect(Connect::new(Version::V5, "")), Version::V5)).unwrap();
    let mut out = [0u8; 128];
    assert_eq!(
        s.accept(Instant::ZERO, &Accept::default(), &mut out),
        Err(UsageError::ClientIdentifierRequired)
    );
    let accept = Accept { assigned_client_id: Some("auto-1"), ..Accept::default() };
    let n = s.accept(Instant::ZERO, &accept, &mut out).unwrap();
    let (Packet::ConnAck(ack), _) =
        packet::decode(&out[..n], &DecodeOptions::default()).unwrap().progress().unwrap()
    else {
        panic!()
    };
    assert_eq!(ack.properties.assigned_client_identifier(), Some("auto-1"));
}

#[test]
fn v311_empty_client_id_without_clean_session_is_refused() {
    let mut s = S::new(config(), Instant::ZERO);
    let mut c = Connect::new(Version::V3_1_1, "");
    c.clean_start = false;
    assert_eq!(
        feed(&mut s, 0, &enc(Packet::Connect(c), Version::V3_1_1)),
        Err(RemoteError::ClientIdentifierNotValid)
    );
    assert_eq!(drain(&mut s), vec![vec![0x20, 0x02, 0x00, 0x02]]); // [MQTT-3.1.3-9]
}

#[test]
fn unsupported_protocol_level_gets_return_code_1() {
    let mut s = S::new(config(), Instant::ZERO);
    let mut bytes = connect_bytes(Version::V3_1_1, 0, false);
    bytes[8] = 3; // protocol level byte
    assert!(matches!(feed(&mut s, 0, &bytes), Err(RemoteError::Decode(_))));
    assert_eq!(drain(&mut s), vec![vec![0x20, 0x02, 0x00, 0x01]]);
    assert_eq!(s.handle_input(Instant::ZERO, &bytes), Ok(Status::Closed));
}

#[test]
fn malformed_connect_gets_connack_with_reason() {
    let mut s = S::new(config(), Instant::ZERO);
    let mut bytes = connect_bytes(Version::V5, 0, false);
    bytes[9] |= 0x01; // reserved connect flag [MQTT-3.1.2-3]
    assert!(matches!(feed(&mut s, 0, &bytes), Err(RemoteError::Decode(_))));
    let owed = drain(&mut s);
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0][..4], [0x20, 0x03, 0x00, 0x81]);
}

#[test]
fn first_packet_must_be_connect() {
    let mut s = S::new(config(), Instant::ZERO);
    assert_eq!(feed(&mut s, 0, &[0xc0, 0x00]), Err(RemoteError::FirstPacketNotConnect));
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.closed().unwrap().will, WillAction::NoWill);
}

#[test]
fn first_packet_not_connect_fails_at_its_first_byte() {
    // A PUBLISH header announcing 16 KiB: refused before the rest arrives.
    let mut s = S::new(config(), Instant::ZERO);
    assert_eq!(
        s.handle_input(Instant::ZERO, &[0x30, 0x80, 0x80]),
        Err(RemoteError::FirstPacketNotConnect)
    );
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.handle_input(Instant::ZERO, &[0x10]), Ok(Status::Closed));
    // A CONNECT still waits for its bytes.
    let mut s = S::new(config(), Instant::ZERO);
    assert!(matches!(s.handle_input(Instant::ZERO, &[0x10]), Ok(Status::NeedMore { .. })));
}

#[test]
fn second_connect_is_a_protocol_error() {
    let mut s = connected(Version::V5, 0, true);
    assert_eq!(
        feed(&mut s, 0, &connect_bytes(Version::V5, 0, false)),
        Err(RemoteError::SecondConnect)
    );
    let owed = drain(&mut s);
    assert_eq!(disconnect_reason(&owed[0]), ReasonCode::ProtocolError);
    assert_eq!(s.closed().unwrap().will, WillAction::Publish);
}

#[test]
fn server_only_packets_are_protocol_errors() {
    for bytes in [&[0x20u8, 0x03, 0x00, 0x00, 0x00][..], &[0xd0, 0x00], &[0x90, 0x04, 0, 1, 0, 0]] {
        let mut s = connected(Version::V5, 0, false);
        assert!(
            matches!(feed(&mut s, 0, bytes), Err(RemoteError::UnexpectedPacket(_))),
            "{bytes:02x?}"
        );
        assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::ProtocolError);
    }
}

#[test]
fn malformed_packet_after_connect_gets_disconnect_0x81() {
    let mut s = connected(Version::V5, 0, false);
    assert!(matches!(feed(&mut s, 0, &[0x32, 0x00]), Err(RemoteError::Decode(_))));
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::MalformedPacket);
}

#[test]
fn v311_fault_closes_without_disconnect() {
    let mut s = connected(Version::V3_1_1, 0, false);
    assert!(feed(&mut s, 0, &[0x32, 0x00]).is_err());
    assert!(drain(&mut s).is_empty());
    assert!(s.closed().is_some());
}

#[test]
fn packet_over_max_size_gets_0x95() {
    let mut s = connected(Version::V5, 0, false);
    let big = publish("t", QosPid::AtMostOnce, &[], &[0u8; 1100]);
    assert!(matches!(
        feed(&mut s, 0, &big[..8]),
        Err(RemoteError::Decode(DecodeError::PacketTooLarge))
    ));
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::PacketTooLarge);
}

#[test]
fn qos1_publish_is_reported_and_acked() {
    let bytes = publish("a/b", QosPid::AtLeastOnce(pid(7)), &[], b"hi");
    let (mut s, ev) = feed_all_ways(|| connected(Version::V5, 0, false), &bytes);
    assert_eq!(ev, Ev::Publish("a/b".into(), b"hi".to_vec(), Qos::AtLeastOnce));
    assert_eq!(drain(&mut s), vec![vec![0x40, 0x02, 0x00, 0x07]]);
}

#[test]
fn qos2_publish_is_reported_once() {
    let mut s = connected(Version::V5, 0, false);
    let bytes = publish("a/b", QosPid::ExactlyOnce(pid(9)), &[], b"x");
    assert_eq!(
        feed(&mut s, 0, &bytes).unwrap(),
        Ev::Publish("a/b".into(), b"x".to_vec(), Qos::ExactlyOnce)
    );
    assert_eq!(drain(&mut s), vec![vec![0x50, 0x02, 0x00, 0x09]]);
    // The retransmission (DUP) is acknowledged again but not reported again.
    let mut dup = bytes.clone();
    dup[0] |= 0x08;
    assert_eq!(feed(&mut s, 0, &dup).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x50, 0x02, 0x00, 0x09]]);
    // PUBREL -> PUBCOMP; a PUBREL for an unknown id gets 0x92.
    assert_eq!(feed(&mut s, 0, &[0x62, 0x02, 0x00, 0x09]).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x70, 0x02, 0x00, 0x09]]);
    assert_eq!(feed(&mut s, 0, &[0x62, 0x02, 0x00, 0x09]).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x70, 0x03, 0x00, 0x09, 0x92]]);
    // The identifier is free again: a new QoS 2 publish with it is reported.
    assert!(matches!(feed(&mut s, 0, &bytes).unwrap(), Ev::Publish(..)));
}

#[test]
fn receive_maximum_exceeded_gets_0x93() {
    let mut s = connected(Version::V5, 0, false);
    for id in 1..=4 {
        feed(&mut s, 0, &publish("t", QosPid::ExactlyOnce(pid(id)), &[], b"")).unwrap();
    }
    assert_eq!(
        feed(&mut s, 0, &publish("t", QosPid::AtLeastOnce(pid(5)), &[], b"")),
        Err(RemoteError::ReceiveMaximumExceeded)
    );
    let owed = drain(&mut s);
    assert_eq!(disconnect_reason(owed.last().unwrap()), ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn topic_aliases_are_resolved() {
    topic_aliases_are_resolved_in::<InlineAliases<2, 16>>();
    #[cfg(feature = "std")]
    topic_aliases_are_resolved_in::<HeapAliases>();
}

fn topic_aliases_are_resolved_in<AL: TopicAliases>() {
    let mut s = connected_with::<AL>(Version::V5, 0, false);
    let a1 = props(&[Property::TopicAlias(NonZeroU16::new(1).unwrap())]);
    assert_eq!(
        feed(&mut s, 0, &publish("home/t", QosPid::AtMostOnce, &a1, b"1")).unwrap(),
        Ev::Publish("home/t".into(), b"1".to_vec(), Qos::AtMostOnce)
    );
    assert_eq!(
        feed(&mut s, 0, &publish("", QosPid::AtMostOnce, &a1, b"2")).unwrap(),
        Ev::Publish("home/t".into(), b"2".to_vec(), Qos::AtMostOnce)
    );
    // Remapped.
    assert_eq!(
        feed(&mut s, 0, &publish("home/u", QosPid::AtMostOnce, &a1, b"3")).unwrap(),
        Ev::Publish("home/u".into(), b"3".to_vec(), Qos::AtMostOnce)
    );
    assert_eq!(
        feed(&mut s, 0, &publish("", QosPid::AtMostOnce, &a1, b"4")).unwrap(),
        Ev::Publish("home/u".into(), b"4".to_vec(), Qos::AtMostOnce)
    );
}

#[test]
fn unknown_topic_alias_is_a_protocol_error() {
    unknown_topic_alias_is_a_protocol_error_in::<InlineAliases<2, 16>>();
    #[cfg(feature = "std")]
    unknown_topic_alias_is_a_protocol_error_in::<HeapAliases>();
}

fn unknown_topic_alias_is_a_protocol_error_in<AL: TopicAliases>() {
    let mut s = connected_with::<AL>(Version::V5, 0, false);
    let a2 = props(&[Property::TopicAlias(NonZeroU16::new(2).unwrap())]);
    assert_eq!(
        feed(&mut s, 0, &publish("", QosPid::AtMostOnce, &a2, b"")),
        Err(RemoteError::UnknownTopicAlias)
    );
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::ProtocolError);
}

#[test]
fn topic_alias_above_maximum_gets_0x94() {
    topic_alias_above_maximum_gets_0x94_in::<InlineAliases<2, 16>>();
    #[cfg(feature = "std")]
    topic_alias_above_maximum_gets_0x94_in::<HeapAliases>();
}

fn topic_alias_above_maximum_gets_0x94_in<AL: TopicAliases>() {
    let mut s = connected_with::<AL>(Version::V5, 0, false);
    let a3 = props(&[Property::TopicAlias(NonZeroU16::new(3).unwrap())]);
    assert_eq!(
        feed(&mut s, 0, &publish("t", QosPid::AtMostOnce, &a3, b"")),
        Err(RemoteError::TopicAliasInvalid)
    );
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::TopicAliasInvalid);
}

#[test]
fn alias_topic_longer_than_the_table_gets_0x97() {
    alias_topic_longer_than_the_table_gets_0x97_in::<InlineAliases<2, 16>>();
    #[cfg(feature = "std")]
    alias_topic_longer_than_the_table_gets_0x97_in::<HeapAliases>();
}

fn alias_topic_longer_than_the_table_gets_0x97_in<AL: TopicAliases>() {
    let mut s = connected_with::<AL>(Version::V5, 0, false);
    let a1 = props(&[Property::TopicAlias(NonZeroU16::new(1).unwrap())]);
    assert_eq!(
        feed(&mut s, 0, &publish("a/very/long/topic/name", QosPid::AtMostOnce, &a1, b"")),
        Err(RemoteError::AliasTopicTooLong)
    );
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::QuotaExceeded);
}

#[test]
fn subscription_identifier_from_client_is_a_protocol_error() {
    let mut s = connected(Version::V5, 0, false);
    let sid = props(&[Property::SubscriptionIdentifier(NonZeroU32::new(5).unwrap())]);
    assert_eq!(
        feed(&mut s, 0, &publish("t", QosPid::AtMostOnce, &sid, b"")),
        Err(RemoteError::SubscriptionIdentifierFromClient)
    );
}

#[test]
fn qos_and_retain_beyond_the_server_are_refused() {
    let mut c = config();
    c.maximum_qos = Qos::AtLeastOnce;
    c.retain = Availability::NotAvailable;
    let make = || {
        let mut s = S::new(c, Instant::ZERO);
        feed(&mut s, 0, &connect_bytes(Version::V5, 0, false)).unwrap();
        s.accept(Instant::ZERO, &Accept::default(), &mut [0u8; 128]).unwrap();
        s
    };
    let mut s = make();
    assert_eq!(
        feed(&mut s, 0, &publish("t", QosPid::ExactlyOnce(pid(1)), &[], b"")),
        Err(RemoteError::QosNotSupported)
    );
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::QosNotSupported);
    let mut s = make();
    let mut retained = publish("t", QosPid::AtMostOnce, &[], b"");
    retained[0] |= 1;
    assert_eq!(feed(&mut s, 0, &retained), Err(RemoteError::RetainNotSupported));
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::RetainNotSupported);
    // A will with QoS 2 is refused in CONNACK.
    let mut s = S::new(c, Instant::ZERO);
    let mut conn = Connect::new(Version::V5, "x");
    conn.will = Some(Will {
        qos: Qos::ExactlyOnce,
        retain: false,
        properties: Properties::default(),
        topic: "w",
        payload: b"",
    });
    assert_eq!(
        feed(&mut s, 0, &enc(Packet::Connect(conn), Version::V5)),
        Err(RemoteError::QosNotSupported)
    );
    assert_eq!(drain(&mut s)[0][..4], [0x20, 0x03, 0x00, 0x9b]);
}

#[test]
fn subscribe_and_unsubscribe_are_answered_by_the_caller() {
    let mut s = connected(Version::V5, 0, false);
    let subs = [Subscription::new("a/#", Qos::AtLeastOnce)];
    let bytes = enc(Packet::Subscribe(Subscribe::new(pid(3), &subs)), Version::V5);
    assert_eq!(feed(&mut s, 0, &bytes).unwrap(), Ev::Subscribe(3));
    let mut out = [0u8; 32];
    let n = s.sub_ack(pid(3), &[ReasonCode::GrantedQos1], &mut out).unwrap();
    assert_eq!(out[..n], [0x90, 0x04, 0x00, 0x03, 0x00, 0x01]);
    let bytes = enc(Packet::Unsubscribe(Unsubscribe::new(pid(4), &["a/#"])), Version::V5);
    assert_eq!(feed(&mut s, 0, &bytes).unwrap(), Ev::Unsubscribe(4));
    let n = s.unsub_ack(pid(4), &[ReasonCode::Success], &mut out).unwrap();
    assert_eq!(out[..n], [0xb0, 0x04, 0x00, 0x04, 0x00, 0x00]);
}

#[test]
fn v311_unsuback_leaves_out_the_reason_codes() {
    let mut s = connected(Version::V3_1_1, 0, false);
    let bytes = enc(Packet::Unsubscribe(Unsubscribe::new(pid(4), &["a/#"])), Version::V3_1_1);
    assert_eq!(feed(&mut s, 0, &bytes).unwrap(), Ev::Unsubscribe(4));
    let mut out = [0u8; 32];
    let n = s.unsub_ack(pid(4), &[ReasonCode::Success], &mut out).unwrap();
    assert_eq!(out[..n], [0xb0, 0x02, 0x00, 0x04]);
}

#[test]
fn pingreq_gets_one_pingresp() {
    let mut s = connected(Version::V5, 0, false);
    feed(&mut s, 0, &[0xc0, 0x00]).unwrap();
    feed(&mut s, 0, &[0xc0, 0x00]).unwrap();
    assert_eq!(drain(&mut s), vec![vec![0xd0, 0x00]]);
}

#[test]
fn keep_alive_is_enforced_at_one_and_a_half_times() {
    let mut s = connected(Version::V5, 10, true);
    assert_eq!(s.poll_timeout(), Some(Instant::from_millis(15_000)));
    feed(&mut s, 5_000, &[0xc0, 0x00]).unwrap();
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(Instant::from_millis(20_000)));
    s.handle_timeout(Instant::from_millis(19_999)); // early: harmless
    assert!(s.is_connected());
    s.handle_timeout(Instant::from_millis(20_000));
    s.handle_timeout(Instant::from_millis(20_000)); // idempotent
    assert_eq!(drain(&mut s), vec![vec![0xe0, 0x01, 0x8d]]);
    let closed = s.closed().unwrap();
    assert_eq!(closed.initiator, Initiator::Server);
    assert_eq!(closed.will, WillAction::Publish);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn connect_must_arrive_in_time() {
    let mut s = S::new(config(), Instant::ZERO);
    assert_eq!(s.poll_timeout(), Some(Instant::from_secs(10)));
    s.handle_timeout(Instant::from_secs(10));
    assert!(s.closed().is_some());
    assert!(drain(&mut s).is_empty());
}

#[test]
fn will_follows_the_disconnect_reason() {
    let mut s = connected(Version::V5, 0, true);
    assert_eq!(feed(&mut s, 0, &[0xe0, 0x00]).unwrap(), Ev::Disconnect(ReasonCode::Success));
    assert_eq!(s.closed().unwrap().will, WillAction::Discard);

    let mut s = connected(Version::V5, 0, true);
    assert_eq!(
        feed(&mut s, 0, &[0xe0, 0x01, 0x04]).unwrap(),
        Ev::Disconnect(ReasonCode::DisconnectWithWillMessage)
    );
    assert_eq!(s.closed().unwrap().will, WillAction::Publish);

    let mut s = connected(Version::V5, 0, true);
    s.connection_lost();
    let closed = s.closed().unwrap();
    assert_eq!((closed.initiator, closed.will), (Initiator::Transport, WillAction::Publish));

    let mut s = connected(Version::V5, 0, false);
    s.connection_lost();
    assert_eq!(s.closed().unwrap().will, WillAction::NoWill);
}

#[test]
fn session_expiry_cannot_be_raised_from_zero() {
    let mut s = connected(Version::V5, 0, true);
    let p = props(&[Property::SessionExpiryInterval(30)]);
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties = with_props(&p, crate::mqtt::properties::PropertyContext::Disconnect);
    assert_eq!(
        feed(&mut s, 0, &enc(Packet::Disconnect(d), Version::V5)),
        Err(RemoteError::SessionExpiryAfterZero)
    );
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::ProtocolError);
    assert_eq!(s.closed().unwrap().will, WillAction::Publish);
}

#[test]
fn session_takeover_sends_0x8e_and_publishes_the_will() {
    let mut s = connected(Version::V5, 0, true);
    s.disconnect(ReasonCode::SessionTakenOver).unwrap();
    assert_eq!(drain(&mut s), vec![vec![0xe0, 0x01, 0x8e]]);
    assert_eq!(s.closed().unwrap().will, WillAction::Publish);
    assert_eq!(s.disconnect(ReasonCode::SessionTakenOver), Err(UsageError::Closed));
    assert_eq!(s.handle_input(Instant::ZERO, &[0xc0, 0x00]), Ok(Status::Closed));
}

#[test]
fn outgoing_qos1_and_qos2_flows() {
    let mut s = connected(Version::V5, 0, false);
    let mut out = [0u8; 64];
    let mut p = Publish::new("x", b"1");
    p.qos_pid = QosPid::AtLeastOnce(pid(1));
    let sent = s.publish(&p, &mut out).unwrap();
    let id1 = sent.packet_id.unwrap();
    p.qos_pid = QosPid::ExactlyOnce(pid(1));
    let id2 = s.publish(&p, &mut out).unwrap().packet_id.unwrap();
    assert_ne!(id1, id2);
    assert_eq!(s.in_flight(), 2);
    let [h, l] = id1.get().to_be_bytes();
    assert_eq!(
        feed(&mut s, 0, &[0x40, 0x02, h, l]).unwrap(),
        Ev::Acked(id1.get(), ReasonCode::Success)
    );
    // A duplicate PUBACK is ignored.
    assert_eq!(feed(&mut s, 0, &[0x40, 0x02, h, l]).unwrap(), Ev::None);
    let [h, l] = id2.get().to_be_bytes();
    assert_eq!(feed(&mut s, 0, &[0x50, 0x02, h, l]).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x62, 0x02, h, l]]);
    assert_eq!(
        feed(&mut s, 0, &[0x70, 0x02, h, l]).unwrap(),
        Ev::Acked(id2.get(), ReasonCode::Success)
    );
    assert_eq!(s.in_flight(), 0);
    // PUBREC for an unknown identifier: PUBREL with 0x92.
    assert_eq!(feed(&mut s, 0, &[0x50, 0x02, 0x12, 0x34]).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x62, 0x03, 0x12, 0x34, 0x92]]);
    // PUBREC for a QoS 1 publish in flight: a protocol error, not a PUBREL.
    let mut p = Publish::new("t", b"x");
    p.qos_pid = QosPid::AtLeastOnce(pid(1));
    let id = s.publish(&p, &mut [0u8; 64]).unwrap().packet_id.unwrap();
    let [h, l] = id.get().to_be_bytes();
    assert_eq!(
        feed(&mut s, 0, &[0x50, 0x02, h, l]),
        Err(RemoteError::AckMismatch(PacketType::PubRec))
    );
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::ProtocolError);
}

#[test]
fn outgoing_flow_control_and_size_limit() {
    let mut s = S::new(config(), Instant::ZERO);
    let rm = props(&[
        Property::ReceiveMaximum(NonZeroU16::new(2).unwrap()),
        Property::MaximumPacketSize(NonZeroU32::new(20).unwrap()),
    ]);
    let mut c = Connect::new(Version::V5, "c");
    c.properties = with_props(&rm, crate::mqtt::properties::PropertyContext::Connect);
    feed(&mut s, 0, &enc(Packet::Connect(c), Version::V5)).unwrap();
    s.accept(Instant::ZERO, &Accept::default(), &mut [0u8; 128]).unwrap();
    let mut out = [0u8; 64];
    let mut p = Publish::new("x", b"1");
    p.qos_pid = QosPid::AtLeastOnce(pid(1));
    s.publish(&p, &mut out).unwrap();
    s.publish(&p, &mut out).unwrap();
    assert_eq!(s.send_quota(), 0);
    assert_eq!(s.publish(&p, &mut out), Err(UsageError::InFlightFull));
    // QoS 0 is not flow-controlled, but the size limit holds.
    let big = Publish::new("x", &[0u8; 30]);
    assert!(matches!(s.publish(&big, &mut out), Err(UsageError::PacketTooLarge { limit: 20, .. })));
    // Buffer too small: nothing in flight changes.
    let small = Publish::new("x", b"1");
    assert_eq!(s.publish(&small, &mut [0u8; 2]), Err(UsageError::BufferTooSmall { required: 7 }));
}

#[test]
fn republish_sets_dup_and_keeps_the_id() {
    let mut s = connected(Version::V5, 0, false);
    let mut out = [0u8; 64];
    let mut p = Publish::new("x", b"1");
    p.qos_pid = QosPid::AtLeastOnce(pid(1));
    let n = s.republish(pid(42), &p, &mut out).unwrap();
    assert_eq!(out[..n], [0x3a, 0x07, 0x00, 0x01, b'x', 0x00, 0x2a, 0x00, b'1']);
    assert_eq!(
        feed(&mut s, 0, &[0x40, 0x02, 0x00, 0x2a]).unwrap(),
        Ev::Acked(42, ReasonCode::Success)
    );
}

/// A new connection of the same session: CONNECT again over the store the last one left.
fn reconnect(old: S, session_present: bool) -> S {
    let store = old.into_store();
    let mut s = S::with_store(store, config(), Instant::ZERO);
    assert_eq!(
        feed(&mut s, 0, &connect_bytes(Version::V5, 0, false)).unwrap(),
        Ev::Connect("dev1".into())
    );
    let accept = Accept { session_present, ..Accept::default() };
    s.accept(Instant::ZERO, &accept, &mut [0u8; 128]).unwrap();
    s
}

fn dup(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes[0] |= 0x08;
    bytes
}

#[test]
fn incoming_qos2_is_delivered_once_across_reconnects() {
    let first = publish("t", QosPid::ExactlyOnce(pid(7)), &[], b"m");
    // PUBREC lost: the client sends the PUBLISH again (DUP) on its next connection.
    let mut s = connected(Version::V5, 0, false);
    assert_eq!(
        feed(&mut s, 0, &first).unwrap(),
        Ev::Publish("t".into(), b"m".to_vec(), Qos::ExactlyOnce)
    );
    s.connection_lost();
    let mut s = reconnect(s, true);
    assert_eq!(feed(&mut s, 0, &dup(first.clone())).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x50, 0x02, 0x00, 0x07]]);
    // PUBCOMP lost: the client sends PUBREL again; the first one freed the identifier already.
    assert_eq!(feed(&mut s, 0, &[0x62, 0x02, 0x00, 0x07]).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x70, 0x02, 0x00, 0x07]]);
    s.connection_lost();
    let mut s = reconnect(s, true);
    assert_eq!(feed(&mut s, 0, &[0x62, 0x02, 0x00, 0x07]).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x70, 0x03, 0x00, 0x07, 0x92]]);
    // Released: the identifier carries a new message now.
    assert_eq!(
        feed(&mut s, 0, &first).unwrap(),
        Ev::Publish("t".into(), b"m".to_vec(), Qos::ExactlyOnce)
    );
    // No session kept (Session Present 0): the store starts empty, the message is new.
    s.connection_lost();
    let mut s = reconnect(s, false);
    assert_eq!(s.store().awaiting_release(), 0);
    assert_eq!(
        feed(&mut s, 0, &dup(first)).unwrap(),
        Ev::Publish("t".into(), b"m".to_vec(), Qos::ExactlyOnce)
    );
}

#[test]
fn resumed_identifiers_awaiting_release_hold_receive_maximum_slots() {
    let mut s = connected(Version::V5, 0, false);
    for id in 1..=4 {
        feed(&mut s, 0, &publish("t", QosPid::ExactlyOnce(pid(id)), &[], b"")).unwrap();
    }
    drain(&mut s);
    s.connection_lost();
    let mut s = reconnect(s, true);
    // Four of four slots still held (MQTT 5.0 §3.3.4): a fifth QoS 2 message is one too many.
    let fifth = publish("t", QosPid::ExactlyOnce(pid(5)), &[], b"");
    assert_eq!(feed(&mut s, 0, &fifth), Err(RemoteError::ReceiveMaximumExceeded));
}

/// A store that holds one identifier awaiting release and cannot write a second (flash full,
/// say), though it never said how many it holds.
#[derive(Default)]
struct Cramped(MemoryStore<4>);

impl AwaitingRelease for Cramped {
    fn await_release(&mut self, id: PacketId) -> Result<(), crate::mqtt::StoreFull> {
        if self.0.awaiting_release() >= 1 {
            return Err(crate::mqtt::StoreFull);
        }
        self.0.await_release(id)
    }
    fn awaits_release(&self, id: PacketId) -> bool {
        self.0.awaits_release(id)
    }
    fn released(&mut self, id: PacketId) -> bool {
        self.0.released(id)
    }
    fn awaiting_release(&self) -> usize {
        self.0.awaiting_release()
    }
}

impl Store for Cramped {
    fn set_outgoing(
        &mut self,
        id: PacketId,
        state: Outgoing,
    ) -> Result<(), crate::mqtt::StoreFull> {
        self.0.set_outgoing(id, state)
    }
    fn outgoing(&self, id: PacketId) -> Option<Outgoing> {
        self.0.outgoing(id)
    }
    fn remove_outgoing(&mut self, id: PacketId) -> bool {
        self.0.remove_outgoing(id)
    }
    fn outgoing_at(&self, index: usize) -> Option<(PacketId, Outgoing)> {
        self.0.outgoing_at(index)
    }
    fn outgoing_len(&self) -> usize {
        self.0.outgoing_len()
    }
    fn clear(&mut self) {
        self.0.clear()
    }
}

#[test]
fn the_store_bounds_receive_maximum_and_a_failing_store_refuses_with_quota_exceeded() {
    // A store for one: Receive Maximum 1 in CONNACK, and a second QoS 2 message is one too many.
    let mut s: Server<4, 2, 16, MemoryStore<1>> = Server::new(config(), Instant::ZERO);
    let _connect = s.handle_input(Instant::ZERO, &connect_bytes(Version::V5, 0, false)).unwrap();
    let mut out = [0u8; 128];
    let n = s.accept(Instant::ZERO, &Accept::default(), &mut out).unwrap();
    assert!(out[..n].windows(3).any(|w| w == [0x21, 0x00, 0x01]), "Receive Maximum 1");
    for (id, ok) in [(1, true), (2, false)] {
        let bytes = publish("t", QosPid::ExactlyOnce(pid(id)), &[], b"");
        assert_eq!(s.handle_input(Instant::ZERO, &bytes).is_ok(), ok);
    }
    // A store that fails to record one: PUBREC 0x97, the message not reported.
    let mut s: Server<4, 2, 16, Cramped> = Server::new(config(), Instant::ZERO);
    let _connect = s.handle_input(Instant::ZERO, &connect_bytes(Version::V5, 0, false)).unwrap();
    s.accept(Instant::ZERO, &Accept::default(), &mut out).unwrap();
    for (id, delivered) in [(1, true), (2, false)] {
        let bytes = publish("t", QosPid::ExactlyOnce(pid(id)), &[], b"");
        let Status::Progress { event, .. } = s.handle_input(Instant::ZERO, &bytes).unwrap() else {
            panic!("a PUBLISH")
        };
        assert_eq!(event.is_some(), delivered);
    }
    let mut owed = Vec::new();
    while let Some(n) = s.poll_transmit(Instant::ZERO, &mut out).unwrap() {
        owed.push(out[..n].to_vec());
    }
    assert_eq!(owed, vec![vec![0x50, 0x02, 0x00, 0x01], vec![0x50, 0x03, 0x00, 0x02, 0x97]]);
}

#[test]
fn outgoing_flows_resume_where_they_stopped() {
    let mut s = connected(Version::V5, 0, false);
    let mut out = [0u8; 64];
    let mut p = Publish::new("x", b"1");
    p.qos_pid = QosPid::ExactlyOnce(pid(1));
    let a = s.publish(&p, &mut out).unwrap().packet_id.unwrap();
    let b = s.publish(&p, &mut out).unwrap().packet_id.unwrap();
    p.qos_pid = QosPid::AtLeastOnce(pid(1));
    let c = s.publish(&p, &mut out).unwrap().packet_id.unwrap();
    // `a` got its PUBREC (PUBREL sent, PUBCOMP lost); `b` and `c` lost their acknowledgements.
    feed(&mut s, 0, &[0x50, 0x02, 0x00, a.get() as u8]).unwrap();
    assert_eq!(drain(&mut s), vec![vec![0x62, 0x02, 0x00, a.get() as u8]]);
    s.connection_lost();
    let mut s = reconnect(s, true);
    assert_eq!(s.in_flight(), 3);
    // The session sends PUBREL again for `a` itself; `b` and `c` are the caller's to republish,
    // in the order first sent.
    assert_eq!(drain(&mut s), vec![vec![0x62, 0x02, 0x00, a.get() as u8]]);
    assert_eq!(s.to_resend().collect::<Vec<_>>(), vec![b, c]);
    assert_eq!(s.store().outgoing(b), Some(Outgoing::PubRec));
    p.qos_pid = QosPid::ExactlyOnce(pid(1));
    let n = s.republish(b, &p, &mut out).unwrap();
    assert_eq!(out[0], 0x3c, "DUP, QoS 2");
    assert_eq!(out[n - 4..n - 2], [0x00, b.get() as u8]);
    // New publishes never take an identifier still in flight.
    let mut q = Publish::new("x", b"1");
    q.qos_pid = QosPid::AtLeastOnce(pid(1));
    let d = s.publish(&q, &mut out).unwrap().packet_id.unwrap();
    assert!(![a, b, c].contains(&d));
    feed(&mut s, 0, &[0x70, 0x02, 0x00, a.get() as u8]).unwrap();
    assert_eq!(s.in_flight(), 3);
    // A clean start forgets it all.
    s.connection_lost();
    let s = reconnect(s, false);
    assert_eq!((s.in_flight(), drain(&mut { s }).len()), (0, 0));
}

#[test]
fn v311_session_drops_properties_and_reason_codes() {
    let mut s = connected(Version::V3_1_1, 0, false);
    let mut out = [0u8; 64];
    let raw = props(&[Property::MessageExpiryInterval(5)]);
    let mut p = Publish::new("x", b"1");
    p.properties = with_props(&raw, crate::mqtt::properties::PropertyContext::Publish);
    let n = s.publish(&p, &mut out).unwrap().len;
    assert_eq!(out[..n], [0x30, 0x04, 0x00, 0x01, b'x', b'1']);
    assert_eq!(feed(&mut s, 0, &[0x62, 0x02, 0x00, 0x05]).unwrap(), Ev::None);
    assert_eq!(drain(&mut s), vec![vec![0x70, 0x02, 0x00, 0x05]]);
}

#[test]
fn enhanced_authentication_exchange() {
    let mut s = S::new(config(), Instant::ZERO);
    let m = props(&[Property::AuthenticationMethod("SCRAM"), Property::AuthenticationData(b"c1")]);
    let mut c = Connect::new(Version::V5, "c");
    c.properties = with_props(&m, crate::mqtt::properties::PropertyContext::Connect);
    feed(&mut s, 0, &enc(Packet::Connect(c), Version::V5)).unwrap();
    let mut out = [0u8; 128];
    let n = s.auth(ReasonCode::ContinueAuthentication, "SCRAM", Some(b"s1"), &mut out).unwrap();
    assert_eq!(out[0], 0xf0);
    assert!(n > 4);
    // Anything but AUTH or DISCONNECT now is a protocol error; AUTH is reported.
    let cont =
        props(&[Property::AuthenticationMethod("SCRAM"), Property::AuthenticationData(b"c2")]);
    let mut a = Auth::new(ReasonCode::ContinueAuthentication);
    a.properties = with_props(&cont, crate::mqtt::properties::PropertyContext::Auth);
    let auth_bytes = enc(Packet::Auth(a), Version::V5);
    assert_eq!(feed(&mut s, 0, &auth_bytes).unwrap(), Ev::Auth(ReasonCode::ContinueAuthentication));
    let accept = Accept {
        authentication_method: Some("SCRAM"),
        authentication_data: Some(b"ok"),
        ..Accept::default()
    };
    let n = s.accept(Instant::ZERO, &accept, &mut out).unwrap();
    let (Packet::ConnAck(ack), _) =
        packet::decode(&out[..n], &DecodeOptions::default()).unwrap().progress().unwrap()
    else {
        panic!()
    };
    assert_eq!(ack.properties.authentication_method(), Some("SCRAM"));
    // Re-authentication.
    let mut re = Auth::new(ReasonCode::ReAuthenticate);
    re.properties = with_props(&cont, crate::mqtt::properties::PropertyContext::Auth);
    assert_eq!(
        feed(&mut s, 0, &enc(Packet::Auth(re), Version::V5)).unwrap(),
        Ev::Auth(ReasonCode::ReAuthenticate)
    );
    s.auth(ReasonCode::ContinueAuthentication, "SCRAM", Some(b"s2"), &mut out).unwrap();
    let mut step = Auth::new(ReasonCode::ContinueAuthentication);
    step.properties = with_props(&cont, crate::mqtt::properties::PropertyContext::Auth);
    assert_eq!(
        feed(&mut s, 0, &enc(Packet::Auth(step), Version::V5)).unwrap(),
        Ev::Auth(ReasonCode::ContinueAuthentication)
    );
    s.auth(ReasonCode::Success, "SCRAM", None, &mut out).unwrap();
    assert!(s.is_connected());

    let mut s2 = S::new(config(), Instant::ZERO);
    let mut c = Connect::new(Version::V5, "c");
    c.properties = with_props(&m, crate::mqtt::properties::PropertyContext::Connect);
    feed(&mut s2, 0, &enc(Packet::Connect(c), Version::V5)).unwrap();
    s2.auth(ReasonCode::ContinueAuthentication, "SCRAM", None, &mut out).unwrap();
    assert_eq!(
        feed(&mut s2, 0, &[0xc0, 0x00]),
        Err(RemoteError::NotAuthDuringAuthentication(PacketType::PingReq))
    );
    assert_eq!(drain(&mut s2)[0][..4], [0x20, 0x03, 0x00, 0x82]);
}

#[test]
fn auth_reason_codes_follow_the_exchange() {
    let m = props(&[Property::AuthenticationMethod("SCRAM")]);
    let auth = |code| {
        let mut a = Auth::new(code);
        a.properties = with_props(&m, crate::mqtt::properties::PropertyContext::Auth);
        enc(Packet::Auth(a), Version::V5)
    };
    let connecting = || {
        let mut s = S::new(config(), Instant::ZERO);
        let mut c = Connect::new(Version::V5, "c");
        c.properties = with_props(&m, crate::mqtt::properties::PropertyContext::Connect);
        feed(&mut s, 0, &enc(Packet::Connect(c), Version::V5)).unwrap();
        s
    };
    // [MQTT-4.12.0-3] while connecting, the client answers with 0x18 only.
    for code in [ReasonCode::ReAuthenticate, ReasonCode::Success] {
        let mut s = connecting();
        s.auth(ReasonCode::ContinueAuthentication, "SCRAM", None, &mut [0u8; 64]).unwrap();
        assert_eq!(feed(&mut s, 0, &auth(code)), Err(RemoteError::UnexpectedAuthReason(code)));
        assert_eq!(drain(&mut s)[0][..4], [0x20, 0x03, 0x00, 0x82]);
    }
    // After CONNACK: 0x18 before the client started a re-authentication is a protocol error.
    let accepted = || {
        let mut s = connecting();
        let accept = Accept { authentication_method: Some("SCRAM"), ..Accept::default() };
        s.accept(Instant::ZERO, &accept, &mut [0u8; 64]).unwrap();
        s
    };
    let mut s = accepted();
    let code = ReasonCode::ContinueAuthentication;
    assert_eq!(feed(&mut s, 0, &auth(code)), Err(RemoteError::UnexpectedAuthReason(code)));
    assert_eq!(disconnect_reason(&drain(&mut s)[0]), ReasonCode::ProtocolError);
    // [MQTT-4.12.1-1] 0x19 starts it, then 0x18 answers; a second 0x19 meanwhile is refused.
    let mut s = accepted();
    assert_eq!(
        feed(&mut s, 0, &auth(ReasonCode::ReAuthenticate)),
        Ok(Ev::Auth(ReasonCode::ReAuthenticate))
    );
    let code = ReasonCode::ReAuthenticate;
    assert_eq!(feed(&mut s, 0, &auth(code)), Err(RemoteError::UnexpectedAuthReason(code)));
    // Once the server ends it with Success, another one may start.
    let mut s = accepted();
    feed(&mut s, 0, &auth(ReasonCode::ReAuthenticate)).unwrap();
    s.auth(ReasonCode::Success, "SCRAM", None, &mut [0u8; 64]).unwrap();
    assert_eq!(
        feed(&mut s, 0, &auth(ReasonCode::ReAuthenticate)),
        Ok(Ev::Auth(ReasonCode::ReAuthenticate))
    );
}

/// AUTH from a client whose CONNECT named no Authentication Method: Protocol Error
/// ([MQTT-4.12.0-1]), with the DISCONNECT that says so.
#[test]
fn auth_without_a_connect_method_is_a_protocol_error() {
    let mut s = connected(Version::V5, 0, false);
    let m = props(&[Property::AuthenticationMethod("X")]);
    let mut a = Auth::new(ReasonCode::ReAuthenticate);
    a.properties = with_props(&m, crate::mqtt::properties::PropertyContext::Auth);
    assert_eq!(
        feed(&mut s, 0, &enc(Packet::Auth(a), Version::V5)),
        Err(RemoteError::UnexpectedPacket(PacketType::Auth))
    );
    let sent = drain(&mut s);
    assert_eq!(disconnect_reason(sent.last().unwrap()), ReasonCode::ProtocolError);
}

#[test]
fn reject_sends_connack_and_closes() {
    let mut s = S::new(config(), Instant::ZERO);
    feed(&mut s, 0, &connect_bytes(Version::V3_1_1, 0, true)).unwrap();
    let mut out = [0u8; 16];
    assert_eq!(
        s.reject(ReasonCode::Success, &mut out),
        Err(UsageError::NotAnError(ReasonCode::Success))
    );
    let n = s.reject(ReasonCode::Banned, &mut out).unwrap();
    assert_eq!(out[..n], [0x20, 0x02, 0x00, 0x05]); // 3.1.1: not authorized
    assert_eq!(s.closed().unwrap().will, WillAction::NoWill);
}

#[test]
fn owed_queue_full_asks_for_transmit_first() {
    let mut s = connected(Version::V5, 0, false);
    // PUBREL for unknown ids owe a PUBCOMP each; no reads happen past the queue's capacity.
    let mut fed = 0;
    loop {
        match s.handle_input(Instant::ZERO, &[0x62, 0x02, 0x00, 0x01]).unwrap() {
            Status::Progress { .. } => fed += 1,
            Status::Blocked => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(fed, OWED);
    assert_eq!(drain(&mut s).len(), OWED);
    assert!(matches!(
        s.handle_input(Instant::ZERO, &[0x62, 0x02, 0x00, 0x01]),
        Ok(Status::Progress { .. })
    ));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let connect = connect_bytes(Version::V5, 5, true);
    for round in 0..2000 {
        let mut s = S::new(config(), Instant::ZERO);
        let mut input = if round % 2 == 0 { connect.clone() } else { Vec::new() };
        let len = (next() % 200) as usize;
        input.extend((0..len).map(|_| next() as u8));
        let mut pos = 0;
        let mut out = [0u8; 2048];
        for step in 0..64u64 {
            let status = s.handle_input(Instant::from_millis(step * 1000), &input[pos..]);
            match status {
                Ok(Status::Progress { consumed, event }) => {
                    pos += consumed;
                    match event {
                        Some(Event::Connect(_)) => {
                            let _ = s.accept(
                                Instant::ZERO,
                                &Accept { assigned_client_id: Some("a"), ..Accept::default() },
                                &mut out,
                            );
                        }
                        Some(Event::Subscribe(sub)) => {
                            let id = sub.packet_id;
                            let _ = s.sub_ack(id, &[ReasonCode::Success], &mut out);
                        }
                        _ => {}
                    }
                }
                Ok(Status::Blocked) => {}
                Ok(_) | Err(_) => break,
            }
            while let Ok(Some(_)) = s.poll_transmit(Instant::ZERO, &mut out) {}
            s.handle_timeout(Instant::from_millis(step * 1000));
        }
    }
}

#[test]
fn a_refused_publish_is_acknowledged_with_the_error() {
    let mut s = connected(Version::V5, 0, false);
    let q1 = publish("$SYS/x", QosPid::AtLeastOnce(pid(1)), &[], b"");
    let q2 = publish("$SYS/x", QosPid::ExactlyOnce(pid(2)), &[], b"");
    feed(&mut s, 0, &q1).unwrap();
    feed(&mut s, 0, &q2).unwrap();
    assert_eq!(
        s.refuse_publish(pid(1), ReasonCode::Success),
        Err(UsageError::NotAnError(ReasonCode::Success))
    );
    assert_eq!(
        s.refuse_publish(pid(9), ReasonCode::NotAuthorized),
        Err(UsageError::UnknownPacketId)
    );
    s.refuse_publish(pid(1), ReasonCode::NotAuthorized).unwrap();
    s.refuse_publish(pid(2), ReasonCode::TopicNameInvalid).unwrap();
    assert_eq!(
        drain(&mut s),
        vec![vec![0x40, 0x03, 0x00, 0x01, 0x87], vec![0x50, 0x03, 0x00, 0x02, 0x90]]
    );
    // Sent already: nothing left to change.
    assert_eq!(
        s.refuse_publish(pid(1), ReasonCode::NotAuthorized),
        Err(UsageError::UnknownPacketId)
    );
    // The QoS 2 flow ended at its PUBREC: the identifier carries a new message.
    assert!(matches!(feed(&mut s, 0, &q2).unwrap(), Ev::Publish(..)));
    // 3.1.1: no reason codes on the wire.
    let mut s = connected(Version::V3_1_1, 0, false);
    let q1 = enc(
        Packet::Publish({
            let mut p = Publish::new("$SYS/x", b"");
            p.qos_pid = QosPid::AtLeastOnce(pid(3));
            p
        }),
        Version::V3_1_1,
    );
    feed(&mut s, 0, &q1).unwrap();
    s.refuse_publish(pid(3), ReasonCode::NotAuthorized).unwrap();
    assert_eq!(drain(&mut s), vec![vec![0x40, 0x02, 0x00, 0x03]]);
}

#[test]
fn repeated_topics_go_out_as_aliases_up_to_the_clients_maximum() {
    repeated_topics_go_out_as_aliases_in::<InlineAliases<2, 16>>();
    #[cfg(feature = "std")]
    repeated_topics_go_out_as_aliases_in::<HeapAliases>();
}

fn repeated_topics_go_out_as_aliases_in<AL: TopicAliases>() {
    let connect = |aliases: u16, on: bool| {
        let mut config = config();
        config.outgoing_topic_aliases = on;
        let mut s = With::<AL>::new(config, Instant::ZERO);
        let max = props(&[Property::TopicAliasMaximum(aliases)]);
        let mut c = Connect::new(Version::V5, "c");
        c.properties = with_props(&max, crate::mqtt::properties::PropertyContext::Connect);
        feed(&mut s, 0, &enc(Packet::Connect(c), Version::V5)).unwrap();
        s.accept(Instant::ZERO, &Accept::default(), &mut [0u8; 128]).unwrap();
        s
    };
    // What each PUBLISH carried: its topic and Topic Alias.
    let sent = |s: &mut With<AL>, topic: &str| {
        let mut out = [0u8; 64];
        let n = s.publish(&Publish::new(topic, b"1"), &mut out).unwrap().len;
        let Ok(crate::Status::Progress { event: Packet::Publish(p), .. }) =
            Packet::decode(&out[..n], &DecodeOptions::new(Version::V5))
        else {
            panic!("a PUBLISH")
        };
        (std::string::String::from(p.topic), p.properties.topic_alias().map(NonZeroU16::get))
    };
    let mut s = connect(2, true);
    assert_eq!(sent(&mut s, "a/b"), ("a/b".into(), Some(1)));
    assert_eq!(sent(&mut s, "a/b"), ("".into(), Some(1)));
    assert_eq!(sent(&mut s, "c"), ("c".into(), Some(2)));
    assert_eq!(sent(&mut s, "d"), ("d".into(), None), "the client's maximum is 2");
    assert_eq!(sent(&mut s, "c"), ("".into(), Some(2)));
    // None when the client takes none, or when they are turned off.
    let mut s = connect(0, true);
    assert_eq!(sent(&mut s, "a/b"), ("a/b".into(), None));
    let mut s = connect(2, false);
    assert_eq!(sent(&mut s, "a/b"), ("a/b".into(), None));
}

#[test]
fn receive_maximum_is_the_least_of_in_flight_store_and_config() {
    let mut config = config();
    config.receive_maximum = NonZeroU16::new(3);
    let mut s = S::new(config, Instant::ZERO);
    feed(&mut s, 0, &connect_bytes(Version::V5, 0, false)).unwrap();
    let mut out = [0u8; 128];
    let n = s.accept(Instant::ZERO, &Accept::default(), &mut out).unwrap();
    assert!(out[..n].windows(3).any(|w| w == [0x21, 0x00, 0x03]), "Receive Maximum 3");
    assert_eq!(s.receive_maximum(), 3);
}

/// A will the server could not publish is refused in CONNACK: retained without retain support
/// ([MQTT-3.2.2-13], 0x9A), above Maximum QoS ([MQTT-3.2.2-12], 0x9B).
#[test]
fn a_will_the_server_cannot_keep_is_refused_in_connack() {
    let mut c = config();
    c.retain = Availability::NotAvailable;
    c.maximum_qos = Qos::AtLeastOnce;
    for (retain, qos, fault, code) in [
        (true, Qos::AtMostOnce, RemoteError::RetainNotSupported, ReasonCode::RetainNotSupported),
        (false, Qos::ExactlyOnce, RemoteError::QosNotSupported, ReasonCode::QosNotSupported),
    ] {
        let mut s = S::new(c, Instant::ZERO);
        let mut connect = Connect::new(Version::V5, "dev1");
        connect.will = Some(Will {
            qos,
            retain,
            properties: Properties::default(),
            topic: "dev1/status",
            payload: b"offline",
        });
        assert_eq!(feed(&mut s, 0, &enc(Packet::Connect(connect), Version::V5)), Err(fault));
        let sent = drain(&mut s);
        assert_eq!((sent[0][0], sent[0][3]), (0x20, code as u8), "{sent:02x?}");
        assert!(!s.is_connected());
    }
}

/// A SUBSCRIBE with a Subscription Identifier where the server announced none: DISCONNECT 0xA1
/// (MQTT 5.0 §3.2.2.3.12).
#[test]
fn a_subscription_identifier_the_server_does_not_offer_is_refused() {
    let mut c = config();
    c.subscription_identifiers = Availability::NotAvailable;
    let mut s = S::new(c, Instant::ZERO);
    feed(&mut s, 0, &connect_bytes(Version::V5, 0, false)).unwrap();
    let mut out = [0u8; 128];
    s.accept(Instant::ZERO, &Accept::default(), &mut out).unwrap();
    let subs = [Subscription::new("a/#", Qos::AtLeastOnce)];
    let raw = props(&[Property::SubscriptionIdentifier(core::num::NonZeroU32::new(7).unwrap())]);
    let mut sub = Subscribe::new(pid(1), &subs);
    sub.properties = with_props(&raw, crate::mqtt::properties::PropertyContext::Subscribe);
    let fault = feed(&mut s, 0, &enc(Packet::Subscribe(sub), Version::V5));
    assert_eq!(fault, Err(RemoteError::SubscriptionIdentifiersNotSupported));
    let sent = drain(&mut s);
    assert_eq!(
        disconnect_reason(sent.last().unwrap()),
        ReasonCode::SubscriptionIdentifiersNotSupported
    );
}
