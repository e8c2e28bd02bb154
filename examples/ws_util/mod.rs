//! Helpers shared by the `ws_*` examples: the opening handshake over a `std::net::TcpStream`,
//! masking keys, and a message-level loop over `ws::Connection`.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};

use mqtt_ws::ws::connection::{Connection, Event, MaskKeys, MessageKind, State};
use mqtt_ws::Status;
use mqtt_ws::ws::handshake::{
    Client, ClientRequest, OriginPolicy, RequestError, RequestParser, Status as HsStatus,
};

/// Random bytes for the examples, from std's randomly keyed SipHash. A real application takes
/// them from a cryptographic RNG (the OS, or a hardware TRNG on a device).
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A masking key source for a client.
pub fn mask_keys() -> impl FnMut() -> [u8; 4] + Clone {
    || {
        let b = random_u64().to_le_bytes();
        [b[0], b[1], b[2], b[3]]
    }
}

fn io_err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

/// A handshake request the server accepted: its path, and the bytes after it (frames).
pub struct Upgraded {
    pub path: String,
    pub origin: Option<String>,
    pub leftover: Vec<u8>,
}

/// What the server found in the request head.
pub enum ServerHandshake {
    /// A WebSocket upgrade, answered with 101.
    Upgraded(Upgraded),
    /// A plain HTTP GET (no Upgrade): its path, not answered.
    PlainGet(String),
}

