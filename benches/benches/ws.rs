//! WebSocket read path (server role reading masked client frames, text and binary, one message
//! per read and many), mqtt-ws vs tungstenite and fastwebsockets reading the same bytes from
//! memory, and unmasking vs a plain copy of the same size.
//!
//! mqtt-ws works in the caller's receive buffer (where the transport put the bytes);
//! tungstenite and fastwebsockets read from an in-memory `Cursor` into their own buffers, as they
//! read from a socket (fastwebsockets' reads are futures, polled once with a no-op waker). Set-up
//! (a fresh copy of the masked frame, a fresh peer socket) is not timed.
//!
//! The opening handshake: the server side from a browser's request to the written `101` answer
//! (against tungstenite's `try_parse`, `create_response`, `write_response`), and the client's
//! check of that answer.

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use common::{ours, peers, ws_cases};
use mqtt_ws_benches::{
    BROWSER_UPGRADE_REQUEST, CopyBuffers, UPGRADE_RESPONSE, masked_text_message, payload,
};

fn read_path(c: &mut Criterion) {
    for case in ws_cases() {
        let mut g = c.benchmark_group(format!("ws_read_{}", case.name));
        g.throughput(Throughput::Bytes(case.data_len as u64));
        g.bench_function("mqtt-ws", |b| {
            b.iter_batched_ref(
                || case.bytes.clone(),
                |buf| black_box(ours::ws_read(buf, case.messages)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("tungstenite", |b| {
            b.iter_batched_ref(
                || peers::tungstenite_server(&case.bytes, case.messages),
                |ws| black_box(peers::tungstenite_read(ws, case.messages)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("fastwebsockets", |b| {
            b.iter_batched_ref(
                || peers::fastwebsockets_server(&case.bytes, case.messages),
                |ws| black_box(peers::fastwebsockets_read(ws, case.messages)),
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

fn handshake(c: &mut Criterion) {
    let mut g = c.benchmark_group("ws_handshake_server_browser");
    let mut out = vec![0u8; 1024];
    g.bench_function("mqtt-ws", |b| {
        b.iter(|| {
            black_box(ours::ws_handshake_request(black_box(BROWSER_UPGRADE_REQUEST), &mut out))
        })
    });
    g.bench_function("tungstenite", |b| {
        b.iter_batched_ref(
            || Vec::with_capacity(1024),
            |out| black_box(peers::tungstenite_handshake_request(BROWSER_UPGRADE_REQUEST, out)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let mut g = c.benchmark_group("ws_handshake_client_mqtt");
    g.bench_function("mqtt-ws", |b| {
        b.iter_batched_ref(
            ours::ws_handshake_client,
            |client| black_box(ours::ws_handshake_response(client, UPGRADE_RESPONSE)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, read_path, unmask_vs_copy, handshake);
criterion_main!(benches);
