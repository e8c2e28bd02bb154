//! A WebSocket on std, either role: accept (with an `Origin` allow-list and a subprotocol
//! choice) or connect from a `ws://` / `wss://` URL, then whole messages in and out.

use std::net::TcpStream;
use std::string::String;
use std::time::Duration;
use std::vec::Vec;

use super::transport::Options;
use super::{Clock, Error, OsRandom, Socket, Url};
use crate::io::{ElasticBuffer, StdIo, blocking};
use crate::ws::connection::{self, Config, MaskKeys, MessageKind, NoMasking};
use crate::ws::handshake::{self, OriginPolicy, RequestError};

/// A whole WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message (checked UTF-8).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl WsMessage {
    /// The message's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            WsMessage::Text(t) => t.as_bytes(),
            WsMessage::Binary(b) => b,
        }
    }
}

/// Collects the pieces of one message into an owned buffer, up to a limit.
#[derive(Debug)]
pub(crate) struct Assembler {
    message: Vec<u8>,
    kind: MessageKind,
    max_len: usize,
}

impl Assembler {
    pub(crate) fn new(max_len: usize) -> Self {
        Assembler { message: Vec::new(), kind: MessageKind::Binary, max_len }
    }

    /// Adds a piece; the whole message once `last`. `Err(required)` when the message would
    /// exceed the limit (what was collected is dropped).
    pub(crate) fn push(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<Option<WsMessage>, usize> {
        let len = self.message.len().saturating_add(data.len());
        if len > self.max_len {
            self.message = Vec::new();
            return Err(len);
        }
        self.message.extend_from_slice(data);
        self.kind = kind;
        if !last {
            return Ok(None);
        }
        let bytes = core::mem::take(&mut self.message);
        Ok(Some(match self.kind {
            // The connection checked the UTF-8 as it came in.
            MessageKind::Text => WsMessage::Text(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
            MessageKind::Binary => WsMessage::Binary(bytes),
        }))
    }
}

/// How a server accepts WebSocket connections.
#[derive(Debug, Clone, Copy)]
pub struct AcceptOptions<'a> {
    /// The `Origin` values allowed (a browser's page origin, RFC 6455 §10.2); `None` allows
    /// any, for servers that browsers do not reach or that hold nothing worth protecting.
    pub origins: Option<OriginPolicy<'a>>,
    /// The subprotocols the server speaks, in its order of preference; the first one the
    /// client offers is chosen ([`WebSocket::protocol`]).
    pub protocols: &'a [&'a str],
    /// The largest message taken whole; a larger one is closed with 1009 (Message Too Big).
    pub max_message_len: usize,
    /// The largest receive and transmit buffers (each; 4 KiB while the connection waits).
    pub buffer_len: usize,
    /// How long the client may take to send its opening handshake (`408` after it).
    pub handshake_timeout: Duration,
    /// Accept permessage-deflate (RFC 7692) when the client offers it, on these terms:
    /// compressed messages then arrive decompressed (a window of the bits agreed for the
    /// client, at most `receive_window_bits`) and the server sends compressed ones. `None`
    /// (the default): the extension is never agreed.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::ws::deflate::ServerConfig>,
}

impl Default for AcceptOptions<'_> {
    /// Any origin, no subprotocol, messages up to 64 MiB, 64 KiB buffers, 10 s handshake.
    fn default() -> Self {
        AcceptOptions {
            origins: None,
            protocols: &[],
            max_message_len: 64 << 20,
            buffer_len: 64 * 1024,
            handshake_timeout: Duration::from_secs(10),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl<'a> AcceptOptions<'a> {
    /// The `101` answer to `request` with the subprotocol chosen and the extensions agreed
    /// (kept in `agreed`, which the answer borrows), or the refusal it gets: a refused origin
    /// (answered `403`).
    pub(crate) fn answer<'r>(
        &self,
        request: &handshake::Request<'_>,
        agreed: &'r Agreed<'r>,
    ) -> Result<(handshake::Accept<'r>, Option<&'r str>), RequestError>
    where
        'a: 'r,
    {
        if let Some(policy) = &self.origins {
            request.check_origin(policy)?;
        }
        let chosen = request.select_protocol(self.protocols);
        let extensions = agreed.extensions(self, request);
        let accept =
            request.accept_with(chosen, extensions, &[]).map_err(|_| RequestError::Malformed)?;
        Ok((accept, chosen))
    }
}

/// The extensions a server agreed to in its answer, kept for the answer that borrows them.
/// Shared by reference across the handshake's awaits, so `Sync` (an accept future is `Send`).
#[derive(Debug, Default)]
pub(crate) struct Agreed<'r> {
    #[cfg(feature = "deflate")]
    deflate: std::sync::Mutex<Option<crate::ws::deflate::Agreement>>,
    #[cfg(feature = "deflate")]
    element: std::sync::OnceLock<crate::ws::deflate::params::Element>,
    #[cfg(feature = "deflate")]
    list: std::sync::OnceLock<[&'r str; 1]>,
    _answer: core::marker::PhantomData<&'r str>,
}

impl<'r> Agreed<'r> {
    /// The response values of the extensions agreed for `request` (RFC 6455 §9.1).
    fn extensions(
        &'r self,
        options: &AcceptOptions<'_>,
        request: &handshake::Request<'_>,
    ) -> &'r [&'r str] {
        #[cfg(feature = "deflate")]
        if let Some(agreed) = options.deflate.and_then(|d| d.accept(request.extensions())) {
            *self.deflate.lock().unwrap_or_else(|e| e.into_inner()) = Some(agreed);
            let element = self.element.get_or_init(|| agreed.response());
            return self.list.get_or_init(|| [element.as_str()]);
        }
        let _ = (options, request);
        &[]
    }

    /// The server's receive and send state for what was agreed.
    pub(crate) fn state(&self) -> (Option<Inflater>, Option<Compressor>) {
        #[cfg(feature = "deflate")]
        let agreed = Negotiated(*self.deflate.lock().unwrap_or_else(|e| e.into_inner()));
        #[cfg(not(feature = "deflate"))]
        let agreed = Negotiated::default();
        agreed.state(connection::Role::Server)
    }
}

