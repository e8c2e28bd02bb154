//! A tour of mqtt-ws with nothing else installed: an MQTT 5 session carried over WebSocket
//! between two sans-IO endpoints in memory, every byte moved by this program.
//!
//! ```sh
//! cargo run --release --example tour
//! ```
//!
//! 1. the WebSocket opening handshake (client request, server validation, 101, client check);
//! 2. MQTT CONNECT / CONNACK, SUBSCRIBE / SUBACK, a QoS 1 PUBLISH and its PUBACK, PINGREQ /
//!    PINGRESP, each packet encoded by the codec into a binary WebSocket message (masked by the
//!    client), unmasked and decoded on the other side;
//! 3. the WebSocket closing handshake.
//!
//! Neither side does any I/O: the "wire" is a `Vec<u8>` per direction. That is the whole point
//! of the sans-IO design: the same state machines run over TCP, TLS, a UART or this.

use std::error::Error;

use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{
    self, Ack, ConnAck, Connect, DecodeOptions, Packet, Publish, QosPid, SubAck, Subscribe,
    Subscription,
};
use mqtt_ws::mqtt::properties::{PropertiesBuilder, Property};
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, Connection, Event, MaskKeys};
use mqtt_ws::ws::handshake::{Client, ClientRequest, OriginPolicy, RequestParser};

const VERSION: Version = Version::V5;

fn main() -> Result<(), Box<dyn Error>> {
    // --- 1. Opening handshake -------------------------------------------------------------
    // Randomness is injected: here from the operating system (`net::random`, `net::OsRandom`);
    // a device takes it from its hardware RNG.
    let nonce: [u8; 16] = mqtt_ws::net::random()?;
    let request = ClientRequest::new("127.0.0.1:8083", "/mqtt")
        .protocols(&["mqtt"])
        .headers(&[("Origin", "http://127.0.0.1:8083")]);
    let mut hs_client = Client::new(request, nonce)?;
    let mut up = vec![0u8; 512];
    let n = hs_client.encode_request(&mut up)?;
    up.truncate(n);
    println!("client -> server  HTTP upgrade request, {n} bytes");

    let mut parser = RequestParser::default();
    let Status::Progress { event: req, .. } = parser.parse(&up)? else {
        return Err("partial request".into());
    };
    req.check_origin(&OriginPolicy::allow_list(&["http://127.0.0.1:8083"]))?;
    let protocol = req.select_protocol(&["mqtt"]);
    println!(
        "server            path {:?}, origin {:?}, subprotocol {protocol:?}",
        req.path(),
        req.origin()
    );
    let mut down = vec![0u8; 512];
    let m = req.accept(protocol)?.encode(&mut down)?;
    down.truncate(m);
    println!("server -> client  101 Switching Protocols, {m} bytes");

    let Status::Progress { event: Some(accepted), .. } =
        hs_client.handle_input(Instant::ZERO, &down)?
    else {
        return Err("partial response".into());
    };
    println!("client            accepted, subprotocol {:?}\n", accepted.protocol());

    // --- 2. MQTT over binary WebSocket messages -------------------------------------------
    let mut client_ws = Connection::client(Config::new(), mqtt_ws::net::OsRandom::new()?);
    let mut server_ws = Connection::server(Config::new());
    let mut link = Link::default();

    // CONNECT with properties: a session that survives an hour offline.
    let mut props = [0u8; 32];
    let mut b = PropertiesBuilder::new(&mut props);
    b.push(Property::SessionExpiryInterval(3600))?;
    let connect = Connect {
        keep_alive: 30,
        clean_start: false,
        properties: b.finish(),
        ..Connect::new(VERSION, "living-room-panel")
    };
    link.send(Side::Client, &mut client_ws, &Packet::Connect(connect))?;
    link.receive(Side::Server, &mut server_ws)?;

    link.send(Side::Server, &mut server_ws, &Packet::ConnAck(ConnAck::new(ReasonCode::Success)))?;
    link.receive(Side::Client, &mut client_ws)?;

    let id = |n| PacketId::new(n).ok_or("packet id 0");
    let filters = [Subscription::new("home/+/light", Qos::AtLeastOnce)];
    link.send(Side::Client, &mut client_ws, &Packet::Subscribe(Subscribe::new(id(1)?, &filters)))?;
    link.receive(Side::Server, &mut server_ws)?;
    let granted = [ReasonCode::GrantedQos1];
    link.send(Side::Server, &mut server_ws, &Packet::SubAck(SubAck::new(id(1)?, &granted)))?;
    link.receive(Side::Client, &mut client_ws)?;

    // The broker forwards a message that matches the subscription.
    let light = Publish {
        qos_pid: QosPid::AtLeastOnce(id(7)?),
        ..Publish::new("home/livingroom/light", b"ON")
    };
    assert!(mqtt_ws::mqtt::topic::matches("home/+/light", light.topic));
    link.send(Side::Server, &mut server_ws, &Packet::Publish(light))?;
    link.receive(Side::Client, &mut client_ws)?;
    link.send(Side::Client, &mut client_ws, &Packet::PubAck(Ack::new(id(7)?)))?;
    link.receive(Side::Server, &mut server_ws)?;

    link.send(Side::Client, &mut client_ws, &Packet::PingReq)?;
    link.receive(Side::Server, &mut server_ws)?;
    link.send(Side::Server, &mut server_ws, &Packet::PingResp)?;
    link.receive(Side::Client, &mut client_ws)?;

    // --- 3. Closing handshake -------------------------------------------------------------
    client_ws.close(CloseCode::Normal, "bye")?;
    link.flush(Side::Client, &mut client_ws)?;
    link.receive(Side::Server, &mut server_ws)?;
    link.flush(Side::Server, &mut server_ws)?;
    link.receive(Side::Client, &mut client_ws)?;
    println!(
        "\nclosed: client {:?}, server {:?}; {} bytes went up, {} came down",
        client_ws.state(),
        server_ws.state(),
        link.up_total,
        link.down_total
    );
    Ok(())
}

