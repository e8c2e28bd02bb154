//! Drivers: a [`Machine`](crate::Machine) pumped over a transport.
//!
//! The transport contract is the ecosystem's own: [`embedded_io::Read`] + [`embedded_io::Write`]
//! for [`blocking`], and their async twins for [`asynch`]. A TCP socket, a TLS stream, a UART, a
//! [`ws::Stream`](crate::ws::stream::Stream) (MQTT over WebSocket) or an in-memory pipe all work
//! the same way.
//!
//! [`Pump`] keeps the buffer discipline once, sans-IO; [`blocking::Connection`] and
//! [`asynch::Connection`] are thin shells that do the [`Io`] it asks for, for any machine: the
//! MQTT client and server sessions, the WebSocket connection and both handshake roles. Each
//! `poll` does one bounded step: write what the machine owes, run its timers, read once if no
//! whole unit is buffered, and hand back at most one event; `Ok(None)` means "nothing for you
//! this time, call again".
//!
//! A transport read that fails with [`embedded_io::ErrorKind::TimedOut`] means "no bytes yet": it
//! is how a blocking transport lets the driver run timers such as the MQTT keep-alive
//! ([`StdIo`] maps a std socket read timeout to it).

pub mod asynch;
pub mod blocking;
mod pump;
#[cfg(test)]
mod tests;

#[cfg(feature = "mqtt")]
mod backoff;
#[cfg(feature = "mqtt")]
mod client;
#[cfg(feature = "mqtt")]
mod redial;
#[cfg(feature = "mqtt")]
mod server;
#[cfg(feature = "ws")]
mod ws;

pub use crate::buf::Buffer;
#[cfg(feature = "std")]
pub use crate::buf::ElasticBuffer;
#[cfg(feature = "mqtt")]
pub use backoff::Backoff;
pub use pump::{Io, Pump};
#[cfg(all(feature = "mqtt", feature = "std"))]
pub(crate) use redial::Redial;
#[cfg(feature = "mqtt")]
pub use redial::Step;

/// Why a driver step failed. `T` is the transport's error, `M` the machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DriverError<T, M> {
    /// The machine reported a fault of the peer (what it owed about it was written first), or
    /// refused a command.
    Machine(M),
    /// The transport failed.
    Transport(T),
    /// The machine has ended (closing handshake, DISCONNECT, refusal) and everything it owed was
    /// written: close the transport.
    Closed,
    /// The transport ended (a read returned 0 bytes, or a write took none) before the machine
    /// did.
    Eof,
    /// The machine waits for an answer to the event it reported (a CONNECT to accept, a
    /// handshake request to answer): give it before polling again.
    Blocked,
    /// The receive buffer cannot hold what the machine needs to make progress.
    ReceiveBufferTooSmall {
        /// Bytes the receive buffer would need.
        required: usize,
    },
    /// The transmit buffer cannot hold the next bytes the machine owes.
    TransmitBufferTooSmall {
        /// Bytes the transmit buffer would need.
        required: usize,
    },
}

impl<T: core::fmt::Debug, M: core::fmt::Display> core::fmt::Display for DriverError<T, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DriverError::Machine(e) => write!(f, "{e}"),
            DriverError::Transport(e) => write!(f, "transport error: {e:?}"),
            DriverError::Closed => f.write_str("the connection is closed"),
            DriverError::Eof => f.write_str("the transport ended"),
            DriverError::Blocked => f.write_str("the state machine waits for an answer"),
            DriverError::ReceiveBufferTooSmall { required } => {
                write!(f, "receive buffer too small: {required} bytes required")
            }
            DriverError::TransmitBufferTooSmall { required } => {
                write!(f, "transmit buffer too small: {required} bytes required")
            }
        }
    }
}

impl<T: core::fmt::Debug, M: core::fmt::Display + core::fmt::Debug> core::error::Error
    for DriverError<T, M>
{
}

