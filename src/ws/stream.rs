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
//! A stream is the WebSocket [`Connection`] in a [`Pump`] over `T`: the pump keeps the buffers
//! (payload is unmasked in place in `rx` and read out from there, so any size works, down to
//! [`MIN_RX_BUFFER`]; `tx` holds outgoing frames, a write sends at most `tx.len() - 14` bytes, at
//! least [`MIN_TX_BUFFER`]), and the blocking or async driver moves the bytes. Errors are the
//! driver's [`DriverError`], which is an `embedded_io::Error`: a read timeout of the transport
//! passes through as one, so an MQTT driver over the stream still sends its keep-alive pings.
//!
//! The async read and write are cancel-safe (a `select` against a timer may drop them): a read
//! returns as soon as it has copied bytes, and an async write queues its frame in `tx` once
//! earlier frames have left, so it leaves with the next `flush` (which MQTT drivers call after
//! every packet), read, or write that needs the room. A blocking write sends its frame at once.
//!
//! The opening handshake comes first, on `T`: with [`handshake::Client`](super::handshake::Client)
//! in a driver, then [`Stream::from_pump`] with the driver's pump (its unconsumed bytes are the
//! first frames), or [`Stream::new_after_handshake`] for a handshake done elsewhere.
//!
//! # Example
//!
//! ```
//! use embedded_io::{Read, Write};
//! use mqtt_ws::io::DriverError;
//! use mqtt_ws::ws::connection::{Config, Connection};
//! use mqtt_ws::ws::stream::Stream;
//!
//! /// Sends an MQTT PINGREQ over WebSocket and waits for the PINGRESP. `transport` has done
//! /// the opening handshake; `leftover` is what arrived after the 101 response head.
//! fn ping<T: Read + Write>(
//!     transport: T,
//!     leftover: &[u8],
//!     mut random: impl FnMut() -> [u8; 4],
//! ) -> Result<bool, DriverError<T::Error, mqtt_ws::ws::Error>> {
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
use super::connection::{Connection, Event, MIN_INPUT, MaskKeys, NoMasking, State, TextMessages};
#[cfg(feature = "deflate")]
use super::deflate::Inflater;
use super::error::{Error, UsageError};
use super::frame::{MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::BufferTooSmall;
use crate::io::{Buffer, DriverError, Pump, Timeout, asynch, blocking};
use crate::time::Instant;

/// The smallest receive buffer: a whole control frame (frame header and 125 bytes).
pub const MIN_RX_BUFFER: usize = MIN_INPUT;

/// The smallest send buffer: a whole control frame (a pong or close frame of 125 bytes).
pub const MIN_TX_BUFFER: usize = MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD;

/// The WebSocket connection has no timers: every step runs at the same instant.
const NOW: Instant = Instant::ZERO;

/// A WebSocket connection over transport `T` as a byte stream of binary messages.
/// See the [module docs](self).
pub struct Stream<'b, T, K: MaskKeys = NoMasking, B: Buffer = &'b mut [u8]> {
    transport: T,
    pump: Pump<'b, Connection<K>, B>,
    /// Payload not yet read out: the tail of the pump's last input, or of the inflater's last
    /// output.
    pending: usize,
    /// The receive half of permessage-deflate, once agreed.
    #[cfg(feature = "deflate")]
    inflater: Option<Inflater<B>>,
}

impl<T: core::fmt::Debug, K: MaskKeys, B: Buffer> core::fmt::Debug for Stream<'_, T, K, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stream")
            .field("transport", &self.transport)
            .field("role", &self.connection().role())
            .field("state", &self.connection().state())
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
        connection: Connection<K>,
        rx: &'b mut [u8],
        leftover: Range<usize>,
        tx: &'b mut [u8],
    ) -> Result<Self, BufferTooSmall> {
        if leftover.end > rx.len() {
            return Err(BufferTooSmall { required: MIN_RX_BUFFER.max(leftover.end) });
        }
        Self::from_pump(transport, Pump::with_input(connection, rx, leftover, tx))
    }
}

