//! A WebSocket chat: the server broadcasts every JSON text message `{"message": ...}` to every
//! connected client and serves a browser client at `/`; the client mode chats from a terminal.
//!
//! ```sh
//! cargo run --example ws_chat -- server 127.0.0.1:9002          # then open http://127.0.0.1:9002/
//! cargo run --example ws_chat -- client ws://127.0.0.1:9002/chat  # type lines, see everyone's
//! ```
//!
//! Browsers send an `Origin` header and connect from any page they load, so the server checks it
//! against an allow-list (the page it serves itself by default; add more with
//! `server ADDR ORIGIN...`) and answers 403 otherwise (RFC 6455 §10.2). Clients that send no
//! `Origin` (this example's client mode, devices) are allowed.

#[path = "ws_util/mod.rs"]
mod ws_util;

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, Connection, Event, MaskKeys, MessageKind, NoMasking, State};
use mqtt_ws::Status;
use mqtt_ws::ws::handshake::OriginPolicy;
use ws_util::ServerHandshake;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>mqtt-ws chat</title></head>
<body>
<ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" autofocus><button>Send</button></form>
<script>
const log = document.getElementById("log");
const ws = new WebSocket("ws://" + location.host + "/chat");
function show(text) {
  const li = document.createElement("li");
  li.textContent = text;
  log.appendChild(li);
}
ws.onopen = () => show("(connected)");
ws.onclose = (e) => show("(closed " + e.code + ")");
ws.onmessage = (e) => { try { show(JSON.parse(e.data).message); } catch (_) {} };
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  ws.send(JSON.stringify({ message: input.value }));
  input.value = "";
};
</script>
</body></html>
"#;

/// A connected chat client, as the server sees it.
struct Peer {
    conn: Connection<NoMasking>,
    tcp: TcpStream,
}

type Peers = Arc<Mutex<Vec<(u64, Arc<Mutex<Peer>>)>>>;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("server") => {
            let addr = args.get(1).cloned().unwrap_or_else(|| "127.0.0.1:9002".into());
            let mut origins: Vec<String> = args.iter().skip(2).cloned().collect();
            if origins.is_empty() {
                let port = addr.rsplit(':').next().unwrap_or("9002");
                origins.push(format!("http://{addr}"));
                origins.push(format!("http://localhost:{port}"));
            }
            server(&addr, origins)
        }
        Some("client") => {
            let url = args.get(1).cloned().unwrap_or_else(|| "ws://127.0.0.1:9002/chat".into());
            client(&url)
        }
        _ => {
            eprintln!(
                "usage: ws_chat server [ADDR [ORIGIN...]] | ws_chat client [ws://HOST:PORT/chat]"
            );
            Ok(())
        }
    }
}

/// The shallow check this example makes: a JSON object with a `"message"` member. (A real
/// server parses the JSON.)
fn is_chat_message(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('{') && t.ends_with('}') && t.contains("\"message\"")
}

fn server(addr: &str, origins: Vec<String>) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    eprintln!("ws_chat on http://{addr}/ (origins allowed: {origins:?})");
    let origins: &'static [&'static str] =
        Vec::leak(origins.into_iter().map(|o| &*String::leak(o)).collect());
    let peers: Peers = Arc::default();
    let mut next_id = 0u64;
    for tcp in listener.incoming() {
        let Ok(tcp) = tcp else { continue };
        next_id += 1;
        let id = next_id;
        let peers = peers.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(id, tcp, origins, &peers) {
                eprintln!("client {id}: {e}");
            }
            peers.lock().unwrap().retain(|(i, _)| *i != id);
        });
    }
    Ok(())
}

