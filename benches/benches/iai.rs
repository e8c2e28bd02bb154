//! Instruction counts (callgrind) for the same cases as the criterion benches: exact and
//! repeatable on a noisy machine. Set-up functions run outside the measured call.
//!
//! Every measured function hands its input (and, for decode, the decoded value) back to the
//! harness, so allocating and freeing buffers and packet values is outside the measurement for
//! both sides alike; only what a decoder or encoder allocates itself is counted.
//!
//! Names: `<case>_<side>` with side `ours` (mqtt-ws) or the peer's name; `scripts/bench` pairs
//! them into ratios.

mod common;

use std::hint::black_box;
use std::io::Cursor;

use bytes::BytesMut;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use mqtt_protocol_core::mqtt::connection::PacketBuilder;
use mqtt_ws::mqtt::packet::Packet;
use rumqttc::v5::mqttbytes::v5::Packet as RumqttcPacket;
use tungstenite::protocol::WebSocket;

use common::peers::MpcPacket;
use common::{ours, peers};
use mqtt_ws::ws::handshake::Client;
use mqtt_ws_benches::{
    BROWSER_UPGRADE_REQUEST, CopyBuffers, UPGRADE_RESPONSE, masked_text_message, payload,
};

fn packet_bytes(case: &str) -> Vec<u8> {
    common::mqtt_cases().into_iter().find(|(n, _)| *n == case).expect("known case").1
}

// ---- WebSocket -------------------------------------------------------------------------------

/// A `#[library_benchmark]` with one bench per WebSocket read case (`common::ws_cases`), each
/// set up by `$setup(case name)`: the case list is written once for every side.
macro_rules! ws_cases {
    ($setup:ident; $($bench:tt)*) => {
        #[library_benchmark]
        #[bench::text_16(args = ("text_16"), setup = $setup)]
        #[bench::text_1k(args = ("text_1k"), setup = $setup)]
        #[bench::text_64k(args = ("text_64k"), setup = $setup)]
        #[bench::binary_16(args = ("binary_16"), setup = $setup)]
        #[bench::binary_1k(args = ("binary_1k"), setup = $setup)]
        #[bench::binary_64k(args = ("binary_64k"), setup = $setup)]
        #[bench::text_16_x64(args = ("text_16_x64"), setup = $setup)]
        $($bench)*
    };
}

/// The case's frames, in the steady state the peers' readers are measured in: the same frames
/// were read once before, so what a program does on its first use of a routine (such as a
/// UTF-8 check choosing its CPU features) is not counted.
fn ws_frames(case: &str) -> (Vec<u8>, usize) {
    let case = common::ws_case(case);
    ours::ws_read(&mut case.bytes.clone(), case.messages);
    (case.bytes, case.messages)
}

fn ws_frame(len: usize) -> Vec<u8> {
    masked_text_message(len)
}

fn ws_tungstenite(case: &str) -> (WebSocket<Cursor<Vec<u8>>>, usize) {
    let case = common::ws_case(case);
    (peers::tungstenite_server(&case.bytes, case.messages), case.messages)
}

ws_cases! { ws_frames;
    fn ws_read_ours((mut frames, messages): (Vec<u8>, usize)) -> (usize, Vec<u8>) {
        (black_box(ours::ws_read(&mut frames, messages)), frames)
    }
}

ws_cases! { ws_tungstenite;
    fn ws_read_tungstenite(
        (mut ws, messages): (WebSocket<Cursor<Vec<u8>>>, usize),
    ) -> (usize, WebSocket<Cursor<Vec<u8>>>) {
        (black_box(peers::tungstenite_read(&mut ws, messages)), ws)
    }
}

/// A fastwebsockets reader of `case`, in its steady state, and the case's message count.
fn ws_fastwebsockets(case: &str) -> (peers::FastWebSocket, usize) {
    let case = common::ws_case(case);
    (peers::fastwebsockets_server(&case.bytes, case.messages), case.messages)
}

ws_cases! { ws_fastwebsockets;
    fn ws_read_fastwebsockets(
        (mut ws, messages): (peers::FastWebSocket, usize),
    ) -> (usize, peers::FastWebSocket) {
        (black_box(peers::fastwebsockets_read(&mut ws, messages)), ws)
    }
}

