//! Shared by the tests of the std layer (`mqtt_ws::net`) against a broker: the same checks run
//! against a real Mosquitto (tests/net_mosquitto.rs) and against the example broker in the test's
//! process (tests/net_inprocess.rs), each given the broker's URLs.
#![allow(dead_code)]

use std::time::Duration;

use mqtt_ws::mqtt::Version;
use mqtt_ws::net::tokio::MqttClient as TokioClient;
use mqtt_ws::net::{Error, Event, Options};
use mqtt_ws::prelude::*;

/// Publishes a retained QoS 2 message on a topic of its own, subscribes, and waits for the
/// acknowledgements and the message to come back.
pub fn retained_round_trip(url: &str, id: &str, settings: &Options) {
    let topic = format!("net/{id}/state");
    let mut mqtt = MqttClient::connect_with(url, &ConnectOptions::new(id), settings).unwrap();
    let msg = Outgoing::new(&topic, b"ON").qos(Qos::ExactlyOnce).retain(true);
    let published = mqtt.publish(&msg).unwrap().expect("QoS 2 has a packet identifier");
    // PUBCOMP: the broker holds the message as retained from now on.
    match mqtt.next().unwrap() {
        Some(Event::Published { packet_id, reason_code }) => {
            assert_eq!((packet_id, reason_code), (published, ReasonCode::Success));
        }
        other => panic!("expected the PUBCOMP, got {other:?}"),
    }
    let subscribed = mqtt.subscribe(&topic, Qos::AtLeastOnce).unwrap();
    let (mut granted, mut message) = (false, None);
    while !(granted && message.is_some()) {
        match mqtt.next().unwrap().expect("the connection stays open") {
            Event::Subscribed { packet_id, reason_codes } => {
                assert_eq!(packet_id, subscribed);
                assert_eq!(reason_codes, [ReasonCode::GrantedQos1]);
                granted = true;
            }
            Event::Message(m) => message = Some(m),
            other => panic!("unexpected {other:?}"),
        }
    }
    let m = message.unwrap();
    assert_eq!((m.topic.as_str(), m.text(), m.retain), (topic.as_str(), Some("ON"), true));
    assert_eq!(m.qos, Qos::AtLeastOnce);
    mqtt.disconnect().unwrap();
}

/// `next_timeout` gives up with `Error::Timeout` when nothing comes, and the connection stays
/// open: a message to itself comes back.
pub fn next_timeout_gives_up(url: &str, id: &str, settings: &Options) {
    let mut mqtt = MqttClient::connect_with(url, &ConnectOptions::new(id), settings).unwrap();
    let quiet = Duration::from_millis(300);
    assert!(matches!(mqtt.next_timeout(quiet), Err(Error::Timeout)));
    let topic = format!("net/{id}/tick");
    mqtt.subscribe(&topic, Qos::AtMostOnce).unwrap();
    mqtt.publish(&Outgoing::new(&topic, b"tick")).unwrap();
    let message = loop {
        match mqtt.next_timeout(Duration::from_secs(30)).unwrap() {
            Some(Event::Message(m)) => break m,
            Some(_) => {}
            None => panic!("the connection closed"),
        }
    };
    assert_eq!(message.payload, b"tick");
    mqtt.disconnect().unwrap();
}

/// The tokio client: subscribe, a QoS 1 message to itself acknowledged and received.
pub fn tokio_round_trip(url: &str, id: &str, settings: &Options) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let topic = format!("net/{id}/cmd");
        let opts = ConnectOptions::new(id);
        let mut mqtt = TokioClient::connect_with(url, &opts, settings).await.unwrap();
        let sub = mqtt.subscribe(&topic, Qos::AtLeastOnce).await.unwrap();
        match mqtt.next().await.unwrap() {
            Some(Event::Subscribed { packet_id, .. }) => assert_eq!(packet_id, sub),
            other => panic!("expected the SUBACK, got {other:?}"),
        }
        let msg = Outgoing::new(&topic, b"fan on").qos(Qos::AtLeastOnce);
        let id = mqtt.publish(&msg).await.unwrap().unwrap();
        let (mut acked, mut got) = (false, false);
        while !(acked && got) {
            match mqtt.next().await.unwrap().expect("open") {
                Event::Published { packet_id, .. } => acked = packet_id == id,
                Event::Message(m) => got = m.payload == b"fan on",
                other => panic!("unexpected {other:?}"),
            }
        }
        mqtt.disconnect().await.unwrap();
    });
}

