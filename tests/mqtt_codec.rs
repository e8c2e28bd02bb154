//! Byte vectors for every MQTT packet type in both versions, written from the layouts of
//! MQTT 5.0 §3 and MQTT 3.1.1 §3. Each vector is decoded whole, one byte at a time and with
//! trailing bytes, re-encoded to the same bytes, and round-tripped.
#![cfg(feature = "mqtt")]

use core::num::{NonZeroU16, NonZeroU32};

use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{
    self, Ack, Auth, ConnAck, Connect, DecodeOptions, Disconnect, FixedHeader, Packet, PacketType,
    Publish, QosPid, ReasonCodes, RetainHandling, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
use mqtt_ws::mqtt::properties::{
    PayloadFormat, Properties, PropertiesBuilder, Property, PropertyContext, PropertyId,
};
use mqtt_ws::mqtt::{DecodeError, EncodeError, PacketId, Qos, ReasonCode, Version};

const V3: Version = Version::V3_1_1;
const V5: Version = Version::V5;

fn pid(id: u16) -> PacketId {
    PacketId::new(id).unwrap()
}

fn props(raw: &[u8], ctx: PropertyContext) -> Properties<'_> {
    Properties::parse(raw, ctx).unwrap()
}

fn opts(version: Version) -> DecodeOptions {
    DecodeOptions::new(version)
}

/// Decodes `bytes` whole, byte by byte and with trailing bytes; returns the packet.
fn decode_all_ways<'a>(bytes: &'a [u8], version: Version) -> Packet<'a> {
    let o = opts(version);
    // Whole.
    let (packet, used) = match packet::decode(bytes, &o) {
        Ok(Status::Progress { consumed, event }) => (event, consumed),
        other => panic!("{bytes:02x?}: {other:?}"),
    };
    assert_eq!(used, bytes.len());
    // One byte at a time: Partial until complete, with the exact count once the header is in.
    let header_len = match FixedHeader::decode(bytes, &o).unwrap() {
        Status::Progress { event: h, consumed } => {
            assert_eq!(h.total_len(), bytes.len());
            assert_eq!(consumed, h.header_len);
            h.header_len
        }
        other => panic!("no header: {other:?}"),
    };
    for n in 0..bytes.len() {
        match packet::decode(&bytes[..n], &o) {
            Ok(Status::NeedMore { needed }) => {
                assert!(needed >= 1);
                assert!(n + needed <= bytes.len(), "n={n} needed={needed}");
                if n >= header_len {
                    assert_eq!(needed, bytes.len() - n);
                }
            }
            other => panic!("prefix {n} of {bytes:02x?}: {other:?}"),
        }
    }
    // Trailing bytes are left untouched (and not looked at).
    let mut long = bytes.to_vec();
    long.extend_from_slice(&[0xFF, 0x00, 0x12]);
    let (again, used) = packet::decode(&long, &o).unwrap().progress().unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(again, packet);
    packet
}

/// Full check of a canonical vector: decodes to `expected`, encodes back to `bytes`.
fn check(bytes: &[u8], version: Version, expected: Packet<'_>) {
    let packet = decode_all_ways(bytes, version);
    assert_eq!(packet, expected, "{bytes:02x?}");
    check_encode(bytes, version, &expected);
}

fn check_encode(bytes: &[u8], version: Version, p: &Packet<'_>) {
    assert_eq!(p.encoded_len(version), Ok(bytes.len()));
    let mut out = vec![0u8; bytes.len() + 4];
    assert_eq!(p.encode(version, &mut out), Ok(bytes.len()));
    assert_eq!(&out[..bytes.len()], bytes, "encoding of {p:?}");
    // Too small: the exact size is reported and nothing is written.
    let mut small = vec![0x55u8; bytes.len() - 1];
    assert_eq!(
        p.encode(version, &mut small),
        Err(EncodeError::BufferTooSmall { required: bytes.len() })
    );
    assert!(small.iter().all(|&b| b == 0x55));
    // Decode the encoding again.
    let (back, _) = packet::decode(&out, &opts(version)).unwrap().progress().unwrap();
    assert_eq!(&back, p);
}

fn decode_err(bytes: &[u8], version: Version) -> DecodeError {
    match packet::decode(bytes, &opts(version)) {
        Err(e) => e,
        other => panic!("{bytes:02x?} should fail, got {other:?}"),
    }
}

fn assert_malformed(bytes: &[u8], version: Version, err: DecodeError, code: ReasonCode) {
    let e = decode_err(bytes, version);
    assert_eq!(e, err, "{bytes:02x?}");
    assert_eq!(e.reason_code(), code, "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// CONNECT

const CONNECT_V3: &[u8] = &[
    0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x03, b'a', b'b',
    b'c',
];

#[test]
fn connect_v3_minimal() {
    let mut c = Connect::new(V3, "abc");
    c.keep_alive = 60;
    check(CONNECT_V3, V3, Packet::Connect(c));
    // CONNECT tells its own version: decoding with the other version gives the same packet.
    assert_eq!(decode_all_ways(CONNECT_V3, V5), Packet::Connect(c));
}

const CONNECT_V3_FULL: &[u8] = &[
    0x10, 0x1E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xEE, 0x00, 0x0A, 0x00, 0x02, b'c', b'1',
    0x00, 0x03, b'w', b'/', b't', 0x00, 0x03, b'b', b'y', b'e', 0x00, 0x01, b'u', 0x00, 0x01, b'p',
];

#[test]
fn connect_v3_will_user_password() {
    let c = Connect {
        version: V3,
        clean_start: true,
        keep_alive: 10,
        properties: Properties::default(),
        client_id: "c1",
        will: Some(Will {
            qos: Qos::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
            topic: "w/t",
            payload: b"bye",
        }),
        username: Some("u"),
        password: Some(b"p"),
    };
    check(CONNECT_V3_FULL, V3, Packet::Connect(c));
}

const CONNECT_V5: &[u8] = &[
    0x10, 0x2D, // fixed header, remaining 45
    0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x46, 0x00,
    0x3C, // name, level, flags, keep alive
    0x08, 0x11, 0x00, 0x00, 0x00, 0x3C, 0x21, 0x00, 0x14, // properties
    0x00, 0x03, b'a', b'b', b'c', // client id
    0x07, 0x18, 0x00, 0x00, 0x00, 0x05, 0x01, 0x01, // will properties
    0x00, 0x03, b'w', b'/', b't', 0x00, 0x02, b'h', b'i', // will topic, payload
    0x00, 0x02, b'p', b'w', // password (no user name: allowed in 5.0)
];

#[test]
fn connect_v5_will_properties_password() {
    let c = Connect {
        version: V5,
        clean_start: true,
        keep_alive: 60,
        properties: props(&CONNECT_V5[13..21], PropertyContext::Connect),
        client_id: "abc",
        will: Some(Will {
            qos: Qos::AtMostOnce,
            retain: false,
            properties: props(&CONNECT_V5[27..34], PropertyContext::Will),
            topic: "w/t",
            payload: b"hi",
        }),
        username: None,
        password: Some(b"pw"),
    };
    check(CONNECT_V5, V5, Packet::Connect(c));
    let Packet::Connect(d) = decode_all_ways(CONNECT_V5, V3) else { panic!() };
    assert_eq!(d.version, V5);
    let p: Vec<_> = d.properties.iter().collect();
    assert_eq!(
        p,
        [
            Property::SessionExpiryInterval(60),
            Property::ReceiveMaximum(NonZeroU16::new(20).unwrap())
        ]
    );
    let w: Vec<_> = d.will.unwrap().properties.iter().collect();
    assert_eq!(
        w,
        [Property::WillDelayInterval(5), Property::PayloadFormatIndicator(PayloadFormat::Utf8)]
    );
}

#[test]
fn connect_built_with_builder() {
    let mut pbuf = [0u8; 32];
    let mut b = PropertiesBuilder::new(&mut pbuf);
    b.push(Property::SessionExpiryInterval(60))
        .unwrap()
        .push(Property::ReceiveMaximum(NonZeroU16::new(20).unwrap()))
        .unwrap();
    let cprops = b.finish();
    let mut wbuf = [0u8; 32];
    let mut b = PropertiesBuilder::new(&mut wbuf);
    b.push(Property::WillDelayInterval(5))
        .unwrap()
        .push(Property::PayloadFormatIndicator(PayloadFormat::Utf8))
        .unwrap();
    let wprops = b.finish();
    let mut c = Connect::new(V5, "abc");
    c.keep_alive = 60;
    c.properties = cprops;
    c.will = Some(Will {
        qos: Qos::AtMostOnce,
        retain: false,
        properties: wprops,
        topic: "w/t",
        payload: b"hi",
    });
    c.password = Some(b"pw");
    check_encode(CONNECT_V5, V5, &Packet::Connect(c));
    // The version argument does not matter for CONNECT.
    let mut out = [0u8; 64];
    assert_eq!(Packet::Connect(c).encode(V3, &mut out), Ok(CONNECT_V5.len()));
}

// ---------------------------------------------------------------------------------------------
// CONNACK

#[test]
fn connack_v3() {
    let mut a = ConnAck::new(ReasonCode::Success);
    a.session_present = true;
    check(&[0x20, 0x02, 0x01, 0x00], V3, Packet::ConnAck(a));
    // Return code 5 is NotAuthorized (0x87).
    check(&[0x20, 0x02, 0x00, 0x05], V3, Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized)));
    for (code, rc) in [
        (1, ReasonCode::UnsupportedProtocolVersion),
        (2, ReasonCode::ClientIdentifierNotValid),
        (3, ReasonCode::ServerUnavailable),
        (4, ReasonCode::BadUserNameOrPassword),
    ] {
        check(&[0x20, 0x02, 0x00, code], V3, Packet::ConnAck(ConnAck::new(rc)));
    }
}

