//! permessage-deflate: negotiation (RFC 7692 §7.1) and compressed messages received through
//! the connection, checked against a reference compressor (raw DEFLATE with sync flushes).

use std::string::String;
use std::vec::Vec;

use flate2::{Compress, Compression, FlushCompress};

use super::params::{Params, WindowParam};
use super::{Agreement, ClientConfig, Inflater, NegotiationError, ServerConfig};
use crate::Status;
use crate::time::Instant;
use crate::ws::close::CloseCode;
use crate::ws::connection::{Config, Connection, Event, MessageKind, Role};
use crate::ws::error::ProtocolError;
use crate::ws::frame::FrameError;

// ---------------------------------------------------------------------------------------------
// Negotiation.

fn params(s: &str) -> Result<Params, NegotiationError> {
    Params::parse(s).expect("permessage-deflate")
}

#[test]
fn parses_every_parameter() {
    assert_eq!(Params::parse("x-webkit-deflate-frame"), None);
    assert_eq!(Params::parse("permessage-deflate2"), None);
    let p = params("permessage-deflate").unwrap();
    assert_eq!(p.server_max_window_bits, WindowParam::Absent);
    let p = params(
        "Permessage-Deflate ; server_no_context_takeover;CLIENT_NO_CONTEXT_TAKEOVER; \
         server_max_window_bits=10; client_max_window_bits",
    )
    .unwrap();
    assert!(p.server_no_context_takeover && p.client_no_context_takeover);
    assert_eq!(p.server_max_window_bits, WindowParam::Bits(10));
    assert_eq!(p.client_max_window_bits, WindowParam::NoValue);
    // Values as quoted strings (RFC 7692 §7.1), every valid number.
    assert_eq!(
        params("permessage-deflate; client_max_window_bits=\"15\"").unwrap().client_max_window_bits,
        WindowParam::Bits(15)
    );
    for bits in 8..=15u8 {
        let p = params(&std::format!("permessage-deflate; server_max_window_bits = {bits}"));
        assert_eq!(p.unwrap().server_max_window_bits, WindowParam::Bits(bits));
    }
}

#[test]
fn rejects_every_bad_form() {
    use NegotiationError::*;
    for (offer, error) in [
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", {
            DuplicateParameter
        }),
        ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", {
            DuplicateParameter
        }),
        (
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
            DuplicateParameter,
        ),
        (
            "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
            DuplicateParameter,
        ),
        ("permessage-deflate; mux", UnknownParameter),
        ("permessage-deflate; max_window_bits=10", UnknownParameter),
        ("permessage-deflate; server_no_context_takeover=1", InvalidValue),
        ("permessage-deflate; client_no_context_takeover=\"\"", InvalidValue),
        ("permessage-deflate; server_max_window_bits", InvalidValue),
        ("permessage-deflate; server_max_window_bits=7", InvalidValue),
        ("permessage-deflate; server_max_window_bits=16", InvalidValue),
        ("permessage-deflate; server_max_window_bits=08", InvalidValue),
        ("permessage-deflate; client_max_window_bits=010", InvalidValue),
        ("permessage-deflate; client_max_window_bits=1", InvalidValue),
        ("permessage-deflate; client_max_window_bits=\"1\\0\"", InvalidValue),
        ("permessage-deflate; client_max_window_bits=\"10", InvalidValue),
        ("permessage-deflate; client_max_window_bits=a", InvalidValue),
        ("permessage-deflate; client_max_window_bits=", InvalidValue),
    ] {
        assert_eq!(params(offer), Err(error), "{offer}");
        // A server declines such an offer and takes the next acceptable one.
        let next = "permessage-deflate; client_max_window_bits";
        assert_eq!(ServerConfig::new().accept([offer]), None, "{offer}");
        assert!(ServerConfig::new().accept([offer, next]).is_some(), "{offer}");
        // A client fails its handshake on such a response.
        assert_eq!(ClientConfig::new().agreed([offer]), Err(error), "{offer}");
    }
}

