//! The blocking driver over a scripted in-memory transport on a virtual clock: keep-alive pings
//! while reads time out, the PINGRESP timeout, end of stream, and a large message streamed
//! through a small receive buffer.
#![cfg(feature = "mqtt")]

use std::collections::VecDeque;

use embedded_io::ErrorKind;
use mqtt_ws::io::DriverError;
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Error, Event, SliceStore, Timeout};
use mqtt_ws::time::{Duration, Instant};

/// Scripted transport: reads hand out the queued chunks, then time out; `None` is end of stream.
#[derive(Default)]
struct Script {
    inbound: VecDeque<Option<Vec<u8>>>,
    outbound: Vec<u8>,
}

impl embedded_io::ErrorType for Script {
    type Error = ErrorKind;
}

impl embedded_io::Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        match self.inbound.front_mut() {
            None => Err(ErrorKind::TimedOut),
            Some(None) => Ok(0),
            Some(Some(chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                chunk.drain(..n);
                if chunk.is_empty() {
                    self.inbound.pop_front();
                }
                Ok(n)
            }
        }
    }
}

impl embedded_io::Write for Script {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.outbound.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
enum Ev {
    Connected,
    Pong,
    Start(usize),
    Chunk(Vec<u8>),
    Other,
}

fn step(
    conn: &mut Connection<'_, Script, Client<SliceStore<'_, 4>>>,
    now: Instant,
) -> Result<Option<Ev>, DriverError<ErrorKind, Error>> {
    Ok(conn.poll(now)?.map(|e| match e {
        Event::Connected(_) => Ev::Connected,
        Event::Pong => Ev::Pong,
        Event::MessageStart { payload_len, .. } => Ev::Start(payload_len),
        Event::MessageChunk { data, .. } => Ev::Chunk(data.to_vec()),
        _ => Ev::Other,
    }))
}

#[test]
fn keep_alive_through_the_driver() {
    let (mut rx, mut tx, mut store) = ([0u8; 128], [0u8; 128], [0u8; 128]);
    let client = Client::new(SliceStore::new(&mut store), Config::new(128));
    let mut conn = Connection::new(Script::default(), client, &mut rx, &mut tx);
    let mut now = Instant::from_secs(1);
    let mut opts = ConnectOptions::new("drv");
    opts.keep_alive = 10;
    conn.connect(now, &opts).unwrap();
    assert_eq!(conn.transport().outbound[0], 0x10, "CONNECT written");
    conn.transport().outbound.clear();
    conn.transport().inbound.push_back(Some(vec![0x20, 0x03, 0x00, 0x00, 0x00]));
    assert_eq!(step(&mut conn, now).unwrap(), Some(Ev::Connected));
    // Idle: reads time out, nothing is sent until the keep alive passes.
    assert_eq!(step(&mut conn, now + Duration::from_secs(9)).unwrap(), None);
    assert!(conn.transport().outbound.is_empty());
    now = now + Duration::from_secs(10);
    assert_eq!(step(&mut conn, now).unwrap(), None);
    assert_eq!(conn.transport().outbound, [0xC0, 0x00], "PINGREQ");
    conn.transport().inbound.push_back(Some(vec![0xD0, 0x00]));
    assert_eq!(step(&mut conn, now).unwrap(), Some(Ev::Pong));
    // No PINGRESP this time: the connection is declared lost.
    now = now + Duration::from_secs(10);
    assert_eq!(step(&mut conn, now).unwrap(), None);
    now = now + Duration::from_secs(10);
    assert_eq!(
        step(&mut conn, now).unwrap_err(),
        DriverError::Machine(Error::Timeout(Timeout::PingResp))
    );
}

#[test]
fn end_of_stream_is_reported() {
    let (mut rx, mut tx, mut store) = ([0u8; 64], [0u8; 64], [0u8; 64]);
    let client = Client::new(SliceStore::new(&mut store), Config::new(64));
    let mut conn = Connection::new(Script::default(), client, &mut rx, &mut tx);
    conn.connect(Instant::ZERO, &ConnectOptions::new("eof")).unwrap();
    conn.transport().inbound.push_back(None);
    assert_eq!(step(&mut conn, Instant::ZERO).unwrap_err(), DriverError::Eof);
}

#[test]
fn large_message_through_a_small_buffer() {
    let (mut rx, mut tx, mut store) = ([0u8; 64], [0u8; 64], [0u8; 64]);
    let config = Config { stream_large_payloads: true, ..Config::new(64) };
    let client = Client::new(SliceStore::new(&mut store), config);
    let mut conn = Connection::new(Script::default(), client, &mut rx, &mut tx);
    conn.connect(Instant::ZERO, &ConnectOptions::new("big")).unwrap();
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let mut packet = vec![0x30, 0xB2, 0x02, 0x00, 0x03, b'b', b'/', b'x', 0x00];
    packet.extend_from_slice(&payload);
    assert_eq!(packet.len(), 3 + 0x132);
    let mut script = vec![0x20, 0x03, 0x00, 0x00, 0x00];
    script.extend_from_slice(&packet);
    for c in script.chunks(50) {
        conn.transport().inbound.push_back(Some(c.to_vec()));
    }
    let mut got = Vec::new();
    let mut start = None;
    for _ in 0..100 {
        match step(&mut conn, Instant::ZERO).unwrap() {
            Some(Ev::Start(n)) => start = Some(n),
            Some(Ev::Chunk(d)) => got.extend(d),
            _ => {}
        }
    }
    assert_eq!(start, Some(300));
    assert_eq!(got, payload);
}

#[test]
fn receive_buffer_smaller_than_configured_is_an_error() {
    let (mut rx, mut tx, mut store) = ([0u8; 16], [0u8; 64], [0u8; 64]);
    // The client thinks the buffer holds 64 bytes; the driver only has 16.
    let client = Client::new(SliceStore::new(&mut store), Config::new(64));
    let mut conn = Connection::new(Script::default(), client, &mut rx, &mut tx);
    conn.connect(Instant::ZERO, &ConnectOptions::new("small")).unwrap();
    let mut connack = vec![0x20, 0x1A, 0x00, 0x00, 0x17, 0x1F, 0x00, 0x14];
    connack.extend_from_slice(&[b'r'; 20]);
    conn.transport().inbound.push_back(Some(connack));
    let mut result = Ok(None);
    for _ in 0..4 {
        result = step(&mut conn, Instant::ZERO);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result.unwrap_err(), DriverError::ReceiveBufferTooSmall { required: 28 });
}

/// A transport that takes at most `per_write` bytes per `write` (0: none at all).
struct Trickle {
    per_write: usize,
    outbound: Vec<u8>,
}

impl embedded_io::ErrorType for Trickle {
    type Error = ErrorKind;
}

impl embedded_io::Read for Trickle {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::TimedOut)
    }
}

