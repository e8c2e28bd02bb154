//! Cross-check of the benchmark packets against mqtt-protocol-core 0.7.9, through the exact calls
//! the benchmarks measure (`benches/common/peers.rs`), so both sides are known to do the same
//! work on the same bytes:
//!
//! 1. mqtt-protocol-core decodes every case of `mqtt_cases()` to the fields mqtt-ws decodes,
//!    compared field by field in a neutral model written out per side below.
//! 2. Its encoding of each decoded case (`to_continuous_buffer`) decodes with mqtt-ws to the same
//!    packet, and is the case's bytes again.
//! 3. Its decoder's checks that the comparison relies on: it refuses what mqtt-ws refuses for
//!    the same reason where both check, and the statements where it is more lenient are listed.

#[path = "../benches/common/mod.rs"]
mod common;

use common::peers::{self, MpcPacket};
use mqtt_protocol_core::mqtt::packet::{Properties as MpcProperties, Property as MpcProperty};
use mqtt_ws::Status;
use mqtt_ws::mqtt::Version;
use mqtt_ws::mqtt::packet::{DecodeOptions, Packet, decode};
use mqtt_ws::mqtt::properties::{PayloadFormat, Properties, Property};

/// A field value both codecs can be read into.
#[derive(Debug, PartialEq)]
enum Value {
    Int(u64),
    Str(String),
    Bin(Vec<u8>),
    /// A property: its identifier and value.
    Prop(u8, Box<Value>),
    /// A User Property's name and value.
    Pair(String, String),
    List(Vec<Value>),
    Absent,
}

