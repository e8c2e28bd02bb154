//! The tokio twin of [`MqttClient`](super::MqttClient) (feature `tokio`): the async driver over
//! a tokio socket, sleeping until the session's next timer by itself, so a program's loop is
//! `while let Some(event) = mqtt.next().await?`.

use std::io;
use std::vec::Vec;

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::net::TcpStream;

use super::mqtt::{Event, OwnedStore};
use super::transport::Options;
use super::{Clock, Error, Url};
use crate::io::{DriverError, asynch::Connection};
use crate::mqtt::client::{self, Client, Config, ConnectOptions, Outgoing, SliceStore};
use crate::mqtt::packet::Subscription;
use crate::mqtt::properties::Properties;
use crate::mqtt::{PacketId, Qos, ReasonCode};
use crate::time::Instant;

/// A tokio TCP socket as an `embedded-io-async` transport.
pub type Socket = FromTokio<TcpStream>;

/// A WebSocket over a tokio socket as a byte stream, its buffers owned.
#[cfg(feature = "ws")]
pub type WsStream = crate::ws::stream::Stream<'static, Socket, super::OsRandom, Vec<u8>>;

/// The transport a URL names, on tokio: TCP, or a WebSocket over it.
pub enum Transport {
    /// MQTT over TCP.
    Tcp(Socket),
    /// A WebSocket (binary messages) over TCP.
    #[cfg(feature = "ws")]
    WebSocket(std::boxed::Box<WsStream>),
}

impl Transport {
    /// Opens the transport `url` names; for `ws://`, runs the opening handshake asking for
    /// `subprotocol`. TLS URLs are refused with [`Error::TlsUnavailable`] on tokio for now.
    pub async fn connect(
        url: &Url<'_>,
        options: &Options,
        subprotocol: &str,
    ) -> Result<Self, Error> {
        if url.scheme.is_tls() {
            return Err(Error::TlsUnavailable);
        }
        let connect = TcpStream::connect((url.host, url.port));
        let tcp = tokio::time::timeout(options.connect_timeout, connect)
            .await
            .map_err(|_| Error::Timeout)??;
        tcp.set_nodelay(true)?;
        let socket = FromTokio::new(tcp);
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
    let request = ClientRequest::new(&authority, path).protocols(&protocols);
    let handshake = Client::new(request, super::random()?)?;
    let (rx, tx) = (std::vec![0u8; options.buffer_len], std::vec![0u8; options.buffer_len]);
    let mut conn = Connection::with_buffers(socket, handshake, rx, tx);
    if conn.handshake(|| clock.now()).await? != Some(subprotocol) {
        return Err(Error::Subprotocol);
    }
    let stream = conn.upgrade(Config::new(), super::OsRandom::new()?).into_stream();
    stream.map_err(|e| Error::BufferTooSmall { required: e.required })
}

/// The WebSocket stream's error as an I/O error of the same kind.
#[cfg(feature = "ws")]
fn ws_error(e: DriverError<io::Error, crate::ws::Error>) -> io::Error {
    match e {
        DriverError::Transport(e) => e,
        DriverError::Machine(m) => io::Error::new(io::ErrorKind::InvalidData, std::format!("{m}")),
        DriverError::Closed => io::ErrorKind::BrokenPipe.into(),
        DriverError::Eof => io::ErrorKind::UnexpectedEof.into(),
        other => io::Error::other(std::format!("{other}")),
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
            Transport::WebSocket(s) => s.read(buf).await.map_err(ws_error),
        }
    }
}

impl embedded_io_async::Write for Transport {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf).await,
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.write(buf).await.map_err(ws_error),
        }
    }
    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => s.flush().await,
            #[cfg(feature = "ws")]
            Transport::WebSocket(s) => s.flush().await.map_err(ws_error),
        }
    }
}

/// The driver a tokio [`MqttClient`] runs.
pub type Driver = Connection<'static, Transport, Client<OwnedStore>, Vec<u8>>;

/// An MQTT client on tokio, connected from a URL (`mqtt://`, `ws://`): the async twin of
/// [`net::MqttClient`](super::MqttClient), with the same events.
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
pub struct MqttClient {
    conn: Driver,
    clock: Clock,
}

impl MqttClient {
    /// Connects to `url` with the default [`Options`] and waits for CONNACK. A user name and
    /// password in the URL are sent unless `options` has its own.
    pub async fn connect(url: &str, options: &ConnectOptions<'_>) -> Result<Self, Error> {
        Self::connect_with(url, options, &Options::default()).await
    }

