//! Blocking driver over [`embedded_io::Read`] + [`embedded_io::Write`].
//!
//! ```no_run
//! # #[cfg(feature = "std")] {
//! use mqtt_ws::io::{StdIo, blocking::Connection};
//! use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
//! use mqtt_ws::time::Instant;
//! let tcp = std::net::TcpStream::connect("127.0.0.1:1883").unwrap();
//! tcp.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
//! let start = std::time::Instant::now();
//! let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
//! let (mut rx, mut tx, mut store) = ([0u8; 1024], [0u8; 1024], [0u8; 4096]);
//! let client: Client<SliceStore<'_, 16>> =
//!     Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
//! let mut conn = Connection::new(StdIo(tcp), client, &mut rx, &mut tx);
//! conn.connect(now(), &ConnectOptions::new("light-1")).unwrap();
//! loop {
//!     match conn.poll(now()).unwrap() {
//!         Some(Event::Connected(_)) => {
//!             conn.publish(now(), &Outgoing::new("home/livingroom/light", b"ON")).unwrap();
//!         }
//!         Some(Event::Message(m)) => println!("{}: {:?}", m.topic, m.payload),
//!         _ => {}
//!     }
//! }
//! # }
//! ```

use embedded_io::{Read, Write};

use super::redial::{Link, Redial};
use super::{Backoff, DriverError, Step, is_timeout};
use crate::mqtt::client::{Client, ConnectOptions, Event, Outgoing, Sent, Store, UsageError};
use crate::mqtt::packet::{Status, Subscription};
use crate::mqtt::properties::Properties;
use crate::mqtt::{Qos, ReasonCode};
use crate::time::Instant;

type Result<T, E> = core::result::Result<T, DriverError<E>>;

/// A [`Client`] pumped over a blocking transport `T`, with caller receive and transmit buffers.
///
/// The receive buffer must be at least the client's `Config::rx_buffer_len`; the transmit buffer
/// must hold the largest packet sent.
#[derive(Debug)]
pub struct Connection<
    'b,
    T,
    S: Store,
    const RX: usize = 16,
    const A: usize = 8,
    const TP: usize = 128,
> {
    transport: T,
    client: Client<S, RX, A, TP>,
    rx: &'b mut [u8],
    rx_len: usize,
    consumed: usize,
    need_read: bool,
    tx: &'b mut [u8],
}