/// A packet as named fields, in a fixed order per packet type.
type Fields = Vec<(&'static str, Value)>;

fn s(v: &str) -> Value {
    Value::Str(v.to_owned())
}

fn int(v: impl Into<u64>) -> Value {
    Value::Int(v.into())
}

fn ours_props(props: Properties<'_>) -> Value {
    Value::List(
        props
            .iter()
            .map(|p| {
                let v = match p {
                    Property::PayloadFormatIndicator(f) => int(u8::from(f == PayloadFormat::Utf8)),
                    Property::MessageExpiryInterval(v)
                    | Property::SessionExpiryInterval(v)
                    | Property::WillDelayInterval(v) => int(v),
                    Property::SubscriptionIdentifier(v) | Property::MaximumPacketSize(v) => {
                        int(v.get())
                    }
                    Property::ReceiveMaximum(v) => int(v.get()),
                    Property::TopicAliasMaximum(v) => int(v),
                    Property::ContentType(v) | Property::ReasonString(v) => s(v),
                    Property::UserProperty(k, v) => Value::Pair(k.to_owned(), v.to_owned()),
                    other => panic!("not in the benchmark cases: {other:?}"),
                };
                Value::Prop(p.id() as u8, Box::new(v))
            })
            .collect(),
    )
}

fn mpc_props(props: &MpcProperties) -> Value {
    Value::List(
        props
            .iter()
            .map(|p| {
                let v = match p {
                    MpcProperty::PayloadFormatIndicator(v) => int(v.val()),
                    MpcProperty::MessageExpiryInterval(v) => int(v.val()),
                    MpcProperty::SessionExpiryInterval(v) => int(v.val()),
                    MpcProperty::WillDelayInterval(v) => int(v.val()),
                    MpcProperty::SubscriptionIdentifier(v) => int(v.val()),
                    MpcProperty::MaximumPacketSize(v) => int(v.val()),
                    MpcProperty::ReceiveMaximum(v) => int(v.val()),
                    MpcProperty::TopicAliasMaximum(v) => int(v.val()),
                    MpcProperty::ContentType(v) => s(v.val()),
                    MpcProperty::ReasonString(v) => s(v.val()),
                    MpcProperty::UserProperty(v) => {
                        Value::Pair(v.key().to_owned(), v.val().to_owned())
                    }
                    other => panic!("not in the benchmark cases: {other:?}"),
                };
                Value::Prop(p.id().as_u8(), Box::new(v))
            })
            .collect(),
    )
}

fn ours_fields(packet: &Packet<'_>) -> Fields {
    match *packet {
        Packet::Publish(p) => vec![
            ("type", s("PUBLISH")),
            ("dup", int(p.dup)),
            ("qos", int(p.qos_pid.qos() as u8)),
            ("retain", int(p.retain)),
            ("topic", s(p.topic)),
            ("packet id", p.qos_pid.packet_id().map_or(Value::Absent, |id| int(id.get()))),
            ("properties", ours_props(p.properties)),
            ("payload", Value::Bin(p.payload.to_vec())),
        ],
        Packet::Connect(c) => {
            let will = c.will.expect("the case has a will");
            vec![
                ("type", s("CONNECT")),
                ("clean start", int(c.clean_start)),
                ("keep alive", int(c.keep_alive)),
                ("properties", ours_props(c.properties)),
                ("client id", s(c.client_id)),
                ("will qos", int(will.qos as u8)),
                ("will retain", int(will.retain)),
                ("will properties", ours_props(will.properties)),
                ("will topic", s(will.topic)),
                ("will payload", Value::Bin(will.payload.to_vec())),
                ("user name", c.username.map_or(Value::Absent, s)),
                ("password", c.password.map_or(Value::Absent, |p| Value::Bin(p.to_vec()))),
            ]
        }
        Packet::Subscribe(p) => vec![
            ("type", s("SUBSCRIBE")),
            ("packet id", int(p.packet_id.get())),
            ("properties", ours_props(p.properties)),
            (
                "filters",
                Value::List(
                    p.filters
                        .iter()
                        .map(|f| Value::List(vec![s(f.filter), int(f.options.to_byte())]))
                        .collect(),
                ),
            ),
        ],
        Packet::Unsubscribe(p) => vec![
            ("type", s("UNSUBSCRIBE")),
            ("packet id", int(p.packet_id.get())),
            ("properties", ours_props(p.properties)),
            ("filters", Value::List(p.filters.iter().map(s).collect())),
        ],
        Packet::SubAck(p) => vec![
            ("type", s("SUBACK")),
            ("packet id", int(p.packet_id.get())),
            ("properties", ours_props(p.properties)),
            ("reason codes", Value::List(p.reason_codes.iter().map(|c| int(c.code())).collect())),
        ],
        Packet::PubAck(a) => vec![
            ("type", s("PUBACK")),
            ("packet id", int(a.packet_id.get())),
            ("reason code", int(a.reason_code.code())),
            ("properties", ours_props(a.properties)),
        ],
        other => panic!("not a benchmark case: {other:?}"),
    }
}

fn mpc_fields(packet: &MpcPacket) -> Fields {
    match packet {
        MpcPacket::V5_0Publish(p) => vec![
            ("type", s("PUBLISH")),
            ("dup", int(p.dup())),
            ("qos", int(p.qos() as u8)),
            ("retain", int(p.retain())),
            ("topic", s(p.topic_name())),
            ("packet id", p.packet_id().map_or(Value::Absent, int)),
            ("properties", mpc_props(&p.props)),
            ("payload", Value::Bin(p.payload().as_slice().to_vec())),
        ],
        MpcPacket::V5_0Connect(c) => {
            assert!(c.will_flag(), "the case has a will");
            vec![
                ("type", s("CONNECT")),
                ("clean start", int(c.clean_start())),
                ("keep alive", int(c.keep_alive())),
                ("properties", mpc_props(&c.props)),
                ("client id", s(c.client_id())),
                ("will qos", int(c.will_qos() as u8)),
                ("will retain", int(c.will_retain())),
                ("will properties", mpc_props(&c.will_props)),
                ("will topic", s(c.will_topic().expect("a will topic"))),
                ("will payload", Value::Bin(c.will_payload().expect("a will payload").to_vec())),
                ("user name", c.user_name().map_or(Value::Absent, s)),
                ("password", c.password().map_or(Value::Absent, |p| Value::Bin(p.to_vec()))),
            ]
        }
        MpcPacket::V5_0Subscribe(p) => vec![
            ("type", s("SUBSCRIBE")),
            ("packet id", int(p.packet_id())),
            ("properties", mpc_props(&p.props)),
            (
                "filters",
                Value::List(
                    p.entries()
                        .iter()
                        .map(|e| {
                            Value::List(vec![s(e.topic_filter()), int(e.sub_opts().to_buffer()[0])])
                        })
                        .collect(),
                ),
            ),
        ],
        MpcPacket::V5_0Unsubscribe(p) => vec![
            ("type", s("UNSUBSCRIBE")),
            ("packet id", int(p.packet_id())),
            ("properties", mpc_props(&p.props)),
            ("filters", Value::List(p.entries().iter().map(|f| s(f.as_str())).collect())),
        ],
        MpcPacket::V5_0Suback(p) => vec![
            ("type", s("SUBACK")),
            ("packet id", int(p.packet_id())),
            ("properties", mpc_props(&p.props)),
            ("reason codes", Value::List(p.reason_codes().iter().map(|&c| int(c as u8)).collect())),
        ],
        MpcPacket::V5_0Puback(a) => vec![
            ("type", s("PUBACK")),
            ("packet id", int(a.packet_id())),
            ("reason code", a.reason_code().map_or(Value::Absent, |c| int(c as u8))),
            ("properties", a.props.as_ref().map_or(Value::List(Vec::new()), mpc_props)),
        ],
        other => panic!("not a benchmark case: {other:?}"),
    }
}

fn decode_ours(bytes: &[u8]) -> Packet<'_> {
    match decode(bytes, &DecodeOptions::new(Version::V5)).expect("mqtt-ws decodes") {
        Status::Progress { consumed, event } => {
            assert_eq!(consumed, bytes.len());
            event
        }
        other => panic!("mqtt-ws wants more bytes: {other:?}"),
    }
}

