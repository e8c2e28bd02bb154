//! The blocking driver: a [`Pump`] over an [`embedded_io::Read`] + [`embedded_io::Write`]
//! transport.
//!
//! [`Connection`] works for every [`Machine`]; the commands of each (`publish`, `accept`,
//! `send`, ...) are methods on `Connection<T, ThatMachine>`.
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

#[cfg(feature = "mqtt")]
mod reconnecting;

#[cfg(feature = "mqtt")]
pub use reconnecting::Reconnecting;
#[cfg(all(feature = "mqtt", feature = "std"))]
pub(crate) use reconnecting::step as reconnect_step;

use super::{Buffer, DriverError, Io, Pump, Timeout, is_timeout};
use crate::machine::Machine;
use crate::time::Instant;

/// The result of a driver step: the transport's error `T::Error`, the machine's `M::Error`.
pub type Result<R, T, M> = core::result::Result<
    R,
    DriverError<<T as embedded_io::ErrorType>::Error, <M as Machine>::Error>,
>;

/// A [`Machine`] pumped over a blocking transport `T`, with caller receive and transmit
/// buffers. See the [module docs](self).
#[derive(Debug)]
pub struct Connection<'b, T, M: Machine, B: Buffer = &'b mut [u8]> {
    transport: T,
    pump: Pump<'b, M, B>,
}

super::accessors!();

impl<'b, T: Read + Write, M: Machine, B: Buffer> Connection<'b, T, M, B> {
    /// One step: write what is owed, run the timers, read once if no whole unit is buffered,
    /// and return at most one event. `Ok(None)`: nothing for you this time (a step without an
    /// event, or a read that timed out); call again.
    ///
    /// Blocks in the transport's `read`: give the transport a read timeout shorter than the
    /// machine's timers (the MQTT keep-alive) so they run.
    pub fn poll(&mut self, now: Instant) -> Result<Option<M::Event<'_>>, T, M> {
        step(&mut self.transport, &mut self.pump, now, Timeout::Quiet)
    }

    /// Writes everything the machine owes and flushes the transport.
    pub fn flush(&mut self, now: Instant) -> Result<(), T, M> {
        flush(&mut self.transport, &mut self.pump, now)
    }

    /// Runs a command of the machine and sends its bytes: what the machine owed first, then the
    /// bytes `f` writes into the transmit buffer (`f` returns its result and their length).
    /// The typed commands (`publish`, `accept`, `send`, ...) are this.
    pub fn command<R>(
        &mut self,
        now: Instant,
        mut f: impl FnMut(&mut M, &mut [u8]) -> core::result::Result<(R, usize), M::Error>,
    ) -> Result<R, T, M> {
        let r = queue(&mut self.transport, &mut self.pump, now, &mut f)?;
        self.flush(now)?;
        Ok(r)
    }

    /// [`command`](Self::command) without sending: the bytes wait in the transmit buffer and
    /// leave with the next write (the next [`poll`](Self::poll), [`flush`](Self::flush) or
    /// command), so a batch of commands costs one write. What the machine owed, or earlier
    /// commands' bytes, are written first only when the command does not fit behind them.
    pub fn queue<R>(
        &mut self,
        now: Instant,
        mut f: impl FnMut(&mut M, &mut [u8]) -> core::result::Result<(R, usize), M::Error>,
    ) -> Result<R, T, M> {
        queue(&mut self.transport, &mut self.pump, now, &mut f)
    }
}

#[cfg(feature = "deflate")]
impl<T, K, B> Connection<'_, T, crate::ws::connection::Connection<K>, B>
where
    T: Read + Write,
    K: crate::ws::connection::MaskKeys,
    B: Buffer,
{
    /// [`poll`](Self::poll) for a WebSocket connection that agreed to permessage-deflate:
    /// compressed messages come decompressed, their pieces borrowing `inflater`'s window (see
    /// [`Connection::handle_input_inflate`](crate::ws::connection::Connection::handle_input_inflate)).
    pub fn poll_inflate<'s, W: AsMut<[u8]> + AsRef<[u8]>>(
        &'s mut self,
        now: Instant,
        inflater: &'s mut crate::ws::deflate::Inflater<W>,
    ) -> Result<Option<crate::ws::connection::Event<'s>>, T, crate::ws::connection::Connection<K>>
    {
        step_by(&mut self.transport, &mut self.pump, now, Timeout::Quiet, move |pump| {
            pump.input_inflate(now, inflater)
        })
    }
}

