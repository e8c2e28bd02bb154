//! [`Pump`]: the buffer discipline every driver shares, written once and sans-IO.

use core::marker::PhantomData;
use core::ops::Range;

use super::{Buffer, DriverError};
use crate::machine::{Machine, Status};
use crate::time::Instant;

/// What the transport must do next for a [`Pump`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Io {
    /// Write [`Pump::transmit`] (or a part of it) to the transport, then call [`Pump::sent`].
    Write,
    /// Everything was written: flush the transport, then call [`Pump::flushed`].
    Flush,
    /// Read from the transport into [`Pump::receive_buffer`], then call [`Pump::received`].
    /// Wait no longer than [`Pump::poll_timeout`].
    Read,
    /// Buffered input is ready: call [`Pump::input`].
    Input,
}

/// A [`Machine`] with its receive and transmit buffers: the buffer discipline every driver
/// shares, written once and sans-IO.
///
/// A pump owns a [`Machine`], a receive buffer and a transmit buffer (both the caller's). It
/// decides what the transport has to do next ([`Io`]) and keeps the rules of the run loop:
///
/// - **drain first**: everything the machine owes is collected into the transmit buffer (as many
///   packets as fit, so they leave in one write) before it reads, before it hands the machine
///   more input and before a command's bytes, so bytes leave in the order the machine made them;
///   while what it owes fits and input from the last read is still buffered, the write waits for
///   that input (the answers to a read's packets leave together), never for a read;
/// - **need-read**: the pump reads only after the machine said the buffered bytes are too few
///   ([`Status::NeedMore`]); with nothing buffered it first asks the machine (an empty input,
///   which changes nothing) whether it needs bytes, waits for an answer or has ended, so a
///   machine that has ended is never read for; a full receive buffer the machine still calls
///   too short is [`DriverError::ReceiveBufferTooSmall`], never a stall;
/// - **memory on demand**: buffers whose memory can change ([`Buffer::fit`], such as
///   `ElasticBuffer` on std) grow for a packet the machine announces, for a command or owed
///   bytes that do not fit, and for a peer that fills the receive buffer on every read, and give
///   memory back while the connection waits for input; fixed memory is used as it is;
/// - **compaction without `memmove`**: consumed bytes are dropped by moving the unconsumed tail to
///   the front just before a read, with a forward copy (no `memmove` linked on a device);
/// - **`Ok(0)` is the end**: a read of 0 bytes, or a write that takes none, is
///   [`DriverError::Eof`], and the machine hears [`Machine::connection_lost`];
/// - **timeouts**: [`Machine::handle_timeout`] runs when [`Machine::poll_timeout`] is due;
/// - **a peer's fault is answered before it is reported**: the close frame, DISCONNECT or CONNACK
///   the machine queued is written first, then the error comes out.
///
/// The blocking and async drivers ([`blocking`](super::blocking), [`asynch`](super::asynch)) and
/// [`ws::Stream`](crate::ws::stream::Stream) are thin shells over it: they only perform the
/// [`Io`] it asks for. A program with its own event loop (non-blocking sockets, `epoll`, an RTOS
/// queue) drives a pump the same way:
///
/// ```
/// use mqtt_ws::io::{DriverError, Io, Pump};
/// use mqtt_ws::time::Instant;
/// use mqtt_ws::ws::connection::{Config, Connection, Event};
///
/// // A server-side WebSocket connection; the peer's bytes: a masked "Hi" text frame.
/// let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
/// let mut pump = Pump::new(Connection::server(Config::new()), &mut rx, &mut tx);
/// let mut wire: &[u8] = &[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
/// let now = Instant::ZERO;
/// loop {
///     match pump.next(now)? {
///         Io::Write => { let n = pump.transmit().len(); pump.sent(n)?; } // socket.write(..)
///         Io::Flush => pump.flushed(),
///         Io::Read => {
///             let buf = pump.receive_buffer();
///             let n = wire.len().min(buf.len());
///             buf[..n].copy_from_slice(&wire[..n]);
///             wire = &wire[n..];
///             pump.received(n)?;
///         }
///         Io::Input => {
///             if let Some(Event::Data { data, .. }) = pump.input(now)? {
///                 assert_eq!(data, b"Hi");
///                 break;
///             }
///         }
///     }
/// }
/// # Ok::<(), DriverError<(), mqtt_ws::ws::Error>>(())
/// ```
///
/// The buffers are `&mut [u8]` by default, the caller's memory as a device has it; any
/// [`Buffer`] works ([`Pump::with_buffers`]), such as a `Vec<u8>` the pump owns on std.
///
/// Its `Debug` output shows the machine, the buffers' sizes and what is buffered, not their
/// bytes.
pub struct Pump<'b, M: Machine, B: Buffer = &'b mut [u8]> {
    machine: M,
    rx: B,
    /// Received, not yet consumed: `rx[rx_start..rx_end]`.
    rx_start: usize,
    rx_end: usize,
    /// The bytes the last input step consumed: `rx[last..rx_start]`.
    last: usize,
    /// The machine said the buffered bytes are not enough ([`Status::NeedMore`]).
    need_read: bool,
    /// How many more bytes it said it needs at least.
    needed: usize,
    /// The last read filled the receive buffer with more than the machine asked for: the peer
    /// sends faster than the buffer holds.
    filled: bool,
    tx: B,
    /// Encoded, not yet written: `tx[tx_start..tx_end]`; both 0 when everything was written.
    tx_start: usize,
    tx_end: usize,
    /// Bytes were written since the last flush.
    dirty: bool,
    /// `poll_transmit` said `Ok(None)` and the machine was not touched since: nothing is owed.
    /// Never set once the transport ended or failed (`dead`): that touches the machine, and
    /// `collect` stops before asking it.
    drained: bool,
    /// The machine said `Blocked` and nothing was transmitted or commanded since.
    blocked: bool,
    /// The machine said `Closed`, or failed, or the transport ended: no more input.
    closed: bool,
    /// The transport ended or failed: nothing more is written either.
    dead: bool,
    /// A fault of the peer, reported once what the machine owes about it is written.
    failure: Option<M::Error>,
    /// The lifetime of borrowed buffers (the default `B`).
    borrowed: PhantomData<&'b mut [u8]>,
}

