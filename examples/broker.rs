//! A small single-node MQTT broker on `mqtt_ws::mqtt::server::Server`, over TCP and WebSocket.
//!
//! ```sh
//! cargo run --release --example broker -- --tcp 127.0.0.1:1883 --ws 127.0.0.1:8083
//! mosquitto_sub -V mqttv5 -t 'home/#' -v &
//! mosquitto_pub -V mqttv5 -t home/livingroom/light -m ON
//! ```
//!
//! Or configured as Mosquitto is, from a file (`broker -c broker.conf`): `listener PORT
//! [ADDRESS]` with `protocol mqtt|websockets`, `certfile` / `keyfile` / `cafile` /
//! `require_certificate` for TLS, `allow_anonymous`, `password_file` (as `mosquitto_passwd`
//! writes it), `acl_file`, `max_keepalive`, `max_connections`, `max_inflight_messages`,
//! `max_queued_messages`, `max_queued_bytes`, `message_size_limit`, `max_packet_size`,
//! `connect_timeout`, and `persistence true` with `persistence_location DIR` (sessions,
//! subscriptions, retained and queued messages and QoS 1 / 2 state journaled there, so they
//! survive a restart, `kill -9` included). A line it does not understand is an error naming
//! the line.
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
        "usage: broker [-c FILE] [--tcp ADDR] [--ws ADDR] [--allow-origin ORIGIN]... [--mqttjs PATH] [--quiet]\n\
         defaults: --tcp 127.0.0.1:1883 --ws 127.0.0.1:8083 (without -c)"
    );
    std::process::exit(2)
}

fn main() -> std::io::Result<()> {
    let mut tcp = Some("127.0.0.1:1883".to_owned());
    let mut ws = Some("127.0.0.1:8083".to_owned());
    let mut options = broker::Options { verbose: true, ..Default::default() };
    let mut config = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "-c" | "--config" => config = Some(PathBuf::from(value())),
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
    if let Some(path) = config {
        let configured = broker::config::Config::load(&path)
            .map_err(|e| e.to_string())
            .and_then(|c| broker::setup::configured(&c))
            .unwrap_or_else(|e| {
                eprintln!("broker: {e}");
                std::process::exit(1)
            });
        let listeners = configured.listeners;
        let options = broker::Options {
            verbose: options.verbose,
            allowed_origins: options.allowed_origins,
            mqttjs: options.mqttjs,
            ..configured.options
        };
        let b = match &configured.persistence {
            Some(dir) => broker::Broker::persistent(options, dir)?,
            None => broker::Broker::new(options),
        };
        for (l, addr) in listeners.iter().zip(b.start_listeners(&listeners)?) {
            let scheme = match (l.websocket, l.tls.is_some()) {
                (false, false) => "mqtt",
                (false, true) => "mqtts",
                (true, false) => "ws",
                (true, true) => "wss",
            };
            let path = if l.websocket { "/mqtt" } else { "" };
            println!("listening on {scheme}://{addr}{path}");
        }
        loop {
            std::thread::park();
        }
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
