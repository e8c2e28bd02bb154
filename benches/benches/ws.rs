//! WebSocket read path (server role reading masked client text frames), mqtt-ws vs tungstenite
//! reading the same bytes from memory, and unmasking vs a plain copy of the same size.
//!
//! mqtt-ws works in the caller's receive buffer (where the transport put the bytes);
//! tungstenite reads from an in-memory `Cursor` into its own buffer, as it reads from a socket.
//! Set-up (a fresh copy of the masked frame, a fresh tungstenite socket) is not timed.

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use common::{WS_CASES, ours, peers};
use mqtt_ws_benches::{CopyBuffers, masked_text_message, payload};

fn read_path(c: &mut Criterion) {
    for (name, len) in WS_CASES {
        let frame = masked_text_message(len);
        let mut g = c.benchmark_group(format!("ws_read_{name}"));
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function("mqtt-ws", |b| {
            b.iter_batched_ref(
                || frame.clone(),
                |buf| black_box(ours::ws_read_text(buf)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("tungstenite", |b| {
            b.iter_batched_ref(
                || peers::tungstenite_server(&frame),
                |ws| black_box(peers::tungstenite_read(ws)),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

fn unmask_vs_copy(c: &mut Criterion) {
    const LEN: usize = 65536;
    let mut g = c.benchmark_group("ws_unmask_size_64k");
    g.throughput(Throughput::Bytes(LEN as u64));
    let mut buf = masked_text_message(LEN);
    g.bench_function("mqtt-ws", |b| b.iter(|| ours::unmask(black_box(&mut buf[..LEN]))));
    let mut copy = CopyBuffers::new(LEN, &payload(LEN));
    g.bench_function("copy_from_slice", |b| {
        b.iter(|| {
            let (src, dst) = copy.split();
            dst.copy_from_slice(black_box(src));
            black_box(dst);
        })
    });
    g.finish();
}

criterion_group!(benches, read_path, unmask_vs_copy);
criterion_main!(benches);
