//! The std layer (`mqtt_ws::net`) against a real Mosquitto: `MqttClient::connect` from an
//! `mqtt://` and a `ws://` URL, a retained QoS 2 message published and read back, every
//! acknowledgement seen as its event, a clean disconnect; and the typed errors of a refused
//! socket, a bad URL and a WebSocket URL pointed at a plain MQTT port; the client identifier
//! the broker assigned. Starts its own broker on free ports; run with `cargo test --test net_mosquitto -- --include-ignored`.
#![cfg(all(feature = "std", feature = "mqtt", feature = "ws"))]

mod common_ws;

use mqtt_ws::mqtt::Version;
use mqtt_ws::net::{Error, Event, UrlError};
use mqtt_ws::prelude::*;

/// Publishes a retained QoS 2 message on a topic of its own, subscribes, and waits for the
/// acknowledgements and the message to come back.
fn retained_round_trip(url: &str, id: &str) {
    let topic = format!("net/{id}/state");
    let mut mqtt = MqttClient::connect(url, &ConnectOptions::new(id)).unwrap();
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

#[test]
#[ignore = "needs mosquitto"]
fn connect_from_a_url_over_tcp_and_websocket() {
    let broker = common_ws::Mosquitto::start("net");
    retained_round_trip(&format!("mqtt://127.0.0.1:{}", broker.tcp_port), "net-tcp");
    retained_round_trip(&format!("ws://127.0.0.1:{}/mqtt", broker.ws_port), "net-ws");
    // Mosquitto accepts any path; without one the client asks for `/mqtt`.
    retained_round_trip(&format!("ws://user:pw@127.0.0.1:{}", broker.ws_port), "net-ws-user");
}

#[test]
#[ignore = "needs mosquitto"]
fn next_timeout_gives_up_and_the_connection_stays_open() {
    let broker = common_ws::Mosquitto::start("net-timeout");
    let url = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
    let mut mqtt = MqttClient::connect(&url, &ConnectOptions::new("net-timeout")).unwrap();
    let quiet = std::time::Duration::from_millis(300);
    assert!(matches!(mqtt.next_timeout(quiet), Err(Error::Timeout)));
    // Still connected: a message to itself comes back.
    mqtt.subscribe("net/timeout", Qos::AtMostOnce).unwrap();
    mqtt.publish(&Outgoing::new("net/timeout", b"tick")).unwrap();
    let message = loop {
        match mqtt.next_timeout(std::time::Duration::from_secs(10)).unwrap() {
            Some(Event::Message(m)) => break m,
            Some(_) => {}
            None => panic!("the connection closed"),
        }
    };
    assert_eq!(message.payload, b"tick");
    mqtt.disconnect().unwrap();
}

#[test]
#[ignore = "needs mosquitto"]
fn websocket_url_on_a_plain_mqtt_port_is_a_handshake_error() {
    let broker = common_ws::Mosquitto::start("net-wrong-port");
    let url = format!("ws://127.0.0.1:{}/mqtt", broker.tcp_port);
    let options =
        Options { connect_timeout: std::time::Duration::from_secs(2), ..Options::default() };
    let e = MqttClient::connect_with(&url, &ConnectOptions::new("x"), &options).unwrap_err();
    assert!(matches!(e, Error::Handshake(_) | Error::Io(_)), "{e:?}");
}

#[test]
fn typed_errors_without_a_broker() {
    let e = MqttClient::connect("http://127.0.0.1", &ConnectOptions::new("x")).unwrap_err();
    assert!(matches!(e, Error::Url(UrlError::Scheme)), "{e:?}");
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = MqttClient::connect(&format!("mqtt://127.0.0.1:{port}"), &ConnectOptions::new("x"));
    assert!(
        matches!(e, Err(Error::Io(ref io)) if io.kind() == std::io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
    #[cfg(not(feature = "tls"))]
    {
        let e = MqttClient::connect("mqtts://127.0.0.1:1", &ConnectOptions::new("x"));
        assert!(e.is_err());
    }
    // The error goes into `Box<dyn Error>` with `?`.
    let boxed: Box<dyn std::error::Error> = Error::Timeout.into();
    assert_eq!(boxed.to_string(), "no answer in time");
}

#[test]
#[ignore = "needs mosquitto"]
fn tokio_client_over_tcp_and_websocket() {
    use mqtt_ws::net::tokio::MqttClient as TokioClient;
    let broker = common_ws::Mosquitto::start("net-tokio");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (url, id) in [
        (format!("mqtt://127.0.0.1:{}", broker.tcp_port), "tokio-tcp"),
        (format!("ws://127.0.0.1:{}/mqtt", broker.ws_port), "tokio-ws"),
    ] {
        rt.block_on(async {
            let topic = format!("net/{id}/cmd");
            let mut mqtt = TokioClient::connect(&url, &ConnectOptions::new(id)).await.unwrap();
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
}

#[test]
#[ignore = "needs mosquitto"]
fn client_id_is_the_one_the_broker_assigned_or_the_one_given() {
    use mqtt_ws::net::tokio::MqttClient as TokioClient;
    let broker = common_ws::Mosquitto::start("net-client-id");
    let url = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut v311 = ConnectOptions::new("");
    v311.version = Version::V3_1_1;
    for options in [ConnectOptions::new(""), ConnectOptions::new("net-given-id"), v311] {
        let blocking = MqttClient::connect(&url, &options).unwrap();
        let tokio = rt.block_on(TokioClient::connect(&url, &options)).unwrap();
        for id in [blocking.client_id(), tokio.client_id()] {
            match (options.version, options.client_id) {
                // MQTT 5.0: CONNACK's Assigned Client Identifier (Mosquitto's begin with auto-).
                (Version::V5, "") => assert!(id.starts_with("auto-"), "{id:?}"),
                // 3.1.1 has no Assigned Client Identifier: the broker keeps the id unnamed.
                (_, given) => assert_eq!(id, given),
            }
        }
        blocking.disconnect().unwrap();
        rt.block_on(tokio.disconnect()).unwrap();
    }
}

/// A payload of `len` bytes that is not periodic at buffer sizes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

#[test]
#[ignore = "needs mosquitto"]
fn publish_from_a_reader_over_tcp_and_websocket() {
    let broker = common_ws::Mosquitto::start("net-stream");
    // Mosquitto sends a large message over WebSocket slowly (a 1 MiB one takes it 25 s): a
    // smaller one there, still many times the client's buffers.
    for (url, id, len) in [
        (format!("mqtt://127.0.0.1:{}", broker.tcp_port), "stream-tcp", (1 << 20) + 17),
        (format!("ws://127.0.0.1:{}/mqtt", broker.ws_port), "stream-ws", 100_003),
    ] {
        let data = pattern(len);
        let topic = format!("net/{id}/file");
        // Room to receive the whole message back; what is sent needs none.
        let settings = mqtt_ws::net::Options { buffer_len: 2 << 20, ..Default::default() };
        let mut mqtt = MqttClient::connect_with(&url, &ConnectOptions::new(id), &settings).unwrap();
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
}

#[cfg(feature = "tokio")]
#[test]
#[ignore = "needs mosquitto"]
fn tokio_publish_from_a_reader() {
    use mqtt_ws::net::tokio::MqttClient as TokioClient;
    let broker = common_ws::Mosquitto::start("net-tokio-stream");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let data = pattern(300_001);
    rt.block_on(async {
        let url = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
        let settings = mqtt_ws::net::Options { buffer_len: 1 << 20, ..Default::default() };
        let opts = ConnectOptions::new("tokio-stream");
        let mut mqtt = TokioClient::connect_with(&url, &opts, &settings).await.unwrap();
        mqtt.subscribe("net/tokio-stream/file", Qos::ExactlyOnce).await.unwrap();
        let msg = Outgoing::new("net/tokio-stream/file", &[]).qos(Qos::ExactlyOnce);
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