fn response(a: &Agreement) -> String {
    String::from(a.response().as_str())
}

/// The offers of RFC 7692 §7.1 and §5.2, and what a full-window server answers.
#[test]
fn server_accepts_rfc_examples() {
    let server = ServerConfig::new();
    let cases = [
        ("permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10",
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
        ),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate"),
    ];
    for (offer, expect) in cases {
        let a = server.accept([offer]).unwrap();
        assert_eq!(response(&a), expect, "{offer}");
        // The client that offered it reads the same agreement from the response.
        let _ = a;
    }
    // §5.2: the first offer is declined (unknown parameter), the second accepted.
    let a = server
        .accept([
            "permessage-deflate; server_max_window_bits=10; foo",
            "permessage-deflate; server_max_window_bits=10",
        ])
        .unwrap();
    assert_eq!(a.server_max_window_bits, 10);
    assert_eq!(a.receive(Role::Server), (15, false));
    assert_eq!(a.receive(Role::Client), (10, false));
    // Other extensions are passed over.
    assert!(server.accept(["x-foo", "mux; max-channels=4"]).is_none());
}

#[test]
fn server_limits_the_client_window_to_its_memory() {
    let server = ServerConfig { receive_window_bits: 10, ..ServerConfig::new() };
    // Without client_max_window_bits the client may use 15 bits: declined (§7.1.2.2).
    assert_eq!(server.accept(["permessage-deflate"]), None);
    let a = server.accept(["permessage-deflate", "permessage-deflate; client_max_window_bits"]);
    let a = a.unwrap();
    assert_eq!(response(&a), "permessage-deflate; client_max_window_bits=10");
    assert_eq!(a.receive(Role::Server), (10, false));
    let a = server.accept(["permessage-deflate; client_max_window_bits=9"]).unwrap();
    assert_eq!(response(&a), "permessage-deflate");
    assert_eq!(a.receive(Role::Server), (9, false));
    let a = server.accept(["permessage-deflate; client_max_window_bits=12"]).unwrap();
    assert_eq!(response(&a), "permessage-deflate; client_max_window_bits=10");
    // The server's own no-context-takeover choices are in the response.
    let server = ServerConfig {
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        ..ServerConfig::new()
    };
    let a = server.accept(["permessage-deflate; client_max_window_bits"]).unwrap();
    assert_eq!(
        response(&a),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    assert_eq!(a.receive(Role::Server), (15, true));
    assert_eq!(a.receive(Role::Client), (15, true));
}

#[test]
fn client_offers_and_reads_the_agreement() {
    let client = ClientConfig::new();
    assert_eq!(client.offer().as_str(), "permessage-deflate; client_max_window_bits");
    assert_eq!(client.agreed(["x-foo"]), Ok(None));
    assert_eq!(client.agreed([]), Ok(None));
    let a = client.agreed(["x-foo", "permessage-deflate; client_max_window_bits=9"]).unwrap();
    let a = a.unwrap();
    assert_eq!((a.client_max_window_bits, a.server_max_window_bits), (9, 15));
    assert_eq!(a.receive(Role::Client), (15, false));
    let small = ClientConfig {
        receive_window_bits: 11,
        server_no_context_takeover: true,
        client_no_context_takeover: true,
    };
    assert_eq!(
        small.offer().as_str(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=11; client_max_window_bits"
    );
    let a = small
        .agreed(["permessage-deflate; server_no_context_takeover; server_max_window_bits=9"])
        .unwrap()
        .unwrap();
    assert_eq!(a.receive(Role::Client), (9, true));
    assert!(a.client_no_context_takeover);
    // Bad responses fail the handshake.
    use NegotiationError::*;
    for (r, e) in [
        ("permessage-deflate; server_no_context_takeover", ServerWindowTooLarge),
        ("permessage-deflate; server_no_context_takeover; server_max_window_bits=12", {
            ServerWindowTooLarge
        }),
        ("permessage-deflate; server_max_window_bits=11", ContextTakeoverNotAgreed),
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11; \
             client_max_window_bits",
            InvalidValue,
        ),
    ] {
        assert_eq!(small.agreed([r]), Err(e), "{r}");
    }
    assert_eq!(
        client.agreed(["permessage-deflate", "permessage-deflate"]),
        Err(NegotiationError::RepeatedResponse)
    );
}

// ---------------------------------------------------------------------------------------------
// Receiving.

/// A compressor with context takeover (or a fresh one per message without): each message's
/// raw DEFLATE output up to a sync flush, its tail removed (RFC 7692 §7.2.1).
struct Deflater {
    c: Compress,
    takeover: bool,
}

impl Deflater {
    fn new(takeover: bool) -> Self {
        Deflater { c: Compress::new(Compression::default(), false), takeover }
    }

    fn message(&mut self, data: &[u8]) -> Vec<u8> {
        if !self.takeover {
            self.c.reset();
        }
        let mut out = Vec::with_capacity(data.len() + 64);
        let start = self.c.total_in();
        loop {
            let at = (self.c.total_in() - start) as usize;
            self.c.compress_vec(&data[at..], &mut out, FlushCompress::Sync).unwrap();
            if (self.c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity() + 64);
        }
        assert_eq!(&out[out.len() - 4..], [0, 0, 0xff, 0xff]);
        out.truncate(out.len() - 4);
        out
    }
}

const KEY: [u8; 4] = [0x5a, 0x0f, 0xc3, 0x71];

/// A masked frame; `b0` is FIN, RSV and opcode.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = std::vec![b0];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// A message compressed into `frames` frames (RSV1 on the first only), a ping after the first.
fn compressed(kind: MessageKind, z: &[u8], frames: usize) -> Vec<u8> {
    let op = if kind == MessageKind::Text { 1 } else { 2 };
    let size = z.len().div_ceil(frames.max(1)).max(1);
    let chunks: Vec<&[u8]> =
        if z.is_empty() { std::vec![&[][..]] } else { z.chunks(size).collect() };
    let mut out = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let fin = if i + 1 == chunks.len() { 0x80 } else { 0 };
        let b0 = fin | if i == 0 { 0x40 | op } else { 0 };
        out.extend(frame(b0, c));
        if i == 0 && chunks.len() > 1 {
            out.extend(frame(0x89, b"ping"));
        }
    }
    out
}

