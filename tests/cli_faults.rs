//! The `mqtt` example against a fake broker on 127.0.0.1 that breaks the protocol: after a valid
//! CONNACK it sends a malformed packet, or a packet not allowed in that state. `sub`, `pub` and
//! `rr` answer with a DISCONNECT carrying the reason code (0x81 Malformed Packet, 0x82 Protocol
//! Error; MQTT 5.0 §4.13.1) before closing, over WebSocket also a close frame 1002 (RFC 6455
//! §7.4.1), then exit non-zero with one line on stderr naming the reason. A broker that goes
//! silent with Server Keep Alive 0 leaves `sub -W` to end it: status 27. The library's
//! clients (`net::MqttClient`, blocking and tokio) answer the same way from `next`.
//!
//! The fake reads back everything the client sends until the client closes.
//! The test builds the example (`cargo build --example mqtt`) the first time it needs it.
#![cfg(all(feature = "mqtt", feature = "ws", feature = "tokio"))]

mod common_examples;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

use mqtt_ws::mqtt::client::{self, ConnectOptions};
use mqtt_ws::net::tokio::MqttClient as TokioClient;
use mqtt_ws::net::{Error, Event, MqttClient, Options};
use mqtt_ws::ws::handshake::Key;

/// The `mqtt` example, built once.
fn mqtt() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common_examples::build("mqtt"))
}

/// CONNACK (MQTT 5.0): accepted, no session, no properties.
const CONNACK: &[u8] = &[0x20, 0x03, 0x00, 0x00, 0x00];
/// CONNACK (MQTT 5.0) with Server Keep Alive 0: the client sends no PINGREQ (§3.2.2.3.14).
const CONNACK_NO_KEEP_ALIVE: &[u8] = &[0x20, 0x06, 0x00, 0x00, 0x03, 0x13, 0x00, 0x00];
/// A PUBLISH with both QoS bits set: a Malformed Packet [MQTT-3.3.1-4].
const MALFORMED: &[u8] = &[0x36, 0x06, 0x00, 0x01, b'x', 0x00, 0x01, 0x00];
/// A second CONNACK: a Protocol Error (§3.2, the server sends one CONNACK).
const SECOND_CONNACK: &[u8] = CONNACK;

/// What the client sent the fake broker after CONNECT.
#[derive(Debug, Default)]
struct Received {
    /// The MQTT bytes (over WebSocket, the binary messages' payloads).
    mqtt: Vec<u8>,
    /// The close frame's status code (WebSocket).
    close: Option<u16>,
}

/// A fake broker serving one connection on 127.0.0.1.
struct Fake {
    port: u16,
    thread: JoinHandle<Received>,
}

impl Fake {
    /// Accepts one connection (a WebSocket one, subprotocol `mqtt`, when `ws`), reads CONNECT,
    /// sends `connack` then `then`, and reads what the client sends until it closes.
    fn start(ws: bool, connack: &'static [u8], then: &'static [u8]) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            // A bound, so a client that never closes fails the test instead of hanging it.
            tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut wire = Wire { tcp, ws, buf: Vec::new(), received: Received::default() };
            if ws {
                wire.accept_websocket();
            }
            wire.read_packet();
            wire.received.mqtt.clear();
            wire.send(&[connack, then].concat());
            wire.read_to_end();
            wire.received
        });
        Fake { port, thread }
    }

    /// What the client sent after CONNECT, once it closed.
    fn received(self) -> Received {
        self.thread.join().unwrap()
    }
}

/// The fake broker's connection: bytes read but not yet used in `buf`.
struct Wire {
    tcp: TcpStream,
    ws: bool,
    buf: Vec<u8>,
    received: Received,
}