impl<'b, T, K: MaskKeys, B: Buffer> Stream<'b, T, K, B> {
    /// A stream over `transport` for the connection in `pump`, whose buffers may hold input
    /// (the first frames, behind a handshake head) and output: a driver's pump after
    /// [`switch`](crate::io::blocking::Connection::switch) from the opening handshake.
    pub fn from_pump(
        transport: T,
        mut pump: Pump<'b, Connection<K>, B>,
    ) -> Result<Self, BufferTooSmall> {
        let (rx, tx) = pump.capacities();
        if rx < MIN_RX_BUFFER {
            return Err(BufferTooSmall { required: MIN_RX_BUFFER });
        }
        if tx < MIN_TX_BUFFER {
            return Err(BufferTooSmall { required: MIN_TX_BUFFER });
        }
        pump.machine_mut().config_mut().text_messages = TextMessages::Reject;
        Ok(Stream {
            transport,
            pump,
            pending: 0,
            #[cfg(feature = "deflate")]
            inflater: None,
        })
    }

    /// Receives messages compressed with permessage-deflate (RFC 7692) through `inflater`,
    /// made for what the handshake agreed ([`Agreement::receive`](super::deflate::Agreement::receive)):
    /// the connection's [`Config::extension_rsv`](super::connection::Config::extension_rsv)
    /// allows RSV1, and read returns the decompressed bytes. Writes stay uncompressed, which
    /// the extension allows (RFC 7692 §6).
    #[cfg(feature = "deflate")]
    pub fn with_inflater(mut self, inflater: Inflater<B>) -> Self {
        self.pump.machine_mut().config_mut().extension_rsv = super::frame::Rsv::RSV1;
        self.inflater = Some(inflater);
        self
    }

    /// The WebSocket connection (for its [`State`]).
    pub fn connection(&self) -> &Connection<K> {
        self.pump.machine()
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Gives the transport back (close it once [`State::Closed`] is reached).
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Copies payload not yet read out into `buf`.
    fn take(&mut self, buf: &mut [u8]) -> usize {
        let data = self.pump.last_input();
        #[cfg(feature = "deflate")]
        let data = match (self.inflater.as_ref(), self.pump.machine().inflated_piece()) {
            (Some(inf), Some(piece)) => inf.piece(piece),
            _ => data,
        };
        let data = data.get(data.len().saturating_sub(self.pending)..).unwrap_or_default();
        let n = data.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pending -= n;
        n
    }

    /// The part of a read that needs no I/O: copies payload already received into `buf`, taking
    /// more input steps over what is buffered until `buf` is full. `Some(n)`: the read is over
    /// with `n > 0` bytes; `None`: nothing was copied, the transport must be read. It never
    /// waits for the transport once bytes are copied (a read cancelled there would lose them).
    fn read_buffered(&mut self, buf: &mut [u8]) -> Option<usize> {
        let mut total = 0;
        loop {
            total += self.take(buf.get_mut(total..).unwrap_or_default());
            if total == buf.len() {
                return Some(total);
            }
            if total == 0 {
                return None;
            }
            if !self.step_buffered() {
                return Some(total);
            }
        }
    }

    /// One step over input already buffered, with no I/O; `false` when there is none.
    fn step_buffered(&mut self) -> bool {
        if !self.pump.has_input() {
            return false;
        }
        #[cfg(feature = "deflate")]
        if let Some(inf) = self.inflater.as_mut() {
            if let Ok(Some(Event::Data { data, .. })) = self.pump.input_inflate::<(), _>(NOW, inf) {
                self.pending = data.len();
            }
            return true;
        }
        if let Ok(Some(Event::Data { data, .. })) = self.pump.input::<()>(NOW) {
            self.pending = data.len();
        }
        true
    }

    /// Starts the closing handshake (a close frame with `code` is queued).
    fn start_close<E>(&mut self, code: CloseCode) -> Result<(), DriverError<E, Error>> {
        self.pending = 0;
        match self.pump.machine_mut().close(code, "") {
            Ok(()) | Err(UsageError::Closed) => Ok(()),
            Err(e) => Err(DriverError::Machine(e.into())),
        }
    }

    fn check_writable<E>(&self) -> Result<(), DriverError<E, Error>> {
        match self.connection().state() {
            State::Open => Ok(()),
            _ => Err(DriverError::Closed),
        }
    }
}

/// Encodes as much of `buf` as fits `out` as one binary message; returns the bytes taken and
/// the frame's length.
fn encode_write<K: MaskKeys>(
    conn: &mut Connection<K>,
    out: &mut [u8],
    buf: &[u8],
) -> Result<(usize, usize), Error> {
    let n = buf.len().min(out.len().saturating_sub(MAX_HEADER_LEN));
    if n == 0 {
        return Err(UsageError::BufferTooSmall { required: MAX_HEADER_LEN + 1 }.into());
    }
    let len = conn.encode_binary(out, buf.get(..n).unwrap_or_default())?;
    Ok((n, len))
}

/// What a step of the connection means to a reader.
enum Seen {
    /// This many payload bytes at the tail of the last input.
    Data(usize),
    /// Nothing to read yet.
    Nothing,
    /// The closing handshake is done: end of stream.
    End,
}

fn seen<E>(
    step: Result<Option<Event<'_>>, DriverError<E, Error>>,
) -> Result<Seen, DriverError<E, Error>> {
    match step {
        Ok(Some(Event::Data { data, .. })) => Ok(Seen::Data(data.len())),
        Ok(_) => Ok(Seen::Nothing),
        Err(DriverError::Closed) => Ok(Seen::End),
        Err(e) => Err(e),
    }
}

/// The end of a closing handshake: done once the connection closed or the transport ended.
fn closed<E>(step: Result<Seen, DriverError<E, Error>>) -> Result<bool, DriverError<E, Error>> {
    match step {
        Ok(Seen::End) | Err(DriverError::Eof) => Ok(true),
        Ok(_) => Ok(false),
        Err(e) => Err(e),
    }
}

impl<T: embedded_io::ErrorType, K: MaskKeys, B: Buffer> embedded_io::ErrorType
    for Stream<'_, T, K, B>
{
    type Error = DriverError<T::Error, Error>;
}

impl<T: embedded_io::Read + embedded_io::Write, K: MaskKeys, B: Buffer> Stream<'_, T, K, B> {
    /// One step of the connection over the blocking transport, inflating when agreed.
    fn step_blocking(&mut self) -> Result<Seen, DriverError<T::Error, Error>> {
        let (transport, pump) = (&mut self.transport, &mut self.pump);
        #[cfg(feature = "deflate")]
        if let Some(inf) = self.inflater.as_mut() {
            return seen(blocking::step_by(transport, pump, NOW, Timeout::Error, |p| {
                p.input_inflate(NOW, inf)
            }));
        }
        seen(blocking::step(transport, pump, NOW, Timeout::Error))
    }

