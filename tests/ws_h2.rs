//! RFC 8441 end to end: an `h2` server with the extended CONNECT protocol enabled and an `h2`
//! client, both mapping the WebSocket handshake with `ws::handshake::extended_connect`, then
//! WebSocket frames exchanged over the one HTTP/2 stream.
//!
//! The frames are built and parsed by the small RFC 6455 §5.2 helpers at the end of this file,
//! so that the test depends on the handshake only.

use bytes::Bytes;
use h2::RecvStream;
use http::{Method, Request, Response, StatusCode};
use mqtt_ws::ws::handshake::extended_connect::{ClientConnect, ServerConnect};
use mqtt_ws::ws::handshake::{OriginPolicy, ResponseError};
use tokio::io::DuplexStream;

const ORIGIN: &str = "https://app.example.com";

/// Turns what the h2 server received into the header list the mapping reads.
fn request_list(req: &Request<RecvStream>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut list: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut pseudo = |n: &str, v: &str| list.push((n.into(), v.into()));
    pseudo(":method", req.method().as_str());
    if let Some(p) = req.extensions().get::<h2::ext::Protocol>() {
        pseudo(":protocol", p.as_str());
    }
    if let Some(s) = req.uri().scheme_str() {
        pseudo(":scheme", s);
    }
    if let Some(p) = req.uri().path_and_query() {
        pseudo(":path", p.as_str());
    }
    if let Some(a) = req.uri().authority() {
        pseudo(":authority", a.as_str());
    }
    for (name, value) in req.headers() {
        list.push((name.as_str().into(), value.as_bytes().into()));
    }
    list
}

/// Turns a header list from the mapping into an h2 request.
fn build_request<'a>(list: impl Iterator<Item = (&'a str, &'a str)>) -> Request<()> {
    let (mut scheme, mut authority, mut path) = ("", "", "");
    let mut builder = Request::builder();
    for (name, value) in list {
        match name {
            ":method" => builder = builder.method(Method::from_bytes(value.as_bytes()).unwrap()),
            ":protocol" => builder = builder.extension(h2::ext::Protocol::from(value)),
            ":scheme" => scheme = value,
            ":authority" => authority = value,
            ":path" => path = value,
            _ => builder = builder.header(name, value),
        }
    }
    builder.uri(format!("{scheme}://{authority}{path}")).body(()).unwrap()
}

/// Turns a header list from the mapping into an h2 response.
fn build_response<'a>(list: impl Iterator<Item = (&'a str, &'a str)>) -> Response<()> {
    let mut builder = Response::builder();
    for (name, value) in list {
        match name {
            ":status" => {
                builder = builder.status(StatusCode::from_bytes(value.as_bytes()).unwrap())
            }
            _ => builder = builder.header(name, value),
        }
    }
    builder.body(()).unwrap()
}

/// Turns what the h2 client received into the header list the mapping reads.
fn response_list(resp: &Response<RecvStream>) -> Vec<(String, Vec<u8>)> {
    let mut list = vec![(":status".to_string(), resp.status().as_str().as_bytes().to_vec())];
    for (name, value) in resp.headers() {
        list.push((name.as_str().to_string(), value.as_bytes().to_vec()));
    }
    list
}

/// The server: accepts one extended CONNECT, validates it with the mapping, answers, then
/// echoes WebSocket data frames (unmasked, as a server sends them) until a Close, which it
/// answers.
async fn server(io: DuplexStream) {
    let mut conn =
        h2::server::Builder::new().enable_connect_protocol().handshake(io).await.unwrap();
    let (req, mut respond) = conn.accept().await.unwrap().unwrap();
    tokio::spawn(async move { while conn.accept().await.is_some() {} });

    let list = request_list(&req);
    let parsed = ServerConnect::parse(&list);
    let parsed = match parsed
        .and_then(|r| r.check_origin(&OriginPolicy::allow_list(&[ORIGIN])).map(|_| r))
    {
        Ok(r) => r,
        Err(e) => {
            let response = build_response(e.reject().connect_headers());
            respond.send_response(response, true).unwrap();
            return;
        }
    };
    assert_eq!(parsed.path(), "/mqtt");
    let protocol = parsed.select_protocol(&["mqtt"]);
    let response = build_response(parsed.accept(protocol).unwrap());
    let mut send = respond.send_response(response, false).unwrap();

    let mut body = req.into_body();
    let mut reader = FrameReader::default();
    loop {
        let frame = reader.next(&mut body).await;
        assert!(frame.masked, "RFC 6455 §5.1: a client masks every frame");
        match frame.opcode {
            OP_CLOSE => {
                send.send_data(encode_frame(OP_CLOSE, &frame.payload, None), true).unwrap();
                return;
            }
            op => send.send_data(encode_frame(op, &frame.payload, None), false).unwrap(),
        }
    }
}