#[test]
fn connack_v5() {
    check(&[0x20, 0x03, 0x00, 0x00, 0x00], V5, Packet::ConnAck(ConnAck::new(ReasonCode::Success)));
    check(
        &[0x20, 0x03, 0x00, 0x87, 0x00],
        V5,
        Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized)),
    );
    const B: &[u8] =
        &[0x20, 0x0C, 0x00, 0x00, 0x09, 0x24, 0x01, 0x25, 0x00, 0x12, 0x00, 0x02, b'i', b'd'];
    let a = ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: props(&B[5..], PropertyContext::ConnAck),
    };
    check(B, V5, Packet::ConnAck(a));
    let got: Vec<_> = a.properties.iter().collect();
    assert_eq!(
        got,
        [
            Property::MaximumQos(Qos::AtLeastOnce),
            Property::RetainAvailable(false),
            Property::AssignedClientIdentifier("id")
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// PUBLISH

#[test]
fn publish_v3() {
    const Q0: &[u8] = &[0x30, 0x0A, 0x00, 0x03, b'a', b'/', b'b', b'h', b'e', b'l', b'l', b'o'];
    check(Q0, V3, Packet::Publish(Publish::new("a/b", b"hello")));
    const Q1: &[u8] = &[0x3B, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i'];
    let p = Publish {
        dup: true,
        qos_pid: QosPid::AtLeastOnce(pid(10)),
        retain: true,
        topic: "a/b",
        properties: Properties::default(),
        payload: b"hi",
    };
    check(Q1, V3, Packet::Publish(p));
    // Empty payload.
    check(&[0x30, 0x03, 0x00, 0x01, b'x'], V3, Packet::Publish(Publish::new("x", b"")));
}

const PUBLISH_V5: &[u8] = &[
    0x34, 0x16, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, // topic, packet id
    0x0D, 0x01, 0x01, 0x0B, 0x05, 0x0B, 0x06, 0x26, 0x00, 0x01, b'k', 0x00, 0x01,
    b'v', // props
    b'x',
];

#[test]
fn publish_v5() {
    let p = Publish {
        dup: false,
        qos_pid: QosPid::ExactlyOnce(pid(1)),
        retain: false,
        topic: "a/b",
        properties: props(&PUBLISH_V5[10..23], PropertyContext::Publish),
        payload: b"x",
    };
    check(PUBLISH_V5, V5, Packet::Publish(p));
    let ids: Vec<_> = p
        .properties
        .iter()
        .filter_map(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(id.get()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [5, 6]);
    assert_eq!(p.properties.user_properties().collect::<Vec<_>>(), [("k", "v")]);
    // Empty topic with a Topic Alias.
    const ALIAS: &[u8] = &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'p'];
    let a = Publish {
        topic: "",
        properties: props(&ALIAS[5..8], PropertyContext::Publish),
        ..Publish::new("", b"p")
    };
    check(ALIAS, V5, Packet::Publish(a));
    assert_eq!(a.properties.topic_alias(), NonZeroU16::new(1));
}

#[test]
fn publish_streaming_head() {
    // A 1000-byte payload; the receiver only ever holds the head.
    let payload = [0x5Au8; 1000];
    let mut pbuf = [0u8; 16];
    let mut b = PropertiesBuilder::new(&mut pbuf);
    b.push(Property::MessageExpiryInterval(30)).unwrap();
    let p = Publish {
        qos_pid: QosPid::AtLeastOnce(pid(7)),
        properties: b.finish(),
        ..Publish::new("big/topic", &payload)
    };
    let mut full = vec![0u8; 1100];
    let total = Packet::Publish(p).encode(V5, &mut full).unwrap();
    let full = &full[..total];
    // Encoding the head alone gives the same first bytes.
    let mut head = [0u8; 32];
    let head_len = p.encode_head(V5, payload.len(), &mut head).unwrap();
    assert_eq!(p.head_len(V5, payload.len()), Ok(head_len));
    assert_eq!(&head[..head_len], &full[..head_len]);
    assert_eq!(head_len + payload.len(), total);
    assert_eq!(
        p.encode_head(V5, payload.len(), &mut head[..head_len - 1]),
        Err(EncodeError::BufferTooSmall { required: head_len })
    );
    // Decoding the head from growing prefixes: Partial with an exact count once the fixed header
    // (3 bytes) is complete: the bytes up to the end of the field the prefix stops in (topic
    // length, topic, packet identifier, property length, properties), then Complete as soon as
    // the head is in.
    let o = opts(V5);
    let field_ends = [2, 11, 13, 14, 19].map(|end| 3 + end);
    assert_eq!(field_ends[4], head_len);
    for n in 0..head_len {
        match Publish::decode_head(&full[..n], &o).unwrap() {
            Status::NeedMore { needed } if n < 3 => assert!(n + needed <= head_len, "n={n}"),
            Status::NeedMore { needed } => {
                let end = field_ends.into_iter().find(|&end| end > n).unwrap();
                assert_eq!(needed, end - n, "n={n}");
            }
            other => panic!("{other:?} at {n}"),
        }
    }
    for n in [head_len, head_len + 1, total] {
        let (h, consumed) = Publish::decode_head(&full[..n], &o).unwrap().progress().unwrap();
        assert_eq!(consumed, head_len);
        assert_eq!(h.head_len, head_len);
        assert_eq!(h.payload_len, payload.len());
        assert_eq!(h.publish, Publish { payload: b"", ..p });
    }
    // Large remaining length needs only the head in the buffer: 256 MiB.
    let big = 256 * 1024 * 1024 - 64;
    let n = p.encode_head(V5, big, &mut head).unwrap();
    let h = Publish::decode_head(&head[..n], &o).unwrap().progress().unwrap().0;
    assert_eq!(h.payload_len, big);
    // Not a PUBLISH.
    assert_eq!(Publish::decode_head(&[0xC0, 0x00], &o), Err(DecodeError::UnexpectedPacketType));
    // Head longer than the remaining length is malformed.
    assert_eq!(
        Publish::decode_head(&[0x30, 0x03, 0x00, 0x05, b'a', b'b'], &o),
        Err(DecodeError::Truncated)
    );
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP

#[test]
fn acks_v3() {
    let a = Ack::new(pid(7));
    check(&[0x40, 0x02, 0x00, 0x07], V3, Packet::PubAck(a));
    check(&[0x50, 0x02, 0x00, 0x07], V3, Packet::PubRec(a));
    check(&[0x62, 0x02, 0x00, 0x07], V3, Packet::PubRel(a));
    check(&[0x70, 0x02, 0x00, 0x07], V3, Packet::PubComp(a));
}

#[test]
fn acks_v5() {
    let ok = Ack::new(pid(7));
    check(&[0x40, 0x02, 0x00, 0x07], V5, Packet::PubAck(ok));
    check(&[0x70, 0x02, 0x00, 0x07], V5, Packet::PubComp(ok));
    let nms = Ack { reason_code: ReasonCode::NoMatchingSubscribers, ..ok };
    check(&[0x40, 0x03, 0x00, 0x07, 0x10], V5, Packet::PubAck(nms));
    check(
        &[0x50, 0x03, 0x00, 0x07, 0x80],
        V5,
        Packet::PubRec(Ack { reason_code: ReasonCode::UnspecifiedError, ..ok }),
    );
    check(
        &[0x62, 0x03, 0x00, 0x07, 0x92],
        V5,
        Packet::PubRel(Ack { reason_code: ReasonCode::PacketIdentifierNotFound, ..ok }),
    );
    const B: &[u8] = &[0x40, 0x09, 0x00, 0x07, 0x10, 0x05, 0x1F, 0x00, 0x02, b'n', b'o'];
    let with = Ack { properties: props(&B[6..], PropertyContext::PubAck), ..nms };
    check(B, V5, Packet::PubAck(with));
    // Non-canonical but valid: explicit empty property list.
    assert_eq!(decode_all_ways(&[0x40, 0x04, 0x00, 0x07, 0x00, 0x00], V5), Packet::PubAck(ok));
}

#[test]
fn every_ack_carries_a_reason_string_and_user_properties() {
    // MQTT 5.0 §3.4.2.2 to §3.7.2.2, §3.9.2.1, §3.11.2.1: the acks' properties are a Reason
    // String and User Properties. Properties: Reason String "no", User Property ("k", "v").
    const PROPS: &[u8] =
        &[0x0C, 0x1F, 0x00, 0x02, b'n', b'o', 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'];
    for (first, ty) in [
        (0x40, PacketType::PubAck),
        (0x50, PacketType::PubRec),
        (0x62, PacketType::PubRel),
        (0x70, PacketType::PubComp),
        (0x90, PacketType::SubAck),
        (0xB0, PacketType::UnsubAck),
    ] {
        let mut b = vec![first, 3 + PROPS.len() as u8, 0x00, 0x07];
        let code = if ty == PacketType::UnsubAck { 0x11 } else { 0x00 };
        if matches!(ty, PacketType::SubAck | PacketType::UnsubAck) {
            b.extend_from_slice(PROPS);
            b.push(code);
        } else {
            b.push(code);
            b.extend_from_slice(PROPS);
        }
        let packet = decode_all_ways(&b, V5);
        assert_eq!(packet.packet_type(), ty);
        check_encode(&b, V5, &packet);
    }
}

#[test]
fn repeated_subscription_identifiers_keep_the_other_properties() {
    // A PUBLISH to a client with two matching subscriptions (§3.3.2.3.8): Message Expiry
    // Interval 60, Subscription Identifiers 1 and 2.
    const RAW: &[u8] = &[0x02, 0x00, 0x00, 0x00, 0x3C, 0x0B, 0x01, 0x0B, 0x02];
    let p = props(RAW, PropertyContext::Publish);
    assert_eq!(p.get(PropertyId::MessageExpiryInterval), Some(Property::MessageExpiryInterval(60)));
    let ids: Vec<u32> = p.subscription_identifiers().map(NonZeroU32::get).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(
        format!("{p:?}"),
        "[MessageExpiryInterval(60), SubscriptionIdentifier(1), SubscriptionIdentifier(2)]"
    );
}

#[test]
fn subscription_identifiers_repeat_in_publish_only() {
    // §3.3.2.3.8: a PUBLISH may carry several; in SUBSCRIBE a second is a Protocol Error
    // (§3.8.2.1.2), also when the sender built the list.
    let mut buf = [0u8; 16];
    let mut b = PropertiesBuilder::new(&mut buf);
    for id in [1, 2] {
        b.push(Property::SubscriptionIdentifier(NonZeroU32::new(id).unwrap())).unwrap();
    }
    let two = b.finish();
    let mut out = [0u8; 64];
    let publish = Publish { properties: two, ..Publish::new("t", b"") };
    assert!(Packet::Publish(publish).encode(V5, &mut out).is_ok());
    let subs = [Subscription::new("t", Qos::AtMostOnce)];
    let subscribe = Subscribe { properties: two, ..Subscribe::new(pid(1), &subs) };
    assert_eq!(
        Packet::Subscribe(subscribe).encode(V5, &mut out),
        Err(EncodeError::DuplicateProperty(PropertyId::SubscriptionIdentifier))
    );
    // One, after another property, is fine in SUBSCRIBE; its largest value is 268,435,455.
    let mut buf = [0u8; 32];
    let mut b = PropertiesBuilder::new(&mut buf);
    assert!(b.is_empty());
    b.push(Property::UserProperty("k", "v")).unwrap();
    assert!(!b.is_empty());
    let max = NonZeroU32::new(268_435_455).unwrap();
    b.push(Property::SubscriptionIdentifier(max)).unwrap();
    let too_big = Property::SubscriptionIdentifier(NonZeroU32::new(268_435_456).unwrap());
    assert!(b.push(too_big).is_err());
    let one = Subscribe { properties: b.finish(), ..Subscribe::new(pid(1), &subs) };
    assert!(Packet::Subscribe(one).encode(V5, &mut out).is_ok());
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK

#[test]
fn subscribe_v3() {
    const B: &[u8] =
        &[0x82, 0x0C, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x00, 0x01, b'#', 0x00];
    let subs =
        [Subscription::new("a/b", Qos::AtLeastOnce), Subscription::new("#", Qos::AtMostOnce)];
    let s = Subscribe::new(pid(1), &subs);
    check(B, V3, Packet::Subscribe(s));
    let Packet::Subscribe(d) = decode_all_ways(B, V3) else { panic!() };
    assert_eq!(d.filters.iter().collect::<Vec<_>>(), subs);
    assert_eq!(d.filters.len(), 2);
}

#[test]
fn subscribe_v5() {
    const B: &[u8] = &[
        0x82, 0x12, 0x00, 0x02, 0x02, 0x0B, 0x07, 0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e',
        b'/', b'g', b'/', b't', 0x2A,
    ];
    let subs = [Subscription {
        filter: "$share/g/t",
        options: SubscriptionOptions {
            qos: Qos::ExactlyOnce,
            no_local: false,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        },
    }];
    let s = Subscribe {
        properties: props(&B[5..7], PropertyContext::Subscribe),
        ..Subscribe::new(pid(2), &subs)
    };
    check(B, V5, Packet::Subscribe(s));
    assert_eq!(
        s.properties.get(PropertyId::SubscriptionIdentifier),
        Some(Property::SubscriptionIdentifier(NonZeroU32::new(7).unwrap()))
    );
}

#[test]
fn connect_is_encoded_as_its_own_version() {
    let c = Packet::Connect(Connect::new(V3, "c"));
    let (mut as_v5, mut as_v3) = ([0u8; 32], [0u8; 32]);
    let n = c.encode(V5, &mut as_v5).unwrap();
    assert_eq!(c.encode(V3, &mut as_v3), Ok(n));
    assert_eq!(as_v5, as_v3);
    assert_eq!(as_v5[8], 4, "protocol level 4: MQTT 3.1.1");
    assert_eq!(c.encoded_len(V5), Ok(n));
}

#[test]
fn the_largest_remaining_length_is_268_435_455() {
    // MQTT 5.0 §1.5.5: four bytes of Variable Byte Integer. The head of a PUBLISH whose body is
    // exactly that long is written; one byte more is too large.
    let p = Publish::new("t", b"");
    let head = 2 + 1 + 1; // topic "t", empty property list
    let max = 268_435_455 - head;
    assert_eq!(p.head_len(V5, max), Ok(1 + 4 + head));
    assert_eq!(p.head_len(V5, max + 1), Err(EncodeError::PacketTooLarge));
}

#[test]
fn subscribe_options_no_local_and_send_if_new() {
    // Options 0x15: QoS 1, No Local, Retain Handling 1 (MQTT 5.0 §3.8.3.1).
    const B: &[u8] = &[0x82, 0x09, 0x00, 0x03, 0x00, 0x00, 0x03, b'a', b'/', b'+', 0x15];
    let subs = [Subscription {
        filter: "a/+",
        options: SubscriptionOptions {
            qos: Qos::AtLeastOnce,
            no_local: true,
            retain_as_published: false,
            retain_handling: RetainHandling::SendIfNew,
        },
    }];
    check(B, V5, Packet::Subscribe(Subscribe::new(pid(3), &subs)));
}

#[test]
fn share_prefix_is_an_ordinary_filter_in_3_1_1() {
    // In 3.1.1 "$share/g" is a topic filter like any other; in 5.0 a shared subscription
    // needs a filter after its ShareName [MQTT-4.8.2-2].
    const B: &[u8] =
        &[0xA2, 0x0C, 0x00, 0x04, 0x00, 0x08, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g'];
    check(B, V3, Packet::Unsubscribe(Unsubscribe::new(pid(4), &["$share/g"])));
    let subs = [Subscription::new("$share/g", Qos::AtLeastOnce)];
    let subscribe = Packet::Subscribe(Subscribe::new(pid(4), &subs));
    let mut out = [0u8; 32];
    assert_eq!(subscribe.encode(V3, &mut out), Ok(15));
    assert_eq!(subscribe.encode(V5, &mut out), Err(EncodeError::InvalidTopicFilter));
}

#[test]
fn suback() {
    let codes = [ReasonCode::GrantedQos1, ReasonCode::UnspecifiedError];
    check(&[0x90, 0x04, 0x00, 0x01, 0x01, 0x80], V3, Packet::SubAck(SubAck::new(pid(1), &codes)));
    let codes = [ReasonCode::GrantedQos2, ReasonCode::TopicFilterInvalid];
    check(
        &[0x90, 0x05, 0x00, 0x02, 0x00, 0x02, 0x8F],
        V5,
        Packet::SubAck(SubAck::new(pid(2), &codes)),
    );
    // 5.0 failure codes become 0x80 in 3.1.1.
    let codes = [ReasonCode::GrantedQos0, ReasonCode::NotAuthorized];
    let mut out = [0u8; 8];
    let n = Packet::SubAck(SubAck::new(pid(3), &codes)).encode(V3, &mut out).unwrap();
    assert_eq!(&out[..n], &[0x90, 0x04, 0x00, 0x03, 0x00, 0x80]);
}

#[test]
fn unsubscribe() {
    const V3B: &[u8] = &[0xA2, 0x07, 0x00, 0x03, 0x00, 0x03, b'a', b'/', b'b'];
    check(V3B, V3, Packet::Unsubscribe(Unsubscribe::new(pid(3), &["a/b"])));
    const V5B: &[u8] = &[0xA2, 0x08, 0x00, 0x04, 0x00, 0x00, 0x03, b'a', b'/', b'+'];
    check(V5B, V5, Packet::Unsubscribe(Unsubscribe::new(pid(4), &["a/+"])));
    // Two filters, the second multi-byte: counted and read back from the decoded list.
    const TWO: &[u8] = &[0xA2, 0x0A, 0x00, 0x05, 0x00, 0x00, 0x01, b'#', 0x00, 0x02, 0xC3, 0xA9];
    check(TWO, V5, Packet::Unsubscribe(Unsubscribe::new(pid(5), &["#", "é"])));
    let Packet::Unsubscribe(u) = decode_all_ways(TWO, V5) else { panic!() };
    assert_eq!(u.filters.len(), 2);
    assert_eq!(u.filters.iter().collect::<Vec<_>>(), ["#", "é"]);
}

#[test]
fn unsuback() {
    check(&[0xB0, 0x02, 0x00, 0x03], V3, Packet::UnsubAck(UnsubAck::new(pid(3), &[])));
    let codes = [ReasonCode::Success, ReasonCode::NoSubscriptionExisted];
    check(
        &[0xB0, 0x05, 0x00, 0x04, 0x00, 0x00, 0x11],
        V5,
        Packet::UnsubAck(UnsubAck::new(pid(4), &codes)),
    );
}

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH

#[test]
fn ping() {
    for v in [V3, V5] {
        check(&[0xC0, 0x00], v, Packet::PingReq);
        check(&[0xD0, 0x00], v, Packet::PingResp);
    }
}

#[test]
fn disconnect() {
    check(&[0xE0, 0x00], V3, Packet::Disconnect(Disconnect::new(ReasonCode::NormalDisconnection)));
    check(&[0xE0, 0x00], V5, Packet::Disconnect(Disconnect::new(ReasonCode::NormalDisconnection)));
    check(
        &[0xE0, 0x01, 0x04],
        V5,
        Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage)),
    );
    const B: &[u8] = &[0xE0, 0x07, 0x8E, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00];
    let d = Disconnect {
        reason_code: ReasonCode::SessionTakenOver,
        properties: props(&B[4..], PropertyContext::Disconnect),
    };
    check(B, V5, Packet::Disconnect(d));
}

#[test]
fn auth() {
    check(&[0xF0, 0x00], V5, Packet::Auth(Auth::new(ReasonCode::Success)));
    const B: &[u8] = &[
        0xF0, 0x0E, 0x18, 0x0C, 0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', 0x16, 0x00, 0x01,
        b'x',
    ];
    let a = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: props(&B[4..], PropertyContext::Auth),
    };
    check(B, V5, Packet::Auth(a));
}

// ---------------------------------------------------------------------------------------------
// Malformed packets and protocol errors: one test per rule.

use ReasonCode::{MalformedPacket as MAL, ProtocolError as PROTO};

#[test]
fn reserved_packet_type() {
    assert_malformed(&[0x00, 0x00], V5, DecodeError::ReservedPacketType, MAL);
    // AUTH does not exist in 3.1.1 [MQTT-2.1.2].
    assert_malformed(&[0xF0, 0x00], V3, DecodeError::ReservedPacketType, MAL);
}

#[test]
fn reserved_flags() {
    // [MQTT-2.1.3-1]
    for b in [
        &[0x41, 0x02, 0x00, 0x01][..],
        &[0x60, 0x02, 0x00, 0x01],
        &[0x80, 0x02, 0x00, 0x01],
        &[0xA0, 0x02, 0x00, 0x01],
        &[0xC1, 0x00],
        &[0x18, 0x00],
    ] {
        assert_malformed(b, V5, DecodeError::InvalidFixedHeaderFlags, MAL);
    }
    // Known from the first byte alone.
    assert_malformed(&[0x41], V5, DecodeError::InvalidFixedHeaderFlags, MAL);
}

#[test]
fn publish_qos_3() {
    assert_malformed(&[0x36, 0x03, 0x00, 0x01, b'a'], V5, DecodeError::InvalidQos, MAL); // [MQTT-3.3.1-4]
}

#[test]
fn publish_dup_on_qos_0() {
    assert_malformed(&[0x38, 0x03, 0x00, 0x01, b'a'], V3, DecodeError::DupWithQos0, MAL); // [MQTT-3.3.1-2]
}

#[test]
fn variable_byte_integer() {
    assert_malformed(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], V5, DecodeError::MalformedVarInt, MAL);
    // [MQTT-1.5.5-1] minimum number of bytes.
    assert_malformed(&[0x30, 0x83, 0x00, 0x00, 0x01, b'a'], V5, DecodeError::NonMinimalVarInt, MAL);
}

#[test]
fn packet_too_large_from_fixed_header() {
    let o = DecodeOptions::new(V5).with_max_packet_size(100);
    // Only the fixed header is there: 0x30, remaining 200.
    let e = packet::decode(&[0x30, 0xC8, 0x01], &o).unwrap_err();
    assert_eq!(e, DecodeError::PacketTooLarge);
    assert_eq!(e.reason_code(), ReasonCode::PacketTooLarge);
    // Exactly at the limit is fine.
    let mut b = vec![0x30, 97, 0x00, 0x01, b'a'];
    b.resize(99, 0);
    assert_eq!(packet::decode(&b, &o.with_max_packet_size(99)).unwrap().progress().unwrap().1, 99);
    assert_eq!(packet::decode(&b, &o.with_max_packet_size(98)), Err(DecodeError::PacketTooLarge));
}

#[test]
fn remaining_length_disagrees_with_content() {
    // Topic length runs past the packet.
    assert_malformed(&[0x30, 0x04, 0x00, 0x05, b'a', b'b'], V3, DecodeError::Truncated, MAL);
    // Bytes left over.
    assert_malformed(&[0xC0, 0x01, 0x00], V5, DecodeError::TrailingBytes, MAL);
    assert_malformed(&[0x40, 0x03, 0x00, 0x01, 0x00], V3, DecodeError::TrailingBytes, MAL);
    assert_malformed(&[0xE0, 0x01, 0x00], V3, DecodeError::TrailingBytes, MAL);
    assert_malformed(&[0x20, 0x03, 0x00, 0x00, 0x00], V3, DecodeError::TrailingBytes, MAL);
    // Property length runs past the packet.
    assert_malformed(&[0x40, 0x05, 0x00, 0x01, 0x00, 0x05, 0x1F], V5, DecodeError::Truncated, MAL);
    // Too short for the packet identifier.
    assert_malformed(&[0x40, 0x01, 0x00], V5, DecodeError::Truncated, MAL);
}

#[test]
fn utf8_strings() {
    // [MQTT-1.5.4-1] ill-formed, surrogate.
    assert_malformed(
        &[0x30, 0x05, 0x00, 0x03, b'a', 0xFF, b'b'],
        V5,
        DecodeError::InvalidUtf8,
        MAL,
    );
    assert_malformed(
        &[0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80],
        V5,
        DecodeError::InvalidUtf8,
        MAL,
    );
    // [MQTT-1.5.4-2] U+0000.
    assert_malformed(
        &[0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'],
        V5,
        DecodeError::NullCharacter,
        MAL,
    );
    // In a CONNECT client identifier too.
    let mut c = CONNECT_V3.to_vec();
    c[15] = 0;
    assert_malformed(&c, V3, DecodeError::NullCharacter, MAL);
}

#[test]
fn zero_packet_id() {
    // [MQTT-2.2.1-3]
    assert_malformed(&[0x40, 0x02, 0x00, 0x00], V5, DecodeError::ZeroPacketId, PROTO);
    assert_malformed(
        &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00],
        V3,
        DecodeError::ZeroPacketId,
        PROTO,
    );
    assert_malformed(
        &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00],
        V3,
        DecodeError::ZeroPacketId,
        PROTO,
    );
    assert_malformed(&[0xB0, 0x02, 0x00, 0x00], V3, DecodeError::ZeroPacketId, PROTO);
}

#[test]
fn connect_protocol_name_and_level() {
    let mut c = CONNECT_V3.to_vec();
    c[7] = b'X';
    assert_malformed(
        &c,
        V3,
        DecodeError::InvalidProtocolName,
        ReasonCode::UnsupportedProtocolVersion,
    );
    let mut c = CONNECT_V3.to_vec();
    c[8] = 6;
    assert_malformed(
        &c,
        V3,
        DecodeError::UnsupportedProtocolVersion,
        ReasonCode::UnsupportedProtocolVersion,
    );
    // MQTT 3.1 ("MQIsdp", level 3).
    let c = [
        0x10, 0x11, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x3C, 0x00,
        0x03, b'a', b'b', b'c',
    ];
    assert_malformed(
        &c,
        V3,
        DecodeError::UnsupportedProtocolVersion,
        ReasonCode::UnsupportedProtocolVersion,
    );
}

fn connect_with_flags(flags: u8) -> Vec<u8> {
    let mut c = CONNECT_V3.to_vec();
    c[9] = flags;
    c
}

#[test]
fn connect_reserved_flag() {
    // [MQTT-3.1.2-3]
    assert_malformed(&connect_with_flags(0x03), V3, DecodeError::ReservedConnectFlag, MAL);
}

#[test]
fn connect_will_flags() {
    // [MQTT-3.1.2-11] Will QoS without Will Flag; [MQTT-3.1.2-13] Will Retain without it.
    assert_malformed(&connect_with_flags(0x0A), V3, DecodeError::InvalidWillFlags, MAL);
    assert_malformed(&connect_with_flags(0x22), V3, DecodeError::InvalidWillFlags, MAL);
    // [MQTT-3.1.2-12] Will QoS 3.
    let mut c = CONNECT_V3_FULL.to_vec();
    c[9] |= 0x18;
    assert_malformed(&c, V3, DecodeError::InvalidQos, MAL);
    // Will topic with a wildcard.
    let mut c = CONNECT_V3_FULL.to_vec();
    c[20] = b'#';
    assert_malformed(&c, V3, DecodeError::InvalidTopicName, ReasonCode::ProtocolError);
}

#[test]
fn connect_password_without_user_name() {
    // [MQTT-3.1.2-22] 3.1.1 only: flags 0x42 and a password.
    let mut c = CONNECT_V3.to_vec();
    c[9] = 0x42;
    c.extend_from_slice(&[0x00, 0x01, b'p']);
    c[1] += 3;
    assert_malformed(&c, V3, DecodeError::PasswordWithoutUsername, MAL);
    // 5.0 allows it.
    let mut c = CONNECT_V3.to_vec();
    c[8] = 5;
    c[9] = 0x42;
    c.insert(12, 0x00); // empty properties
    c.extend_from_slice(&[0x00, 0x01, b'p']);
    c[1] += 4;
    let Packet::Connect(d) = decode_all_ways(&c, V5) else { panic!() };
    assert_eq!((d.username, d.password), (None, Some(&b"p"[..])));
}

#[test]
fn connect_properties_checked() {
    // Topic Alias in CONNECT is not allowed; a duplicate Session Expiry Interval.
    let mut c = CONNECT_V5.to_vec();
    c[13..16].copy_from_slice(&[0x23, 0x00, 0x01]);
    c[16..21].copy_from_slice(&[0x26, 0x00, 0x00, 0x00, 0x00]);
    assert_malformed(&c, V5, DecodeError::PropertyNotAllowed(PropertyId::TopicAlias), MAL);
    let mut c = CONNECT_V5.to_vec();
    c[18..21].copy_from_slice(&[0x21, 0x00, 0x00]); // Receive Maximum 0
    assert_malformed(&c, V5, DecodeError::InvalidPropertyValue(PropertyId::ReceiveMaximum), PROTO);
    // A Will property in the CONNECT properties.
    let mut c = CONNECT_V5.to_vec();
    c[13] = 0x18;
    assert_malformed(&c, V5, DecodeError::PropertyNotAllowed(PropertyId::WillDelayInterval), MAL);
}

#[test]
fn publish_topic_rules() {
    // [MQTT-3.3.2-2] wildcards.
    for w in [b'+', b'#'] {
        let b = [0x30, 0x05, 0x00, 0x03, b'a', b'/', w];
        assert_malformed(&b, V3, DecodeError::InvalidTopicName, ReasonCode::ProtocolError);
        let b = [0x30, 0x06, 0x00, 0x03, b'a', b'/', w, 0x00];
        assert_malformed(&b, V5, DecodeError::InvalidTopicName, ReasonCode::ProtocolError);
    }
    // 3.1.1: empty topic [MQTT-4.7.3-1]; 5.0: empty topic without Topic Alias.
    assert_malformed(
        &[0x30, 0x02, 0x00, 0x00],
        V3,
        DecodeError::InvalidTopicName,
        ReasonCode::ProtocolError,
    );
    assert_malformed(
        &[0x30, 0x03, 0x00, 0x00, 0x00],
        V5,
        DecodeError::EmptyTopicWithoutAlias,
        PROTO,
    );
    // Topic Alias 0 [MQTT-3.3.2-8].
    assert_malformed(
        &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00],
        V5,
        DecodeError::InvalidPropertyValue(PropertyId::TopicAlias),
        PROTO,
    );
}

#[test]
fn subscribe_rules() {
    // [MQTT-3.8.3-5] reserved option bits (5.0: bits 6-7; 3.1.1: bits 2-7).
    let mut b = vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0xC0];
    assert_malformed(&b, V5, DecodeError::InvalidSubscriptionOptions, MAL);
    assert_malformed(
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04],
        V3,
        DecodeError::InvalidSubscriptionOptions,
        MAL,
    );
    // Retain Handling 3, Maximum QoS 3: Protocol Errors (§3.8.3.1); malformed in 3.1.1.
    b[8] = 0x30;
    assert_malformed(&b, V5, DecodeError::InvalidRetainHandling, PROTO);
    b[8] = 0x03;
    assert_malformed(&b, V5, DecodeError::InvalidSubscriptionQos, PROTO);
    // [MQTT-3.8.3-3] no topic filter.
    assert_malformed(&[0x82, 0x02, 0x00, 0x01], V3, DecodeError::NoTopicFilters, PROTO);
    assert_malformed(&[0x82, 0x03, 0x00, 0x01, 0x00], V5, DecodeError::NoTopicFilters, PROTO);
    // [MQTT-4.7.1-1] '#' not last.
    let b = [0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x00];
    assert_malformed(&b, V5, DecodeError::InvalidTopicFilter, ReasonCode::TopicFilterInvalid);
    // [MQTT-4.8.2-2] a shared subscription without a filter.
    let b = [
        0x82, 0x0E, 0x00, 0x01, 0x00, 0x00, 0x08, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g',
        0x00,
    ];
    assert_malformed(&b, V5, DecodeError::InvalidTopicFilter, ReasonCode::TopicFilterInvalid);
    // [MQTT-3.8.3-4] No Local on a shared subscription.
    let b = [
        0x82, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g',
        b'/', b't', 0x04,
    ];
    assert_malformed(&b, V5, DecodeError::NoLocalOnSharedSubscription, PROTO);
    // Two Subscription Identifiers in SUBSCRIBE.
    let b = [0x82, 0x0B, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, b'a', 0x00];
    assert_malformed(
        &b,
        V5,
        DecodeError::DuplicateProperty(PropertyId::SubscriptionIdentifier),
        PROTO,
    );
}

