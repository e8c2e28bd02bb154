//! MQTT over WebSocket through `ws::Stream` against a real Mosquitto broker (its WebSocket
//! listener): CONNECT / CONNACK, SUBSCRIBE / SUBACK, a PUBLISH larger than the stream's send
//! buffer (so it crosses WebSocket messages both ways), PINGREQ / PINGRESP, and a clean close.
//! Starts its own broker on free ports; run with
//! `cargo test --test ws_stream_mosquitto -- --ignored` (needs `mosquitto` installed).
#![cfg(feature = "ws")]

mod common_ws;

use embedded_io::{Read, Write};
use mqtt_ws::io::{DriverError, StdIo, blocking};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, State};
use mqtt_ws::ws::handshake::{Client, ClientRequest};
use mqtt_ws::ws::stream::Stream;

fn read_exact<T: Read + Write>(
    ws: &mut Stream<'_, T, impl FnMut() -> [u8; 4]>,
    buf: &mut [u8],
) -> Result<(), DriverError<T::Error, mqtt_ws::ws::Error>> {
    let mut got = 0;
    while got < buf.len() {
        let n = ws.read(&mut buf[got..])?;
        assert!(n > 0, "the broker closed the WebSocket");
        got += n;
    }
    Ok(())
}

/// Reads one MQTT packet: (first byte, body).
fn read_packet<T: Read + Write>(ws: &mut Stream<'_, T, impl FnMut() -> [u8; 4]>) -> (u8, Vec<u8>)
where
    T::Error: std::fmt::Debug,
{
    let mut b = [0u8; 1];
    read_exact(ws, &mut b).unwrap();
    let first = b[0];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        read_exact(ws, &mut b).unwrap();
        len |= usize::from(b[0] & 0x7f) << shift;
        shift += 7;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    read_exact(ws, &mut body).unwrap();
    (first, body)
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        p.push(b);
        if len == 0 {
            break;
        }
    }
    p.extend_from_slice(body);
    p
}

#[test]
#[ignore = "needs the mosquitto broker installed"]
fn mqtt_over_ws_stream_with_mosquitto() {
    let broker = common_ws::Mosquitto::start("stream");
    let ws_port = broker.ws_port;
    let tcp = StdIo(broker.connect_ws());
    let clock = || Instant::ZERO;

    // Opening handshake through the driver, offering the `mqtt` subprotocol.
    let host = format!("127.0.0.1:{ws_port}");
    let client =
        Client::new(ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]), [0x3c; 16]).unwrap();
    let (mut rx, mut tx) = ([0u8; 700], [0u8; 1024]);
    let mut hs = blocking::Connection::new(tcp, client, &mut rx, &mut tx);
    assert_eq!(hs.handshake(clock).unwrap(), Some("mqtt"));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let keys = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed as u32).to_le_bytes()
    };
    let mut ws = hs.upgrade(Config::new(), keys).into_stream().unwrap();

    // CONNECT (MQTT 3.1.1, clean session, keep-alive 60 s) -> CONNACK accepted.
    ws.write_all(&packet(0x10, b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x07ws-strm")).unwrap();
    ws.flush().unwrap();
    assert_eq!(read_packet(&mut ws), (0x20, vec![0x00, 0x00]));

    // SUBSCRIBE ws/t QoS 0 -> SUBACK.
    ws.write_all(&packet(0x82, b"\x00\x01\x00\x04ws/t\x00")).unwrap();
    ws.flush().unwrap();
    assert_eq!(read_packet(&mut ws), (0x90, vec![0x00, 0x01, 0x00]));

    // PUBLISH 5000 bytes to ourselves: five WebSocket messages out, and back in whatever
    // framing the broker picks.
    let payload: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    let mut body = b"\x00\x04ws/t".to_vec();
    body.extend_from_slice(&payload);
    ws.write_all(&packet(0x30, &body)).unwrap();
    ws.flush().unwrap();
    let (first, got) = read_packet(&mut ws);
    assert_eq!(first, 0x30);
    assert_eq!(got, body);

    // PINGREQ -> PINGRESP.
    ws.write_all(&[0xc0, 0x00]).unwrap();
    ws.flush().unwrap();
    assert_eq!(read_packet(&mut ws), (0xd0, vec![]));

    // DISCONNECT, then the WebSocket closing handshake.
    ws.write_all(&[0xe0, 0x00]).unwrap();
    ws.flush().unwrap();
    ws.close(CloseCode::Normal).unwrap();
    assert_ne!(ws.connection().state(), State::Open);
}