fn copy_buffers(len: usize) -> CopyBuffers {
    CopyBuffers::new(len, &payload(len))
}

#[library_benchmark]
#[bench::size_64k(args = (65536), setup = ws_frame)]
fn ws_unmask_ours(mut frame: Vec<u8>) -> Vec<u8> {
    ours::unmask(&mut frame[..65536]);
    frame
}

#[library_benchmark]
#[bench::size_64k(args = (65536), setup = copy_buffers)]
fn ws_unmask_copy_from_slice(mut bufs: CopyBuffers) -> CopyBuffers {
    let (src, dst) = bufs.split();
    dst.copy_from_slice(src);
    bufs
}

/// The answer buffer of a server that has answered a handshake before: what a program does
/// once, on its first use of a routine (such as a byte search choosing its CPU features), is
/// not counted, as a long-running server does not pay it per connection.
fn answer_buffer_ours() -> Vec<u8> {
    let mut out = vec![0; 1024];
    ours::ws_handshake_request(BROWSER_UPGRADE_REQUEST, &mut out);
    out
}

/// [`answer_buffer_ours`] for tungstenite.
fn answer_buffer_tungstenite() -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    peers::tungstenite_handshake_request(BROWSER_UPGRADE_REQUEST, &mut out);
    out
}

/// A request parser's first use done, as in [`answer_buffer_ours`].
fn parsed_once() {
    ours::ws_handshake_parse(BROWSER_UPGRADE_REQUEST);
}

/// The client's handshake ready to read the answer, after an earlier one read its answer, as in
/// [`answer_buffer_ours`].
fn client_after_one() -> Client<'static> {
    ours::ws_handshake_response(&mut ours::ws_handshake_client(), UPGRADE_RESPONSE);
    ours::ws_handshake_client()
}

#[library_benchmark]
#[bench::browser(setup = answer_buffer_ours)]
fn ws_handshake_server_ours(mut out: Vec<u8>) -> Vec<u8> {
    black_box(ours::ws_handshake_request(black_box(BROWSER_UPGRADE_REQUEST), &mut out));
    out
}

#[library_benchmark]
#[bench::browser(setup = answer_buffer_tungstenite)]
fn ws_handshake_server_tungstenite(mut out: Vec<u8>) -> Vec<u8> {
    out.clear();
    black_box(peers::tungstenite_handshake_request(black_box(BROWSER_UPGRADE_REQUEST), &mut out));
    out
}

#[library_benchmark]
#[bench::browser(setup = parsed_once)]
fn ws_handshake_parse_ours(_: ()) -> usize {
    black_box(ours::ws_handshake_parse(black_box(BROWSER_UPGRADE_REQUEST)))
}

