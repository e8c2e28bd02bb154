//! The HTTP/1.1 opening handshake through the public API: a client and a server wired in
//! memory with bytes arriving in arbitrary chunks, the refusals a server sends, and (ignored by
//! default, needs `mosquitto` installed) a handshake with a real Mosquitto broker.
#![cfg(feature = "ws")]

mod common_ws;

use std::os::unix::net::UnixStream;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use mqtt_ws::Status;
use mqtt_ws::io::{DriverError, StdIo, blocking};
use mqtt_ws::time::{Duration, Instant};
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{self, Event, MessageKind};
use mqtt_ws::ws::handshake::{
    self, Client, ClientRequest, EncodeError, Limits, MissingOrigin, OriginPolicy, Reject,
    RequestError, RequestParser, ResponseError,
};

/// A small deterministic generator for nonces and chunk sizes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn nonce(&mut self) -> [u8; 16] {
        core::array::from_fn(|_| self.next() as u8)
    }
}

/// Feeds `bytes` to `step` in chunks of 1..=max bytes until it makes progress; the head it
/// consumed must end at `head`.
fn feed<T, E>(
    bytes: &[u8],
    head: usize,
    rng: &mut Lcg,
    max: u64,
    mut step: impl FnMut(usize) -> Result<Status<T>, E>,
) -> Result<T, E> {
    let mut end = 0;
    loop {
        end = (end + 1 + (rng.next() % max) as usize).min(bytes.len());
        match step(end)? {
            Status::Progress { consumed, event } => {
                assert_eq!(consumed, head);
                return Ok(event);
            }
            Status::NeedMore { .. } => assert!(end < bytes.len(), "complete input stayed short"),
            Status::Blocked | Status::Closed => panic!("no answer awaited"),
        }
    }
}

#[test]
fn client_and_server_agree_over_arbitrary_chunking() {
    let mut rng = Lcg(1);
    let policy = OriginPolicy::allow_list(&["https://app.example.com"]);
    for round in 0..200 {
        let request = ClientRequest::new("broker.example.com:8443", "/mqtt?client=7")
            .protocols(&["mqttv3.1", "mqtt"])
            .extensions(&["permessage-deflate; client_max_window_bits"])
            .headers(&[("Origin", "https://app.example.com"), ("Authorization", "Bearer abc")]);
        let mut client = Client::new(request, rng.nonce()).unwrap();

        // The client's request, with the first frame right behind it.
        let mut wire = vec![0u8; client.request_len()];
        assert_eq!(client.encode_request(&mut wire), Ok(wire.len()));
        let head = wire.len();
        wire.extend_from_slice(&[0x82, 0x82, 9, 9, 9, 9, 0x19, 0x09]);

        let mut parser = RequestParser::new(Limits::DEFAULT);
        let max = 1 + round % 40;
        let req = feed(&wire, head, &mut rng, max, |end| parser.parse(&wire[..end])).unwrap();
        assert_eq!(req.head_len(), head);
        assert_eq!(req.path(), "/mqtt?client=7");
        assert_eq!(req.host(), "broker.example.com:8443");
        assert_eq!(req.key(), client.key());
        assert_eq!(req.header("authorization"), Some(&b"Bearer abc"[..]));
        assert_eq!(req.extensions().next(), Some("permessage-deflate; client_max_window_bits"));
        req.check_origin(&policy).unwrap();

        // The server prefers `mqtt`; it declines the extension.
        let protocol = req.select_protocol(&["mqtt", "mqttv3.1"]);
        assert_eq!(protocol, Some("mqtt"));
        let accept = req.accept(protocol).unwrap();
        let mut reply = vec![0u8; accept.encoded_len()];
        accept.encode(&mut reply).unwrap();
        let head = reply.len();
        reply.extend_from_slice(&[0x82, 0x02, 0x20, 0x00]);

        let accepted = feed(&reply, head, &mut rng, max, |end| {
            client.handle_input(Instant::ZERO, &reply[..end])
        })
        .unwrap()
        .unwrap();
        assert_eq!(accepted.head_len(), head);
        assert_eq!(accepted.protocol(), Some("mqtt"));
        assert_eq!(accepted.extensions().count(), 0);
        assert_eq!(&reply[accepted.head_len()..], &[0x82, 0x02, 0x20, 0x00]);
    }
}