/// A driver error is an I/O error of the transport it drives (the WebSocket [`Stream`] is a
/// transport for MQTT): a read timeout of the transport below keeps its kind.
///
/// [`Stream`]: crate::ws::stream::Stream
impl<T: embedded_io::Error, M: core::fmt::Debug + core::fmt::Display> embedded_io::Error
    for DriverError<T, M>
{
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind;
        match self {
            DriverError::Transport(e) => e.kind(),
            DriverError::Machine(_) => ErrorKind::InvalidData,
            DriverError::Closed => ErrorKind::BrokenPipe,
            DriverError::Eof => ErrorKind::ConnectionReset,
            DriverError::Blocked => ErrorKind::Other,
            DriverError::ReceiveBufferTooSmall { .. }
            | DriverError::TransmitBufferTooSmall { .. } => ErrorKind::OutOfMemory,
        }
    }
}

/// The driver shells' methods that do no I/O, written once for both (invoked in `blocking` and
/// `asynch`, each with its own `Connection`).
macro_rules! accessors {
    () => {
        impl<'b, T, M: Machine> Connection<'b, T, M> {
            /// A driver for `machine` over `transport` (connected at the transport level).
            pub fn new(transport: T, machine: M, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
                Self::from_pump(transport, Pump::new(machine, rx, tx))
            }
        }

        impl<'b, T, M: Machine, B: Buffer> Connection<'b, T, M, B> {
            /// A driver over buffers of any [`Buffer`] type: arrays, or on std `Vec<u8>` the
            /// driver owns.
            pub fn with_buffers(transport: T, machine: M, rx: B, tx: B) -> Self {
                Self::from_pump(transport, Pump::with_buffers(machine, rx, tx))
            }

            /// A driver over `transport` for a pump that may already hold input.
            pub fn from_pump(transport: T, pump: Pump<'b, M, B>) -> Self {
                Self { transport, pump }
            }

            /// The machine.
            pub fn machine(&self) -> &M {
                self.pump.machine()
            }

            /// The machine, for what it does without writing (answers it queues, settings).
            pub fn machine_mut(&mut self) -> &mut M {
                self.pump.machine_mut()
            }

            /// The transport.
            pub fn transport(&mut self) -> &mut T {
                &mut self.transport
            }

            /// The pump.
            pub fn pump(&self) -> &Pump<'b, M, B> {
                &self.pump
            }

            /// Gives the buffers' memory back while nothing is buffered ([`Pump::release`]):
            /// before waiting for the transport to be readable.
            pub fn release_buffers(&mut self) {
                self.pump.release();
            }

            /// The transport and the pump, borrowed apart: an event the pump returns may be
            /// held while the transport is used (closed after a peer's fault).
            #[allow(
                dead_code,
                reason = "the std clients use the blocking one, the tokio ones the async one"
            )]
            pub(crate) fn parts(&mut self) -> (&mut T, &mut Pump<'b, M, B>) {
                (&mut self.transport, &mut self.pump)
            }

            /// Takes the driver apart.
            pub fn into_parts(self) -> (T, Pump<'b, M, B>) {
                (self.transport, self.pump)
            }

            /// The machine, for a new driver over a new transport (a client keeps its session for a
            /// reconnect).
            pub fn into_machine(self) -> M {
                self.pump.into_parts().0
            }

            /// Hands transport and buffers (with unconsumed input) to the machine that comes next: the
            /// WebSocket connection after its opening handshake.
            pub fn switch<N: Machine>(self, f: impl FnOnce(M) -> N) -> Connection<'b, T, N, B> {
                Connection { transport: self.transport, pump: self.pump.switch(f) }
            }

            /// Swaps in a new transport (a reconnect): buffered bytes are dropped and the machine hears
            /// [`Machine::connection_lost`]. Returns the old transport.
            pub fn replace_transport(&mut self, transport: T) -> T {
                self.pump.machine_mut().connection_lost();
                self.pump.reset();
                core::mem::replace(&mut self.transport, transport)
            }

            /// When [`poll`](Self::poll) must run again for the machine's timers.
            pub fn poll_timeout(&self) -> Option<Instant> {
                self.pump.poll_timeout()
            }
        }
    };
}

use accessors;

/// What a driver step makes of a read that timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// Nothing to report this time: `Ok(None)` (a driver's `poll`, which runs the timers).
    Quiet,
    /// The transport's error, for the caller to see (a `ws::Stream` read).
    #[cfg_attr(not(feature = "ws"), allow(dead_code, reason = "only ws::Stream reports them"))]
    Error,
}

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