#[test]
fn unsubscribe_rules() {
    // [MQTT-3.10.3-2]
    assert_malformed(&[0xA2, 0x02, 0x00, 0x01], V3, DecodeError::NoTopicFilters, PROTO);
    assert_malformed(&[0xA2, 0x03, 0x00, 0x01, 0x00], V5, DecodeError::NoTopicFilters, PROTO);
    assert_malformed(
        &[0xA2, 0x06, 0x00, 0x01, 0x00, 0x02, b'a', b'+'],
        V3,
        DecodeError::InvalidTopicFilter,
        ReasonCode::TopicFilterInvalid,
    );
}

#[test]
fn connack_rules() {
    // [MQTT-3.2.2-1] reserved acknowledge flags.
    assert_malformed(&[0x20, 0x02, 0x02, 0x00], V3, DecodeError::InvalidConnAckFlags, MAL);
    // [MQTT-3.2.2-6] session present with an error.
    assert_malformed(
        &[0x20, 0x03, 0x01, 0x87, 0x00],
        V5,
        DecodeError::SessionPresentOnError,
        PROTO,
    );
    // Unknown 3.1.1 return code; a reason code CONNACK may not carry.
    assert_malformed(&[0x20, 0x02, 0x00, 0x06], V3, DecodeError::UnknownReasonCode(6), PROTO);
    assert_malformed(
        &[0x20, 0x03, 0x00, 0x10, 0x00],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::NoMatchingSubscribers),
        PROTO,
    );
}

