//! The byte transports a URL names, opened: TCP, TLS, and a WebSocket over either (MQTT over
//! WebSocket), each an `embedded-io` transport for the drivers.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use super::{Error, Url};
use crate::io::StdIo;

/// How long a blocking read waits before the driver runs its timers.
pub(crate) const READ_TICK: Duration = Duration::from_millis(200);

/// Settings of a connection opened from a URL.
#[derive(Debug, Clone)]
pub struct Options {
    /// The largest receive and transmit buffers (each; the largest packet or frame that fits):
    /// they hold 4 KiB while the connection waits and grow to this when a larger packet or
    /// frame comes.
    pub buffer_len: usize,
    /// Room for in-flight QoS 1 and 2 messages kept for a resend (MQTT).
    pub store_len: usize,
    /// How long connecting may take: TCP, TLS, the WebSocket handshake, CONNACK.
    pub connect_timeout: Duration,
    /// The WebSocket path when the URL has none.
    pub default_path: &'static str,
    /// The TLS client configuration for `mqtts://` and `wss://` (trusted roots, client
    /// certificate): see [`tls::client_config`](crate::tls::client_config). `None`: the
    /// operating system's roots ([`tls::system_config`](crate::tls::system_config)).
    #[cfg(feature = "tls")]
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// What an MQTT client does when its connection breaks: `Some` (the default: after 1 s,
    /// doubling up to 30 s) reconnects by itself and resumes the session, reporting the loss
    /// and the return as events; `None` ends the client with the error, as a WebSocket ends.
    #[cfg(feature = "mqtt")]
    pub reconnect: Option<Reconnect>,
    /// MQTT: a message larger than `buffer_len` arrives in pieces
    /// ([`client::Event::MessageStart`](crate::mqtt::client::Event::MessageStart), then
    /// `MessageChunk`s, through [`MqttClient::poll`](super::MqttClient::poll)), so memory stays
    /// bounded whatever the message size; off (the default), such a message is skipped
    /// (`MessageSkipped`) and the connection goes on.
    #[cfg(feature = "mqtt")]
    pub stream_large_payloads: bool,
    /// Offer permessage-deflate (RFC 7692) on `ws://` and `wss://`, on these terms. When the
    /// server agrees, compressed messages arrive decompressed (a window of
    /// `2^receive_window_bits` bytes per connection) and a [`WebSocket`](super::WebSocket)
    /// sends compressed ones; MQTT over WebSocket sends plain, as the extension allows (§6).
    /// `None` (the default): not offered.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::ws::deflate::ClientConfig>,
}

/// How an MQTT client reconnects ([`Options::reconnect`]), as rumqttc's event loop and
/// `mosquitto_sub` do by default: after a lost connection it waits a backoff delay, opens the
/// URL again and sends CONNECT, again and again until the broker accepts.
///
/// The delays start at `initial_delay` and double per failed attempt up to `max_delay`, each
/// shortened by up to half at random (so many clients do not come back in step); they start
/// over once a connection made progress after its CONNACK. A reconnect resumes the session
/// (Clean Start 0) when it outlives the connection: a Session Expiry Interval > 0
/// (`ConnectOptions::session_expiry`, MQTT 5.0) or `clean_start: false` (3.1.1). The broker
/// then keeps the subscriptions and the messages queued meanwhile, and the client re-sends what
/// was unacknowledged; without one, each reconnect starts a new session (subscribe again on
/// `Event::Reconnected { session_present: false }`).
///
/// ```no_run
/// use mqtt_ws::net::{Options, Reconnect};
/// use mqtt_ws::prelude::*;
/// use std::time::Duration;
///
/// let mut session = ConnectOptions::new("sensor-1");
/// session.session_expiry = 3600; // the broker keeps the session an hour after a loss
/// let reconnect = Reconnect { initial_delay: Duration::from_millis(200), ..Reconnect::default() };
/// let settings = Options { reconnect: Some(reconnect), ..Options::default() };
/// let mut mqtt = MqttClient::connect_with("mqtt://127.0.0.1:1883", &session, &settings)?;
/// # Ok::<(), mqtt_ws::net::Error>(())
/// ```
#[cfg(feature = "mqtt")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The first delay after a loss.
    pub initial_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

