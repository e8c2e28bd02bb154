//! The async driver: a [`Pump`] over an [`embedded_io_async::Read`] +
//! [`embedded_io_async::Write`] transport (embassy-net sockets, tokio through
//! `embedded-io-adapters`, [`ws::Stream`](crate::ws::stream::Stream)).
//!
//! The same shell as [`blocking`](super::blocking), with `.await`: [`Connection`] works for
//! every [`Machine`], and each machine's commands are methods on `Connection<T, ThatMachine>`.
//!
//! There is no timer inside: race [`Connection::poll`] against a timer of your executor set to
//! [`Connection::poll_timeout`], and call `poll` again after the timer fires; `poll` runs the
//! machine's timers first thing.
//!
//! # Cancel safety
//!
//! [`Connection::poll`] may be cancelled while it waits in the transport's `read`: the pump
//! only records bytes after `read` returns, so nothing of its own is lost, provided the
//! transport's `read` is itself cancel-safe (tokio sockets and embassy-net are). Cancelling while
//! it writes (any method sending bytes) may leave a partial packet on the wire: close the
//! connection then.

use embedded_io_async::{Read, Write};

#[cfg(feature = "mqtt")]
mod reconnecting;

#[cfg(feature = "mqtt")]
pub use reconnecting::Reconnecting;
#[cfg(all(feature = "mqtt", feature = "tokio"))]
pub(crate) use reconnecting::step as reconnect_step;

use super::{Buffer, DriverError, Io, Pump, Timeout, is_timeout};
use crate::machine::Machine;
use crate::time::Instant;

/// The result of a driver step: the transport's error `T::Error`, the machine's `M::Error`.
pub type Result<R, T, M> = core::result::Result<
    R,
    DriverError<<T as embedded_io_async::ErrorType>::Error, <M as Machine>::Error>,
>;

/// A [`Machine`] pumped over an async transport `T`, with caller receive and transmit buffers.
/// See the [module docs](self).
#[derive(Debug)]
pub struct Connection<'b, T, M: Machine, B: Buffer = &'b mut [u8]> {
    transport: T,
    pump: Pump<'b, M, B>,
}

super::accessors!();

impl<'b, T: Read + Write, M: Machine, B: Buffer> Connection<'b, T, M, B> {
    /// One step: write what is owed, run the timers, read once if no whole unit is buffered,
    /// and return at most one event. `Ok(None)`: nothing for you this time; call again.
    ///
    /// Waits in the transport's `read`; see the [module docs](self) for timers and cancel
    /// safety.
    pub async fn poll(&mut self, now: Instant) -> Result<Option<M::Event<'_>>, T, M> {
        step(&mut self.transport, &mut self.pump, now, Timeout::Quiet).await
    }

    /// Writes everything the machine owes and flushes the transport.
    pub async fn flush(&mut self, now: Instant) -> Result<(), T, M> {
        flush(&mut self.transport, &mut self.pump, now).await
    }

    /// Runs a command of the machine and sends its bytes: what the machine owed first, then the
    /// bytes `f` writes into the transmit buffer (`f` returns its result and their length).
    /// The typed commands (`publish`, `accept`, `send`, ...) are this.
    pub async fn command<R>(
        &mut self,
        now: Instant,
        mut f: impl FnMut(&mut M, &mut [u8]) -> core::result::Result<(R, usize), M::Error>,
    ) -> Result<R, T, M> {
        let r = queue(&mut self.transport, &mut self.pump, now, &mut f).await?;
        flush(&mut self.transport, &mut self.pump, now).await?;
        Ok(r)
    }

    /// [`command`](Self::command) without sending: the bytes wait in the transmit buffer and
    /// leave with the next write (the next [`poll`](Self::poll), [`flush`](Self::flush) or
    /// command), so a batch of commands costs one write. What the machine owed, or earlier
    /// commands' bytes, are written first only when the command does not fit behind them.
    pub async fn queue<R>(
        &mut self,
        now: Instant,
        mut f: impl FnMut(&mut M, &mut [u8]) -> core::result::Result<(R, usize), M::Error>,
    ) -> Result<R, T, M> {
        queue(&mut self.transport, &mut self.pump, now, &mut f).await
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
    pub async fn poll_inflate<'s, W: AsMut<[u8]> + AsRef<[u8]>>(
        &'s mut self,
        now: Instant,
        inflater: &'s mut crate::ws::deflate::Inflater<W>,
    ) -> Result<Option<crate::ws::connection::Event<'s>>, T, crate::ws::connection::Connection<K>>
    {
        step_by(&mut self.transport, &mut self.pump, now, Timeout::Quiet, move |pump| {
            pump.input_inflate(now, inflater)
        })
        .await
    }
}

/// One step of [`Connection::poll`] over a transport and a pump. A read that timed out is
/// `Ok(None)` with [`Timeout::Quiet`], the transport's error with [`Timeout::Error`] (the
/// WebSocket stream passes it on); a write or flush that timed out is the transport's error,
/// the connection over.
pub(crate) async fn step<'p, T: Read + Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &'p mut Pump<'_, M, B>,
    now: Instant,
    timeout: Timeout,
) -> Result<Option<M::Event<'p>>, T, M> {
    step_by(transport, pump, now, timeout, |pump| pump.input(now)).await
}

/// [`step`] whose input step is `input` (a machine's input with a companion).
pub(crate) async fn step_by<'p, 'b, T: Read + Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &'p mut Pump<'b, M, B>,
    now: Instant,
    timeout: Timeout,
    input: impl FnOnce(&'p mut Pump<'b, M, B>) -> Result<Option<M::Event<'p>>, T, M>,
) -> Result<Option<M::Event<'p>>, T, M> {
    loop {
        match pump.next(now)? {
            Io::Write => {
                let n =
                    transport.write(pump.transmit()).await.map_err(|e| pump.transport_failed(e))?;
                pump.sent(n)?;
            }
            Io::Flush => {
                transport.flush().await.map_err(|e| pump.transport_failed(e))?;
                pump.flushed();
            }
            Io::Read => match transport.read(pump.receive_buffer()).await {
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
pub(crate) async fn flush<T: Read + Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &mut Pump<'_, M, B>,
    now: Instant,
) -> Result<(), T, M> {
    loop {
        let bytes = pump.owed(now)?;
        if bytes.is_empty() {
            break;
        }
        let n = transport.write(bytes).await.map_err(|e| pump.transport_failed(e))?;
        pump.sent(n)?;
    }
    if pump.unflushed() {
        transport.flush().await.map_err(|e| pump.transport_failed(e))?;
        pump.flushed();
    }
    Ok(())
}

#[inline(never)]
async fn write_once<T: Write, M: Machine, B: Buffer>(
    transport: &mut T,
    pump: &mut Pump<'_, M, B>,
    io: Io,
) -> Result<(), T, M> {
    if io == Io::Flush {
        transport.flush().await.map_err(|e| pump.transport_failed(e))?;
        pump.flushed();
        return Ok(());
    }
    let n = transport.write(pump.transmit()).await.map_err(|e| pump.transport_failed(e))?;
    pump.sent(n)
}

/// Runs `f` through [`Pump::command`], writing what waits first when it must.
pub(crate) async fn queue<R, T: Read + Write, M: Machine, B: Buffer>(
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
        write_once(transport, pump, io).await?;
    }
}