/// Both clients report the client identifier the broker assigned (MQTT 5.0, an empty one asked
/// for; `assigned` tells the broker's), or the one given.
pub fn client_id_assigned_or_given(url: &str, assigned: fn(&str) -> bool) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut v311 = ConnectOptions::new("");
    v311.version = Version::V3_1_1;
    for options in [ConnectOptions::new(""), ConnectOptions::new("net-given-id"), v311] {
        let blocking = MqttClient::connect(url, &options).unwrap();
        let tokio = rt.block_on(TokioClient::connect(url, &options)).unwrap();
        for id in [blocking.client_id(), tokio.client_id()] {
            match (options.version, options.client_id) {
                (Version::V5, "") => assert!(assigned(id), "{id:?}"),
                // 3.1.1 has no Assigned Client Identifier: the broker keeps the id unnamed.
                (_, given) => assert_eq!(id, given),
            }
        }
        blocking.disconnect().unwrap();
        rt.block_on(tokio.disconnect()).unwrap();
    }
}

/// A payload of `len` bytes that is not periodic at buffer sizes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// `publish_from`: a message of `len` bytes streamed from a reader, acknowledged and received
/// back whole; a reader that ends early is a typed error, the connection closes and the client
/// reconnects without naming that message again.
pub fn publish_from_a_reader(url: &str, id: &str, len: usize, settings: &Options) {
    let data = pattern(len);
    let topic = format!("net/{id}/file");
    // Room to receive the whole message back; what is sent needs none.
    let settings = Options { buffer_len: 2 << 20, ..settings.clone() };
    let mut mqtt = MqttClient::connect_with(url, &ConnectOptions::new(id), &settings).unwrap();
    let sub = mqtt.subscribe(&topic, Qos::AtLeastOnce).unwrap();
    match mqtt.next().unwrap() {
        Some(Event::Subscribed { packet_id, .. }) => assert_eq!(packet_id, sub),
        other => panic!("expected the SUBACK, got {other:?}"),
    }
    let msg = Outgoing::new(&topic, &[]).qos(Qos::AtLeastOnce);
    let sent = mqtt.publish_from(&msg, data.len(), std::io::Cursor::new(&data)).unwrap();
    let (mut acked, mut got) = (false, false);
    while !(acked && got) {
        match mqtt.next().unwrap().expect("open") {
            Event::Published { packet_id, reason_code } => {
                assert_eq!((Some(packet_id), reason_code), (sent, ReasonCode::Success));
                acked = true;
            }
            Event::Message(m) => {
                assert!(m.payload == data, "the payload changed");
                got = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A reader that ends early: a typed error, and the connection is closed (the broker
    // never sees a whole packet, so nothing is delivered).
    let short = mqtt.publish_from(&msg, 100, &data[..40]);
    match short {
        Err(Error::Mqtt(mqtt_ws::mqtt::client::Error::Usage(
            mqtt_ws::mqtt::client::UsageError::PayloadTooShort { remaining: 60 },
        ))) => {}
        other => panic!("expected PayloadTooShort, got {other:?}"),
    }
    // The client reconnects (by default it does); the message that failed is not named
    // again: its sender had the error.
    match mqtt.next().unwrap() {
        Some(Event::ConnectionLost { .. }) => {}
        other => panic!("expected the loss, got {other:?}"),
    }
    match mqtt.next().unwrap() {
        Some(Event::Reconnected { unsent_stream: None, .. }) => {}
        other => panic!("expected the reconnect, got {other:?}"),
    }
    assert_eq!(mqtt.client().in_flight(), 0);
    mqtt.disconnect().unwrap();
}

/// The tokio client's `publish_from`: 300,001 bytes at QoS 2, acknowledged and received back.
pub fn tokio_publish_from_a_reader(url: &str, id: &str, settings: &Options) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let data = pattern(300_001);
    rt.block_on(async {
        let settings = Options { buffer_len: 1 << 20, ..settings.clone() };
        let opts = ConnectOptions::new(id);
        let topic = format!("net/{id}/file");
        let mut mqtt = TokioClient::connect_with(url, &opts, &settings).await.unwrap();
        mqtt.subscribe(&topic, Qos::ExactlyOnce).await.unwrap();
        let msg = Outgoing::new(&topic, &[]).qos(Qos::ExactlyOnce);
        let sent = mqtt.publish_from(&msg, data.len(), &data[..]).await.unwrap();
        let (mut acked, mut got) = (false, false);
        while !(acked && got) {
            match mqtt.next().await.unwrap().expect("open") {
                Event::Published { packet_id, .. } => acked = Some(packet_id) == sent,
                Event::Message(m) => got = m.payload == data,
                Event::Subscribed { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        mqtt.disconnect().await.unwrap();
    });
}
