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

use super::{DriverError, is_timeout};
use crate::mqtt::ReasonCode;
use crate::mqtt::client::{Client, ConnectOptions, Event, Outgoing, Sent, Store};
use crate::mqtt::packet::{Status, Subscription};
use crate::mqtt::properties::Properties;
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

    fn send(&mut self, n: usize) -> Result<(), T::Error> {
        let bytes = self.tx.get(..n).unwrap_or_default();
        self.transport.write_all(bytes).map_err(DriverError::Transport)?;
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
    pub fn poll(&mut self, now: Instant) -> Result<Option<Event<'_>>, T::Error> {
        if self.consumed > 0 {
            self.rx.copy_within(self.consumed..self.rx_len, 0);
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

    /// Publishes `msg` (see [`Client::publish`]) and sends it.
    pub fn publish(&mut self, now: Instant, msg: &Outgoing<'_>) -> Result<Sent, T::Error> {
        self.flush(now)?;
        let sent = self.client.publish(now, msg, self.tx)?;
        self.send(sent.len)?;
        self.transport.flush().map_err(DriverError::Transport)?;
        Ok(sent)
    }

    /// Subscribes (see [`Client::subscribe`]) and sends the request.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: &[Subscription<'_>],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.flush(now)?;
        let sent = self.client.subscribe(now, subscriptions, properties, self.tx)?;
        self.send(sent.len)?;
        self.transport.flush().map_err(DriverError::Transport)?;
        Ok(sent)
    }

    /// Unsubscribes (see [`Client::unsubscribe`]) and sends the request.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[&str],
        properties: Properties<'_>,
    ) -> Result<Sent, T::Error> {
        self.flush(now)?;
        let sent = self.client.unsubscribe(now, filters, properties, self.tx)?;
        self.send(sent.len)?;
        self.transport.flush().map_err(DriverError::Transport)?;
        Ok(sent)
    }

    /// Answers or starts enhanced authentication (see [`Client::auth`]).
    pub fn auth(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.flush(now)?;
        let n = self.client.auth(now, reason, properties, self.tx)?;
        self.send(n)?;
        self.transport.flush().map_err(DriverError::Transport)
    }

    /// Sends DISCONNECT (see [`Client::disconnect`]); close the transport afterwards.
    pub fn disconnect(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
    ) -> Result<(), T::Error> {
        self.flush(now)?;
        let n = self.client.disconnect(now, reason, properties, self.tx)?;
        self.send(n)?;
        self.transport.flush().map_err(DriverError::Transport)
    }
}