#[derive(Debug, Default)]
struct Run {
    messages: Vec<(MessageKind, Vec<u8>)>,
    error: Option<ProtocolError>,
    sent: Vec<u8>,
}

/// Feeds `bytes` to a server `chunk` bytes at a time through `inflater`.
fn drive<W: AsMut<[u8]> + AsRef<[u8]>>(
    c: &mut Connection,
    inflater: &mut Inflater<W>,
    bytes: &[u8],
    chunk: usize,
) -> Run {
    let mut run = Run::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut msg: Option<(MessageKind, Vec<u8>)> = None;
    let mut spins = 0;
    'outer: for piece in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match c.handle_input_inflate(Instant::ZERO, &mut buf, inflater) {
                Ok(Status::Progress { consumed, event }) => {
                    if let Some(Event::Data { kind, data, last }) = event {
                        let m = msg.get_or_insert_with(|| (kind, Vec::new()));
                        assert_eq!(m.0, kind);
                        m.1.extend_from_slice(data);
                        if last {
                            run.messages.push(msg.take().unwrap());
                        }
                    }
                    spins = if consumed == 0 { spins + 1 } else { 0 };
                    assert!(spins < 100_000, "no progress");
                    buf.drain(..consumed);
                }
                Ok(_) => break,
                Err(e) => {
                    run.error = Some(e);
                    break 'outer;
                }
            }
        }
    }
    let mut out = [0u8; 256];
    while let Some(n) = c.poll_transmit(Instant::ZERO, &mut out).unwrap() {
        run.sent.extend_from_slice(&out[..n]);
    }
    run
}