impl Wire {
    /// Reads more bytes into `buf`; `false` at the end of the connection.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.tcp.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("fake broker: {e}"),
        }
    }

    /// The opening handshake's answer: 101 with the accept key and subprotocol `mqtt`.
    fn accept_websocket(&mut self) {
        while !self.buf.windows(4).any(|w| w == b"\r\n\r\n") {
            assert!(self.fill(), "the client closed during the opening handshake");
        }
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let request = String::from_utf8(self.buf.drain(..end).collect()).unwrap();
        let key = request
            .lines()
            .find_map(|l| {
                l.strip_prefix("Sec-WebSocket-Key: ").or(l.strip_prefix("sec-websocket-key: "))
            })
            .expect("Sec-WebSocket-Key");
        let accept = Key::parse(key.trim().as_bytes()).unwrap().accept();
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
            accept.as_str()
        );
        self.tcp.write_all(answer.as_bytes()).unwrap();
    }

    /// Sends MQTT bytes (over WebSocket, in one binary frame, unmasked as a server's).
    fn send(&mut self, bytes: &[u8]) {
        let mut out = Vec::new();
        if self.ws {
            assert!(bytes.len() < 126);
            out.extend_from_slice(&[0x82, bytes.len() as u8]);
        }
        out.extend_from_slice(bytes);
        self.tcp.write_all(&out).unwrap();
    }

    /// Moves what `buf` holds of the client's stream to `received`: bytes as they are, or the
    /// whole frames of a WebSocket (masked, as a client's). `false` when a frame is incomplete.
    fn take(&mut self) -> bool {
        if !self.ws {
            self.received.mqtt.append(&mut self.buf);
            return true;
        }
        let Some(frame) = client_frame(&self.buf) else { return false };
        let (opcode, payload, len) = frame;
        match opcode {
            0x2 | 0x0 => self.received.mqtt.extend_from_slice(&payload),
            0x8 => {
                let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                self.received.close = code;
            }
            _ => {}
        }
        self.buf.drain(..len);
        true
    }

    /// Reads one whole MQTT packet (the client's CONNECT).
    fn read_packet(&mut self) {
        loop {
            while self.take() && !self.buf.is_empty() {}
            if packets(&self.received.mqtt).is_some_and(|p| !p.is_empty()) {
                return;
            }
            assert!(self.fill(), "the client closed before CONNECT");
        }
    }

    /// Reads until the client closes.
    fn read_to_end(&mut self) {
        loop {
            while self.take() && !self.buf.is_empty() {}
            if !self.fill() {
                return;
            }
        }
    }
}

/// The first frame of a client's stream: opcode, unmasked payload, its length on the wire.
fn client_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    assert!(b1 & 0x80 != 0, "a client's frame is masked (RFC 6455 §5.1)");
    let (len, mut at) = match b1 & 0x7F {
        126 => (usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])), 4),
        127 => panic!("a frame this test does not expect"),
        n => (usize::from(n), 2),
    };
    let mask: [u8; 4] = buf.get(at..at + 4)?.try_into().unwrap();
    at += 4;
    let payload = buf.get(at..at + len)?;
    let unmasked = payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
    Some((b0 & 0x0F, unmasked, at + len))
}

/// The whole MQTT packets in `bytes` (`None` if a packet is cut short).
fn packets(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (mut len, mut shift, mut at) = (0usize, 0, 1);
        loop {
            let b = *rest.get(at)?;
            len |= usize::from(b & 0x7F) << shift;
            at += 1;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let packet = rest.get(..at + len)?;
        out.push(packet);
        rest = &rest[at + len..];
    }
    Some(out)
}

/// The reason code of the last packet, which must be a DISCONNECT.
fn disconnect_reason(received: &Received) -> u8 {
    let all = packets(&received.mqtt).expect("whole packets");
    let last = all.last().expect("a packet after CONNECT");
    assert_eq!(last[0], 0xE0, "the last packet is DISCONNECT: {:02X?}", received.mqtt);
    // A DISCONNECT with no reason code is a Normal Disconnection (§3.14.2.1).
    last.get(2).copied().unwrap_or(0)
}

/// Runs the example to its end: status, stderr.
fn run(args: &[&str]) -> (ExitStatus, String) {
    let out = Command::new(mqtt()).args(args).stdin(Stdio::null()).output().unwrap();
    (out.status, String::from_utf8(out.stderr).unwrap())
}

/// The flags that point the example at the fake.
fn at(fake: &Fake, ws: bool) -> Vec<String> {
    let port = fake.port.to_string();
    if ws {
        vec!["-L".into(), format!("ws://127.0.0.1:{port}/x")]
    } else {
        ["-h", "127.0.0.1", "-p", &port, "-t", "x"].map(String::from).to_vec()
    }
}

/// `command` (with its flags) against a fake that sends `fault` after CONNACK: a DISCONNECT
/// with `reason`, a close frame 1002 over WebSocket, one line on stderr naming the reason.
fn answers_fault(command: &[&str], fault: &'static [u8], reason: u8, name: &str) {
    for ws in [false, true] {
        let fake = Fake::start(ws, CONNACK, fault);
        let at = at(&fake, ws);
        let args: Vec<&str> =
            command.iter().copied().chain(at.iter().map(String::as_str)).collect();
        let (status, err) = run(&args);
        let received = fake.received();
        let what = format!("{command:?} ws: {ws}");
        assert_eq!(disconnect_reason(&received), reason, "{what}");
        assert_eq!(received.close, ws.then_some(1002), "{what}");
        assert!(!status.success(), "{what}: exit 0");
        assert_eq!(err.lines().count(), 1, "{what}: {err:?}");
        assert!(err.contains(name), "{what}: {err:?}");
    }
}

