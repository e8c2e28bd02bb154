//! [`Stream`]: a WebSocket connection as an `embedded-io` byte stream over binary messages, the
//! transport MQTT over WebSocket runs on.
//!
//! `Stream<T>` implements `embedded_io::{Read, Write}` when `T` does, and
//! `embedded_io_async::{Read, Write}` when `T` does. A read returns payload bytes of binary
//! messages as they arrive, across frame and message boundaries (one frame is not one MQTT
//! packet); a write sends its bytes as one binary message. Pings are answered, a close frame from
//! the peer is answered and then reads return `Ok(0)`. Text messages are refused with close code
//! 1003 (the connection's [`TextMessages`] is set to `Reject`).
//!
//! All memory is the caller's: `rx` holds received frames (payload is unmasked in place and read
//! out from there, so any size works, down to [`MIN_RX_BUFFER`]), `tx` holds one outgoing frame
//! (a write sends at most `tx.len() - 14` bytes; at least [`MIN_TX_BUFFER`]).
//!
//! The opening handshake is done on `T` before the stream is made; bytes the peer sent after its
//! handshake are handed in with [`Stream::new_after_handshake`].
//!
//! # Example
//!
//! ```
//! use embedded_io::{Read, Write};
//! use mqtt_ws::ws::connection::{Config, Connection};
//! use mqtt_ws::ws::stream::{Stream, StreamError};
//!
//! /// Sends an MQTT PINGREQ over WebSocket and waits for the PINGRESP. `transport` has done
//! /// the opening handshake; `leftover` is what arrived after the 101 response head.
//! fn ping<T: Read + Write>(
//!     transport: T,
//!     leftover: &[u8],
//!     mut random: impl FnMut() -> [u8; 4],
//! ) -> Result<bool, StreamError<T::Error>> {
//!     let mut rx = [0u8; 512];
//!     rx[..leftover.len()].copy_from_slice(leftover);
//!     let mut tx = [0u8; 512];
//!     let conn = Connection::client(Config::new(), move || random());
//!     let n = leftover.len();
//!     let mut ws = Stream::new_after_handshake(transport, conn, &mut rx, 0..n, &mut tx)
//!         .expect("buffers are large enough");
//!     ws.write_all(&[0xc0, 0x00])?; // PINGREQ
//!     ws.flush()?;
//!     let mut resp = [0u8; 2];
//!     let mut got = 0;
//!     while got < 2 {
//!         match ws.read(&mut resp[got..])? {
//!             0 => return Ok(false), // the server closed
//!             n => got += n,
//!         }
//!     }
//!     ws.close(mqtt_ws::ws::close::CloseCode::Normal)?;
//!     Ok(resp == [0xd0, 0x00]) // PINGRESP
//! }
//! ```

use core::ops::Range;

use super::close::CloseCode;
use super::connection::{Connection, Event, MaskKeys, NoMasking, State, Status, TextMessages};
use super::error::{BufferTooSmall, ProtocolError, UsageError};
use super::frame::{MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};

/// The smallest receive buffer: the longest frame header.
pub const MIN_RX_BUFFER: usize = MAX_HEADER_LEN;

/// The smallest send buffer: a whole control frame (a pong or close frame of 125 bytes).
pub const MIN_TX_BUFFER: usize = MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD;

/// A [`Stream`] error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StreamError<E> {
    /// The transport failed.
    Transport(E),
    /// The peer broke the protocol; the close frame with the error's code was sent (if the
    /// transport took it).
    Protocol(ProtocolError),
    /// The transport ended before the closing handshake.
    UnexpectedEof,
    /// The transport took no bytes of a write.
    WriteZero,
    /// A write after the closing handshake started.
    Closed,
    /// A caller error (such as an invalid close code).
    Usage(UsageError),
}

impl<E: core::fmt::Debug> core::fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "websocket stream error: {self:?}")
    }
}

impl<E: core::fmt::Debug> core::error::Error for StreamError<E> {}

