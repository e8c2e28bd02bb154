//! Our MQTT 5.0 decoder against an independent one, rumqttc 0.25.1's (`v5::mqttbytes`), on the
//! same bytes: PUBLISH and CONNECT, the packets a broker or a client takes from anyone.
//!
//! Fails when
//! - both accept and read different content (every field rumqttc models);
//! - we refuse what rumqttc accepts, for a reason that is not a rule of the spec rumqttc does
//!   not check (the list in `stricter_by_the_spec`, each with its clause), when rumqttc's
//!   reading is faithful (it encodes back to the same bytes);
//! - we accept what rumqttc refuses, unless it is one of rumqttc's known deviations
//!   (`rumqttc_deviation`, each with the clause it breaks);
//! - one needs more bytes where the other decoded a packet.
//!
//! Input: the bytes as they arrive, starting with a fixed header.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{Connect, DecodeOptions, Packet, Publish, QosPid, decode};
use mqtt_ws::mqtt::properties::{PayloadFormat, Properties};
use mqtt_ws::mqtt::{DecodeError, Qos, Version};
use rumqttc::v5::mqttbytes::v5 as r;
use rumqttc::v5::mqttbytes::{Error as RError, QoS};

/// Errors for rules of MQTT 5.0 that rumqttc does not check: refusing is right.
fn stricter_by_the_spec(e: &DecodeError) -> bool {
    use DecodeError::*;
    matches!(
        e,
        // [MQTT-3.3.2-2] no wildcard in a Topic Name; 3.1.1 / §3.3.2.1 topic rules.
        InvalidTopicName
            // §3.3.2.3.4: a zero-length Topic Name needs a Topic Alias.
            | EmptyTopicWithoutAlias
            // [MQTT-1.5.4-1] well-formed UTF-8, [MQTT-1.5.4-2] no U+0000.
            | InvalidUtf8
            | NullCharacter
            // §2.2.2.2: at most once, only where the packet type allows it, values in range.
            | DuplicateProperty(_)
            | PropertyNotAllowed(_)
            | InvalidPropertyValue(_)
            // [MQTT-3.3.1-2] DUP is 0 in a QoS 0 PUBLISH.
            | DupWithQos0
            // [MQTT-2.2.1-3] a packet identifier is not 0.
            | ZeroPacketId
            // [MQTT-3.1.2-3] the reserved CONNECT flag is 0; [MQTT-3.1.2-11..14] will flags.
            | ReservedConnectFlag
            | InvalidWillFlags
            // §3.1.2.11.10 Authentication Data needs an Authentication Method.
            | AuthenticationDataWithoutMethod
            // [MQTT-1.5.5-1] a Variable Byte Integer in the fewest bytes.
            | NonMinimalVarInt
            // The Remaining Length is the packet: bytes after its last field are malformed
            // (§2.1.4); rumqttc stops reading early.
            | TrailingBytes
    )
}

/// What rumqttc refuses that the spec allows (found by this target or by the cross-check in
/// `benches/tests/rumqttc_v5.rs`), given the bytes.
fn rumqttc_deviation(e: &RError, ours: &Packet<'_>) -> bool {
    match (e, ours) {
        // [MQTT-3.1.3-5] / §3.1.3.5: a password without a user name is allowed in 5.0; rumqttc
        // reads the login only as a pair.
        (RError::MalformedPacket, Packet::Connect(c)) => {
            c.username.is_none() && c.password.is_some()
        }
        // §3.1.3.5: the Password is Binary Data; rumqttc takes it as a UTF-8 string.
        (RError::TopicNotUtf8, Packet::Connect(c)) => {
            c.password.is_some_and(|p| std::str::from_utf8(p).is_err())
        }
        _ => false,
    }
}

fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
        Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn users(p: &Properties<'_>) -> Vec<(String, String)> {
    p.user_properties().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn format(p: &Properties<'_>) -> Option<u8> {
    p.payload_format_indicator().map(|f| match f {
        PayloadFormat::Unspecified => 0,
        PayloadFormat::Utf8 => 1,
    })
}

fn same_publish(ours: &Publish<'_>, theirs: &r::Publish) -> bool {
    let mut same = true;
    let (q, pkid) = match ours.qos_pid {
        QosPid::AtMostOnce => (Qos::AtMostOnce, 0),
        QosPid::AtLeastOnce(id) => (Qos::AtLeastOnce, id.get()),
        QosPid::ExactlyOnce(id) => (Qos::ExactlyOnce, id.get()),
    };
    same &= (ours.dup, qos(q), ours.retain, ours.topic.as_bytes(), pkid, ours.payload)
        == (
            theirs.dup,
            theirs.qos,
            theirs.retain,
            &theirs.topic[..],
            theirs.pkid,
            &theirs.payload[..],
        );
    let p = &ours.properties;
    let empty = r::PublishProperties::default();
    let t = theirs.properties.as_ref().unwrap_or(&empty);
    same &= format(p) == t.payload_format_indicator;
    same &= p.message_expiry_interval() == t.message_expiry_interval;
    same &= p.topic_alias().map(|a| a.get()) == t.topic_alias;
    same &= p.response_topic() == t.response_topic.as_deref();
    same &= p.correlation_data() == t.correlation_data.as_deref();
    same &= p.content_type() == t.content_type.as_deref();
    same &= users(p) == t.user_properties;
    let ids: Vec<usize> = p.subscription_identifiers().map(|i| i.get() as usize).collect();
    same &= ids == t.subscription_identifiers;
    same
}

fn same_connect(
    ours: &Connect<'_>,
    theirs: &r::Connect,
    will: Option<&r::LastWill>,
    login: Option<&r::Login>,
) -> bool {
    let mut same = true;
    same &= (ours.keep_alive, ours.client_id, ours.clean_start)
        == (theirs.keep_alive, theirs.client_id.as_str(), theirs.clean_start);
    let p = &ours.properties;
    let empty = r::ConnectProperties::default();
    let t = theirs.properties.as_ref().unwrap_or(&empty);
    same &= p.session_expiry_interval() == t.session_expiry_interval;
    same &= p.receive_maximum().map(|m| m.get()) == t.receive_maximum;
    same &= p.maximum_packet_size().map(|m| m.get()) == t.max_packet_size;
    same &= p.topic_alias_maximum() == t.topic_alias_max;
    same &= p.request_response_information().map(u8::from) == t.request_response_info;
    same &= p.request_problem_information().map(u8::from) == t.request_problem_info;
    same &= users(p) == t.user_properties;
    same &= p.authentication_method() == t.authentication_method.as_deref();
    same &= p.authentication_data() == t.authentication_data.as_deref();
    match (&ours.will, will) {
        (None, None) => {}
        (Some(w), Some(t)) => {
            same &= (w.topic.as_bytes(), w.payload, qos(w.qos), w.retain)
                == (&t.topic[..], &t.message[..], t.qos, t.retain);
            let wp = &w.properties;
            let ours = (
                wp.will_delay_interval(),
                format(wp),
                wp.message_expiry_interval(),
                wp.content_type().map(str::to_owned),
                wp.response_topic().map(str::to_owned),
                wp.correlation_data().map(<[u8]>::to_vec),
                users(wp),
            );
            let theirs = t.properties.as_ref().map_or_else(Default::default, |tp| {
                (
                    tp.delay_interval,
                    tp.payload_format_indicator,
                    tp.message_expiry_interval,
                    tp.content_type.clone(),
                    tp.response_topic.clone(),
                    tp.correlation_data.as_ref().map(|d| d.to_vec()),
                    tp.user_properties.clone(),
                )
            });
            same &= ours == theirs;
        }
        _ => same = false,
    }
    match login {
        // rumqttc's login has no absent field: an absent user name or password is its empty
        // one (a 5.0 password without a user name, §3.1.2.9, reads as user name "").
        Some(l) => {
            same &= (ours.username.unwrap_or_default(), ours.password.unwrap_or_default())
                == (l.username.as_str(), l.password.as_bytes())
        }
        // rumqttc keeps a login only with both fields.
        None => same &= ours.username.is_none() || ours.password.is_none(),
    }
    same
}

/// Whether rumqttc's reading encodes back to the bytes it was read from.
fn theirs_faithful(packet: &r::Packet, data: &[u8]) -> bool {
    let mut again = BytesMut::new();
    packet.write(&mut again, None).is_ok() && data.starts_with(&again)
}

/// Whether our reading encodes back to exactly `bytes`.
fn ours_faithful(packet: &Packet<'_>, bytes: &[u8]) -> bool {
    let mut again = vec![0u8; bytes.len() + 16];
    matches!(packet.encode(Version::V5, &mut again), Ok(n) if again[..n] == *bytes)
}

fuzz_target!(|data: &[u8]| {
    // PUBLISH (3) and CONNECT (1) only.
    let Some(ty) = data.first().map(|b| b >> 4) else { return };
    if ty != 1 && ty != 3 {
        return;
    }
    let ours = decode(data, &DecodeOptions::new(Version::V5));
    let theirs = r::Packet::read(&mut BytesMut::from(data), None);
    match (ours, theirs) {
        (Ok(Status::NeedMore { .. }), Err(RError::InsufficientBytes(_))) => {}
        (Ok(Status::Progress { event, consumed }), Ok(packet)) => {
            let same = match (&event, &packet) {
                (Packet::Publish(o), r::Packet::Publish(t)) => same_publish(o, t),
                (Packet::Connect(o), r::Packet::Connect(t, will, login)) => {
                    same_connect(o, t, will.as_ref(), login.as_ref())
                }
                _ => false,
            };
            // Read differently: only right when ours is the faithful reading (it encodes back
            // to the very bytes) and rumqttc's is not.
            assert!(
                same || (ours_faithful(&event, &data[..consumed])
                    && !theirs_faithful(&packet, data)),
                "read differently:\n ours {event:?}\n rumqttc {packet:?}"
            );
        }
        // A 3.1.1 CONNECT: rumqttc's v5 reader takes protocol level 5 only.
        (Ok(Status::Progress { event: Packet::Connect(c), .. }), Err(_))
            if c.version == Version::V3_1_1 => {}
        (Ok(Status::Progress { event, .. }), Err(e)) => {
            assert!(
                rumqttc_deviation(&e, &event),
                "rumqttc refused ({e:?}) what we read: {event:?}"
            )
        }
        (Err(e), Ok(packet)) if !stricter_by_the_spec(&e) => {
            // rumqttc may read what is not there (a property running past the property length,
            // ...): only a faithful reading, one that encodes back to the very bytes, counts.
            assert!(
                !theirs_faithful(&packet, data),
                "we refused ({e:?}) the bytes rumqttc reads and writes: {packet:?}"
            )
        }
        (Err(_), Ok(_)) => {}
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("one needs more bytes: ours {ours:?}, rumqttc {theirs:?}"),
    }
});
