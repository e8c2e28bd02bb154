//! Proof that the benchmarked paths of mqtt-ws allocate nothing: a counting global allocator
//! watches the exact calls the benchmarks time. The peers are run through the same counter to
//! show it counts
//! (rumqttc allocates for every decoded packet).

#[path = "../benches/common/mod.rs"]
mod common;

use mqtt_ws_benches::{CountingAllocator, allocations, masked_text_message};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn mqtt_decode_and_encode_allocate_nothing() {
    for (name, bytes) in common::mqtt_cases() {
        let mut out = vec![0u8; bytes.len()];
        let (n, count) = allocations(|| {
            let packet = common::ours::mqtt_decode(&bytes);
            let visited = common::ours::mqtt_decode_visit(&bytes);
            (common::ours::mqtt_encode(&packet, &mut out), visited)
        });
        assert_eq!(count, 0, "{name}: mqtt-ws allocated");
        assert_eq!(n.0, bytes.len());
        assert_eq!(out, bytes, "{name}: re-encodes to the same bytes");
        assert!(n.1 > 0);

        // The encode benchmark's input: the packet as a sender builds it.
        let decoded = common::ours::mqtt_decode(&bytes);
        let subscriptions = common::ours::subscriptions(&decoded);
        let built = common::ours::built(decoded, &subscriptions);
        let (n, count) = allocations(|| common::ours::mqtt_encode(&built, &mut out));
        assert_eq!(count, 0, "{name}: mqtt-ws allocated");
        assert_eq!(&out[..n], &bytes[..], "{name}: the built packet encodes to the same bytes");

        let mut input = common::peers::rumqttc_input(&bytes);
        let (_, count) = allocations(|| common::peers::rumqttc_decode(&mut input));
        assert!(count > 0, "{name}: the counter sees rumqttc's allocations");
    }
}

#[test]
fn ws_read_path_allocates_nothing() {
    for (name, len) in common::WS_CASES {
        let mut frame = masked_text_message(len);
        let (n, count) = allocations(|| common::ours::ws_read_text(&mut frame));
        assert_eq!(count, 0, "{name}: mqtt-ws allocated");
        assert_eq!(n, len);
        let (_, count) = allocations(|| common::ours::unmask(&mut frame));
        assert_eq!(count, 0);

        let mut ws = common::peers::tungstenite_server(&masked_text_message(len));
        let (n, _) = allocations(|| common::peers::tungstenite_read(&mut ws));
        assert_eq!(n, len, "{name}: tungstenite reads the same text");
    }
}
