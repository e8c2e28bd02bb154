//! A smart-home light: subscribes to `home/livingroom/light` and switches on `ON`, off on `OFF`,
//! reporting its state retained on `home/livingroom/light/state`.
//!
//! `cargo run --example mqtt_light -- [HOST:PORT]` (default 127.0.0.1:1883), then
//! `mosquitto_pub -t home/livingroom/light -m ON`.

use std::net::TcpStream;

use mqtt_ws::io::StdIo;
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::mqtt::Qos;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::{Subscription, Will};
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:1883".into());
    let tcp = TcpStream::connect(&addr)?;
    tcp.set_read_timeout(Some(std::time::Duration::from_millis(500)))?;
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    let (mut rx, mut tx, mut store) = ([0u8; 1024], [0u8; 1024], [0u8; 2048]);
    let client: Client<SliceStore<'_, 8>> =
        Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
    let mut conn = Connection::new(StdIo(tcp), client, &mut rx, &mut tx);
    let mut opts = ConnectOptions::new("livingroom-light");
    opts.will = Some(Will {
        qos: Qos::AtLeastOnce,
        retain: true,
        properties: Properties::EMPTY,
        topic: "home/livingroom/light/state",
        payload: b"OFFLINE",
    });
    conn.connect(now(), &opts)?;
    let mut on = false;
    loop {
        let mut report = None;
        match conn.poll(now())? {
            Some(Event::Connected(_)) => {
                let sub = [Subscription::new("home/livingroom/light", Qos::AtLeastOnce)];
                conn.subscribe(now(), &sub, Properties::EMPTY)?;
                report = Some(on);
            }
            Some(Event::Message(m)) => match m.payload {
                b"ON" => report = Some(true),
                b"OFF" => report = Some(false),
                other => eprintln!("ignoring {:?}", String::from_utf8_lossy(other)),
            },
            Some(
                Event::Refused { reason_code: reason, .. }
                | Event::Disconnected { reason_code: reason, .. },
            ) => {
                return Err(format!("broker: {reason:?}").into());
            }
            _ => {}
        }
        if let Some(state) = report {
            on = state;
            println!("light is {}", if on { "ON" } else { "OFF" });
            let payload: &[u8] = if on { b"ON" } else { b"OFF" };
            let msg = Outgoing::new("home/livingroom/light/state", payload)
                .qos(Qos::AtLeastOnce)
                .retain(true);
            conn.publish(now(), &msg)?;
        }
    }
}