/// Which endpoint acts.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Client,
    Server,
}

/// The two directions of the in-memory wire.
#[derive(Default)]
struct Link {
    up: Vec<u8>,
    down: Vec<u8>,
    up_total: usize,
    down_total: usize,
}

impl Link {
    /// The bytes `from` sends travel here, and how many went that way in all.
    fn outgoing(&mut self, from: Side) -> (&mut Vec<u8>, &mut usize) {
        match from {
            Side::Client => (&mut self.up, &mut self.up_total),
            Side::Server => (&mut self.down, &mut self.down_total),
        }
    }

    /// `from` encodes `p` and sends it as one binary message.
    fn send<K: MaskKeys>(
        &mut self,
        from: Side,
        ws: &mut Connection<K>,
        p: &Packet<'_>,
    ) -> Result<(), Box<dyn Error>> {
        let frame = frame_packet(ws, p)?;
        let (who, masked) =
            if from == Side::Client { ("client", " masked") } else { ("server", "") };
        println!(
            "{who}  -> {:?}: {} bytes of MQTT in a {}-byte{masked} frame",
            p.packet_type(),
            p.encoded_len(VERSION)?,
            frame.len()
        );
        let (wire, total) = self.outgoing(from);
        *total += frame.len();
        wire.extend_from_slice(&frame);
        Ok(())
    }

    /// Moves whatever `ws` owes its peer (pongs, close frames) onto the wire.
    fn flush<K: MaskKeys>(
        &mut self,
        from: Side,
        ws: &mut Connection<K>,
    ) -> Result<(), Box<dyn Error>> {
        let mut out = [0u8; 256];
        while let Some(n) = ws.poll_transmit(Instant::ZERO, &mut out)? {
            let (wire, total) = self.outgoing(from);
            wire.extend_from_slice(&out[..n]);
            *total += n;
        }
        Ok(())
    }

