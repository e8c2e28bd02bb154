//! `ws::Stream` over real TCP sockets on 127.0.0.1: the opening handshake through the blocking
//! driver (both roles), the connection turned into a stream with the buffers and what they hold,
//! then MQTT-sized binary traffic both ways through `embedded_io::{Read, Write}` with writes and
//! reads of many sizes, and a clean close.
#![cfg(feature = "ws")]

use std::net::{TcpListener, TcpStream};
use std::time::Instant as StdInstant;

use embedded_io::{Read, Write};
use mqtt_ws::io::{StdIo, blocking};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, State};
use mqtt_ws::ws::handshake::{self, Client, ClientRequest, Reject};
use mqtt_ws::ws::stream::MIN_TX_BUFFER;

fn clock() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(StdInstant::now);
    Instant::from_millis(start.elapsed().as_millis() as u64)
}

#[test]
fn mqtt_over_websocket_stream_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // 10 KiB of "packets", sent in writes of varying sizes.
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = payload.clone();

    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut rx = [0u8; 512];
        let mut tx = [0u8; MIN_TX_BUFFER + 100];
        let hs = handshake::Server::default();
        let mut conn = blocking::Connection::new(StdIo(tcp), hs, &mut rx, &mut tx);
        let accepted = conn.handshake(clock, |req| {
            assert_eq!(req.select_protocol(&["mqtt"]), Some("mqtt"));
            req.accept(Some("mqtt")).map_err(|_| Reject::BadRequest)
        });
        assert!(accepted.unwrap());
        let mut ws = conn.upgrade(Config::new()).into_stream().unwrap();
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

    let tcp = TcpStream::connect(addr).unwrap();
    let request = ClientRequest::new("127.0.0.1", "/mqtt").protocols(&["mqtt"]);
    let (mut rx, mut tx) = ([0u8; 300], [0u8; 200]);
    let hs = Client::new(request, [9; 16]).unwrap();
    let mut conn = blocking::Connection::new(StdIo(tcp), hs, &mut rx, &mut tx);
    assert_eq!(conn.handshake(clock).unwrap(), Some("mqtt"));
    let mut k = 0u32;
    let keys = move || {
        k = k.wrapping_mul(747796405).wrapping_add(2891336453);
        k.to_le_bytes()
    };
    let mut ws = conn.upgrade(Config::new(), keys).into_stream().unwrap();
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