impl<M: Machine + core::fmt::Debug, B: Buffer> core::fmt::Debug for Pump<'_, M, B>
where
    M::Error: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pump")
            .field("machine", &self.machine)
            .field("rx_len", &self.rx.as_ref().len())
            .field("received", &(self.rx_start..self.rx_end))
            .field("needed", &self.needed)
            .field("tx_len", &self.tx.as_ref().len())
            .field("unsent", &(self.tx_start..self.tx_end))
            .field("closed", &self.closed)
            .field("dead", &self.dead)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl<'b, M: Machine> Pump<'b, M> {
    /// A pump for `machine` with empty buffers.
    pub fn new(machine: M, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
        Self::from_buffers(machine, rx, 0..0, tx)
    }

    /// A pump whose `rx[received]` already holds input (bytes that came behind an opening
    /// handshake read elsewhere); the bytes stay where they are. An out-of-range `received` is
    /// clamped to the buffer.
    pub fn with_input(
        machine: M,
        rx: &'b mut [u8],
        received: Range<usize>,
        tx: &'b mut [u8],
    ) -> Self {
        Self::from_buffers(machine, rx, received, tx)
    }
}

impl<'b, M: Machine, B: Buffer> Pump<'b, M, B> {
    /// A pump for `machine` over buffers of any [`Buffer`] type (arrays, or on std `Vec<u8>`
    /// the pump owns), empty.
    pub fn with_buffers(machine: M, rx: B, tx: B) -> Self {
        Self::from_buffers(machine, rx, 0..0, tx)
    }

    /// Like [`with_input`](Pump::with_input), for buffers of any [`Buffer`] type.
    pub fn from_buffers(machine: M, mut rx: B, received: Range<usize>, tx: B) -> Self {
        let end = received.end.min(rx.as_mut().len());
        let start = received.start.min(end);
        Pump {
            machine,
            rx,
            rx_start: start,
            rx_end: end,
            last: start,
            need_read: false,
            needed: 1,
            filled: false,
            tx,
            tx_start: 0,
            tx_end: 0,
            dirty: false,
            drained: false,
            blocked: false,
            closed: false,
            dead: false,
            failure: None,
            borrowed: PhantomData,
        }
    }

