//! The byte transports under the broker's MQTT sessions and under [`super::client::MiniClient`]:
//! plain TCP, or MQTT over WebSocket through `ws::stream::Stream`. Both are
//! `embedded_io::{Read, Write}`, so the same driver runs over either; WebSocket framing, pings
//! and the closing handshake happen inside the stream.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant as StdInstant};

use mqtt_ws::io::{StdIo, blocking};
use mqtt_ws::time::{Duration as WsDuration, Instant};
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, TextMessages};
use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};
use mqtt_ws::ws::stream::Stream;

use super::Cmd;

/// A WebSocket client's masking keys: from the operating system.
pub type Keys = mqtt_ws::net::OsRandom;

/// A WebSocket connection configured for MQTT: binary messages only (MQTT 5.0 §6.0).
pub fn mqtt_ws_config() -> Config {
    Config { text_messages: TextMessages::Reject, ..Config::new() }
}

/// A broker connection's socket, as its session sees it: the bytes come from the socket's
/// reader thread over the connection's channel, which also brings the messages other
/// connections route to it; writes go straight to the socket.
///
/// A read waits on the channel: received bytes are returned, a routed message is put aside in
/// [`Wire::routed`] and the read fails with `Interrupted` (the driver's "nothing yet"), so the
/// session loop sends it at once.
pub struct Wire {
    rx: Receiver<Cmd>,
    tcp: TcpStream,
    held: Vec<u8>,
    at: usize,
    /// Messages and takeovers that arrived while reading.
    pub routed: VecDeque<Cmd>,
    /// When to give up waiting (the session's next timer).
    pub wake_at: Option<StdInstant>,
}

impl Wire {
    pub fn new(rx: Receiver<Cmd>, tcp: TcpStream) -> Self {
        Wire { rx, tcp, held: Vec::new(), at: 0, routed: VecDeque::new(), wake_at: None }
    }

    /// The socket.
    pub fn tcp(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// Everything routed to the connection and not taken yet.
    pub fn drain(&mut self) -> impl Iterator<Item = Cmd> + '_ {
        self.routed.drain(..).chain(self.rx.try_iter())
    }
}

impl embedded_io::ErrorType for Wire {
    type Error = io::Error;
}

impl embedded_io::Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.held.len() {
            let wait = self.wake_at.map_or(Duration::from_secs(1), |t| {
                t.saturating_duration_since(StdInstant::now()).min(Duration::from_secs(1))
            });
            match self.rx.recv_timeout(wait) {
                Ok(Cmd::Input(bytes)) => (self.held, self.at) = (bytes, 0),
                Ok(Cmd::Eof) | Err(RecvTimeoutError::Disconnected) => return Ok(0),
                Ok(routed) => {
                    self.routed.push_back(routed);
                    return Err(io::ErrorKind::Interrupted.into());
                }
                Err(RecvTimeoutError::Timeout) => return Err(io::ErrorKind::TimedOut.into()),
            }
        }
        let n = buf.len().min(self.held.len() - self.at);
        buf[..n].copy_from_slice(&self.held[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl embedded_io::Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The transport of a [`super::client::MiniClient`]: MQTT over TCP or over WebSocket.
pub enum Transport {
    /// MQTT over TCP.
    Tcp(StdIo<TcpStream>),
    /// MQTT over WebSocket (binary messages), client side.
    Ws(Box<Stream<'static, StdIo<TcpStream>, Keys, Vec<u8>>>),
}

impl Transport {
    /// Connects to `mqtt://host:port` (or `tcp://`, or a bare `host:port`) or
    /// `ws://host:port/path` (the opening handshake with subprotocol `mqtt` included).
    pub fn connect(url: &str) -> io::Result<Self> {
        if let Some(rest) = url.strip_prefix("ws://") {
            let (host, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
            let tcp = TcpStream::connect(host)?;
            tcp.set_nodelay(true)?;
            let start = StdInstant::now();
            let clock = move || Instant::from_millis(start.elapsed().as_millis() as u64);
            let nonce: [u8; 16] = mqtt_ws::net::random().map_err(invalid)?;
            let request = ClientRequest::new(host, path).protocols(&["mqtt"]);
            let hs = Handshake::new(request, nonce)
                .map_err(invalid)?
                .with_deadline(clock() + WsDuration::from_secs(5));
            let (rx, tx) = (vec![0u8; 16 << 10], vec![0u8; 16 << 10]);
            let mut conn = blocking::Connection::with_buffers(StdIo(tcp), hs, rx, tx);
            conn.handshake(clock).map_err(invalid)?;
            let ws = conn.upgrade(mqtt_ws_config(), Keys::new().map_err(invalid)?);
            return Ok(Transport::Ws(Box::new(ws.into_stream().map_err(invalid)?)));
        }
        let addr =
            url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")).unwrap_or(url);
        let tcp = TcpStream::connect(addr.trim_end_matches('/'))?;
        tcp.set_nodelay(true)?;
        Ok(Transport::Tcp(StdIo(tcp)))
    }

    /// The socket underneath.
    pub fn tcp(&mut self) -> &TcpStream {
        match self {
            Transport::Tcp(t) => &t.0,
            Transport::Ws(s) => &s.transport().0,
        }
    }

    /// Ends the link: the WebSocket closing handshake if open, then the TCP shutdown.
    pub fn close(&mut self) {
        if let Transport::Ws(s) = self {
            let _ = s.transport().0.set_read_timeout(Some(Duration::from_millis(500)));
            let _ = s.close(CloseCode::Normal);
        }
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

pub fn invalid(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

type WsError = mqtt_ws::io::DriverError<io::Error, mqtt_ws::ws::Error>;

/// What a read or write of a [`Transport`] failed with.
#[derive(Debug)]
pub enum TransportError {
    Tcp(io::Error),
    Ws(WsError),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Tcp(e) => e.fmt(f),
            TransportError::Ws(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TransportError {}

impl embedded_io::Error for TransportError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            TransportError::Tcp(e) => embedded_io::Error::kind(e),
            TransportError::Ws(e) => embedded_io::Error::kind(e),
        }
    }
}

impl embedded_io::ErrorType for Transport {
    type Error = TransportError;
}

impl embedded_io::Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        match self {
            Transport::Tcp(t) => embedded_io::Read::read(t, buf).map_err(TransportError::Tcp),
            Transport::Ws(s) => embedded_io::Read::read(&mut **s, buf).map_err(TransportError::Ws),
        }
    }
}

impl embedded_io::Write for Transport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, TransportError> {
        match self {
            Transport::Tcp(t) => embedded_io::Write::write(t, buf).map_err(TransportError::Tcp),
            Transport::Ws(s) => {
                embedded_io::Write::write(&mut **s, buf).map_err(TransportError::Ws)
            }
        }
    }
    fn flush(&mut self) -> Result<(), TransportError> {
        match self {
            Transport::Tcp(t) => embedded_io::Write::flush(t).map_err(TransportError::Tcp),
            Transport::Ws(s) => embedded_io::Write::flush(&mut **s).map_err(TransportError::Ws),
        }
    }
}