/// Reads a request head and answers a WebSocket upgrade with 101 (or 400/403/426 and an error).
/// `origins`: the allowed browser origins (`None`: any).
pub fn server_handshake(
    tcp: &mut TcpStream,
    origins: Option<&OriginPolicy<'_>>,
    protocols: &[&str],
) -> io::Result<ServerHandshake> {
    let mut buf = Vec::with_capacity(1024);
    let mut parser = RequestParser::default();
    loop {
        read_more(tcp, &mut buf)?;
        let result = parser.parse(&buf);
        let reject = match result {
            Ok(HsStatus::Partial) => continue,
            Ok(HsStatus::Complete(req)) => match origins.map_or(Ok(()), |o| req.check_origin(o)) {
                Ok(()) => {
                    let protocol = req.select_protocol(protocols);
                    let accept = req.accept(protocol).map_err(io_err)?;
                    let mut out = vec![0u8; accept.encoded_len()];
                    let m = accept.encode(&mut out).map_err(io_err)?;
                    tcp.write_all(&out[..m])?;
                    return Ok(ServerHandshake::Upgraded(Upgraded {
                        path: req.path().to_owned(),
                        origin: req.origin().map(str::to_owned),
                        leftover: buf[req.head_len()..].to_vec(),
                    }));
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        if matches!(reject, RequestError::Upgrade | RequestError::Connection | RequestError::Key)
            && !contains_ci(&buf, b"upgrade:")
        {
            let path = request_path(&buf).unwrap_or("/").to_owned();
            return Ok(ServerHandshake::PlainGet(path));
        }
        let r = reject.reject();
        let mut out = vec![0u8; r.encoded_len()];
        let m = r.encode(&mut out).map_err(io_err)?;
        tcp.write_all(&out[..m])?;
        return Err(io_err(reject));
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn request_path(head: &[u8]) -> Option<&str> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.split(' ').nth(1)
}

/// A `ws://host:port/path` URL split up.
pub struct WsUrl {
    pub host_port: String,
    pub path: String,
}

pub fn parse_ws_url(url: &str) -> io::Result<WsUrl> {
    let rest = url.strip_prefix("ws://").ok_or_else(|| io_err("only ws:// URLs"))?;
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok(WsUrl { host_port: host_port.to_owned(), path: path.to_owned() })
}

/// Connects, sends the opening handshake for `path` offering `protocols` (may be empty) and
/// validates the 101; returns the socket and the bytes received after the response head.
pub fn client_handshake(
    host_port: &str,
    path: &str,
    protocols: &[&str],
) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut tcp = TcpStream::connect(host_port)?;
    tcp.set_nodelay(true)?;
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&random_u64().to_le_bytes());
    nonce[8..].copy_from_slice(&random_u64().to_le_bytes());
    let request = ClientRequest::new(host_port, path).protocols(protocols);
    let mut client = Client::new(request, nonce).map_err(io_err)?;
    let mut out = vec![0u8; client.request_len()];
    let n = client.encode_request(&mut out).map_err(io_err)?;
    tcp.write_all(&out[..n])?;
    let mut buf = Vec::new();
    loop {
        read_more(&mut tcp, &mut buf)?;
        match client.handle_response(&buf).map_err(io_err)? {
            HsStatus::Partial => continue,
            HsStatus::Complete(accepted) => {
                let leftover = buf[accepted.head_len()..].to_vec();
                return Ok((tcp, leftover));
            }
        }
    }
}

/// What the message loop's handler wants done with a message.
pub enum Reply<'m> {
    /// Nothing.
    None,
    /// Send this message back.
    Send(MessageKind, &'m [u8]),
}

/// Writes every frame the connection owes (pongs, close).
pub fn flush_owed<K: MaskKeys>(tcp: &mut TcpStream, conn: &mut Connection<K>) -> io::Result<()> {
    let mut out = [0u8; 160];
    while let Some(n) = conn.poll_transmit(&mut out).map_err(io_err)? {
        tcp.write_all(&out[..n])?;
    }
    Ok(())
}

/// Sends one whole message.
pub fn send_message<K: MaskKeys>(
    tcp: &mut TcpStream,
    conn: &mut Connection<K>,
    out: &mut Vec<u8>,
    kind: MessageKind,
    data: &[u8],
) -> io::Result<()> {
    out.resize(data.len() + 14, 0);
    let n = conn.encode_data(out, kind, data, true).map_err(io_err)?;
    tcp.write_all(&out[..n])
}

/// Appends what one read from `tcp` returns to `buf`, a handshake head in the making: the end
/// of the stream is an error.
pub fn read_more(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 1024];
    let n = tcp.read(&mut chunk)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// A receive buffer for `Connection::handle_input`: `buf[start..end]` holds the received bytes
/// not yet consumed.
pub struct RxBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl RxBuf {
    /// A buffer of `capacity` bytes (grown to hold `leftover`) that starts with `leftover`, the
    /// bytes the peer sent right after its handshake.
    pub fn new(capacity: usize, leftover: &[u8]) -> Self {
        let mut buf = vec![0u8; capacity.max(leftover.len())];
        buf[..leftover.len()].copy_from_slice(leftover);
        RxBuf { buf, start: 0, end: leftover.len() }
    }

    /// The received bytes not yet consumed.
    pub fn unconsumed(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Drops the first `n` unconsumed bytes.
    pub fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
    }

    /// Moves the unconsumed bytes to the front and reads more from `r`; returns how many
    /// (0: the peer closed the stream).
    pub fn fill(&mut self, r: &mut impl Read) -> io::Result<usize> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let n = r.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }
}

/// Runs the connection over `tcp` until the closing handshake ends or the peer goes away,
/// reassembling messages and passing each whole message to `on_message`, whose reply is sent.
/// `leftover` holds bytes received right after the handshake.
pub fn message_loop<K: MaskKeys>(
    tcp: &mut TcpStream,
    conn: &mut Connection<K>,
    leftover: &[u8],
    mut on_message: impl FnMut(MessageKind, &[u8]) -> Option<(MessageKind, Vec<u8>)>,
) -> io::Result<()> {
    let mut rx = RxBuf::new(1 << 16, leftover);
    let mut message = Vec::new();
    let mut out = Vec::new();
    loop {
        loop {
            let mut finished = None;
            match conn.handle_input(rx.unconsumed()) {
                Ok(Status::NeedMore) => break,
                Ok(Status::Closed) => break,
                Ok(Status::Progress { consumed, event }) => {
                    if let Some(Event::Data { kind, data, last }) = event {
                        message.extend_from_slice(data);
                        if last {
                            finished = Some(kind);
                        }
                    }
                    rx.consume(consumed);
                }
                Err(_) => {
                    flush_owed(tcp, conn)?;
                    break;
                }
            }
            if let Some(kind) = finished
                && let Some((reply_kind, reply)) = on_message(kind, &message)
                && conn.state() == State::Open
            {
                send_message(tcp, conn, &mut out, reply_kind, &reply)?;
            }
            if finished.is_some() {
                message.clear();
            }
            flush_owed(tcp, conn)?;
        }
        flush_owed(tcp, conn)?;
        if conn.state() == State::Closed {
            return Ok(());
        }
        if rx.fill(tcp)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}
