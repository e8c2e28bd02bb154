//! Cross-check of fastwebsockets 0.10 on the WebSocket benchmark cases, through the calls the
//! benchmarks measure (`benches/common/peers.rs`): it reads every case to the messages mqtt-ws
//! reads, and its measured path (`FragmentCollector::read_frame`) checks the UTF-8 of text as
//! ours does, whole messages and fragmented ones. Where it is more lenient than RFC 6455 it is
//! written down in a test named `fastwebsockets_deviation_*`.

#[path = "../benches/common/mod.rs"]
mod common;

use std::io::Cursor;

use common::peers::{self, FastWebSocket};
use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket, WebSocketError};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Config, Connection};
use mqtt_ws_benches::{MASK_KEY, masked_frame, payload, text};

fn socket(bytes: Vec<u8>) -> WebSocket<Cursor<Vec<u8>>> {
    WebSocket::after_handshake(Cursor::new(bytes), Role::Server)
}

fn server(bytes: Vec<u8>) -> FastWebSocket {
    FragmentCollector::new(socket(bytes))
}

fn read(ws: &mut FastWebSocket) -> Result<(OpCode, Vec<u8>), WebSocketError> {
    peers::ready(ws.read_frame()).map(|f| (f.opcode, f.payload.to_vec()))
}

/// A masked frame of `opcode` with FIN clear: the first fragments of a message.
fn fragment(opcode: u8, data: &[u8]) -> Vec<u8> {
    let mut frame = masked_frame(opcode, data, MASK_KEY);
    frame[0] &= 0x7f;
    frame
}

#[test]
fn reads_every_case_to_the_same_messages() {
    for case in common::ws_cases() {
        let name = case.name;
        let len = case.data_len / case.messages;
        let expected = if name.starts_with("text") {
            (OpCode::Text, text(len))
        } else {
            (OpCode::Binary, payload(len))
        };
        let mut ws = server(case.bytes.clone());
        for i in 0..case.messages {
            assert_eq!(read(&mut ws).expect(name), expected, "{name}: message {i}");
        }
        // The benchmark's reader, in its steady state, and ours read the same length.
        let mut ws = peers::fastwebsockets_server(&case.bytes, case.messages);
        assert_eq!(peers::fastwebsockets_read(&mut ws, case.messages), case.data_len, "{name}");
        let mut frames = case.bytes.clone();
        assert_eq!(common::ours::ws_read(&mut frames, case.messages), case.data_len, "{name}");
    }
}

#[test]
fn checks_the_utf8_of_text() {
    let bad = [b'a', 0xc3, 0x28];
    // A whole message.
    let frame = masked_frame(0x1, &bad, MASK_KEY);
    assert!(matches!(read(&mut server(frame)), Err(WebSocketError::InvalidUTF8)));
    // The same bytes as binary are data.
    let frame = masked_frame(0x2, &bad, MASK_KEY);
    assert_eq!(read(&mut server(frame)).unwrap(), (OpCode::Binary, bad.to_vec()));
    // A message in two fragments, invalid in the second.
    let frames = [fragment(0x1, &bad[..2]), masked_frame(0x0, &bad[2..], MASK_KEY)].concat();
    assert!(matches!(read(&mut server(frames)), Err(WebSocketError::InvalidUTF8)));
}

/// `WebSocket::read_frame` without the collector checks the UTF-8 of a text frame only when it
/// is a whole message: a first fragment that is not UTF-8 comes through, which is why the
/// benchmark reads through `FragmentCollector` (the same cost on whole messages).
#[test]
fn fastwebsockets_deviation_read_frame_alone_skips_fragments() {
    let mut ws = socket(fragment(0x1, &[0xff, 0xfe]));
    let frame = peers::ready(ws.read_frame()).expect("accepted");
    assert_eq!(
        (frame.opcode, frame.fin, &frame.payload[..]),
        (OpCode::Text, false, &[0xff, 0xfe][..])
    );
}

/// A client frame without a mask is read as data (RFC 6455 §5.1: the server must close the
/// connection); mqtt-ws refuses it.
#[test]
fn fastwebsockets_deviation_accepts_unmasked_client_frames() {
    let mut unmasked = vec![0x81, 0x02, b'h', b'i'];
    assert_eq!(read(&mut server(unmasked.clone())).unwrap(), (OpCode::Text, b"hi".to_vec()));
    let mut ours = Connection::server(Config::new());
    assert!(ours.handle_input(Instant::ZERO, &mut unmasked).is_err());
}