/// One step of [`Connection::poll`] over a transport and a pump. A read that timed out is
/// `Ok(None)` with [`Timeout::Quiet`], the transport's error with [`Timeout::Error`] (the
/// WebSocket stream passes it on); a write or flush that timed out is the transport's error,
/// the connection over.
#[inline(never)]
pub(crate) fn step<'p, T: Read + Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &'p mut Pump<'_, M, B>,
    now: Instant,
    timeout: Timeout,
) -> Result<Option<M::Event<'p>>, T, M> {
    step_by(transport, pump, now, timeout, |pump| pump.input(now))
}

/// [`step`] whose input step is `input` (a machine's input with a companion).
pub(crate) fn step_by<'p, 'b, T: Read + Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &'p mut Pump<'b, M, B>,
    now: Instant,
    timeout: Timeout,
    input: impl FnOnce(&'p mut Pump<'b, M, B>) -> Result<Option<M::Event<'p>>, T, M>,
) -> Result<Option<M::Event<'p>>, T, M> {
    loop {
        match pump.next(now)? {
            Io::Write => {
                let n = transport.write(pump.transmit()).map_err(|e| pump.transport_failed(e))?;
                pump.sent(n)?;
            }
            Io::Flush => {
                transport.flush().map_err(|e| pump.transport_failed(e))?;
                pump.flushed();
            }
            Io::Read => match transport.read(pump.receive_buffer()) {
                Ok(n) => pump.received(n)?,
                Err(e) if is_timeout(&e) => {
                    return match timeout {
                        Timeout::Quiet => Ok(None),
                        Timeout::Error => Err(DriverError::Transport(e)),
                    };
                }
                Err(e) => return Err(pump.transport_failed(e)),
            },
            Io::Input => return input(pump),
        }
    }
}

/// Writes everything owed and flushes the transport.
#[inline(never)]
pub(crate) fn flush<T: Read + Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &mut Pump<'_, M, B>,
    now: Instant,
) -> Result<(), T, M> {
    loop {
        let bytes = pump.owed(now)?;
        if bytes.is_empty() {
            break;
        }
        let n = transport.write(bytes).map_err(|e| pump.transport_failed(e))?;
        pump.sent(n)?;
    }
    if pump.unflushed() {
        transport.flush().map_err(|e| pump.transport_failed(e))?;
        pump.flushed();
    }
    Ok(())
}

#[inline(never)]
fn write_once<T: Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &mut Pump<'_, M, B>,
    io: Io,
) -> Result<(), T, M> {
    if io == Io::Flush {
        transport.flush().map_err(|e| pump.transport_failed(e))?;
        pump.flushed();
        return Ok(());
    }
    let n = transport.write(pump.transmit()).map_err(|e| pump.transport_failed(e))?;
    pump.sent(n)
}

/// Writes what waits in the transmit buffer, without collecting more and without flushing.
#[cfg(feature = "ws")]
pub(crate) fn write_all<T: Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &mut Pump<'_, M, B>,
) -> Result<(), T, M> {
    while !pump.transmit().is_empty() {
        write_once(transport, pump, Io::Write)?;
    }
    Ok(())
}

/// Runs `f` through [`Pump::command`], writing what waits first when it must.
pub(crate) fn queue<R, T: Read + Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &mut Pump<'_, M, B>,
    now: Instant,
    f: &mut impl FnMut(&mut M, &mut [u8]) -> core::result::Result<(R, usize), M::Error>,
) -> Result<R, T, M> {
    loop {
        if let Some(r) = pump.command(now, f)? {
            return Ok(r);
        }
        // Bytes wait to be written; none when only a flush is (a fault's answer).
        let io = if pump.transmit().is_empty() { Io::Flush } else { Io::Write };
        write_once(transport, pump, io)?;
    }
}