async fn client_connection(io: DuplexStream) -> h2::client::SendRequest<Bytes> {
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    // RFC 8441 §3: only after the server's SETTINGS_ENABLE_CONNECT_PROTOCOL.
    for _ in 0..1000 {
        if client.is_extended_connect_protocol_enabled() {
            return client;
        }
        tokio::task::yield_now().await;
        client = client.ready().await.unwrap();
    }
    panic!("the server never enabled the extended CONNECT protocol");
}

#[tokio::test]
async fn websocket_over_one_http2_stream() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(server(server_io));
    let mut client = client_connection(client_io).await;

    let offer = ClientConnect::new("https", "broker.example.com", "/mqtt")
        .protocols(&["mqtt", "mqttv3.1"])
        .origin(ORIGIN);
    let request = build_request(offer.headers().unwrap());
    let (response, mut send) = client.send_request(request, false).unwrap();
    let response = response.await.unwrap();
    let list = response_list(&response);
    let accepted = offer.validate_response(&list).unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.protocol(), Some("mqtt"));

    // An MQTT 3.1.1 CONNECT and PINGREQ in binary frames, the close handshake after them.
    let mut body = response.into_body();
    let mut reader = FrameReader::default();
    let connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00";
    for (i, payload) in [&connect[..], b"\xc0\x00", &[0xAB; 300][..]].iter().enumerate() {
        let mask = [i as u8, 0x37, 0xFA, 0x21];
        send.send_data(encode_frame(OP_BINARY, payload, Some(mask)), false).unwrap();
        let echo = reader.next(&mut body).await;
        assert!(!echo.masked, "RFC 6455 §5.1: a server never masks");
        assert_eq!((echo.opcode, echo.payload.as_slice()), (OP_BINARY, *payload));
    }
    send.send_data(encode_frame(OP_CLOSE, &1000u16.to_be_bytes(), Some([1, 2, 3, 4])), true)
        .unwrap();
    let close = reader.next(&mut body).await;
    assert_eq!((close.opcode, close.payload.as_slice()), (OP_CLOSE, &1000u16.to_be_bytes()[..]));
    server.await.unwrap();
}

/// Sends a raw header list (bypassing `ClientConnect`) and returns how the client side of the
/// mapping judges the answer.
async fn exchange(list: &[(&str, &str)], offer: &ClientConnect<'_>) -> Result<u16, ResponseError> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(server(server_io));
    let mut client = client_connection(client_io).await;
    let (response, _send) = client.send_request(build_request(list.iter().copied()), true).unwrap();
    let response = response.await.unwrap();
    let list = response_list(&response);
    let result = offer.validate_response(&list).map(|a| a.status());
    server.await.unwrap();
    result
}

#[tokio::test]
async fn refusals_travel_as_http2_statuses() {
    let offer = ClientConnect::new("https", "broker.example.com", "/mqtt").protocols(&["mqtt"]);
    let base = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/mqtt"),
        (":authority", "broker.example.com"),
        ("sec-websocket-protocol", "mqtt"),
    ];
    // Another WebSocket version: 426 (RFC 6455 §4.4).
    let mut list = base.to_vec();
    list.push(("sec-websocket-version", "8"));
    assert_eq!(exchange(&list, &offer).await, Err(ResponseError::Status(426)));
    // A foreign browser origin: 403 (RFC 6455 §10.2).
    let mut list = base.to_vec();
    list.push(("sec-websocket-version", "13"));
    list.push(("origin", "https://evil.example.net"));
    assert_eq!(exchange(&list, &offer).await, Err(ResponseError::Status(403)));
    // No version at all: 400.
    assert_eq!(exchange(&base, &offer).await, Err(ResponseError::Status(400)));
}

// --- Minimal RFC 6455 §5.2 frames for this test -------------------------------------------

const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;

/// A final frame with a payload shorter than 64 KiB, masked when `mask` is given.
fn encode_frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Bytes {
    let mut out = vec![0x80 | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    Bytes::from(out)
}

struct Frame {
    opcode: u8,
    masked: bool,
    payload: Vec<u8>,
}

/// Reassembles frames from HTTP/2 DATA chunks, which need not align with frames.
#[derive(Default)]
struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    async fn next(&mut self, body: &mut RecvStream) -> Frame {
        loop {
            if let Some((frame, used)) = decode_frame(&self.buf) {
                self.buf.drain(..used);
                return frame;
            }
            let chunk = body.data().await.expect("stream ended inside a frame").unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            self.buf.extend_from_slice(&chunk);
        }
    }
}

fn decode_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    assert_eq!(b0 & 0xF0, 0x80, "only final frames without RSV bits are sent here");
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7F {
        126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
        127 => panic!("no 64-bit lengths are sent here"),
        n => (n as usize, 2),
    };
    let key = if masked {
        let key: [u8; 4] = buf.get(at..at + 4)?.try_into().unwrap();
        at += 4;
        Some(key)
    } else {
        None
    };
    let data = buf.get(at..at + len)?;
    let payload = match key {
        Some(k) => data.iter().enumerate().map(|(i, b)| b ^ k[i % 4]).collect(),
        None => data.to_vec(),
    };
    Some((Frame { opcode: b0 & 0x0F, masked, payload }, at + len))
}
