//! What runs inside one HTTP/2 or HTTP/3 extended CONNECT stream once the WebSocket handshake
//! is mapped (RFC 8441, RFC 9220): the stream's DATA as a tokio byte pipe, and on it our
//! WebSocket connections (with permessage-deflate when agreed), or an MQTT client and an MQTT
//! server session on `ws::Stream`.
#![allow(dead_code)]

use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use mqtt_ws::io::{DriverError, asynch};
use mqtt_ws::mqtt::client::{self, Client, ConnectOptions, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::{Publish, Subscription};
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::server::{self, Accept, Server};
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{self as ws, Config, Connection, Event, MessageKind};
use mqtt_ws::ws::deflate::{Agreement, Compressor, Inflater};
use mqtt_ws::ws::frame::Rsv;
use mqtt_ws::ws::stream::Stream;
use tokio::io::DuplexStream;

/// The longest any step may take before the test fails (a loaded machine included).
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn now() -> Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    Instant::from_millis(START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64)
}

fn keys() -> impl FnMut() -> [u8; 4] + Send {
    let mut k = 0x1234_5678u32;
    move || {
        k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        k.to_be_bytes()
    }
}

type Driver<K> = asynch::Connection<'static, FromTokio<DuplexStream>, Connection<K>, Vec<u8>>;

/// A WebSocket endpoint on the pipe, compressing and inflating when permessage-deflate was
/// agreed.
struct Endpoint<K: ws::MaskKeys> {
    conn: Driver<K>,
    deflate: Option<(Compressor, Inflater<Vec<u8>>)>,
    role: ws::Role,
}

/// What [`Endpoint::next`] returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Message(MessageKind, Vec<u8>),
    Pong(Vec<u8>),
    Closed,
}

impl<K: ws::MaskKeys> Endpoint<K> {
    fn new(io: DuplexStream, machine: Connection<K>, agreement: Option<&Agreement>) -> Self {
        let role = machine.role();
        let deflate = agreement.map(|a| {
            let (bits, no_context_takeover) = a.receive(role);
            let inflater = Inflater::new(vec![0u8; 1 << bits], no_context_takeover).unwrap();
            (Compressor::new(a, role), inflater)
        });
        let conn = asynch::Connection::with_buffers(
            FromTokio::new(io),
            machine,
            vec![0; 64 * 1024],
            vec![0; 64 * 1024],
        );
        Self { conn, deflate, role }
    }

    /// Sends a whole message, compressed (RSV1 on its frame) when permessage-deflate is on;
    /// returns the payload's length on the wire.
    async fn send(&mut self, kind: MessageKind, data: &[u8]) -> usize {
        let Some((compressor, _)) = self.deflate.as_mut() else {
            self.conn.send(now(), kind, data).await.unwrap();
            return data.len();
        };
        let mut compressed = Vec::new();
        compressor.compress(data, &mut compressed).unwrap();
        self.conn
            .command(now(), |ws, out| {
                ws.encode_compressed(out, kind, &compressed, true)
                    .map(|n| ((), n))
                    .map_err(Into::into)
            })
            .await
            .unwrap();
        compressed.len()
    }

    /// The next whole message, pong or the end of the closing handshake.
    async fn next(&mut self) -> Received {
        let mut message: Option<(MessageKind, Vec<u8>)> = None;
        loop {
            let step = match self.deflate.as_mut() {
                Some((_, inflater)) => {
                    tokio::time::timeout(PATIENCE, self.conn.poll_inflate(now(), inflater)).await
                }
                None => tokio::time::timeout(PATIENCE, self.conn.poll(now())).await,
            };
            match step.expect("the peer went quiet") {
                Ok(Some(Event::Data { kind, data, last })) => {
                    message.get_or_insert_with(|| (kind, Vec::new())).1.extend_from_slice(data);
                    if last {
                        let (kind, data) = message.take().unwrap();
                        return Received::Message(kind, data);
                    }
                }
                Ok(Some(Event::Pong(payload))) => return Received::Pong(payload.to_vec()),
                Ok(_) => {}
                Err(DriverError::Closed | DriverError::Eof) => return Received::Closed,
                Err(e) => panic!("{:?} side: {e:?}", self.role),
            }
        }
    }
}

