//! MQTT over WebSocket: connect to `ws://HOST:PORT/mqtt`, subscribe `topic/test`, publish to it,
//! print what comes back, disconnect.
//!
//! `cargo run --example mqtt_over_ws -- [HOST:PORT]` (default 127.0.0.1:9002, Mosquitto's
//! websockets listener).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::TcpStream;

use mqtt_ws::io::{StdIo, blocking::Connection};
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::{Duration, Instant};
use mqtt_ws::ws::connection::Config as WsConfig;
use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};

/// Random bytes from std's randomly keyed hasher (a real application uses the OS RNG).
fn random<const N: usize>() -> [u8; N] {
    core::array::from_fn(|i| RandomState::new().hash_one(i) as u8)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    let tcp = TcpStream::connect(&host)?;
    tcp.set_read_timeout(Some(std::time::Duration::from_millis(500)))?;
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);

    // The WebSocket opening handshake, offering the `mqtt` subprotocol, then the connection as
    // a byte stream: the transport MQTT runs on.
    let (mut ws_rx, mut ws_tx) = ([0u8; 2048], [0u8; 2048]);
    let request = ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]);
    let handshake =
        Handshake::new(request, random())?.with_deadline(now() + Duration::from_secs(5));
    let mut hs = Connection::new(StdIo(tcp), handshake, &mut ws_rx, &mut ws_tx);
    hs.handshake(now)?;
    let stream = hs.upgrade(WsConfig::new(), random).into_stream()?;

    // The same MQTT client as over TCP, over the WebSocket stream.
    let (mut rx, mut tx, mut store) = ([0u8; 1024], [0u8; 1024], [0u8; 1024]);
    let client: Client<SliceStore<'_, 4>> =
        Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
    let mut conn = Connection::new(stream, client, &mut rx, &mut tx);
    conn.connect(now(), &ConnectOptions::new("mqtt-over-ws-example"))?;
    loop {
        match conn.poll(now())? {
            Some(Event::Connected(_)) => {
                let sub = [Subscription::new("topic/test", Qos::AtLeastOnce)];
                conn.subscribe(now(), &sub, Properties::EMPTY)?;
            }
            Some(Event::Subscribed { .. }) => {
                let msg =
                    Outgoing::new("topic/test", b"hello over WebSocket").qos(Qos::AtLeastOnce);
                conn.publish(now(), &msg)?;
            }
            Some(Event::Message(m)) => {
                println!("{} {}", m.topic, String::from_utf8_lossy(m.payload));
                break;
            }
            Some(Event::Refused { reason_code, .. } | Event::Disconnected { reason_code, .. }) => {
                return Err(format!("broker: {reason_code:?}").into());
            }
            _ => {}
        }
    }
    conn.disconnect(now(), ReasonCode::NormalDisconnection, Properties::EMPTY)?;
    Ok(())
}
