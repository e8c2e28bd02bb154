//! The tokio twin of [`MqttClient`](super::MqttClient) (feature `tokio`): the async driver over
//! a tokio socket, sleeping until the session's next timer by itself, so a program's loop is
//! `while let Some(event) = mqtt.next().await?`.

use std::io;

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::net::TcpStream;

#[cfg(feature = "mqtt")]
use super::mqtt::{Event, LINGER, Next, OwnedStore, Redialer};
#[cfg(feature = "mqtt")]
use super::transport::Ending;
use super::transport::Options;
use super::{Clock, Error, Url};
use crate::io::ElasticBuffer;
use crate::io::asynch::Connection;
#[cfg(feature = "mqtt")]
use crate::io::asynch::reconnect_step;
#[cfg(feature = "mqtt")]
use crate::mqtt::ReasonCode;
#[cfg(feature = "mqtt")]
use crate::mqtt::client::{self, Client, ConnectOptions};
#[cfg(feature = "mqtt")]
use crate::mqtt::properties::Properties;

/// A tokio TCP or TLS socket as an `embedded-io-async` transport.
pub enum Socket {
    /// Plain TCP.
    Tcp(FromTokio<TcpStream>),
    /// TLS over TCP (feature `tokio-tls`).
    #[cfg(feature = "tokio-tls")]
    Tls(std::boxed::Box<FromTokio<tokio_rustls::client::TlsStream<TcpStream>>>),
}

impl Socket {
    /// Opens TCP to the URL's host and port, then TLS when the scheme asks for it (with the
    /// configuration in `options.tls`, or the operating system's roots), all within the connect
    /// timeout.
    pub async fn connect(url: &Url<'_>, options: &Options) -> Result<Socket, Error> {
        let connect = TcpStream::connect((url.host, url.port));
        let tcp = tokio::time::timeout(options.connect_timeout, connect)
            .await
            .map_err(|_| Error::Timeout)??;
        tcp.set_nodelay(true)?;
        if !url.scheme.is_tls() {
            return Ok(Socket::Tcp(FromTokio::new(tcp)));
        }
        #[cfg(feature = "tokio-tls")]
        {
            use crate::tls::TlsError;
            let config = match &options.tls {
                Some(config) => config.clone(),
                None => crate::tls::system_config()?,
            };
            let name = rustls::pki_types::ServerName::try_from(std::string::String::from(url.host))
                .map_err(|_| Error::Tls(TlsError::InvalidServerName))?;
            let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
            let tls = match tokio::time::timeout(options.connect_timeout, handshake).await {
                Err(_) => return Err(Error::Tls(TlsError::HandshakeTimeout)),
                Ok(Err(e)) => {
                    return Err(match crate::tls::tls_cause(&e) {
                        Some(cause) => Error::Tls(TlsError::Handshake(cause)),
                        None => Error::Io(e),
                    });
                }
                Ok(Ok(tls)) => tls,
            };
            Ok(Socket::Tls(std::boxed::Box::new(FromTokio::new(tls))))
        }
        #[cfg(not(feature = "tokio-tls"))]
        Err(Error::TlsUnavailable)
    }
}

impl Socket {
    /// Ends the connection in order, as the blocking [`Socket::linger`](super::Socket::linger)
    /// does: TLS `close_notify`, our side of TCP shut, then whatever the peer still sends read
    /// and dropped until it closes too, for at most `bound`. Closing with unread bytes would
    /// make the system reset the connection, and a reset can cost the peer the last packets we
    /// sent (a DISCONNECT taken for a lost connection fires a will).
    pub async fn linger(&mut self, bound: core::time::Duration) {
        let _ = tokio::time::timeout(bound, self.shut_and_drain()).await;
    }