impl<'b, T: Read + Write, S: Store, const RX: usize, const A: usize, const TP: usize>
    Connection<'b, T, S, RX, A, TP>
{
    /// A driver over `transport` (already connected at the transport level).
    pub fn new(
        transport: T,
        client: Client<S, RX, A, TP>,
        rx: &'b mut [u8],
        tx: &'b mut [u8],
    ) -> Self {
        Self { transport, client, rx, rx_len: 0, consumed: 0, need_read: true, tx }
    }

    /// The session.
    pub fn client(&self) -> &Client<S, RX, A, TP> {
        &self.client
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Takes the driver apart (the client keeps its store for a reconnect over a new transport).
    pub fn into_parts(self) -> (T, Client<S, RX, A, TP>) {
        (self.transport, self.client)
    }

    /// The network connection is gone (see [`Client::connection_lost`]): drops buffered input
    /// and puts the session offline, keeping its in-flight messages for the next connection.
    pub fn connection_lost(&mut self) {
        self.rx_len = 0;
        self.consumed = 0;
        self.need_read = true;
        self.client.connection_lost();
    }

    /// Swaps in a new transport after [`Connection::connection_lost`] (then call
    /// [`Connection::connect`]); returns the old one.
    pub fn replace_transport(&mut self, transport: T) -> T {
        self.connection_lost();
        core::mem::replace(&mut self.transport, transport)
    }

    /// Writes the first `n` bytes of the transmit buffer. `write_all` by hand: a transport
    /// that takes no byte (`Ok(0)`, which `write_all` panics on) is reported as
    /// [`DriverError::Closed`].
    fn send(&mut self, n: usize) -> Result<(), T::Error> {
        let mut bytes = self.tx.get(..n).unwrap_or_default();
        while !bytes.is_empty() {
            match self.transport.write(bytes) {
                Ok(0) => return Err(DriverError::Closed),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) => return Err(DriverError::Transport(e)),
            }
        }
        Ok(())
    }

    /// Sends everything the client owes (the drain rule), then flushes the transport.
    pub fn flush(&mut self, now: Instant) -> Result<(), T::Error> {
        while let Some(n) = self.client.poll_transmit(now, self.tx)? {
            self.send(n)?;
        }
        self.transport.flush().map_err(DriverError::Transport)
    }

    /// Sends CONNECT. A new network connection for the client: call it once per transport.
    pub fn connect(&mut self, now: Instant, options: &ConnectOptions<'_>) -> Result<(), T::Error> {
        self.rx_len = 0;
        self.consumed = 0;
        self.need_read = true;
        let n = self.client.connect(now, options, self.tx)?;
        self.send(n)?;
        self.flush(now)
    }

    /// One step: send what is owed, run timers, read once if no whole packet is buffered, and
    /// return at most one event. Call it in a loop; `Ok(None)` means "nothing for you this time".
    ///
    /// Blocks in the transport's `read` (give the transport a read timeout shorter than the
    /// keep alive so pings go out; see the [module docs](super)).
    #[inline(never)]
    pub fn poll(&mut self, now: Instant) -> Result<Option<Event<'_>>, T::Error> {
        if self.consumed > 0 {
            crate::buf::move_down(self.rx, self.consumed, self.rx_len, 0);
            self.rx_len -= self.consumed;
            self.consumed = 0;
        }
        self.client.handle_timeout(now)?;
        self.flush(now)?;
        if self.need_read || self.rx_len == 0 {
            let Some(free) = self.rx.get_mut(self.rx_len..).filter(|f| !f.is_empty()) else {
                return Err(DriverError::ReceiveBufferTooSmall);
            };
            match self.transport.read(free) {
                Ok(0) => return Err(DriverError::Closed),
                Ok(n) => self.rx_len += n,
                Err(e) if is_timeout(&e) => return Ok(None),
                Err(e) => return Err(DriverError::Transport(e)),
            }
        }
        let Self { client, rx, rx_len, consumed, need_read, .. } = self;
        match client.handle_input(now, rx.get(..*rx_len).unwrap_or_default())? {
            Status::Partial { .. } => {
                *need_read = true;
                Ok(None)
            }
            Status::Complete(r) => {
                *consumed = r.consumed;
                *need_read = false;
                Ok(r.event)
            }
        }
    }

    /// The shape of every command: send what is owed, let `encode` write the command into the
    /// transmit buffer (returning its result and length), send it and flush the transport.
    fn command<R>(
        &mut self,
        now: Instant,
        encode: impl FnOnce(
            &mut Client<S, RX, A, TP>,
            &mut [u8],
        ) -> core::result::Result<(R, usize), crate::mqtt::client::Error>,
    ) -> Result<R, T::Error> {
        self.flush(now)?;
        let (result, n) = encode(&mut self.client, self.tx)?;
        self.send(n)?;
        self.transport.flush().map_err(DriverError::Transport)?;
        Ok(result)
    }

    /// Publishes `msg` (see [`Client::publish`]) and sends it.
    pub fn publish(&mut self, now: Instant, msg: &Outgoing<'_>) -> Result<Sent, T::Error> {
        self.command(now, |c, tx| c.publish(now, msg, tx).map(|s| (s, s.len)))
    }

    /// Subscribes (see [`Client::subscribe`]) and sends the request.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: &[Subscription<'_>],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.command(now, |c, tx| {
            c.subscribe(now, subscriptions, properties, tx).map(|s| (s, s.len))
        })
    }

    /// Unsubscribes (see [`Client::unsubscribe`]) and sends the request.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[&str],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.command(now, |c, tx| c.unsubscribe(now, filters, properties, tx).map(|s| (s, s.len)))
    }

    /// Answers or starts enhanced authentication (see [`Client::auth`]).
    pub fn auth(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.command(now, |c, tx| c.auth(now, reason, properties, tx).map(|n| ((), n)))
    }

    /// Sends DISCONNECT (see [`Client::disconnect`]); close the transport afterwards.
    pub fn disconnect(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.command(now, |c, tx| c.disconnect(now, reason, properties, tx).map(|n| ((), n)))
    }
}

