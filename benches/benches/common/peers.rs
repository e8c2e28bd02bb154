//! The peers' side: rumqttc's and mqtt-protocol-core's MQTT 5 codecs, tungstenite's and
//! fastwebsockets' WebSocket readers, used as their users use them.

use std::io::Cursor;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use mqtt_protocol_core::mqtt::common::Cursor as MpcCursor;
use mqtt_protocol_core::mqtt::connection::{PacketBuildResult, PacketBuilder, PacketData};
use mqtt_protocol_core::mqtt::packet::{GenericPacketTrait, Properties, Property, v5_0};
use mqtt_protocol_core::mqtt::result_code::MqttError;
use rumqttc::v5::mqttbytes::v5::Packet;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

/// mqtt-protocol-core's packet value (any version, any type).
pub use mqtt_protocol_core::mqtt::packet::Packet as MpcPacket;

/// rumqttc's input: the packet bytes in the `BytesMut` its reader fills from the socket.
pub fn rumqttc_input(bytes: &[u8]) -> BytesMut {
    BytesMut::from(bytes)
}

/// Decodes one packet with rumqttc.
pub fn rumqttc_decode(input: &mut BytesMut) -> Packet {
    Packet::read(input, None).expect("rumqttc decodes the benchmark packet")
}

/// Encodes one packet with rumqttc into `out` (which has room for it) and returns its size.
pub fn rumqttc_encode(packet: &Packet, out: &mut BytesMut) -> usize {
    packet.write(out, None).expect("rumqttc encodes the benchmark packet")
}

/// mqtt-protocol-core's reader: the `PacketBuilder` its connection feeds received bytes to,
/// reused from packet to packet as a connection does.
pub fn mpc_reader() -> PacketBuilder {
    PacketBuilder::new()
}

/// Decodes one MQTT 5.0 packet with mqtt-protocol-core the way its connection does on receipt:
/// the `PacketBuilder` reads the fixed header and copies the rest into a buffer of its own (an
/// `Arc<[u8]>` for PUBLISH, which the payload then shares), and the packet type's `parse` copies
/// every field into the packet value, checking UTF-8 and the properties allowed.
pub fn mpc_decode(reader: &mut PacketBuilder, bytes: &[u8]) -> MpcPacket {
    mpc_try_decode(reader, bytes).expect("mqtt-protocol-core decodes the benchmark packet")
}

/// [`mpc_decode`] with mqtt-protocol-core's error, for a malformed packet.
pub fn mpc_try_decode(reader: &mut PacketBuilder, bytes: &[u8]) -> Result<MpcPacket, MqttError> {
    let raw = match reader.feed(&mut MpcCursor::new(bytes)) {
        PacketBuildResult::Complete(raw) => raw,
        PacketBuildResult::Error(e) => return Err(e),
        PacketBuildResult::Incomplete => panic!("not a whole packet"),
    };
    match (raw.packet_type(), &raw.data) {
        (3, PacketData::Publish(body)) => {
            v5_0::Publish::parse(raw.flags(), body.clone()).map(|(p, _)| MpcPacket::V5_0Publish(p))
        }
        (1, _) => raw.parse_exact(v5_0::Connect::parse).map(MpcPacket::V5_0Connect),
        (4, _) => raw.parse_exact(v5_0::Puback::parse).map(MpcPacket::V5_0Puback),
        (8, _) => raw.parse_exact(v5_0::Subscribe::parse).map(MpcPacket::V5_0Subscribe),
        (9, _) => raw.parse_exact(v5_0::Suback::parse).map(MpcPacket::V5_0Suback),
        (10, _) => raw.parse_exact(v5_0::Unsubscribe::parse).map(MpcPacket::V5_0Unsubscribe),
        (other, _) => panic!("no benchmark case of packet type {other}"),
    }
}