    /// Shuts our side (after `close_notify` with TLS) and reads until the peer closes.
    async fn shut_and_drain(&mut self) {
        use core::pin::Pin;
        use tokio::io::AsyncWrite;
        let tcp = match self {
            Socket::Tcp(s) => {
                let tcp = s.inner_mut();
                let _ = core::future::poll_fn(|cx| Pin::new(&mut *tcp).poll_shutdown(cx)).await;
                tcp
            }
            #[cfg(feature = "tokio-tls")]
            Socket::Tls(s) => {
                let tls = s.inner_mut();
                // `close_notify`, then our side of TCP shut.
                let _ = core::future::poll_fn(|cx| Pin::new(&mut *tls).poll_shutdown(cx)).await;
                tls.get_mut().0
            }
        };
        let mut sink = [0u8; 1024];
        while tcp.readable().await.is_ok() {
            match tcp.try_read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}

impl core::fmt::Debug for Socket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Socket::Tcp(_) => "Socket::Tcp",
            #[cfg(feature = "tokio-tls")]
            Socket::Tls(_) => "Socket::Tls",
        })
    }
}

impl embedded_io_async::ErrorType for Socket {
    type Error = io::Error;
}

impl embedded_io_async::Read for Socket {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf).await,
            #[cfg(feature = "tokio-tls")]
            Socket::Tls(s) => s.read(buf).await,
        }
    }
}

impl embedded_io_async::Write for Socket {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf).await,
            #[cfg(feature = "tokio-tls")]
            Socket::Tls(s) => s.write(buf).await,
        }
    }
    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.flush().await,
            #[cfg(feature = "tokio-tls")]
            Socket::Tls(s) => s.flush().await,
        }
    }
}

/// A WebSocket over a tokio socket as a byte stream, its buffers owned.
#[cfg(feature = "ws")]
pub type WsStream = crate::ws::stream::Stream<'static, Socket, super::OsRandom, ElasticBuffer>;

/// The transport a URL names, on tokio: TCP or TLS, or a WebSocket over either.
pub enum Transport {
    /// MQTT over TCP or TLS.
    Tcp(Socket),
    /// A WebSocket (binary messages) over TCP.
    #[cfg(feature = "ws")]
    WebSocket(std::boxed::Box<WsStream>),
}

impl Transport {
    /// Opens the transport `url` names; for `ws://`, runs the opening handshake asking for
    /// `subprotocol`. TLS (`mqtts://`, `wss://`) needs the `tokio-tls` feature.
    pub async fn connect(
        url: &Url<'_>,
        options: &Options,
        subprotocol: &str,
    ) -> Result<Self, Error> {
        let socket = Socket::connect(url, options).await?;
        if !url.scheme.is_websocket() {
            return Ok(Transport::Tcp(socket));
        }
        #[cfg(feature = "ws")]
        {
            let path = if url.path.is_empty() { options.default_path } else { url.path };
            let handshake = websocket(socket, url, path, subprotocol, options);
            let stream = tokio::time::timeout(options.connect_timeout, handshake)
                .await
                .map_err(|_| Error::Timeout)??;
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
async fn websocket(
    socket: Socket,
    url: &Url<'_>,
    path: &str,
    subprotocol: &str,
    options: &Options,
) -> Result<WsStream, Error> {
    use crate::ws::connection::Config;
    use crate::ws::handshake::{Client, ClientRequest};

    let clock = Clock::new();
    let authority = url.authority();
    let protocols = [subprotocol];
    let deflate = super::websocket::ClientDeflate::new(options);
    let offers = deflate.offers();
    let request = ClientRequest::new(&authority, path).protocols(&protocols).extensions(&offers);
    let handshake = Client::new(request, super::random()?)?;
    let (rx, tx) = (super::buffer(options.buffer_len), super::buffer(options.buffer_len));
    let mut conn = Connection::with_buffers(socket, handshake, rx, tx);
    let (chosen, agreed) = loop {
        if let Some(accepted) = conn.poll(clock.now()).await? {
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

#[cfg(feature = "mqtt")]
impl Transport {
    /// Ends the connection in order, within `bound`, once the last packet (a DISCONNECT) is
    /// written: over WebSocket the closing handshake (a close frame as `why` says, the peer's
    /// awaited), then [`Socket::linger`].
    async fn end(&mut self, why: super::transport::Ending, bound: core::time::Duration) {
        let start = tokio::time::Instant::now();
        // Without the `ws` feature the match has one arm.
        #[allow(clippy::infallible_destructuring_match)]
        let socket = match self {
            Transport::Tcp(socket) => socket,
            #[cfg(feature = "ws")]
            Transport::WebSocket(ws) => {
                // A peer that just drops the TCP connection ends the handshake too.
                let _ = tokio::time::timeout(bound, ws.close_async(why.close_code())).await;
                ws.transport()
            }
        };
        #[cfg(not(feature = "ws"))]
        let _ = why;
        socket.linger(bound.saturating_sub(start.elapsed())).await;
    }
}

impl core::fmt::Debug for Transport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Transport::Tcp(_) => "Transport::Tcp",
            #[cfg(feature = "ws")]
            Transport::WebSocket(_) => "Transport::WebSocket",
        })
    }
}

impl embedded_io_async::ErrorType for Transport {
    type Error = io::Error;
}

impl embedded_io_async::Read for Transport {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf).await,
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.read(buf).await.map_err(super::transport::ws_error),
        }
    }
}

