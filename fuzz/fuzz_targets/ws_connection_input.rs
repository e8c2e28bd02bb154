//! The WebSocket connection state machine on arbitrary bytes, in arbitrary chunks, both roles.
//!
//! Checks: no panic; `consumed` never exceeds the input; a data piece is the tail of the
//! consumed bytes; every completed text message is UTF-8; every frame the connection writes
//! parses back; a protocol error is answered by a close frame with its code.
//!
//! Input: byte 0 = configuration (bits 0-3 chunk size - 1, bit 4 client role, bit 5 refuse
//! text, bit 6 accept unmasked frames), then the bytes from the peer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{
    Config, Connection, Event, MIN_INPUT, MaskKeys, MessageKind, TextMessages, UnmaskedFrames,
};
use mqtt_ws::ws::frame::{FrameHeader, Opcode, Rsv};

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, bytes)) = data.split_first() else { return };
    let chunk = usize::from(cfg & 0x0f) + 1;
    let config = Config {
        max_frame_size: 1000,
        max_message_size: 3000,
        text_messages: if cfg & 0x20 != 0 { TextMessages::Reject } else { TextMessages::Accept },
        unmasked_frames: if cfg & 0x40 != 0 {
            UnmaskedFrames::Accept
        } else {
            UnmaskedFrames::Reject
        },
        ..Config::new()
    };
    if cfg & 0x10 != 0 {
        let mut n = 0u8;
        run(
            Connection::client(config, move || {
                n = n.wrapping_add(1);
                [n, 1, 2, 3]
            }),
            bytes,
            chunk,
        );
    } else {
        run(Connection::server(config), bytes, chunk);
    }
});

fn run<K: MaskKeys>(mut conn: Connection<K>, bytes: &[u8], chunk: usize) {
    let mut buf: Vec<u8> = Vec::new();
    let mut text: Vec<u8> = Vec::new();
    for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let len = buf.len();
            let base = buf.as_ptr() as usize;
            let consumed = match conn.handle_input(Instant::ZERO, &mut buf) {
                Ok(Status::NeedMore { needed }) => {
                    assert!(needed > 0);
                    break;
                }
                Ok(Status::Closed) => break,
                Ok(Status::Blocked) => panic!("a WebSocket connection reported Blocked"),
                Ok(Status::Progress { consumed, event }) => {
                    assert!(consumed <= len);
                    if let Some(Event::Data { kind, data, last }) = event {
                        assert_eq!(data.as_ptr() as usize + data.len(), base + consumed);
                        if kind == MessageKind::Text {
                            text.extend_from_slice(data);
                            if last {
                                assert!(core::str::from_utf8(&text).is_ok());
                                text.clear();
                            }
                        }
                    }
                    consumed
                }
                Err(e) => {
                    let last = drain(&mut conn);
                    let code = e.close_code().as_u16().to_be_bytes();
                    assert_eq!(last, Some((Opcode::Close, Some(code))));
                    return;
                }
            };
            buf.drain(..consumed);
            drain(&mut conn);
        }
    }
}

/// Writes out what the connection owes; every frame must parse. Returns the last frame's
/// opcode and, for a close frame, its code.
fn drain<K: MaskKeys>(conn: &mut Connection<K>) -> Option<(Opcode, Option<[u8; 2]>)> {
    let mut out = [0u8; MIN_INPUT];
    let mut last = None;
    while let Some(n) =
        conn.poll_transmit(Instant::ZERO, &mut out).expect("MIN_INPUT bytes always suffice")
    {
        let Ok(Status::Progress { consumed: hlen, event: header }) =
            FrameHeader::parse(&out[..n], Rsv::NONE)
        else {
            panic!("own frames are valid and complete: {:02x?}", &out[..n]);
        };
        assert_eq!(hlen as u64 + header.payload_len, n as u64);
        let mut payload = out[hlen..n].to_vec();
        if let Some(key) = header.mask {
            mqtt_ws::ws::mask::apply_mask(key, 0, &mut payload);
        }
        let code = (payload.len() >= 2).then(|| [payload[0], payload[1]]);
        last = Some((header.opcode, if header.opcode == Opcode::Close { code } else { None }));
    }
    last
}
