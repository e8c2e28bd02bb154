//! A small single-node MQTT broker on `mqtt_ws::mqtt::server::Server`, over TCP and WebSocket.
//!
//! ```sh
//! cargo run --release --example broker -- --tcp 127.0.0.1:1883 --ws 127.0.0.1:8083
//! mosquitto_sub -V mqttv5 -t 'home/#' -v &
//! mosquitto_pub -V mqttv5 -t home/livingroom/light -m ON
//! ```
//!
//! The WebSocket listener takes MQTT on path `/mqtt` (subprotocol `mqtt`) and serves a browser
//! page at `/` that talks MQTT with MQTT.js (pass `--mqttjs node_modules/mqtt/dist/mqtt.min.js`
//! after `npm install mqtt`). Browser origins other than the listener's own are refused unless
//! given with `--allow-origin`. For local use, tests, demos and gateways; production scale
//! stays with EMQX or Mosquitto.

#[path = "broker/mod.rs"]
mod broker;

use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: broker [--tcp ADDR] [--ws ADDR] [--allow-origin ORIGIN]... [--mqttjs PATH] [--quiet]\n\
         defaults: --tcp 127.0.0.1:1883 --ws 127.0.0.1:8083"
    );
    std::process::exit(2)
}

fn main() -> std::io::Result<()> {
    let mut tcp = Some("127.0.0.1:1883".to_owned());
    let mut ws = Some("127.0.0.1:8083".to_owned());
    let mut options = broker::Options { verbose: true, ..Default::default() };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--tcp" => tcp = Some(value()).filter(|v| v != "none"),
            "--ws" => ws = Some(value()).filter(|v| v != "none"),
            "--allow-origin" => options.allowed_origins.push(value()),
            "--mqttjs" => options.mqttjs = Some(PathBuf::from(value())),
            "--quiet" => options.verbose = false,
            _ => usage(),
        }
    }
    if options.mqttjs.is_none() {
        let default = PathBuf::from("node_modules/mqtt/dist/mqtt.min.js");
        options.mqttjs = default.exists().then_some(default);
    }
    let b = broker::Broker::new(options);
    let running = b.start(tcp.as_deref(), ws.as_deref())?;
    if let Some(a) = running.tcp {
        println!("MQTT over TCP on {a}");
    }
    if let Some(a) = running.ws {
        println!("MQTT over WebSocket on ws://{a}/mqtt, browser page on http://{a}/");
    }
    loop {
        std::thread::park();
    }
}