#[test]
fn reason_code_sets() {
    // PUBACK may not carry Packet Identifier not found; 0x03 is no reason code.
    assert_malformed(
        &[0x40, 0x03, 0x00, 0x01, 0x92],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::PacketIdentifierNotFound),
        PROTO,
    );
    assert_malformed(&[0x40, 0x03, 0x00, 0x01, 0x03], V5, DecodeError::UnknownReasonCode(3), PROTO);
    // PUBREL may not carry No matching subscribers.
    assert_malformed(
        &[0x62, 0x03, 0x00, 0x01, 0x10],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::NoMatchingSubscribers),
        PROTO,
    );
    // SUBACK may not carry No subscription existed; UNSUBACK may not carry Granted QoS 1.
    assert_malformed(
        &[0x90, 0x04, 0x00, 0x01, 0x00, 0x11],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::NoSubscriptionExisted),
        PROTO,
    );
    assert_malformed(
        &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x01],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::GrantedQos1),
        PROTO,
    );
    assert_malformed(&[0x90, 0x03, 0x00, 0x01, 0x03], V3, DecodeError::UnknownReasonCode(3), PROTO);
    // The first code that fails is the one reported, wherever it is in the list.
    assert_malformed(
        &[0x90, 0x08, 0x00, 0x01, 0x00, 0x01, 0x02, 0x80, 0x10, 0x03],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::NoMatchingSubscribers),
        PROTO,
    );
    assert_malformed(
        &[0x90, 0x06, 0x00, 0x01, 0x00, 0x02, 0x1A, 0x10],
        V5,
        DecodeError::UnknownReasonCode(0x1A),
        PROTO,
    );
    // Empty reason code lists.
    assert_malformed(&[0x90, 0x03, 0x00, 0x01, 0x00], V5, DecodeError::NoReasonCodes, PROTO);
    assert_malformed(&[0xB0, 0x03, 0x00, 0x01, 0x00], V5, DecodeError::NoReasonCodes, PROTO);
    // DISCONNECT may not carry Continue authentication; AUTH may not carry Unspecified error.
    assert_malformed(
        &[0xE0, 0x01, 0x18],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::ContinueAuthentication),
        PROTO,
    );
    assert_malformed(
        &[0xF0, 0x01, 0x80],
        V5,
        DecodeError::ReasonCodeNotAllowed(ReasonCode::UnspecifiedError),
        PROTO,
    );
}