impl<E: embedded_io::Error> embedded_io::Error for StreamError<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            StreamError::Transport(e) => e.kind(),
            StreamError::Protocol(_) => embedded_io::ErrorKind::InvalidData,
            StreamError::UnexpectedEof => embedded_io::ErrorKind::ConnectionReset,
            StreamError::WriteZero => embedded_io::ErrorKind::WriteZero,
            StreamError::Closed => embedded_io::ErrorKind::BrokenPipe,
            StreamError::Usage(_) => embedded_io::ErrorKind::InvalidInput,
        }
    }
}

/// What one step of the receive side found.
enum Step {
    /// Something happened; look again.
    Again,
    /// Read more bytes from the transport.
    NeedRead,
    /// The peer closed (or the connection failed): end of stream.
    Eof,
}

/// A WebSocket connection over transport `T` as a byte stream of binary messages.
/// See the [module docs](self).
pub struct Stream<'b, T, K: MaskKeys = NoMasking> {
    transport: T,
    conn: Connection<K>,
    rx: &'b mut [u8],
    /// Received, not yet processed bytes: `rx[rx_start..rx_end]`.
    rx_start: usize,
    rx_end: usize,
    /// Unmasked payload not yet read out: `rx[data_start..data_end]` (before `rx_start`).
    data_start: usize,
    data_end: usize,
    tx: &'b mut [u8],
    /// Encoded, not yet written bytes: `tx[tx_start..tx_end]`.
    tx_start: usize,
    tx_end: usize,
}

impl<T: core::fmt::Debug, K: MaskKeys> core::fmt::Debug for Stream<'_, T, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stream")
            .field("transport", &self.transport)
            .field("role", &self.conn.role())
            .field("state", &self.conn.state())
            .finish_non_exhaustive()
    }
}

impl<'b, T, K: MaskKeys> Stream<'b, T, K> {
    /// A stream over `transport`, after the opening handshake, with no bytes received yet.
    pub fn new(
        transport: T,
        connection: Connection<K>,
        rx: &'b mut [u8],
        tx: &'b mut [u8],
    ) -> Result<Self, BufferTooSmall> {
        Self::new_after_handshake(transport, connection, rx, 0..0, tx)
    }

    /// A stream whose `rx[leftover]` was already received: what the peer sent after its
    /// handshake. Pass the buffer the handshake was read into and `head_len..received`; the
    /// bytes stay where they are.
    pub fn new_after_handshake(
        transport: T,
        mut connection: Connection<K>,
        rx: &'b mut [u8],
        leftover: Range<usize>,
        tx: &'b mut [u8],
    ) -> Result<Self, BufferTooSmall> {
        if rx.len() < MIN_RX_BUFFER || leftover.end > rx.len() {
            return Err(BufferTooSmall { required: MIN_RX_BUFFER.max(leftover.end) });
        }
        if tx.len() < MIN_TX_BUFFER {
            return Err(BufferTooSmall { required: MIN_TX_BUFFER });
        }
        connection.config_mut().text_messages = TextMessages::Reject;
        Ok(Stream {
            transport,
            conn: connection,
            rx,
            // A reversed range is empty.
            rx_start: leftover.start.min(leftover.end),
            rx_end: leftover.end,
            data_start: 0,
            data_end: 0,
            tx,
            tx_start: 0,
            tx_end: 0,
        })
    }