impl embedded_io::Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(self.per_write);
        self.outbound.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn short_writes_are_resumed_and_a_write_of_nothing_is_closed() {
    let (mut rx, mut tx, mut store) = ([0u8; 256], [0u8; 256], [0u8; 256]);
    let client: Client<SliceStore<'_, 4>> =
        Client::new(SliceStore::new(&mut store), Config::new(256));
    let trickle = Trickle { per_write: 3, outbound: Vec::new() };
    let mut conn = Connection::new(trickle, client, &mut rx, &mut tx);
    conn.connect(Instant::ZERO, &ConnectOptions::new("c")).unwrap();
    let mut expected = [0u8; 64];
    let mut c2 = [0u8; 64];
    let mut other: Client<SliceStore<'_, 4>> =
        Client::new(SliceStore::new(&mut c2), Config::new(256));
    let n = other.connect(Instant::ZERO, &ConnectOptions::new("c"), &mut expected).unwrap();
    assert_eq!(conn.transport().outbound, expected[..n]);

    let (mut rx, mut tx, mut store) = ([0u8; 256], [0u8; 256], [0u8; 256]);
    let client: Client<SliceStore<'_, 4>> =
        Client::new(SliceStore::new(&mut store), Config::new(256));
    let stuck = Trickle { per_write: 0, outbound: Vec::new() };
    let mut conn = Connection::new(stuck, client, &mut rx, &mut tx);
    assert!(matches!(
        conn.connect(Instant::ZERO, &ConnectOptions::new("c")),
        Err(DriverError::Eof)
    ));
}
