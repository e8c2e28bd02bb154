//! The peers' side: rumqttc's MQTT 5 codec and tungstenite's WebSocket reader, used as their
//! users use them.

use std::io::Cursor;

use bytes::BytesMut;
use rumqttc::v5::mqttbytes::v5::Packet;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

/// rumqttc's input: the packet bytes in the `BytesMut` its reader fills from the socket.
pub fn rumqttc_input(bytes: &[u8]) -> BytesMut {
    BytesMut::from(bytes)
}

/// Decodes one packet with rumqttc.
pub fn rumqttc_decode(input: &mut BytesMut) -> Packet {
    Packet::read(input, None).expect("rumqttc decodes the benchmark packet")
}

/// Encodes one packet with rumqttc into `out` (which has room for it) and returns its size.
pub fn rumqttc_encode(packet: &Packet, out: &mut BytesMut) -> usize {
    packet.write(out, None).expect("rumqttc encodes the benchmark packet")
}

/// A tungstenite server-side socket that reads `message` (masked client frames) from memory,
/// in its steady state: the same message was read once before, so buffer set-up on first use
/// is not counted in the next read.
pub fn tungstenite_server(message: &[u8]) -> WebSocket<Cursor<Vec<u8>>> {
    let config =
        WebSocketConfig::default().max_message_size(Some(1 << 20)).max_frame_size(Some(1 << 20));
    let twice = [message, message].concat();
    let mut ws = WebSocket::from_raw_socket(Cursor::new(twice), Role::Server, Some(config));
    tungstenite_read(&mut ws);
    ws
}

/// Reads one message (parse, unmask, UTF-8 check) with tungstenite; returns the text length.
pub fn tungstenite_read(ws: &mut WebSocket<Cursor<Vec<u8>>>) -> usize {
    match ws.read().expect("tungstenite reads the benchmark message") {
        tungstenite::Message::Text(t) => t.len(),
        other => panic!("expected a text message, got {other:?}"),
    }
}
