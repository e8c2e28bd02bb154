//! Structured round trip: an `arbitrary` packet description is built into a packet with the
//! public API; if the codec accepts it for encoding (it validates: topic rules, property
//! contexts, reason codes per packet, 3.1.1 limits), the exact size is right, the bytes decode
//! to an equal packet (3.1.1: to a packet that encodes to the same bytes, since 3.1.1 maps 5.0
//! reason codes onto fewer return codes), and a buffer one byte short is refused with nothing
//! written.

#![no_main]

use std::num::{NonZeroU16, NonZeroU32};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{
    Ack, Auth, ConnAck, Connect, DecodeOptions, Disconnect, Packet, Publish, QosPid,
    RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
    Will, decode,
};
use mqtt_ws::mqtt::properties::{PayloadFormat, Properties, PropertiesBuilder, Property};
use mqtt_ws::mqtt::{EncodeError, PacketId, Qos, ReasonCode, Version};

#[derive(Debug, Arbitrary)]
enum Prop {
    PayloadFormat(bool),
    MessageExpiry(u32),
    ContentType(String),
    ResponseTopic(String),
    CorrelationData(Vec<u8>),
    SubscriptionId(u32),
    SessionExpiry(u32),
    AssignedClientId(String),
    ServerKeepAlive(u16),
    AuthMethod(String),
    AuthData(Vec<u8>),
    RequestProblemInfo(bool),
    WillDelay(u32),
    RequestResponseInfo(bool),
    ResponseInfo(String),
    ServerReference(String),
    ReasonString(String),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQos(u8),
    RetainAvailable(bool),
    User(String, String),
    MaximumPacketSize(u32),
    WildcardAvailable(bool),
    SubscriptionIdAvailable(bool),
    SharedAvailable(bool),
}

impl Prop {
    fn to_property(&self) -> Option<Property<'_>> {
        use Property as P;
        Some(match self {
            Prop::PayloadFormat(u) => P::PayloadFormatIndicator(if *u {
                PayloadFormat::Utf8
            } else {
                PayloadFormat::Unspecified
            }),
            Prop::MessageExpiry(v) => P::MessageExpiryInterval(*v),
            Prop::ContentType(s) => P::ContentType(s),
            Prop::ResponseTopic(s) => P::ResponseTopic(s),
            Prop::CorrelationData(b) => P::CorrelationData(b),
            Prop::SubscriptionId(v) => P::SubscriptionIdentifier(NonZeroU32::new(*v)?),
            Prop::SessionExpiry(v) => P::SessionExpiryInterval(*v),
            Prop::AssignedClientId(s) => P::AssignedClientIdentifier(s),
            Prop::ServerKeepAlive(v) => P::ServerKeepAlive(*v),
            Prop::AuthMethod(s) => P::AuthenticationMethod(s),
            Prop::AuthData(b) => P::AuthenticationData(b),
            Prop::RequestProblemInfo(v) => P::RequestProblemInformation(*v),
            Prop::WillDelay(v) => P::WillDelayInterval(*v),
            Prop::RequestResponseInfo(v) => P::RequestResponseInformation(*v),
            Prop::ResponseInfo(s) => P::ResponseInformation(s),
            Prop::ServerReference(s) => P::ServerReference(s),
            Prop::ReasonString(s) => P::ReasonString(s),
            Prop::ReceiveMaximum(v) => P::ReceiveMaximum(NonZeroU16::new(*v)?),
            Prop::TopicAliasMaximum(v) => P::TopicAliasMaximum(*v),
            Prop::TopicAlias(v) => P::TopicAlias(NonZeroU16::new(*v)?),
            Prop::MaximumQos(v) => P::MaximumQos(Qos::from_u8(*v % 3)?),
            Prop::RetainAvailable(v) => P::RetainAvailable(*v),
            Prop::User(k, v) => P::UserProperty(k, v),
            Prop::MaximumPacketSize(v) => P::MaximumPacketSize(NonZeroU32::new(*v)?),
            Prop::WildcardAvailable(v) => P::WildcardSubscriptionAvailable(*v),
            Prop::SubscriptionIdAvailable(v) => P::SubscriptionIdentifierAvailable(*v),
            Prop::SharedAvailable(v) => P::SharedSubscriptionAvailable(*v),
        })
    }
}

