//! The WebSocket layer through a driver: messages, pings and the closing handshake on a
//! [`Connection`](ws::connection::Connection), and both roles of the opening handshake run to
//! their end, then handed to the connection (or to a [`Stream`] for MQTT over WebSocket).

use crate::BufferTooSmall;
use crate::time::Instant;
use crate::ws::close::CloseCode;
use crate::ws::connection::{self, MaskKeys, MessageKind};
use crate::ws::frame::MAX_HEADER_LEN;
use crate::ws::handshake::{self, Accept, Reject, Request};
use crate::ws::stream::Stream;
use crate::ws::{self, Error};

use super::{Buffer, DriverError, asynch, blocking};

/// Encodes as much of `rest` as fits `out` as the next frame of a `kind` message (the last one
/// when all of it fits and `last`); returns the bytes taken and the frame's length.
fn fragment<K: MaskKeys>(
    conn: &mut connection::Connection<K>,
    out: &mut [u8],
    kind: MessageKind,
    rest: &[u8],
    last: bool,
) -> Result<(usize, usize), Error> {
    let n = fragment_len(out, rest)?;
    let piece = rest.get(..n).unwrap_or_default();
    let len = conn.encode_data(out, kind, piece, last && n == rest.len())?;
    Ok((n, len))
}

/// How much of `rest` the next frame in `out` carries.
fn fragment_len(out: &[u8], rest: &[u8]) -> Result<usize, Error> {
    let n = rest.len().min(out.len().saturating_sub(MAX_HEADER_LEN));
    if n == 0 && !rest.is_empty() {
        return Err(ws::error::UsageError::BufferTooSmall { required: MAX_HEADER_LEN + 1 }.into());
    }
    Ok(n)
}

/// [`fragment`] for the first frame of a compressed message: RSV1 set (RFC 7692 §6).
#[cfg(all(feature = "deflate", feature = "std"))]
fn compressed_fragment<K: MaskKeys>(
    conn: &mut connection::Connection<K>,
    out: &mut [u8],
    kind: MessageKind,
    rest: &[u8],
) -> Result<(usize, usize), Error> {
    let n = fragment_len(out, rest)?;
    let piece = rest.get(..n).unwrap_or_default();
    let len = conn.encode_compressed(out, kind, piece, n == rest.len())?;
    Ok((n, len))
}

/// The subprotocol a server accepted, as the string the request offered (so it outlives the
/// response's bytes).
fn offered<'a>(offers: &[&'a str], accepted: &handshake::Accepted<'_>) -> Option<&'a str> {
    let chosen = accepted.protocol()?;
    offers.iter().copied().find(|o| *o == chosen)
}

type WsBlocking<'b, T, K, B> = blocking::Connection<'b, T, connection::Connection<K>, B>;
type WsAsync<'b, T, K, B> = asynch::Connection<'b, T, connection::Connection<K>, B>;
type WsResult<R, E> = Result<R, DriverError<E, Error>>;
type HsResult<R, E> = Result<R, DriverError<E, handshake::Error>>;

