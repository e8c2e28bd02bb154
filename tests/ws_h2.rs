//! RFC 8441 end to end: an `h2` server with the extended CONNECT protocol enabled and an `h2`
//! client, both mapping the WebSocket handshake with `ws::handshake::extended_connect`, then
//! WebSocket frames exchanged over the one HTTP/2 stream by a `ws::connection::Connection` at
//! each end; permessage-deflate negotiated through the mapping; an MQTT client and server
//! session on `ws::Stream` over such a stream.
#![cfg(all(feature = "ws", feature = "mqtt", feature = "deflate", feature = "tokio"))]

mod common_headers;
mod common_tunnel;

use bytes::Bytes;
use h2::RecvStream;
use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, Connection, Event, MaskKeys, MessageKind, State};
use mqtt_ws::ws::deflate::{Agreement, ClientConfig as DeflateClient, ServerConfig};
use mqtt_ws::ws::handshake::extended_connect::{ClientConnect, ServerConnect};
use mqtt_ws::ws::handshake::{OriginPolicy, ResponseError};
use tokio::io::DuplexStream;

use common_headers::{build_request, build_response, request_list, response_list};

const ORIGIN: &str = "https://app.example.com";

/// h2's `:protocol`.
fn h2_protocol(builder: http::request::Builder, value: &str) -> http::request::Builder {
    builder.extension(h2::ext::Protocol::from(value))
}

/// The server: accepts one extended CONNECT, validates it with the mapping, answers, then
/// echoes WebSocket data frames (unmasked, as a server sends them) until a Close, which it
/// answers.
async fn server(io: DuplexStream) {
    let mut conn =
        h2::server::Builder::new().enable_connect_protocol().handshake(io).await.unwrap();
    let (req, mut respond) = conn.accept().await.unwrap().unwrap();
    tokio::spawn(async move { while conn.accept().await.is_some() {} });

    let list = request_list(&req, req.extensions().get::<h2::ext::Protocol>().map(|p| p.as_str()));
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
    let mut ws = Connection::server(Config::new());
    let mut rx = Vec::new();
    let mut out = vec![0u8; 1024];
    loop {
        match next_message(&mut ws, &mut body, &mut rx).await {
            Message::Data(kind, data) => {
                assert_eq!(kind, MessageKind::Binary);
                let n = ws.encode_binary(&mut out, &data).unwrap();
                send.send_data(Bytes::copy_from_slice(&out[..n]), false).unwrap();
            }
            Message::Close(code) => {
                assert_eq!(code, Some(CloseCode::Normal));
                // The reply close frame is queued by the connection (RFC 6455 §5.5.1).
                let n =
                    ws.poll_transmit(Instant::ZERO, &mut out).unwrap().expect("close reply owed");
                send.send_data(Bytes::copy_from_slice(&out[..n]), true).unwrap();
                assert_eq!(ws.state(), State::Closed);
                return;
            }
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
    let request = build_request(offer.headers().unwrap(), h2_protocol);
    let (response, mut send) = client.send_request(request, false).unwrap();
    let response = response.await.unwrap();
    let list = response_list(&response);
    let accepted = offer.validate_response(&list).unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.protocol(), Some("mqtt"));

    // An MQTT 3.1.1 CONNECT, a PINGREQ and a larger payload in binary messages, then the close
    // handshake.
    let mut body = response.into_body();
    let mut keys = 0u32;
    let mut ws = Connection::client(Config::new(), move || {
        keys = keys.wrapping_mul(2_654_435_761).wrapping_add(0x9E37_79B9);
        keys.to_be_bytes()
    });
    let mut rx = Vec::new();
    let mut out = vec![0u8; 1024];
    let connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00";
    for payload in [&connect[..], b"\xc0\x00", &[0xAB; 300][..]] {
        let n = ws.encode_binary(&mut out, payload).unwrap();
        assert_ne!(&out[n - payload.len()..n], payload, "RFC 6455 §5.1: a client masks");
        send.send_data(Bytes::copy_from_slice(&out[..n]), false).unwrap();
        let echo = next_message(&mut ws, &mut body, &mut rx).await;
        assert_eq!(echo, Message::Data(MessageKind::Binary, payload.to_vec()));
    }
    ws.close(CloseCode::Normal, "").unwrap();
    let n = ws.poll_transmit(Instant::ZERO, &mut out).unwrap().expect("close frame queued");
    send.send_data(Bytes::copy_from_slice(&out[..n]), true).unwrap();
    let close = next_message(&mut ws, &mut body, &mut rx).await;
    assert_eq!(close, Message::Close(Some(CloseCode::Normal)));
    assert_eq!(ws.state(), State::Closed);
    server.await.unwrap();
}

/// Sends a raw header list (bypassing `ClientConnect`) and returns how the client side of the
/// mapping judges the answer.
async fn exchange(list: &[(&str, &str)], offer: &ClientConnect<'_>) -> Result<u16, ResponseError> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(server(server_io));
    let mut client = client_connection(client_io).await;
    let (response, _send) =
        client.send_request(build_request(list.iter().copied(), h2_protocol), true).unwrap();
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

/// What the tunnel server runs inside the accepted stream.
#[derive(Clone, Copy)]
enum Inside {
    Echo,
    Mqtt,
}

/// The DATA of an HTTP/2 stream as a tokio byte pipe (see `common_tunnel`): what arrives is
/// read from the returned end, what is written to it is sent; its end ends the stream.
fn bridge(mut recv: RecvStream, mut send: h2::SendStream<Bytes>) -> DuplexStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (mut read, mut write) = tokio::io::split(ours);
    tokio::spawn(async move {
        while let Some(Ok(chunk)) = recv.data().await {
            let _ = recv.flow_control().release_capacity(chunk.len());
            if write.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if send.send_data(Bytes::copy_from_slice(&buf[..n]), false).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = send.send_data(Bytes::new(), true);
    });
    theirs
}

/// A server that maps the handshake (agreeing to `mqtt` and permessage-deflate) and runs
/// `inside` on the stream.
async fn tunnel_server(io: DuplexStream, inside: Inside) {
    let mut conn =
        h2::server::Builder::new().enable_connect_protocol().handshake(io).await.unwrap();
    let (req, mut respond) = conn.accept().await.unwrap().unwrap();
    tokio::spawn(async move { while conn.accept().await.is_some() {} });
    let list = request_list(&req, req.extensions().get::<h2::ext::Protocol>().map(|p| p.as_str()));
    let parsed = ServerConnect::parse(&list).unwrap();
    let agreement = ServerConfig::new().accept(parsed.extensions());
    let element = agreement.as_ref().map(Agreement::response);
    let accepted: Vec<&str> = element.iter().map(|e| e.as_str()).collect();
    let response = build_response(parsed.accept_with(Some("mqtt"), &accepted).unwrap());
    let send = respond.send_response(response, false).unwrap();
    let io = bridge(req.into_body(), send);
    match inside {
        Inside::Echo => assert_eq!(common_tunnel::echo_server(io, agreement).await, 4),
        Inside::Mqtt => assert_eq!(common_tunnel::mqtt_server(io).await.len(), 3),
    }
}

/// The client side of [`tunnel_server`]: the stream as a pipe and what was agreed.
async fn tunnel_client(
    client: &mut h2::client::SendRequest<Bytes>,
) -> (DuplexStream, Option<Agreement>) {
    let deflate = DeflateClient::new();
    let element = deflate.offer();
    let offers = [element.as_str()];
    let offer = ClientConnect::new("https", "broker.example.com", "/mqtt")
        .protocols(&["mqtt"])
        .extensions(&offers);
    let (response, send) =
        client.send_request(build_request(offer.headers().unwrap(), h2_protocol), false).unwrap();
    let response = response.await.unwrap();
    let list = response_list(&response);
    let accepted = offer.validate_response(&list).unwrap();
    assert_eq!(accepted.protocol(), Some("mqtt"));
    let agreement = deflate.agreed(accepted.extensions()).unwrap();
    (bridge(response.into_body(), send), agreement)
}

#[tokio::test]
async fn websocket_with_permessage_deflate_over_http2() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(tunnel_server(server_io, Inside::Echo));
    let mut client = client_connection(client_io).await;
    let (io, agreement) = tunnel_client(&mut client).await;
    assert!(agreement.is_some(), "the server agreed to permessage-deflate");
    common_tunnel::echo_client(io, agreement).await;
    server.await.unwrap();
}

#[tokio::test]
async fn mqtt_over_websocket_over_http2() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(tunnel_server(server_io, Inside::Mqtt));
    let mut client = client_connection(client_io).await;
    let (io, _) = tunnel_client(&mut client).await;
    assert_eq!(common_tunnel::mqtt_client(io).await.len(), 3);
    server.await.unwrap();
}

