//! A WebSocket echo server: every text and binary message comes back as it was sent (messages
//! up to 64 MiB), one thread per connection. Any origin, no subprotocol: an echo server holds
//! nothing worth protecting (see `AcceptOptions` for an allow-list). permessage-deflate is
//! accepted: messages come back compressed.
//!
//! ```sh
//! cargo run --release --example ws_echo_server -- 127.0.0.1:9001
//! ```

use std::net::TcpListener;

use mqtt_ws::net::{AcceptOptions, Error, WebSocket};
use mqtt_ws::ws::deflate::ServerConfig;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("ws_echo_server listening on ws://{addr}");
    for tcp in listener.incoming().flatten() {
        std::thread::spawn(move || -> Result<(), Error> {
            let options =
                AcceptOptions { deflate: Some(ServerConfig::new()), ..AcceptOptions::default() };
            let mut ws = WebSocket::accept_with(tcp, &options)?;
            while let Some(message) = ws.recv()? {
                ws.send(&message)?;
            }
            Ok(())
        });
    }
    Ok(())
}