/// Reads every field of a packet [`mpc_decode`] returned through its accessors (the decoded
/// values are copies already: this is the small share of "decode, every field read" that comes
/// after the parse). SUBACK's `reason_codes` builds a `Vec` of its codes. Returns a value
/// depending on every field.
pub fn mpc_visit(packet: &MpcPacket) -> usize {
    match packet {
        MpcPacket::V5_0Publish(p) => {
            p.topic_name().len()
                + p.payload().len()
                + mpc_visit_props(&p.props)
                + p.qos() as usize
                + p.packet_id().map_or(0, usize::from)
        }
        MpcPacket::V5_0Connect(c) => {
            c.client_id().len()
                + usize::from(c.keep_alive())
                + usize::from(c.clean_start())
                + mpc_visit_props(&c.props)
                + c.will_qos() as usize
                + usize::from(c.will_retain())
                + c.will_topic().map_or(0, str::len)
                + c.will_payload().map_or(0, <[u8]>::len)
                + mpc_visit_props(&c.will_props)
                + c.user_name().map_or(0, str::len)
                + c.password().map_or(0, <[u8]>::len)
        }
        MpcPacket::V5_0Subscribe(s) => {
            usize::from(s.packet_id())
                + mpc_visit_props(&s.props)
                + s.entries()
                    .iter()
                    .map(|e| e.topic_filter().len() + usize::from(e.sub_opts().to_buffer()[0]))
                    .sum::<usize>()
        }
        MpcPacket::V5_0Unsubscribe(u) => {
            usize::from(u.packet_id())
                + mpc_visit_props(&u.props)
                + u.entries().iter().map(|f| f.len()).sum::<usize>()
        }
        MpcPacket::V5_0Suback(s) => {
            usize::from(s.packet_id())
                + mpc_visit_props(&s.props)
                + s.reason_codes().iter().map(|&c| c as usize).sum::<usize>()
        }
        MpcPacket::V5_0Puback(a) => {
            usize::from(a.packet_id())
                + a.reason_code().map_or(0, |c| c as usize)
                + a.props.as_ref().map_or(0, mpc_visit_props)
        }
        other => panic!("no visitor for {:?}", other.packet_type()),
    }
}

/// Reads every property of a list (mqtt-protocol-core keeps them decoded in a `Vec`).
fn mpc_visit_props(props: &Properties) -> usize {
    props
        .iter()
        .map(|p| match p {
            Property::ContentType(v) => v.val().len(),
            Property::ResponseTopic(v) => v.val().len(),
            Property::ReasonString(v) => v.val().len(),
            Property::UserProperty(v) => v.key().len() + v.val().len(),
            Property::MessageExpiryInterval(v) => v.val() as usize,
            Property::SessionExpiryInterval(v) => v.val() as usize,
            Property::WillDelayInterval(v) => v.val() as usize,
            Property::SubscriptionIdentifier(v) => v.val() as usize,
            Property::MaximumPacketSize(v) => v.val() as usize,
            Property::ReceiveMaximum(v) => usize::from(v.val()),
            Property::TopicAliasMaximum(v) => usize::from(v.val()),
            Property::PayloadFormatIndicator(v) => usize::from(v.val()),
            _ => 1,
        })
        .sum()
}

/// Encodes a packet with mqtt-protocol-core into the `Vec` its `to_continuous_buffer` returns
/// (its API has no encoder into a caller's buffer); the caller's I/O writes that `Vec`.
pub fn mpc_encode(packet: &MpcPacket) -> Vec<u8> {
    packet.to_continuous_buffer()
}

/// A tungstenite server-side socket that reads `frames` (masked client frames, one message
/// each) from memory, in its steady state: the same frames were read once before, so buffer
/// set-up on first use is not counted in the next reads.
pub fn tungstenite_server(frames: &[u8], messages: usize) -> WebSocket<Cursor<Vec<u8>>> {
    let config =
        WebSocketConfig::default().max_message_size(Some(1 << 20)).max_frame_size(Some(1 << 20));
    let twice = [frames, frames].concat();
    let mut ws = WebSocket::from_raw_socket(Cursor::new(twice), Role::Server, Some(config));
    tungstenite_read(&mut ws, messages);
    ws
}

