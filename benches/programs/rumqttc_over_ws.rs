//! examples/mqtt_over_ws.rs written with rumqttc and its websocket transport, for scripts/program-sizes.

use rumqttc::{Client, Event, MqttOptions, Packet, QoS, Transport};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/mqtt".into());
    let mut options = MqttOptions::new("mqtt-over-ws-example", url, 9002);
    options.set_transport(Transport::Ws);
    let (client, mut connection) = Client::new(options, 10);
    client.publish("example/lamp", QoS::ExactlyOnce, true, "ON")?;
    for event in connection.iter() {
        match event? {
            Event::Incoming(Packet::PubComp(_)) => client.subscribe("example/lamp", QoS::AtLeastOnce)?,
            Event::Incoming(Packet::Publish(p)) => {
                let payload = String::from_utf8_lossy(&p.payload);
                println!("{} = {} (retained: {})", p.topic, payload, p.retain);
                break;
            }
            _ => {}
        }
    }
    client.disconnect()?;
    Ok(())
}
