//! Cross-check of the MQTT 3.1.1 codec against rumqttc 0.25.1 (`rumqttc::mqttbytes::v4`):
//! mqtt-ws encodes, rumqttc decodes to the value it started from, and the other way round, for
//! every packet type; both encodings are byte-identical (3.1.1 leaves no choice of form).

use bytes::{Bytes, BytesMut};
use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{
    Ack, ConnAck, Connect, DecodeOptions, Disconnect, Packet, Publish, QosPid, SubAck, Subscribe,
    Subscription, UnsubAck, Unsubscribe, Will, decode,
};
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};
use rumqttc::mqttbytes::v4 as r;
use rumqttc::mqttbytes::{Protocol, QoS};

fn leak<T>(v: Vec<T>) -> &'static mut [T] {
    Vec::leak(v)
}

fn leak_str(s: &str) -> &'static str {
    String::leak(s.to_owned())
}

fn pid(id: u16) -> PacketId {
    PacketId::new(id).expect("non-zero")
}

fn qos_to_ours(q: QoS) -> Qos {
    Qos::from_u8(q as u8).unwrap()
}

fn qos_from_ours(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
        Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// 3.1.1 CONNACK return codes (§3.2.2.3) and the reason codes mqtt-ws maps them onto.
fn connack_codes() -> Vec<(r::ConnectReturnCode, ReasonCode)> {
    use r::ConnectReturnCode as C;
    vec![
        (C::Success, ReasonCode::Success),
        (C::RefusedProtocolVersion, ReasonCode::UnsupportedProtocolVersion),
        (C::BadClientId, ReasonCode::ClientIdentifierNotValid),
        (C::ServiceUnavailable, ReasonCode::ServerUnavailable),
        (C::BadUserNamePassword, ReasonCode::BadUserNameOrPassword),
        (C::NotAuthorized, ReasonCode::NotAuthorized),
    ]
}

fn to_ours(p: &r::Packet) -> Packet<'static> {
    match p {
        r::Packet::Connect(c) => {
            assert_eq!(c.protocol, Protocol::V4);
            let mut ours = Connect::new(Version::V3_1_1, leak_str(&c.client_id));
            ours.clean_start = c.clean_session;
            ours.keep_alive = c.keep_alive;
            ours.will = c.last_will.as_ref().map(|w| Will {
                qos: qos_to_ours(w.qos),
                retain: w.retain,
                properties: Default::default(),
                topic: leak_str(&w.topic),
                payload: leak(w.message.to_vec()),
            });
            if let Some(l) = &c.login {
                ours.username = Some(leak_str(&l.username));
                ours.password = Some(leak(l.password.as_bytes().to_vec()));
            }
            Packet::Connect(ours)
        }
        r::Packet::ConnAck(c) => {
            let code = connack_codes().into_iter().find(|(t, _)| *t == c.code).unwrap().1;
            let mut ours = ConnAck::new(code);
            ours.session_present = c.session_present;
            Packet::ConnAck(ours)
        }
        r::Packet::Publish(p) => {
            let mut ours = Publish::new(leak_str(&p.topic), leak(p.payload.to_vec()));
            ours.dup = p.dup;
            ours.retain = p.retain;
            ours.qos_pid = match p.qos {
                QoS::AtMostOnce => QosPid::AtMostOnce,
                QoS::AtLeastOnce => QosPid::AtLeastOnce(pid(p.pkid)),
                QoS::ExactlyOnce => QosPid::ExactlyOnce(pid(p.pkid)),
            };
            Packet::Publish(ours)
        }
        r::Packet::PubAck(a) => Packet::PubAck(Ack::new(pid(a.pkid))),
        r::Packet::PubRec(a) => Packet::PubRec(Ack::new(pid(a.pkid))),
        r::Packet::PubRel(a) => Packet::PubRel(Ack::new(pid(a.pkid))),
        r::Packet::PubComp(a) => Packet::PubComp(Ack::new(pid(a.pkid))),
        r::Packet::Subscribe(s) => {
            let subs: Vec<Subscription<'static>> = s
                .filters
                .iter()
                .map(|f| Subscription::new(leak_str(&f.path), qos_to_ours(f.qos)))
                .collect();
            Packet::Subscribe(Subscribe::new(pid(s.pkid), leak(subs)))
        }
        r::Packet::SubAck(a) => {
            let codes: Vec<ReasonCode> = a
                .return_codes
                .iter()
                .map(|c| match c {
                    r::SubscribeReasonCode::Success(QoS::AtMostOnce) => ReasonCode::Success,
                    r::SubscribeReasonCode::Success(QoS::AtLeastOnce) => ReasonCode::GrantedQos1,
                    r::SubscribeReasonCode::Success(QoS::ExactlyOnce) => ReasonCode::GrantedQos2,
                    r::SubscribeReasonCode::Failure => ReasonCode::UnspecifiedError,
                })
                .collect();
            Packet::SubAck(SubAck::new(pid(a.pkid), leak(codes)))
        }
        r::Packet::Unsubscribe(u) => {
            let topics: Vec<&'static str> = u.topics.iter().map(|t| leak_str(t)).collect();
            Packet::Unsubscribe(Unsubscribe::new(pid(u.pkid), leak(topics)))
        }
        r::Packet::UnsubAck(a) => Packet::UnsubAck(UnsubAck::new(pid(a.pkid), &[])),
        r::Packet::PingReq => Packet::PingReq,
        r::Packet::PingResp => Packet::PingResp,
        r::Packet::Disconnect => Packet::Disconnect(Disconnect::new(ReasonCode::Success)),
    }
}