#[test]
fn a_server_refusal_reaches_the_client_as_its_status() {
    let mut client =
        Client::new(ClientRequest::new("h", "/").protocols(&["mqtt"]), [1; 16]).unwrap();
    let mut wire = vec![0u8; client.request_len()];
    client.encode_request(&mut wire).unwrap();
    let mut parser = RequestParser::default();
    let Ok(Status::Progress { event: req, .. }) = parser.parse(&wire) else {
        panic!("valid request")
    };
    let strict =
        OriginPolicy::allow_list(&["https://app.example.com"]).missing(MissingOrigin::Refuse);
    let refusal = req.check_origin(&strict).unwrap_err();
    assert_eq!(refusal, RequestError::OriginNotAllowed);
    let mut reply = [0u8; 128];
    let n = refusal.reject().encode(&mut reply).unwrap();
    assert_eq!(client.handle_input(Instant::ZERO, &reply[..n]), Err(ResponseError::Status(403)));
}

#[test]
fn a_client_of_another_version_learns_to_speak_13() {
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
    let e = RequestParser::default().parse(request).unwrap_err();
    assert_eq!(e.reject(), Reject::UpgradeRequired);
    let mut reply = [0u8; 256];
    let n = e.reject().encode(&mut reply).unwrap();
    let text = std::str::from_utf8(&reply[..n]).unwrap();
    assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
}

#[test]
fn a_hostile_peer_is_bounded() {
    // A head that never ends, one byte at a time: refused once it passes the bound.
    let limits = Limits { max_head_len: 512, max_headers: 8 };
    let mut parser = RequestParser::new(limits);
    let mut buf = b"GET / HTTP/1.1\r\nX: ".to_vec();
    let mut result = parser.parse(&buf);
    while result == Ok(Status::NeedMore { needed: 1 }) {
        buf.push(b'a');
        result = parser.parse(&buf);
    }
    assert_eq!(result, Err(RequestError::HeadTooLarge));
    assert_eq!(buf.len(), 512);
    assert_eq!(result.unwrap_err().reject().code(), 431);
    // Many short header lines.
    let mut parser = RequestParser::new(limits);
    let flood = b"GET / HTTP/1.1\r\n"
        .iter()
        .chain(b"A:1\r\n".repeat(9).iter())
        .copied()
        .collect::<Vec<_>>();
    assert_eq!(parser.parse(&flood), Err(RequestError::TooManyHeaders));
    // The same bound on the client side.
    let mut client =
        Client::new(ClientRequest::new("h", "/"), [0; 16]).unwrap().with_limits(limits);
    let mut resp = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    resp.resize(600, b'x');
    assert_eq!(client.handle_input(Instant::ZERO, &resp), Err(ResponseError::HeadTooLarge));
}

#[test]
fn encoders_write_nothing_into_a_small_buffer() {
    let client =
        Client::new(ClientRequest::new("h", "/mqtt").protocols(&["mqtt"]), [3; 16]).unwrap();
    let required = client.request_len();
    let mut out = vec![0x55u8; required - 1];
    assert_eq!(client.encode_request(&mut out), Err(EncodeError::BufferTooSmall { required }));
    assert!(out.iter().all(|&b| b == 0x55));
}

fn clock() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(StdInstant::now);
    Instant::from_millis(start.elapsed().as_millis() as u64)
}

fn socket_pair() -> (StdIo<UnixStream>, StdIo<UnixStream>) {
    let (a, b) = UnixStream::pair().unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(StdDuration::from_millis(50))).unwrap();
    }
    (StdIo(a), StdIo(b))
}

/// Both roles through the blocking driver, each on its own thread over a socket pair: the
/// handshakes, a message echoed, the closing handshake; no handshake or pump loop by hand.
#[test]
fn both_roles_through_the_drivers() {
    let (a, b) = socket_pair();
    let server = std::thread::spawn(move || {
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
        let hs = handshake::Server::default().with_deadline(clock() + Duration::from_secs(30));
        let mut conn = blocking::Connection::new(b, hs, &mut rx, &mut tx);
        let policy = OriginPolicy::allow_list(&["https://app.example.com"]);
        let accepted = conn
            .handshake(clock, |req| {
                req.check_origin(&policy).map_err(|e| e.reject())?;
                assert_eq!(req.path(), "/mqtt");
                req.accept(req.select_protocol(&["mqtt"])).map_err(|_| Reject::BadRequest)
            })
            .unwrap();
        assert!(accepted);
        let mut ws = conn.upgrade(connection::Config::new());
        let (mut echoed, mut message) = (0, Vec::new());
        loop {
            let kind = match ws.poll(clock()) {
                Ok(Some(Event::Data { kind, data, last })) => {
                    message.extend_from_slice(data);
                    if !last {
                        continue;
                    }
                    kind
                }
                Ok(_) => continue,
                Err(DriverError::Closed) => return echoed,
                Err(e) => panic!("server: {e:?}"),
            };
            ws.send(clock(), kind, &message).unwrap();
            message.clear();
            echoed += 1;
        }
    });
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let request = ClientRequest::new("localhost", "/mqtt")
        .protocols(&["mqtt"])
        .headers(&[("Origin", "https://app.example.com")]);
    let hs =
        Client::new(request, [5; 16]).unwrap().with_deadline(clock() + Duration::from_secs(30));
    let mut conn = blocking::Connection::new(a, hs, &mut rx, &mut tx);
    assert_eq!(conn.handshake(clock).unwrap(), Some("mqtt"));
    let mut ws = conn.upgrade(connection::Config::new(), || [1, 2, 3, 4]);
    // Longer than the transmit buffer: sent in fragments, read back as one message.
    let long = "ü".repeat(700);
    ws.send_text(clock(), &long).unwrap();
    let mut back = Vec::new();
    loop {
        match ws.poll(clock()).unwrap() {
            Some(Event::Data { kind: MessageKind::Text, data, last }) => {
                back.extend_from_slice(data);
                if last {
                    break;
                }
            }
            _ => continue,
        }
    }
    assert!(back == long.as_bytes(), "{} bytes back", back.len());
    ws.close(clock(), CloseCode::Normal, "bye").unwrap();
    loop {
        match ws.poll(clock()) {
            Err(DriverError::Closed) => break,
            Ok(_) => {}
            Err(e) => panic!("client: {e:?}"),
        }
    }
    assert_eq!(ws.machine().state(), connection::State::Closed);
    assert_eq!(server.join().unwrap(), 1);
}

