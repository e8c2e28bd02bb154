//! The listeners: accepting sockets, TLS (rustls) where a listener has a certificate, the
//! WebSocket listener's opening handshake (or its browser page), and the transport each MQTT
//! session runs over, with a deadline on every write.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use embedded_io_adapters::tokio_1::FromTokio;
use mqtt_ws::io::{Buffer, ElasticBuffer, Pump, asynch};
use mqtt_ws::mqtt::ReasonCode;
use mqtt_ws::mqtt::server::{Closed, Initiator};
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{NoMasking, Role};
use mqtt_ws::ws::deflate::params::Element;
use mqtt_ws::ws::deflate::{Agreement, Inflater, ServerConfig};
use mqtt_ws::ws::handshake::{self, OriginPolicy, Reject};
use mqtt_ws::ws::stream::Stream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout_at;

use super::chan::Receiver;
use super::conn::{Conn, Driver, Ran, Woke};
use super::park::{Parked, park};
use super::transport::mqtt_ws_config;
use super::{Broker, CONNECT_TIMEOUT, Cmd, Listen, Shared, WRITE_TIMEOUT};

/// The least a connection's receive buffer holds while in use (it grows while a client sends
/// faster than it holds; an idle plain TCP connection holds none, see `Conn::run`).
const RX_FLOOR: usize = 1024;
/// The same for its transmit buffer.
const TX_FLOOR: usize = 256;
/// The same for the WebSocket frames under MQTT over WebSocket.
const WS_FLOOR: usize = 2048;
/// permessage-deflate (RFC 7692), which browsers offer: accepted when the client lets the
/// broker limit its window, to 1 KiB (the memory a connection's inflater holds); replies go
/// uncompressed, as the extension allows (§6).
const WS_DEFLATE: ServerConfig = ServerConfig { receive_window_bits: 10, ..ServerConfig::new() };

/// A connection's byte stream: TCP, or TLS over TCP.
pub(crate) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// [`Socket::poll_readable`] tells when a read would not wait: the session's buffers may be
    /// given back, and its task ended, while it waits.
    const READINESS: bool = false;

    /// Ready when a read would not wait, where the socket can tell (plain TCP); at once
    /// otherwise (TLS may hold decrypted bytes the TCP socket knows nothing of).
    fn poll_readable(&self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl Socket for TcpStream {
    const READINESS: bool = true;

    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        // The socket's own read waker: nothing of the waiter's own is kept. An error shows in
        // the read that follows.
        self.poll_read_ready(cx).map(|_| ())
    }
}

impl Socket for Tls {}

/// A socket whose writes fail with `TimedOut` after the broker's write timeout: a client that
/// stops reading cannot hold its connection's task (and the messages queued for it) forever.
pub(crate) struct Timed<S> {
    tcp: FromTokio<S>,
    limit: Duration,
}

impl<S: Socket> embedded_io_async::ErrorType for Timed<S> {
    type Error = io::Error;
}

impl<S: Socket> embedded_io_async::Read for Timed<S> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf).await
    }
}

impl<S: Socket> embedded_io_async::Write for Timed<S> {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match tokio::time::timeout(self.limit, self.tcp.write(buf)).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match tokio::time::timeout(self.limit, self.tcp.flush()).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

impl<S: Socket> Timed<S> {
    /// Ends the connection (TLS: with its close_notify).
    async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(self.limit, self.tcp.inner_mut().shutdown()).await;
    }
}

/// How a session's transport is closed once the session is over.
pub(crate) trait Link: embedded_io_async::Read + embedded_io_async::Write {
    /// [`Link::poll_readable`] tells when a read would not wait ([`Socket::READINESS`]).
    const READINESS: bool = false;

    /// Closes it, telling a WebSocket peer why with `code`.
    async fn close(&mut self, code: CloseCode);

    /// Ready when a read would not wait, where that can be known (plain TCP); at once otherwise.
    fn poll_readable(&self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl<S: Socket> Link for Timed<S> {
    const READINESS: bool = S::READINESS;

    async fn close(&mut self, _: CloseCode) {
        self.shutdown().await;
    }

    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.tcp.inner().poll_readable(cx)
    }
}

/// MQTT over WebSocket: the closing handshake, then the TCP shutdown.
impl<S: Socket> Link for Stream<'_, Timed<S>, NoMasking, ElasticBuffer> {
    async fn close(&mut self, code: CloseCode) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.close_async(code)).await;
        self.transport().shutdown().await;
    }
}