    /// Runs the closing handshake: sends a close frame with `code`, then reads (and drops data)
    /// until the peer's close frame arrives or the transport ends.
    pub fn close(&mut self, code: CloseCode) -> Result<(), DriverError<T::Error, Error>> {
        self.start_close(code)?;
        loop {
            if closed(self.step_blocking())? {
                return Ok(());
            }
        }
    }
}

impl<T: embedded_io::Read + embedded_io::Write, K: MaskKeys, B: Buffer> embedded_io::Read
    for Stream<'_, T, K, B>
{
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(n) = self.read_buffered(buf) {
                return Ok(n);
            }
            match self.step_blocking()? {
                Seen::Data(n) => self.pending = n,
                Seen::Nothing => {}
                Seen::End => return Ok(0),
            }
        }
    }
}

impl<T: embedded_io::Read + embedded_io::Write, K: MaskKeys, B: Buffer> embedded_io::Write
    for Stream<'_, T, K, B>
{
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.check_writable()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let (transport, pump) = (&mut self.transport, &mut self.pump);
        let n = blocking::queue(transport, pump, NOW, &mut |c, out| encode_write(c, out, buf))?;
        blocking::write_all(transport, pump)?;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        blocking::flush(&mut self.transport, &mut self.pump, NOW)
    }
}

impl<T: embedded_io_async::Read + embedded_io_async::Write, K: MaskKeys, B: Buffer>
    Stream<'_, T, K, B>
{
    /// One step of the connection over the async transport, inflating when agreed.
    async fn step_async(&mut self) -> Result<Seen, DriverError<T::Error, Error>> {
        let (transport, pump) = (&mut self.transport, &mut self.pump);
        #[cfg(feature = "deflate")]
        if let Some(inf) = self.inflater.as_mut() {
            let step = asynch::step_by(transport, pump, NOW, Timeout::Error, |p| {
                p.input_inflate(NOW, inf)
            });
            return seen(step.await);
        }
        seen(asynch::step(transport, pump, NOW, Timeout::Error).await)
    }

    /// [`close`](Self::close) over an async transport.
    pub async fn close_async(
        &mut self,
        code: CloseCode,
    ) -> Result<(), DriverError<T::Error, Error>> {
        self.start_close(code)?;
        loop {
            if closed(self.step_async().await)? {
                return Ok(());
            }
        }
    }
}

