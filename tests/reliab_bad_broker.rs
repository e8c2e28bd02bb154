//! Bad input at the driver level: a scripted broker on 127.0.0.1 sends garbage, stalls, or
//! closes mid-packet. The reconnecting driver (`io::blocking::Reconnecting`) reports each as a
//! typed error, reconnects by itself to a well-behaved connection, never panics and never hangs
//! beyond the CONNACK timeout or keep alive + PINGRESP timeout.
#![cfg(all(feature = "mqtt", feature = "std", feature = "ws"))]

mod common_reliab;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use common_reliab::{buf, clock, open_tcp, sleep_until};
use mqtt_ws::io::blocking::{Connection, Reconnecting};
use mqtt_ws::io::{Backoff, DriverError, StdIo, Step};
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Error, Event, RemoteFault, SliceStore, Timeout,
};
use mqtt_ws::time::Duration;

/// CONNACK, MQTT 5.0: no session, success, no properties.
const CONNACK: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];

type Script = Box<dyn FnOnce(&mut TcpStream) + Send>;

/// Reads the client's CONNECT (one read is enough on loopback).
fn read_connect(s: &mut TcpStream) {
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    assert!(n > 0 && buf[0] == 0x10, "CONNECT expected");
}

/// A broker on 127.0.0.1 running `scripts` on its first connections, one each, then behaving
/// (CONNACK, then reading until the client goes away) on every later one.
fn broker(scripts: Vec<Script>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut scripts = scripts.into_iter();
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            match scripts.next() {
                Some(script) => {
                    std::thread::spawn(move || script(&mut s));
                }
                None => {
                    std::thread::spawn(move || {
                        read_connect(&mut s);
                        s.write_all(&CONNACK).unwrap();
                        let mut buf = [0u8; 512];
                        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                    });
                }
            }
        }
    });
    port
}

type Link = Reconnecting<
    'static,
    'static,
    StdIo<TcpStream>,
    Box<dyn FnMut() -> Result<StdIo<TcpStream>, String>>,
    Client<SliceStore<'static, 8, Vec<u8>>>,
    Vec<u8>,
>;

fn link(port: u16, keep_alive: u16) -> Link {
    let mut config = Config::new(1024);
    config.connect_timeout = Duration::from_millis(300);
    config.ping_timeout = Some(Duration::from_millis(300));
    let client = Client::new(SliceStore::with_buffer(buf(1024)), config);
    let conn = Connection::with_buffers(open_tcp(port).unwrap(), client, buf(1024), buf(1024));
    let mut opts = ConnectOptions::new("bad-broker");
    opts.keep_alive = keep_alive;
    opts.session_expiry = 60;
    let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(100), 5);
    Reconnecting::new(conn, opts, Box::new(move || open_tcp(port)), backoff)
}

/// Polls until the driver is connected after at least one lost connection; returns the
/// errors seen and how long the first one took to show.
fn until_reconnected(link: &mut Link) -> (Vec<DriverError<std::io::Error, Error>>, StdDuration) {
    let start = StdInstant::now();
    let (mut errors, mut first) = (Vec::new(), None);
    loop {
        assert!(start.elapsed() < StdDuration::from_secs(10), "hung: {errors:?}");
        match link.poll(clock()) {
            Step::Lost { error, .. } => {
                first.get_or_insert(start.elapsed());
                errors.push(error);
            }
            Step::Offline { until } => sleep_until(until),
            Step::Event(Event::Connected(_)) if !errors.is_empty() => {
                return (errors, first.unwrap());
            }
            _ => {}
        }
    }
}

/// Polls until the driver is connected, at most 8 s after `start`.
fn until_connected<T, C, CE>(
    l: &mut Reconnecting<'_, '_, T, C, Client<SliceStore<'_, 8, Vec<u8>>>, Vec<u8>>,
    start: StdInstant,
) where
    T: embedded_io::Read + embedded_io::Write,
    C: FnMut() -> Result<T, CE>,
{
    loop {
        assert!(start.elapsed() < StdDuration::from_secs(8), "never connected");
        match l.poll(clock()) {
            Step::Event(Event::Connected(_)) => break,
            Step::Offline { until } => sleep_until(until),
            _ => {}
        }
    }
}

fn remote(e: &DriverError<std::io::Error, Error>) -> Option<RemoteFault> {
    match e {
        DriverError::Machine(Error::Remote(r)) => Some(r.fault),
        _ => None,
    }
}

fn script(f: impl FnOnce(&mut TcpStream) + Send + 'static) -> Script {
    Box::new(f)
}

