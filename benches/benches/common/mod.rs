//! The benchmark cases and the peer side of each, shared by the criterion and iai-callgrind
//! benches (and the allocation test) so that both measure exactly the same work.

#![allow(dead_code)] // each bench binary uses its own subset

pub mod ours;
pub mod peers;

/// The MQTT benchmark cases: a name and the packet bytes (MQTT 5.0).
pub fn mqtt_cases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("publish_64", mqtt_ws_benches::publish_qos1(64)),
        ("publish_1k", mqtt_ws_benches::publish_qos1(1024)),
        ("connect_will", mqtt_ws_benches::connect_with_will()),
        ("subscribe_10", mqtt_ws_benches::subscribe_10()),
    ]
}

/// The WebSocket read-path cases: a name and the text message length.
pub const WS_CASES: [(&str, usize); 3] = [("text_16", 16), ("text_1k", 1024), ("text_64k", 65536)];