/// A link a session's task can be spawned on: implemented for each concrete link, where the
/// compiler can see that the task's future is `Send` (over a generic link it cannot).
pub(crate) trait Spawn: Link + Sized + 'static {
    /// Spawns the session's task ([`run_session`]).
    fn spawn(conn: Box<Driver<Self>>, c: Box<Conn>, rx: Receiver<Cmd>, counted: Counted);

    /// Spawns the task of a parked session again ([`park`]), with what woke it.
    fn resume(p: Parked<Self>, woke: Woke);
}

macro_rules! spawn_on {
    ($($link:ty),*) => {$(
        impl Spawn for $link {
            fn spawn(conn: Box<Driver<Self>>, c: Box<Conn>, rx: Receiver<Cmd>, counted: Counted) {
                tokio::spawn(run_session(Parked { conn, c, rx, counted }, None));
            }

            fn resume(p: Parked<Self>, woke: Woke) {
                p.c.broker().timers.runtime().spawn(run_session(p, Some(woke)));
            }
        }
    )*};
}

type Tls = tokio_rustls::server::TlsStream<TcpStream>;
spawn_on!(
    Timed<TcpStream>,
    Timed<Tls>,
    Stream<'static, Timed<TcpStream>, NoMasking, ElasticBuffer>,
    Stream<'static, Timed<Tls>, NoMasking, ElasticBuffer>
);

/// The WebSocket close code for how the MQTT session ended: 1002 after the client broke the
/// protocol, 1008 when it was refused or timed out, 1001 when the server goes away or the
/// session moved to another connection, 1000 otherwise (RFC 6455 §7.4.1).
pub(crate) fn ws_close_code(closed: Option<Closed>) -> CloseCode {
    let Some(c) = closed.filter(|c| c.initiator == Initiator::Server) else {
        return CloseCode::Normal;
    };
    match c.reason_code {
        ReasonCode::ServerShuttingDown | ReasonCode::SessionTakenOver => CloseCode::GoingAway,
        ReasonCode::MalformedPacket
        | ReasonCode::ProtocolError
        | ReasonCode::TopicAliasInvalid
        | ReasonCode::ReceiveMaximumExceeded
        | ReasonCode::PacketTooLarge
        | ReasonCode::UnsupportedProtocolVersion => CloseCode::ProtocolError,
        code if code.is_error() => CloseCode::PolicyViolation,
        _ => CloseCode::Normal,
    }
}