    /// The machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine, for its commands that write nothing (or use [`Pump::command`]). What it
    /// owes and what it waits for may change: it is asked again before the next write and
    /// read.
    pub fn machine_mut(&mut self) -> &mut M {
        self.touched();
        &mut self.machine
    }

    /// Whether the machine has ended (it said [`Status::Closed`], failed, or the transport
    /// ended); what it owed may still wait to be written.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The machine may owe bytes and may have changed what it waits for.
    fn touched(&mut self) {
        self.need_read = false;
        self.drained = false;
    }

    /// Takes the pump apart: the machine and the two buffers.
    pub fn into_parts(self) -> (M, B, B) {
        (self.machine, self.rx, self.tx)
    }

    /// Hands the buffers, with the unconsumed input and the unsent output, to the machine that
    /// comes next on the same transport: the WebSocket connection after its opening handshake.
    pub fn switch<N: Machine>(self, f: impl FnOnce(M) -> N) -> Pump<'b, N, B> {
        Pump {
            machine: f(self.machine),
            rx: self.rx,
            rx_start: self.rx_start,
            rx_end: self.rx_end,
            last: self.rx_start,
            need_read: false,
            needed: 1,
            filled: false,
            tx: self.tx,
            tx_start: self.tx_start,
            tx_end: self.tx_end,
            dirty: self.dirty,
            drained: false,
            blocked: false,
            closed: false,
            dead: false,
            failure: None,
            borrowed: PhantomData,
        }
    }

    /// Forgets buffered input and output, for a new transport (a reconnect). The machine is
    /// left as it is.
    pub fn reset(&mut self) {
        self.rx_start = 0;
        self.rx_end = 0;
        self.last = 0;
        self.need_read = true;
        self.needed = 1;
        self.filled = false;
        self.tx_start = 0;
        self.tx_end = 0;
        self.dirty = false;
        self.drained = false;
        self.blocked = false;
        self.closed = false;
        self.dead = false;
        self.failure = None;
    }

    /// Gives the buffers' memory back ([`Buffer::release`]: an `ElasticBuffer` then holds none)
    /// when nothing is buffered either way; otherwise does nothing. For a server with many
    /// idle connections whose transport can wait for input without a buffer (readiness first,
    /// such as tokio's `TcpStream::readable`): call it just before that wait, and the next read
    /// asks for the memory again. Fixed memory is kept as it is.
    pub fn release(&mut self) {
        if self.rx_start != self.rx_end || self.tx_start != self.tx_end {
            return;
        }
        (self.rx_start, self.rx_end, self.last, self.filled) = (0, 0, 0, false);
        self.rx.release();
        self.tx.release();
    }

    /// When the machine's next timer is due ([`Machine::poll_timeout`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    /// Whether buffered input is ready for the machine: a step needs no read.
    pub fn has_input(&self) -> bool {
        !self.need_read && self.rx_start < self.rx_end && !self.closed && self.failure.is_none()
    }

    /// The sizes of the receive and transmit buffers.
    pub fn capacities(&self) -> (usize, usize) {
        (self.rx.as_ref().len(), self.tx.as_ref().len())
    }

    /// Received bytes the machine has not consumed yet.
    pub fn buffered(&self) -> usize {
        self.rx_end - self.rx_start
    }

    /// The bytes the last [`Pump::input`] step consumed, valid until the next read. A piece of
    /// WebSocket payload, for example, is their tail.
    pub fn last_input(&self) -> &[u8] {
        self.rx.as_ref().get(self.last..self.rx_start).unwrap_or_default()
    }

    /// What the transport must do next. Runs the timers that are due and collects what the
    /// machine owes first.
    ///
    /// `Err` ends the connection: [`DriverError::Closed`] once the machine has ended and
    /// everything it owed was written (or after the transport ended or failed), a peer's fault
    /// once its answer was written.
    #[inline(never)]
    pub fn next<E>(&mut self, now: Instant) -> Result<Io, DriverError<E, M::Error>> {
        if !self.closed && self.machine.poll_timeout().is_some_and(|t| t <= now) {
            // A timer may end the machine or make it owe bytes.
            self.touched();
            if let Err(e) = self.machine.handle_timeout(now) {
                // A deadline passed: what the machine owes about it goes out first.
                self.closed = true;
                self.failure = Some(e);
            }
        }
        if let Some(io) = self.next_write(now)? {
            // Owed bytes that all fit wait while buffered input goes to the machine: the
            // answers to the packets of one read leave in one write.
            if io == Io::Write && self.drained && !self.blocked && self.has_input() {
                return Ok(Io::Input);
            }
            return Ok(io);
        }
        if let Some(e) = self.failure.take() {
            return Err(DriverError::Machine(e));
        }
        if !self.closed && !self.need_read && self.rx_start == self.rx_end {
            self.probe(now);
        }
        if self.closed {
            return Err(DriverError::Closed);
        }
        if self.blocked {
            return Err(DriverError::Blocked);
        }
        if !self.need_read {
            return Ok(Io::Input);
        }
        // Compaction: the unconsumed tail moves to the front (the last input is given up).
        if self.rx_start > 0 {
            crate::buf::move_down(self.rx.as_mut(), self.rx_start, self.rx_end, 0);
            self.rx_end -= self.rx_start;
            self.rx_start = 0;
            self.last = 0;
        }
        self.fit_buffers();
        if self.rx_end >= self.rx.as_ref().len() {
            let required = self.rx_end.saturating_add(self.needed);
            return Err(DriverError::ReceiveBufferTooSmall { required });
        }
        Ok(Io::Read)
    }

    /// Before a read, with nothing to write: buffers that can change their memory
    /// ([`Buffer::fit`]) are asked for what the next bytes need. The receive buffer for the
    /// unconsumed input plus what the machine said it needs (more when the last read filled it:
    /// the peer is ahead), the transmit buffer for nothing, so memory that grew for a large
    /// packet or a burst is given back while the connection waits.
    fn fit_buffers(&mut self) {
        let mut wanted = self.rx_end.saturating_add(self.needed);
        if self.filled {
            wanted = wanted.max(self.rx.as_ref().len().saturating_add(1));
        }
        self.rx.fit(self.rx_end, wanted);
        self.tx.fit(self.tx_end, 0);
    }

    /// Nothing is buffered: asks the machine what it waits for, with an empty input (which
    /// changes nothing), so that a machine that has ended or waits for an answer is not read
    /// for.
    fn probe(&mut self, now: Instant) {
        match self.machine.handle_input(now, &mut []) {
            Ok(Status::NeedMore { needed }) => {
                (self.need_read, self.needed) = (true, needed.max(1))
            }
            Ok(Status::Blocked) => self.blocked = true,
            Ok(Status::Closed) => self.closed = true,
            _ => {}
        }
    }

    /// What the transport must do to get everything the machine owes out: [`Io::Write`],
    /// [`Io::Flush`], or `None` once all is written and flushed.
    pub fn next_write<E>(&mut self, now: Instant) -> Result<Option<Io>, DriverError<E, M::Error>> {
        self.collect(now)?;
        if self.tx_start < self.tx_end {
            return Ok(Some(Io::Write));
        }
        Ok(self.dirty.then_some(Io::Flush))
    }

    /// [`Pump::next_write`] without the [`Io`] in between, for the drivers' flush loop: collects
    /// what the machine owes and returns the bytes to write next ([`Pump::transmit`]); write them
    /// and call [`Pump::sent`] until this is empty, then flush the transport if
    /// [`Pump::unflushed`].
    pub(crate) fn owed<E>(&mut self, now: Instant) -> Result<&[u8], DriverError<E, M::Error>> {
        self.collect(now)?;
        Ok(self.transmit())
    }

    /// Bytes were written since the transport was last flushed.
    pub(crate) fn unflushed(&self) -> bool {
        self.dirty
    }

    /// Collects owed bytes into the free end of the transmit buffer; `true` when the machine
    /// owes nothing more, `false` when the rest must wait for a write.
    fn collect<E>(&mut self, now: Instant) -> Result<bool, DriverError<E, M::Error>> {
        if self.dead {
            return Err(DriverError::Closed);
        }
        if self.drained {
            return Ok(true);
        }
        loop {
            let free = self.tx.as_mut().get_mut(self.tx_end..).unwrap_or_default();
            match self.machine.poll_transmit(now, free) {
                Ok(Some(n)) => {
                    self.tx_end += n.min(free.len());
                    self.blocked = false;
                }
                Ok(None) => {
                    self.drained = true;
                    return Ok(true);
                }
                Err(e) if self.grow_tx(e.required) => {}
                Err(_) if self.tx_start < self.tx_end => return Ok(false),
                Err(e) => {
                    return Err(DriverError::TransmitBufferTooSmall { required: e.required });
                }
            }
        }
    }

    /// Asks the transmit buffer for `required` bytes behind what waits to be written; whether
    /// it grew ([`Buffer::fit`]; fixed memory never does).
    fn grow_tx(&mut self, required: usize) -> bool {
        let len = self.tx.as_ref().len();
        self.tx.fit(self.tx_end, self.tx_end.saturating_add(required));
        self.tx.as_ref().len() > len
    }

    /// The bytes to write ([`Io::Write`]).
    pub fn transmit(&self) -> &[u8] {
        self.tx.as_ref().get(self.tx_start..self.tx_end).unwrap_or_default()
    }

    /// `n` bytes of [`Pump::transmit`] were written; 0 means the transport takes no more
    /// ([`DriverError::Eof`]).
    pub fn sent<E>(&mut self, n: usize) -> Result<(), DriverError<E, M::Error>> {
        if n >= self.tx_end - self.tx_start {
            // All written: the whole buffer is free again.
            (self.tx_start, self.tx_end) = (0, 0);
        } else if n == 0 {
            return Err(self.ended());
        } else {
            self.tx_start += n;
        }
        self.dirty = true;
        Ok(())
    }

    /// The transport was flushed ([`Io::Flush`]).
    pub fn flushed(&mut self) {
        self.dirty = false;
    }

    /// Where to read into ([`Io::Read`]).
    pub fn receive_buffer(&mut self) -> &mut [u8] {
        self.rx.as_mut().get_mut(self.rx_end..).unwrap_or_default()
    }

    /// `n` bytes were read into [`Pump::receive_buffer`]; 0 means the peer closed the transport
    /// ([`DriverError::Eof`]).
    pub fn received<E>(&mut self, n: usize) -> Result<(), DriverError<E, M::Error>> {
        if n == 0 {
            return Err(self.ended());
        }
        let len = self.rx.as_ref().len();
        self.rx_end = (self.rx_end + n).min(len);
        // More than the machine asked for, up to the last byte: the peer is ahead.
        self.filled = self.rx_end == len && n > self.needed;
        self.need_read = false;
        Ok(())
    }

    fn ended<E>(&mut self) -> DriverError<E, M::Error> {
        (self.closed, self.dead) = (true, true);
        self.touched();
        self.machine.connection_lost();
        match self.failure.take() {
            Some(e) => DriverError::Machine(e),
            None => DriverError::Eof,
        }
    }

    /// The transport failed with `e`: the machine hears [`Machine::connection_lost`]. Returns
    /// the error to report: a peer's fault waiting to be reported comes first.
    pub fn transport_failed<E>(&mut self, e: E) -> DriverError<E, M::Error> {
        (self.closed, self.dead) = (true, true);
        self.touched();
        self.machine.connection_lost();
        match self.failure.take() {
            Some(f) => DriverError::Machine(f),
            None => DriverError::Transport(e),
        }
    }

    /// One input step of the machine over the buffered bytes ([`Io::Input`]): the event, if the
    /// step made one, borrowing the receive buffer until the next call.
    ///
    /// `Ok(None)` when the step had nothing to report. A peer's fault is not reported here: the
    /// next [`Pump::next`] writes what the machine owes about it, then returns it.
    pub fn input<E>(
        &mut self,
        now: Instant,
    ) -> Result<Option<M::Event<'_>>, DriverError<E, M::Error>> {
        self.input_by(|machine, input| machine.handle_input(now, input))
    }

    /// [`input`](Self::input) through `step` instead of [`Machine::handle_input`]: for a
    /// machine whose input step takes a companion (permessage-deflate's inflater).
    fn input_by<'s, E>(
        &'s mut self,
        step: impl FnOnce(&mut M, &'s mut [u8]) -> Result<Status<Option<M::Event<'s>>>, M::Error>,
    ) -> Result<Option<M::Event<'s>>, DriverError<E, M::Error>> {
        if self.closed {
            return Ok(None);
        }
        let Pump {
            machine,
            rx,
            rx_start,
            rx_end,
            last,
            need_read,
            needed,
            drained,
            blocked,
            closed,
            failure,
            ..
        } = self;
        let input = rx.as_mut().get_mut(*rx_start..*rx_end).unwrap_or_default();
        *drained = false;
        match step(machine, input) {
            Ok(Status::Progress { consumed, event }) => {
                *last = *rx_start;
                *rx_start = (*rx_start + consumed).min(*rx_end);
                *need_read = false;

                Ok(event)
            }
            Ok(Status::NeedMore { needed: n }) => {
                (*need_read, *needed) = (true, n.max(1));
                Ok(None)
            }
            Ok(Status::Blocked) => {
                *blocked = true;
                Ok(None)
            }
            Ok(Status::Closed) => {
                *closed = true;
                Ok(None)
            }
            Err(e) => {
                *closed = true;
                *failure = Some(e);
                Ok(None)
            }
        }
    }

    /// Runs a command of the machine that writes its bytes into the transmit buffer: `f` gets
    /// the machine and the free end of the buffer and returns its result and the length it
    /// wrote. What the machine owed goes first.
    ///
    /// `Ok(None)`: write [`Pump::transmit`] first (flush the transport when it is empty), then
    /// call again: the owed bytes, or the command, did not fit behind what waits to be written,
    /// or the answer to a peer's fault must go out before the fault is reported here. Commands
    /// are all or nothing, so `f` runs again then.
    #[inline]
    pub fn command<R, E>(
        &mut self,
        now: Instant,
        f: &mut impl FnMut(&mut M, &mut [u8]) -> Result<(R, usize), M::Error>,
    ) -> Result<Option<R>, DriverError<E, M::Error>> {
        // Drained (so not dead) and no fault waiting: nothing to write or report first.
        let room = (self.drained && self.failure.is_none()) || self.command_room(now)?;
        if !room {
            return Ok(None);
        }
        loop {
            let free = self.tx.as_mut().get_mut(self.tx_end..).unwrap_or_default();
            let room = free.len();
            match f(&mut self.machine, free) {
                Ok((r, n)) => {
                    self.command_done(n.min(room));
                    return Ok(Some(r));
                }
                // Too little room, and the buffer grew: nothing changed, run it again.
                Err(e) if M::room_required(&e).is_some_and(|n| self.grow_tx(n)) => {}
                // Perhaps only too little room behind the waiting bytes: write them, try again.
                Err(_) if self.tx_start < self.tx_end => return Ok(None),
                Err(e) => return Err(DriverError::Machine(e)),
            }
        }
    }

    /// Before a command: collects what is owed; `false` when a write or flush must come first.
    /// A peer's fault waiting to be reported is reported once its answer is written and
    /// flushed.
    #[inline(never)]
    fn command_room<E>(&mut self, now: Instant) -> Result<bool, DriverError<E, M::Error>> {
        let room = self.collect(now)?;
        if self.failure.is_some() {
            if self.tx_start < self.tx_end || self.dirty {
                return Ok(false);
            }
            if let Some(e) = self.failure.take() {
                return Err(DriverError::Machine(e));
            }
        }
        Ok(room)
    }

    /// After a command wrote `n` bytes.
    fn command_done(&mut self, n: usize) {
        self.tx_end += n;
        self.blocked = false;
        // A command may end the machine or make it owe more.
        self.touched();
    }
}

#[cfg(feature = "deflate")]
impl<K: crate::ws::connection::MaskKeys, B: Buffer>
    Pump<'_, crate::ws::connection::Connection<K>, B>
{
    /// [`input`](Self::input) for a WebSocket connection that agreed to permessage-deflate:
    /// [`Connection::handle_input_inflate`](crate::ws::connection::Connection::handle_input_inflate),
    /// the event borrowing the receive buffer and `inflater`'s window.
    pub fn input_inflate<'s, E, W: AsMut<[u8]> + AsRef<[u8]>>(
        &'s mut self,
        now: Instant,
        inflater: &'s mut crate::ws::deflate::Inflater<W>,
    ) -> Result<Option<crate::ws::connection::Event<'s>>, DriverError<E, crate::ws::Error>> {
        self.input_by(|c, input| {
            c.handle_input_inflate(now, input, inflater).map_err(crate::ws::Error::Protocol)
        })
    }
}