#[library_benchmark]
#[bench::mqtt(setup = client_after_one)]
fn ws_handshake_client_ours(mut client: Client<'static>) -> Client<'static> {
    black_box(ours::ws_handshake_response(&mut client, black_box(UPGRADE_RESPONSE)));
    client
}

library_benchmark_group!(
    name = ws;
    benchmarks =
        ws_read_ours,
        ws_read_tungstenite,
        ws_read_fastwebsockets,
        ws_unmask_ours,
        ws_unmask_copy_from_slice,
        ws_handshake_server_ours,
        ws_handshake_server_tungstenite,
        ws_handshake_parse_ours,
        ws_handshake_client_ours
);

// ---- MQTT ------------------------------------------------------------------------------------

/// A `#[library_benchmark]` with one bench per MQTT case (`common::mqtt_cases`), each set up by
/// `$setup(case name)`: the case list is written once for every side.
macro_rules! mqtt_cases {
    ($setup:ident; $($bench:tt)*) => {
        #[library_benchmark]
        #[bench::publish_64(args = ("publish_64"), setup = $setup)]
        #[bench::publish_1k(args = ("publish_1k"), setup = $setup)]
        #[bench::connect_will(args = ("connect_will"), setup = $setup)]
        #[bench::subscribe_10(args = ("subscribe_10"), setup = $setup)]
        #[bench::unsubscribe_10(args = ("unsubscribe_10"), setup = $setup)]
        #[bench::suback_10(args = ("suback_10"), setup = $setup)]
        #[bench::puback_reason(args = ("puback_reason"), setup = $setup)]
        $($bench)*
    };
}

fn rumqttc_input(case: &str) -> BytesMut {
    peers::rumqttc_input(&packet_bytes(case))
}

fn rumqttc_packet(case: &str) -> (RumqttcPacket, BytesMut) {
    let bytes = packet_bytes(case);
    (peers::rumqttc_decode(&mut peers::rumqttc_input(&bytes)), BytesMut::with_capacity(bytes.len()))
}

mqtt_cases! { rumqttc_input;
    fn mqtt_decode_rumqttc(mut input: BytesMut) -> (RumqttcPacket, BytesMut) {
        (black_box(peers::rumqttc_decode(&mut input)), input)
    }
}

mqtt_cases! { rumqttc_packet;
    fn mqtt_encode_rumqttc(
        (packet, mut out): (RumqttcPacket, BytesMut),
    ) -> (RumqttcPacket, BytesMut) {
        black_box(peers::rumqttc_encode(&packet, &mut out));
        (packet, out)
    }
}

mqtt_cases! { packet_bytes;
    fn mqtt_decode_ours(bytes: Vec<u8>) -> (usize, Vec<u8>) {
        (black_box(ours::mqtt_decode_visit(&bytes)), bytes)
    }
}

mqtt_cases! { packet_bytes;
    fn mqtt_parse_ours(bytes: Vec<u8>) -> Vec<u8> {
        black_box(ours::mqtt_decode(&bytes));
        bytes
    }
}

mqtt_cases! { rumqttc_input;
    fn mqtt_parse_rumqttc(mut input: BytesMut) -> (RumqttcPacket, BytesMut) {
        (black_box(peers::rumqttc_decode(&mut input)), input)
    }
}

/// mqtt-protocol-core's reader and the bytes of `case`.
fn mpc_input(case: &str) -> (PacketBuilder, Vec<u8>) {
    (peers::mpc_reader(), packet_bytes(case))
}

/// The packet value of `case` as mqtt-protocol-core holds it, to encode.
fn mpc_packet(case: &str) -> MpcPacket {
    peers::mpc_decode(&mut peers::mpc_reader(), &packet_bytes(case))
}

mqtt_cases! { mpc_input;
    fn mqtt_decode_mqttprotocolcore(
        (mut reader, bytes): (PacketBuilder, Vec<u8>),
    ) -> (usize, MpcPacket, PacketBuilder, Vec<u8>) {
        let packet = peers::mpc_decode(&mut reader, &bytes);
        (black_box(peers::mpc_visit(&packet)), packet, reader, bytes)
    }
}

mqtt_cases! { mpc_input;
    fn mqtt_parse_mqttprotocolcore(
        (mut reader, bytes): (PacketBuilder, Vec<u8>),
    ) -> (MpcPacket, PacketBuilder, Vec<u8>) {
        (black_box(peers::mpc_decode(&mut reader, &bytes)), reader, bytes)
    }
}

mqtt_cases! { mpc_packet;
    fn mqtt_encode_mqttprotocolcore(packet: MpcPacket) -> (Vec<u8>, MpcPacket) {
        (black_box(peers::mpc_encode(&packet)), packet)
    }
}

fn ours_encode_input(case: &str) -> (Packet<'static>, Vec<u8>) {
    // The packet value borrows its bytes; leaking them (in set-up, once per run) lets it outlive
    // the set-up function.
    let bytes: &'static [u8] = Vec::leak(packet_bytes(case));
    let decoded = ours::mqtt_decode(bytes);
    let lists = Box::leak(Box::new(ours::lists(&decoded)));
    (ours::built(decoded, lists), vec![0u8; bytes.len()])
}

mqtt_cases! { ours_encode_input;
    fn mqtt_encode_ours((packet, mut out): (Packet<'static>, Vec<u8>)) -> Vec<u8> {
        black_box(ours::mqtt_encode(&packet, &mut out));
        out
    }
}

library_benchmark_group!(
    name = mqtt;
    benchmarks =
        mqtt_decode_ours,
        mqtt_decode_rumqttc,
        mqtt_decode_mqttprotocolcore,
        mqtt_parse_ours,
        mqtt_parse_rumqttc,
        mqtt_parse_mqttprotocolcore,
        mqtt_encode_ours,
        mqtt_encode_rumqttc,
        mqtt_encode_mqttprotocolcore
);

main!(library_benchmark_groups = ws, mqtt);