fn config(agreement: Option<&Agreement>) -> Config {
    let rsv = if agreement.is_some() { Rsv::RSV1 } else { Rsv::NONE };
    Config { extension_rsv: rsv, ..Config::new() }
}

/// The server end: echoes every data message with its kind (compressed too when agreed),
/// answers pings and the close frame; returns how many messages it echoed.
pub async fn echo_server(io: DuplexStream, agreement: Option<Agreement>) -> usize {
    let machine = Connection::server(config(agreement.as_ref()));
    let mut ws = Endpoint::new(io, machine, agreement.as_ref());
    let mut echoed = 0;
    loop {
        match ws.next().await {
            Received::Message(kind, data) => {
                ws.send(kind, &data).await;
                echoed += 1;
            }
            Received::Pong(_) => panic!("the client sent an unsolicited pong"),
            Received::Closed => return echoed,
        }
    }
}

/// The client end: text with multi-byte characters, a compressible and an incompressible
/// binary message, a ping (its pong awaited), then the closing handshake. Checks every echo.
pub async fn echo_client(io: DuplexStream, agreement: Option<Agreement>) {
    let machine = Connection::client(config(agreement.as_ref()), keys());
    let mut ws = Endpoint::new(io, machine, agreement.as_ref());
    let text = "Grüße über HTTP/3 – ✓ ".repeat(40);
    let compressible = b"temperature=21.5;".repeat(500);
    let mut noise = vec![0u8; 3000];
    let mut x = 0x9E37_79B9u32;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    for (kind, data) in [
        (MessageKind::Text, text.as_bytes()),
        (MessageKind::Binary, &compressible[..]),
        (MessageKind::Binary, &noise[..]),
        (MessageKind::Text, b""),
    ] {
        let sent = ws.send(kind, data).await;
        if ws.deflate.is_some() && data == compressible {
            assert!(sent * 20 < data.len(), "{sent} bytes on the wire for {}", data.len());
        }
        assert_eq!(ws.next().await, Received::Message(kind, data.to_vec()));
    }
    ws.conn.ping(now(), b"are you there").await.unwrap();
    assert_eq!(ws.next().await, Received::Pong(b"are you there".to_vec()));
    ws.conn.close(now(), CloseCode::Normal, "done").await.unwrap();
    assert_eq!(ws.next().await, Received::Closed);
    assert_eq!(ws.conn.machine().state(), ws::State::Closed);
}

// --- MQTT over WebSocket over the stream -------------------------------------------------

const TOPIC: &str = "sensors/tunnel";