#[test]
fn auth_needs_a_method() {
    // §3.15.2.2.2: a reason code without properties has no Authentication Method.
    assert_malformed(&[0xF0, 0x01, 0x18], V5, DecodeError::MissingAuthenticationMethod, PROTO);
    assert_malformed(
        &[0xF0, 0x06, 0x18, 0x04, 0x16, 0x00, 0x01, b'x'],
        V5,
        DecodeError::AuthenticationDataWithoutMethod,
        PROTO,
    );
    let mut out = [0u8; 8];
    assert_eq!(
        Packet::Auth(Auth::new(ReasonCode::ReAuthenticate)).encode(V5, &mut out),
        Err(EncodeError::MissingAuthenticationMethod)
    );
}

#[test]
fn property_rules_in_packets() {
    // Topic Alias in PUBACK.
    assert_malformed(
        &[0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01],
        V5,
        DecodeError::PropertyNotAllowed(PropertyId::TopicAlias),
        MAL, // §2.2.2.2
    );
    // Unknown property identifier.
    assert_malformed(
        &[0xE0, 0x04, 0x00, 0x02, 0x7F, 0x00],
        V5,
        DecodeError::UnknownProperty(0x7F),
        MAL,
    );
    // Duplicate Reason String in DISCONNECT.
    assert_malformed(
        &[0xE0, 0x08, 0x00, 0x06, 0x1F, 0x00, 0x00, 0x1F, 0x00, 0x00],
        V5,
        DecodeError::DuplicateProperty(PropertyId::ReasonString),
        PROTO,
    );
}

