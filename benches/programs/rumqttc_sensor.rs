//! examples/tokio_sensor.rs written with rumqttc (its default features), for scripts/program-sizes.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = MqttOptions::new("sensor-1", "127.0.0.1", 1883);
    options.set_keep_alive(std::time::Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    client.subscribe("cmd/#", QoS::AtLeastOnce).await?;
    tokio::spawn(async move {
        for i in 0..10 {
            let reading = format!("{:.1}", 21.0 + f64::from(i) / 10.0);
            let topic = "sensors/sensor-1/temperature";
            if client.publish(topic, QoS::AtLeastOnce, false, reading).await.is_err() {
                break;
            }
        }
    });
    loop {
        match eventloop.poll().await? {
            Event::Incoming(Packet::Publish(p)) => {
                println!("{}: {}", p.topic, String::from_utf8_lossy(&p.payload));
            }
            Event::Incoming(Packet::PubAck(ack)) => println!("reading {} acknowledged", ack.pkid),
            _ => {}
        }
    }
}