impl embedded_io_async::Write for Transport {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf).await,
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.write(buf).await.map_err(super::transport::ws_error),
        }
    }
    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => s.flush().await,
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.flush().await.map_err(super::transport::ws_error),
        }
    }
}

/// The driver a tokio [`MqttClient`] runs.
#[cfg(feature = "mqtt")]
pub type Driver = Connection<'static, Transport, Client<OwnedStore>, ElasticBuffer>;

/// An MQTT client on tokio, connected from a URL (`mqtt://`, `ws://`; `mqtts://` and
/// `wss://` with the `tokio-tls` feature): the async twin of
/// [`net::MqttClient`](super::MqttClient), with the same events, and the same reconnects
/// ([`Options::reconnect`]).
///
/// ```no_run
/// use mqtt_ws::net::tokio::MqttClient;
/// use mqtt_ws::prelude::*;
///
/// # async fn run() -> Result<(), mqtt_ws::net::Error> {
/// let mut mqtt = MqttClient::connect("mqtt://127.0.0.1:1883", &ConnectOptions::new("s1")).await?;
/// mqtt.subscribe("cmd/#", Qos::AtLeastOnce).await?;
/// while let Some(event) = mqtt.next().await? {
///     if let MqttEvent::Message(m) = event {
///         println!("{}: {:?}", m.topic, m.text());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[cfg(feature = "mqtt")]
pub struct MqttClient {
    conn: Driver,
    clock: Clock,
    redial: Option<std::boxed::Box<Redialer>>,
    /// See [`client_id`](Self::client_id).
    client_id: std::string::String,
}

#[cfg(feature = "mqtt")]
impl MqttClient {
    /// Connects to `url` with the default [`Options`] and waits for CONNACK. A user name and
    /// password in the URL are sent unless `options` has its own. The first connection is not
    /// retried: a wrong URL, an unreachable broker or a refusal is the error returned here.
    pub async fn connect(url: &str, options: &ConnectOptions<'_>) -> Result<Self, Error> {
        Self::connect_with(url, options, &Options::default()).await
    }