/// An MQTT server session on `ws::Stream` over the pipe: accepts the CONNECT, grants the
/// subscription, sends every QoS 1 message it receives back on the same topic at QoS 1, until
/// the client's DISCONNECT. Returns the payloads it received.
pub async fn mqtt_server(io: DuplexStream) -> Vec<Vec<u8>> {
    let (mut rx, mut tx) = (vec![0u8; 8192], vec![0u8; 8192]);
    let stream =
        Stream::new(FromTokio::new(io), Connection::server(Config::new()), &mut rx, &mut tx)
            .unwrap();
    let session: Server = Server::new(server::Config::new(), now());
    let mut conn = asynch::Connection::with_buffers(stream, session, vec![0; 8192], vec![0; 8192]);
    let mut received = Vec::new();
    loop {
        let event = tokio::time::timeout(PATIENCE, conn.poll(now())).await.expect("client quiet");
        let echo = match event.unwrap() {
            Some(server::Event::Connect(c)) => {
                assert_eq!(c.client_id, "over-the-tunnel");
                conn.accept(now(), &Accept::default()).await.unwrap();
                continue;
            }
            Some(server::Event::Subscribe(s)) => {
                assert_eq!(s.filters.into_iter().count(), 1);
                let id = s.packet_id;
                conn.sub_ack(now(), id, &[ReasonCode::GrantedQos1]).await.unwrap();
                continue;
            }
            Some(server::Event::Publish(m)) => {
                assert_eq!(&*m.topic, TOPIC);
                m.payload.to_vec()
            }
            Some(server::Event::Disconnect(_)) => break,
            _ => continue,
        };
        let publish = Publish { qos_pid: server_qos1(), ..Publish::new(TOPIC, &echo) };
        conn.publish(now(), &publish).await.unwrap();
        received.push(echo);
    }
    // The WebSocket closing handshake after the MQTT session: the client closes.
    let (mut stream, _) = conn.into_parts();
    let mut buf = [0u8; 16];
    let n = embedded_io_async::Read::read(&mut stream, &mut buf).await.unwrap();
    assert_eq!(n, 0, "nothing after DISCONNECT but the close frame");
    received
}

fn server_qos1() -> mqtt_ws::mqtt::packet::QosPid {
    // The session assigns the packet identifier; this only names the QoS.
    mqtt_ws::mqtt::packet::QosPid::AtLeastOnce(mqtt_ws::mqtt::PacketId::new(1).unwrap())
}

/// An MQTT 5.0 client on `ws::Stream` over the pipe: connects, subscribes, publishes three
/// QoS 1 messages (one larger than a WebSocket frame of the stream's buffers would need to
/// split), receives each back, disconnects and closes the WebSocket. Returns what came back.
pub async fn mqtt_client(io: DuplexStream) -> Vec<Vec<u8>> {
    let (mut rx, mut tx) = (vec![0u8; 8192], vec![0u8; 8192]);
    let stream = Stream::new(
        FromTokio::new(io),
        Connection::client(Config::new(), keys()),
        &mut rx,
        &mut tx,
    )
    .unwrap();
    let mut store = vec![0u8; 16 * 1024];
    let client: Client<SliceStore<'_, 8>> =
        Client::new(SliceStore::new(&mut store), client::Config::new(8192));
    let mut conn = asynch::Connection::with_buffers(stream, client, vec![0; 8192], vec![0; 8192]);
    conn.connect(now(), &ConnectOptions::new("over-the-tunnel")).await.unwrap();
    let payloads: Vec<Vec<u8>> =
        vec![b"21.5".to_vec(), vec![0xA5; 5000], "grüße".as_bytes().to_vec()];
    let mut echoed = Vec::new();
    let mut acked = 0;
    while echoed.len() < payloads.len() || acked < payloads.len() {
        let event = tokio::time::timeout(PATIENCE, conn.poll(now())).await.expect("server quiet");
        match event.unwrap() {
            Some(client::Event::Connected(_)) => {
                let sub = [Subscription::new(TOPIC, Qos::AtLeastOnce)];
                conn.subscribe(now(), &sub, Properties::EMPTY).await.unwrap();
            }
            Some(client::Event::Subscribed { .. }) => {
                for p in &payloads {
                    let message = Outgoing::new(TOPIC, p).qos(Qos::AtLeastOnce);
                    conn.publish(now(), &message).await.unwrap();
                }
            }
            Some(client::Event::Published { .. }) => acked += 1,
            Some(client::Event::Message(m)) => {
                assert_eq!(&*m.topic, TOPIC);
                assert_eq!(m.qos, Qos::AtLeastOnce);
                echoed.push(m.payload.to_vec());
            }
            _ => {}
        }
    }
    conn.disconnect(now(), ReasonCode::NormalDisconnection, Properties::EMPTY).await.unwrap();
    let (mut stream, _) = conn.into_parts();
    stream.close_async(CloseCode::Normal).await.unwrap();
    assert_eq!(echoed, payloads);
    echoed
}
