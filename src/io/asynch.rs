//! Async driver over [`embedded_io_async::Read`] + [`embedded_io_async::Write`] (embassy-net
//! sockets, tokio through `embedded-io-adapters`, `ws::Stream`).
//!
//! There is no timer inside: race [`Connection::poll`] against a timer of your executor set to
//! [`Client::poll_timeout`] (or a fixed tick), and call `poll` again after the timer fires;
//! `poll` runs the client's timers first thing.
//!
//! # Cancel safety
//!
//! [`Connection::poll`] may be cancelled while it waits in the transport's `read`: the driver
//! only records bytes after `read` returns, so nothing of its own is lost, provided the
//! transport's `read` is itself cancel-safe (tokio sockets and embassy-net are). Cancelling while
//! it writes (any method sending bytes) may leave a partial packet on the wire: close the
//! connection then.

use embedded_io_async::{Read, Write};

use super::redial::{Link, Redial};
use super::{Backoff, DriverError, Step, is_timeout};
use crate::mqtt::client::{Client, ConnectOptions, Event, Outgoing, Sent, Store, UsageError};
use crate::mqtt::packet::{Status, Subscription};
use crate::mqtt::properties::Properties;
use crate::mqtt::{Qos, ReasonCode};
use crate::time::Instant;

type Result<T, E> = core::result::Result<T, DriverError<E>>;