fn from_ours(p: &Packet<'_>) -> r::Packet {
    match p {
        Packet::Connect(c) => {
            assert_eq!(c.version, Version::V3_1_1);
            assert!(c.properties.is_empty());
            r::Packet::Connect(r::Connect {
                protocol: Protocol::V4,
                keep_alive: c.keep_alive,
                client_id: c.client_id.to_owned(),
                clean_session: c.clean_start,
                last_will: c.will.map(|w| {
                    assert!(w.properties.is_empty());
                    r::LastWill {
                        topic: w.topic.to_owned(),
                        message: Bytes::copy_from_slice(w.payload),
                        qos: qos_from_ours(w.qos),
                        retain: w.retain,
                    }
                }),
                login: c.username.map(|u| r::Login {
                    username: u.to_owned(),
                    password: String::from_utf8(c.password.unwrap_or_default().to_vec()).unwrap(),
                }),
            })
        }
        Packet::ConnAck(c) => {
            assert!(c.properties.is_empty());
            let code = connack_codes().into_iter().find(|(_, o)| *o == c.reason_code).unwrap().0;
            r::Packet::ConnAck(r::ConnAck { session_present: c.session_present, code })
        }
        Packet::Publish(p) => {
            assert!(p.properties.is_empty());
            r::Packet::Publish(r::Publish {
                dup: p.dup,
                qos: qos_from_ours(p.qos_pid.qos()),
                retain: p.retain,
                topic: p.topic.to_owned(),
                pkid: p.qos_pid.packet_id().map_or(0, PacketId::get),
                payload: Bytes::copy_from_slice(p.payload),
            })
        }
        Packet::PubAck(a) => r::Packet::PubAck(r::PubAck { pkid: ack_id(a) }),
        Packet::PubRec(a) => r::Packet::PubRec(r::PubRec { pkid: ack_id(a) }),
        Packet::PubRel(a) => r::Packet::PubRel(r::PubRel { pkid: ack_id(a) }),
        Packet::PubComp(a) => r::Packet::PubComp(r::PubComp { pkid: ack_id(a) }),
        Packet::Subscribe(s) => r::Packet::Subscribe(r::Subscribe {
            pkid: s.packet_id.get(),
            filters: s
                .filters
                .iter()
                .map(|f| r::SubscribeFilter {
                    path: f.filter.to_owned(),
                    qos: qos_from_ours(f.options.qos),
                })
                .collect(),
        }),
        Packet::SubAck(a) => r::Packet::SubAck(r::SubAck {
            pkid: a.packet_id.get(),
            return_codes: a
                .reason_codes
                .iter()
                .map(|c| match c {
                    ReasonCode::Success => r::SubscribeReasonCode::Success(QoS::AtMostOnce),
                    ReasonCode::GrantedQos1 => r::SubscribeReasonCode::Success(QoS::AtLeastOnce),
                    ReasonCode::GrantedQos2 => r::SubscribeReasonCode::Success(QoS::ExactlyOnce),
                    ReasonCode::UnspecifiedError => r::SubscribeReasonCode::Failure,
                    other => panic!("not a 3.1.1 SUBACK code: {other:?}"),
                })
                .collect(),
        }),
        Packet::Unsubscribe(u) => r::Packet::Unsubscribe(r::Unsubscribe {
            pkid: u.packet_id.get(),
            topics: u.filters.iter().map(str::to_owned).collect(),
        }),
        Packet::UnsubAck(a) => {
            assert!(a.reason_codes.is_empty());
            r::Packet::UnsubAck(r::UnsubAck { pkid: a.packet_id.get() })
        }
        Packet::PingReq => r::Packet::PingReq,
        Packet::PingResp => r::Packet::PingResp,
        Packet::Disconnect(d) => {
            assert_eq!(d.reason_code, ReasonCode::Success);
            r::Packet::Disconnect
        }
        Packet::Auth(_) => panic!("no AUTH in 3.1.1"),
    }
}