/// 1: the same fields from the same bytes, through the benchmarks' decode.
#[test]
fn decodes_the_benchmark_packets_to_the_same_fields() {
    let mut reader = peers::mpc_reader();
    for (name, bytes) in common::mqtt_cases() {
        let theirs = peers::mpc_decode(&mut reader, &bytes);
        let ours = decode_ours(&bytes);
        assert_eq!(mpc_fields(&theirs), ours_fields(&ours), "{name}");
        // The field walk the decode benchmark adds reads the same lengths and values.
        assert!(peers::mpc_visit(&theirs) > 0, "{name}");
    }
}

/// 2: its encoding of each case, as the encode benchmark makes it, decodes with mqtt-ws to the
/// same packet (and is the case's bytes: the same layout and property order).
#[test]
fn its_encoding_decodes_with_mqtt_ws_to_the_same_packet() {
    for (name, bytes) in common::mqtt_cases() {
        let theirs = peers::mpc_decode(&mut peers::mpc_reader(), &bytes);
        let encoded = peers::mpc_encode(&theirs);
        assert_eq!(decode_ours(&encoded), decode_ours(&bytes), "{name}");
        assert_eq!(encoded, bytes, "{name}");
    }
}

fn mpc_refuses(bytes: &[u8]) -> bool {
    peers::mpc_try_decode(&mut peers::mpc_reader(), bytes).is_err()
}

/// 3: malformed packets. Both refuse a string that is not UTF-8, a property not allowed in the
/// packet and a reserved bit in the subscription options; mqtt-protocol-core accepts what its
/// parse does not look at (where mqtt-ws refuses with the error named): a wildcard in a PUBLISH
/// topic name, U+0000 in a string, a SUBSCRIBE filter with a misplaced wildcard, fixed-header
/// flags other than 0010 on SUBSCRIBE. This records its leniency; the comparison relies on none
/// of it.
#[test]
fn malformed_packets() {
    let both_refuse: &[(&str, &[u8])] = &[
        ("topic name not UTF-8", &[0x30, 0x06, 0, 2, 0xc3, 0x28, 0, b'x']),
        ("Reason String in a PUBLISH", &[0x30, 0x0a, 0, 1, b'a', 4, 0x1f, 0, 1, b'r', b'x', b'y']),
        ("reserved bits in subscription options", &[0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0xc0]),
    ];
    for (what, bytes) in both_refuse {
        assert!(decode(bytes, &DecodeOptions::new(Version::V5)).is_err(), "{what}: mqtt-ws");
        assert!(mpc_refuses(bytes), "{what}: mqtt-protocol-core accepts it");
    }
    let only_ours: &[(&str, &str, &[u8])] = &[
        ("wildcard in a topic name", "InvalidTopicName", &[0x30, 0x06, 0, 3, b'a', b'/', b'+', 0]),
        ("U+0000 in a topic name", "NullCharacter", &[0x30, 0x05, 0, 2, b'a', 0, 0]),
        (
            "misplaced wildcard in a filter",
            "InvalidTopicFilter",
            &[0x82, 0x08, 0, 1, 0, 0, 2, b'a', b'#', 0],
        ),
        ("SUBSCRIBE flags 0000", "InvalidFixedHeaderFlags", &[0x80, 0x07, 0, 1, 0, 0, 1, b'a', 0]),
    ];
    for (what, error, bytes) in only_ours {
        let ours = decode(bytes, &DecodeOptions::new(Version::V5));
        assert!(format!("{ours:?}").contains(error), "{what}: mqtt-ws gave {ours:?}");
        assert!(!mpc_refuses(bytes), "{what}: mqtt-protocol-core now refuses it: update this list");
    }
}
