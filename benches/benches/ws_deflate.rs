//! The read path of permessage-deflate messages (RFC 7692): mqtt-ws's server connection reading
//! one compressed client message from the caller's receive buffer (header, unmask, inflate
//! through the LZ77 window, UTF-8 of text, size limit) against zlib-rs (flate2) inflating the
//! same compressed bytes into a buffer that holds the whole message (decompression alone: the
//! floor under any WebSocket stack). Throughput is counted in decompressed bytes.
//!
//! Inputs, compressed by zlib-rs at its default level, each message on its own (as with
//! `client_no_context_takeover`): a 1 KiB and a 64 KiB JSON telemetry document (text), and a
//! 64 KiB UTF-8 text. mqtt-ws inflates with a 32 KiB window (15 bits), and with the 1 KiB window
//! (10 bits) the example broker asks browsers for.

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_ws::ws::deflate::Inflater;

use common::{ours, peers};
use mqtt_ws_benches::{deflated_frame, telemetry_json, text};

/// The compressed payload of `frame` (a masked frame from [`deflated_frame`]) with the tail
/// restored, for the zlib-rs side.
fn compressed_payload(frame: &[u8]) -> Vec<u8> {
    let (header, key) = match frame[1] & 0x7f {
        126 => (4, &frame[4..8]),
        127 => (10, &frame[10..14]),
        _ => (2, &frame[2..6]),
    };
    let mut payload: Vec<u8> =
        frame[header + 4..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    payload.extend_from_slice(&[0, 0, 0xff, 0xff]);
    payload
}

fn read_path(c: &mut Criterion) {
    let cases: [(&str, Vec<u8>, u8); 4] = [
        ("json_1k", telemetry_json(1024), 15),
        ("json_64k", telemetry_json(65536), 15),
        ("text_64k", text(65536), 15),
        ("json_64k_window_1k", telemetry_json(65536), 10),
    ];
    for (name, message, bits) in cases {
        let frame = deflated_frame(0x1, &message, bits);
        let mut g = c.benchmark_group(format!("ws_read_deflate_{name}"));
        g.throughput(Throughput::Bytes(message.len() as u64));
        let mut inflater = Inflater::new(vec![0u8; 1 << bits].into_boxed_slice(), true).unwrap();
        g.bench_function("mqtt-ws", |b| {
            b.iter_batched_ref(
                || frame.clone(),
                |buf| black_box(ours::ws_read_inflate(buf, &mut inflater)),
                BatchSize::SmallInput,
            )
        });
        let compressed = compressed_payload(&frame);
        let mut z = flate2::Decompress::new_with_window_bits(false, bits);
        let mut out = Vec::with_capacity(message.len() + 64);
        assert_eq!(peers::zlib_inflate(&mut z, &compressed, &mut out), message.len());
        assert_eq!(ours::ws_read_inflate(&mut frame.clone(), &mut inflater), message.len());
        g.bench_function("zlib", |b| {
            b.iter(|| black_box(peers::zlib_inflate(&mut z, black_box(&compressed), &mut out)))
        });
        g.finish();
        println!(
            "{name}: {} bytes compressed to {} ({:.1}x); mqtt-ws holds {} bytes of decoder state \
             and a {} byte window",
            message.len(),
            compressed.len() - 4,
            message.len() as f64 / (compressed.len() - 4) as f64,
            std::mem::size_of::<Inflater<Box<[u8]>>>(),
            1usize << bits
        );
    }
}

criterion_group!(benches, read_path);
criterion_main!(benches);