/// A [`Connection`] that reconnects by itself: on any connection failure it waits with
/// exponential [`Backoff`], opens a new transport with the caller's `connect` function and
/// resumes the session with Clean Start 0, so unacknowledged QoS 1/2 messages are re-sent with
/// DUP and owed PUBRELs go out again [MQTT-4.4.0-1].
///
/// The session state machine knows nothing of this: the driver calls
/// [`Client::connection_lost`] and [`Client::connect`] again. Every failure is reported as a
/// [`Step`] and never ends the driver; a broker that stalls is detected by the keep alive
/// (use a keep alive > 0: the bound is keep alive + PINGRESP timeout) and a missing CONNACK by
/// `Config::connect_timeout`.
///
/// ```no_run
/// # #[cfg(feature = "std")] {
/// use mqtt_ws::io::{Backoff, StdIo, Step, blocking::{Connection, Reconnecting}};
/// use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, SliceStore};
/// use mqtt_ws::time::{Duration, Instant};
/// let open = || -> std::io::Result<StdIo<std::net::TcpStream>> {
///     let tcp = std::net::TcpStream::connect("127.0.0.1:1883")?;
///     tcp.set_read_timeout(Some(std::time::Duration::from_millis(500)))?;
///     Ok(StdIo(tcp))
/// };
/// let start = std::time::Instant::now();
/// let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
/// let (mut rx, mut tx, mut store) = ([0u8; 1024], [0u8; 1024], [0u8; 4096]);
/// let client: Client<SliceStore<'_, 16>> =
///     Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
/// let conn = Connection::new(open().unwrap(), client, &mut rx, &mut tx);
/// let mut options = ConnectOptions::new("light-1");
/// options.clean_start = false;
/// options.session_expiry = 3600;
/// options.keep_alive = 30;
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30), 7);
/// let mut link = Reconnecting::new(conn, options, open, backoff);
/// loop {
///     match link.poll(now()) {
///         Step::Event(Event::Message(m)) => println!("{}: {:?}", m.topic, m.payload),
///         Step::Offline { until } => {
///             let ms = until.saturating_duration_since(now());
///             std::thread::sleep(ms);
///         }
///         Step::Lost { error, .. } => eprintln!("connection lost: {error}"),
///         _ => {}
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Reconnecting<
    'b,
    'o,
    T,
    C,
    S: Store,
    const RX: usize = 16,
    const A: usize = 8,
    const TP: usize = 128,
> {
    conn: Connection<'b, T, S, RX, A, TP>,
    options: ConnectOptions<'o>,
    connect: C,
    redial: Redial,
}

impl<'b, 'o, T, C, CE, S, const RX: usize, const A: usize, const TP: usize>
    Reconnecting<'b, 'o, T, C, S, RX, A, TP>