    /// [`connect`](Self::connect) with buffer sizes, timeout and reconnect settings.
    pub async fn connect_with(
        url: &str,
        options: &ConnectOptions<'_>,
        settings: &Options,
    ) -> Result<Self, Error> {
        let parsed = Url::parse(url)?;
        let clock = Clock::new();
        let transport = Transport::connect(&parsed, settings, "mqtt").await?;
        let (client, rx, tx) = super::mqtt::session(settings);
        let mut conn = Connection::with_buffers(transport, client, rx, tx);
        let options = super::mqtt::with_credentials(options, &parsed);
        conn.connect(clock.now(), &options).await?;
        let connack = async {
            loop {
                match conn.poll(clock.now()).await? {
                    Some(connected @ client::Event::Connected(_)) => {
                        let client_id = super::mqtt::session_id(&options, &connected);
                        let redial = match &settings.reconnect {
                            Some(r) => {
                                let r = Redialer::new(r, &options, url, settings, &connected)?;
                                Some(std::boxed::Box::new(r))
                            }
                            None => None,
                        };
                        return Ok((redial, client_id));
                    }
                    Some(client::Event::Refused { reason_code, .. }) => {
                        return Err(Error::Refused(reason_code));
                    }
                    _ => {}
                }
            }
        };
        let (redial, client_id) = tokio::time::timeout(settings.connect_timeout, connack)
            .await
            .map_err(|_| Error::Timeout)??;
        Ok(MqttClient { conn, clock, redial, client_id })
    }

    /// Waits for the next event, running the keep-alive meanwhile (it sleeps until the
    /// session's next timer itself), and reconnecting when the client does (see
    /// [`Options::reconnect`]). `Ok(None)` once the connection has closed (a client that
    /// reconnects: never); an error ends a client that does not reconnect. Cancel-safe: a
    /// cancelled call loses nothing (a reconnect attempt it cancels is made again).
    // An iterator-like method that can fail: not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub async fn next(&mut self) -> Result<Option<Event>, Error> {
        loop {
            let now = self.clock.now();
            let up = self.redial.as_ref().is_none_or(|r| r.redial.is_up());
            let wait = match up {
                true => self.conn.poll_timeout().map(|at| at.saturating_duration_since(now)),
                false => None,
            };
            let Some(r) = self.redial.as_deref_mut() else {
                let step = match wait {
                    Some(wait) => match tokio::time::timeout(wait, self.conn.poll(now)).await {
                        Ok(step) => step,
                        // The timer is due: the next poll runs it.
                        Err(_) => Ok(None),
                    },
                    None => self.conn.poll(now).await,
                };
                match Event::settle(step) {
                    Some(done) => {
                        if let Err(Error::Mqtt(client::Error::Remote(_))) = &done {
                            // The DISCONNECT with the fault's reason code is written (MQTT 5.0
                            // §4.13.1): a close frame 1002 follows (RFC 6455 §7.4.1), then the
                            // connection ends in order.
                            self.conn.transport().end(Ending::ProtocolError, LINGER).await;
                        }
                        return done;
                    }
                    None => continue,
                }
            };
            if let Some(error) = r.lost.take() {
                let error = std::sync::Arc::new(error);
                return Ok(Some(Event::ConnectionLost { error }));
            }
            let Redialer { redial, options, url, settings, .. } = r;
            // Each attempt's future owns what it uses: one that borrowed the closure's captures
            // could not be proven `Send` for every lifetime, and `next` could not be spawned.
            let (url, settings) = (url.clone(), settings.clone());
            let mut connect = move || {
                let (url, settings) =
                    (std::sync::Arc::clone(&url), std::sync::Arc::clone(&settings));
                async move { Transport::connect(&Url::parse(&url)?, &settings, "mqtt").await }
            };
            let user_properties = options.user_properties();
            let options = options.get(&user_properties);
            let step = reconnect_step(&mut self.conn, redial, &options, &mut connect, now);
            let next = match wait {
                Some(wait) => match tokio::time::timeout(wait, step).await {
                    Ok(step) => Event::next(step),
                    Err(_) => Next::Again,
                },
                None => Event::next(step.await),
            };
            match next {
                Next::Event(event) => {
                    if event.is_broker_fault() {
                        // As without reconnecting: the DISCONNECT is written, a close frame
                        // 1002 follows, the connection ends in order; the next attempt follows.
                        self.conn.transport().end(Ending::ProtocolError, LINGER).await;
                    }
                    return Ok(Some(event));
                }
                Next::Sleep(until) => {
                    tokio::time::sleep(until.saturating_duration_since(self.clock.now())).await;
                }
                Next::Again => {}
            }
        }
    }

    /// Sends DISCONNECT (normal disconnection: the will is not published) and closes; no
    /// reconnect follows. Offline, there is nothing to send: `Ok`.
    ///
    /// The connection ends in order, as the blocking client's does: over WebSocket the closing
    /// handshake, then TLS `close_notify`, our side of TCP shut, and the broker's last bytes
    /// read until it closes (at most 2 s in all), so that the DISCONNECT is not lost to a
    /// reset when the client is dropped at once.
    pub async fn disconnect(mut self) -> Result<(), Error> {
        if self.redial.is_some() && !self.is_connected() {
            return Ok(());
        }
        let now = self.clock.now();
        self.conn.disconnect(now, ReasonCode::NormalDisconnection, Properties::EMPTY).await?;
        self.conn.transport().end(Ending::Normal, LINGER).await;
        Ok(())
    }

    mqtt_commands!(async await; payload: impl tokio::io::AsyncRead + Unpin, read: read_some);
}

