//! The std WebSocket helpers (`mqtt_ws::net::WebSocket`) against each other and against raw
//! requests, on 127.0.0.1: accept with an origin allow-list and a subprotocol choice, connect
//! from a URL, text and binary messages (one of 1 MiB, in many frames), ping, the closing
//! handshake both ways, and the refusals a bad origin or an oversized message get.
#![cfg(all(feature = "std", feature = "ws"))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use mqtt_ws::net::{AcceptOptions, Error, WebSocket, WsMessage};
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::handshake::{OriginPolicy, RequestError};

const ORIGINS: &[&str] = &["https://app.example"];

fn options() -> AcceptOptions<'static> {
    AcceptOptions {
        origins: Some(OriginPolicy::allow_list(ORIGINS)),
        protocols: &["mqtt", "chat"],
        max_message_len: 2 << 20,
        ..AcceptOptions::default()
    }
}

/// A server thread that accepts one connection and echoes until it closes; returns what
/// `accept_with` and the echo loop ended with.
fn echo_once() -> (u16, thread::JoinHandle<Result<Option<String>, Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = WebSocket::accept_with(tcp, &options())?;
        let protocol = ws.protocol().map(String::from);
        while let Some(message) = ws.recv()? {
            ws.send(&message)?;
        }
        Ok(protocol)
    });
    (port, server)
}

#[test]
fn client_and_server_exchange_messages_and_close() {
    let (port, server) = echo_once();
    let url = format!("ws://127.0.0.1:{port}/chat");
    let mut ws =
        WebSocket::connect_with(&url, &["chat"], &mqtt_ws::net::Options::default()).unwrap();
    assert_eq!(ws.protocol(), Some("chat"));
    ws.send_text("grüße").unwrap();
    assert_eq!(ws.recv().unwrap(), Some(WsMessage::Text("grüße".into())));
    let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7) as u8).collect();
    ws.send_binary(&big).unwrap();
    ws.ping(b"are you there").unwrap();
    assert_eq!(ws.recv().unwrap(), Some(WsMessage::Binary(big)));
    ws.close(CloseCode::Normal, "bye").unwrap();
    assert_eq!(server.join().unwrap().unwrap(), Some("chat".into()));
}

/// The driver under the helper takes the commands the helper leaves out: a message in pieces,
/// with the helper's clock.
#[test]
fn the_driver_underneath_sends_a_message_in_pieces() {
    use mqtt_ws::ws::connection::MessageKind;
    let (port, server) = echo_once();
    let mut ws = WebSocket::connect(&format!("ws://127.0.0.1:{port}")).unwrap();
    let now = ws.now();
    ws.driver().send_part(now, MessageKind::Text, b"in ", false).unwrap();
    ws.driver().send_part(now, MessageKind::Text, b"pieces", true).unwrap();
    assert_eq!(ws.recv().unwrap(), Some(WsMessage::Text("in pieces".into())));
    ws.close(CloseCode::Normal, "").unwrap();
    assert_eq!(server.join().unwrap().unwrap(), None);
}

#[test]
fn a_message_over_the_limit_is_closed_with_1009() {
    let (port, server) = echo_once();
    let mut ws = WebSocket::connect(&format!("ws://127.0.0.1:{port}")).unwrap();
    assert_eq!(ws.protocol(), None);
    // The server refuses it with 1009 and fails the connection (RFC 6455 §7.1.7): the client
    // sees the close, or a reset while it still sends.
    if ws.send_binary(&vec![1u8; 3 << 20]).is_ok() {
        assert!(!matches!(ws.recv(), Ok(Some(_))));
    }
    assert!(
        matches!(server.join().unwrap(), Err(Error::BufferTooSmall { required }) if required > 2 << 20)
    );
}

/// Sends a handshake request from a foreign origin to `port`; the answer must be 403.
fn a_foreign_origin_is_answered_403(port: u16) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        tcp,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Origin: https://evil.example\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
}

/// The server's side of a refused foreign origin.
fn assert_origin_not_allowed(e: &Error) {
    let expected = mqtt_ws::ws::handshake::Error::Request(RequestError::OriginNotAllowed);
    assert!(matches!(e, Error::Handshake(h) if *h == expected), "{e:?}");
}