impl Broker {
    /// Accepts connections until the broker stops, a task each, at most the listener's
    /// `max_connections` at once.
    pub(crate) async fn accept_loop(self, listener: TcpListener, spec: Listen) {
        let spec = Arc::new(spec);
        let open = Arc::new(AtomicUsize::new(0));
        loop {
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors, say: this one is lost, the listener goes on.
                    println!("broker: accept failed: {e}");
                    tokio::task::yield_now().await;
                    continue;
                }
            };
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            if spec.max_connections.is_some_and(|max| open.load(Ordering::Relaxed) >= max as usize)
            {
                println!("broker: listener {} at max_connections, connection closed", spec.addr);
                continue;
            }
            let _ = tcp.set_nodelay(true);
            let counted = Counted::new(&self, open.clone());
            // The TLS handshake, the WebSocket upgrade and CONNECT must all be done by then.
            let deadline =
                StdInstant::now() + self.options.connect_timeout.unwrap_or(CONNECT_TIMEOUT);
            if spec.tls.is_none() && !spec.websocket {
                // Plain MQTT over TCP: the session's task at once.
                let limit = self.options.write_timeout.unwrap_or(WRITE_TIMEOUT);
                let link = Timed { tcp: FromTokio::new(tcp), limit };
                self.spawn_session(link, deadline, counted);
                continue;
            }
            let b = self.clone();
            let spec = spec.clone();
            tokio::spawn(async move {
                if let Err(e) = b.serve(tcp, &spec, deadline, counted).await {
                    b.log(|| format!("connection ended: {e}"));
                }
            });
        }
    }

    /// Serves one accepted socket that needs a handshake first: TLS, or (on the WebSocket
    /// listener) the opening handshake on `/mqtt` then MQTT over WebSocket, or the browser page.
    /// The session then runs in a task of its own: the room the handshakes took is not part of
    /// it.
    async fn serve(
        &self,
        tcp: TcpStream,
        spec: &Listen,
        deadline: StdInstant,
        counted: Counted,
    ) -> io::Result<()> {
        match &spec.tls {
            Some(config) => {
                // Boxed, as the WebSocket path: a plain connection's task does not carry the
                // TLS state's room.
                Box::pin(async {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                    let tls = match timeout_at(deadline.into(), acceptor.accept(tcp)).await {
                        Ok(tls) => tls?,
                        Err(_) => return Err(io::ErrorKind::TimedOut.into()),
                    };
                    self.serve_on(tls, spec.websocket, deadline, counted).await
                })
                .await
            }
            None => self.serve_on(tcp, spec.websocket, deadline, counted).await,
        }
    }

    /// MQTT (or, on a WebSocket listener, HTTP) over `socket`.
    async fn serve_on<S: Socket>(
        &self,
        socket: S,
        websocket: bool,
        deadline: StdInstant,
        counted: Counted,
    ) -> io::Result<()>
    where
        Timed<S>: Spawn,
        Stream<'static, Timed<S>, NoMasking, ElasticBuffer>: Spawn,
    {
        let limit = self.options.write_timeout.unwrap_or(WRITE_TIMEOUT);
        if websocket {
            return Box::pin(self.serve_http(socket, limit, deadline, counted)).await;
        }
        let link = Timed { tcp: FromTokio::new(socket), limit };
        self.spawn_session(link, deadline, counted);
        Ok(())
    }

    /// The WebSocket listener: the opening handshake on `/mqtt`, or the browser page.
    async fn serve_http<S: Socket>(
        &self,
        mut tcp: S,
        limit: Duration,
        deadline: StdInstant,
        counted: Counted,
    ) -> io::Result<()>
    where
        Stream<'static, Timed<S>, NoMasking, ElasticBuffer>: Spawn,
    {
        // A browser asking for the page sends a plain GET: look at the head first.
        let head = match timeout_at(deadline.into(), read_head(&mut tcp)).await {
            Ok(head) => head?,
            Err(_) => {
                // However slowly the bytes come, the head is late now.
                let _ = tcp.shutdown().await;
                return Err(io::ErrorKind::TimedOut.into());
            }
        };
        if !contains_ci(&head, b"\nupgrade:") {
            return self.serve_page(&mut tcp, &head).await;
        }
        // What the handshake agreed to (outliving the answer that borrows the strings).
        let agreement: OnceLock<Agreement> = OnceLock::new();
        let element: OnceLock<Element> = OnceLock::new();
        let extensions: OnceLock<[&str; 1]> = OnceLock::new();
        let (mut rx, tx) =
            (ElasticBuffer::new(WS_FLOOR, 64 << 10), ElasticBuffer::new(WS_FLOOR, 64 << 10));
        rx.fit(0, head.len());
        rx.as_mut()[..head.len()].copy_from_slice(&head);
        let left = deadline.saturating_duration_since(StdInstant::now());
        let hs = handshake::Server::default().with_deadline(self.now() + left);
        let pump = Pump::from_buffers(hs, rx, 0..head.len(), tx);
        let link = Timed { tcp: FromTokio::new(tcp), limit };
        let mut conn = asynch::Connection::from_pump(link, pump);
        let allowed: Vec<&str> = self.options.allowed_origins.iter().map(String::as_str).collect();
        let policy = OriginPolicy::allow_list(&allowed);
        let handshake = conn.handshake(
            || self.now(),
            |req| {
                if req.path().split('?').next() != Some("/mqtt") {
                    return Err(Reject::NotFound);
                }
                if let Err(e) = req.check_origin(&policy) {
                    println!("broker: refused origin {:?}", req.origin());
                    return Err(e.reject());
                }
                // MQTT over WebSocket: the "mqtt" subprotocol (MQTT 5.0 §6.0).
                let protocol = req.select_protocol(&["mqtt"]);
                let accept = match WS_DEFLATE.accept(req.extensions()) {
                    Some(agreed) => {
                        let element = element.get_or_init(|| agreed.response());
                        let _ = agreement.set(agreed);
                        req.accept_with(
                            protocol,
                            extensions.get_or_init(|| [element.as_str()]),
                            &[],
                        )
                    }
                    None => req.accept(protocol),
                };
                accept.map_err(|_| Reject::BadRequest)
            },
        );
        let accepted = match timeout_at(deadline.into(), handshake).await {
            Ok(r) => r.map_err(super::invalid)?,
            Err(_) => false,
        };
        if !accepted {
            conn.transport().shutdown().await;
            return Ok(());
        }
        let mut stream = conn.upgrade(mqtt_ws_config()).into_stream().map_err(super::invalid)?;
        if let Some(agreed) = agreement.get() {
            let (bits, no_context_takeover) = agreed.receive(Role::Server);
            let window = ElasticBuffer::new(1 << bits, 1 << bits);
            let inflater = Inflater::new(window, no_context_takeover).map_err(super::invalid)?;
            stream = stream.with_inflater(inflater);
        }
        self.spawn_session(stream, deadline, counted);
        Ok(())
    }

    async fn serve_page<S: Socket>(&self, tcp: &mut S, head: &[u8]) -> io::Result<()> {
        if !head.windows(4).any(|w| w == b"\r\n\r\n") {
            return http_reply(tcp, "400 Bad Request", "text/plain", b"bad request\n").await;
        }
        let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        if method != "GET" {
            return http_reply(tcp, "405 Method Not Allowed", "text/plain", b"GET only\n").await;
        }
        match path {
            "/" | "/index.html" => {
                let page = include_bytes!("../web/index.html");
                http_reply(tcp, "200 OK", "text/html; charset=utf-8", page).await
            }
            "/mqtt.min.js" => match self.options.mqttjs.as_ref().map(std::fs::read) {
                Some(Ok(js)) => http_reply(tcp, "200 OK", "text/javascript", &js).await,
                _ => {
                    let body = b"mqtt.min.js not found: run `npm install mqtt` and pass --mqttjs\n";
                    http_reply(tcp, "404 Not Found", "text/plain", body).await
                }
            },
            "/favicon.ico" => http_reply(tcp, "204 No Content", "image/x-icon", b"").await,
            _ => http_reply(tcp, "404 Not Found", "text/plain", b"not found\n").await,
        }
    }

    /// Runs one MQTT session to its end over `link`, with the messages routed to it, in a task
    /// of its own while it is busy; a plain TCP connection that idles waits without one
    /// ([`park`]). The driver and the connection's state are boxed: they move between the two
    /// as pointers.
    fn spawn_session<T: Spawn>(&self, link: T, deadline: StdInstant, counted: Counted)
    where
        T::Error: std::fmt::Debug,
    {
        let rx = super::chan::channel(self.queue_limit());
        let left = deadline.saturating_duration_since(StdInstant::now());
        let session = super::Session::new(self.server_config(left), self.now());
        // Small while the connection idles; a whole packet of the largest size fits each way
        // when one comes.
        let max = super::MAX_PACKET as usize;
        let (rxb, txb) =
            (ElasticBuffer::new(RX_FLOOR, max), ElasticBuffer::new(TX_FLOOR, max + 4096));
        let conn = Box::new(asynch::Connection::with_buffers(link, session, rxb, txb));
        let c = Box::new(Conn::new(self.clone()));
        T::spawn(conn, c, rx, counted);
    }
}

