//! Another real client talks to ours through Mosquitto: MQTT.js (npm `mqtt`, MQTT 5 over
//! WebSocket) and this crate's client (over TCP and over WebSocket) exchange QoS 2 messages with
//! user properties both ways.
//!
//! `#[ignore]`d: `scripts/broker-mqttjs cargo test --all-features --test broker_mqttjs -- --ignored`
//! installs MQTT.js, starts the broker and passes `MQTTJS_NODE_PATH`, `MQTT_TCP_PORT`,
//! `MQTT_WS_PORT`.
#![cfg(all(feature = "mqtt", feature = "std", feature = "ws"))]

use std::io::Read as _;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use mqtt_ws::io::StdIo;
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::{Properties, PropertiesBuilder, Property};
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;

const PEER: &str = r#"
const mqtt = require('mqtt');
const [url, toRust, toJs] = process.argv.slice(2);
const c = mqtt.connect(url, { protocolVersion: 5, clientId: 'mqttjs-' + process.pid });
c.on('error', (e) => { console.error('ERR ' + e.message); process.exit(2); });
c.on('connect', () => {
  c.subscribe(toJs, { qos: 2 }, (err) => {
    if (err) { console.error('ERR ' + err.message); process.exit(3); }
    c.publish(toRust, 'from mqtt.js', { qos: 2, properties: { userProperties: { lang: 'js' } } });
  });
});
c.on('message', (topic, payload, packet) => {
  const up = (packet.properties && packet.properties.userProperties) || {};
  console.log('GOT ' + topic + ' ' + payload.toString() + ' qos=' + packet.qos + ' lang=' + up.lang);
  setTimeout(() => c.end(false, {}, () => process.exit(0)), 50);
});
setTimeout(() => { console.error('ERR timeout'); process.exit(4); }, 10000);
"#;

fn port(var: &str) -> u16 {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} unset: run through scripts/broker-mqttjs"))
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs Mosquitto and MQTT.js: run through scripts/broker-mqttjs"]
fn mqttjs_and_our_client_exchange_messages() {
    let node_path = std::env::var("MQTTJS_NODE_PATH").expect("run through scripts/broker-mqttjs");
    let ws_port = port("MQTT_WS_PORT");
    let tag = std::process::id();
    let (to_rust, to_js) = (format!("peer/{tag}/to-rust"), format!("peer/{tag}/to-js"));
    let dir = std::env::temp_dir().join(format!("mqttws-peer-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("peer.js");
    std::fs::write(&script, PEER).unwrap();

    let tcp = TcpStream::connect(("127.0.0.1", port("MQTT_TCP_PORT"))).unwrap();
    tcp.set_read_timeout(Some(StdDuration::from_millis(50))).unwrap();
    let start = StdInstant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    let (mut rx, mut tx, mut store) = ([0u8; 2048], [0u8; 2048], [0u8; 4096]);
    let client: Client<SliceStore<'_, 8>> =
        Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
    let mut conn = Connection::new(StdIo(tcp), client, &mut rx, &mut tx);
    let id = format!("rust-{tag}");
    conn.connect(now(), &ConnectOptions::new(&id)).unwrap();
    let mut node = None;
    let mut done = false;
    while !done {
        assert!(start.elapsed() < StdDuration::from_secs(15), "timed out");
        match conn.poll(now()).unwrap() {
            Some(Event::Connected(_)) => {
                let sub = [Subscription::new(&to_rust, Qos::ExactlyOnce)];
                conn.subscribe(now(), &sub, Properties::EMPTY).unwrap();
            }
            Some(Event::Subscribed { .. }) => {
                node = Some(
                    Command::new("node")
                        .arg(&script)
                        .arg(format!("ws://127.0.0.1:{ws_port}/mqtt"))
                        .arg(&to_rust)
                        .arg(&to_js)
                        .env("NODE_PATH", &node_path)
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("node is installed"),
                );
            }
            Some(Event::Message(m)) => {
                assert_eq!(m.topic.as_str(), to_rust);
                assert_eq!(m.payload, b"from mqtt.js");
                assert_eq!(m.qos, Qos::ExactlyOnce);
                assert_eq!(m.properties.user_properties().collect::<Vec<_>>(), [("lang", "js")]);
                done = true;
            }
            _ => {}
        }
    }
    let mut buf = [0u8; 64];
    let mut b = PropertiesBuilder::new(&mut buf);
    b.push(Property::UserProperty("lang", "rust")).unwrap();
    let props = b.finish();
    let msg = Outgoing::new(&to_js, b"from rust").qos(Qos::ExactlyOnce).properties(props);
    conn.publish(now(), &msg).unwrap();
    let mut completed = false;
    while !completed {
        assert!(start.elapsed() < StdDuration::from_secs(15), "no PUBCOMP");
        if let Some(Event::Published { reason_code: reason, .. }) = conn.poll(now()).unwrap() {
            assert_eq!(reason, ReasonCode::Success);
            completed = true;
        }
    }
    let mut node = node.unwrap();
    let status = node.wait().unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    node.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    node.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "MQTT.js failed: {err}");
    assert_eq!(out.trim(), format!("GOT {to_js} from rust qos=2 lang=rust"));
    conn.disconnect(now(), ReasonCode::NormalDisconnection, Properties::EMPTY).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
