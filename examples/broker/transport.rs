//! The byte transport under [`super::client::MiniClient`]: plain TCP, or MQTT over WebSocket
//! through `ws::stream::Stream`. Both are `embedded_io::{Read, Write}`, so the same driver runs
//! over either; WebSocket framing, pings and the closing handshake happen inside the stream.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use mqtt_ws::io::{StdIo, blocking};
use mqtt_ws::time::{Duration as WsDuration, Instant};
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, TextMessages};
use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};
use mqtt_ws::ws::stream::Stream;

/// A WebSocket client's masking keys: from the operating system.
pub type Keys = mqtt_ws::net::OsRandom;

/// A WebSocket connection configured for MQTT: binary messages only (MQTT 5.0 §6.0).
pub fn mqtt_ws_config() -> Config {
    Config { text_messages: TextMessages::Reject, ..Config::new() }
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
