//! Runs the Autobahn|Testsuite client cases against a `wstest -m fuzzingserver`: asks for the
//! case count, runs every case echoing each message until the server closes, then asks the
//! server to write its reports. Offers permessage-deflate: compressed messages are echoed
//! plain.
//!
//! ```sh
//! cargo run --release --example ws_autobahn_client -- ws://127.0.0.1:9001 mqtt-ws
//! ```

use std::error::Error;
use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use mqtt_ws::io::{DriverError, StdIo, blocking::Connection};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Config, Event, MAX_HEADER_LEN, Role};
use mqtt_ws::ws::deflate::{ClientConfig, Inflater};
use mqtt_ws::ws::handshake::{Client, ClientRequest};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "mqtt-ws".into());
    let host = url.strip_prefix("ws://").ok_or("only ws:// URLs")?.trim_end_matches('/');

    let count: u32 = String::from_utf8(session(host, "/getCaseCount", false)?)?.trim().parse()?;
    eprintln!("{count} cases");
    for case in 1..=count {
        if let Err(e) = session(host, &format!("/runCase?case={case}&agent={agent}"), true) {
            eprintln!("case {case}: {e}");
        }
    }
    session(host, &format!("/updateReports?agent={agent}"), false)?;
    eprintln!("reports updated");
    Ok(())
}

/// One connection to `path` until the server ends it. With `echo`, every message goes back as
/// it came, piece by piece as it arrives; without, the messages received are returned.
fn session(host: &str, path: &str, echo: bool) -> Result<Vec<u8>, Box<dyn Error>> {
    let tcp = TcpStream::connect(host)?;
    tcp.set_nodelay(true)?;
    // Reads wake up every second, so the handshake's deadline is checked.
    tcp.set_read_timeout(Some(Duration::from_secs(1)))?;
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);

    // A data piece is at most what the receive buffer holds: one frame of the transmit buffer.
    let mut rx = vec![0u8; 64 << 10];
    let mut tx = vec![0u8; rx.len() + MAX_HEADER_LEN];
    let nonce = mqtt_ws::net::random()?;
    let deflate = ClientConfig::new();
    let offer = deflate.offer();
    let offers = [offer.as_str()];
    let request = ClientRequest::new(host, path).extensions(&offers);
    let handshake = Client::new(request, nonce)?.with_deadline(now() + Duration::from_secs(10));
    let mut conn = Connection::new(StdIo(&tcp), handshake, &mut rx, &mut tx);
    // The handshake by hand, to read the extensions the server accepted.
    let agreed = loop {
        if let Some(accepted) = conn.poll(now())? {
            break deflate.agreed(accepted.extensions())?;
        }
    };
    let mut inflater = match agreed {
        Some(a) => Some(Inflater::new(vec![0u8; 1 << 15], a.receive(Role::Client).1)?),
        None => None,
    };
    let mut conn = conn.upgrade(Config::new(), mqtt_ws::net::OsRandom::new()?);

    let mut received = Vec::new();
    let result = loop {
        let step = match inflater.as_mut() {
            Some(inflater) => conn.poll_inflate(now(), inflater),
            None => conn.poll(now()),
        };
        match step {
            Ok(Some(Event::Data { kind, data, last })) if echo => {
                // The event borrows the receive buffer: copy the piece, then send it on as the
                // next part of the echo.
                let piece = data.to_vec();
                if let Err(e) = conn.send_part(now(), kind, &piece, last) {
                    break Err(e);
                }
            }
            Ok(Some(Event::Data { data, .. })) => received.extend_from_slice(data),
            Ok(_) => {}
            // The closing handshake is complete.
            Err(DriverError::Closed) => break Ok(received),
            Err(e) => break Err(e),
        }
    };
    // RFC 6455 §7.1.1: the client waits for the server to close TCP, then closes.
    tcp.set_read_timeout(Some(Duration::from_secs(2)))?;
    while matches!((&tcp).read(&mut [0u8; 256]), Ok(n) if n > 0) {}
    let _ = tcp.shutdown(Shutdown::Both);
    Ok(result?)
}