#[test]
fn garbage_instead_of_connack_is_a_decode_fault_then_reconnect() {
    let port = broker(vec![script(|s| {
        read_connect(s);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        std::thread::sleep(StdDuration::from_secs(1));
    })]);
    let mut l = link(port, 0);
    let (errors, _) = until_reconnected(&mut l);
    assert!(matches!(remote(&errors[0]), Some(RemoteFault::Decode(_))), "{errors:?}");
    assert_eq!(l.connects(), 2);
}

#[test]
fn garbage_after_connack_is_a_decode_fault_then_reconnect() {
    let port = broker(vec![script(|s| {
        read_connect(s);
        let _ = s.write_all(&CONNACK);
        // Reserved packet type 0, then bytes that are no packet at all.
        let _ = s.write_all(&[0x00, 0x02, 0xff, 0xff, 0xde, 0xad]);
        std::thread::sleep(StdDuration::from_secs(1));
    })]);
    let mut l = link(port, 0);
    let (errors, _) = until_reconnected(&mut l);
    assert!(matches!(remote(&errors[0]), Some(RemoteFault::Decode(_))), "{errors:?}");
}

#[test]
fn an_unexpected_packet_is_a_protocol_fault_then_reconnect() {
    let port = broker(vec![script(|s| {
        read_connect(s);
        // PUBLISH before CONNACK [MQTT-3.2.0-1].
        let _ = s.write_all(&[0x30, 0x04, 0x00, 0x01, b't', 0x00]);
        std::thread::sleep(StdDuration::from_secs(1));
    })]);
    let mut l = link(port, 0);
    let (errors, _) = until_reconnected(&mut l);
    assert!(matches!(remote(&errors[0]), Some(RemoteFault::UnexpectedPacket(_))), "{errors:?}");
}

#[test]
fn a_stall_before_connack_ends_at_the_connect_timeout() {
    let port = broker(vec![script(|s| {
        read_connect(s);
        std::thread::sleep(StdDuration::from_secs(3));
    })]);
    let mut l = link(port, 0);
    let (errors, took) = until_reconnected(&mut l);
    assert!(
        matches!(errors[0], DriverError::Machine(Error::Timeout(Timeout::ConnAck))),
        "{errors:?}"
    );
    assert!(took < StdDuration::from_millis(300 + 700), "{took:?}");
}

#[test]
fn a_stall_after_connack_ends_within_keep_alive_and_pingresp_timeout() {
    let port = broker(vec![script(|s| {
        read_connect(s);
        let _ = s.write_all(&CONNACK);
        // Read (the PINGREQ) but never answer.
        let mut buf = [0u8; 64];
        let _ = s.set_read_timeout(Some(StdDuration::from_secs(4)));
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })]);
    let mut l = link(port, 1);
    let (errors, took) = until_reconnected(&mut l);
    assert!(
        matches!(errors[0], DriverError::Machine(Error::Timeout(Timeout::PingResp))),
        "{errors:?}"
    );
    // Keep alive 1 s + PINGRESP timeout 0.3 s, plus the poll tick and a loaded machine.
    assert!(took < StdDuration::from_millis(1000 + 300 + 700), "{took:?}");
}

#[test]
fn a_close_mid_connack_is_end_of_stream_then_reconnect() {
    let port = broker(vec![script(|s| {
        read_connect(s);
        let _ = s.write_all(&CONNACK[..2]);
    })]);
    let mut l = link(port, 0);
    let (errors, _) = until_reconnected(&mut l);
    assert!(matches!(errors[0], DriverError::Eof), "{errors:?}");
}

#[test]
fn a_close_mid_publish_is_end_of_stream_then_reconnect() {
    let port = broker(vec![script(|s| {
        read_connect(s);
        let _ = s.write_all(&CONNACK);
        // A QoS 1 PUBLISH of 100 bytes cut after 10.
        let _ = s.write_all(&[0x32, 100, 0x00, 0x01, b't', 0x00, 0x01, 0x00, 1, 2]);
    })]);
    let mut l = link(port, 0);
    let (errors, _) = until_reconnected(&mut l);
    assert!(matches!(errors[0], DriverError::Eof), "{errors:?}");
}