#[test]
fn sub_answers_a_malformed_packet_with_disconnect() {
    answers_fault(&["sub"], MALFORMED, 0x81, "MalformedPacket (0x81)");
}

#[test]
fn sub_answers_a_second_connack_with_disconnect() {
    answers_fault(&["sub"], SECOND_CONNACK, 0x82, "ProtocolError (0x82)");
}

#[test]
fn pub_answers_a_malformed_packet_with_disconnect() {
    answers_fault(&["pub", "-m", "hi", "-q", "1"], MALFORMED, 0x81, "MalformedPacket (0x81)");
}

#[test]
fn rr_answers_a_protocol_error_with_disconnect() {
    let rr = ["rr", "-e", "replies", "-m", "?"];
    answers_fault(&rr, SECOND_CONNACK, 0x82, "ProtocolError (0x82)");
}

#[test]
fn sub_times_out_on_a_silent_broker_without_keep_alive() {
    let fake = Fake::start(false, CONNACK_NO_KEEP_ALIVE, &[]);
    let at = at(&fake, false);
    let args: Vec<&str> =
        ["sub", "-W", "2"].into_iter().chain(at.iter().map(String::as_str)).collect();
    let (status, err) = run(&args);
    assert_eq!((status.code(), err.as_str()), (Some(27), "mqtt: Timed out\n"));
    // It ended with a DISCONNECT (normal disconnection), after its SUBSCRIBE.
    assert_eq!(disconnect_reason(&fake.received()), 0);
}

/// The URL of the fake for the library's clients.
fn url(fake: &Fake, ws: bool) -> String {
    let scheme = if ws { "ws" } else { "mqtt" };
    format!("{scheme}://127.0.0.1:{}", fake.port)
}

/// What a fault a client's `next` returned did on the wire: the DISCONNECT with 0x81, a close
/// frame 1002 over WebSocket.
fn check_fault_answered(result: Result<Option<Event>, Error>, fake: Fake, ws: bool) {
    assert!(matches!(result, Err(Error::Mqtt(client::Error::Remote(_)))), "{result:?}");
    let received = fake.received();
    assert_eq!(disconnect_reason(&received), 0x81, "ws: {ws}");
    assert_eq!(received.close, ws.then_some(1002), "ws: {ws}");
}

#[test]
fn the_clients_answer_a_malformed_packet_with_disconnect() {
    let settings = Options { reconnect: None, ..Options::default() };
    let options = ConnectOptions::new("fault");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for ws in [false, true] {
        let fake = Fake::start(ws, CONNACK, MALFORMED);
        let mut blocking = MqttClient::connect_with(&url(&fake, ws), &options, &settings).unwrap();
        check_fault_answered(blocking.next(), fake, ws);
        let fake = Fake::start(ws, CONNACK, MALFORMED);
        let result = rt.block_on(async {
            let url = url(&fake, ws);
            let mut tokio = TokioClient::connect_with(&url, &options, &settings).await.unwrap();
            tokio.next().await
        });
        check_fault_answered(result, fake, ws);
    }
}

#[test]
fn reconnecting_clients_answer_a_malformed_packet_the_same_way() {
    // The fault is reported as a lost connection (a reconnect follows); before that the
    // DISCONNECT 0x81 and, over WebSocket, the close frame 1002 go out and the connection ends.
    let reconnect = mqtt_ws::net::Reconnect {
        initial_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(30),
    };
    let settings = Options { reconnect: Some(reconnect), ..Options::default() };
    let options = ConnectOptions::new("fault-reconnecting");
    let lost = |event: Result<Option<Event>, Error>| match event {
        Ok(Some(Event::ConnectionLost { error })) => {
            assert!(matches!(*error, Error::Mqtt(client::Error::Remote(_))), "{error:?}");
        }
        other => panic!("expected the lost connection, got {other:?}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for ws in [false, true] {
        let fake = Fake::start(ws, CONNACK, MALFORMED);
        let mut blocking = MqttClient::connect_with(&url(&fake, ws), &options, &settings).unwrap();
        lost(blocking.next());
        let received = fake.received();
        assert_eq!(disconnect_reason(&received), 0x81, "ws: {ws}");
        assert_eq!(received.close, ws.then_some(1002), "ws: {ws}");
        let fake = Fake::start(ws, CONNACK, MALFORMED);
        rt.block_on(async {
            let url = url(&fake, ws);
            let mut tokio = TokioClient::connect_with(&url, &options, &settings).await.unwrap();
            lost(tokio.next().await);
        });
        let received = fake.received();
        assert_eq!(disconnect_reason(&received), 0x81, "ws: {ws}");
        assert_eq!(received.close, ws.then_some(1002), "ws: {ws}");
    }
}