/// permessage-deflate for a client: the offer in its request, then what the server agreed.
#[derive(Debug, Default)]
pub(crate) struct ClientDeflate {
    #[cfg(feature = "deflate")]
    config: Option<crate::ws::deflate::ClientConfig>,
    #[cfg(feature = "deflate")]
    offer: Option<crate::ws::deflate::params::Element>,
}

impl ClientDeflate {
    /// The offer [`Options::deflate`] asks for.
    pub(crate) fn new(options: &Options) -> Self {
        #[cfg(feature = "deflate")]
        return ClientDeflate {
            config: options.deflate,
            offer: options.deflate.map(|d| d.offer()),
        };
        #[cfg(not(feature = "deflate"))]
        {
            let _ = options;
            ClientDeflate::default()
        }
    }

    /// The request's extension values.
    pub(crate) fn offers(&self) -> Vec<&str> {
        #[cfg(feature = "deflate")]
        return self.offer.iter().map(|o| o.as_str()).collect();
        #[cfg(not(feature = "deflate"))]
        Vec::new()
    }

    /// What the server's answer agreed to; one that breaks RFC 7692 §7 fails the handshake.
    pub(crate) fn agreed(&self, accepted: &handshake::Accepted<'_>) -> Result<Negotiated, Error> {
        #[cfg(feature = "deflate")]
        if let Some(config) = self.config {
            let refused = handshake::Error::Response(handshake::ResponseError::Extension);
            return match config.agreed(accepted.extensions()) {
                Ok(agreed) => Ok(Negotiated(agreed)),
                Err(_) => Err(Error::Handshake(refused)),
            };
        }
        let _ = accepted;
        Ok(Negotiated::default())
    }
}

/// What the opening handshake agreed to for permessage-deflate (nothing without the feature).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Negotiated(#[cfg(feature = "deflate")] Option<crate::ws::deflate::Agreement>);

impl Negotiated {
    /// The receive state (a window for the bits agreed for the peer) and the send state.
    pub(crate) fn state(self, role: connection::Role) -> (Option<Inflater>, Option<Compressor>) {
        #[cfg(feature = "deflate")]
        if let Some(agreed) = self.0 {
            let (bits, no_context_takeover) = agreed.receive(role);
            let window = std::vec![0u8; 1 << bits].into_boxed_slice();
            let inflater = crate::ws::deflate::Inflater::new(window, no_context_takeover).ok();
            return (inflater, Some(crate::ws::deflate::Compressor::new(&agreed, role)));
        }
        let _ = role;
        (None, None)
    }

    /// The byte stream for MQTT over WebSocket, reading compressed messages when agreed.
    pub(crate) fn stream<T>(
        self,
        stream: crate::ws::stream::Stream<'static, T, OsRandom, ElasticBuffer>,
    ) -> crate::ws::stream::Stream<'static, T, OsRandom, ElasticBuffer> {
        #[cfg(feature = "deflate")]
        if let Some(agreed) = self.0 {
            let (bits, no_context_takeover) = agreed.receive(connection::Role::Client);
            let window = ElasticBuffer::new(1 << bits, 1 << bits);
            if let Ok(inflater) = crate::ws::deflate::Inflater::new(window, no_context_takeover) {
                return stream.with_inflater(inflater);
            }
        }
        stream
    }
}

/// permessage-deflate's receive state on std (a boxed window), when agreed.
#[cfg(feature = "deflate")]
pub(crate) type Inflater = crate::ws::deflate::Inflater<std::boxed::Box<[u8]>>;
/// Without the `deflate` feature there is never one.
#[cfg(not(feature = "deflate"))]
pub(crate) type Inflater = core::convert::Infallible;

/// permessage-deflate's send state, when agreed.
#[cfg(feature = "deflate")]
pub(crate) type Compressor = crate::ws::deflate::Compressor;
/// Without the `deflate` feature there is never one.
#[cfg(not(feature = "deflate"))]
pub(crate) type Compressor = core::convert::Infallible;