    /// `to` reads everything on its incoming wire and prints the MQTT packets in it.
    fn receive<K: MaskKeys>(
        &mut self,
        to: Side,
        ws: &mut Connection<K>,
    ) -> Result<(), Box<dyn Error>> {
        let (wire, who) = match to {
            Side::Client => (&mut self.down, "client"),
            Side::Server => (&mut self.up, "server"),
        };
        receive(ws, wire, |p| println!("{who}  <- {}", describe(p)))
    }
}

/// Encodes `p` with the MQTT codec and wraps it in one binary WebSocket message.
fn frame_packet<K: MaskKeys>(
    ws: &mut Connection<K>,
    p: &Packet<'_>,
) -> Result<Vec<u8>, Box<dyn Error>> {
    let mut mqtt = vec![0u8; p.encoded_len(VERSION)?];
    p.encode(VERSION, &mut mqtt)?;
    let mut frame = vec![0u8; mqtt.len() + 14];
    let n = ws.encode_binary(&mut frame, &mqtt)?;
    frame.truncate(n);
    Ok(frame)
}

/// Feeds everything on `wire` to `ws` (unmasking in place), collects the binary payload and
/// decodes the MQTT packets in it. One WebSocket frame is not one MQTT packet in general, so the
/// payload bytes are gathered first and packets are cut from them by the codec.
fn receive<K: MaskKeys>(
    ws: &mut Connection<K>,
    wire: &mut Vec<u8>,
    mut on_packet: impl FnMut(&Packet<'_>),
) -> Result<(), Box<dyn Error>> {
    let mut payload = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        match ws.handle_input(Instant::ZERO, &mut wire[at..])? {
            Status::NeedMore { .. } | Status::Closed | Status::Blocked => break,
            Status::Progress { consumed, event } => {
                match event {
                    Some(Event::Data { data, .. }) => payload.extend_from_slice(data),
                    Some(Event::Close { code, reason }) => {
                        println!("peer closed with {code:?} {reason:?}")
                    }
                    _ => {}
                }
                at += consumed;
            }
        }
    }
    wire.drain(..at);
    let options = DecodeOptions::new(VERSION);
    let mut rest = &payload[..];
    while !rest.is_empty() {
        match packet::decode(rest, &options)? {
            Status::Progress { consumed: used, event: p } => {
                on_packet(&p);
                rest = &rest[used..];
            }
            Status::NeedMore { needed } => return Err(format!("{needed} bytes missing").into()),
            Status::Blocked | Status::Closed => {
                return Err("a decoder neither blocks nor ends".into());
            }
        }
    }
    Ok(())
}

fn describe(p: &Packet<'_>) -> String {
    match p {
        Packet::Connect(c) => format!(
            "CONNECT client {:?}, keep alive {}s, session expiry {:?}s",
            c.client_id,
            c.keep_alive,
            c.properties.session_expiry_interval()
        ),
        Packet::ConnAck(c) => {
            format!("CONNACK {:?}, session present {}", c.reason_code, c.session_present)
        }
        Packet::Subscribe(s) => {
            let f: Vec<_> = s.filters.iter().map(|f| (f.filter, f.options.qos)).collect();
            format!("SUBSCRIBE #{} {f:?}", s.packet_id.get())
        }
        Packet::SubAck(s) => {
            format!("SUBACK #{} {:?}", s.packet_id.get(), s.reason_codes.iter().collect::<Vec<_>>())
        }
        Packet::Publish(p) => format!(
            "PUBLISH {:?} = {:?} ({:?})",
            p.topic,
            String::from_utf8_lossy(p.payload),
            p.qos_pid
        ),
        Packet::PubAck(a) => format!("PUBACK #{} {:?}", a.packet_id.get(), a.reason_code),
        other => format!("{:?}", other.packet_type()),
    }
}