/// Reads some of `payload` into `buf`: `publish_from`'s read.
#[cfg(feature = "mqtt")]
async fn read_some(
    payload: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut read = tokio::io::ReadBuf::new(buf);
    core::future::poll_fn(|cx| core::pin::Pin::new(&mut *payload).poll_read(cx, &mut read)).await?;
    Ok(read.filled().len())
}

/// The driver a tokio [`WebSocket`] runs.
#[cfg(feature = "ws")]
pub type WsDriver<K> =
    Connection<'static, Socket, crate::ws::connection::Connection<K>, ElasticBuffer>;

/// A WebSocket connection on tokio, either role: the async twin of
/// [`net::WebSocket`](super::WebSocket), with the same options and messages.
///
/// ```no_run
/// use mqtt_ws::net::tokio::WebSocket;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// loop {
///     let (tcp, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let mut ws = WebSocket::accept(tcp).await?;
///         while let Some(message) = ws.recv().await? {
///             ws.send(&message).await?;
///         }
///         Ok::<(), mqtt_ws::net::Error>(())
///     });
/// }
/// # }
/// ```
#[cfg(feature = "ws")]
pub struct WebSocket<K: crate::ws::connection::MaskKeys = crate::ws::connection::NoMasking> {
    conn: WsDriver<K>,
    clock: Clock,
    message: super::websocket::Assembler,
    protocol: Option<std::string::String>,
    /// permessage-deflate's receive state, when agreed.
    inflater: Option<super::websocket::Inflater>,
    /// permessage-deflate's send state, when agreed.
    compressor: Option<super::websocket::Compressor>,
}

#[cfg(feature = "ws")]
impl<K: crate::ws::connection::MaskKeys> core::fmt::Debug for WebSocket<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket").field("protocol", &self.protocol).finish_non_exhaustive()
    }
}

#[cfg(feature = "ws")]
impl WebSocket {
    /// Accepts a WebSocket connection on `tcp` with the default
    /// [`AcceptOptions`](super::AcceptOptions): any origin, no subprotocol.
    pub async fn accept(tcp: TcpStream) -> Result<Self, Error> {
        Self::accept_with(tcp, &super::AcceptOptions::default()).await
    }