/// A connection counted in its broker and its listener while it lives.
pub(crate) struct Counted {
    broker: Arc<Shared>,
    open: Arc<AtomicUsize>,
}

impl Counted {
    fn new(broker: &Broker, open: Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        broker.connections.fetch_add(1, Ordering::Relaxed);
        Counted { broker: broker.shared.clone(), open }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.broker.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The session's task ([`Broker::spawn_session`]), from what woke it: it ends when the session
/// does, or when the connection idles (it is then [`park`]ed).
async fn run_session<T: Spawn>(p: Parked<T>, woke: Option<Woke>)
where
    T::Error: std::fmt::Debug,
    Parked<T>: Send,
{
    let Parked { mut conn, mut c, mut rx, counted } = p;
    let result = match c.run(&mut conn, &mut rx, woke).await {
        Ok(Ran::Idle { wake }) => return park(Parked { conn, c, rx, counted }, wake),
        Ok(Ran::Ended) => Ok(()),
        Err(e) => Err(e),
    };
    // Boxed: the task does not carry the room of the way out while the connection runs.
    Box::pin(c.finish(&mut conn, &mut rx, result.is_ok())).await;
    if let Err(e) = result {
        c.broker().log(|| format!("connection ended: {e}"));
    }
}

/// Reads a request head: up to the blank line that ends it, at most 8 KiB.
async fn read_head<S: Socket>(tcp: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match tcp.read(&mut chunk).await? {
            0 => break,
            n => head.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(head)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

async fn http_reply<S: Socket>(
    tcp: &mut S,
    status: &str,
    ctype: &str,
    body: &[u8],
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body).await?;
    tcp.shutdown().await
}
