//! The tokio client's `disconnect` ends the connection in order, as the blocking one does: a
//! client with a will that publishes, disconnects and is dropped at once leaves Mosquitto with
//! its DISCONNECT, so the will is not published. The client's socket still holds bytes it has
//! not read when it disconnects (a large retained message behind the SUBACK): closed at once,
//! the socket would be reset, and the broker would take the reset for a lost connection.
//! Starts its own broker on free ports; run with
//! `cargo test --test net_tokio_disconnect -- --include-ignored`.
#![cfg(all(feature = "std", feature = "mqtt", feature = "ws", feature = "tokio"))]

mod common_ws;

use std::time::Duration;

use mqtt_ws::mqtt::PacketId;
use mqtt_ws::mqtt::packet::Will;
use mqtt_ws::net::tokio::MqttClient as TokioClient;
use mqtt_ws::net::{Event, Options};
use mqtt_ws::prelude::*;

/// The retained message waiting unread when the client disconnects.
const LARGE: usize = 1 << 20;

/// Options without reconnects (a lost connection is an error here), room for the large
/// message.
fn settings() -> Options {
    Options { reconnect: None, buffer_len: 2 * LARGE, store_len: 4 * LARGE, ..Options::default() }
}

/// Waits for the acknowledgement of `packet_id`.
fn acknowledged(mqtt: &mut MqttClient, packet_id: PacketId) {
    loop {
        match mqtt.next_timeout(Duration::from_secs(20)).unwrap() {
            Some(Event::Published { packet_id: p, .. }) if p == packet_id => return,
            Some(_) => {}
            None => panic!("the connection closed"),
        }
    }
}

/// Connects a tokio client with a will over `url`, subscribes to the large retained message,
/// publishes, and disconnects as soon as the SUBACK is in (the message still coming).
async fn publish_and_disconnect(url: &str, id: &str) {
    let will = Will {
        qos: Qos::AtLeastOnce,
        retain: false,
        properties: Default::default(),
        topic: "linger/will",
        payload: id.as_bytes(),
    };
    let mut options = ConnectOptions::new(id);
    options.will = Some(will);
    let mut mqtt = TokioClient::connect_with(url, &options, &settings()).await.unwrap();
    let sub = mqtt.subscribe("linger/large", Qos::AtMostOnce).await.unwrap();
    loop {
        match mqtt.next().await.unwrap().expect("open") {
            Event::Subscribed { packet_id, .. } if packet_id == sub => break,
            _ => {}
        }
    }
    mqtt.publish(&Outgoing::new("linger/data", id.as_bytes())).await.unwrap();
    mqtt.disconnect().await.unwrap();
}

#[test]
#[ignore = "needs mosquitto"]
fn tokio_disconnect_reaches_the_broker_so_no_will_is_published() {
    let broker = common_ws::Mosquitto::start("tokio-disconnect");
    let tcp = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
    let mut watcher =
        MqttClient::connect_with(&tcp, &ConnectOptions::new("linger-watcher"), &settings())
            .unwrap();
    let large = vec![b'x'; LARGE];
    let retained = Outgoing::new("linger/large", &large).qos(Qos::AtLeastOnce).retain(true);
    let id = watcher.publish(&retained).unwrap().unwrap();
    acknowledged(&mut watcher, id);
    watcher.subscribe("linger/#", Qos::AtLeastOnce).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ws = format!("ws://127.0.0.1:{}/mqtt", broker.ws_port);
    for (url, id) in [(tcp.as_str(), "linger-tcp"), (ws.as_str(), "linger-ws")] {
        rt.block_on(publish_and_disconnect(url, id));
    }
    // A will would come before this message.
    let end = watcher.publish(&Outgoing::new("linger/end", b"end").qos(Qos::AtLeastOnce));
    let end = end.unwrap().unwrap();
    let mut data = Vec::new();
    loop {
        match watcher.next_timeout(Duration::from_secs(20)).unwrap().expect("open") {
            Event::Message(m) if m.topic == "linger/end" => break,
            Event::Message(m) if m.topic == "linger/will" => {
                panic!("the will of {:?} was published", m.text())
            }
            Event::Message(m) if m.topic == "linger/data" => data.push(m.payload),
            Event::Published { packet_id, .. } => assert_eq!(packet_id, end),
            _ => {}
        }
    }
    // Both clients' messages arrived before their DISCONNECT.
    assert_eq!(data, [b"linger-tcp".to_vec(), b"linger-ws".to_vec()]);
    watcher.disconnect().unwrap();
}
