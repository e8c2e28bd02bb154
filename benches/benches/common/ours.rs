//! Our side: mqtt-ws's codec and WebSocket read path, used as a caller uses them.

use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Config, Connection, Event, MessageKind};
use mqtt_ws::ws::handshake::{Client, ClientRequest, RequestParser};
use mqtt_ws::ws::mask::apply_mask;

/// The server's read path for `messages` messages already in the caller's receive buffer,
/// through `ws::Connection` (header parse, mask check, in-place unmask, UTF-8 check of text,
/// message rules). Returns the data length of all of them.
pub fn ws_read(buf: &mut [u8], messages: usize) -> usize {
    let mut conn = Connection::server(Config::new());
    let mut pos = 0;
    let mut data_len = 0;
    let mut left = messages;
    loop {
        let input = &mut buf[pos..];
        match conn.handle_input(Instant::ZERO, input).expect("valid client frame") {
            Status::Progress { consumed, event } => {
                pos += consumed;
                match event {
                    None => {}
                    Some(Event::Data {
                        kind: MessageKind::Text | MessageKind::Binary,
                        data,
                        last,
                    }) => {
                        data_len += data.len();
                        if last {
                            left -= 1;
                            if left == 0 {
                                return data_len;
                            }
                        }
                    }
                    Some(other) => panic!("unexpected event {other:?}"),
                }
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
}

/// Unmasks `buf` in place with the benchmark key.
pub fn unmask(buf: &mut [u8]) {
    apply_mask(mqtt_ws_benches::MASK_KEY, 0, buf);
}

use mqtt_ws::mqtt::Version;
use mqtt_ws::mqtt::packet::{
    DecodeOptions, Packet, SubAck, Subscribe, Subscription, Unsubscribe, decode,
};
use mqtt_ws::mqtt::properties::{Properties, Property};
use mqtt_ws::mqtt::reason::ReasonCode;

/// Decodes one MQTT 5.0 packet from the front of `bytes`.
pub fn mqtt_decode(bytes: &[u8]) -> Packet<'_> {
    match decode(bytes, &DecodeOptions::new(Version::V5)).expect("valid packet") {
        Status::Progress { event: packet, .. } => packet,
        other => panic!("incomplete packet: {other:?}"),
    }
}

/// Decodes one packet and reads every field, as rumqttc's decoder (which copies every property
/// into a struct) does: our decoded properties and filter lists are validated views that are
/// only walked when read, so the walk is part of the comparison. Returns a value depending on
/// every field so nothing is optimised away.
pub fn mqtt_decode_visit(bytes: &[u8]) -> usize {
    let packet = mqtt_decode(bytes);
    match packet {
        Packet::Publish(p) => {
            p.topic.len() + p.payload.len() + visit(p.properties) + p.qos_pid.qos() as usize
        }
        Packet::Connect(c) => {
            let will = c.will.map_or(0, |w| w.topic.len() + w.payload.len() + visit(w.properties));
            c.client_id.len()
                + usize::from(c.keep_alive)
                + visit(c.properties)
                + will
                + c.username.map_or(0, str::len)
                + c.password.map_or(0, <[u8]>::len)
        }
        Packet::Subscribe(s) => {
            usize::from(s.packet_id.get())
                + visit(s.properties)
                + s.filters
                    .iter()
                    .map(|f| f.filter.len() + usize::from(f.options.to_byte()))
                    .sum::<usize>()
        }
        Packet::Unsubscribe(u) => {
            usize::from(u.packet_id.get())
                + visit(u.properties)
                + u.filters.iter().map(str::len).sum::<usize>()
        }
        Packet::SubAck(s) => {
            usize::from(s.packet_id.get())
                + visit(s.properties)
                + s.reason_codes.iter().map(|c| usize::from(c.code())).sum::<usize>()
        }
        Packet::PubAck(a) => {
            usize::from(a.packet_id.get()) + usize::from(a.reason_code.code()) + visit(a.properties)
        }
        other => panic!("no visitor for {:?}", other.packet_type()),
    }
}

fn visit(props: Properties<'_>) -> usize {
    props
        .iter()
        .map(|p| match p {
            Property::ContentType(s) | Property::ResponseTopic(s) | Property::ReasonString(s) => {
                s.len()
            }
            Property::UserProperty(k, v) => k.len() + v.len(),
            Property::MessageExpiryInterval(v)
            | Property::SessionExpiryInterval(v)
            | Property::WillDelayInterval(v) => v as usize,
            Property::SubscriptionIdentifier(v) => v.get() as usize,
            Property::MaximumPacketSize(v) => v.get() as usize,
            Property::ReceiveMaximum(v) => usize::from(v.get()),
            Property::TopicAliasMaximum(v) => usize::from(v),
            _ => 1,
        })
        .sum()
}

/// Encodes `packet` as MQTT 5.0 into `out` (which has room for it) and returns its length.
pub fn mqtt_encode(packet: &Packet<'_>, out: &mut [u8]) -> usize {
    packet.encode(Version::V5, out).expect("encodable packet")
}

/// The lists of a decoded SUBSCRIBE, UNSUBSCRIBE or SUBACK copied into slices of their own, as
/// a sender holds them before it builds the packet (empty for other packets).
#[derive(Default)]
pub struct Lists<'a> {
    subscriptions: Vec<Subscription<'a>>,
    filters: Vec<&'a str>,
    codes: Vec<ReasonCode>,
}

/// The lists of `packet`, to build it as a sender does.
pub fn lists<'a>(packet: &Packet<'a>) -> Lists<'a> {
    match packet {
        Packet::Subscribe(s) => {
            Lists { subscriptions: s.filters.iter().collect(), ..Lists::default() }
        }
        Packet::Unsubscribe(u) => Lists { filters: u.filters.iter().collect(), ..Lists::default() },
        Packet::SubAck(s) => Lists { codes: s.reason_codes.iter().collect(), ..Lists::default() },
        _ => Lists::default(),
    }
}