fn ack_id(a: &Ack<'_>) -> u16 {
    assert_eq!(a.reason_code, ReasonCode::Success);
    assert!(a.properties.is_empty());
    a.packet_id.get()
}

fn cross_check(expected: r::Packet) {
    let ours = to_ours(&expected);
    let len = ours.encoded_len(Version::V3_1_1).unwrap();
    let mut ours_bytes = vec![0u8; len];
    assert_eq!(ours.encode(Version::V3_1_1, &mut ours_bytes), Ok(len));
    let decoded = r::Packet::read(&mut BytesMut::from(&ours_bytes[..]), usize::MAX)
        .expect("rumqttc decodes mqtt-ws bytes");
    assert_eq!(decoded, expected);

    let mut theirs = BytesMut::new();
    expected.write(&mut theirs, usize::MAX).expect("rumqttc encodes");
    let theirs: &'static [u8] = leak(theirs.to_vec());
    let back = match decode(theirs, &DecodeOptions::new(Version::V3_1_1)).unwrap() {
        Status::Progress { consumed: n, event: p } => {
            assert_eq!(n, theirs.len());
            p
        }
        other => panic!("needs more bytes: {other:?}"),
    };
    assert_eq!(from_ours(&back), expected);
    assert_eq!(ours_bytes, theirs, "3.1.1 encodings are identical");
}

#[test]
fn connect() {
    let will = r::LastWill::new("devices/7/status", b"gone \xff".to_vec(), QoS::AtLeastOnce, true);
    let mut c = r::Connect::new("client-7");
    c.keep_alive = 30;
    c.clean_session = false;
    cross_check(r::Packet::Connect(c.clone()));
    c.last_will = Some(will);
    c.login = Some(r::Login::new("user", "pass"));
    cross_check(r::Packet::Connect(c.clone()));
    for qos in [QoS::AtMostOnce, QoS::ExactlyOnce] {
        c.last_will.as_mut().unwrap().qos = qos;
        c.last_will.as_mut().unwrap().retain = false;
        cross_check(r::Packet::Connect(c.clone()));
    }
}

#[test]
fn connack() {
    for (code, _) in connack_codes() {
        for session_present in [false, true] {
            if session_present && code != r::ConnectReturnCode::Success {
                continue; // [MQTT-3.2.2-4]
            }
            cross_check(r::Packet::ConnAck(r::ConnAck { session_present, code }));
        }
    }
}

#[test]
fn publish() {
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for retain in [false, true] {
            for len in [0, 64, 1024, 200_000] {
                let mut p = r::Publish::new("a/b/ü", qos, mqtt_ws_benches::payload(len));
                p.retain = retain;
                if qos != QoS::AtMostOnce {
                    p.pkid = 0x0102;
                    cross_check(r::Packet::Publish(p.clone()));
                    p.dup = true;
                }
                cross_check(r::Packet::Publish(p));
            }
        }
    }
}

#[test]
fn acks_ping_disconnect() {
    for id in [1, 0x1234, u16::MAX] {
        cross_check(r::Packet::PubAck(r::PubAck { pkid: id }));
        cross_check(r::Packet::PubRec(r::PubRec { pkid: id }));
        cross_check(r::Packet::PubRel(r::PubRel { pkid: id }));
        cross_check(r::Packet::PubComp(r::PubComp { pkid: id }));
        cross_check(r::Packet::UnsubAck(r::UnsubAck { pkid: id }));
    }
    cross_check(r::Packet::PingReq);
    cross_check(r::Packet::PingResp);
    cross_check(r::Packet::Disconnect);
}

#[test]
fn subscribe_suback_unsubscribe() {
    let filters = vec![
        r::SubscribeFilter::new("a/+/c".into(), QoS::AtMostOnce),
        r::SubscribeFilter::new("#".into(), QoS::AtLeastOnce),
        r::SubscribeFilter::new("x/ü/#".into(), QoS::ExactlyOnce),
    ];
    cross_check(r::Packet::Subscribe(r::Subscribe { pkid: 5, filters }));
    cross_check(r::Packet::SubAck(r::SubAck {
        pkid: 5,
        return_codes: vec![
            r::SubscribeReasonCode::Success(QoS::AtMostOnce),
            r::SubscribeReasonCode::Success(QoS::AtLeastOnce),
            r::SubscribeReasonCode::Success(QoS::ExactlyOnce),
            r::SubscribeReasonCode::Failure,
        ],
    }));
    cross_check(r::Packet::Unsubscribe(r::Unsubscribe {
        pkid: 6,
        topics: vec!["a/+/c".into(), "#".into()],
    }));
}
