//! MQTT 5.0 decode and encode, mqtt-ws vs rumqttc's v5 codec and mqtt-protocol-core on the same
//! bytes, same run.
//!
//! Groups `mqtt_decode_<case>`, `mqtt_parse_<case>`, `mqtt_encode_<case>`, functions `mqtt-ws`,
//! `rumqttc` and `mqttprotocolcore`. Decode starts from the packet bytes in the reader's buffer
//! and reads every field (rumqttc and mqtt-protocol-core copy them all into their structs;
//! mqtt-ws validates at decode and walks its views when they are read); parse is the same without
//! reading the fields afterwards. Encode starts from the packet value a sender builds (rumqttc and
//! mqtt-protocol-core: their structs; mqtt-ws: the public constructors) and writes into a buffer
//! with room for it (mqtt-protocol-core: into the `Vec` it returns). Buffer set-up is not timed,
//! nor is dropping the decoded or encoded values.

mod common;

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use common::{mqtt_cases, ours, peers};

fn decode(c: &mut Criterion) {
    for (name, bytes) in mqtt_cases() {
        let mut g = c.benchmark_group(format!("mqtt_decode_{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("mqtt-ws", |b| {
            b.iter(|| black_box(ours::mqtt_decode_visit(black_box(&bytes))))
        });
        g.bench_function("rumqttc", |b| {
            b.iter_batched_ref(
                || peers::rumqttc_input(&bytes),
                |input| black_box(peers::rumqttc_decode(input)),
                BatchSize::SmallInput,
            )
        });
        let mut reader = peers::mpc_reader();
        g.bench_function("mqttprotocolcore", |b| {
            b.iter_with_large_drop(|| {
                let packet = peers::mpc_decode(&mut reader, black_box(&bytes));
                (black_box(peers::mpc_visit(&packet)), packet)
            })
        });
        g.finish();
    }
}

fn parse(c: &mut Criterion) {
    for (name, bytes) in mqtt_cases() {
        let mut g = c.benchmark_group(format!("mqtt_parse_{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("mqtt-ws", |b| b.iter(|| black_box(ours::mqtt_decode(black_box(&bytes)))));
        g.bench_function("rumqttc", |b| {
            b.iter_batched_ref(
                || peers::rumqttc_input(&bytes),
                |input| black_box(peers::rumqttc_decode(input)),
                BatchSize::SmallInput,
            )
        });
        let mut reader = peers::mpc_reader();
        g.bench_function("mqttprotocolcore", |b| {
            b.iter_with_large_drop(|| peers::mpc_decode(&mut reader, black_box(&bytes)))
        });
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    for (name, bytes) in mqtt_cases() {
        let mut g = c.benchmark_group(format!("mqtt_encode_{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        let mut out = vec![0u8; bytes.len()];
        let decoded = ours::mqtt_decode(&bytes);
        let lists = ours::lists(&decoded);
        let ours_packet = ours::built(decoded, &lists);
        g.bench_function("mqtt-ws", |b| {
            b.iter(|| black_box(ours::mqtt_encode(black_box(&ours_packet), &mut out)))
        });
        let packet = peers::rumqttc_decode(&mut peers::rumqttc_input(&bytes));
        g.bench_function("rumqttc", |b| {
            b.iter_batched_ref(
                || BytesMut::with_capacity(bytes.len()),
                |out| black_box(peers::rumqttc_encode(black_box(&packet), out)),
                BatchSize::SmallInput,
            )
        });
        let packet = peers::mpc_decode(&mut peers::mpc_reader(), &bytes);
        g.bench_function("mqttprotocolcore", |b| {
            b.iter_with_large_drop(|| peers::mpc_encode(black_box(&packet)))
        });
        g.finish();
    }
}

criterion_group!(benches, decode, parse, encode);
criterion_main!(benches);
