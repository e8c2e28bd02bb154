//! The main job, end to end: starts the example broker in this process on free loopback ports
//! and plays five scenarios against it, printing what happens:
//!
//! 1. a smart-home light switched over MQTT/TCP (`home/livingroom/light` = `ON`),
//! 2. a chat over MQTT over WebSocket,
//! 3. a dashboard over WebSocket receiving a sensor's QoS 1 and QoS 2 readings,
//! 4. a retained thermostat set-point picked up by a late subscriber,
//! 5. a door sensor's will, published when it drops off the network.
//!
//! ```sh
//! cargo run --example demo
//! cargo run --example demo -- --url mqtt://127.0.0.1:1883 --ws-url ws://127.0.0.1:9002/mqtt
//! ```
//!
//! With `--url` (and optionally `--ws-url`; without it the WebSocket scenarios use `--url`) the
//! client side runs against that broker instead of the built-in one.
//!
//! The clients are the crate's `mqtt::client::Client`, pumped by a small blocking helper
//! (`examples/broker/client.rs`) over TCP or `ws::Connection` framing.

#[path = "broker/mod.rs"]
mod broker;

use std::process::ExitCode;
use std::time::Duration;

use broker::client::{ConnectOptions, MiniClient, Received};
use mqtt_ws::mqtt::{Qos, Version};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A named step of the demo.
type Scenario<'a> = Box<dyn Fn() -> Result<()> + 'a>;

const WAIT: Duration = Duration::from_secs(5);