#[cfg(feature = "mqtt")]
impl Default for Reconnect {
    /// 1 s, doubling up to 30 s.
    fn default() -> Self {
        Reconnect { initial_delay: Duration::from_secs(1), max_delay: Duration::from_secs(30) }
    }
}

impl Default for Options {
    /// 64 KiB buffers, 1 MiB of in-flight storage, 10 s to connect, path `/mqtt`, MQTT clients
    /// reconnect ([`Reconnect::default`]).
    fn default() -> Self {
        Options {
            buffer_len: 64 * 1024,
            store_len: 1 << 20,
            connect_timeout: Duration::from_secs(10),
            default_path: "/mqtt",
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "mqtt")]
            reconnect: Some(Reconnect::default()),
            #[cfg(feature = "mqtt")]
            stream_large_payloads: false,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

/// A TCP or TLS socket.
#[derive(Debug)]
pub enum Socket {
    /// Plain TCP.
    Tcp(StdIo<TcpStream>),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(std::boxed::Box<crate::tls::TlsStream<TcpStream>>),
}

impl Socket {
    /// Opens TCP to the URL's host and port, then TLS when the scheme asks for it.
    pub fn connect(url: &Url<'_>, options: &Options) -> Result<Socket, Error> {
        let tcp = TcpStream::connect(url.authority())?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(READ_TICK))?;
        if !url.scheme.is_tls() {
            return Ok(Socket::Tcp(StdIo(tcp)));
        }
        #[cfg(feature = "tls")]
        {
            let config = match &options.tls {
                Some(config) => config.clone(),
                None => crate::tls::system_config()?,
            };
            let tls = crate::tls::TlsStream::connect(config, url.host, tcp)?;
            Ok(Socket::Tls(std::boxed::Box::new(tls)))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = options;
            Err(Error::TlsUnavailable)
        }
    }
}

impl embedded_io::ErrorType for Socket {
    type Error = io::Error;
}

impl embedded_io::Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Socket::Tls(s) => s.read(buf),
        }
    }
}

impl embedded_io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Socket::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.flush(),
            #[cfg(feature = "tls")]
            Socket::Tls(s) => s.flush(),
        }
    }
}