/// The WebSocket connection's commands, written once for both drivers (`async` and `.await`
/// for the async one).
macro_rules! connection_commands {
    ($($async:tt $await:tt)?) => {
        /// Sends a whole message, in as many frames as the transmit buffer needs.
        pub $($async)? fn send(
            &mut self,
            now: Instant,
            kind: MessageKind,
            data: &[u8],
        ) -> WsResult<(), T::Error> {
            self.send_part(now, kind, data, true)$(.$await)?
        }

        /// Sends the next part of a `kind` message, in as many frames as the transmit buffer
        /// needs; `last` ends the message. A message's parts keep its kind; a text message's
        /// parts add up to UTF-8 (a code point may straddle two).
        pub $($async)? fn send_part(
            &mut self,
            now: Instant,
            kind: MessageKind,
            data: &[u8],
            last: bool,
        ) -> WsResult<(), T::Error> {
            let mut rest = data;
            loop {
                let n = self.queue(now, |c, out| fragment(c, out, kind, rest, last))$(.$await)??;
                rest = rest.get(n..).unwrap_or_default();
                if rest.is_empty() {
                    return self.flush(now)$(.$await)?;
                }
            }
        }

        /// Sends a whole message compressed with permessage-deflate (RFC 7692 §7.2.1) by
        /// `compressor`, made for what the handshake agreed, in as many frames as the transmit
        /// buffer needs (RSV1 on the first). Should the encoder fail (it does not on valid
        /// parameters) the message goes uncompressed.
        #[cfg(all(feature = "deflate", feature = "std"))]
        pub $($async)? fn send_compressed(
            &mut self,
            now: Instant,
            kind: MessageKind,
            compressor: &mut crate::ws::deflate::Compressor,
            data: &[u8],
        ) -> WsResult<(), T::Error> {
            let mut compressed = std::vec::Vec::new();
            if compressor.compress(data, &mut compressed).is_err() {
                return self.send(now, kind, data)$(.$await)?;
            }
            let mut rest = &compressed[..];
            let n = self.queue(now, |c, out| compressed_fragment(c, out, kind, rest))$(.$await)??;
            rest = rest.get(n..).unwrap_or_default();
            if rest.is_empty() {
                return self.flush(now)$(.$await)?;
            }
            self.send_part(now, kind, rest, true)$(.$await)?
        }

        /// Sends a text message.
        pub $($async)? fn send_text(&mut self, now: Instant, text: &str) -> WsResult<(), T::Error> {
            self.send(now, MessageKind::Text, text.as_bytes())$(.$await)?
        }

        /// Sends a binary message.
        pub $($async)? fn send_binary(&mut self, now: Instant, data: &[u8]) -> WsResult<(), T::Error> {
            self.send(now, MessageKind::Binary, data)$(.$await)?
        }

        /// Sends a ping with `payload` (at most 125 bytes).
        pub $($async)? fn ping(&mut self, now: Instant, payload: &[u8]) -> WsResult<(), T::Error> {
            self.command(now, |c, out| Ok(((), c.encode_ping(out, payload)?)))$(.$await)?
        }

        /// Starts the closing handshake with `code` and `reason` and sends the close frame;
        /// keep polling until [`DriverError::Closed`] (the peer's close frame) or the
        /// transport's end.
        pub $($async)? fn close(
            &mut self,
            now: Instant,
            code: CloseCode,
            reason: &str,
        ) -> WsResult<(), T::Error> {
            self.command(now, |c, _| c.close(code, reason).map(|()| ((), 0)).map_err(Error::from))
            $(.$await)?
        }

        /// The connection as a byte stream over binary messages (MQTT over WebSocket), with the
        /// buffers and what they hold.
        pub fn into_stream(self) -> Result<Stream<'b, T, K, B>, BufferTooSmall> {
            let (transport, pump) = self.into_parts();
            Stream::from_pump(transport, pump)
        }
    };
}

impl<'b, T, K, B> WsBlocking<'b, T, K, B>
where
    T: embedded_io::Read + embedded_io::Write,
    K: MaskKeys,
    B: Buffer,
{
    connection_commands!();
}

impl<'b, T, K, B> WsAsync<'b, T, K, B>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    K: MaskKeys,
    B: Buffer,
{
    connection_commands!(async await);
}

