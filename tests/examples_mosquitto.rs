//! The seed examples run as programs against the Mosquitto of `scripts/broker`, not only
//! compiled: `mqtt_light` reports its state, switches on a command and leaves its will when it
//! is killed; `mqtt_over_ws` reads back its retained QoS 2 message over `ws://`.
//!
//! Ignored by default: they need a broker.
//!   scripts/broker cargo test --test examples_mosquitto -- --include-ignored
//! The test builds the examples (`cargo build --example NAME`) the first time it needs them.
#![cfg(all(feature = "std", feature = "mqtt", feature = "ws"))]

mod common_examples;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mqtt_ws::net::{Event, Message, Options};
use mqtt_ws::prelude::*;

/// The light's command and state topics (fixed in the example).
const COMMAND: &str = "home/livingroom/light";
const STATE: &str = "home/livingroom/light/state";

fn env_port(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name}: run under scripts/broker"))
}

/// A client of the test on the broker's TCP listener, without reconnects.
fn client(id: &str) -> MqttClient {
    let url = format!("mqtt://127.0.0.1:{}", env_port("MQTT_TCP_PORT"));
    let settings = Options { reconnect: None, ..Options::default() };
    MqttClient::connect_with(&url, &ConnectOptions::new(id), &settings).unwrap()
}

/// The next message (an event, bounded so a silent broker fails the test).
fn message(mqtt: &mut MqttClient) -> Message {
    loop {
        match mqtt.next_timeout(Duration::from_secs(20)).unwrap().expect("open") {
            Event::Message(m) => return m,
            _ => continue,
        }
    }
}

/// The next live state the light publishes (retained ones from before are skipped: a message
/// published while the subscription holds arrives without the retain flag).
fn live_state(watcher: &mut MqttClient) -> String {
    loop {
        let m = message(watcher);
        if !m.retain {
            return m.text().unwrap().to_string();
        }
    }
}

/// Publishes at QoS 1 and waits for the PUBACK.
fn publish(mqtt: &mut MqttClient, topic: &str, payload: &[u8], retain: bool) {
    let msg = Outgoing::new(topic, payload).qos(Qos::AtLeastOnce).retain(retain);
    let id = mqtt.publish(&msg).unwrap().unwrap();
    loop {
        match mqtt.next_timeout(Duration::from_secs(20)).unwrap().expect("open") {
            Event::Published { packet_id, .. } if packet_id == id => return,
            _ => continue,
        }
    }
}

/// Waits for the SUBACK of `filter`.
fn subscribe(mqtt: &mut MqttClient, filter: &str) {
    let id = mqtt.subscribe(filter, Qos::AtLeastOnce).unwrap();
    loop {
        match mqtt.next_timeout(Duration::from_secs(20)).unwrap().expect("open") {
            Event::Subscribed { packet_id, .. } if packet_id == id => return,
            _ => continue,
        }
    }
}

/// Kills the child when dropped (a failed assertion does not leave it running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs mosquitto (scripts/broker)"]
fn mqtt_light_switches_on_a_command_and_leaves_its_will() {
    let mut watcher = client("examples-light-watcher");
    subscribe(&mut watcher, STATE);
    let light = Command::new(common_examples::build("mqtt_light"))
        .arg(format!("127.0.0.1:{}", env_port("MQTT_TCP_PORT")))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut light = Running(light);
    let mut out = BufReader::new(light.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "light is OFF\n");
    // Published after its SUBSCRIBE on the same connection: the subscription is in place.
    assert_eq!(live_state(&mut watcher), "OFF");
    let mut switch = client("examples-light-switch");
    publish(&mut switch, COMMAND, b"ON", false);
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "light is ON\n");
    assert_eq!(live_state(&mut watcher), "ON");
    // Killed, it cannot disconnect: the broker publishes its will.
    drop(light);
    assert_eq!(live_state(&mut watcher), "OFFLINE");
    publish(&mut switch, STATE, b"", true);
    switch.disconnect().unwrap();
    watcher.disconnect().unwrap();
}

#[test]
#[ignore = "needs mosquitto (scripts/broker)"]
fn mqtt_over_ws_reads_back_its_retained_qos_2_message() {
    let url = format!("ws://127.0.0.1:{}/mqtt", env_port("MQTT_WS_PORT"));
    let out = Command::new(common_examples::build("mqtt_over_ws")).arg(&url).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "example/lamp = ON (retained: true)\n");
    // The broker holds it retained: a new subscriber gets it too.
    let mut reader = client("examples-over-ws-reader");
    subscribe(&mut reader, "example/lamp");
    let m = message(&mut reader);
    assert_eq!((m.text(), m.retain, m.qos), (Some("ON"), true, Qos::AtLeastOnce));
    publish(&mut reader, "example/lamp", b"", true);
    reader.disconnect().unwrap();
}