impl Socket {
    /// Ends the connection in order: TLS `close_notify`, our side of TCP shut, then whatever
    /// the peer still sends read and dropped until it closes too, for at most `bound`. Closing
    /// with unread bytes would make the system reset the connection, and a reset can cost the
    /// peer the last packets we sent (a DISCONNECT taken for a lost connection fires a will).
    pub fn linger(&mut self, bound: core::time::Duration) {
        let tcp = match self {
            Socket::Tcp(s) => &mut s.0,
            #[cfg(feature = "tls")]
            Socket::Tls(s) => {
                let _ = s.close();
                s.socket()
            }
        };
        let _ = tcp.shutdown(std::net::Shutdown::Write);
        let start = std::time::Instant::now();
        let mut sink = [0u8; 1024];
        while start.elapsed() < bound {
            match io::Read::read(tcp, &mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
    }
}

/// A WebSocket as a byte stream over a socket, its buffers owned.
#[cfg(feature = "ws")]
pub type WsStream =
    crate::ws::stream::Stream<'static, Socket, super::OsRandom, crate::io::ElasticBuffer>;

/// The transport a URL names: a socket, or a WebSocket over one.
#[derive(Debug)]
pub enum Transport {
    /// MQTT over TCP or TLS.
    Socket(Socket),
    /// A WebSocket (binary messages) over TCP or TLS.
    #[cfg(feature = "ws")]
    WebSocket(std::boxed::Box<WsStream>),
}

impl Transport {
    /// Opens the transport `url` names; for `ws://` and `wss://`, runs the opening handshake
    /// asking for `subprotocol` (refused with [`Error::Subprotocol`] when the server does not
    /// choose it).
    pub fn connect(url: &Url<'_>, options: &Options, subprotocol: &str) -> Result<Self, Error> {
        let socket = Socket::connect(url, options)?;
        if !url.scheme.is_websocket() {
            return Ok(Transport::Socket(socket));
        }
        #[cfg(feature = "ws")]
        {
            let path = if url.path.is_empty() { options.default_path } else { url.path };
            let stream = websocket(socket, url, path, subprotocol, options)?;
            Ok(Transport::WebSocket(std::boxed::Box::new(stream)))
        }
        #[cfg(not(feature = "ws"))]
        {
            let _ = subprotocol;
            Err(Error::Url(super::UrlError::Scheme))
        }
    }
}

/// The client's opening handshake over `socket`, then the connection as a byte stream.
#[cfg(feature = "ws")]
fn websocket(
    socket: Socket,
    url: &Url<'_>,
    path: &str,
    subprotocol: &str,
    options: &Options,
) -> Result<WsStream, Error> {
    use crate::io::blocking::Connection;
    use crate::ws::connection::Config;
    use crate::ws::handshake::{Client, ClientRequest};

    let clock = super::Clock::new();
    let authority = url.authority();
    let protocols = [subprotocol];
    let deflate = super::websocket::ClientDeflate::new(options);
    let offers = deflate.offers();
    let request = ClientRequest::new(&authority, path).protocols(&protocols).extensions(&offers);
    let deadline = clock.now() + options.connect_timeout;
    let handshake = Client::new(request, super::random()?)?.with_deadline(deadline);
    let (rx, tx) = (super::buffer(options.buffer_len), super::buffer(options.buffer_len));
    let mut conn = Connection::with_buffers(socket, handshake, rx, tx);
    let (chosen, agreed) = loop {
        if let Some(accepted) = conn.poll(clock.now())? {
            break (accepted.protocol() == Some(subprotocol), deflate.agreed(&accepted)?);
        }
    };
    if !chosen {
        return Err(Error::Subprotocol);
    }
    let stream = conn.upgrade(Config::new(), super::OsRandom::new()?).into_stream();
    let stream = stream.map_err(|e| Error::BufferTooSmall { required: e.required })?;
    Ok(agreed.stream(stream))
}

/// Why a connection ends, for the close frame of a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "mqtt"), allow(dead_code, reason = "the MQTT clients use it"))]
pub(crate) enum Ending {
    /// Our DISCONNECT: close code 1000, Normal Closure.
    Normal,
    /// The peer broke the protocol: close code 1002, Protocol Error (RFC 6455 §7.4.1).
    ProtocolError,
}

#[cfg(feature = "ws")]
impl Ending {
    /// The status code of the close frame.
    pub(crate) fn close_code(self) -> crate::ws::close::CloseCode {
        use crate::ws::close::CloseCode;
        match self {
            Ending::Normal => CloseCode::Normal,
            Ending::ProtocolError => CloseCode::ProtocolError,
        }
    }
}

impl Transport {
    /// Ends the connection in order, once the last packet (a DISCONNECT) is written: over
    /// WebSocket the closing handshake (a close frame as `why` says, the peer's awaited one
    /// read tick), then the socket lingers for at most `bound` ([`Socket::linger`]).
    #[cfg_attr(not(feature = "mqtt"), allow(dead_code, reason = "the MQTT clients use it"))]
    pub(crate) fn end(&mut self, why: Ending, bound: Duration) {
        // Without the `ws` feature the match has one arm.
        #[allow(clippy::infallible_destructuring_match)]
        let socket = match self {
            Transport::Socket(socket) => socket,
            #[cfg(feature = "ws")]
            Transport::WebSocket(ws) => {
                // A peer that just drops the TCP connection ends the handshake too.
                let _ = ws.close(why.close_code());
                ws.transport()
            }
        };
        #[cfg(not(feature = "ws"))]
        let _ = why;
        socket.linger(bound);
    }
}

/// The WebSocket stream's error as an I/O error of the same kind (a read timeout stays one).
#[cfg(feature = "ws")]
pub(crate) fn ws_error(e: crate::io::DriverError<io::Error, crate::ws::Error>) -> io::Error {
    use crate::io::DriverError;
    match e {
        DriverError::Transport(e) => e,
        DriverError::Machine(m) => io::Error::new(io::ErrorKind::InvalidData, std::format!("{m}")),
        DriverError::Closed => io::ErrorKind::BrokenPipe.into(),
        DriverError::Eof => io::ErrorKind::UnexpectedEof.into(),
        other => io::Error::other(std::format!("{other}")),
    }
}

impl embedded_io::ErrorType for Transport {
    type Error = io::Error;
}

impl embedded_io::Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Socket(s) => s.read(buf),
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.read(buf).map_err(ws_error),
        }
    }
}

impl embedded_io::Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Socket(s) => s.write(buf),
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.write(buf).map_err(ws_error),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Socket(s) => s.flush(),
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.flush().map_err(ws_error),
        }
    }
}
