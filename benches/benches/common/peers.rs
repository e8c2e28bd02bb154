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

/// A tungstenite server-side socket that reads `frames` (masked client frames, one message
/// each) from memory, in its steady state: the same frames were read once before, so buffer
/// set-up on first use is not counted in the next reads.
pub fn tungstenite_server(frames: &[u8], messages: usize) -> WebSocket<Cursor<Vec<u8>>> {
    let config =
        WebSocketConfig::default().max_message_size(Some(1 << 20)).max_frame_size(Some(1 << 20));
    let twice = [frames, frames].concat();
    let mut ws = WebSocket::from_raw_socket(Cursor::new(twice), Role::Server, Some(config));
    tungstenite_read(&mut ws, messages);
    ws
}

/// Reads `messages` messages (parse, unmask, UTF-8 check of text) with tungstenite; returns
/// their data length.
pub fn tungstenite_read(ws: &mut WebSocket<Cursor<Vec<u8>>>, messages: usize) -> usize {
    (0..messages)
        .map(|_| match ws.read().expect("tungstenite reads the benchmark message") {
            tungstenite::Message::Text(t) => t.len(),
            tungstenite::Message::Binary(b) => b.len(),
            other => panic!("expected a data message, got {other:?}"),
        })
        .sum()
}

/// The server side of the opening handshake with tungstenite: parse the request (httparse into
/// an `http::Request`), validate it and build the `101` answer (`create_response`, which
/// computes `Sec-WebSocket-Accept`), choose subprotocol `mqtt` and write the answer into `out`.
pub fn tungstenite_handshake_request(buf: &[u8], out: &mut Vec<u8>) -> usize {
    use tungstenite::handshake::machine::TryParse;
    use tungstenite::handshake::server::{Request, create_response, write_response};
    let (_, request) = Request::try_parse(buf).expect("valid request").expect("complete request");
    let mut response = create_response(&request).expect("valid answer");
    let offered = request.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    if offered.is_some_and(|v| v.split(',').any(|p| p.trim() == "mqtt")) {
        response.headers_mut().insert("Sec-WebSocket-Protocol", "mqtt".parse().expect("token"));
    }
    write_response(&mut *out, &response).expect("written to memory");
    out.len()
}

#[cfg(feature = "deflate")]
/// zlib-rs (through flate2) inflating the same compressed bytes into a buffer that holds the
/// whole message: the decompression alone, without framing, unmasking or UTF-8. `compressed`
/// is the message's payload with its `00 00 ff ff` tail restored (RFC 7692 §7.2.2).
pub fn zlib_inflate(z: &mut flate2::Decompress, compressed: &[u8], out: &mut Vec<u8>) -> usize {
    z.reset(false);
    out.clear();
    z.decompress_vec(compressed, out, flate2::FlushDecompress::Sync).expect("valid DEFLATE");
    out.len()
}
