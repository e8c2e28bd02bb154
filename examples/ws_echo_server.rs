//! A WebSocket echo server: every text and binary message comes back as it was sent (messages
//! up to 16 MiB, streamed back piece by piece as they arrive), one thread per connection.
//!
//! ```sh
//! cargo run --release --example ws_echo_server -- 127.0.0.1:9001
//! ```

use std::error::Error;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use mqtt_ws::io::{DriverError, StdIo, blocking::Connection};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Config, Event, MAX_HEADER_LEN};
use mqtt_ws::ws::handshake::{Reject, Server};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("ws_echo_server listening on ws://{addr}");
    for tcp in listener.incoming() {
        let Ok(tcp) = tcp else { continue };
        std::thread::spawn(move || {
            if let Err(e) = echo(&tcp) {
                eprintln!("connection ended: {e}");
            }
            // RFC 6455 §7.1.1: the server closes the TCP connection first.
            let _ = tcp.shutdown(Shutdown::Both);
        });
    }
    Ok(())
}

fn echo(tcp: &TcpStream) -> Result<(), Box<dyn Error>> {
    tcp.set_nodelay(true)?;
    // Reads wake up every second, so the handshake's deadline is checked.
    tcp.set_read_timeout(Some(Duration::from_secs(1)))?;
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);

    // A data piece is at most what the receive buffer holds: one frame of the transmit buffer.
    let mut rx = vec![0u8; 64 << 10];
    let mut tx = vec![0u8; rx.len() + MAX_HEADER_LEN];
    let handshake = Server::default().with_deadline(now() + Duration::from_secs(10));
    let mut conn = Connection::new(StdIo(tcp), handshake, &mut rx, &mut tx);
    // Any origin, no subprotocol: an echo server holds nothing worth protecting.
    if !conn.handshake(now, |req| req.accept(None).map_err(|_| Reject::BadRequest))? {
        return Ok(());
    }
    let mut conn = conn.upgrade(Config::new());
    loop {
        match conn.poll(now()) {
            Ok(Some(Event::Data { kind, data, last })) => {
                // The event borrows the receive buffer: copy the piece, then send it on as the
                // next part of the echo.
                let piece = data.to_vec();
                conn.send_part(now(), kind, &piece, last)?;
            }
            Ok(_) => {}
            // The closing handshake is complete.
            Err(DriverError::Closed) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}
