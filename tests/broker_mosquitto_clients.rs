//! The example broker against real clients: `mosquitto_pub` and `mosquitto_sub` (Debian
//! `mosquitto-clients`), MQTT 5.0 and 3.1.1, QoS 0/1/2, retained messages, user properties.
//!
//! Ignored by default (they need the programs); `scripts/test` installs them and runs
//! `cargo test --test broker_mosquitto_clients -- --ignored`.
#![cfg(all(feature = "mqtt", feature = "ws"))]

#[path = "../examples/broker/mod.rs"]
mod broker;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker::client::{ConnectOptions, MiniClient};
use mqtt_ws::mqtt::Qos;

fn start() -> (u16, String) {
    let (port, ws, _) = start_broker();
    (port, ws)
}

fn start_broker() -> (u16, String, broker::Broker) {
    let b = broker::Broker::new(broker::Options::default());
    let r = b.start(Some("127.0.0.1:0"), Some("127.0.0.1:0")).unwrap();
    (r.tcp.unwrap().port(), format!("ws://{}/mqtt", r.ws.unwrap()), b)
}

fn sub(port: u16, args: &[&str]) -> Child {
    Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-W", "10"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (apt-get install mosquitto-clients)")
}

fn publish(port: u16, args: &[&str]) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .status()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)");
    assert!(status.success());
}

fn output(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "mosquitto_sub failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Waits until a just-started `mosquitto_sub` has subscribed: the broker holds `n`
/// subscriptions.
fn settle(b: &broker::Broker, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.stats().subscriptions < n {
        assert!(Instant::now() < deadline, "mosquitto_sub did not subscribe");
        std::thread::yield_now();
    }
}

#[test]
#[ignore = "needs mosquitto-clients"]
fn mosquitto_clients_v5_all_qos() {
    let (port, _, b) = start_broker();
    let s = sub(port, &["-V", "mqttv5", "-t", "home/#", "-q", "2", "-C", "3", "-v"]);
    settle(&b, 1);
    for (qos, msg) in [("0", "zero"), ("1", "one"), ("2", "two")] {
        publish(port, &["-V", "mqttv5", "-q", qos, "-t", &format!("home/q{qos}"), "-m", msg]);
    }
    assert_eq!(output(s), "home/q0 zero\nhome/q1 one\nhome/q2 two\n");
}

#[test]
#[ignore = "needs mosquitto-clients"]
fn mosquitto_clients_v311_all_qos() {
    let (port, _, b) = start_broker();
    let s = sub(port, &["-V", "mqttv311", "-t", "home/+/light", "-q", "2", "-C", "3", "-v"]);
    settle(&b, 1);
    for (qos, room) in [("0", "hall"), ("1", "kitchen"), ("2", "livingroom")] {
        publish(
            port,
            &["-V", "mqttv311", "-q", qos, "-t", &format!("home/{room}/light"), "-m", "ON"],
        );
    }
    assert_eq!(output(s), "home/hall/light ON\nhome/kitchen/light ON\nhome/livingroom/light ON\n");
}

#[test]
#[ignore = "needs mosquitto-clients"]
fn mosquitto_retained_and_user_properties() {
    let (port, _) = start();
    publish(
        port,
        &[
            "-V",
            "mqttv5",
            "-q",
            "1",
            "-r",
            "-t",
            "cfg/a",
            "-m",
            "kept",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
        ],
    );
    let s = sub(port, &["-V", "mqttv5", "-t", "cfg/#", "-C", "1", "-F", "%t %p %r %P"]);
    // %r: retained flag; %P: user properties.
    let out = output(s);
    assert!(out.starts_with("cfg/a kept 1"), "{out}");
    assert!(out.contains("k:v"), "{out}");
    // MQTT 3.1.1 subscriber gets it too.
    let s = sub(port, &["-V", "mqttv311", "-t", "cfg/a", "-C", "1", "-v"]);
    assert_eq!(output(s), "cfg/a kept\n");
}

#[test]
#[ignore = "needs mosquitto-clients"]
fn mosquitto_sub_sees_messages_from_a_websocket_client() {
    let (port, ws, b) = start_broker();
    let s = sub(port, &["-V", "mqttv5", "-t", "sensors/#", "-q", "2", "-C", "2", "-v"]);
    settle(&b, 1);
    let mut c = MiniClient::connect(&ws, "ws-sensor", ConnectOptions::default()).unwrap();
    c.publish("sensors/t", b"21", Qos::AtLeastOnce, false).unwrap();
    c.publish("sensors/h", b"40", Qos::ExactlyOnce, false).unwrap();
    assert_eq!(output(s), "sensors/t 21\nsensors/h 40\n");
    // And the other way: mosquitto_pub to a WebSocket subscriber.
    c.subscribe("back/#", Qos::ExactlyOnce).unwrap();
    publish(port, &["-V", "mqttv5", "-q", "2", "-t", "back/x", "-m", "hello ws"]);
    let start = Instant::now();
    let m = c.recv(Duration::from_secs(5)).unwrap().expect("a message");
    assert_eq!(
        (m.topic.as_str(), m.payload.as_slice(), m.qos),
        ("back/x", &b"hello ws"[..], Qos::ExactlyOnce)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}