// --- Reading whole messages from the HTTP/2 stream ----------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum Message {
    Data(MessageKind, Vec<u8>),
    Close(Option<CloseCode>),
}

/// Runs `ws` over the DATA of `body` until a whole data message or a close frame arrives.
/// DATA chunks need not align with frames; `rx` keeps the bytes not consumed yet.
async fn next_message<K: MaskKeys>(
    ws: &mut Connection<K>,
    body: &mut RecvStream,
    rx: &mut Vec<u8>,
) -> Message {
    let mut message: Option<(MessageKind, Vec<u8>)> = None;
    loop {
        let (consumed, done) = match ws.handle_input(Instant::ZERO, rx).unwrap() {
            Status::Progress { consumed, event } => {
                let done = match event {
                    Some(Event::Data { kind, data, last }) => {
                        message.get_or_insert_with(|| (kind, Vec::new())).1.extend_from_slice(data);
                        last.then(|| {
                            let (kind, data) = message.take().unwrap();
                            Message::Data(kind, data)
                        })
                    }
                    Some(Event::Close { code, .. }) => Some(Message::Close(code)),
                    Some(Event::Ping(_) | Event::Pong(_)) | None => None,
                };
                (consumed, done)
            }
            Status::NeedMore { .. } => {
                let chunk = body.data().await.expect("stream ended inside a frame").unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
                rx.extend_from_slice(&chunk);
                continue;
            }
            Status::Closed | Status::Blocked => {
                panic!("connection closed while a message was awaited")
            }
        };
        rx.drain(..consumed);
        if let Some(m) = done {
            return m;
        }
    }
}