/// The packet a sender builds with the public constructors: for SUBSCRIBE, UNSUBSCRIBE and
/// SUBACK, `new` over its own slice (a decoded one instead holds a view of the received bytes,
/// which encodes as a copy); every other packet is the same either way.
pub fn built<'a>(packet: Packet<'a>, lists: &'a Lists<'a>) -> Packet<'a> {
    match packet {
        Packet::Subscribe(s) => {
            let mut b = Subscribe::new(s.packet_id, &lists.subscriptions);
            b.properties = s.properties;
            Packet::Subscribe(b)
        }
        Packet::Unsubscribe(u) => {
            let mut b = Unsubscribe::new(u.packet_id, &lists.filters);
            b.properties = u.properties;
            Packet::Unsubscribe(b)
        }
        Packet::SubAck(s) => {
            let mut b = SubAck::new(s.packet_id, &lists.codes);
            b.properties = s.properties;
            Packet::SubAck(b)
        }
        other => other,
    }
}

/// The server side of the opening handshake: parse and validate the request in `buf`, choose
/// subprotocol `mqtt` and write the `101` answer (with its `Sec-WebSocket-Accept`) into `out`.
/// Returns the answer's length.
pub fn ws_handshake_request(buf: &[u8], out: &mut [u8]) -> usize {
    let request = match RequestParser::default().parse(buf).expect("valid request") {
        Status::Progress { event, .. } => event,
        other => panic!("unexpected status {other:?}"),
    };
    let protocol = request.select_protocol(&["mqtt"]);
    request.accept(protocol).expect("valid answer").encode(out).expect("room for the answer")
}

/// The request parser alone: scan, parse and validate the request in `buf` (the key decoded,
/// every field checked). Returns the head length.
pub fn ws_handshake_parse(buf: &[u8]) -> usize {
    match RequestParser::default().parse(buf).expect("valid request") {
        Status::Progress { consumed, .. } => consumed,
        other => panic!("unexpected status {other:?}"),
    }
}

/// The client's handshake, ready to read the answer (its request already written).
pub fn ws_handshake_client() -> Client<'static> {
    let request = ClientRequest::new("127.0.0.1:8083", "/mqtt").protocols(&["mqtt"]);
    Client::new(request, mqtt_ws_benches::HANDSHAKE_NONCE).expect("valid request")
}

/// The client side of the opening handshake: validate the server's `101` answer in `buf`
/// (status line, fields, `Sec-WebSocket-Accept` against the key, subprotocol). Returns the head
/// length.
pub fn ws_handshake_response(client: &mut Client<'static>, buf: &[u8]) -> usize {
    match client.handle_input(Instant::ZERO, buf).expect("valid answer") {
        Status::Progress { consumed, event: Some(_) } => consumed,
        other => panic!("unexpected status {other:?}"),
    }
}

#[cfg(feature = "deflate")]
/// The server's read path for one permessage-deflate message already in the caller's receive
/// buffer: `ws::Connection::handle_input_inflate` (header, RSV1, unmask, inflate through the
/// window, UTF-8 of text on the decompressed bytes, the size limit while inflating). Returns
/// the decompressed length.
pub fn ws_read_inflate<W: AsMut<[u8]> + AsRef<[u8]>>(
    buf: &mut [u8],
    inflater: &mut mqtt_ws::ws::deflate::Inflater<W>,
) -> usize {
    let config = Config { extension_rsv: mqtt_ws::ws::frame::Rsv::RSV1, ..Config::new() };
    let mut conn = Connection::server(config);
    let mut pos = 0;
    let mut total = 0;
    loop {
        let input = &mut buf[pos..];
        match conn.handle_input_inflate(Instant::ZERO, input, inflater).expect("valid message") {
            Status::Progress { consumed, event } => {
                pos += consumed;
                match event {
                    None => {}
                    Some(Event::Data { data, last, .. }) => {
                        total += data.len();
                        if last {
                            return total;
                        }
                    }
                    Some(other) => panic!("unexpected event {other:?}"),
                }
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
}
