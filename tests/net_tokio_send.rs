//! The tokio client's futures can be spawned: they are `Send`.
#![cfg(all(feature = "tokio", feature = "mqtt"))]

fn assert_send<T: Send>(_: &T) {}

#[allow(dead_code)]
async fn futures_are_send(mut mqtt: mqtt_ws::net::tokio::MqttClient) {
    let next = mqtt.next();
    assert_send(&next);
}
