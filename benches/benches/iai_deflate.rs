//! Instruction counts (callgrind) for the permessage-deflate read path, the cases of
//! `benches/ws_deflate.rs`: mqtt-ws's server connection reading one compressed message against
//! zlib-rs inflating the same bytes. Apart from `iai.rs` because it needs the `deflate` feature,
//! which the other benches measure without. Names as in `iai.rs`.

mod common;

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};

use common::{ours, peers};

type Inflater = mqtt_ws::ws::deflate::Inflater<Box<[u8]>>;

fn deflate_case(case: &str) -> (Vec<u8>, u8) {
    let (message, bits) = match case {
        "json_1k" => (mqtt_ws_benches::telemetry_json(1024), 15),
        "json_64k" => (mqtt_ws_benches::telemetry_json(65536), 15),
        "text_64k" => (mqtt_ws_benches::text(65536), 15),
        "json_64k_window_1k" => (mqtt_ws_benches::telemetry_json(65536), 10),
        _ => unreachable!("unknown case"),
    };
    (mqtt_ws_benches::deflated_frame(0x1, &message, bits), bits)
}

fn deflate_ours(case: &str) -> (Vec<u8>, Inflater) {
    let (frame, bits) = deflate_case(case);
    let inflater = Inflater::new(vec![0u8; 1 << bits].into_boxed_slice(), true).unwrap();
    (frame, inflater)
}

fn deflate_zlib(case: &str) -> (Vec<u8>, flate2::Decompress, Vec<u8>) {
    let (frame, bits) = deflate_case(case);
    let header = match frame[1] & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    let key = &frame[header..header + 4];
    let mut payload: Vec<u8> =
        frame[header + 4..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    payload.extend_from_slice(&[0, 0, 0xff, 0xff]);
    (payload, flate2::Decompress::new_with_window_bits(false, bits), Vec::with_capacity(70_000))
}

#[library_benchmark]
#[bench::json_1k(args = ("json_1k"), setup = deflate_ours)]
#[bench::json_64k(args = ("json_64k"), setup = deflate_ours)]
#[bench::text_64k(args = ("text_64k"), setup = deflate_ours)]
#[bench::json_64k_window_1k(args = ("json_64k_window_1k"), setup = deflate_ours)]
fn ws_read_deflate_ours((mut frame, mut inflater): (Vec<u8>, Inflater)) -> (Vec<u8>, Inflater) {
    black_box(ours::ws_read_inflate(&mut frame, &mut inflater));
    (frame, inflater)
}

#[library_benchmark]
#[bench::json_1k(args = ("json_1k"), setup = deflate_zlib)]
#[bench::json_64k(args = ("json_64k"), setup = deflate_zlib)]
#[bench::text_64k(args = ("text_64k"), setup = deflate_zlib)]
#[bench::json_64k_window_1k(args = ("json_64k_window_1k"), setup = deflate_zlib)]
fn ws_read_deflate_zlib(
    (compressed, mut z, mut out): (Vec<u8>, flate2::Decompress, Vec<u8>),
) -> (Vec<u8>, flate2::Decompress, Vec<u8>) {
    black_box(peers::zlib_inflate(&mut z, &compressed, &mut out));
    (compressed, z, out)
}

library_benchmark_group!(
    name = ws_deflate;
    benchmarks = ws_read_deflate_ours, ws_read_deflate_zlib
);

main!(library_benchmark_groups = ws_deflate);