/// A refusal the server decides: the origin is not allowed, answered 403.
#[test]
fn a_refused_origin_through_the_drivers() {
    let (a, b) = socket_pair();
    let server = std::thread::spawn(move || {
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
        let mut conn = blocking::Connection::new(b, handshake::Server::default(), &mut rx, &mut tx);
        let policy = OriginPolicy::allow_list(&["https://app.example.com"]);
        conn.handshake(clock, |req| {
            req.check_origin(&policy).map_err(|e| e.reject())?;
            req.accept(None).map_err(|_| Reject::BadRequest)
        })
        .unwrap()
    });
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let origin = [("Origin", "https://evil.example")];
    let hs = Client::new(ClientRequest::new("localhost", "/").headers(&origin), [6; 16]).unwrap();
    let mut conn = blocking::Connection::new(a, hs, &mut rx, &mut tx);
    let e = conn.handshake(clock).unwrap_err();
    let refused = handshake::Error::Response(ResponseError::Status(403));
    assert!(matches!(e, DriverError::Machine(r) if r == refused), "{e:?}");
    assert!(!server.join().unwrap());
}

/// A request that does not arrive by the server's deadline is answered 408, then reported.
#[test]
fn a_late_request_is_answered_408() {
    let (a, b) = socket_pair();
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let hs = handshake::Server::default().with_deadline(clock() + Duration::from_millis(100));
    let mut server = blocking::Connection::new(b, hs, &mut rx, &mut tx);
    let e = server.handshake(clock, |req| req.accept(None).map_err(|_| Reject::BadRequest));
    let late = handshake::Error::Request(RequestError::Timeout);
    assert!(matches!(e, Err(DriverError::Machine(r)) if r == late), "{e:?}");
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let hs = Client::new(ClientRequest::new("localhost", "/"), [7; 16]).unwrap();
    let mut client = blocking::Connection::new(a, hs, &mut rx, &mut tx);
    let e = client.handshake(clock).unwrap_err();
    let refused = handshake::Error::Response(ResponseError::Status(408));
    assert!(matches!(e, DriverError::Machine(r) if r == refused), "{e:?}");
}

/// Mosquitto's WebSocket listener: it answers `Upgrade: WebSocket` and echoes `mqtt`. Starts
/// its own broker on a free port; run with `cargo test --test ws_handshake -- --ignored`.
#[test]
#[ignore = "needs the mosquitto broker installed"]
fn handshake_with_mosquitto() {
    let broker = common_ws::Mosquitto::start("handshake");
    let stream = StdIo(broker.connect_ws());
    let host = format!("127.0.0.1:{}", broker.ws_port);
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let client =
        Client::new(ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]), [0x5A; 16]).unwrap();
    let mut conn = blocking::Connection::new(stream, client, &mut rx, &mut tx);
    assert_eq!(conn.handshake(clock).unwrap(), Some("mqtt"));
    let mut ws = conn.upgrade(connection::Config::new(), || [0x11, 0x22, 0x33, 0x44]);
    // MQTT 3.1.1 CONNECT in one masked binary frame; the CONNACK comes back in a frame.
    ws.send_binary(clock(), b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04ws-1").unwrap();
    loop {
        match ws.poll(clock()).unwrap() {
            Some(Event::Data { kind: MessageKind::Binary, data, last: true }) => {
                assert_eq!(data, [0x20, 0x02, 0x00, 0x00], "CONNACK 0");
                break;
            }
            _ => continue,
        }
    }
}