/// Builds a property list into `buf`; `None` if the builder refuses one (duplicates, values out
/// of range, no room): that is the builder's validation, not a round-trip failure.
fn build<'b>(list: &'b [Prop], buf: &'b mut [u8]) -> Option<Properties<'b>> {
    let mut b = PropertiesBuilder::new(buf);
    for p in list {
        b.push(p.to_property()?).ok()?;
    }
    Some(b.finish())
}

#[derive(Debug, Arbitrary)]
struct WillDesc {
    qos: u8,
    retain: bool,
    props: Vec<Prop>,
    topic: String,
    payload: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct SubDesc {
    filter: String,
    qos: u8,
    no_local: bool,
    retain_as_published: bool,
    retain_handling: u8,
}

#[derive(Debug, Arbitrary)]
enum Desc {
    Connect {
        clean_start: bool,
        keep_alive: u16,
        client_id: String,
        will: Option<WillDesc>,
        username: Option<String>,
        password: Option<Vec<u8>>,
    },
    ConnAck {
        session_present: bool,
        reason: u8,
    },
    Publish {
        dup: bool,
        qos: u8,
        id: u16,
        retain: bool,
        topic: String,
        payload: Vec<u8>,
    },
    Ack {
        kind: u8,
        id: u16,
        reason: u8,
    },
    Subscribe {
        id: u16,
        subs: Vec<SubDesc>,
    },
    SubAck {
        id: u16,
        reasons: Vec<u8>,
    },
    Unsubscribe {
        id: u16,
        filters: Vec<String>,
    },
    UnsubAck {
        id: u16,
        reasons: Vec<u8>,
    },
    PingReq,
    PingResp,
    Disconnect {
        reason: u8,
    },
    Auth {
        reason: u8,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    v311: bool,
    props: Vec<Prop>,
    desc: Desc,
}

fn check(packet: &Packet<'_>, version: Version) {
    let len = match packet.encoded_len(version) {
        Ok(len) => len,
        Err(_) => {
            // Refused at validation: encode must refuse the same way and write nothing.
            let mut out = [0u8; 64];
            assert!(packet.encode(version, &mut out).is_err());
            assert!(out.iter().all(|&b| b == 0));
            return;
        }
    };
    let mut out = vec![0u8; len];
    if len > 0 {
        let mut short = vec![0u8; len - 1];
        assert_eq!(
            packet.encode(version, &mut short),
            Err(EncodeError::BufferTooSmall { required: len })
        );
        assert!(short.iter().all(|&b| b == 0), "a failed encode wrote");
    }
    assert_eq!(packet.encode(version, &mut out), Ok(len));
    let options = DecodeOptions::new(version);
    match decode(&out, &options) {
        Ok(Status::Progress { consumed: n, event: decoded }) => {
            assert_eq!(n, len);
            if version == Version::V5 {
                assert_eq!(&decoded, packet, "bytes {out:02x?}");
            } else {
                // 3.1.1 has fewer codes than 5.0 (CONNACK and SUBACK failures map onto its
                // return codes; its UNSUBACK carries none): the mapping is applied once, and
                // what decoded encodes to the very same bytes.
                let mut again = vec![0u8; len];
                assert_eq!(decoded.encode(version, &mut again), Ok(len));
                assert_eq!(again, out, "{packet:?} -> {decoded:?}");
            }
        }
        other => panic!("{packet:?} encoded as {out:02x?} decodes as {other:?}"),
    }
}

fn qos(v: u8) -> Qos {
    Qos::from_u8(v % 3).unwrap()
}

fn codes(v: &[u8]) -> Option<Vec<ReasonCode>> {
    v.iter().map(|&b| ReasonCode::from_u8(b)).collect()
}

fuzz_target!(|input: Input| {
    let version = if input.v311 { Version::V3_1_1 } else { Version::V5 };
    let mut buf = vec![0u8; 4096];
    let Some(props) = build(&input.props, &mut buf) else { return };
    let packet = match &input.desc {
        Desc::Connect { clean_start, keep_alive, client_id, will, username, password } => {
            let mut will_buf = vec![0u8; 4096];
            let mut c = Connect::new(version, client_id);
            c.clean_start = *clean_start;
            c.keep_alive = *keep_alive;
            c.properties = props;
            if let Some(w) = will {
                let Some(properties) = build(&w.props, &mut will_buf) else { return };
                c.will = Some(Will {
                    qos: qos(w.qos),
                    retain: w.retain,
                    properties,
                    topic: &w.topic,
                    payload: &w.payload,
                });
            }
            c.username = username.as_deref();
            c.password = password.as_deref();
            check(&Packet::Connect(c), version);
            return;
        }
        Desc::ConnAck { session_present, reason } => {
            let Some(code) = ReasonCode::from_u8(*reason) else { return };
            let mut c = ConnAck::new(code);
            c.session_present = *session_present;
            c.properties = props;
            Packet::ConnAck(c)
        }
        Desc::Publish { dup, qos: q, id, retain, topic, payload } => {
            let mut p = Publish::new(topic, payload);
            p.dup = *dup;
            p.retain = *retain;
            p.qos_pid = match (q % 3, PacketId::new(*id)) {
                (0, _) => QosPid::AtMostOnce,
                (1, Some(id)) => QosPid::AtLeastOnce(id),
                (2, Some(id)) => QosPid::ExactlyOnce(id),
                _ => return,
            };
            p.properties = props;
            Packet::Publish(p)
        }
        Desc::Ack { kind, id, reason } => {
            let (Some(id), Some(code)) = (PacketId::new(*id), ReasonCode::from_u8(*reason)) else {
                return;
            };
            let mut a = Ack::new(id);
            a.reason_code = code;
            a.properties = props;
            match kind % 4 {
                0 => Packet::PubAck(a),
                1 => Packet::PubRec(a),
                2 => Packet::PubRel(a),
                _ => Packet::PubComp(a),
            }
        }
        Desc::Subscribe { id, subs } => {
            let Some(id) = PacketId::new(*id) else { return };
            let list: Vec<Subscription<'_>> = subs
                .iter()
                .map(|s| Subscription {
                    filter: &s.filter,
                    options: SubscriptionOptions {
                        qos: qos(s.qos),
                        no_local: s.no_local,
                        retain_as_published: s.retain_as_published,
                        retain_handling: match s.retain_handling % 3 {
                            0 => RetainHandling::SendOnSubscribe,
                            1 => RetainHandling::SendIfNew,
                            _ => RetainHandling::DoNotSend,
                        },
                    },
                })
                .collect();
            let mut s = Subscribe::new(id, &list);
            s.properties = props;
            check(&Packet::Subscribe(s), version);
            return;
        }
        Desc::SubAck { id, reasons } => {
            let (Some(id), Some(list)) = (PacketId::new(*id), codes(reasons)) else { return };
            let mut s = SubAck::new(id, &list);
            s.properties = props;
            check(&Packet::SubAck(s), version);
            return;
        }
        Desc::Unsubscribe { id, filters } => {
            let Some(id) = PacketId::new(*id) else { return };
            let list: Vec<&str> = filters.iter().map(String::as_str).collect();
            let mut u = Unsubscribe::new(id, &list);
            u.properties = props;
            check(&Packet::Unsubscribe(u), version);
            return;
        }
        Desc::UnsubAck { id, reasons } => {
            let (Some(id), Some(list)) = (PacketId::new(*id), codes(reasons)) else { return };
            let mut u = UnsubAck::new(id, &list);
            u.properties = props;
            check(&Packet::UnsubAck(u), version);
            return;
        }
        Desc::PingReq => Packet::PingReq,
        Desc::PingResp => Packet::PingResp,
        Desc::Disconnect { reason } => {
            let Some(code) = ReasonCode::from_u8(*reason) else { return };
            let mut d = Disconnect::new(code);
            d.properties = props;
            Packet::Disconnect(d)
        }
        Desc::Auth { reason } => {
            let Some(code) = ReasonCode::from_u8(*reason) else { return };
            let mut a = Auth::new(code);
            a.properties = props;
            Packet::Auth(a)
        }
    };
    check(&packet, version);
});
