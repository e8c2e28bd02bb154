//! MQTT over WebSocket: connect to `ws://HOST:PORT/mqtt`, subscribe `topic/test`, publish to it,
//! print what comes back, disconnect.
//!
//! `cargo run --example mqtt_over_ws --features blocking,std,ws -- [HOST:PORT]` (default
//! 127.0.0.1:9002, Mosquitto's websockets listener).

use std::io::{Read, Write};
use std::net::TcpStream;

use mqtt_ws::io::StdIo;
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Config as WsConfig, Connection as WsConnection};
use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};
use mqtt_ws::Status;
use mqtt_ws::ws::stream::Stream;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    let mut tcp = TcpStream::connect(&host)?;
    // The WebSocket opening handshake, offering the `mqtt` subprotocol.
    let mut hs = Handshake::new(ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]), [7; 16])
        .map_err(|e| format!("{e:?}"))?;
    let mut req = vec![0u8; hs.request_len()];
    hs.encode_request(&mut req).map_err(|e| format!("{e:?}"))?;
    tcp.write_all(&req)?;
    let (mut ws_rx, mut ws_tx) = ([0u8; 2048], [0u8; 2048]);
    let mut got = 0;
    let head = loop {
        let n = tcp.read(&mut ws_rx[got..])?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        got += n;
        if let Status::Complete(a) =
            hs.handle_response(&ws_rx[..got]).map_err(|e| format!("{e:?}"))?
        {
            break a.head_len();
        }
    };
    tcp.set_read_timeout(Some(std::time::Duration::from_millis(500)))?;
    let mut key = 0x9e37_79b9u32;
    let ws = WsConnection::client(WsConfig::new(), move || {
        key = key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        key.to_le_bytes()
    });
    let stream = Stream::new_after_handshake(StdIo(tcp), ws, &mut ws_rx, head..got, &mut ws_tx)
        .map_err(|e| format!("{e:?}"))?;

    // The same MQTT client as over TCP, over the WebSocket stream.
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
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
            Some(Event::Refused { reason_code: reason, .. } | Event::Disconnected { reason_code: reason, .. }) => {
                return Err(format!("broker: {reason:?}").into());
            }
            _ => {}
        }
    }
    conn.flush(now())?;
    conn.disconnect(now(), ReasonCode::NormalDisconnection, Properties::EMPTY)?;
    Ok(())
}