#[test]
fn every_malformed_prefix_is_partial_or_error_never_panic() {
    // Feed every vector mutated at every byte with every value: decoding never panics.
    let vectors: &[&[u8]] = &[
        CONNECT_V3,
        CONNECT_V3_FULL,
        CONNECT_V5,
        PUBLISH_V5,
        // CONNACK with properties, SUBSCRIBE (shared), SUBACK, UNSUBACK, PUBACK, DISCONNECT, AUTH.
        &[0x20, 0x0C, 0x00, 0x00, 0x09, 0x24, 0x01, 0x25, 0x00, 0x12, 0x00, 0x02, b'i', b'd'],
        &[
            0x82, 0x12, 0x00, 0x02, 0x02, 0x0B, 0x07, 0x00, 0x0A, b'$', b's', b'h', b'a', b'r',
            b'e', b'/', b'g', b'/', b't', 0x2A,
        ],
        &[0x90, 0x05, 0x00, 0x02, 0x00, 0x02, 0x8F],
        &[0xB0, 0x05, 0x00, 0x04, 0x00, 0x00, 0x11],
        &[0xA2, 0x08, 0x00, 0x04, 0x00, 0x00, 0x03, b'a', b'/', b'+'],
        &[0x40, 0x09, 0x00, 0x07, 0x10, 0x05, 0x1F, 0x00, 0x02, b'n', b'o'],
        &[0xE0, 0x07, 0x8E, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00],
        &[
            0xF0, 0x0E, 0x18, 0x0C, 0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', 0x16, 0x00,
            0x01, b'x',
        ],
    ];
    for v in vectors {
        for i in 0..v.len() {
            for b in 0..=255u8 {
                let mut m = v.to_vec();
                m[i] = b;
                for ver in [V3, V5] {
                    let _ = packet::decode(&m, &opts(ver));
                    let _ = Publish::decode_head(&m, &opts(ver));
                    if let Ok(Status::Progress { consumed: _, event: p }) =
                        packet::decode(&m, &opts(ver))
                    {
                        // Whatever decodes re-encodes to something that decodes to the same.
                        let mut out = vec![0u8; m.len() + 8];
                        if let Ok(n) = p.encode(ver, &mut out) {
                            let (q, used) =
                                packet::decode(&out[..n], &opts(ver)).unwrap().progress().unwrap();
                            assert_eq!(used, n);
                            assert_eq!(q, p);
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding misuse.

#[test]
fn encode_errors() {
    let mut out = [0u8; 64];
    let enc = |p: Packet<'_>, v: Version, out: &mut [u8]| p.encode(v, out);
    // Invalid topic name.
    assert_eq!(
        enc(Publish::new("a/+", b"").into(), V5, &mut out),
        Err(EncodeError::InvalidTopicName)
    );
    assert_eq!(enc(Publish::new("", b"").into(), V5, &mut out), Err(EncodeError::InvalidTopicName));
    // DUP on QoS 0.
    let p = Publish { dup: true, ..Publish::new("a", b"") };
    assert_eq!(enc(p.into(), V5, &mut out), Err(EncodeError::DupWithQos0));
    // Properties in 3.1.1.
    let mut pb = [0u8; 8];
    let mut b = PropertiesBuilder::new(&mut pb);
    b.push(Property::MessageExpiryInterval(1)).unwrap();
    let pr = b.finish();
    let p = Publish { properties: pr, ..Publish::new("a", b"") };
    assert_eq!(enc(p.into(), V3, &mut out), Err(EncodeError::NotInVersion));
    // A property not allowed in the packet.
    let d = Disconnect { properties: pr, ..Disconnect::new(ReasonCode::Success) };
    assert_eq!(
        enc(d.into(), V5, &mut out),
        Err(EncodeError::PropertyNotAllowed(PropertyId::MessageExpiryInterval))
    );
    // A DISCONNECT in 3.1.1 has neither a reason code nor properties.
    assert_eq!(
        enc(Disconnect::new(ReasonCode::ServerShuttingDown).into(), V3, &mut out),
        Err(EncodeError::NotInVersion)
    );
    let d = Disconnect { properties: pr, ..Disconnect::new(ReasonCode::NormalDisconnection) };
    assert_eq!(enc(d.into(), V3, &mut out), Err(EncodeError::NotInVersion));
    assert_eq!(enc(Disconnect::new(ReasonCode::NormalDisconnection).into(), V3, &mut out), Ok(2));
    // AUTH in 3.1.1, reason codes without a 3.1.1 equivalent.
    assert_eq!(
        enc(Auth::new(ReasonCode::Success).into(), V3, &mut out),
        Err(EncodeError::NotInVersion)
    );
    assert_eq!(
        enc(ConnAck::new(ReasonCode::Banned).into(), V3, &mut out),
        Err(EncodeError::ReasonCodeNotAllowed(ReasonCode::Banned))
    );
    assert_eq!(
        enc(
            Packet::PubAck(Ack { reason_code: ReasonCode::QuotaExceeded, ..Ack::new(pid(1)) }),
            V3,
            &mut out
        ),
        Err(EncodeError::NotInVersion)
    );
    // A reason code the packet may not carry.
    assert_eq!(
        enc(
            Packet::PubRel(Ack { reason_code: ReasonCode::QuotaExceeded, ..Ack::new(pid(1)) }),
            V5,
            &mut out
        ),
        Err(EncodeError::ReasonCodeNotAllowed(ReasonCode::QuotaExceeded))
    );
    // Empty lists.
    assert_eq!(
        enc(Subscribe::new(pid(1), &[]).into(), V5, &mut out),
        Err(EncodeError::NoTopicFilters)
    );
    assert_eq!(
        enc(Unsubscribe::new(pid(1), &[]).into(), V5, &mut out),
        Err(EncodeError::NoTopicFilters)
    );
    assert_eq!(enc(SubAck::new(pid(1), &[]).into(), V5, &mut out), Err(EncodeError::NoReasonCodes));
    // Bad filters; 5.0 options in 3.1.1; No Local on a shared subscription.
    let bad = [Subscription::new("a/#/b", Qos::AtMostOnce)];
    assert_eq!(
        enc(Subscribe::new(pid(1), &bad).into(), V5, &mut out),
        Err(EncodeError::InvalidTopicFilter)
    );
    let opts5 = [Subscription {
        filter: "a",
        options: SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::new(Qos::AtMostOnce)
        },
    }];
    assert_eq!(
        enc(Subscribe::new(pid(1), &opts5).into(), V3, &mut out),
        Err(EncodeError::NotInVersion)
    );
    let shared = [Subscription { filter: "$share/g/a", ..opts5[0] }];
    assert_eq!(
        enc(Subscribe::new(pid(1), &shared).into(), V5, &mut out),
        Err(EncodeError::NoLocalOnSharedSubscription)
    );
    // Password without user name in 3.1.1.
    let c = Connect { password: Some(b"p"), ..Connect::new(V3, "c") };
    assert_eq!(enc(c.into(), V3, &mut out), Err(EncodeError::PasswordWithoutUsername));
    // Strings longer than 65,535 bytes.
    let long = "a".repeat(70_000);
    let mut big = vec![0u8; 80_000];
    assert_eq!(
        enc(Publish::new(&long, b"").into(), V5, &mut big),
        Err(EncodeError::InvalidTopicName)
    );
    assert_eq!(enc(Connect::new(V5, &long).into(), V5, &mut big), Err(EncodeError::StringTooLong));
    let c = Connect { client_id: "a\0", ..Connect::new(V5, "") };
    assert_eq!(enc(c.into(), V5, &mut out), Err(EncodeError::NullCharacter));
    // Session present with an error.
    let a = ConnAck { session_present: true, ..ConnAck::new(ReasonCode::NotAuthorized) };
    assert_eq!(enc(a.into(), V5, &mut out), Err(EncodeError::SessionPresentOnError));
}

#[test]
fn reason_codes_list_from_slice() {
    let codes = [ReasonCode::Success, ReasonCode::NotAuthorized];
    let l = ReasonCodes::from_slice(&codes);
    assert_eq!(l.iter().collect::<Vec<_>>(), codes);
    assert_eq!(l.len(), 2);
    assert!(!l.is_empty());
}

#[test]
fn packet_type_and_size() {
    assert_eq!(Packet::PingReq.packet_type(), PacketType::PingReq);
    // Benchmarks care: keep the enum small.
    assert!(core::mem::size_of::<Packet<'_>>() <= 160, "{}", core::mem::size_of::<Packet<'_>>());
}

// ---------------------------------------------------------------------------------------------
// Bytes captured from a real implementation: Mosquitto 2.0 (`mosquitto_pub` as a client, the
// `mosquitto` broker answering a hand-written client).

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Decodes a stream of packets one by one; each re-encodes to its own bytes.
fn decode_stream(bytes: &[u8], version: Version) -> Vec<Packet<'_>> {
    let mut rest = bytes;
    let mut packets = Vec::new();
    while !rest.is_empty() {
        let (p, used) = packet::decode(rest, &opts(version)).unwrap().progress().unwrap();
        let mut out = vec![0u8; used];
        assert_eq!(p.encode(version, &mut out), Ok(used), "{p:?}");
        assert_eq!(out, &rest[..used], "{p:?}");
        decode_all_ways(&rest[..used], version);
        packets.push(p);
        rest = &rest[used..];
    }
    packets
}

#[test]
fn mosquitto_pub_v5() {
    // mosquitto_pub -V mqttv5 -i pubv5 -q 2 -r -t a/b -m hello -k 45 -u user -P pass
    //   -D publish user-property k v -D publish message-expiry-interval 60
    //   -D connect session-expiry-interval 30
    //   --will-topic w/t --will-payload bye --will-qos 1 -D will will-delay-interval 5
    let b = hex(concat!(
        "103600044d51545405ce002d08110000001e2100140005707562763505180000000500",
        "03772f740003627965000475736572000470617373",
        "35190003612f6200010c2600016b000176020000003c68656c6c6f",
        "62020001",
        "e000",
    ));
    let p = decode_stream(&b, V5);
    let Packet::Connect(c) = p[0] else { panic!() };
    assert_eq!((c.version, c.client_id, c.keep_alive, c.clean_start), (V5, "pubv5", 45, true));
    assert_eq!(
        c.properties.iter().collect::<Vec<_>>(),
        [
            Property::SessionExpiryInterval(30),
            Property::ReceiveMaximum(NonZeroU16::new(20).unwrap())
        ]
    );
    let w = c.will.unwrap();
    assert_eq!(
        (w.topic, w.payload, w.qos, w.retain),
        ("w/t", &b"bye"[..], Qos::AtLeastOnce, false)
    );
    assert_eq!(w.properties.iter().collect::<Vec<_>>(), [Property::WillDelayInterval(5)]);
    assert_eq!((c.username, c.password), (Some("user"), Some(&b"pass"[..])));
    let Packet::Publish(m) = p[1] else { panic!() };
    assert_eq!(
        (m.topic, m.payload, m.qos_pid, m.retain),
        ("a/b", &b"hello"[..], QosPid::ExactlyOnce(pid(1)), true)
    );
    assert_eq!(
        m.properties.iter().collect::<Vec<_>>(),
        [Property::UserProperty("k", "v"), Property::MessageExpiryInterval(60)]
    );
    assert_eq!(p[2], Packet::PubRel(Ack::new(pid(1))));
    assert_eq!(p[3], Packet::Disconnect(Disconnect::new(ReasonCode::NormalDisconnection)));
}

#[test]
fn mosquitto_pub_v3() {
    // mosquitto_pub -V mqttv311 -i pubv3 -q 1 -t a/b -m hi -u user -P pass
    //   --will-topic w/t --will-payload bye --will-retain
    let b = hex(concat!(
        "102700044d51545404e6003c000570756276330003772f740003627965000475736572000470617373",
        "32090003612f6200016869",
        "e000",
    ));
    let p = decode_stream(&b, V3);
    let Packet::Connect(c) = p[0] else { panic!() };
    assert_eq!((c.version, c.client_id, c.keep_alive), (V3, "pubv3", 60));
    let w = c.will.unwrap();
    assert_eq!((w.topic, w.payload, w.qos, w.retain), ("w/t", &b"bye"[..], Qos::AtMostOnce, true));
    let Packet::Publish(m) = p[1] else { panic!() };
    assert_eq!((m.topic, m.payload, m.qos_pid), ("a/b", &b"hi"[..], QosPid::AtLeastOnce(pid(1))));
    assert_eq!(p[2], Packet::Disconnect(Disconnect::new(ReasonCode::NormalDisconnection)));
}

#[test]
fn mosquitto_broker_v5() {
    // CONNACK, SUBACK for "a/#" QoS 2 and "$share/g/x" QoS 1, a PUBLISH from mosquitto_pub with
    // a user property and a content type, UNSUBACK for "a/#" and "nope", PINGRESP.
    let b = hex(concat!(
        "200900000622000a210014",
        "90050001000201",
        "321f0003612f620001142600016b00017603000a746578742f706c61696e686579",
        "b0050002000011",
        "d000",
    ));
    let p = decode_stream(&b, V5);
    let Packet::ConnAck(a) = p[0] else { panic!() };
    assert_eq!(a.reason_code, ReasonCode::Success);
    assert_eq!(
        a.properties.iter().collect::<Vec<_>>(),
        [Property::TopicAliasMaximum(10), Property::ReceiveMaximum(NonZeroU16::new(20).unwrap())]
    );
    assert_eq!(
        p[1],
        Packet::SubAck(SubAck::new(pid(1), &[ReasonCode::GrantedQos2, ReasonCode::GrantedQos1]))
    );
    let Packet::Publish(m) = p[2] else { panic!() };
    assert_eq!((m.topic, m.payload), ("a/b", &b"hey"[..]));
    assert_eq!(
        m.properties.iter().collect::<Vec<_>>(),
        [Property::UserProperty("k", "v"), Property::ContentType("text/plain")]
    );
    assert_eq!(
        p[3],
        Packet::UnsubAck(UnsubAck::new(
            pid(2),
            &[ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        ))
    );
    assert_eq!(p[4], Packet::PingResp);
}

#[test]
fn mosquitto_broker_v3() {
    let b =
        hex(concat!("20020000", "900400010201", "320a0003612f620001686579", "b0020002", "d000"));
    let p = decode_stream(&b, V3);
    assert_eq!(p[0], Packet::ConnAck(ConnAck::new(ReasonCode::Success)));
    assert_eq!(
        p[1],
        Packet::SubAck(SubAck::new(pid(1), &[ReasonCode::GrantedQos2, ReasonCode::GrantedQos1]))
    );
    let Packet::Publish(m) = p[2] else { panic!() };
    assert_eq!((m.topic, m.payload, m.qos_pid), ("a/b", &b"hey"[..], QosPid::AtLeastOnce(pid(1))));
    assert_eq!(p[3], Packet::UnsubAck(UnsubAck::new(pid(2), &[])));
    assert_eq!(p[4], Packet::PingResp);
}

/// A device with a 1 KiB receive buffer takes a PUBLISH with a 200 KiB payload followed by a
/// PINGRESP: it decodes the head from the buffer, then consumes the payload in chunks.
#[test]
fn streaming_receive_through_a_small_buffer() {
    const BUF: usize = 1024;
    let payload: Vec<u8> = (0..200 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut pb = [0u8; 32];
    let mut b = PropertiesBuilder::new(&mut pb);
    b.push(Property::UserProperty("part", "1")).unwrap();
    let big = Publish {
        qos_pid: QosPid::AtLeastOnce(pid(3)),
        properties: b.finish(),
        ..Publish::new("files/firmware", &payload)
    };
    // The sender streams too: head first, then the payload as is.
    let mut head = [0u8; 64];
    let n = big.encode_head(V5, payload.len(), &mut head).unwrap();
    let mut wire = head[..n].to_vec();
    wire.extend_from_slice(&payload);
    wire.extend_from_slice(&[0xD0, 0x00]);

    let o = opts(V5);
    let mut input = &wire[..]; // the transport
    let mut buf = [0u8; BUF];
    let mut filled = 0;
    let mut received = Vec::new();
    let mut pings = 0;
    // Bytes of the current PUBLISH payload still to come, if one is being streamed.
    let mut streaming: Option<usize> = None;
    loop {
        // Read what fits (the transport hands out at most 300 bytes per read).
        let n = input.len().min(BUF - filled).min(300);
        buf[filled..filled + n].copy_from_slice(&input[..n]);
        input = &input[n..];
        filled += n;
        if filled == 0 && input.is_empty() {
            break;
        }
        let mut used = 0;
        if let Some(left) = streaming {
            let take = left.min(filled);
            received.extend_from_slice(&buf[..take]);
            used = take;
            streaming = if left == take { None } else { Some(left - take) };
        } else {
            match FixedHeader::decode(&buf[..filled], &o).unwrap() {
                Status::NeedMore { .. } | Status::Blocked | Status::Closed => {}
                Status::Progress { event: h, .. } if h.total_len() <= BUF => {
                    if let Status::Progress { consumed: len, event: p } =
                        packet::decode(&buf[..filled], &o).unwrap()
                    {
                        assert_eq!(p, Packet::PingResp);
                        pings += 1;
                        used = len;
                    }
                }
                Status::Progress { event: h, .. } => {
                    assert_eq!(h.packet_type, PacketType::Publish);
                    if let Status::Progress { event: ph, .. } =
                        Publish::decode_head(&buf[..filled], &o).unwrap()
                    {
                        assert_eq!(ph.publish.topic, "files/firmware");
                        assert_eq!(
                            ph.publish.properties.user_properties().next(),
                            Some(("part", "1"))
                        );
                        assert_eq!(ph.payload_len, payload.len());
                        used = ph.head_len;
                        streaming = Some(ph.payload_len);
                    }
                }
            }
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
    }
    assert_eq!(received, payload);
    assert_eq!(pings, 1);
}