/// A [`Client`] pumped over an async transport `T`, with caller receive and transmit buffers.
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

    /// Writes the first `n` bytes of the transmit buffer. `write_all` by hand, as the blocking
    /// driver does: a transport that takes no byte (`Ok(0)`) is [`DriverError::Closed`].
    async fn send(&mut self, n: usize) -> Result<(), T::Error> {
        let mut bytes = self.tx.get(..n).unwrap_or_default();
        while !bytes.is_empty() {
            match self.transport.write(bytes).await {
                Ok(0) => return Err(DriverError::Closed),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) => return Err(DriverError::Transport(e)),
            }
        }
        Ok(())
    }

    /// Sends everything the client owes (the drain rule), then flushes the transport.
    pub async fn flush(&mut self, now: Instant) -> Result<(), T::Error> {
        while let Some(n) = self.client.poll_transmit(now, self.tx)? {
            self.send(n).await?;
        }
        self.transport.flush().await.map_err(DriverError::Transport)
    }

    /// Sends CONNECT. A new network connection for the client: call it once per transport.
    pub async fn connect(
        &mut self,
        now: Instant,
        options: &ConnectOptions<'_>,
    ) -> Result<(), T::Error> {
        self.rx_len = 0;
        self.consumed = 0;
        self.need_read = true;
        let n = self.client.connect(now, options, self.tx)?;
        self.send(n).await?;
        self.flush(now).await
    }

    /// One step: send what is owed, run timers, read once if no whole packet is buffered, and
    /// return at most one event. Call it in a loop; `Ok(None)` means "nothing for you this time".
    ///
    /// Waits in the transport's `read`; see the [module docs](self) for timers and
    /// cancellation.
    pub async fn poll(&mut self, now: Instant) -> Result<Option<Event<'_>>, T::Error> {
        if self.consumed > 0 {
            crate::buf::move_down(self.rx, self.consumed, self.rx_len, 0);
            self.rx_len -= self.consumed;
            self.consumed = 0;
        }
        self.client.handle_timeout(now)?;
        self.flush(now).await?;
        if self.need_read || self.rx_len == 0 {
            let Some(free) = self.rx.get_mut(self.rx_len..).filter(|f| !f.is_empty()) else {
                return Err(DriverError::ReceiveBufferTooSmall);
            };
            match self.transport.read(free).await {
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
    async fn command<R>(
        &mut self,
        now: Instant,
        encode: impl FnOnce(
            &mut Client<S, RX, A, TP>,
            &mut [u8],
        ) -> core::result::Result<(R, usize), crate::mqtt::client::Error>,
    ) -> Result<R, T::Error> {
        self.flush(now).await?;
        let (result, n) = encode(&mut self.client, self.tx)?;
        self.send(n).await?;
        self.transport.flush().await.map_err(DriverError::Transport)?;
        Ok(result)
    }

    /// Publishes `msg` (see [`Client::publish`]) and sends it.
    pub async fn publish(&mut self, now: Instant, msg: &Outgoing<'_>) -> Result<Sent, T::Error> {
        self.command(now, |c, tx| c.publish(now, msg, tx).map(|s| (s, s.len))).await
    }

    /// Subscribes (see [`Client::subscribe`]) and sends the request.
    pub async fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: &[Subscription<'_>],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.command(now, |c, tx| {
            c.subscribe(now, subscriptions, properties, tx).map(|s| (s, s.len))
        })
        .await
    }

    /// Unsubscribes (see [`Client::unsubscribe`]) and sends the request.
    pub async fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[&str],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.command(now, |c, tx| c.unsubscribe(now, filters, properties, tx).map(|s| (s, s.len)))
            .await
    }

    /// Answers or starts enhanced authentication (see [`Client::auth`]).
    pub async fn auth(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.command(now, |c, tx| c.auth(now, reason, properties, tx).map(|n| ((), n))).await
    }

    /// Sends DISCONNECT (see [`Client::disconnect`]); close the transport afterwards.
    pub async fn disconnect(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.command(now, |c, tx| c.disconnect(now, reason, properties, tx).map(|n| ((), n))).await
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
/// The async twin of the blocking driver's `Reconnecting` (see its docs): `connect` is an
/// async closure opening a transport; on [`Step::Offline`] sleep with your executor's timer
/// until the instant given, and race [`Reconnecting::poll`] against a timer as for
/// [`Connection::poll`].
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
    C: AsyncFnMut() -> core::result::Result<T, CE>,
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

    async fn send_connect(&mut self, now: Instant) -> Option<DriverError<T::Error>> {
        let result = self.conn.connect(now, &self.options).await;
        self.redial.connect_sent(result, &mut self.options)
    }

    /// One step: connect or reconnect when due, otherwise [`Connection::poll`]. Never fails:
    /// failures are [`Step::Lost`] and [`Step::ConnectFailed`], after which the driver waits
    /// ([`Step::Offline`]) and tries again.
    pub async fn poll(&mut self, now: Instant) -> Step<'_, T::Error, CE> {
        match self.redial.link() {
            Link::Fresh => match self.send_connect(now).await {
                None => Step::Idle,
                Some(error) => {
                    self.conn.connection_lost();
                    Step::Lost { error, retry_at: self.redial.schedule(now, false) }
                }
            },
            Link::Down { retry_at, cleanup } => {
                if cleanup {
                    // Best effort: the DISCONNECT a broker fault owes [MQTT-4.13.1-1].
                    let _ = self.conn.flush(now).await;
                    self.conn.connection_lost();
                    self.redial.cleaned_up();
                }
                if now < retry_at {
                    return Step::Offline { until: retry_at };
                }
                match (self.connect)().await {
                    Err(error) => {
                        Step::ConnectFailed { error, retry_at: self.redial.schedule(now, false) }
                    }
                    Ok(t) => {
                        drop(self.conn.replace_transport(t));
                        match self.send_connect(now).await {
                            None => Step::Idle,
                            Some(error) => {
                                self.conn.connection_lost();
                                Step::Lost { error, retry_at: self.redial.schedule(now, false) }
                            }
                        }
                    }
                }
            }
            Link::Up => match self.conn.poll(now).await {
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
    pub async fn publish(&mut self, now: Instant, msg: &Outgoing<'_>) -> Result<Sent, T::Error> {
        if !self.is_connected() {
            return Err(DriverError::Mqtt(UsageError::NotConnected.into()));
        }
        if let Err(e) = self.conn.flush(now).await {
            self.lose(now);
            return Err(e);
        }
        let sent = self.conn.client.publish(now, msg, self.conn.tx)?;
        let mut wrote = self.conn.send(sent.len).await;
        if wrote.is_ok() {
            wrote = self.conn.transport.flush().await.map_err(DriverError::Transport);
        }
        match wrote {
            Ok(()) => Ok(sent),
            Err(e) => {
                self.lose(now);
                if msg.qos == Qos::AtMostOnce { Err(e) } else { Ok(sent) }
            }
        }
    }
}
