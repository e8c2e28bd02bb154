//! A WebSocket connection that agreed to permessage-deflate (RFC 7692), receiving through its
//! inflater: arbitrary frames, or arbitrary bytes as the payload of a compressed message split
//! into frames, in arbitrary chunks, both roles.
//!
//! Checks: no panic; `consumed` never exceeds the input; a step that consumes nothing gives an
//! event; every completed message fits the message limit and a text message is UTF-8; a
//! protocol error is answered by a close frame with its code.
//!
//! Input: byte 0 = configuration (bits 0-3 chunk size - 1, bit 4 client role, bit 5 no context
//! takeover, bit 6 the smallest window (256 bytes) instead of 32 KiB, bit 7 the bytes are the
//! compressed payload: byte 1 then gives the frame size - 1 and whether the message is text
//! (bit 7)), then the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Config, Connection, Event, MIN_INPUT, MaskKeys, MessageKind};
use mqtt_ws::ws::deflate::Inflater;
use mqtt_ws::ws::frame::{FrameHeader, Opcode, Rsv};

const MAX_MESSAGE: u64 = 5000;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, rest)) = data.split_first() else { return };
    let chunk = usize::from(cfg & 0x0f) + 1;
    let client = cfg & 0x10 != 0;
    let wire = if cfg & 0x80 != 0 {
        let Some((&shape, payload)) = rest.split_first() else { return };
        frames(payload, usize::from(shape & 0x7f) + 1, shape & 0x80 != 0, !client)
    } else {
        rest.to_vec()
    };
    let mut window = vec![0u8; if cfg & 0x40 != 0 { 256 } else { 32768 }];
    let mut inflater = Inflater::new(&mut window[..], cfg & 0x20 != 0).expect("a valid window");
    let config = Config { max_frame_size: 4000, max_message_size: MAX_MESSAGE, ..Config::new() };
    if client {
        run(Connection::client(config, || [1, 2, 3, 4]), &mut inflater, &wire, chunk);
    } else {
        run(Connection::server(config), &mut inflater, &wire, chunk);
    }
});

/// `payload` as one compressed message (RSV1 on the first frame) in frames of `size` bytes,
/// masked when they go to a server.
fn frames(payload: &[u8], size: usize, text: bool, masked: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> =
        if payload.is_empty() { vec![&[][..]] } else { payload.chunks(size).collect() };
    for (i, p) in pieces.iter().enumerate() {
        let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
        let b0 = fin | if i == 0 { 0x40 | if text { 1 } else { 2 } } else { 0 };
        out.push(b0);
        let mask = if masked { 0x80 } else { 0 };
        if p.len() < 126 {
            out.push(mask | p.len() as u8);
        } else {
            out.push(mask | 126);
            out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        }
        if masked {
            out.extend_from_slice(&[0, 0, 0, 0]);
        }
        out.extend_from_slice(p);
    }
    out
}

fn run<K: MaskKeys>(
    mut conn: Connection<K>,
    inflater: &mut Inflater<&mut [u8]>,
    bytes: &[u8],
    chunk: usize,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut message: Vec<u8> = Vec::new();
    for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        let mut idle = 0;
        loop {
            let len = buf.len();
            let consumed = match conn.handle_input_inflate(Instant::ZERO, &mut buf, inflater) {
                Ok(Status::NeedMore { needed }) => {
                    assert!(needed > 0);
                    break;
                }
                Ok(Status::Closed) => break,
                Ok(Status::Blocked) => panic!("a WebSocket connection reported Blocked"),
                Ok(Status::Progress { consumed, event }) => {
                    assert!(consumed <= len);
                    if consumed == 0 {
                        assert!(event.is_some(), "a step without input gives an event");
                        idle += 1;
                        assert!(idle < 1 << 16, "no progress");
                    }
                    if let Some(Event::Data { kind, data, last }) = event {
                        message.extend_from_slice(data);
                        assert!(message.len() as u64 <= MAX_MESSAGE);
                        if last {
                            if kind == MessageKind::Text {
                                assert!(core::str::from_utf8(&message).is_ok());
                            }
                            message.clear();
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
        let mut payload = out[hlen..n].to_vec();
        if let Some(key) = header.mask {
            mqtt_ws::ws::mask::apply_mask(key, 0, &mut payload);
        }
        let code = (payload.len() >= 2).then(|| [payload[0], payload[1]]);
        last = Some((header.opcode, if header.opcode == Opcode::Close { code } else { None }));
    }
    last
}
