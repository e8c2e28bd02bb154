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

use super::{DriverError, is_timeout};
use crate::mqtt::ReasonCode;
use crate::mqtt::client::{Client, ConnectOptions, Event, Outgoing, Sent, Store};
use crate::mqtt::packet::{Status, Subscription};
use crate::mqtt::properties::Properties;
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

    async fn send(&mut self, n: usize) -> Result<(), T::Error> {
        let bytes = self.tx.get(..n).unwrap_or_default();
        self.transport.write_all(bytes).await.map_err(DriverError::Transport)?;
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
            self.rx.copy_within(self.consumed..self.rx_len, 0);
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

    /// Publishes `msg` (see [`Client::publish`]) and sends it.
    pub async fn publish(&mut self, now: Instant, msg: &Outgoing<'_>) -> Result<Sent, T::Error> {
        self.flush(now).await?;
        let sent = self.client.publish(now, msg, self.tx)?;
        self.send(sent.len).await?;
        self.transport.flush().await.map_err(DriverError::Transport)?;
        Ok(sent)
    }

    /// Subscribes (see [`Client::subscribe`]) and sends the request.
    pub async fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: &[Subscription<'_>],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.flush(now).await?;
        let sent = self.client.subscribe(now, subscriptions, properties, self.tx)?;
        self.send(sent.len).await?;
        self.transport.flush().await.map_err(DriverError::Transport)?;
        Ok(sent)
    }

    /// Unsubscribes (see [`Client::unsubscribe`]) and sends the request.
    pub async fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[&str],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.flush(now).await?;
        let sent = self.client.unsubscribe(now, filters, properties, self.tx)?;
        self.send(sent.len).await?;
        self.transport.flush().await.map_err(DriverError::Transport)?;
        Ok(sent)
    }

    /// Answers or starts enhanced authentication (see [`Client::auth`]).
    pub async fn auth(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.flush(now).await?;
        let n = self.client.auth(now, reason, properties, self.tx)?;
        self.send(n).await?;
        self.transport.flush().await.map_err(DriverError::Transport)
    }

    /// Sends DISCONNECT (see [`Client::disconnect`]); close the transport afterwards.
    pub async fn disconnect(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.flush(now).await?;
        let n = self.client.disconnect(now, reason, properties, self.tx)?;
        self.send(n).await?;
        self.transport.flush().await.map_err(DriverError::Transport)
    }
}