#[test]
fn a_foreign_origin_gets_403() {
    let (port, server) = echo_once();
    a_foreign_origin_is_answered_403(port);
    let e = server.join().unwrap().unwrap_err();
    assert_origin_not_allowed(&e);
}

#[test]
fn urls_that_are_not_websocket_are_refused() {
    assert!(matches!(WebSocket::connect("mqtt://127.0.0.1:1"), Err(Error::Url(_))));
}

/// A tokio runtime and a listener on 127.0.0.1 it serves, with its port.
#[cfg(feature = "tokio")]
fn tokio_listener() -> (tokio::runtime::Runtime, tokio::net::TcpListener, u16) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    (rt, listener, port)
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_server_and_clients_of_both_kinds() {
    use mqtt_ws::net::tokio::WebSocket as TokioWs;
    let (rt, listener, port) = tokio_listener();
    // The tokio server echoes two connections, one after the other, on its own thread.
    let server = thread::spawn(move || {
        rt.block_on(async {
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                #[cfg(feature = "deflate")]
                let options = AcceptOptions {
                    deflate: Some(mqtt_ws::ws::deflate::ServerConfig::new()),
                    ..options()
                };
                #[cfg(not(feature = "deflate"))]
                let options = options();
                let mut ws = TokioWs::accept_with(tcp, &options).await?;
                while let Some(message) = ws.recv().await? {
                    ws.send(&message).await?;
                }
            }
            Ok::<(), Error>(())
        })
    });
    // A blocking client.
    let url = format!("ws://127.0.0.1:{port}/");
    let mut ws =
        WebSocket::connect_with(&url, &["mqtt"], &mqtt_ws::net::Options::default()).unwrap();
    assert_eq!(ws.protocol(), Some("mqtt"));
    ws.send_binary(&[1, 2, 3]).unwrap();
    assert_eq!(ws.recv().unwrap(), Some(WsMessage::Binary(vec![1, 2, 3])));
    ws.close(CloseCode::Normal, "").unwrap();
    // A tokio client (offering permessage-deflate, which the server agrees to).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        #[allow(unused_mut)]
        let mut options = mqtt_ws::net::Options { default_path: "/", ..Default::default() };
        #[cfg(feature = "deflate")]
        {
            options.deflate = Some(mqtt_ws::ws::deflate::ClientConfig::new());
        }
        let mut ws = TokioWs::connect_with(&url, &[], &options).await.unwrap();
        ws.send_text("hallo").await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(WsMessage::Text("hallo".into())));
        let long = "hallo ".repeat(5000);
        ws.send_text(&long).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(WsMessage::Text(long)));
        ws.close(CloseCode::Normal, "").await.unwrap();
    });
    server.join().unwrap().unwrap();
}

/// The frames of one direction of a recorded connection (after the handshake head): for each,
/// (RSV1 set, opcode, payload length).
#[cfg(feature = "deflate")]
fn frames(bytes: &[u8]) -> Vec<(bool, u8, usize)> {
    let head = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a handshake head") + 4;
    let mut rest = &bytes[head..];
    let mut out = Vec::new();
    while rest.len() >= 2 {
        let (b0, b1) = (rest[0], rest[1]);
        let (len, mut at) = match b1 & 0x7f {
            126 => (usize::from(u16::from_be_bytes([rest[2], rest[3]])), 4),
            127 => (u64::from_be_bytes(rest[2..10].try_into().unwrap()) as usize, 10),
            n => (usize::from(n), 2),
        };
        if b1 & 0x80 != 0 {
            at += 4; // the masking key
        }
        out.push((b0 & 0x40 != 0, b0 & 0x0f, len));
        rest = &rest[(at + len).min(rest.len())..];
    }
    out
}

/// What a [`tap`] saw: client to server, server to client.
#[cfg(feature = "deflate")]
type Recording = (Vec<u8>, Vec<u8>);