#[test]
fn a_broker_that_drops_every_connection_after_connack_gets_growing_delays() {
    // CONNACK, then the connection closes at once, six times: the CONNACK alone must not reset
    // the backoff, or the client would reconnect at the base delay forever.
    let drops = (0..6)
        .map(|_| {
            script(|s| {
                read_connect(s);
                let _ = s.write_all(&CONNACK);
            })
        })
        .collect();
    let mut l = link(broker(drops), 0);
    let start = StdInstant::now();
    let mut delays = Vec::new();
    while delays.len() < 6 {
        assert!(start.elapsed() < StdDuration::from_secs(5), "hung: {delays:?}");
        match l.poll(clock()) {
            Step::Lost { retry_at, .. } => {
                delays.push(retry_at.saturating_duration_since(clock()));
            }
            Step::Offline { until } => sleep_until(until),
            _ => {}
        }
    }
    // Base 10 ms doubling to the 100 ms cap, each in [d/2, d]: by the fifth drop the delay is
    // at least half the cap.
    let ms = |d: &core::time::Duration| d.as_millis();
    assert!(delays[4..].iter().all(|d| ms(d) >= 50), "{delays:?}");
    assert!(delays.iter().all(|d| ms(d) <= 100), "{delays:?}");
    // The seventh connection behaves.
    until_connected(&mut l, start);
    assert_eq!(l.connects(), 7);
}

#[test]
fn a_refused_transport_backs_off_then_connects() {
    // Nothing listens at first: every attempt fails, with growing delays.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first = open_tcp(port).unwrap();
    drop(listener);
    let mut config = Config::new(1024);
    config.connect_timeout = Duration::from_millis(300);
    let client: Client<SliceStore<8, Vec<u8>>> =
        Client::new(SliceStore::with_buffer(buf(1024)), config);
    let conn = Connection::with_buffers(first, client, buf(1024), buf(1024));
    let backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(40), 9);
    let mut l =
        Reconnecting::new(conn, ConnectOptions::new("refused"), move || open_tcp(port), backoff);
    let start = StdInstant::now();
    let mut failed = 0;
    let mut last = None;
    while failed < 6 {
        assert!(start.elapsed() < StdDuration::from_secs(5));
        match l.poll(clock()) {
            Step::ConnectFailed { retry_at, .. } => {
                failed += 1;
                last = Some(retry_at.saturating_duration_since(clock()));
            }
            Step::Offline { until } => sleep_until(until),
            _ => {}
        }
    }
    // Capped at 40 ms, at least half of that with the jitter.
    let last = last.unwrap();
    assert!(
        last <= core::time::Duration::from_millis(40)
            && last >= core::time::Duration::from_millis(19),
        "{last:?}"
    );
    // Now the broker is back (same port).
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            read_connect(&mut s);
            s.write_all(&CONNACK).unwrap();
            std::thread::sleep(StdDuration::from_secs(1));
        }
    });
    until_connected(&mut l, start);
}

#[tokio::test(flavor = "current_thread")]
async fn the_async_driver_reconnects_after_a_close_and_garbage() {
    use embedded_io_adapters::tokio_1::FromTokio;
    use mqtt_ws::io::asynch;

    let port = broker(vec![
        script(|s| {
            read_connect(s);
            let _ = s.write_all(&CONNACK[..3]);
        }),
        script(|s| {
            read_connect(s);
            let _ = s.write_all(&[0x00, 0x00]);
            std::thread::sleep(StdDuration::from_secs(1));
        }),
    ]);
    let open =
        async move || tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map(FromTokio::new);
    let first = open().await.unwrap();
    let client: Client<SliceStore<8, Vec<u8>>> =
        Client::new(SliceStore::with_buffer(buf(1024)), Config::new(1024));
    let conn = asynch::Connection::with_buffers(first, client, buf(1024), buf(1024));
    let backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(50), 1);
    let mut l = asynch::Reconnecting::new(conn, ConnectOptions::new("async"), open, backoff);
    let start = StdInstant::now();
    let mut errors = Vec::new();
    loop {
        assert!(start.elapsed() < StdDuration::from_secs(10), "hung: {errors:?}");
        let tick = tokio::time::timeout(StdDuration::from_millis(20), l.poll(clock())).await;
        match tick {
            Ok(Step::Lost { error, .. }) => errors.push(format!("{error:?}")),
            Ok(Step::Offline { until }) => {
                tokio::time::sleep(until.saturating_duration_since(clock())).await;
            }
            Ok(Step::Event(Event::Connected(_))) if errors.len() >= 2 => break,
            _ => {}
        }
    }
    assert_eq!(errors[0], "Eof");
    assert!(errors[1].contains("Decode"), "{errors:?}");
    assert_eq!(l.connects(), 3);
}