/// Text that compresses well, with repeats further back than a small window.
fn sample(len: usize, seed: u32) -> String {
    let words = ["deflate ", "window ", "λόγος ", "frame ", "€uro ", "message ", "🦀 ", "zlib "];
    let mut s = String::new();
    let mut x = seed | 1;
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.push_str(words[(x % 8) as usize]);
        if x.is_multiple_of(7) {
            s.push_str(&std::format!("{x}"));
        }
    }
    s
}

fn round_trip(takeover: bool, window_len: usize, chunks: &[usize], frames: usize) {
    let mut z = Deflater::new(takeover);
    let texts: Vec<String> = (0..4).map(|i| sample(300 + i * 15_000, i as u32 + 7)).collect();
    let mut wire = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let kind = if i % 2 == 0 { MessageKind::Text } else { MessageKind::Binary };
        wire.extend(compressed(kind, &z.message(t.as_bytes()), frames));
        // An uncompressed message between compressed ones.
        wire.extend(frame(0x81, b"plain"));
    }
    for &chunk in chunks {
        let mut window = std::vec![0u8; window_len];
        let mut inf = Inflater::new(&mut window, !takeover).unwrap();
        let mut c = Connection::server(Config::new());
        let r = drive(&mut c, &mut inf, &wire, chunk);
        assert_eq!(r.error, None, "chunk {chunk}");
        let got: Vec<&[u8]> = r.messages.iter().map(|(_, d)| &d[..]).collect();
        let mut want: Vec<&[u8]> = Vec::new();
        for t in &texts {
            want.extend([t.as_bytes(), b"plain"]);
        }
        assert_eq!(got, want, "chunk {chunk}, takeover {takeover}");
    }
}

#[test]
fn inflates_across_any_piece_boundaries_with_context_takeover() {
    round_trip(true, 32768, &[1, 2, 3, 7, 64, 1000, 100_000], 1);
    round_trip(true, 32768, &[1, 5, 333], 9);
}

#[test]
fn inflates_without_context_takeover() {
    round_trip(false, 32768, &[1, 3, 200, 100_000], 1);
    round_trip(false, 32768, &[2, 17], 13);
}

/// A window smaller than a message: output comes in window-sized pieces as the decoder wraps.
#[test]
fn small_window_output_wraps() {
    // zlib at 9 bits: 512-byte window.
    let mut c9 = Compress::new_with_window_bits(Compression::best(), false, 9);
    let text = sample(20_000, 3);
    let mut out = Vec::with_capacity(30_000);
    c9.compress_vec(text.as_bytes(), &mut out, FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    for chunk in [1, 9, 4096, 100_000] {
        let mut window = [0u8; 512];
        let mut inf = Inflater::new(&mut window, false).unwrap();
        assert_eq!(inf.window_bits(), 9);
        let mut c = Connection::server(Config::new());
        let r = drive(&mut c, &mut inf, &compressed(MessageKind::Text, &out, 5), chunk);
        assert_eq!(r.error, None);
        assert_eq!(r.messages, [(MessageKind::Text, text.as_bytes().to_vec())]);
    }
}

/// RFC 7692 §7.2.3: the examples, byte for byte.
#[test]
fn rfc_7692_examples() {
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let cases: Vec<Vec<u8>> = std::vec![
        // §7.2.3.1: one frame, and two fragments.
        frame(0xc1, &hello),
        [frame(0x41, &hello[..3]), frame(0x80, &hello[3..])].concat(),
        // §7.2.3.3: a stored block.
        frame(0xc1, &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]),
        // §7.2.3.4: a block with BFINAL set.
        frame(0xc1, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]),
        // §7.2.3.5: two blocks in one message.
        frame(
            0xc1,
            &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00]
        ),
    ];
    for wire in cases {
        for chunk in [1, 100] {
            let mut window = [0u8; 1024];
            let mut inf = Inflater::new(&mut window, false).unwrap();
            let mut c = Connection::server(Config::new());
            let r = drive(&mut c, &mut inf, &wire, chunk);
            assert_eq!(r.error, None, "{wire:02x?}");
            assert_eq!(r.messages, [(MessageKind::Text, b"Hello".to_vec())], "{wire:02x?}");
        }
    }
    // §7.2.3.2: the second "Hello" refers to the first through the shared window.
    let wire = [frame(0xc1, &hello), frame(0xc1, &[0xf2, 0x00, 0x11, 0x00, 0x00])].concat();
    let mut window = [0u8; 1024];
    let mut inf = Inflater::new(&mut window, false).unwrap();
    let r = drive(&mut Connection::server(Config::new()), &mut inf, &wire, 3);
    assert_eq!(r.messages.len(), 2, "{:?}", r.error);
    assert!(r.messages.iter().all(|(_, m)| m == b"Hello"));
    // An empty message (§7.2.3.6): a single 0x00.
    let mut inf = Inflater::new(&mut window, false).unwrap();
    let r = drive(&mut Connection::server(Config::new()), &mut inf, &frame(0xc2, &[0]), 1);
    assert_eq!(r.messages, [(MessageKind::Binary, Vec::new())]);
}

