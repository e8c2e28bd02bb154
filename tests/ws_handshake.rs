//! The HTTP/1.1 opening handshake through the public API: a client and a server wired in
//! memory with bytes arriving in arbitrary chunks, the refusals a server sends, and (ignored by
//! default, needs `mosquitto` installed) a handshake with a real Mosquitto broker.
#![cfg(feature = "ws")]

mod common_ws;

use mqtt_ws::ws::handshake::{
    Client, ClientRequest, EncodeError, Limits, MissingOrigin, OriginPolicy, Reject, RequestError,
    RequestParser, ResponseError, Status,
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

/// Feeds `bytes` to `step` in chunks of 1..=max bytes until it gives a non-`Partial` result.
fn feed<T, E>(
    bytes: &[u8],
    rng: &mut Lcg,
    max: u64,
    mut step: impl FnMut(usize) -> Result<Status<T>, E>,
) -> Result<T, E> {
    let mut end = 0;
    loop {
        end = (end + 1 + (rng.next() % max) as usize).min(bytes.len());
        match step(end)? {
            Status::Complete(t) => return Ok(t),
            Status::Partial => assert!(end < bytes.len(), "complete input stayed partial"),
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
        let req = feed(&wire, &mut rng, max, |end| parser.parse(&wire[..end])).unwrap();
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

        let accepted =
            feed(&reply, &mut rng, max, |end| client.handle_response(&reply[..end])).unwrap();
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
    let Ok(Status::Complete(req)) = parser.parse(&wire) else { panic!("valid request") };
    let strict =
        OriginPolicy::allow_list(&["https://app.example.com"]).missing(MissingOrigin::Refuse);
    let refusal = req.check_origin(&strict).unwrap_err();
    assert_eq!(refusal, RequestError::OriginNotAllowed);
    let mut reply = [0u8; 128];
    let n = refusal.reject().encode(&mut reply).unwrap();
    assert_eq!(client.handle_response(&reply[..n]), Err(ResponseError::Status(403)));
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
    while result == Ok(Status::Partial) {
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
    assert_eq!(client.handle_response(&resp), Err(ResponseError::HeadTooLarge));
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

/// Mosquitto's WebSocket listener: it answers `Upgrade: WebSocket` and echoes `mqtt`. Starts
/// its own broker on a free port; run with `cargo test --test ws_handshake -- --ignored`.
#[test]
#[ignore = "needs the mosquitto broker installed"]
fn handshake_with_mosquitto() {
    use std::io::{Read, Write};

    let broker = common_ws::Mosquitto::start("handshake");
    let ws_port = broker.ws_port;
    let mut stream = broker.connect_ws();

    let host = format!("127.0.0.1:{ws_port}");
    let mut client =
        Client::new(ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]), [0x5A; 16]).unwrap();
    let mut out = vec![0u8; client.request_len()];
    client.encode_request(&mut out).unwrap();
    stream.write_all(&out).unwrap();

    let mut buf = vec![0u8; 0];
    let mut chunk = [0u8; 256];
    let (head_len, protocol) = loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "mosquitto closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
        if let Status::Complete(a) = client.handle_response(&buf).unwrap() {
            break (a.head_len(), a.protocol().map(str::to_owned));
        }
    };
    assert_eq!(protocol.as_deref(), Some("mqtt"));

    // MQTT 3.1.1 CONNECT in one masked binary frame; the CONNACK comes back in a frame.
    let connect = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04ws-1";
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut frame = vec![0x82, 0x80 | connect.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(connect.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    stream.write_all(&frame).unwrap();
    let mut rest = buf[head_len..].to_vec();
    while rest.len() < 6 {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "mosquitto closed before CONNACK");
        rest.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(&rest[..6], &[0x82, 0x04, 0x20, 0x02, 0x00, 0x00], "binary frame with CONNACK 0");
}