fn expect(c: &mut MiniClient, topic: &str, payload: &[u8]) -> Result<Received> {
    loop {
        let Some(m) = c.recv(WAIT)? else {
            return Err(format!("no message on {topic} within {WAIT:?}").into());
        };
        if m.topic == topic && m.payload == payload {
            return Ok(m);
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn connect(url: &str, id: &str) -> Result<MiniClient> {
    Ok(MiniClient::connect(url, id, ConnectOptions::default())?)
}

fn smart_home(tcp: &str) -> Result<()> {
    println!("\n1. Smart-home light over MQTT/TCP ({tcp})");
    let mut light = connect(tcp, "demo-light")?;
    light.subscribe("home/livingroom/light", Qos::AtLeastOnce)?;
    println!("   light: subscribed to home/livingroom/light");
    let mut phone = MiniClient::connect(
        tcp,
        "demo-phone",
        ConnectOptions { version: Version::V3_1_1, ..ConnectOptions::default() },
    )?;
    phone.publish("home/livingroom/light", b"ON", Qos::AtLeastOnce, false)?;
    println!("   phone (MQTT 3.1.1): published home/livingroom/light = ON (QoS 1, acknowledged)");
    let m = expect(&mut light, "home/livingroom/light", b"ON")?;
    println!(
        "   light: received {} = {} -> the light is now {}",
        m.topic,
        text(&m.payload),
        text(&m.payload)
    );
    phone.disconnect()?;
    light.disconnect()?;
    Ok(())
}

fn chat(ws: &str) -> Result<()> {
    println!("\n2. Chat over MQTT over WebSocket ({ws})");
    let mut alice = connect(ws, "demo-alice")?;
    let mut bob = connect(ws, "demo-bob")?;
    alice.subscribe("chat/room1/#", Qos::AtLeastOnce)?;
    bob.subscribe("chat/room1/#", Qos::AtLeastOnce)?;
    alice.publish("chat/room1/alice", b"Hi Bob!", Qos::AtLeastOnce, false)?;
    let m = expect(&mut bob, "chat/room1/alice", b"Hi Bob!")?;
    println!("   bob sees   [{}] {}", m.topic, text(&m.payload));
    bob.publish("chat/room1/bob", b"Hello Alice, over WebSocket too.", Qos::AtLeastOnce, false)?;
    let m = expect(&mut alice, "chat/room1/bob", b"Hello Alice, over WebSocket too.")?;
    println!("   alice sees [{}] {}", m.topic, text(&m.payload));
    alice.disconnect()?;
    bob.disconnect()?;
    Ok(())
}

fn sensor(tcp: &str, ws: &str) -> Result<()> {
    println!("\n3. Sensor readings, QoS 1 and QoS 2, to a dashboard over WebSocket");
    let mut dashboard = connect(ws, "demo-dashboard")?;
    dashboard.subscribe("sensors/#", Qos::ExactlyOnce)?;
    println!("   dashboard ({ws}): subscribed to sensors/# with QoS 2");
    let mut sensor = connect(tcp, "demo-sensor")?;
    sensor.publish("sensors/garden/temperature", b"18.4", Qos::AtLeastOnce, false)?;
    println!("   sensor ({tcp}): temperature 18.4 sent with QoS 1 (PUBACK received)");
    sensor.publish("sensors/garden/rain", b"0.2mm", Qos::ExactlyOnce, false)?;
    println!("   sensor: rain 0.2mm sent with QoS 2 (PUBREC, PUBREL, PUBCOMP done)");
    for (topic, payload) in
        [("sensors/garden/temperature", &b"18.4"[..]), ("sensors/garden/rain", b"0.2mm")]
    {
        let m = expect(&mut dashboard, topic, payload)?;
        println!("   dashboard: {} = {} (QoS {})", m.topic, text(&m.payload), m.qos.as_u8());
    }
    sensor.disconnect()?;
    dashboard.disconnect()?;
    Ok(())
}

fn retained(tcp: &str, ws: &str) -> Result<()> {
    println!("\n4. A retained message");
    let mut thermostat = connect(tcp, "demo-thermostat")?;
    thermostat.publish("home/thermostat/setpoint", b"21.5", Qos::AtLeastOnce, true)?;
    println!("   thermostat: set-point 21.5 published with the retain flag");
    thermostat.disconnect()?;
    let mut late = connect(ws, "demo-late-app")?;
    late.subscribe("home/thermostat/#", Qos::AtLeastOnce)?;
    let m = expect(&mut late, "home/thermostat/setpoint", b"21.5")?;
    println!(
        "   an app subscribing later gets {} = {} at once (retain flag: {})",
        m.topic,
        text(&m.payload),
        m.retain
    );
    // Clear it so the next run starts clean [MQTT-3.3.1-6].
    let mut thermostat = connect(tcp, "demo-thermostat")?;
    thermostat.publish("home/thermostat/setpoint", b"", Qos::AtLeastOnce, true)?;
    thermostat.disconnect()?;
    late.disconnect()?;
    Ok(())
}

fn will(tcp: &str) -> Result<()> {
    println!("\n5. A will message");
    let mut monitor = connect(tcp, "demo-monitor")?;
    monitor.subscribe("devices/+/status", Qos::AtLeastOnce)?;
    let options = ConnectOptions {
        keep_alive: 5,
        will: Some(("devices/door/status", b"offline", Qos::AtLeastOnce, false)),
        ..ConnectOptions::default()
    };
    let mut door = MiniClient::connect(tcp, "demo-door", options)?;
    door.publish("devices/door/status", b"online", Qos::AtLeastOnce, false)?;
    expect(&mut monitor, "devices/door/status", b"online")?;
    println!("   door sensor: online, with a will 'offline' on devices/door/status");
    door.drop_connection();
    println!("   door sensor: connection dropped without DISCONNECT");
    let m = expect(&mut monitor, "devices/door/status", b"offline")?;
    println!("   monitor: {} = {} (the broker published the will)", m.topic, text(&m.payload));
    monitor.disconnect()?;
    Ok(())
}

fn main() -> ExitCode {
    let mut url = None;
    let mut ws_url = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => url = args.next(),
            "--ws-url" => ws_url = args.next(),
            _ => {
                eprintln!("usage: demo [--url mqtt://HOST:PORT] [--ws-url ws://HOST:PORT/mqtt]");
                return ExitCode::from(2);
            }
        }
    }
    let (tcp, ws) = match url {
        Some(u) => {
            let ws = ws_url.unwrap_or_else(|| u.clone());
            println!("Running the client side against {u} and {ws}");
            (u, ws)
        }
        None => {
            let b = broker::Broker::new(broker::Options::default());
            let running = match b.start(Some("127.0.0.1:0"), Some("127.0.0.1:0")) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the broker: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let (Some(t), Some(w)) = (running.tcp, running.ws) else { return ExitCode::FAILURE };
            println!("Example broker (mqtt_ws::mqtt::server) on mqtt://{t} and ws://{w}/mqtt");
            (format!("mqtt://{t}"), format!("ws://{w}/mqtt"))
        }
    };
    let started = std::time::Instant::now();
    let steps: [(&str, Scenario<'_>); 5] = [
        ("smart home", Box::new(|| smart_home(&tcp))),
        ("chat", Box::new(|| chat(&ws))),
        ("sensor", Box::new(|| sensor(&tcp, &ws))),
        ("retained", Box::new(|| retained(&tcp, &ws))),
        ("will", Box::new(|| will(&tcp))),
    ];
    for (name, step) in &steps {
        if let Err(e) = step() {
            eprintln!("\nscenario '{name}' failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("\nAll five scenarios passed in {:.2?}.", started.elapsed());
    ExitCode::SUCCESS
}