fn close_frame(code: u16) -> Vec<u8> {
    let mut v = std::vec![0x88, 0x02];
    v.extend_from_slice(&code.to_be_bytes());
    v
}

#[test]
fn zip_bomb_is_1009_within_the_window() {
    let zeros = std::vec![0u8; 4 << 20];
    let z = Deflater::new(true).message(&zeros);
    assert!(z.len() < 8 << 10);
    for chunk in [7, 1 << 20] {
        let mut window = std::vec![0u8; 32768];
        let mut inf = Inflater::new(&mut window, false).unwrap();
        let config = Config { max_message_size: 1 << 20, ..Config::new() };
        let mut c = Connection::server(config);
        let r = drive(&mut c, &mut inf, &compressed(MessageKind::Binary, &z, 3), chunk);
        assert_eq!(r.error, Some(ProtocolError::MessageTooBig));
        assert_eq!(r.sent, close_frame(1009));
        // Inflated no further than one byte past the limit.
        assert_eq!(inf.total(), (1 << 20) + 1);
    }
    // Exactly at the limit is fine.
    let z = Deflater::new(true).message(&zeros[..1000]);
    let mut window = [0u8; 256];
    let mut inf = Inflater::new(&mut window, false).unwrap();
    let mut c = Connection::server(Config { max_message_size: 1000, ..Config::new() });
    let r = drive(&mut c, &mut inf, &compressed(MessageKind::Binary, &z, 1), 100);
    assert_eq!((r.error, r.messages.len()), (None, 1));
}

#[test]
fn corrupt_data_is_1007() {
    // BTYPE 11 is reserved (RFC 1951 §3.2.3); a stored block whose NLEN is not ~LEN.
    for bad in [&[0xff, 0xff, 0xff][..], &[0x00, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5]] {
        let mut window = [0u8; 1024];
        let mut inf = Inflater::new(&mut window, false).unwrap();
        let r = drive(&mut Connection::server(Config::new()), &mut inf, &frame(0xc2, bad), 1);
        assert_eq!(r.error, Some(ProtocolError::InvalidCompressedData));
        assert_eq!(r.error.unwrap().close_code(), CloseCode::InvalidPayload);
        assert_eq!(r.sent, close_frame(1007));
    }
    // Compressed text that is not UTF-8 after inflating: 1007 too.
    let z = Deflater::new(true).message(b"ok \xff no");
    let mut window = [0u8; 1024];
    let mut inf = Inflater::new(&mut window, false).unwrap();
    let r = drive(&mut Connection::server(Config::new()), &mut inf, &frame(0xc1, &z), 4);
    assert!(matches!(r.error, Some(ProtocolError::InvalidUtf8(_))));
    assert_eq!(r.sent, close_frame(1007));
}

