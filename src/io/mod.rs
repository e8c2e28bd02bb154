//! Drivers: thin loops that pump a [`Client`](crate::mqtt::client::Client) over a transport.
//!
//! The transport contract is the ecosystem's own: [`embedded_io::Read`] + [`embedded_io::Write`]
//! for `blocking` (feature `blocking`), and their async twins for `asynch` (feature `async`). A TCP socket, a TLS stream, a UART, a
//! `ws::Stream` (MQTT over WebSocket) or an in-memory pipe all work the same way.
//!
//! A driver owns the transport, the client and two caller buffers (receive and transmit). Each
//! `poll` does one bounded step: send what the client owes, run its timers, read once if no whole
//! packet is buffered, and hand back at most one [`Event`].
//! A transport read that fails with [`embedded_io::ErrorKind::TimedOut`] means "no bytes yet": it
//! is how a blocking transport lets the driver send keep-alive pings (`blocking::StdIo` maps a std
//! socket read timeout to it).

#[cfg(feature = "async")]
pub mod asynch;
mod backoff;
#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(any(feature = "blocking", feature = "async"))]
mod redial;

pub use backoff::Backoff;

use crate::mqtt::client::{self, Event};
use crate::time::Instant;

/// What one step of a reconnecting driver did (`blocking::Reconnecting::poll`,
/// `asynch::Reconnecting::poll`).
///
/// `E` is the transport's error, `CE` the error of the caller's connect function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a, E, CE> {
    /// An event of the session. [`Event::Refused`] and [`Event::Disconnected`] also schedule a
    /// reconnect.
    Event(Event<'a>),
    /// Nothing for the caller this time (a timeout, a partial packet, a CONNECT sent).
    Idle,
    /// The connection broke: a transport error, end of stream, a broker fault or a missed
    /// CONNACK / PINGRESP. In-flight messages stay in the store; the next attempt is at
    /// `retry_at`.
    Lost {
        /// Why.
        error: DriverError<E>,
        /// When the next connect attempt is due.
        retry_at: Instant,
    },
    /// The caller's connect function failed; the next attempt is at `retry_at`.
    ConnectFailed {
        /// The connect function's error.
        error: CE,
        /// When the next connect attempt is due.
        retry_at: Instant,
    },
    /// Offline, waiting for the backoff: nothing to do before `until` (sleep until then).
    Offline {
        /// When the next connect attempt is due.
        until: Instant,
    },
}

/// A driver failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DriverError<E> {
    /// The session refused a command or the broker broke the protocol (see [`client::Error`]).
    Mqtt(client::Error),
    /// The transport failed.
    Transport(E),
    /// The transport reached end of stream (the broker closed the connection).
    Closed,
    /// The receive buffer is smaller than the client's `Config::rx_buffer_len`, so a packet
    /// can neither be completed nor streamed.
    ReceiveBufferTooSmall,
}

impl<E> From<client::Error> for DriverError<E> {
    fn from(e: client::Error) -> Self {
        DriverError::Mqtt(e)
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for DriverError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DriverError::Mqtt(e) => write!(f, "{e}"),
            DriverError::Transport(e) => write!(f, "transport error: {e:?}"),
            DriverError::Closed => f.write_str("the broker closed the connection"),
            DriverError::ReceiveBufferTooSmall => f.write_str("receive buffer too small"),
        }
    }
}

#[cfg(feature = "std")]
impl<E: core::fmt::Debug> std::error::Error for DriverError<E> {}

#[cfg(any(feature = "blocking", feature = "async"))]
/// `true` if a read error only means "no bytes before the transport's timeout".
fn is_timeout<E: embedded_io::Error>(e: &E) -> bool {
    matches!(e.kind(), embedded_io::ErrorKind::TimedOut | embedded_io::ErrorKind::Interrupted)
}

/// A std `Read + Write` (a `TcpStream` with a read timeout) as an embedded-io transport whose
/// read timeout is reported as [`embedded_io::ErrorKind::TimedOut`] (std reports it as
/// `WouldBlock` on most systems, which embedded-io has no kind for).
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct StdIo<T>(pub T);

#[cfg(feature = "std")]
impl<T> embedded_io::ErrorType for StdIo<T> {
    type Error = std::io::Error;
}

#[cfg(feature = "std")]
impl<T: std::io::Read> embedded_io::Read for StdIo<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        self.0.read(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => std::io::ErrorKind::TimedOut.into(),
            _ => e,
        })
    }
}

#[cfg(feature = "std")]
impl<T: std::io::Write> embedded_io::Write for StdIo<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> Result<(), std::io::Error> {
        self.0.flush()
    }
}