/// The client handshake's steps, written once for both drivers (`$driver` is the driver's
/// module; `async` and `.await` for the async one).
macro_rules! client_handshake {
    ($driver:ident $(, $async:tt $await:tt)?) => {
        /// Runs the opening handshake: sends the request, reads and checks the `101` response.
        /// Returns the subprotocol the server chose (one of those offered). Then
        /// [`upgrade`](Self::upgrade) to the WebSocket connection. `now` reads the clock for
        /// the deadline of [`handshake::Client::with_deadline`], which is checked between
        /// reads: give the transport a read timeout, or race `handshake` against a timer at
        /// [`poll_timeout`](Self::poll_timeout) and call it again when the timer fires (a wait
        /// in the read is cancel-safe, and async transports seldom have a read timeout); it
        /// then fails with the timeout.
        pub $($async)? fn handshake(
            &mut self,
            mut now: impl FnMut() -> Instant,
        ) -> HsResult<Option<&'a str>, T::Error> {
            let offers = self.machine().request().protocols;
            loop {
                if let Some(accepted) = self.poll(now())$(.$await)?? {
                    return Ok(offered(offers, &accepted));
                }
            }
        }

        /// The WebSocket connection that follows an accepted handshake, on the same transport
        /// and buffers (the frames that came behind the response head included).
        pub fn upgrade<K: MaskKeys>(
            self,
            config: connection::Config,
            keys: K,
        ) -> $driver::Connection<'b, T, connection::Connection<K>, B> {
            self.switch(|_| connection::Connection::client(config, keys))
        }
    };
}

impl<'b, 'a, T, B> blocking::Connection<'b, T, handshake::Client<'a>, B>
where
    T: embedded_io::Read + embedded_io::Write,
    B: Buffer,
{
    client_handshake!(blocking);
}

impl<'b, 'a, T, B> asynch::Connection<'b, T, handshake::Client<'a>, B>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    B: Buffer,
{
    client_handshake!(asynch, async await);
}

/// The server handshake's steps, written once for both drivers (`$driver` is the driver's
/// module; `async` and `.await` for the async one).
macro_rules! server_handshake {
    ($driver:ident $(, $async:tt $await:tt)?) => {
        /// Runs the opening handshake: reads the request and sends the answer `decide` gives
        /// for it (an [`Accept`] from [`Request::accept`], or a [`Reject`]). `Ok(true)`:
        /// accepted, now [`upgrade`](Self::upgrade); `Ok(false)`: refused as `decide` said
        /// (close the transport). A request that fails a check is refused with the status it
        /// calls for, then reported as [`DriverError::Machine`]. `now` reads the clock for the
        /// deadline of [`handshake::Server::with_deadline`], which is checked between reads:
        /// give the transport a read timeout, or race `handshake` against a timer at
        /// [`poll_timeout`](Self::poll_timeout) and call it again when the timer fires (a wait
        /// in the read is cancel-safe, and async transports seldom have a read timeout); it
        /// then refuses with `408` and fails with the timeout.
        pub $($async)? fn handshake(
            &mut self,
            mut now: impl FnMut() -> Instant,
            decide: impl FnOnce(&Request<'_>) -> Result<Accept<'r>, Reject>,
        ) -> HsResult<bool, T::Error> {
            let answer = loop {
                if let Some(request) = self.poll(now())$(.$await)?? {
                    break decide(&request);
                }
            };
            let now = now();
            let accepted = answer.is_ok();
            self.command(now, |s, _| {
                match answer {
                    Ok(a) => s.accept(a),
                    Err(r) => s.reject(r),
                }
                .map(|()| ((), 0))
                .map_err(handshake::Error::from)
            })
            $(.$await)??;
            Ok(accepted)
        }

        /// The WebSocket connection that follows an accepted handshake, on the same transport
        /// and buffers (frames the client sent behind its request included).
        pub fn upgrade(
            self,
            config: connection::Config,
        ) -> $driver::Connection<'b, T, connection::Connection, B> {
            self.switch(|_| connection::Connection::server(config))
        }
    };
}

impl<'b, 'r, T, B> blocking::Connection<'b, T, handshake::Server<'r>, B>
where
    T: embedded_io::Read + embedded_io::Write,
    B: Buffer,
{
    server_handshake!(blocking);
}

impl<'b, 'r, T, B> asynch::Connection<'b, T, handshake::Server<'r>, B>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    B: Buffer,
{
    server_handshake!(asynch, async await);
}
