//! A WebSocket connection (either role, varied limits) fed arbitrary bytes in arbitrary chunks
//! through a small receive buffer, as a run loop does, with sends and closes interleaved: it
//! never panics, keeps the run-loop invariants and ends in a defined state.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{
    Config, Connection, MIN_INPUT, MaskKeys, MessageKind, Role, TextMessages, UnmaskedFrames,
};

#[path = "ws_connection_common.rs"]
mod ws_common;

#[derive(Debug, Arbitrary)]
enum Step {
    /// The transport delivered these bytes.
    Receive(Vec<u8>),
    /// The application sends a text message.
    SendText(String),
    /// The application sends part of a binary message.
    SendBinary(Vec<u8>, bool),
    /// The application pings.
    Ping(Vec<u8>),
    /// The application starts the closing handshake.
    Close(u16, String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    client: bool,
    max_frame: u16,
    max_message: u16,
    accept_unmasked: bool,
    reject_text: bool,
    /// Receive buffer size beyond `MIN_INPUT` (a header and a whole control frame), the least
    /// the connection needs to see at once.
    rx_len: u8,
    steps: Vec<Step>,
}

fn run<K: MaskKeys>(conn: &mut Connection<K>, input: Input) {
    let rx_len = MIN_INPUT + usize::from(input.rx_len);
    let mut rx = vec![0u8; rx_len];
    let mut filled = 0;
    let mut out = vec![0u8; 1024];
    for step in input.steps {
        match step {
            Step::Receive(bytes) => {
                let mut bytes = &bytes[..];
                while !bytes.is_empty() {
                    let n = bytes.len().min(rx_len - filled);
                    rx[filled..filled + n].copy_from_slice(&bytes[..n]);
                    filled += n;
                    bytes = &bytes[n..];
                    let used = ws_common::pump(conn, &mut rx[..filled]);
                    rx.copy_within(used..filled, 0);
                    filled -= used;
                    if filled == rx_len {
                        // A full buffer the connection takes nothing from is a stall unless the
                        // connection reads no more: every header and every control frame fits
                        // (rx_len >= MIN_INPUT) and data payloads are handed out in pieces.
                        assert!(matches!(
                            conn.handle_input(Instant::ZERO, &mut rx[..filled]),
                            Ok(Status::Closed)
                        ));
                        break;
                    }
                }
            }
            Step::SendText(t) => {
                let _ = conn.encode_text(&mut out, &t);
            }
            Step::SendBinary(b, last) => {
                let _ = conn.encode_data(&mut out, MessageKind::Binary, &b, last);
            }
            Step::Ping(p) => {
                let _ = conn.encode_ping(&mut out, &p);
            }
            Step::Close(code, reason) => {
                let _ = conn.close(CloseCode::from_u16(code), &reason);
            }
        }
        ws_common::drain(conn);
    }
    ws_common::check_end(conn);
}

fuzz_target!(|input: Input| {
    let mut config = Config::new();
    config.max_frame_size = u64::from(input.max_frame);
    config.max_message_size = u64::from(input.max_message);
    if input.accept_unmasked {
        config.unmasked_frames = UnmaskedFrames::Accept;
    }
    if input.reject_text {
        config.text_messages = TextMessages::Reject;
    }
    if input.client {
        let mut n = 0u8;
        let mut conn = Connection::new(Role::Client, config, move || {
            n = n.wrapping_add(1);
            [n, 0x5a, 0xa5, n]
        });
        run(&mut conn, input);
    } else {
        let mut conn = Connection::server(config);
        run(&mut conn, input);
    }
});
