//! The example broker against paho-mqtt (PyPI), a third client implementation next to
//! `mosquitto_pub`/`mosquitto_sub` and MQTT.js: QoS 0/1/2, MQTT 5 properties passed through,
//! retained messages, wills and session resumption, over TCP and WebSocket, MQTT 5.0 and 3.1.1.
//! The peer script is `tests/peers/paho_peer.py`.
//!
//! `#[ignore]`d: `scripts/paho cargo test --test broker_paho -- --ignored` installs paho-mqtt
//! into a virtual environment and passes its interpreter as `PAHO_PYTHON`.
#![cfg(all(feature = "mqtt", feature = "ws"))]

#[path = "../examples/broker/mod.rs"]
mod broker;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

#[test]
#[ignore = "needs paho-mqtt: run through scripts/paho"]
fn paho_clients_through_the_example_broker() {
    let python = std::env::var("PAHO_PYTHON").expect("PAHO_PYTHON unset: run through scripts/paho");
    let b = broker::Broker::new(broker::Options::default());
    let running = b.start(Some("127.0.0.1:0"), Some("127.0.0.1:0")).unwrap();
    let (tcp, ws) = (running.tcp.unwrap().port(), running.ws.unwrap().port());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/paho_peer.py");
    let mut peer = Command::new(python)
        .args([script, "127.0.0.1", &tcp.to_string(), &ws.to_string()])
        .arg(std::process::id().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the virtual environment's python runs");
    let lines: Vec<String> =
        BufReader::new(peer.stdout.take().unwrap()).lines().map(Result::unwrap).collect();
    let status = peer.wait().unwrap();
    b.stop();
    for line in &lines {
        println!("paho: {line}");
    }
    assert!(status.success(), "paho peer failed: {lines:?}");
    for transport in ["tcp", "websockets"] {
        for version in ["5.0", "3.1.1"] {
            for scenario in ["qos012", "retained", "will", "session"] {
                let want = format!("OK {scenario} {transport} {version}");
                assert!(lines.contains(&want), "missing {want:?} in {lines:?}");
            }
        }
    }
    assert_eq!(lines.last().map(String::as_str), Some("DONE"));
}