    /// The WebSocket connection (for its [`State`]).
    pub fn connection(&self) -> &Connection<K> {
        &self.conn
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Gives the transport back (close it once [`State::Closed`] is reached).
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Copies unread payload into `buf`.
    fn take_data(&mut self, buf: &mut [u8]) -> Option<usize> {
        let pending = self.rx.get(self.data_start..self.data_end)?;
        if pending.is_empty() {
            return None;
        }
        let n = pending.len().min(buf.len());
        buf.get_mut(..n)?.copy_from_slice(pending.get(..n)?);
        self.data_start += n;
        Some(n)
    }

    /// Moves owed frames (pong, close) into `tx` while they fit.
    fn collect_owed(&mut self) {
        if self.tx_start == self.tx_end {
            self.tx_start = 0;
            self.tx_end = 0;
        }
        while let Some(free) = self.tx.get_mut(self.tx_end..) {
            match self.conn.poll_transmit(free) {
                Ok(Some(n)) => self.tx_end += n,
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// Processes received bytes: at most one frame piece.
    fn step(&mut self) -> Result<Step, ProtocolError> {
        if self.conn.state() == State::Closed {
            return Ok(Step::Eof);
        }
        let input = self.rx.get_mut(self.rx_start..self.rx_end).unwrap_or(&mut []);
        let status = self.conn.handle_input(input);
        let (consumed, data_len, text) = match status {
            Ok(Status::NeedMore) => {
                // Nothing pending: move the partial frame header to the front and read more.
                crate::buf::move_down(self.rx, self.rx_start, self.rx_end, 0);
                self.rx_end -= self.rx_start;
                self.rx_start = 0;
                self.data_start = 0;
                self.data_end = 0;
                return Ok(Step::NeedRead);
            }
            Ok(Status::Closed) => return Ok(Step::Eof),
            Ok(Status::Progress { consumed, event }) => match event {
                Some(Event::Data { kind, data, .. }) => {
                    (consumed, data.len(), kind == super::connection::MessageKind::Text)
                }
                _ => (consumed, 0, false),
            },
            Err(e) => {
                self.collect_owed();
                return Err(e);
            }
        };
        if text {
            // Unreachable with `TextMessages::Reject`; kept as a guard.
            let _ = self.conn.fail_with(CloseCode::UnsupportedData);
            self.collect_owed();
            return Err(ProtocolError::TextNotAccepted);
        }
        // A data piece is the tail of the consumed bytes.
        self.rx_start += consumed;
        self.data_end = self.rx_start;
        self.data_start = self.rx_start - data_len;
        self.collect_owed();
        Ok(Step::Again)
    }

    /// Prepares a binary message from `buf` in `tx` (which must be empty); returns its payload
    /// length.
    fn encode_write(&mut self, buf: &[u8]) -> Result<usize, UsageError> {
        let n = buf.len().min(self.tx.len().saturating_sub(MAX_HEADER_LEN));
        let len = self.conn.encode_binary(self.tx, buf.get(..n).unwrap_or(&[]))?;
        self.tx_start = 0;
        self.tx_end = len;
        Ok(n)
    }

    fn check_writable<E>(&self) -> Result<(), StreamError<E>> {
        match self.conn.state() {
            State::Open => Ok(()),
            _ => Err(StreamError::Closed),
        }
    }

    fn start_close<E>(&mut self, code: CloseCode) -> Result<(), StreamError<E>> {
        match self.conn.close(code, "") {
            Ok(()) | Err(UsageError::Closed) => {}
            Err(e) => return Err(StreamError::Usage(e)),
        }
        self.collect_owed();
        Ok(())
    }

    /// The I/O-free part of one `read` round, shared by the blocking and async paths: copies
    /// received payload into `buf[*total..]` and processes at most one frame piece.
    fn read_round(&mut self, buf: &mut [u8], total: &mut usize) -> ReadNext {
        if let Some(n) = self.take_data(buf.get_mut(*total..).unwrap_or(&mut [])) {
            *total += n;
            return if *total == buf.len() { ReadNext::Return(*total) } else { ReadNext::Again };
        }
        match self.step() {
            Ok(Step::Again) => ReadNext::Again,
            Ok(Step::NeedRead | Step::Eof) if *total > 0 => ReadNext::Return(*total),
            Ok(Step::NeedRead) => ReadNext::Fill,
            Ok(Step::Eof) => ReadNext::Eof,
            Err(e) => ReadNext::Failed(e),
        }
    }

    /// The I/O-free part of one round of the closing handshake's read loop: drops unread data
    /// and processes at most one frame piece.
    fn close_round(&mut self) -> Result<CloseNext, ProtocolError> {
        self.data_start = self.data_end;
        Ok(match self.step()? {
            Step::Eof => CloseNext::Done,
            Step::Again => CloseNext::Again,
            Step::NeedRead => CloseNext::Fill,
        })
    }
}

/// What `read` does after a [`Stream::read_round`].
enum ReadNext {
    /// Send what is owed, then another round.
    Again,
    /// Return this many bytes.
    Return(usize),
    /// Read from the transport, then another round.
    Fill,
    /// The peer closed: send what is owed, flush, return 0.
    Eof,
    /// The peer broke the protocol: send the close frame if possible and fail.
    Failed(ProtocolError),
}

/// What `close` does after a [`Stream::close_round`].
enum CloseNext {
    /// Another round.
    Again,
    /// Read from the transport (its end also ends the handshake).
    Fill,
    /// The peer's close frame arrived.
    Done,
}

impl<T: embedded_io::ErrorType, K: MaskKeys> embedded_io::ErrorType for Stream<'_, T, K> {
    type Error = StreamError<T::Error>;
}

impl<T: embedded_io::Read + embedded_io::Write, K: MaskKeys> Stream<'_, T, K> {
    fn drain_tx(&mut self) -> Result<(), StreamError<T::Error>> {
        loop {
            while self.tx_start < self.tx_end {
                let pending = self.tx.get(self.tx_start..self.tx_end).unwrap_or(&[]);
                let n = self.transport.write(pending).map_err(StreamError::Transport)?;
                if n == 0 {
                    return Err(StreamError::WriteZero);
                }
                self.tx_start += n;
            }
            self.collect_owed();
            if self.tx_start == self.tx_end {
                return Ok(());
            }
        }
    }

    fn fill_rx(&mut self) -> Result<(), StreamError<T::Error>> {
        let free = self.rx.get_mut(self.rx_end..).unwrap_or(&mut []);
        let n = self.transport.read(free).map_err(StreamError::Transport)?;
        if n == 0 {
            return Err(StreamError::UnexpectedEof);
        }
        self.rx_end += n;
        Ok(())
    }

    /// Closes cleanly: sends a close frame with `code`, then reads (dropping data) until the
    /// peer's close frame arrives or the transport ends. Close the transport afterwards. A peer
    /// that never answers keeps this waiting as long as the transport's reads wait: bound it
    /// with the transport's read timeout.
    pub fn close(&mut self, code: CloseCode) -> Result<(), StreamError<T::Error>> {
        self.start_close(code)?;
        self.drain_tx()?;
        self.transport.flush().map_err(StreamError::Transport)?;
        loop {
            match self.close_round() {
                Ok(CloseNext::Done) => break,
                Ok(CloseNext::Again) => {}
                Ok(CloseNext::Fill) => match self.fill_rx() {
                    Err(StreamError::UnexpectedEof) => break,
                    r => r?,
                },
                Err(e) => {
                    let _ = self.drain_tx();
                    return Err(StreamError::Protocol(e));
                }
            }
        }
        self.drain_tx()?;
        self.transport.flush().map_err(StreamError::Transport)
    }
}

impl<T: embedded_io::Read + embedded_io::Write, K: MaskKeys> embedded_io::Read
    for Stream<'_, T, K>
{
    /// Reads payload bytes of binary messages, answering pings and close frames on the way.
    /// `Ok(0)` after the peer's close frame.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Fill `buf` from what is already received, across frames; block only when nothing
        // has been read yet.
        let mut total = 0;
        loop {
            self.drain_tx()?;
            match self.read_round(buf, &mut total) {
                ReadNext::Again => {}
                ReadNext::Return(n) => return Ok(n),
                ReadNext::Fill => self.fill_rx()?,
                ReadNext::Eof => {
                    self.drain_tx()?;
                    self.transport.flush().map_err(StreamError::Transport)?;
                    return Ok(0);
                }
                ReadNext::Failed(e) => {
                    let _ = self.drain_tx();
                    let _ = self.transport.flush();
                    return Err(StreamError::Protocol(e));
                }
            }
        }
    }
}

impl<T: embedded_io::Read + embedded_io::Write, K: MaskKeys> embedded_io::Write
    for Stream<'_, T, K>
{
    /// Sends up to `tx.len() - 14` bytes of `buf` as one binary message.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.drain_tx()?;
        self.check_writable::<T::Error>()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.encode_write(buf).map_err(StreamError::Usage)?;
        self.drain_tx()?;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.drain_tx()?;
        self.transport.flush().map_err(StreamError::Transport)
    }
}

