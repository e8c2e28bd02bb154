//! MQTT over WebSocket: connect to a `ws://` URL (subprotocol `mqtt`), publish a retained QoS 2
//! message, and read it back from the broker.
//!
//! `cargo run --example mqtt_over_ws -- [URL]` (default `ws://127.0.0.1:9002/mqtt`, a
//! Mosquitto `websockets` listener; `wss://` with the `tls` feature).

use mqtt_ws::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/mqtt".into());
    let mut mqtt = MqttClient::connect(&url, &ConnectOptions::new("mqtt-over-ws-example"))?;
    let msg = Outgoing::new("example/lamp", b"ON").qos(Qos::ExactlyOnce).retain(true);
    mqtt.publish(&msg)?;
    // Once the PUBCOMP is in, the broker keeps the message as retained.
    loop {
        match mqtt.next()?.ok_or("the broker closed the connection")? {
            MqttEvent::Published { .. } => break,
            _ => continue,
        }
    }
    mqtt.subscribe("example/lamp", Qos::AtLeastOnce)?;
    while let Some(event) = mqtt.next()? {
        if let MqttEvent::Message(m) = event {
            println!(
                "{} = {} (retained: {})",
                m.topic,
                String::from_utf8_lossy(&m.payload),
                m.retain
            );
            break;
        }
    }
    mqtt.disconnect()?;
    Ok(())
}
