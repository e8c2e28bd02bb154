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
//!
//! One thread per connection, each with its own driver: a socket read timeout wakes the loop up
//! to send what the other connections broadcast through a channel.
//!
//! The client connects with `net::WebSocket` (URL, TCP or TLS, opening handshake) and then polls
//! its driver, so that it sends the lines typed while it waits for messages. The server keeps
//! its own handshake: it serves the page on the same port, so it reads the request head first
//! and hands it to the handshake (`Pump::with_input`), and it logs each request's path and
//! `Origin`.

use std::error::Error;
use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqtt_ws::io::{DriverError, Pump, StdIo, blocking::Connection};
use mqtt_ws::net::WebSocket;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, Event, MessageKind, State};
use mqtt_ws::ws::handshake::{OriginPolicy, Reject, Server};

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
/// Every connected client's inbox; a closed one is dropped at the next broadcast.
type Peers = Arc<Mutex<Vec<mpsc::Sender<Arc<str>>>>>;

/// How long a loop waits for the socket before it looks at its other work.
const TICK: Duration = Duration::from_millis(50);
/// How long an opening handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
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

/// Milliseconds since the call, as the crate's `Instant`.
fn clock() -> impl Fn() -> Instant + Copy {
    let start = std::time::Instant::now();
    move || Instant::from_millis(start.elapsed().as_millis() as u64)
}

/// The shallow check this example makes: a JSON object with a `"message"` member. (A real
/// server parses the JSON.)
fn is_chat_message(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('{') && t.ends_with('}') && t.contains("\"message\"")
}

fn server(addr: &str, origins: Vec<String>) -> Result<(), Box<dyn Error>> {
    let listener = TcpListener::bind(addr)?;
    eprintln!("ws_chat on http://{addr}/ (origins allowed: {origins:?})");
    let origins: Arc<[String]> = origins.into();
    let peers = Peers::default();
    for (id, tcp) in listener.incoming().enumerate() {
        let Ok(tcp) = tcp else { continue };
        let (peers, origins) = (peers.clone(), origins.clone());
        std::thread::spawn(move || {
            let origins: Vec<&str> = origins.iter().map(String::as_str).collect();
            if let Err(e) = serve(id, &tcp, &origins, &peers) {
                eprintln!("client {id}: {e}");
            }
            // RFC 6455 §7.1.1: the server closes the TCP connection first.
            let _ = tcp.shutdown(Shutdown::Both);
        });
    }
    Ok(())
}

/// One connection: the page for a plain HTTP GET, or a chat client after its handshake.
fn serve(
    id: usize,
    tcp: &TcpStream,
    origins: &[&str],
    peers: &Peers,
) -> Result<(), Box<dyn Error>> {
    let now = clock();
    let (mut rx, mut tx) = (vec![0u8; 16 << 10], vec![0u8; 16 << 10]);
    // A plain GET is not a WebSocket handshake: read the request head to tell them apart.
    tcp.set_read_timeout(Some(HANDSHAKE))?;
    let n = read_head(tcp, &mut rx[..4096])?;
    let upgrade = b"\r\nupgrade:";
    if !rx[..n].windows(upgrade.len()).any(|w| w.eq_ignore_ascii_case(upgrade)) {
        return serve_page(tcp, &rx[..n]);
    }
    // The handshake driver starts from the head already read.
    let handshake = Server::default().with_deadline(now() + HANDSHAKE);
    let pump = Pump::with_input(handshake, &mut rx, 0..n, &mut tx);
    let mut conn = Connection::from_pump(StdIo(tcp), pump);
    let policy = OriginPolicy::allow_list(origins);
    let mut who = String::new();
    let accepted = conn.handshake(now, |req| {
        who = format!("{} from {:?}", req.path(), req.origin());
        req.check_origin(&policy).map_err(|e| e.reject())?;
        req.accept(None).map_err(|_| Reject::BadRequest)
    })?;
    if !accepted {
        eprintln!("client {id} refused ({who})");
        return Ok(());
    }
    eprintln!("client {id} joined ({who})");
    let mut conn = conn.upgrade(Config { max_message_size: 64 << 10, ..Config::new() });
    let (inbox_tx, inbox) = mpsc::channel();
    peers.lock().unwrap().push(inbox_tx);
    tcp.set_read_timeout(Some(TICK))?;
    let mut message = Vec::new();
    loop {
        match conn.poll(now()) {
            Ok(Some(Event::Data { kind, data, last })) => {
                message.extend_from_slice(data);
                if last {
                    match (kind, std::str::from_utf8(&message)) {
                        (MessageKind::Text, Ok(text)) if is_chat_message(text) => {
                            broadcast(peers, text)
                        }
                        // Not a chat message: refuse it (RFC 6455 §7.4.1, 1003). The next poll
                        // sends the close frame and ends with `Closed`.
                        _ => conn.machine_mut().fail_with(CloseCode::UnsupportedData)?,
                    }
                    message.clear();
                }
            }
            Ok(_) => {}
            // The closing handshake is complete (or the connection failed).
            Err(DriverError::Closed) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if conn.machine().state() == State::Open {
            for text in inbox.try_iter() {
                conn.send_text(now(), &text)?;
            }
        }
    }
}

/// Reads until the end of the request head (or until `buf` is full); returns the length read.
fn read_head(mut tcp: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let start = std::time::Instant::now();
    let mut n = 0;
    while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        if start.elapsed() > HANDSHAKE {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        match tcp.read(&mut buf[n..])? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            read => n += read,
        }
    }
    Ok(n)
}

/// Answers a plain HTTP GET: the page at `/`, 404 elsewhere.
fn serve_page(mut tcp: &TcpStream, head: &[u8]) -> Result<(), Box<dyn Error>> {
    let path = head.split(|&b| b == b' ').nth(1).unwrap_or_default();
    let (status, body) =
        if path == b"/" { ("200 OK", PAGE) } else { ("404 Not Found", "not found\n") };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes())?;
    tcp.write_all(body.as_bytes())?;
    Ok(())
}

fn broadcast(peers: &Peers, text: &str) {
    let text: Arc<str> = text.into();
    peers.lock().unwrap().retain(|inbox| inbox.send(text.clone()).is_ok());
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

fn client(url: &str) -> Result<(), Box<dyn Error>> {
    let mut ws = WebSocket::connect(url)?;
    let (line_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if line_tx.send(format!("{{\"message\": {}}}", json_string(&line))).is_err() {
                break;
            }
        }
    });
    let mut message = Vec::new();
    loop {
        // The driver's poll returns after a read timeout too, to send the lines typed.
        let now = ws.now();
        let conn = ws.driver();
        match conn.poll(now) {
            Ok(Some(Event::Data { data, last, .. })) => {
                message.extend_from_slice(data);
                if last {
                    println!("{}", String::from_utf8_lossy(&message));
                    message.clear();
                }
            }
            Ok(Some(Event::Close { code, reason })) => {
                eprintln!("server closed: {code:?} {reason}")
            }
            Ok(_) => {}
            Err(DriverError::Closed) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        while conn.machine().state() == State::Open {
            match lines.try_recv() {
                Ok(text) => conn.send_text(now, &text)?,
                Err(TryRecvError::Empty) => break,
                // The end of the input: close, then wait for the server's close frame.
                Err(TryRecvError::Disconnected) => conn.close(now, CloseCode::Normal, "")?,
            }
        }
    }
}