#[test]
fn rsv1_rules() {
    let z = Deflater::new(true).message(b"abc");
    let cases = [
        // RSV1 on a control frame (RFC 7692 §6).
        (frame(0xc9, b""), ProtocolError::UnexpectedRsv1),
        // RSV1 on a continuation frame.
        ([frame(0x41, &z[..1]), frame(0xc0, &z[1..])].concat(), ProtocolError::UnexpectedRsv1),
        ([frame(0x02, b"a"), frame(0xc0, b"b")].concat(), ProtocolError::UnexpectedRsv1),
        // RSV2 and RSV3 stay reserved.
        (frame(0xa2, b""), ProtocolError::Frame(FrameError::ReservedBits(0x20))),
    ];
    for (wire, error) in cases {
        let mut window = [0u8; 1024];
        let mut inf = Inflater::new(&mut window, false).unwrap();
        let r = drive(&mut Connection::server(Config::new()), &mut inf, &wire, 2);
        assert_eq!(r.error, Some(error), "{wire:02x?}");
        assert_eq!(r.sent, close_frame(1002));
    }
    // Without the extension (plain handle_input), RSV1 is a reserved bit as before: 1002.
    let mut c = Connection::server(Config::new());
    let mut f = frame(0xc1, &z);
    assert_eq!(
        c.handle_input(Instant::ZERO, &mut f),
        Err(ProtocolError::Frame(FrameError::ReservedBits(0x40)))
    );
}

#[test]
fn bad_windows_are_refused() {
    for len in [0, 128, 300, 65536] {
        let mut w = std::vec![0u8; len];
        assert!(Inflater::new(&mut w, false).is_err(), "{len}");
    }
}

/// Random compressed-looking input in random pieces never panics, and every error closes.
#[test]
fn random_compressed_input_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let valid = Deflater::new(true).message(sample(3000, 1).as_bytes());
    for _ in 0..2000 {
        let mut z = valid.clone();
        for _ in 0..(next() % 4) {
            let at = (next() as usize) % z.len();
            z[at] ^= 1 << (next() % 8);
        }
        z.truncate(1 + (next() as usize) % z.len());
        let mut window = [0u8; 512];
        let mut inf = Inflater::new(&mut window, next() % 2 == 0).unwrap();
        let config = Config { max_message_size: 2000, ..Config::new() };
        let mut c = Connection::server(config);
        let frames = 1 + (next() % 5) as usize;
        let wire = compressed(MessageKind::Text, &z, frames);
        let r = drive(&mut c, &mut inf, &wire, 1 + (next() % 50) as usize);
        if let Some(e) = r.error {
            assert_eq!(&r.sent[..2], [0x88, 0x02]);
            assert_eq!(&r.sent[2..], e.close_code().as_u16().to_be_bytes());
        }
    }
}