impl<T: embedded_io_async::Read + embedded_io_async::Write, K: MaskKeys> Stream<'_, T, K> {
    async fn drain_tx_async(&mut self) -> Result<(), StreamError<T::Error>> {
        loop {
            while self.tx_start < self.tx_end {
                let pending = self.tx.get(self.tx_start..self.tx_end).unwrap_or(&[]);
                let n = self.transport.write(pending).await.map_err(StreamError::Transport)?;
                if n == 0 {
                    return Err(StreamError::WriteZero);
                }
                self.tx_start += n;
            }
            self.collect_owed();
            if self.tx_start == self.tx_end {
                return Ok(());
            }
        }
    }

    async fn fill_rx_async(&mut self) -> Result<(), StreamError<T::Error>> {
        let free = self.rx.get_mut(self.rx_end..).unwrap_or(&mut []);
        let n = self.transport.read(free).await.map_err(StreamError::Transport)?;
        if n == 0 {
            return Err(StreamError::UnexpectedEof);
        }
        self.rx_end += n;
        Ok(())
    }

    /// Closes cleanly (async): sends a close frame with `code`, then reads (dropping data) until
    /// the peer's close frame arrives or the transport ends.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe in the sense that no frame is ever torn: the close frame stays queued in `tx`
    /// and the next call on the stream sends it first.
    pub async fn close_async(&mut self, code: CloseCode) -> Result<(), StreamError<T::Error>> {
        self.start_close(code)?;
        self.drain_tx_async().await?;
        self.transport.flush().await.map_err(StreamError::Transport)?;
        loop {
            match self.close_round() {
                Ok(CloseNext::Done) => break,
                Ok(CloseNext::Again) => {}
                Ok(CloseNext::Fill) => match self.fill_rx_async().await {
                    Err(StreamError::UnexpectedEof) => break,
                    r => r?,
                },
                Err(e) => {
                    let _ = self.drain_tx_async().await;
                    return Err(StreamError::Protocol(e));
                }
            }
        }
        self.drain_tx_async().await?;
        self.transport.flush().await.map_err(StreamError::Transport)
    }
}