where
    T: Read + Write,
    C: FnMut() -> core::result::Result<T, CE>,
    S: Store,
{
    /// A driver over `conn` (a transport connected, no CONNECT sent yet), connecting with
    /// `options` (the first time as given, then with Clean Start 0), opening new transports with
    /// `connect` after `backoff`.
    ///
    /// For messages to survive a reconnect, the session must outlive the network connection:
    /// give `options` a Session Expiry Interval > 0 (MQTT 5.0) or Clean Start 0 (3.1.1).
    pub fn new(
        conn: Connection<'b, T, S, RX, A, TP>,
        options: ConnectOptions<'o>,
        connect: C,
        backoff: Backoff,
    ) -> Self {
        Self { conn, options, connect, redial: Redial::new(backoff) }
    }

    /// The driver of the current connection.
    pub fn connection(&self) -> &Connection<'b, T, S, RX, A, TP> {
        &self.conn
    }

    /// The driver of the current connection, for the other commands (`subscribe`, ...). A
    /// transport failure there shows up as [`Step::Lost`] on the next poll.
    pub fn connection_mut(&mut self) -> &mut Connection<'b, T, S, RX, A, TP> {
        &mut self.conn
    }

    /// The session.
    pub fn client(&self) -> &Client<S, RX, A, TP> {
        self.conn.client()
    }

    /// `true` once CONNACK accepted the current connection: commands can be sent.
    pub fn is_connected(&self) -> bool {
        self.redial.is_up() && self.conn.client().state() == crate::mqtt::client::State::Connected
    }

    /// CONNECT packets sent so far (the first connection and every reconnect).
    pub fn connects(&self) -> u32 {
        self.redial.connects()
    }

    /// Takes the driver apart.
    pub fn into_parts(self) -> (Connection<'b, T, S, RX, A, TP>, C) {
        (self.conn, self.connect)
    }

    fn send_connect(&mut self, now: Instant) -> Option<DriverError<T::Error>> {
        let result = self.conn.connect(now, &self.options);
        self.redial.connect_sent(result, &mut self.options)
    }

    /// One step: connect or reconnect when due, otherwise [`Connection::poll`]. Never fails:
    /// failures are [`Step::Lost`] and [`Step::ConnectFailed`], after which the driver waits
    /// ([`Step::Offline`]) and tries again.
    pub fn poll(&mut self, now: Instant) -> Step<'_, T::Error, CE> {
        match self.redial.link() {
            Link::Fresh => match self.send_connect(now) {
                None => Step::Idle,
                Some(error) => {
                    self.conn.connection_lost();
                    Step::Lost { error, retry_at: self.redial.schedule(now, false) }
                }
            },
            Link::Down { retry_at, cleanup } => {
                if cleanup {
                    // Best effort: the DISCONNECT a broker fault owes [MQTT-4.13.1-1].
                    let _ = self.conn.flush(now);
                    self.conn.connection_lost();
                    self.redial.cleaned_up();
                }
                if now < retry_at {
                    return Step::Offline { until: retry_at };
                }
                match (self.connect)() {
                    Err(error) => {
                        Step::ConnectFailed { error, retry_at: self.redial.schedule(now, false) }
                    }
                    Ok(t) => {
                        drop(self.conn.replace_transport(t));
                        match self.send_connect(now) {
                            None => Step::Idle,
                            Some(error) => {
                                self.conn.connection_lost();
                                Step::Lost { error, retry_at: self.redial.schedule(now, false) }
                            }
                        }
                    }
                }
            }
            Link::Up => match self.conn.poll(now) {
                Ok(None) => Step::Idle,
                Ok(Some(ev)) => {
                    self.redial.on_event(now, &ev);
                    Step::Event(ev)
                }
                Err(error) => {
                    // The session is cleaned up on the next poll (the event borrow ends here).
                    Step::Lost { error, retry_at: self.redial.schedule(now, true) }
                }
            },
        }
    }

    fn lose(&mut self, now: Instant) {
        self.conn.connection_lost();
        self.redial.schedule(now, false);
    }

    /// Publishes `msg` (see [`Client::publish`]); offline: [`UsageError::NotConnected`].
    ///
    /// A QoS 1/2 message the session accepted is `Ok` even if the transport failed while
    /// sending it: it is in the store and goes out again after the reconnect.
    pub fn publish(&mut self, now: Instant, msg: &Outgoing<'_>) -> Result<Sent, T::Error> {
        if !self.is_connected() {
            return Err(DriverError::Mqtt(UsageError::NotConnected.into()));
        }
        if let Err(e) = self.conn.flush(now) {
            self.lose(now);
            return Err(e);
        }
        let sent = self.conn.client.publish(now, msg, self.conn.tx)?;
        let wrote = self.conn.send(sent.len);
        let wrote =
            wrote.and_then(|()| self.conn.transport.flush().map_err(DriverError::Transport));
        match wrote {
            Ok(()) => Ok(sent),
            Err(e) => {
                self.lose(now);
                if msg.qos == Qos::AtMostOnce { Err(e) } else { Ok(sent) }
            }
        }
    }
}
