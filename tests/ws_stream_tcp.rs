//! `ws::Stream` over real TCP sockets on 127.0.0.1: opening handshake on the socket, bytes left
//! over after the handshake handed in, then MQTT-sized binary traffic both ways through
//! `embedded_io::{Read, Write}` with writes and reads of many sizes, and a clean close.
#![cfg(feature = "ws")]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};

use embedded_io::{Read, Write};
use mqtt_ws::io::StdIo;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, Connection, State};
use mqtt_ws::ws::handshake::{Client, ClientRequest, RequestParser, Status};
use mqtt_ws::ws::stream::{MIN_TX_BUFFER, Stream};

/// Reads a whole handshake head into `rx` and returns (head length, bytes received).
fn read_head(
    tcp: &mut TcpStream,
    rx: &mut [u8],
    mut done: impl FnMut(&[u8]) -> Option<usize>,
) -> (usize, usize) {
    let mut len = 0;
    loop {
        let n = tcp.read(&mut rx[len..]).unwrap();
        assert!(n > 0, "peer went away during the handshake");
        len += n;
        if let Some(head) = done(&rx[..len]) {
            return (head, len);
        }
    }
}

#[test]
fn mqtt_over_websocket_stream_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // 10 KiB of "packets", sent in writes of varying sizes.
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = payload.clone();

    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut rx = [0u8; 512];
        let mut parser = RequestParser::default();
        let mut reply = tcp.try_clone().unwrap();
        let (head, received) =
            read_head(&mut tcp, &mut rx, |buf| match parser.parse(buf).unwrap() {
                Status::Complete(req) => {
                    assert_eq!(req.select_protocol(&["mqtt"]), Some("mqtt"));
                    let mut out = [0u8; 256];
                    let n = req.accept(Some("mqtt")).unwrap().encode(&mut out).unwrap();
                    reply.write_all(&out[..n]).unwrap();
                    Some(req.head_len())
                }
                Status::Partial => None,
            });
        // Frames the client sent right behind its request go to the stream.
        let mut tx = [0u8; MIN_TX_BUFFER + 100];
        let conn = Connection::server(Config::new());
        let mut ws =
            Stream::new_after_handshake(StdIo(tcp), conn, &mut rx, head..received, &mut tx)
                .unwrap();
        // Echo everything until the client closes.
        let mut got = Vec::new();
        let mut buf = [0u8; 333];
        loop {
            let n = ws.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            ws.write_all(&buf[..n]).unwrap();
            ws.flush().unwrap();
        }
        assert_eq!(ws.connection().state(), State::Closed);
        got
    });

    let mut tcp = TcpStream::connect(addr).unwrap();
    let request = ClientRequest::new("127.0.0.1", "/mqtt").protocols(&["mqtt"]);
    let mut client = Client::new(request, [9; 16]).unwrap();
    let mut out = [0u8; 512];
    let n = client.encode_request(&mut out).unwrap();
    tcp.write_all(&out[..n]).unwrap();
    let mut rx = [0u8; 300];
    let (head, received) = read_head(&mut tcp, &mut rx, |buf| {
        client.handle_response(buf).unwrap().complete().map(|a| a.head_len())
    });
    let mut tx = [0u8; 200];
    let mut k = 0u32;
    let conn = Connection::client(Config::new(), move || {
        k = k.wrapping_mul(747796405).wrapping_add(2891336453);
        k.to_le_bytes()
    });
    let mut ws =
        Stream::new_after_handshake(StdIo(tcp), conn, &mut rx, head..received, &mut tx).unwrap();
    let mut echoed = Vec::new();
    let mut sizes = [1usize, 2, 5, 64, 186, 700].iter().cycle();
    let mut sent = 0;
    let mut buf = [0u8; 97];
    while sent < payload.len() {
        let end = (sent + sizes.next().unwrap()).min(payload.len());
        ws.write_all(&payload[sent..end]).unwrap();
        sent = end;
        // Read back what has been echoed so far (at least one byte).
        while echoed.len() < sent {
            let n = ws.read(&mut buf).unwrap();
            assert!(n > 0);
            echoed.extend_from_slice(&buf[..n]);
        }
    }
    ws.close(CloseCode::Normal).unwrap();
    assert_eq!(ws.connection().state(), State::Closed);
    assert_eq!(echoed, expected);
    assert_eq!(server.join().unwrap(), expected);
}
