//! Runs the Autobahn|Testsuite client cases against a `wstest -m fuzzingserver`: asks for the
//! case count, runs every case echoing each message until the server closes, then asks the
//! server to write its reports.
//!
//! ```sh
//! cargo run --release --example ws_autobahn_client -- ws://127.0.0.1:9001 mqtt-ws
//! ```

#[path = "ws_util/mod.rs"]
mod ws_util;

use std::io::{self, Read};
use std::net::Shutdown;
use std::time::Duration;

use mqtt_ws::ws::connection::{Config, Connection, Event, MessageKind};
use mqtt_ws::Status;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "mqtt-ws".into());
    let base = ws_util::parse_ws_url(&url)?;
    let count = case_count(&base.host_port)?;
    eprintln!("{count} cases");
    for case in 1..=count {
        let path = format!("/runCase?case={case}&agent={agent}");
        if let Err(e) = run_case(&base.host_port, &path) {
            eprintln!("case {case}: {e}");
        }
    }
    let path = format!("/updateReports?agent={agent}");
    let (mut tcp, leftover) = ws_util::client_handshake(&base.host_port, &path, &[])?;
    let mut conn = Connection::client(Config::new(), ws_util::mask_keys());
    conn.close(mqtt_ws::ws::close::CloseCode::Normal, "").map_err(io::Error::other)?;
    ws_util::flush_owed(&mut tcp, &mut conn)?;
    let _ = ws_util::message_loop(&mut tcp, &mut conn, &leftover, |_, _| None);
    eprintln!("reports updated");
    Ok(())
}

/// `/getCaseCount` answers with one text message holding the number.
fn case_count(host_port: &str) -> io::Result<u32> {
    let (mut tcp, leftover) = ws_util::client_handshake(host_port, "/getCaseCount", &[])?;
    let mut conn = Connection::client(Config::new(), ws_util::mask_keys());
    let mut rx = ws_util::RxBuf::new(4096, &leftover);
    let mut text = Vec::new();
    loop {
        match conn.handle_input(rx.unconsumed()).map_err(io::Error::other)? {
            Status::Progress { consumed, event } => {
                if let Some(Event::Data { kind: MessageKind::Text, data, last }) = event {
                    text.extend_from_slice(data);
                    if last {
                        let n = std::str::from_utf8(&text).map_err(io::Error::other)?;
                        let n = n.trim().parse().map_err(io::Error::other)?;
                        conn.close(mqtt_ws::ws::close::CloseCode::Normal, "")
                            .map_err(io::Error::other)?;
                        ws_util::flush_owed(&mut tcp, &mut conn)?;
                        return Ok(n);
                    }
                }
                rx.consume(consumed);
            }
            Status::NeedMore => {
                if rx.fill(&mut tcp)? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            Status::Closed => return Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

fn run_case(host_port: &str, path: &str) -> io::Result<()> {
    let (mut tcp, leftover) = ws_util::client_handshake(host_port, path, &[])?;
    let mut conn = Connection::client(Config::new(), ws_util::mask_keys());
    let result = ws_util::message_loop(&mut tcp, &mut conn, &leftover, |kind, message| {
        Some((kind, message.to_vec()))
    });
    // RFC 6455 §7.1.1: the client waits for the server to close TCP, then closes.
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 256];
    while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    let _ = tcp.shutdown(Shutdown::Both);
    result
}
