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
        ("unsubscribe_10", mqtt_ws_benches::unsubscribe_10()),
        ("suback_10", mqtt_ws_benches::suback_10()),
        ("puback_reason", mqtt_ws_benches::puback_reason()),
    ]
}

/// A WebSocket read-path case: masked client frames as one read hands them over.
pub struct WsCase {
    /// The case's name.
    pub name: &'static str,
    /// The frames, back to back.
    pub bytes: Vec<u8>,
    /// The messages in `bytes`, one frame each.
    pub messages: usize,
    /// The data bytes of all messages together.
    pub data_len: usize,
}

/// The WebSocket read-path cases: text (with multi-byte characters throughout, so the UTF-8
/// check has work) and binary messages of 16 B, 1 KiB and 64 KiB, one per read, and 64 text
/// messages of 16 B in one read (a client sending small MQTT packets, one per frame).
pub fn ws_cases() -> Vec<WsCase> {
    use mqtt_ws_benches::{masked_binary_message, masked_text_message, masked_text_messages};
    let one = |name, bytes, len| WsCase { name, bytes, messages: 1, data_len: len };
    vec![
        one("text_16", masked_text_message(16), 16),
        one("text_1k", masked_text_message(1024), 1024),
        one("text_64k", masked_text_message(65536), 65536),
        one("binary_16", masked_binary_message(16), 16),
        one("binary_1k", masked_binary_message(1024), 1024),
        one("binary_64k", masked_binary_message(65536), 65536),
        WsCase {
            name: "text_16_x64",
            bytes: masked_text_messages(64, 16),
            messages: 64,
            data_len: 64 * 16,
        },
    ]
}

/// The case named `name`.
pub fn ws_case(name: &str) -> WsCase {
    ws_cases().into_iter().find(|c| c.name == name).expect("known case")
}