impl<T: embedded_io_async::Read + embedded_io_async::Write, K: MaskKeys> embedded_io_async::Read
    for Stream<'_, T, K>
{
    /// Reads payload bytes of binary messages, answering pings and close frames on the way.
    /// `Ok(0)` after the peer's close frame.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe if the transport's `read` and `write` are: received bytes, unread payload and
    /// owed frames live in the stream's buffers, so a cancelled read loses nothing and a later
    /// call resumes where it stopped.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Fill `buf` from what is already received, across frames; block only when nothing
        // has been read yet.
        let mut total = 0;
        loop {
            self.drain_tx_async().await?;
            match self.read_round(buf, &mut total) {
                ReadNext::Again => {}
                ReadNext::Return(n) => return Ok(n),
                ReadNext::Fill => self.fill_rx_async().await?,
                ReadNext::Eof => {
                    self.drain_tx_async().await?;
                    self.transport.flush().await.map_err(StreamError::Transport)?;
                    return Ok(0);
                }
                ReadNext::Failed(e) => {
                    let _ = self.drain_tx_async().await;
                    let _ = self.transport.flush().await;
                    return Err(StreamError::Protocol(e));
                }
            }
        }
    }
}

impl<T: embedded_io_async::Read + embedded_io_async::Write, K: MaskKeys> embedded_io_async::Write
    for Stream<'_, T, K>
{
    /// Sends up to `tx.len() - 14` bytes of `buf` as one binary message.
    ///
    /// # Cancel safety
    ///
    /// Frames are never torn, but not fully cancel-safe: once the message is encoded into `tx`
    /// (after the previous frame went out) its bytes are committed and will be sent by the next
    /// call, even if this future was dropped before returning their count. Don't cancel writes
    /// you intend to repeat.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.drain_tx_async().await?;
        self.check_writable::<T::Error>()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.encode_write(buf).map_err(StreamError::Usage)?;
        self.drain_tx_async().await?;
        Ok(n)
    }

    /// # Cancel safety
    ///
    /// Cancel-safe: unsent bytes stay in `tx` and go out first on the next call.
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.drain_tx_async().await?;
        self.transport.flush().await.map_err(StreamError::Transport)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::ws::connection::{Config, MessageKind};
    use core::convert::Infallible;
    use std::vec::Vec;

    /// An in-memory transport: reads come from `input` in chunks of `chunk` bytes, writes go to
    /// `output` in chunks of at most `chunk` bytes.
    #[derive(Debug, Default)]
    struct Pipe {
        input: Vec<u8>,
        pos: usize,
        chunk: usize,
        output: Vec<u8>,
    }

    impl Pipe {
        fn new(input: Vec<u8>, chunk: usize) -> Self {
            Pipe { input, pos: 0, chunk, output: Vec::new() }
        }
        fn read_some(&mut self, buf: &mut [u8]) -> usize {
            let n = buf.len().min(self.chunk).min(self.input.len() - self.pos);
            buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
            self.pos += n;
            n
        }
        fn write_some(&mut self, buf: &[u8]) -> usize {
            let n = buf.len().min(self.chunk);
            self.output.extend_from_slice(&buf[..n]);
            n
        }
    }

    impl embedded_io::ErrorType for Pipe {
        type Error = Infallible;
    }
    impl embedded_io::Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
            Ok(self.read_some(buf))
        }
    }
    impl embedded_io::Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
            Ok(self.write_some(buf))
        }
        fn flush(&mut self) -> Result<(), Infallible> {
            Ok(())
        }
    }
    impl embedded_io_async::Read for Pipe {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
            Ok(self.read_some(buf))
        }
    }
    impl embedded_io_async::Write for Pipe {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
            Ok(self.write_some(buf))
        }
        async fn flush(&mut self) -> Result<(), Infallible> {
            Ok(())
        }
    }

    /// Runs a future that never waits (the pipe is always ready).
    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        let mut f = core::pin::pin!(f);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        loop {
            if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    /// What a client sends: masked frames, encoded by a client connection.
    fn client_frames(f: impl FnOnce(&mut Connection<fn() -> [u8; 4]>, &mut Vec<u8>)) -> Vec<u8> {
        let mut c: Connection<fn() -> [u8; 4]> = Connection::client(Config::new(), || [1, 2, 3, 4]);
        let mut wire = Vec::new();
        f(&mut c, &mut wire);
        wire
    }

    fn push(wire: &mut Vec<u8>, r: Result<usize, UsageError>, out: &[u8]) {
        let n = r.unwrap();
        wire.extend_from_slice(&out[..n]);
    }

    /// Decodes what a server stream wrote, as the client sees it.
    fn decode_server_output(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut c = Connection::client(Config::new(), || [0; 4]);
        let mut buf = bytes.to_vec();
        let mut pos = 0;
        let mut frames = Vec::new();
        let mut data = Vec::new();
        loop {
            match c.handle_input(&mut buf[pos..]) {
                Ok(Status::Progress { consumed, event }) => {
                    match event {
                        Some(Event::Data { data: d, last, .. }) => {
                            data.extend_from_slice(d);
                            if last {
                                frames.push((2, core::mem::take(&mut data)));
                            }
                        }
                        Some(Event::Pong(p)) => frames.push((0xa, p.to_vec())),
                        Some(Event::Close { code, .. }) => frames.push((
                            8,
                            code.map(|c| c.as_u16().to_be_bytes().to_vec()).unwrap_or_default(),
                        )),
                        Some(Event::Ping(p)) => frames.push((9, p.to_vec())),
                        None => {}
                    }
                    pos += consumed;
                }
                _ => return frames,
            }
        }
    }

    #[test]
    fn reads_across_frames_answers_pings_and_closes() {
        let wire = client_frames(|c, w| {
            let mut out = [0u8; 64];
            push(w, c.encode_data(&mut out, MessageKind::Binary, b"MQ", false), &out);
            push(w, c.encode_ping(&mut out, b"hi"), &out);
            push(w, c.encode_data(&mut out, MessageKind::Binary, b"TT", true), &out);
            push(w, c.encode_binary(&mut out, b"\x04\x05"), &out);
            push(w, c.encode_binary(&mut out, b""), &out);
            push(w, c.encode_binary(&mut out, b"end"), &out);
            c.close(CloseCode::Normal, "").unwrap();
            let n = c.poll_transmit(&mut out).unwrap().unwrap();
            w.extend_from_slice(&out[..n]);
        });
        for chunk in [1, 2, 5, 1000] {
            for rx_len in [MIN_RX_BUFFER, 20, 256] {
                let mut rx = std::vec![0u8; rx_len];
                let mut tx = [0u8; MIN_TX_BUFFER];
                let conn = Connection::server(Config::new());
                let mut s =
                    Stream::new(Pipe::new(wire.clone(), chunk), conn, &mut rx, &mut tx).unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 3];
                loop {
                    let n = embedded_io::Read::read(&mut s, &mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                assert_eq!(got, b"MQTT\x04\x05end", "chunk {chunk} rx {rx_len}");
                assert_eq!(s.connection().state(), State::Closed);
                let out = s.into_inner().output;
                assert_eq!(
                    decode_server_output(&out),
                    [(0xa, b"hi".to_vec()), (8, std::vec![0x03, 0xe8])]
                );
            }
        }
    }

    #[test]
    fn a_read_spans_frames_when_bytes_are_there() {
        let wire = client_frames(|c, w| {
            let mut out = [0u8; 64];
            push(w, c.encode_binary(&mut out, b"ab"), &out);
            push(w, c.encode_binary(&mut out, b"cd"), &out);
        });
        let mut rx = [0u8; 64];
        let mut tx = [0u8; MIN_TX_BUFFER];
        let conn = Connection::server(Config::new());
        let mut s = Stream::new(Pipe::new(wire, 1000), conn, &mut rx, &mut tx).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(embedded_io::Read::read(&mut s, &mut buf), Ok(4));
        assert_eq!(&buf, b"abcd");
        // The transport ends without a close frame.
        assert_eq!(embedded_io::Read::read(&mut s, &mut buf), Err(StreamError::UnexpectedEof));
    }

    #[test]
    fn text_is_refused_with_1003() {
        let wire = client_frames(|c, w| {
            let mut out = [0u8; 64];
            push(w, c.encode_text(&mut out, "{}"), &out);
        });
        let mut rx = [0u8; 64];
        let mut tx = [0u8; MIN_TX_BUFFER];
        let conn = Connection::server(Config::new());
        let mut s = Stream::new(Pipe::new(wire, 1000), conn, &mut rx, &mut tx).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(
            embedded_io::Read::read(&mut s, &mut buf),
            Err(StreamError::Protocol(ProtocolError::TextNotAccepted))
        );
        assert_eq!(s.into_inner().output, [0x88, 0x02, 0x03, 0xeb]);
    }

    #[test]
    fn writes_masked_binary_messages_and_closes() {
        let mut rx = [0u8; 64];
        let mut tx = [0u8; MIN_TX_BUFFER + 1];
        let mut n = 0u8;
        let conn = Connection::client(Config::new(), move || {
            n += 1;
            [n, 0, 0, 0]
        });
        // The server's close reply is already there when we close.
        let reply = [0x88, 0x02, 0x03, 0xe8];
        let mut s = Stream::new(Pipe::new(reply.to_vec(), 3), conn, &mut rx, &mut tx).unwrap();
        let long = [0x55u8; 300];
        assert_eq!(embedded_io::Write::write(&mut s, b"hello"), Ok(5));
        // A write sends at most tx.len() - 14 bytes.
        assert_eq!(embedded_io::Write::write(&mut s, &long), Ok(126));
        embedded_io::Write::flush(&mut s).unwrap();
        s.close(CloseCode::Normal).unwrap();
        assert_eq!(s.connection().state(), State::Closed);
        assert_eq!(embedded_io::Write::write(&mut s, b"x"), Err(StreamError::Closed));
        let wire = s.into_inner().output;
        let server = Connection::server(Config::new());
        let mut buf = wire.clone();
        let mut c = server;
        let mut pos = 0;
        let mut msgs = Vec::new();
        while let Ok(Status::Progress { consumed, event }) = c.handle_input(&mut buf[pos..]) {
            match event {
                Some(Event::Data { data, .. }) => msgs.push(data.to_vec()),
                Some(Event::Close { code, .. }) => {
                    msgs.push(std::vec![code.unwrap().as_u16() as u8])
                }
                _ => {}
            }
            pos += consumed;
        }
        assert_eq!(msgs, [b"hello".to_vec(), std::vec![0x55; 126], std::vec![1000u16 as u8]]);
    }

    #[test]
    fn leftover_after_handshake_and_async() {
        let wire = client_frames(|c, w| {
            let mut out = [0u8; 64];
            push(w, c.encode_binary(&mut out, b"left"), &out);
            push(w, c.encode_binary(&mut out, b"over"), &out);
            push(w, c.encode_ping(&mut out, b""), &out);
            c.close(CloseCode::GoingAway, "").unwrap();
            let n = c.poll_transmit(&mut out).unwrap().unwrap();
            w.extend_from_slice(&out[..n]);
        });
        // The first 8 bytes arrived with the handshake response, behind its head (3 bytes
        // here) in the same buffer: they stay where they are.
        let mut rx = [0u8; 32];
        rx[3..11].copy_from_slice(&wire[..8]);
        let mut tx = [0u8; MIN_TX_BUFFER];
        let conn = Connection::server(Config::new());
        let pipe = Pipe::new(wire[8..].to_vec(), 4);
        let mut s = Stream::new_after_handshake(pipe, conn, &mut rx, 3..11, &mut tx).unwrap();
        let got = block_on(async {
            let mut got = Vec::new();
            let mut buf = [0u8; 5];
            loop {
                let n = embedded_io_async::Read::read(&mut s, &mut buf).await.unwrap();
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        assert_eq!(got, b"leftover");
        let r = block_on(embedded_io_async::Write::write(&mut s, b"x"));
        assert_eq!(r, Err(StreamError::Closed));
        assert_eq!(
            decode_server_output(&s.into_inner().output),
            [(0xa, Vec::new()), (8, std::vec![0x03, 0xe9])]
        );
    }

    #[test]
    fn async_write_and_close() {
        let mut rx = [0u8; 64];
        let mut tx = [0u8; 256];
        let conn = Connection::server(Config::new());
        let reply = client_frames(|c, w| {
            let mut out = [0u8; 64];
            push(w, c.encode_binary(&mut out, b"dropped"), &out);
            c.close(CloseCode::Normal, "").unwrap();
            let n = c.poll_transmit(&mut out).unwrap().unwrap();
            w.extend_from_slice(&out[..n]);
        });
        let mut s = Stream::new(Pipe::new(reply, 2), conn, &mut rx, &mut tx).unwrap();
        block_on(async {
            assert_eq!(embedded_io_async::Write::write(&mut s, b"abc").await, Ok(3));
            embedded_io_async::Write::flush(&mut s).await.unwrap();
            s.close_async(CloseCode::Normal).await.unwrap();
        });
        assert_eq!(s.connection().state(), State::Closed);
        assert_eq!(
            decode_server_output(&s.into_inner().output),
            [(2, b"abc".to_vec()), (8, std::vec![0x03, 0xe8])]
        );
    }

    #[test]
    fn buffers_too_small() {
        let conn = Connection::server(Config::new());
        let mut rx = [0u8; 13];
        let mut tx = [0u8; MIN_TX_BUFFER];
        let r = Stream::new(Pipe::default(), conn.clone(), &mut rx, &mut tx);
        assert_eq!(r.err(), Some(BufferTooSmall { required: 14 }));
        let mut rx = [0u8; 14];
        let mut tx = [0u8; 10];
        let r = Stream::new(Pipe::default(), conn, &mut rx, &mut tx);
        assert_eq!(r.err(), Some(BufferTooSmall { required: MIN_TX_BUFFER }));
    }
}