    /// [`connect`](Self::connect) with buffer sizes and timeout.
    pub async fn connect_with(
        url: &str,
        options: &ConnectOptions<'_>,
        settings: &Options,
    ) -> Result<Self, Error> {
        let url = Url::parse(url)?;
        let clock = Clock::new();
        let transport = Transport::connect(&url, settings, "mqtt").await?;
        let store = SliceStore::with_buffer(std::vec![0u8; settings.store_len]);
        let client = Client::new(store, Config::new(settings.buffer_len));
        let (rx, tx) = (std::vec![0u8; settings.buffer_len], std::vec![0u8; settings.buffer_len]);
        let mut conn = Connection::with_buffers(transport, client, rx, tx);
        let mut options = *options;
        if options.username.is_none() {
            options.username = url.user;
            options.password = options.password.or(url.password.map(str::as_bytes));
        }
        conn.connect(clock.now(), &options).await?;
        let connack = async {
            loop {
                match conn.poll(clock.now()).await? {
                    Some(client::Event::Connected(_)) => return Ok(()),
                    Some(client::Event::Refused { reason_code, .. }) => {
                        return Err(Error::Refused(reason_code));
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(settings.connect_timeout, connack)
            .await
            .map_err(|_| Error::Timeout)??;
        Ok(MqttClient { conn, clock })
    }

    /// Waits for the next event, running the keep-alive meanwhile (it sleeps until the
    /// session's next timer itself). `Ok(None)` once the connection has closed. Cancel-safe:
    /// a cancelled call loses nothing.
    // An iterator-like method that can fail: not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub async fn next(&mut self) -> Result<Option<Event>, Error> {
        loop {
            let now = self.clock.now();
            let wait = self.conn.poll_timeout().map(|at| at.saturating_duration_since(now));
            let step = match wait {
                Some(wait) => {
                    match tokio::time::timeout(wait, self.conn.poll(now)).await {
                        Ok(step) => step,
                        // The timer is due: the next poll runs it.
                        Err(_) => Ok(None),
                    }
                }
                None => self.conn.poll(now).await,
            };
            match step {
                Ok(Some(event)) => {
                    if let Some(event) = Event::owned(event) {
                        return Ok(Some(event));
                    }
                }
                Ok(None) => {}
                Err(DriverError::Closed) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Publishes `message`; returns its packet identifier for QoS 1 and 2.
    pub async fn publish(&mut self, message: &Outgoing<'_>) -> Result<Option<PacketId>, Error> {
        Ok(self.conn.publish(self.clock.now(), message).await?.packet_id)
    }

    /// Subscribes to one filter; returns the packet identifier the SUBACK's event carries.
    pub async fn subscribe(&mut self, filter: &str, qos: Qos) -> Result<PacketId, Error> {
        self.subscribe_many(&[Subscription::new(filter, qos)], Properties::EMPTY).await
    }

    /// Subscribes to several filters with their options, in one SUBSCRIBE.
    pub async fn subscribe_many(
        &mut self,
        subscriptions: &[Subscription<'_>],
        properties: Properties<'_>,
    ) -> Result<PacketId, Error> {
        let sent = self.conn.subscribe(self.clock.now(), subscriptions, properties).await?;
        sent.packet_id.ok_or(Error::Closed)
    }

    /// Unsubscribes from one filter.
    pub async fn unsubscribe(&mut self, filter: &str) -> Result<PacketId, Error> {
        let sent = self.conn.unsubscribe(self.clock.now(), &[filter], Properties::EMPTY).await?;
        sent.packet_id.ok_or(Error::Closed)
    }

    /// Sends DISCONNECT (normal disconnection: the will is not published) and closes.
    pub async fn disconnect(mut self) -> Result<(), Error> {
        let now = self.clock.now();
        self.conn.disconnect(now, ReasonCode::NormalDisconnection, Properties::EMPTY).await?;
        #[cfg(feature = "ws")]
        if let Transport::WebSocket(ws) = self.conn.transport() {
            let _ = ws.close_async(crate::ws::close::CloseCode::Normal).await;
        }
        Ok(())
    }

    /// The session (its state, the server's limits).
    pub fn client(&self) -> &Client<OwnedStore> {
        self.conn.machine()
    }

    /// The driver, for what the methods here do not cover; time from [`now`](Self::now).
    pub fn driver(&mut self) -> &mut Driver {
        &mut self.conn
    }

    /// The client's clock, as the driver's commands take it.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }
}