/// Through a [`Pump`](crate::io::Pump) with a small receive buffer: a compressed text message
/// in many frames comes in decompressed, and the server echoes it plain (RFC 7692 §6: the
/// sender chooses), which the client reads back.
#[test]
fn round_trip_through_the_pump() {
    use crate::io::{DriverError, Io, Pump};
    let text = sample(50_000, 11);
    let z = Deflater::new(true).message(text.as_bytes());
    // No frame after the message: its end must come without another read.
    let wire = compressed(MessageKind::Text, &z, 40);
    let (mut rx, mut tx) = ([0u8; 300], [0u8; 70_000]);
    let mut window = std::vec![0u8; 32768].into_boxed_slice();
    let mut inflater = Inflater::new(&mut window, false).unwrap();
    let mut pump = Pump::new(Connection::server(Config::new()), &mut rx, &mut tx);
    let (mut input, mut sent, mut got) = (&wire[..], Vec::new(), Vec::new());
    let now = Instant::ZERO;
    loop {
        match pump.next::<()>(now) {
            Ok(Io::Write) => {
                sent.extend_from_slice(pump.transmit());
                let n = pump.transmit().len();
                pump.sent::<()>(n).unwrap();
            }
            Ok(Io::Flush) => pump.flushed(),
            Ok(Io::Read) => {
                let buf = pump.receive_buffer();
                let n = input.len().min(buf.len()).min(97);
                if n == 0 {
                    break;
                }
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                pump.received::<()>(n).unwrap();
            }
            Ok(Io::Input) => {
                let Some(Event::Data { kind, data, last }) =
                    pump.input_inflate::<(), _>(now, &mut inflater).unwrap()
                else {
                    continue;
                };
                assert_eq!(kind, MessageKind::Text);
                got.extend_from_slice(data);
                if last {
                    let echo = got.clone();
                    let mut f = |c: &mut Connection, out: &mut [u8]| {
                        c.encode_data(out, kind, &echo, true).map(|n| ((), n)).map_err(Into::into)
                    };
                    pump.command::<(), ()>(now, &mut f).unwrap().unwrap();
                }
            }
            Err(DriverError::Closed) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(got, text.as_bytes());
    // The client reads the plain echo.
    let mut client = Connection::client(Config::new(), || KEY);
    let mut left = &mut sent[..];
    let mut echo = Vec::new();
    while let Ok(Status::Progress { consumed, event }) = client.handle_input(now, left) {
        if let Some(Event::Data { data, .. }) = event {
            echo.extend_from_slice(data);
        }
        left = &mut left[consumed..];
    }
    assert_eq!(echo, text.as_bytes());
    assert!(left.is_empty());
}

/// The module docs' figure: the decoder state is about 11 KiB besides the window.
#[test]
fn inflater_state_size() {
    let n = core::mem::size_of::<Inflater<&mut [u8]>>();
    assert!((10 << 10..12 << 10).contains(&n), "{n} bytes");
}

/// Sending (feature `std`): messages compressed by [`Compressor`](super::Compressor), framed
/// with RSV1 on the first frame, come back through the inflater and through zlib; with and
/// without context takeover, and with a small window (runs only).
#[test]
fn compressor_round_trip() {
    use super::Compressor;
    use flate2::{Decompress, FlushDecompress};
    let offers = [
        ("permessage-deflate; client_max_window_bits", 15, false),
        ("permessage-deflate; client_max_window_bits; client_no_context_takeover", 15, true),
        ("permessage-deflate; client_max_window_bits=9", 9, false),
    ];
    for (offer, bits, no_takeover) in offers {
        let a = ServerConfig::new().accept([offer]).unwrap();
        assert_eq!(a.send(Role::Client), (bits, no_takeover));
        let mut z = Compressor::new(&a, Role::Client);
        let mut client = Connection::client(Config::new(), || KEY);
        let texts = [sample(40_000, 5), String::new(), sample(3000, 5), "x".repeat(5000)];
        let mut wire = Vec::new();
        let mut zlib = Decompress::new(false);
        for t in &texts {
            let mut c = Vec::new();
            z.compress(t.as_bytes(), &mut c).unwrap();
            // Runs only with a small window: text compresses less, a run as well.
            if bits == 15 || t.starts_with('x') {
                assert!(c.len() < t.len() / 2 || t.len() < 10, "{} of {}", c.len(), t.len());
            }
            // zlib reads the same stream, the tail put back.
            if no_takeover {
                zlib.reset(false);
            }
            let mut plain = Vec::with_capacity(t.len() + 16);
            c.extend_from_slice(&[0, 0, 0xff, 0xff]);
            zlib.decompress_vec(&c, &mut plain, FlushDecompress::Sync).unwrap();
            assert_eq!(plain, t.as_bytes());
            c.truncate(c.len() - 4);
            // Two frames: RSV1 on the first only.
            let mut out = std::vec![0u8; c.len() + 64];
            let half = c.len() / 2;
            let n = client.encode_compressed(&mut out, MessageKind::Text, &c[..half], false);
            wire.extend_from_slice(&out[..n.unwrap()]);
            assert_eq!(wire[wire.len() - n.unwrap()] & 0x40, 0x40);
            let n = client.encode_compressed(&mut out, MessageKind::Text, &c[half..], true);
            let n = n.unwrap();
            assert_eq!(out[0] & 0x40, 0);
            wire.extend_from_slice(&out[..n]);
        }
        let mut window = std::vec![0u8; 1 << bits];
        let mut inf = Inflater::new(&mut window[..], no_takeover).unwrap();
        let r = drive(&mut Connection::server(Config::new()), &mut inf, &wire, 777);
        assert_eq!(r.error, None, "{offer}");
        let got: Vec<&[u8]> = r.messages.iter().map(|(_, m)| &m[..]).collect();
        let want: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        assert_eq!(got, want, "{offer}");
    }
}

/// Negotiation through the handshake types: HTTP/1.1 (`Request::extensions`, `accept_with`,
/// `Accepted::extensions`) and extended CONNECT (the same strings in header lists).
#[test]
fn negotiates_through_both_handshakes() {
    use crate::ws::handshake::extended_connect::{ClientConnect, ServerConnect};
    use crate::ws::handshake::{Client, ClientRequest, Server};
    let now = Instant::ZERO;
    let client_config = ClientConfig { receive_window_bits: 12, ..ClientConfig::new() };
    let server_config = ServerConfig { receive_window_bits: 11, ..ServerConfig::new() };
    let offer = client_config.offer();
    let offers = [offer.as_str(), "x-other"];
    let expect = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=11";

    // HTTP/1.1.
    let mut client =
        Client::new(ClientRequest::new("h", "/").extensions(&offers), [7; 16]).unwrap();
    let mut wire = [0u8; 512];
    let n = client.poll_transmit(now, &mut wire).unwrap().unwrap();
    let mut server = Server::default();
    let Ok(Status::Progress { event: Some(req), .. }) = server.handle_input(now, &wire[..n]) else {
        panic!()
    };
    let agreed = server_config.accept(req.extensions()).unwrap();
    let response = agreed.response();
    assert_eq!(response.as_str(), expect);
    let list = [response.as_str()];
    server.accept(req.accept_with(None, &list, &[]).unwrap()).unwrap();
    let mut reply = [0u8; 512];
    let m = server.poll_transmit(now, &mut reply).unwrap().unwrap();
    let Ok(Status::Progress { event: Some(accepted), .. }) = client.handle_input(now, &reply[..m])
    else {
        panic!()
    };
    let on_client = client_config.agreed(accepted.extensions()).unwrap().unwrap();
    assert_eq!(on_client.receive(Role::Client), (12, false));
    assert_eq!(on_client.send(Role::Client), (11, false));
    assert_eq!(agreed.receive(Role::Server), (11, false));

    // Extended CONNECT (RFC 8441, RFC 9220).
    let connect = ClientConnect::new("https", "h", "/").extensions(&offers);
    let request: Vec<(&str, &str)> = connect.headers().unwrap().collect();
    let req = ServerConnect::parse(&request).unwrap();
    let agreed = server_config.accept(req.extensions()).unwrap();
    assert_eq!(agreed.response().as_str(), expect);
    let response = agreed.response();
    let list = [response.as_str()];
    let headers: Vec<(&str, &str)> = req.accept_with(None, &list).unwrap().collect();
    let accepted = connect.validate_response(&headers).unwrap();
    let on_client = client_config.agreed(accepted.extensions()).unwrap().unwrap();
    assert_eq!(on_client.receive(Role::Client), (12, false));
}