impl<T: embedded_io_async::Read + embedded_io_async::Write, K: MaskKeys, B: Buffer>
    embedded_io_async::Read for Stream<'_, T, K, B>
{
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(n) = self.read_buffered(buf) {
                return Ok(n);
            }
            match self.step_async().await? {
                Seen::Data(n) => self.pending = n,
                Seen::Nothing => {}
                Seen::End => return Ok(0),
            }
        }
    }
}

impl<T: embedded_io_async::Read + embedded_io_async::Write, K: MaskKeys, B: Buffer>
    embedded_io_async::Write for Stream<'_, T, K, B>
{
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.check_writable()?;
        if buf.is_empty() {
            return Ok(0);
        }
        // Cancel-safe: it waits only for earlier frames to leave, before `buf` is taken; the
        // new frame leaves with the next flush, read, or write that needs its room.
        let (transport, pump) = (&mut self.transport, &mut self.pump);
        asynch::queue(transport, pump, NOW, &mut |c, out| encode_write(c, out, buf)).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        asynch::flush(&mut self.transport, &mut self.pump, NOW).await
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::Status;
    use crate::ws::connection::{Config, MessageKind};
    use crate::ws::error::ProtocolError;
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
            match c.handle_input(Instant::ZERO, &mut buf[pos..]) {
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

    /// A server stream with permessage-deflate reads compressed messages decompressed (across
    /// frames, with a ping between and an uncompressed message among them), blocking and async,
    /// whatever the read and transport chunk sizes and window.
    #[cfg(all(feature = "deflate", feature = "std"))]
    #[test]
    fn reads_compressed_messages_decompressed() {
        use crate::ws::connection::Role;
        use crate::ws::deflate::{ClientConfig, Compressor, Inflater, ServerConfig};
        use crate::ws::frame::Rsv;
        use std::format;
        let text: Vec<u8> = b"MQTT over WebSocket, compressed; ".repeat(300);
        for bits in [9u8, 15] {
            let server = ServerConfig { receive_window_bits: bits, ..ServerConfig::new() };
            let offer = ClientConfig::new().offer();
            let agreement = server.accept([offer.as_str()]).unwrap();
            let wire = client_frames(|c, w| {
                c.config_mut().extension_rsv = Rsv::RSV1;
                let mut deflate = Compressor::new(&agreement, Role::Client);
                let mut out = std::vec![0u8; 16 * 1024];
                let mut z = Vec::new();
                deflate.compress(&text, &mut z).unwrap();
                let (a, b) = z.split_at(z.len() / 2);
                push(w, c.encode_compressed(&mut out, MessageKind::Binary, a, false), &out);
                push(w, c.encode_ping(&mut out, b"hi"), &out);
                push(w, c.encode_data(&mut out, MessageKind::Binary, b, true), &out);
                push(w, c.encode_binary(&mut out, b"plain"), &out);
                let mut z = Vec::new();
                deflate.compress(b"\xe0\x00", &mut z).unwrap();
                push(w, c.encode_compressed(&mut out, MessageKind::Binary, &z, true), &out);
                c.close(CloseCode::Normal, "").unwrap();
                let n = c.poll_transmit(Instant::ZERO, &mut out).unwrap().unwrap();
                w.extend_from_slice(&out[..n]);
            });
            let mut want = text.clone();
            want.extend_from_slice(b"plain\xe0\x00");
            for (chunk, read) in [(1, 7), (13, 1), (1000, 4096)] {
                for r#async in [false, true] {
                    let mut rx = std::vec![0u8; 512];
                    let mut tx = [0u8; MIN_TX_BUFFER];
                    let (window_bits, no_takeover) = agreement.receive(Role::Server);
                    let mut window = std::vec![0u8; 1 << window_bits];
                    let inflater = Inflater::new(&mut window[..], no_takeover).unwrap();
                    let pipe = Pipe::new(wire.clone(), chunk);
                    let conn = Connection::server(Config::new());
                    let mut s =
                        Stream::new(pipe, conn, &mut rx, &mut tx).unwrap().with_inflater(inflater);
                    let mut got = Vec::new();
                    let mut buf = std::vec![0u8; read];
                    loop {
                        let n = if r#async {
                            block_on(embedded_io_async::Read::read(&mut s, &mut buf)).unwrap()
                        } else {
                            embedded_io::Read::read(&mut s, &mut buf).unwrap()
                        };
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                    let case = format!("bits {bits} chunk {chunk} read {read} async {}", r#async);
                    assert!(got == want, "{case}: {} bytes", got.len());
                    assert_eq!(s.connection().state(), State::Closed, "{case}");
                    // The pong, unless the close frame came in the same read (RFC 6455
                    // §5.5.1: the close reply goes first), then the close reply.
                    let frames = decode_server_output(&s.into_inner().output);
                    let close = (8, 1000u16.to_be_bytes().to_vec());
                    let pong = (0xa, b"hi".to_vec());
                    assert!(frames == [pong, close.clone()] || frames == [close], "{case}");
                }
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
            let n = c.poll_transmit(Instant::ZERO, &mut out).unwrap().unwrap();
            w.extend_from_slice(&out[..n]);
        });
        for chunk in [1, 2, 5, 1000] {
            for rx_len in [MIN_RX_BUFFER, 160, 256] {
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
        let mut rx = [0u8; MIN_RX_BUFFER];
        let mut tx = [0u8; MIN_TX_BUFFER];
        let conn = Connection::server(Config::new());
        let mut s = Stream::new(Pipe::new(wire, 1000), conn, &mut rx, &mut tx).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(embedded_io::Read::read(&mut s, &mut buf), Ok(4));
        assert_eq!(&buf, b"abcd");
        // The transport ends without a close frame.
        assert_eq!(embedded_io::Read::read(&mut s, &mut buf), Err(DriverError::Eof));
    }

    #[test]
    fn text_is_refused_with_1003() {
        let wire = client_frames(|c, w| {
            let mut out = [0u8; 64];
            push(w, c.encode_text(&mut out, "{}"), &out);
        });
        let mut rx = [0u8; MIN_RX_BUFFER];
        let mut tx = [0u8; MIN_TX_BUFFER];
        let conn = Connection::server(Config::new());
        let mut s = Stream::new(Pipe::new(wire, 1000), conn, &mut rx, &mut tx).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(
            embedded_io::Read::read(&mut s, &mut buf),
            Err(DriverError::Machine(Error::Protocol(ProtocolError::TextNotAccepted)))
        );
        assert_eq!(s.into_inner().output, [0x88, 0x02, 0x03, 0xeb]);
    }

    #[test]
    fn writes_masked_binary_messages_and_closes() {
        let mut rx = [0u8; MIN_RX_BUFFER];
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
        assert_eq!(embedded_io::Write::write(&mut s, b"x"), Err(DriverError::Closed));
        let wire = s.into_inner().output;
        let server = Connection::server(Config::new());
        let mut buf = wire.clone();
        let mut c = server;
        let mut pos = 0;
        let mut msgs = Vec::new();
        while let Ok(Status::Progress { consumed, event }) =
            c.handle_input(Instant::ZERO, &mut buf[pos..])
        {
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
            let n = c.poll_transmit(Instant::ZERO, &mut out).unwrap().unwrap();
            w.extend_from_slice(&out[..n]);
        });
        // The first 8 bytes arrived with the handshake response, behind its head (3 bytes
        // here) in the same buffer: they stay where they are.
        let mut rx = [0u8; MIN_RX_BUFFER];
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
        assert_eq!(r, Err(DriverError::Closed));
        assert_eq!(
            decode_server_output(&s.into_inner().output),
            [(0xa, Vec::new()), (8, std::vec![0x03, 0xe9])]
        );
    }

    #[test]
    fn async_write_and_close() {
        let mut rx = [0u8; MIN_RX_BUFFER];
        let mut tx = [0u8; 256];
        let conn = Connection::server(Config::new());
        let reply = client_frames(|c, w| {
            let mut out = [0u8; 64];
            push(w, c.encode_binary(&mut out, b"dropped"), &out);
            c.close(CloseCode::Normal, "").unwrap();
            let n = c.poll_transmit(Instant::ZERO, &mut out).unwrap().unwrap();
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
        let mut rx = [0u8; MIN_RX_BUFFER - 1];
        let mut tx = [0u8; MIN_TX_BUFFER];
        let r = Stream::new(Pipe::default(), conn.clone(), &mut rx, &mut tx);
        assert_eq!(r.err(), Some(BufferTooSmall { required: MIN_RX_BUFFER }));
        let mut rx = [0u8; MIN_RX_BUFFER];
        let mut tx = [0u8; 10];
        let r = Stream::new(Pipe::default(), conn, &mut rx, &mut tx);
        assert_eq!(r.err(), Some(BufferTooSmall { required: MIN_TX_BUFFER }));
    }
}