/// The driver a [`WebSocket`] runs.
pub type WsDriver<K> =
    blocking::Connection<'static, Socket, connection::Connection<K>, ElasticBuffer>;

/// A WebSocket connection on std: either role, whole messages, pings answered and the closing
/// handshake done for you. `WebSocket` (the server side) comes from [`accept`](Self::accept);
/// `WebSocket<OsRandom>` (the client side) from [`connect`](WebSocket::connect).
///
/// ```no_run
/// use mqtt_ws::net::WebSocket;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:9001")?;
/// for tcp in listener.incoming() {
///     let mut ws = WebSocket::accept(tcp?)?;
///     while let Some(message) = ws.recv()? {
///         ws.send(&message)?;
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WebSocket<K: MaskKeys = NoMasking> {
    conn: WsDriver<K>,
    clock: Clock,
    /// The message being collected.
    message: Assembler,
    protocol: Option<String>,
    /// permessage-deflate's receive state, when agreed.
    inflater: Option<Inflater>,
    /// permessage-deflate's send state, when agreed.
    compressor: Option<Compressor>,
}

impl WebSocket {
    /// Accepts a WebSocket connection on `tcp` with the default [`AcceptOptions`]: any origin,
    /// no subprotocol.
    pub fn accept(tcp: TcpStream) -> Result<Self, Error> {
        Self::accept_with(tcp, &AcceptOptions::default())
    }

    /// Accepts a WebSocket connection on `tcp`: reads the opening handshake and answers it
    /// (`101`, or the refusal a bad request, a refused origin or a late request calls for,
    /// reported as [`Error::Handshake`]).
    pub fn accept_with(tcp: TcpStream, options: &AcceptOptions<'_>) -> Result<Self, Error> {
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(super::transport::READ_TICK))?;
        let clock = Clock::new();
        let agreed = Agreed::default();
        let deadline = clock.now() + options.handshake_timeout;
        let server = handshake::Server::default().with_deadline(deadline);
        let (rx, tx) = (super::buffer(options.buffer_len), super::buffer(options.buffer_len));
        let mut conn = blocking::Connection::with_buffers(Socket::Tcp(StdIo(tcp)), server, rx, tx);
        let (mut protocol, mut refused) = (None, None);
        let accepted = conn.handshake(
            || clock.now(),
            |request| match options.answer(request, &agreed) {
                Ok((accept, chosen)) => {
                    protocol = chosen.map(String::from);
                    Ok(accept)
                }
                Err(e) => {
                    refused = Some(e);
                    Err(e.reject())
                }
            },
        )?;
        if !accepted {
            let e = refused.unwrap_or(RequestError::Malformed);
            return Err(Error::Handshake(e.into()));
        }
        let conn = conn.upgrade(Config::new());
        let mut ws = WebSocket::new(conn, clock, options.max_message_len, protocol);
        (ws.inflater, ws.compressor) = agreed.state();
        Ok(ws)
    }
}

impl WebSocket<OsRandom> {
    /// Connects to a `ws://` or `wss://` URL (the path as given, `/` when it has none), with
    /// no subprotocol and the default [`Options`].
    pub fn connect(url: &str) -> Result<Self, Error> {
        let options = Options { default_path: "/", ..Options::default() };
        Self::connect_with(url, &[], &options)
    }

    /// Connects to a `ws://` or `wss://` URL offering `protocols` (in order of preference).
    pub fn connect_with(url: &str, protocols: &[&str], options: &Options) -> Result<Self, Error> {
        let url = Url::parse(url)?;
        if !url.scheme.is_websocket() {
            return Err(Error::Url(super::UrlError::Scheme));
        }
        let socket = Socket::connect(&url, options)?;
        let clock = Clock::new();
        let path = if url.path.is_empty() { options.default_path } else { url.path };
        let authority = url.authority();
        let deflate = ClientDeflate::new(options);
        let offers = deflate.offers();
        let request = handshake::ClientRequest::new(&authority, path)
            .protocols(protocols)
            .extensions(&offers);
        let deadline = clock.now() + options.connect_timeout;
        let client = handshake::Client::new(request, super::random()?)?.with_deadline(deadline);
        let (rx, tx) = (super::buffer(options.buffer_len), super::buffer(options.buffer_len));
        let mut conn = blocking::Connection::with_buffers(socket, client, rx, tx);
        let (protocol, agreed) = loop {
            if let Some(accepted) = conn.poll(clock.now())? {
                break (accepted.protocol().map(String::from), deflate.agreed(&accepted)?);
            }
        };
        let conn = conn.upgrade(Config::new(), OsRandom::new()?);
        let mut ws = WebSocket::new(conn, clock, 64 << 20, protocol);
        (ws.inflater, ws.compressor) = agreed.state(connection::Role::Client);
        Ok(ws)
    }
}

impl<K: MaskKeys> WebSocket<K> {
    fn new(
        conn: WsDriver<K>,
        clock: Clock,
        max_message_len: usize,
        protocol: Option<String>,
    ) -> Self {
        let message = Assembler::new(max_message_len);
        WebSocket { conn, clock, message, protocol, inflater: None, compressor: None }
    }

    websocket_commands!();
}