    /// Accepts a WebSocket connection on `tcp`: reads the opening handshake and answers it
    /// (`101`, or the refusal a bad request, a refused origin or a late request calls for,
    /// reported as [`Error::Handshake`]).
    pub async fn accept_with(
        tcp: TcpStream,
        options: &super::AcceptOptions<'_>,
    ) -> Result<Self, Error> {
        use crate::ws::handshake::{RequestError, Server};
        tcp.set_nodelay(true)?;
        let clock = Clock::new();
        let agreed = super::websocket::Agreed::default();
        let timeout = options.handshake_timeout;
        let server = Server::default().with_deadline(clock.now() + timeout);
        let (rx, tx) = (super::buffer(options.buffer_len), super::buffer(options.buffer_len));
        let socket = Socket::Tcp(FromTokio::new(tcp));
        let mut conn = Connection::with_buffers(socket, server, rx, tx);
        let (mut protocol, mut refused) = (None, None);
        let accepted = loop {
            let decide = |request: &crate::ws::handshake::Request<'_>| match options
                .answer(request, &agreed)
            {
                Ok((accept, chosen)) => {
                    protocol = chosen.map(std::string::String::from);
                    Ok(accept)
                }
                Err(e) => {
                    refused = Some(e);
                    Err(e.reject())
                }
            };
            let wait = conn.poll_timeout().map(|at| at.saturating_duration_since(clock.now()));
            let handshake = conn.handshake(|| clock.now(), decide);
            match wait {
                // At the deadline the next call answers 408 and fails.
                Some(wait) => match tokio::time::timeout(wait, handshake).await {
                    Ok(result) => break result?,
                    Err(_) => continue,
                },
                None => break handshake.await?,
            }
        };
        if !accepted {
            let e = refused.unwrap_or(RequestError::Malformed);
            return Err(Error::Handshake(e.into()));
        }
        let conn = conn.upgrade(crate::ws::connection::Config::new());
        let mut ws = WebSocket::new(conn, clock, options.max_message_len, protocol);
        (ws.inflater, ws.compressor) = agreed.state();
        Ok(ws)
    }
}

#[cfg(feature = "ws")]
impl WebSocket<super::OsRandom> {
    /// Connects to a `ws://` URL (the path as given, `/` when it has none; `wss://` with the
    /// `tokio-tls` feature), with no subprotocol and the default [`Options`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = Options { default_path: "/", ..Options::default() };
        Self::connect_with(url, &[], &options).await
    }

    /// Connects to a `ws://` or `wss://` URL offering `protocols` (in order of preference).
    pub async fn connect_with(
        url: &str,
        protocols: &[&str],
        options: &Options,
    ) -> Result<Self, Error> {
        use crate::ws::handshake::{Client, ClientRequest};
        let url = Url::parse(url)?;
        if !url.scheme.is_websocket() {
            return Err(Error::Url(super::UrlError::Scheme));
        }
        let socket = Socket::connect(&url, options).await?;
        let clock = Clock::new();
        let path = if url.path.is_empty() { options.default_path } else { url.path };
        let authority = url.authority();
        let deflate = super::websocket::ClientDeflate::new(options);
        let offers = deflate.offers();
        let request = ClientRequest::new(&authority, path).protocols(protocols).extensions(&offers);
        let client = Client::new(request, super::random()?)?;
        let (rx, tx) = (super::buffer(options.buffer_len), super::buffer(options.buffer_len));
        let mut conn = Connection::with_buffers(socket, client, rx, tx);
        let handshake = async {
            loop {
                if let Some(accepted) = conn.poll(clock.now()).await? {
                    let protocol = accepted.protocol().map(std::string::String::from);
                    break Ok::<_, Error>((protocol, deflate.agreed(&accepted)?));
                }
            }
        };
        let (protocol, agreed) = tokio::time::timeout(options.connect_timeout, handshake)
            .await
            .map_err(|_| Error::Timeout)??;
        let conn = conn.upgrade(crate::ws::connection::Config::new(), super::OsRandom::new()?);
        let mut ws = WebSocket::new(conn, clock, 64 << 20, protocol);
        (ws.inflater, ws.compressor) = agreed.state(crate::ws::connection::Role::Client);
        Ok(ws)
    }
}

#[cfg(feature = "ws")]
impl<K: crate::ws::connection::MaskKeys> WebSocket<K> {
    fn new(
        conn: WsDriver<K>,
        clock: Clock,
        max_message_len: usize,
        protocol: Option<std::string::String>,
    ) -> Self {
        WebSocket {
            conn,
            clock,
            message: super::websocket::Assembler::new(max_message_len),
            protocol,
            inflater: None,
            compressor: None,
        }
    }

    websocket_commands!(async await);
}
