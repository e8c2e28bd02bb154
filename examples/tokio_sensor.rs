//! A sensor on tokio: subscribes to its commands (`cmd/#`, QoS 1), publishes 10 temperature
//! readings at QoS 1, then prints every command that arrives, with the keep-alive running in
//! between. Against Mosquitto on 127.0.0.1:1883 by default, or any `mqtt://` or `ws://` URL:
//!
//! ```sh
//! cargo run --example tokio_sensor -- ws://127.0.0.1:8083/mqtt
//! mosquitto_pub -t cmd/fan -m on      # printed by the sensor
//! ```

use mqtt_ws::net::tokio::MqttClient;
use mqtt_ws::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    let mut mqtt = MqttClient::connect(&url, &ConnectOptions::new("sensor-1")).await?;
    mqtt.subscribe("cmd/#", Qos::AtLeastOnce).await?;
    for i in 0..10 {
        let reading = format!("{:.1}", 21.0 + f64::from(i) / 10.0);
        let msg = Outgoing::new("sensors/sensor-1/temperature", reading.as_bytes());
        mqtt.publish(&msg.qos(Qos::AtLeastOnce)).await?;
    }
    while let Some(event) = mqtt.next().await? {
        match event {
            MqttEvent::Message(m) => {
                println!("{}: {}", m.topic, String::from_utf8_lossy(&m.payload))
            }
            MqttEvent::Published { packet_id, .. } => println!("reading {packet_id} acknowledged"),
            _ => {}
        }
    }
    Ok(())
}