/// A proxy on 127.0.0.1 that records both directions of one connection to `upstream`; the
/// handle gives (client to server, server to client) once both ends closed.
#[cfg(feature = "deflate")]
fn tap(upstream: u16) -> (u16, thread::JoinHandle<Recording>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (down, _) = listener.accept().unwrap();
        let up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
        let copy = |mut from: TcpStream, mut to: TcpStream| {
            thread::spawn(move || {
                let (mut seen, mut buf) = (Vec::new(), [0u8; 8192]);
                while let Ok(n @ 1..) = from.read(&mut buf) {
                    seen.extend_from_slice(&buf[..n]);
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Write);
                seen
            })
        };
        let sent = copy(down.try_clone().unwrap(), up.try_clone().unwrap());
        let received = copy(up, down);
        (sent.join().unwrap(), received.join().unwrap())
    });
    (port, handle)
}

#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_both_ways() {
    use mqtt_ws::ws::deflate::{ClientConfig, ServerConfig};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let options =
            AcceptOptions { deflate: Some(ServerConfig::new()), ..AcceptOptions::default() };
        let mut ws = WebSocket::accept_with(tcp, &options)?;
        while let Some(message) = ws.recv()? {
            ws.send(&message)?;
        }
        Ok::<_, Error>(())
    });
    let (port, recording) = tap(upstream);
    let options =
        mqtt_ws::net::Options { deflate: Some(ClientConfig::new()), ..Default::default() };
    let mut ws =
        WebSocket::connect_with(&format!("ws://127.0.0.1:{port}/"), &[], &options).unwrap();
    let text = "{\"sensor\":\"greenhouse\",\"temperature\":21.5} ".repeat(200);
    let noise: Vec<u8> =
        (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for message in
        [WsMessage::Text(text.clone()), WsMessage::Binary(noise), WsMessage::Text("".into())]
    {
        ws.send(&message).unwrap();
        assert_eq!(ws.recv().unwrap(), Some(message));
    }
    ws.close(CloseCode::Normal, "").unwrap();
    drop(ws);
    server.join().unwrap().unwrap();
    let (sent, received) = recording.join().unwrap();
    let head =
        String::from_utf8_lossy(&sent[..sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap()]);
    assert!(head.contains("permessage-deflate"), "offered: {head}");
    // Every data message went compressed (RSV1 on its first frame, RFC 7692 §6) both ways,
    // the text at a fraction of its size; control frames never carry RSV1.
    for (direction, bytes) in [("client", &sent), ("server", &received)] {
        let all = frames(bytes);
        let starts: Vec<_> = all.iter().filter(|f| f.1 == 1 || f.1 == 2).collect();
        assert_eq!(starts.len(), 3, "{direction}: {all:?}");
        assert!(starts.iter().all(|f| f.0), "{direction}: {all:?}");
        assert!(starts[0].2 * 10 < text.len(), "{direction}: {all:?}");
        assert!(all.iter().filter(|f| f.1 == 0 || f.1 >= 8).all(|f| !f.0), "{all:?}");
    }
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_server_refuses_a_foreign_origin_and_connect_takes_a_plain_url() {
    use mqtt_ws::net::tokio::WebSocket as TokioWs;
    let (rt, listener, port) = tokio_listener();
    let server = thread::spawn(move || {
        rt.block_on(async {
            // The first: a foreign origin, refused.
            let (tcp, _) = listener.accept().await.unwrap();
            let refused = TokioWs::accept_with(tcp, &options()).await.map(|_| ());
            // The second: a client with no Origin (not a browser), echoed once.
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = TokioWs::accept(tcp).await.unwrap();
            let message = ws.recv().await.unwrap().unwrap();
            ws.send(&message).await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), None, "the client closes");
            refused
        })
    });
    a_foreign_origin_is_answered_403(port);
    let client = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    client.block_on(async {
        let mut ws = TokioWs::connect(&format!("ws://127.0.0.1:{port}")).await.unwrap();
        ws.send_binary(&[7; 300]).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(WsMessage::Binary(vec![7; 300])));
        ws.close(CloseCode::Normal, "").await.unwrap();
    });
    let e = server.join().unwrap().unwrap_err();
    assert_origin_not_allowed(&e);
}
