//! A WebSocket echo server: every text and binary message comes back as it was sent (messages
//! up to 16 MiB), one thread per connection, over the crate's sans-IO `ws::Connection`.
//!
//! ```sh
//! cargo run --release --example ws_echo_server -- 127.0.0.1:9001
//! ```

#[path = "ws_util/mod.rs"]
mod ws_util;

use std::net::{Shutdown, TcpListener};
use std::time::Duration;

use mqtt_ws::ws::connection::{Config, Connection};
use ws_util::ServerHandshake;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("ws_echo_server listening on ws://{addr}");
    for tcp in listener.incoming() {
        let Ok(mut tcp) = tcp else { continue };
        std::thread::spawn(move || {
            let _ = tcp.set_nodelay(true);
            // Any origin: an echo server holds nothing worth protecting.
            let upgraded = match ws_util::server_handshake(&mut tcp, None, &[]) {
                Ok(ServerHandshake::Upgraded(u)) => u,
                _ => return,
            };
            let mut conn = Connection::server(Config::new());
            let result = ws_util::message_loop(&mut tcp, &mut conn, &upgraded.leftover, |k, m| {
                Some((k, m.to_vec()))
            });
            if let Err(e) = result {
                eprintln!("connection ended: {e}");
            }
            // RFC 6455 §7.1.1: the server closes the TCP connection first.
            let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
            let _ = tcp.shutdown(Shutdown::Both);
        });
    }
    Ok(())
}