fn serve(id: u64, mut tcp: TcpStream, origins: &[&str], peers: &Peers) -> io::Result<()> {
    let policy = OriginPolicy::allow_list(origins);
    let upgraded = match ws_util::server_handshake(&mut tcp, Some(&policy), &[])? {
        ServerHandshake::PlainGet(path) => {
            let (status, body) =
                if path == "/" { ("200 OK", PAGE) } else { ("404 Not Found", "not found\n") };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            tcp.write_all(head.as_bytes())?;
            tcp.write_all(body.as_bytes())?;
            return Ok(());
        }
        ServerHandshake::Upgraded(u) => u,
    };
    eprintln!("client {id} joined ({} from {:?})", upgraded.path, upgraded.origin);
    let peer = Arc::new(Mutex::new(Peer {
        conn: Connection::server(Config { max_message_size: 64 << 10, ..Config::new() }),
        tcp: tcp.try_clone()?,
    }));
    peers.lock().unwrap().push((id, peer.clone()));

    let mut rx = ws_util::RxBuf::new(16 << 10, &upgraded.leftover);
    let mut message = Vec::new();
    loop {
        let mut outgoing = Vec::new();
        {
            let mut guard = peer.lock().unwrap();
            let p = &mut *guard;
            while let Ok(Status::Progress { consumed, event }) =
                p.conn.handle_input(rx.unconsumed())
            {
                if let Some(Event::Data { kind, data, last }) = event {
                    message.extend_from_slice(data);
                    if last {
                        match (kind, std::str::from_utf8(&message)) {
                            (MessageKind::Text, Ok(t)) if is_chat_message(t) => {
                                outgoing.push(t.to_owned())
                            }
                            // Not a chat message: refuse it (RFC 6455 §7.4.1, 1003).
                            _ => {
                                let _ = p.conn.fail_with(CloseCode::UnsupportedData);
                            }
                        }
                        message.clear();
                    }
                }
                rx.consume(consumed);
            }
            ws_util::flush_owed(&mut p.tcp, &mut p.conn)?;
            if p.conn.state() == State::Closed {
                let _ = p.tcp.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
        for text in outgoing {
            broadcast(peers, &text);
        }
        if rx.fill(&mut tcp)? == 0 {
            return Ok(());
        }
    }
}

fn broadcast(peers: &Peers, text: &str) {
    let all: Vec<_> = peers.lock().unwrap().iter().map(|(_, p)| p.clone()).collect();
    let mut out = Vec::new();
    for peer in all {
        let mut guard = peer.lock().unwrap();
        let p = &mut *guard;
        if p.conn.state() == State::Open {
            let _ = ws_util::send_message(
                &mut p.tcp,
                &mut p.conn,
                &mut out,
                MessageKind::Text,
                text.as_bytes(),
            );
        }
    }
}

/// JSON string escaping for the client's lines.
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn client(url: &str) -> io::Result<()> {
    let url = ws_util::parse_ws_url(url)?;
    let (tcp, leftover) = ws_util::client_handshake(&url.host_port, &url.path, &[])?;
    let conn = Arc::new(Mutex::new(Connection::client(Config::new(), ws_util::mask_keys())));
    let writer = Arc::new(Mutex::new(tcp.try_clone()?));
    {
        let conn = conn.clone();
        let writer = writer.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let text = format!("{{\"message\": {}}}", json_string(&line));
                let mut c = conn.lock().unwrap();
                let mut w = writer.lock().unwrap();
                if c.state() != State::Open
                    || ws_util::send_message(
                        &mut w,
                        &mut c,
                        &mut out,
                        MessageKind::Text,
                        text.as_bytes(),
                    )
                    .is_err()
                {
                    break;
                }
            }
            let mut c = conn.lock().unwrap();
            let _ = c.close(CloseCode::Normal, "");
            let _ = ws_util::flush_owed(&mut writer.lock().unwrap(), &mut c);
        });
    }
    read_loop(tcp, &leftover, &conn, &writer)
}

fn read_loop<K: MaskKeys>(
    mut tcp: TcpStream,
    leftover: &[u8],
    conn: &Mutex<Connection<K>>,
    writer: &Mutex<TcpStream>,
) -> io::Result<()> {
    let mut rx = ws_util::RxBuf::new(16 << 10, leftover);
    let mut message = Vec::new();
    loop {
        {
            let mut c = conn.lock().unwrap();
            while let Ok(Status::Progress { consumed, event }) = c.handle_input(rx.unconsumed()) {
                match event {
                    Some(Event::Data { data, last, .. }) => {
                        message.extend_from_slice(data);
                        if last {
                            println!("{}", String::from_utf8_lossy(&message));
                            message.clear();
                        }
                    }
                    Some(Event::Close { code, reason }) => {
                        eprintln!("server closed: {code:?} {reason}")
                    }
                    _ => {}
                }
                rx.consume(consumed);
            }
            ws_util::flush_owed(&mut writer.lock().unwrap(), &mut c)?;
            if c.state() == State::Closed {
                return Ok(());
            }
        }
        if rx.fill(&mut tcp)? == 0 {
            return Ok(());
        }
    }
}