/// Reads `messages` messages (parse, unmask, UTF-8 check of text) with tungstenite; returns
/// their data length.
pub fn tungstenite_read(ws: &mut WebSocket<Cursor<Vec<u8>>>, messages: usize) -> usize {
    (0..messages)
        .map(|_| match ws.read().expect("tungstenite reads the benchmark message") {
            tungstenite::Message::Text(t) => t.len(),
            tungstenite::Message::Binary(b) => b.len(),
            other => panic!("expected a data message, got {other:?}"),
        })
        .sum()
}

/// fastwebsockets' server-side reader over an in-memory stream, through `FragmentCollector` (which
/// hands over whole messages and checks the UTF-8 of text sent in fragments too).
pub type FastWebSocket = fastwebsockets::FragmentCollector<Cursor<Vec<u8>>>;

/// A fastwebsockets server-side socket that reads `frames` (masked client frames, one message
/// each) from memory, in its steady state as [`tungstenite_server`]: the same frames were read
/// once before. Automatic close and pong answers stay on (its defaults; the cases hold no control
/// frame), the message size limit is 1 MiB as for tungstenite.
pub fn fastwebsockets_server(frames: &[u8], messages: usize) -> FastWebSocket {
    let twice = [frames, frames].concat();
    let mut ws = fastwebsockets::WebSocket::after_handshake(
        Cursor::new(twice),
        fastwebsockets::Role::Server,
    );
    ws.set_max_message_size(1 << 20);
    let mut ws = fastwebsockets::FragmentCollector::new(ws);
    fastwebsockets_read(&mut ws, messages);
    ws
}

/// Reads `messages` messages (parse, unmask, UTF-8 check of text) with fastwebsockets; returns
/// their data length. Each read is polled once with a no-op waker: the in-memory stream is always
/// ready, so no executor takes part.
pub fn fastwebsockets_read(ws: &mut FastWebSocket, messages: usize) -> usize {
    (0..messages)
        .map(|_| {
            let frame = ready(ws.read_frame()).expect("fastwebsockets reads the benchmark message");
            match frame.opcode {
                fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => {
                    frame.payload.len()
                }
                other => panic!("expected a data message, got {other:?}"),
            }
        })
        .sum()
}

/// The output of `future`, which must complete on its first poll.
pub fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory stream never waits"),
    }
}

/// The server side of the opening handshake with tungstenite: parse the request (httparse into
/// an `http::Request`), validate it and build the `101` answer (`create_response`, which
/// computes `Sec-WebSocket-Accept`), choose subprotocol `mqtt` and write the answer into `out`.
pub fn tungstenite_handshake_request(buf: &[u8], out: &mut Vec<u8>) -> usize {
    use tungstenite::handshake::machine::TryParse;
    use tungstenite::handshake::server::{Request, create_response, write_response};
    let (_, request) = Request::try_parse(buf).expect("valid request").expect("complete request");
    let mut response = create_response(&request).expect("valid answer");
    let offered = request.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    if offered.is_some_and(|v| v.split(',').any(|p| p.trim() == "mqtt")) {
        response.headers_mut().insert("Sec-WebSocket-Protocol", "mqtt".parse().expect("token"));
    }
    write_response(&mut *out, &response).expect("written to memory");
    out.len()
}

#[cfg(feature = "deflate")]
/// zlib-rs (through flate2) inflating the same compressed bytes into a buffer that holds the
/// whole message: the decompression alone, without framing, unmasking or UTF-8. `compressed`
/// is the message's payload with its `00 00 ff ff` tail restored (RFC 7692 §7.2.2).
pub fn zlib_inflate(z: &mut flate2::Decompress, compressed: &[u8], out: &mut Vec<u8>) -> usize {
    z.reset(false);
    out.clear();
    z.decompress_vec(compressed, out, flate2::FlushDecompress::Sync).expect("valid DEFLATE");
    out.len()
}
