//! The WebSocket connection state machine (RFC 6455 §5, §7), one per endpoint, sans-IO.
//!
//! [`Connection`] turns received bytes into [`Event`]s and owes bytes back (pongs, close
//! frames), which [`Connection::poll_transmit`] writes. It never reads a clock, never draws
//! randomness (a client's masking keys come from the caller's [`MaskKeys`]) and never holds a
//! data payload: data is unmasked in place in the caller's buffer and handed out in pieces, so a
//! frame of any size (up to 2^63 - 1 bytes) passes through a buffer of [`MIN_INPUT`] bytes or
//! more (a control frame, at most 125 bytes of payload, is taken whole).
//!
//! # The run loop
//!
//! `Connection` is a [`Machine`]: the drivers in [`io`](crate::io) run it over any transport
//! (`send`, `ping` and `close` are methods of `io::blocking::Connection<T, Connection>`), and
//! [`ws::stream::Stream`](super::stream::Stream) makes it a byte stream. By hand:
//!
//! 1. Append received bytes to your buffer and call [`Connection::handle_input`] on the
//!    unconsumed bytes. It consumes at most one frame header and one piece of payload per call
//!    (a control frame whole) and reports how many bytes it used ([`Status::Progress`]). Drop
//!    those bytes (after using the event: it borrows them, and nothing else) and call again.
//!    [`Status::NeedMore`] means: read more bytes.
//! 2. After every input and command, call [`Connection::poll_transmit`] until it returns
//!    `Ok(None)` and send what it wrote.
//! 3. Send messages with [`Connection::encode_data`] (and `encode_text` / `encode_binary`).
//! 4. When [`Connection::state`] is [`State::Closed`] ([`Status::Closed`]), close the
//!    transport (a server closes TCP first, RFC 6455 §7.1.1; a client waits a little for the
//!    server to do so).
//!
//! # Example: a server echoing what a client sends, in memory
//!
//! ```
//! use mqtt_ws::Status;
//! use mqtt_ws::time::Instant;
//! use mqtt_ws::ws::connection::{Config, Connection, Event, MessageKind};
//!
//! let now = Instant::ZERO; // the connection has no timers
//! let mut client = Connection::client(Config::new(), || [0x37, 0xfa, 0x21, 0x3d]);
//! let mut server = Connection::server(Config::new());
//!
//! // The client sends a text message (masked).
//! let mut wire = [0u8; 64];
//! let n = client.encode_text(&mut wire, "Hello")?;
//!
//! // The server reads it: one call per frame header and piece of payload, and echoes each
//! // piece while it holds it (the event borrows the input only).
//! let mut input = &mut wire[..n];
//! let mut echo = [0u8; 64];
//! let mut echo_len = 0;
//! while let Status::Progress { consumed, event } = server.handle_input(now, input)? {
//!     if let Some(Event::Data { kind, data, last }) = event {
//!         assert_eq!((kind, data, last), (MessageKind::Text, &b"Hello"[..], true));
//!         echo_len = server.encode_data(&mut echo, kind, data, last)?;
//!     }
//!     input = &mut input[consumed..];
//! }
//! // Drain what the server owes (nothing here: no ping, no close).
//! assert_eq!(server.poll_transmit(now, &mut [0u8; 139])?, None);
//!
//! // The client reads the unmasked echo.
//! let Status::Progress { event, .. } = client.handle_input(now, &mut echo[..echo_len])? else {
//!     unreachable!()
//! };
//! assert!(matches!(event, Some(Event::Data { data: b"Hello", last: true, .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Invariants: a data piece is always the *tail* of the bytes a call consumed
//! (`input[consumed - data.len()..consumed]`); a text message's pieces are valid UTF-8 up to
//! their end (a code point may straddle two pieces); a [`ProtocolError`] has already queued the
//! close frame with its code, and after it the connection accepts no input.

use super::close::{CloseCode, MAX_CLOSE_REASON, parse_close_body};
#[cfg(feature = "deflate")]
use super::deflate::Inflater;
use super::error::{Error, ProtocolError, UsageError};
use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, Opcode, Rsv};
use super::mask::{Masker, apply_mask};
use super::utf8::{Utf8Error, Utf8Validator};
use crate::machine::{BufferTooSmall, Machine, Status};
use crate::time::Instant;

pub use super::frame::MAX_HEADER_LEN;

/// The least input [`Connection::handle_input`] must be able to see at once: the longest frame
/// header and a control frame's largest payload (125 bytes), since control frames are taken
/// whole.
pub const MIN_INPUT: usize = MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// Masks every frame it sends; rejects masked frames.
    Client,
    /// Sends unmasked frames; requires masked frames unless configured otherwise.
    Server,
}

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageKind {
    /// UTF-8 text (validated on receipt).
    Text,
    /// Binary data.
    Binary,
}

impl MessageKind {
    const fn opcode(self) -> Opcode {
        match self {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        }
    }
}

/// What a server does with unmasked frames from its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnmaskedFrames {
    /// Fail the connection with 1002 (RFC 6455 §5.1). The default.
    Reject,
    /// Accept them (for peers known to skip masking, for example on a trusted link).
    Accept,
}

/// Whether text messages are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TextMessages {
    /// Accept text messages (validated as UTF-8). The default.
    Accept,
    /// Fail the connection with 1003 when a text message starts (MQTT over WebSocket).
    Reject,
}

/// Connection limits and policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Largest frame payload accepted; larger frames fail with 1009 when their header arrives.
    pub max_frame_size: u64,
    /// Largest message accepted (sum of its frames); fails with 1009 when the header that
    /// crosses it arrives.
    pub max_message_size: u64,
    /// Server only: unmasked frames from the client.
    pub unmasked_frames: UnmaskedFrames,
    /// Text messages.
    pub text_messages: TextMessages,
    /// RSV bits claimed by negotiated extensions (none by default).
    pub extension_rsv: Rsv,
}

impl Config {
    /// 16 MiB frames and messages, masks required, text accepted, no extensions.
    pub const fn new() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            unmasked_frames: UnmaskedFrames::Reject,
            text_messages: TextMessages::Accept,
            extension_rsv: Rsv::NONE,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// Where masking keys for a client's frames come from (RFC 6455 §5.3: a fresh, unpredictable
/// key per frame, from a strong source of entropy). Any `FnMut() -> [u8; 4]` is one.
pub trait MaskKeys {
    /// The key for the next frame.
    fn next_key(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4]> MaskKeys for F {
    fn next_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// The [`MaskKeys`] of a server, which never masks; it is never asked for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoMasking;

impl MaskKeys for NoMasking {
    fn next_key(&mut self) -> [u8; 4] {
        [0; 4]
    }
}

/// The closing handshake as far as it went (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// Data flows both ways.
    Open,
    /// A close frame was sent or received (or is owed); the handshake is not complete.
    Closing,
    /// Close frames went both ways (or the connection failed and its close frame was sent):
    /// close the transport.
    Closed,
}

/// Something the peer sent. Borrows the input only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a> {
    /// A piece of a data message, unmasked. Pieces of a text message are valid UTF-8 so far, but
    /// a code point may straddle two pieces.
    Data {
        /// Text or binary.
        kind: MessageKind,
        /// The piece.
        data: &'a [u8],
        /// This piece ends the message.
        last: bool,
    },
    /// A ping (its payload); the pong is queued (poll [`Connection::poll_transmit`]).
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame; the reply, if owed, is queued.
    Close {
        /// The status code, if the frame had one.
        code: Option<CloseCode>,
        /// The reason (empty if none).
        reason: &'a str,
    },
}

#[derive(Debug, Clone, Copy)]
struct RxFrame {
    fin: bool,
    mask: Option<Masker>,
    remaining: u64,
}

/// A control payload buffered whole (at most 125 bytes).
#[derive(Debug, Clone, Copy)]
struct ControlBuf {
    bytes: [u8; MAX_CONTROL_PAYLOAD],
    len: usize,
}

impl ControlBuf {
    const EMPTY: ControlBuf = ControlBuf { bytes: [0; MAX_CONTROL_PAYLOAD], len: 0 };

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    fn push(&mut self, data: &[u8]) {
        let end = self.len.saturating_add(data.len()).min(MAX_CONTROL_PAYLOAD);
        if let Some(dst) = self.bytes.get_mut(self.len..end) {
            dst.copy_from_slice(data.get(..dst.len()).unwrap_or(&[]));
            self.len = end;
        }
    }
}

/// What the next input bytes are (none of them borrowed).
enum Next {
    /// Not enough for a header.
    Wait(Status<core::convert::Infallible>),
    /// A control frame: its payload is `input[start..end]`.
    Control { opcode: Opcode, start: usize, end: usize, mask: Option<Masker> },
    /// A new data frame, its payload from `offset`.
    Data {
        frame: RxFrame,
        offset: usize,
        #[cfg(feature = "deflate")]
        starts_message: bool,
    },
    /// More of the current data frame.
    Continue(RxFrame),
}

/// Without the `deflate` feature there is never an inflater.
#[cfg(not(feature = "deflate"))]
type Inflater<W> = core::marker::PhantomData<W>;

/// A WebSocket connection (RFC 6455) for one role. See the [module docs](self) for the run loop.
///
/// `K` supplies masking keys: a client needs a real source (`Connection::client(config, || key)`),
/// a server uses [`NoMasking`].
#[derive(Debug, Clone)]
pub struct Connection<K: MaskKeys = NoMasking> {
    role: Role,
    config: Config,
    keys: K,
    // Receive side.
    rx_frame: Option<RxFrame>,
    rx_message: Option<MessageKind>,
    rx_message_len: u64,
    rx_rsv: Rsv,
    /// The message in progress is compressed (permessage-deflate).
    #[cfg(feature = "deflate")]
    rx_compressed: bool,
    /// Its last frame is in: the inflater still owes the end of its output.
    #[cfg(feature = "deflate")]
    rx_tail: bool,
    /// Where the last data piece handed out is in the inflater's window (`None`: in the input).
    #[cfg(feature = "deflate")]
    rx_inflated: Option<core::ops::Range<usize>>,
    utf8: Utf8Validator,
    // Owed to the peer.
    pong: Option<ControlBuf>,
    close_owed: Option<ControlBuf>,
    // Send side.
    tx_message: Option<MessageKind>,
    // Closing handshake.
    close_sent: bool,
    close_received: bool,
    failed: bool,
}

impl Connection<NoMasking> {
    /// A server-side connection, open (the opening handshake is done).
    pub fn server(config: Config) -> Self {
        Connection::new(Role::Server, config, NoMasking)
    }
}

impl<K: MaskKeys> Connection<K> {
    /// A client-side connection, open, masking each frame with a key from `keys`.
    pub fn client(config: Config, keys: K) -> Self {
        Connection::new(Role::Client, config, keys)
    }

    /// A connection for `role`; `keys` is only used by a client.
    pub fn new(role: Role, config: Config, keys: K) -> Self {
        Connection {
            role,
            config,
            keys,
            rx_frame: None,
            rx_message: None,
            rx_message_len: 0,
            rx_rsv: Rsv::NONE,
            #[cfg(feature = "deflate")]
            rx_compressed: false,
            #[cfg(feature = "deflate")]
            rx_tail: false,
            #[cfg(feature = "deflate")]
            rx_inflated: None,
            utf8: Utf8Validator::new(),
            pong: None,
            close_owed: None,
            tx_message: None,
            close_sent: false,
            close_received: false,
            failed: false,
        }
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// How far the closing handshake went.
    pub fn state(&self) -> State {
        if self.close_sent && (self.close_received || self.failed) {
            State::Closed
        } else if self.close_sent || self.close_received || self.failed || self.close_owed.is_some()
        {
            State::Closing
        } else {
            State::Open
        }
    }

    /// The RSV bits of the frame the last event came from (only ever set when
    /// [`Config::extension_rsv`] allows them: an extension such as permessage-deflate reads
    /// them here).
    pub fn frame_rsv(&self) -> Rsv {
        self.rx_rsv
    }

    /// Where the data of the last [`Event::Data`] is in the inflater's window, when it came
    /// decompressed (`None`: it was a piece of the input).
    #[cfg(feature = "deflate")]
    pub(crate) fn inflated_piece(&self) -> Option<core::ops::Range<usize>> {
        self.rx_inflated.clone()
    }

    /// Whether a data message sent with [`encode_data`](Self::encode_data) is unfinished.
    pub fn is_sending_message(&self) -> bool {
        self.tx_message.is_some()
    }

    /// Consumes at most one frame header and one piece of payload from the start of `input`,
    /// unmasking the payload in place. A control frame is taken whole (header and at most 125
    /// bytes of payload), so its event borrows the input; a data frame comes in pieces of any
    /// size. See [`Status`] and the [module docs](self).
    ///
    /// `input` must be able to hold [`MAX_HEADER_LEN`] + 125 bytes ([`MIN_INPUT`]), or a long
    /// control frame never completes.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        self.step::<[u8; 0]>(now, input, None)
    }

    /// [`handle_input`](Self::handle_input) on a connection that agreed to permessage-deflate
    /// (RFC 7692): RSV1 on the first frame of a data message marks it compressed, and its
    /// events hand out decompressed pieces, which borrow `inflater`'s window (text checked as
    /// UTF-8 after decompression). RSV1 on a control or continuation frame fails with 1002,
    /// data that does not inflate with 1007, a message that inflates beyond
    /// [`Config::max_message_size`] with 1009 (checked as it inflates). Uncompressed messages
    /// come as from `handle_input`.
    ///
    /// The last piece of a compressed message may come from a call that consumed no input
    /// (`consumed == 0`, with an event): the decoder had output left. The invariant that a
    /// piece is the tail of the consumed bytes holds for uncompressed messages only.
    #[cfg(feature = "deflate")]
    pub fn handle_input_inflate<'a, W: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        inflater: &'a mut Inflater<W>,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        self.step(now, input, Some(inflater))
    }

    fn step<'a, W: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        inflater: Option<&'a mut Inflater<W>>,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        let _ = now;
        if self.close_received || self.failed {
            return Ok(Status::Closed);
        }
        #[cfg(feature = "deflate")]
        if let Some(inf) = inflater {
            if self.rx_tail {
                return self.finish_inflate(inf);
            }
            let (frame, offset) = match self.next_frame(input, true)? {
                Next::Wait(status) => return Ok(status.map(|never| match never {})),
                Next::Control { opcode, start, end, mask } => {
                    return self.control_payload(input, opcode, start, end, mask);
                }
                Next::Data { frame, offset, starts_message } => {
                    if starts_message && self.rx_compressed {
                        inf.start_message();
                    }
                    (frame, offset)
                }
                Next::Continue(frame) => (frame, 0),
            };
            self.rx_frame = Some(frame);
            return if self.rx_compressed {
                self.payload_inflate(frame, input, offset, inf)
            } else {
                self.payload(frame, input, offset)
            };
        }
        #[cfg(not(feature = "deflate"))]
        let _ = inflater;
        #[cfg(feature = "deflate")]
        if self.rx_tail {
            // A compressed message's end is owed, and needs no input: only
            // `handle_input_inflate` can give it (a driver probing with an empty input must
            // not read for it).
            return Ok(Status::Progress { consumed: 0, event: None });
        }
        let (frame, offset) = match self.next_frame(input, false)? {
            Next::Wait(status) => return Ok(status.map(|never| match never {})),
            Next::Control { opcode, start, end, mask } => {
                return self.control_payload(input, opcode, start, end, mask);
            }
            Next::Data { frame, offset, .. } => (frame, offset),
            Next::Continue(frame) => (frame, 0),
        };
        self.rx_frame = Some(frame);
        self.payload(frame, input, offset)
    }

    /// The frame the next bytes belong to: the current one, or a new one from the header at
    /// the start of `input` (checked). With `deflate`, RSV1 is permessage-deflate's.
    fn next_frame(&mut self, input: &[u8], deflate: bool) -> Result<Next, ProtocolError> {
        if let Some(frame) = self.rx_frame {
            return Ok(Next::Continue(frame));
        }
        let mut allowed = self.config.extension_rsv;
        if deflate {
            allowed.0 |= Rsv::RSV1.0;
        }
        let (header, len) = match FrameHeader::parse(input, allowed) {
            Ok(status) => match status.into_progress() {
                Ok(header) => header,
                Err(waiting) => return Ok(Next::Wait(waiting)),
            },
            Err(e) => return Err(self.fail(e.into())),
        };
        // Checked again when a control frame's payload was short: the checks change nothing
        // for a control frame.
        let frame = match self.start_frame(&header, deflate) {
            Ok(frame) => frame,
            Err(e) => return Err(self.fail(e)),
        };
        if header.opcode.is_control() {
            // At most 125 bytes (checked by the parser).
            let end = len + header.payload_len as usize;
            return Ok(Next::Control { opcode: header.opcode, start: len, end, mask: frame.mask });
        }
        trace!("ws rx header {:?}", header);
        Ok(Next::Data {
            frame,
            offset: len,
            #[cfg(feature = "deflate")]
            starts_message: header.opcode != Opcode::Continuation,
        })
    }

    /// A control frame's payload, `input[start..end]`, once it is all there.
    fn control_payload<'a>(
        &mut self,
        input: &'a mut [u8],
        opcode: Opcode,
        start: usize,
        end: usize,
        mask: Option<Masker>,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        let have = input.len();
        let Some(body) = input.get_mut(start..end) else {
            return Ok(Status::NeedMore { needed: end - have });
        };
        if let Some(mut m) = mask {
            m.apply(body);
        }
        trace!("ws rx control {:?}", opcode);
        self.control_frame(opcode, body, end)
    }

    /// Checks a new frame's header against the role, the message in progress and the limits.
    fn start_frame(&mut self, h: &FrameHeader, deflate: bool) -> Result<RxFrame, ProtocolError> {
        match (self.role, h.mask) {
            (Role::Server, None) if self.config.unmasked_frames == UnmaskedFrames::Reject => {
                return Err(ProtocolError::UnmaskedFrame); // RFC 6455 §5.1
            }
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame), // RFC 6455 §5.1
            _ => {}
        }
        if h.payload_len > self.config.max_frame_size {
            return Err(ProtocolError::FrameTooBig); // RFC 6455 §7.4.1 (1009)
        }
        self.rx_rsv = h.rsv;
        let rsv1 = deflate && h.rsv.0 & Rsv::RSV1.0 != 0;
        if rsv1 && h.opcode != Opcode::Text && h.opcode != Opcode::Binary {
            // RFC 7692 §6: RSV1 only on the first frame of a data message.
            return Err(ProtocolError::UnexpectedRsv1);
        }
        match h.opcode {
            Opcode::Continuation => {
                if self.rx_message.is_none() {
                    return Err(ProtocolError::UnexpectedContinuation); // RFC 6455 §5.4
                }
            }
            Opcode::Text | Opcode::Binary => {
                if self.rx_message.is_some() {
                    return Err(ProtocolError::ExpectedContinuation); // RFC 6455 §5.4
                }
                let kind =
                    if h.opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary };
                if kind == MessageKind::Text && self.config.text_messages == TextMessages::Reject {
                    return Err(ProtocolError::TextNotAccepted); // RFC 6455 §7.4.1 (1003)
                }
                self.rx_message = Some(kind);
                self.rx_message_len = 0;
                #[cfg(feature = "deflate")]
                {
                    self.rx_compressed = rsv1;
                }
                self.utf8.reset();
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {}
        }
        if !h.opcode.is_control() {
            self.rx_message_len = match self.rx_message_len.checked_add(h.payload_len) {
                Some(n) if n <= self.config.max_message_size => n,
                _ => return Err(ProtocolError::MessageTooBig), // RFC 6455 §7.4.1 (1009)
            };
        }
        Ok(RxFrame { fin: h.fin, mask: h.mask.map(Masker::new), remaining: h.payload_len })
    }

    /// Takes the next piece of the current frame's payload from `input[offset..]`.
    fn payload<'a>(
        &mut self,
        mut frame: RxFrame,
        input: &'a mut [u8],
        offset: usize,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        let available = input.len().saturating_sub(offset);
        let n = usize::try_from(frame.remaining).map_or(available, |r| r.min(available));
        let end = offset + n;
        let piece = input.get_mut(offset..end).unwrap_or(&mut []);
        // Bytes at the start of `piece` known to be ASCII: between code points, a text piece is
        // unmasked and checked for ASCII in one pass, and only the rest goes to the validator.
        let mut ascii = 0;
        if let Some(m) = frame.mask.as_mut() {
            if self.rx_message == Some(MessageKind::Text) && self.utf8.is_complete() {
                ascii = m.apply_ascii(piece);
            } else {
                m.apply(piece);
            }
        }
        frame.remaining -= n as u64;
        let frame_done = frame.remaining == 0;
        self.rx_frame = if frame_done { None } else { Some(frame) };

        let Some(kind) = self.rx_message else {
            // Unreachable: start_frame opened the message.
            return Err(self.fail(ProtocolError::UnexpectedContinuation));
        };
        if n == 0 && !frame_done {
            return Ok(if end == 0 {
                Status::NeedMore { needed: 1 }
            } else {
                Status::Progress { consumed: end, event: None }
            });
        }
        let last = frame_done && frame.fin;
        if kind == MessageKind::Text {
            // RFC 6455 §8.1: fail on the first invalid byte.
            let checked = match piece.get(ascii..) {
                Some(rest) if !rest.is_empty() => self
                    .utf8
                    .feed(rest)
                    .map_err(|e| Utf8Error { position: e.position.saturating_add(ascii) }),
                _ => Ok(()),
            }
            .and_then(|()| if last { self.utf8.finish(piece.len()) } else { Ok(()) });
            if let Err(e) = checked {
                return Err(self.fail(ProtocolError::InvalidUtf8(e)));
            }
        }
        if last {
            self.rx_message = None;
        }
        #[cfg(feature = "deflate")]
        {
            self.rx_inflated = None;
        }
        let data = input.get(offset..end).unwrap_or(&[]);
        Ok(Status::Progress { consumed: end, event: Some(Event::Data { kind, data, last }) })
    }

    /// Inflates the next piece of a compressed message's frame from `input[offset..]`: the
    /// decoder takes what it can (bytes it leaves stay in `input`, masked as they came) and
    /// the event hands out what it produced.
    #[cfg(feature = "deflate")]
    fn payload_inflate<'a, W: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        mut frame: RxFrame,
        input: &'a mut [u8],
        offset: usize,
        inf: &'a mut Inflater<W>,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        let available = input.len().saturating_sub(offset);
        let n = usize::try_from(frame.remaining).map_or(available, |r| r.min(available));
        let piece = input.get_mut(offset..offset + n).unwrap_or(&mut []);
        let masker = frame.mask;
        if let Some(mut m) = masker {
            m.apply(piece);
        }
        let step = match inf.inflate(piece, self.inflate_limit(inf)) {
            Ok(step) => step,
            Err(_) => return Err(self.fail(ProtocolError::InvalidCompressedData)),
        };
        if let Some(m) = masker {
            let mut rest = Masker::with_phase(m.key(), m.phase() + step.used);
            frame.mask = Some(rest);
            // Put the mask back on what the decoder left, for the next call.
            rest.apply(piece.get_mut(step.used..).unwrap_or(&mut []));
        }
        frame.remaining -= step.used as u64;
        let frame_done = frame.remaining == 0;
        self.rx_frame = if frame_done { None } else { Some(frame) };
        // The message's compressed bytes are all in: the tail (RFC 7692 §7.2.2) comes next.
        self.rx_tail = frame_done && frame.fin;
        let consumed = offset + step.used;
        if step.out.is_empty() {
            if self.rx_tail && step.drained {
                return self.finish_inflate_after(inf, consumed);
            }
            return Ok(if consumed == 0 {
                Status::NeedMore { needed: 1 }
            } else {
                Status::Progress { consumed, event: None }
            });
        }
        self.inflated(inf, step.out, false, consumed)
    }

    /// Feeds the tail after a compressed message's last byte and hands out what it yields;
    /// the message ends when the decoder has given everything.
    #[cfg(feature = "deflate")]
    fn finish_inflate<'a, W: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        inf: &'a mut Inflater<W>,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        self.finish_inflate_after(inf, 0)
    }

    #[cfg(feature = "deflate")]
    fn finish_inflate_after<'a, W: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        inf: &'a mut Inflater<W>,
        consumed: usize,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        let step = match inf.finish(self.inflate_limit(inf)) {
            Ok(step) => step,
            Err(_) => return Err(self.fail(ProtocolError::InvalidCompressedData)),
        };
        if step.drained {
            self.rx_tail = false;
        }
        self.inflated(inf, step.out, step.drained, consumed)
    }

    /// The most output the next step may give: one byte beyond the message limit, so that a
    /// message too big is seen without ever holding more than the window.
    #[cfg(feature = "deflate")]
    fn inflate_limit<W: AsMut<[u8]> + AsRef<[u8]>>(&self, inf: &Inflater<W>) -> usize {
        let left = self.config.max_message_size.saturating_sub(inf.total());
        usize::try_from(left.saturating_add(1)).unwrap_or(usize::MAX)
    }

    /// Checks and hands out a decompressed piece (`out` in the window).
    #[cfg(feature = "deflate")]
    fn inflated<'a, W: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        inf: &'a Inflater<W>,
        out: core::ops::Range<usize>,
        last: bool,
        consumed: usize,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        if inf.total() > self.config.max_message_size {
            return Err(self.fail(ProtocolError::MessageTooBig)); // RFC 6455 §7.4.1 (1009)
        }
        let Some(kind) = self.rx_message else {
            // Unreachable: start_frame opened the message.
            return Err(self.fail(ProtocolError::UnexpectedContinuation));
        };
        self.rx_inflated = Some(out.clone());
        let data = inf.piece(out);
        if kind == MessageKind::Text {
            // RFC 6455 §8.1 on the decompressed bytes (RFC 7692 §6.2).
            let checked = self
                .utf8
                .feed(data)
                .and_then(|()| if last { self.utf8.finish(data.len()) } else { Ok(()) });
            if let Err(e) = checked {
                return Err(self.fail(ProtocolError::InvalidUtf8(e)));
            }
        }
        if last {
            self.rx_message = None;
            self.rx_compressed = false;
        }
        Ok(Status::Progress { consumed, event: Some(Event::Data { kind, data, last }) })
    }

    /// Acts on a complete control frame, its payload unmasked in `body`.
    fn control_frame<'a>(
        &mut self,
        opcode: Opcode,
        body: &'a [u8],
        consumed: usize,
    ) -> Result<Status<Option<Event<'a>>>, ProtocolError> {
        let event = match opcode {
            Opcode::Ping => {
                // RFC 6455 §5.5.2: answer with a pong carrying the same data; only the latest
                // unanswered ping needs one (§5.5.3). No pong after our close frame.
                if !self.close_sent && self.close_owed.is_none() {
                    let mut pong = ControlBuf::EMPTY;
                    pong.push(body);
                    self.pong = Some(pong);
                }
                Event::Ping(body)
            }
            Opcode::Pong => Event::Pong(body),
            _ => {
                let parsed = match parse_close_body(body) {
                    Ok(p) => p.map(|(c, _)| c),
                    Err(e) => return Err(self.fail(ProtocolError::InvalidClose(e))),
                };
                self.close_received = true;
                if !self.close_sent && self.close_owed.is_none() {
                    // RFC 6455 §5.5.1: reply with a close frame, echoing the status code.
                    self.owe_close(parsed);
                    self.pong = None;
                }
                let reason = body.get(2..).and_then(|r| core::str::from_utf8(r).ok()).unwrap_or("");
                Event::Close { code: parsed, reason }
            }
        };
        Ok(Status::Progress { consumed, event: Some(event) })
    }

    /// Fails the connection: queues a close frame with the error's code (unless one was already
    /// sent or queued) and stops reading.
    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        debug!("ws protocol error {:?}", e);
        self.stop_with(e.close_code());
        e
    }

    /// Stops reading and queues a close frame with `code` unless one was sent or is queued.
    fn stop_with(&mut self, code: CloseCode) {
        self.failed = true;
        self.rx_frame = None;
        self.pong = None;
        if !self.close_sent && self.close_owed.is_none() {
            self.owe_close(Some(code));
        }
    }

    /// Queues a close frame with `code` (none: an empty body); returns the body for a reason.
    #[inline(always)]
    fn owe_close(&mut self, code: Option<CloseCode>) -> &mut ControlBuf {
        let body = self.close_owed.insert(ControlBuf::EMPTY);
        if let Some(code) = code {
            body.push(&code.as_u16().to_be_bytes());
        }
        body
    }

    /// Fails the connection on the caller's behalf (for example 1008 on a policy violation, or
    /// 1003 for data it cannot take): queues a close frame with `code` unless one was sent or is
    /// queued, and stops reading.
    pub fn fail_with(&mut self, code: CloseCode) -> Result<(), UsageError> {
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode);
        }
        self.stop_with(code);
        Ok(())
    }

    /// Writes the next frame owed to the peer (a pong, then a close frame) into `out` and returns
    /// its length, or `None` when nothing is owed. Call it after every input and command until it
    /// returns `None`. On `BufferTooSmall` nothing changed ([`MAX_HEADER_LEN`] + 125 bytes
    /// always suffice).
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        let _ = now;
        if let Some(pong) = self.pong {
            let n = self.emit_control(out, Opcode::Pong, pong.as_slice())?;
            self.pong = None;
            return Ok(Some(n));
        }
        if let Some(close) = self.close_owed {
            let n = self.emit_control(out, Opcode::Close, close.as_slice())?;
            self.close_owed = None;
            self.close_sent = true;
            return Ok(Some(n));
        }
        Ok(None)
    }

    fn emit_control(
        &mut self,
        out: &mut [u8],
        opcode: Opcode,
        payload: &[u8],
    ) -> Result<usize, BufferTooSmall> {
        let header = FrameHeader::new(opcode, payload.len() as u64);
        self.emit_frame(out, header, payload)
    }

    /// Masks (client) and encodes; draws a key only once the frame is known to fit.
    fn emit_frame(
        &mut self,
        out: &mut [u8],
        mut header: FrameHeader,
        payload: &[u8],
    ) -> Result<usize, BufferTooSmall> {
        header.payload_len = payload.len() as u64;
        if self.role == Role::Client {
            header.mask = Some([0; 4]);
        }
        let hlen = header.encoded_len();
        let required = hlen.saturating_add(payload.len());
        let Some((head, body)) = out.get_mut(..required).and_then(|o| o.split_at_mut_checked(hlen))
        else {
            return Err(BufferTooSmall { required });
        };
        if self.role == Role::Client {
            header.mask = Some(self.keys.next_key());
        }
        header.emit(head)?;
        body.copy_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(key, 0, body);
        }
        Ok(required)
    }

    /// Encodes one frame of a data message into `out` and returns its length. The first call of
    /// a message sets its `kind`; later calls continue it (same `kind`) until one with
    /// `last = true`. A whole message is one call with `last = true`. Text is not checked here:
    /// the pieces of a text message must add up to UTF-8 (use [`encode_text`](Self::encode_text)).
    pub fn encode_data(
        &mut self,
        out: &mut [u8],
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<usize, UsageError> {
        let opcode = self.data_opcode(kind)?;
        let header = FrameHeader { fin: last, ..FrameHeader::new(opcode, payload.len() as u64) };
        let n = self.emit_frame(out, header, payload)?;
        self.tx_message = if last { None } else { Some(kind) };
        Ok(n)
    }

    /// [`encode_data`](Self::encode_data) for a message compressed with permessage-deflate
    /// (RFC 7692 §7.2.1, for example by [`Compressor`](crate::ws::deflate::Compressor)): RSV1
    /// is set on the message's first frame (RFC 7692 §6). Only once the extension was agreed.
    #[cfg(feature = "deflate")]
    pub fn encode_compressed(
        &mut self,
        out: &mut [u8],
        kind: MessageKind,
        payload: &[u8],
        last: bool,
    ) -> Result<usize, UsageError> {
        let opcode = self.data_opcode(kind)?;
        let mut header =
            FrameHeader { fin: last, ..FrameHeader::new(opcode, payload.len() as u64) };
        if opcode != Opcode::Continuation {
            header.rsv = Rsv::RSV1;
        }
        let n = self.emit_frame(out, header, payload)?;
        self.tx_message = if last { None } else { Some(kind) };
        Ok(n)
    }

    /// Encodes only the header of a data frame of `len` payload bytes (for payloads too large to
    /// copy at once) and returns the header length and, for a client, the [`Masker`] the caller
    /// must apply to the payload bytes it sends next. Message rules as in
    /// [`encode_data`](Self::encode_data).
    pub fn encode_data_header(
        &mut self,
        out: &mut [u8],
        kind: MessageKind,
        len: u64,
        last: bool,
    ) -> Result<(usize, Option<Masker>), UsageError> {
        let opcode = self.data_opcode(kind)?;
        if len > i64::MAX as u64 {
            return Err(UsageError::PayloadTooLong); // RFC 6455 §5.2
        }
        let mut header = FrameHeader { fin: last, ..FrameHeader::new(opcode, len) };
        if self.role == Role::Client {
            header.mask = Some([0; 4]);
        }
        let required = header.encoded_len();
        if out.len() < required {
            return Err(UsageError::BufferTooSmall { required });
        }
        if self.role == Role::Client {
            header.mask = Some(self.keys.next_key());
        }
        let n = header.emit(out)?;
        self.tx_message = if last { None } else { Some(kind) };
        Ok((n, header.mask.map(Masker::new)))
    }

    fn data_opcode(&self, kind: MessageKind) -> Result<Opcode, UsageError> {
        if self.close_sent || self.close_owed.is_some() {
            return Err(UsageError::Closed);
        }
        match self.tx_message {
            None => Ok(kind.opcode()),
            Some(k) if k == kind => Ok(Opcode::Continuation),
            Some(_) => Err(UsageError::MessageInProgress),
        }
    }

    /// Encodes a whole text message.
    pub fn encode_text(&mut self, out: &mut [u8], text: &str) -> Result<usize, UsageError> {
        self.encode_data(out, MessageKind::Text, text.as_bytes(), true)
    }

    /// Encodes a whole binary message.
    pub fn encode_binary(&mut self, out: &mut [u8], data: &[u8]) -> Result<usize, UsageError> {
        self.encode_data(out, MessageKind::Binary, data, true)
    }

    /// Encodes a ping with `payload` (at most 125 bytes).
    pub fn encode_ping(&mut self, out: &mut [u8], payload: &[u8]) -> Result<usize, UsageError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlTooLong); // RFC 6455 §5.5
        }
        if self.close_sent || self.close_owed.is_some() {
            return Err(UsageError::Closed);
        }
        Ok(self.emit_control(out, Opcode::Ping, payload)?)
    }

    /// Starts the closing handshake: queues a close frame with `code` and `reason` (at most
    /// [`MAX_CLOSE_REASON`] bytes) for [`poll_transmit`](Self::poll_transmit). Keep reading
    /// until the peer's close frame arrives.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode); // RFC 6455 §7.4.1
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(UsageError::ControlTooLong); // RFC 6455 §5.5
        }
        if self.close_sent || self.close_owed.is_some() {
            return Err(UsageError::Closed);
        }
        self.owe_close(Some(code)).push(reason.as_bytes());
        Ok(())
    }
}

impl<K: MaskKeys> Machine for Connection<K> {
    type Event<'a> = Event<'a>;
    type Error = Error;

    fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Status<Option<Event<'a>>>, Error> {
        Connection::handle_input(self, now, input).map_err(Error::Protocol)
    }

    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        Connection::poll_transmit(self, now, out)
    }

    /// No timers: `None`.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Error> {
        Ok(())
    }

    /// The transport ended: the connection reads and owes nothing more (closed abnormally,
    /// 1006, unless the closing handshake was complete).
    fn connection_lost(&mut self) {
        self.failed = true;
        self.close_sent = true;
        self.rx_frame = None;
        self.pong = None;
        self.close_owed = None;
    }

    fn room_required(error: &Error) -> Option<usize> {
        match error {
            Error::Usage(UsageError::BufferTooSmall { required }) => Some(*required),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::ws::frame::FrameError;
    use crate::ws::utf8::Utf8Error;
    use std::string::String;
    use std::vec::Vec;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Rec {
        Msg(MessageKind, Vec<u8>),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(Option<CloseCode>, String),
    }

    struct Run {
        events: Vec<Rec>,
        sent: Vec<u8>,
        error: Option<ProtocolError>,
        left: Vec<u8>,
    }

    /// Feeds `bytes` in chunks of `chunk` bytes, reassembling data pieces into messages and
    /// draining `poll_transmit` after every step.
    fn drive<K: MaskKeys>(c: &mut Connection<K>, bytes: &[u8], chunk: usize) -> Run {
        let mut run = Run { events: Vec::new(), sent: Vec::new(), error: None, left: Vec::new() };
        let mut buf: Vec<u8> = Vec::new();
        let mut msg: Option<(MessageKind, Vec<u8>)> = None;
        for piece in bytes.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let used = match c.handle_input(Instant::ZERO, &mut buf) {
                    Ok(Status::NeedMore { .. } | Status::Closed | Status::Blocked) => break,
                    Ok(Status::Progress { consumed, event }) => {
                        match event {
                            Some(Event::Data { kind, data, last }) => {
                                let m = msg.get_or_insert_with(|| (kind, Vec::new()));
                                assert_eq!(m.0, kind);
                                m.1.extend_from_slice(data);
                                if last {
                                    let (k, d) = msg.take().unwrap();
                                    run.events.push(Rec::Msg(k, d));
                                }
                            }
                            Some(Event::Ping(p)) => run.events.push(Rec::Ping(p.to_vec())),
                            Some(Event::Pong(p)) => run.events.push(Rec::Pong(p.to_vec())),
                            Some(Event::Close { code, reason }) => {
                                run.events.push(Rec::Close(code, reason.into()))
                            }
                            None => {}
                        }
                        consumed
                    }
                    Err(e) => {
                        run.error = Some(e);
                        break;
                    }
                };
                buf.drain(..used);
                let mut out = [0u8; 256];
                while let Some(n) = c.poll_transmit(Instant::ZERO, &mut out).unwrap() {
                    run.sent.extend_from_slice(&out[..n]);
                }
            }
            let mut out = [0u8; 256];
            while let Some(n) = c.poll_transmit(Instant::ZERO, &mut out).unwrap() {
                run.sent.extend_from_slice(&out[..n]);
            }
            if run.error.is_some() {
                break;
            }
        }
        run.left = buf;
        run
    }

    /// The caller fails the connection (a policy violation, say): the close frame with its code
    /// goes out once, what the peer sends after it is not read, and a code that may not be sent
    /// is refused with nothing changed.
    #[test]
    fn the_caller_fails_the_connection_with_a_code() {
        let mut c = Connection::server(Config::new());
        assert_eq!(c.fail_with(CloseCode::NoStatusReceived), Err(UsageError::InvalidCloseCode));
        assert_eq!(c.fail_with(CloseCode::Abnormal), Err(UsageError::InvalidCloseCode));
        let mut out = [0u8; 32];
        assert_eq!(c.poll_transmit(Instant::ZERO, &mut out).unwrap(), None, "nothing queued");
        c.fail_with(CloseCode::PolicyViolation).unwrap();
        // A second failure does not queue a second close frame.
        c.fail_with(CloseCode::UnsupportedData).unwrap();
        let n = c.poll_transmit(Instant::ZERO, &mut out).unwrap().expect("the close frame");
        assert_eq!(&out[..n], &[0x88, 0x02, 0x03, 0xf0], "close 1008, unmasked");
        assert_eq!(c.poll_transmit(Instant::ZERO, &mut out).unwrap(), None);
        // Input after it is not read as messages.
        let run = drive(&mut c, &masked(0x81, b"late"), 64);
        assert!(run.events.is_empty() && run.sent.is_empty(), "{:?}", run.events);
        // Sending is over too.
        let mut frame = [0u8; 32];
        assert_eq!(c.encode_binary(&mut frame, b"x"), Err(UsageError::Closed));
    }

    fn keys() -> impl FnMut() -> [u8; 4] + Clone {
        let mut n = 0u8;
        move || {
            n = n.wrapping_add(1);
            [0x37, 0xfa, 0x21, n]
        }
    }

    /// A masked frame as a client sends it.
    fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0xa1, 0xb2, 0xc3, 0xd4];
        let mut out = std::vec![b0];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }

    /// Errors compared without the piece-relative UTF-8 offset.
    fn normal(e: Option<ProtocolError>) -> Option<ProtocolError> {
        e.map(|e| match e {
            ProtocolError::InvalidUtf8(_) => ProtocolError::InvalidUtf8(Utf8Error { position: 0 }),
            e => e,
        })
    }

    /// Every way of feeding: whole, byte at a time, in 3-byte chunks; all give the same result.
    fn all_ways<K: MaskKeys + Clone>(c: &Connection<K>, bytes: &[u8]) -> Run {
        let whole = drive(&mut c.clone(), bytes, bytes.len());
        for chunk in [1, 3, 7] {
            let r = drive(&mut c.clone(), bytes, chunk);
            assert_eq!(r.events, whole.events, "chunk {chunk}");
            assert_eq!(normal(r.error), normal(whole.error), "chunk {chunk}");
            if whole.error.is_none() {
                assert_eq!(r.sent, whole.sent, "chunk {chunk}");
            }
        }
        whole
    }

    // RFC 6455 §5.7 examples (server to client, unmasked).
    const HELLO: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const HEL_LO: &[u8] = &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    const PING_HELLO: &[u8] = &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const HELLO_MASKED: &[u8] = &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

    fn text(s: &str) -> Rec {
        Rec::Msg(MessageKind::Text, s.as_bytes().to_vec())
    }

    #[test]
    fn rfc_examples_as_client() {
        let c = Connection::client(Config::new(), keys());
        assert_eq!(all_ways(&c, HELLO).events, [text("Hello")]);
        assert_eq!(all_ways(&c, HEL_LO).events, [text("Hello")]);
        let r = all_ways(&c, PING_HELLO);
        assert_eq!(r.events, [Rec::Ping(b"Hello".to_vec())]);
        // The pong is masked with the next key and carries the ping's data.
        assert_eq!(r.sent, [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x01, 0x7f, 0x9f, 0x4d, 0x6d, 0x58]);
        let mut big = std::vec![0x82, 0x7e, 0x01, 0x00];
        big.extend((0..256).map(|i| i as u8));
        let r = all_ways(&c, &big);
        assert_eq!(r.events, [Rec::Msg(MessageKind::Binary, (0..256).map(|i| i as u8).collect())]);
        let mut big64 = std::vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
        big64.extend(core::iter::repeat_n(7u8, 65536));
        let r = drive(&mut c.clone(), &big64, 1000);
        assert_eq!(r.events, [Rec::Msg(MessageKind::Binary, std::vec![7u8; 65536])]);
    }

    #[test]
    fn rfc_masked_example_as_server() {
        let c = Connection::server(Config::new());
        assert_eq!(all_ways(&c, HELLO_MASKED).events, [text("Hello")]);
    }

    #[test]
    fn trailing_bytes_left_untouched() {
        for frame in [HELLO, PING_HELLO, HEL_LO] {
            let mut c = Connection::client(Config::new(), keys());
            let mut input = frame.to_vec();
            input.extend_from_slice(&[0xde, 0xad]);
            let mut pos = 0;
            while pos < frame.len() {
                match c.handle_input(Instant::ZERO, &mut input[pos..]).unwrap() {
                    Status::Progress { consumed, .. } => pos += consumed,
                    s => panic!("{s:?}"),
                }
            }
            assert_eq!(pos, frame.len());
            assert_eq!(&input[pos..], &[0xde, 0xad]);
        }
    }

    #[test]
    fn pieces_are_the_tail_of_consumed_bytes_and_small_buffers_stream() {
        let mut c = Connection::server(Config::new());
        let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let frame = masked(0x82, &payload);
        // A 20-byte window: the frame goes through in pieces.
        let mut got = Vec::new();
        let mut pos = 0;
        let mut events = 0;
        while pos < frame.len() {
            let end = (pos + 20).min(frame.len());
            let mut window = frame[pos..end].to_vec();
            match c.handle_input(Instant::ZERO, &mut window).unwrap() {
                Status::Progress { consumed, event } => {
                    if let Some(Event::Data { data, .. }) = event {
                        got.extend_from_slice(data);
                        events += 1;
                    }
                    pos += consumed;
                }
                s => panic!("{s:?}"),
            }
        }
        assert_eq!(got, payload);
        assert!(events >= 50);
        // The tail invariant.
        let mut c = Connection::server(Config::new());
        let mut f = masked(0x82, b"abcdef");
        let Status::Progress { consumed, event: Some(Event::Data { data, .. }) } =
            c.handle_input(Instant::ZERO, &mut f).unwrap()
        else {
            panic!()
        };
        assert_eq!((consumed, data), (12, &b"abcdef"[..]));
    }

    #[test]
    fn control_frames_between_fragments() {
        let c = Connection::server(Config::new());
        let mut bytes = masked(0x01, b"Hel");
        bytes.extend(masked(0x89, b"p"));
        bytes.extend(masked(0x8a, b"q"));
        bytes.extend(masked(0x00, b"l"));
        bytes.extend(masked(0x80, b"o"));
        let r = all_ways(&c, &bytes);
        assert_eq!(r.events, [Rec::Ping(b"p".to_vec()), Rec::Pong(b"q".to_vec()), text("Hello")]);
        assert_eq!(r.sent, [0x8a, 0x01, b'p']);
    }

    #[test]
    fn utf8_across_fragments() {
        let c = Connection::server(Config::new());
        let euro = "€".as_bytes();
        let mut bytes = masked(0x01, &euro[..1]);
        bytes.extend(masked(0x00, &euro[1..2]));
        bytes.extend(masked(0x80, &euro[2..]));
        assert_eq!(all_ways(&c, &bytes).events, [text("€")]);
        // Invalid: fails on the fragment holding the first bad byte, before the message ends.
        let mut bytes = masked(0x01, b"\xce\xba\xe1\xbd");
        bytes.extend(masked(0x00, b"\xb9\xed\xa0\x80"));
        bytes.extend(masked(0x80, b"ok"));
        let r = all_ways(&c, &bytes);
        assert_eq!(r.error, Some(ProtocolError::InvalidUtf8(Utf8Error { position: 2 })));
        assert_eq!(r.sent, [0x88, 0x02, 0x03, 0xef]);
        // Truncated at the message end.
        let r = all_ways(&c, &masked(0x81, b"\xe2\x82"));
        assert_eq!(r.error.map(|e| e.close_code()), Some(CloseCode::InvalidPayload));
    }

    /// Text unmasked with the ASCII check in the same pass: a bad byte after any run of ASCII, in
    /// one frame or two, is found at its own offset; valid text after ASCII passes.
    #[test]
    fn utf8_after_ascii_runs() {
        let c = Connection::server(Config::new());
        for at in 0..70 {
            let mut payload = std::vec![b'a'; 80];
            payload[at] = 0xe9; // a lead byte followed by ASCII
            let r = all_ways(&c, &masked(0x81, &payload));
            assert_eq!(
                r.error,
                Some(ProtocolError::InvalidUtf8(Utf8Error { position: at + 1 })),
                "at {at}"
            );
            payload[at + 1] = 0xa9;
            payload[at + 2] = 0x80;
            let valid = String::from_utf8(payload.clone()).unwrap();
            assert_eq!(all_ways(&c, &masked(0x81, &payload)).events, [text(&valid)]);
            // Split in two fragments right after the lead byte.
            let mut bytes = masked(0x01, &payload[..=at]);
            bytes.extend(masked(0x80, &payload[at + 1..]));
            let r = all_ways(&c, &bytes);
            assert_eq!((r.error, r.events), (None, std::vec![text(&valid)]), "at {at}");
        }
    }

    /// (bytes from a client, expected error); the server answers with a close of its code.
    #[test]
    fn protocol_errors_close_with_their_code() {
        let mut cont_first = masked(0x01, b"a");
        cont_first.extend(masked(0x81, b"b"));
        let cases: Vec<(Vec<u8>, ProtocolError, u16)> = std::vec![
            (std::vec![0x81, 0x00], ProtocolError::UnmaskedFrame, 1002),
            (masked(0x83, b""), ProtocolError::Frame(FrameError::ReservedOpcode(3)), 1002),
            (masked(0x8b, b""), ProtocolError::Frame(FrameError::ReservedOpcode(0xb)), 1002),
            (masked(0xc1, b"x"), ProtocolError::Frame(FrameError::ReservedBits(0x40)), 1002),
            (
                std::vec![0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4],
                ProtocolError::Frame(FrameError::NonMinimalLength),
                1002
            ),
            (
                std::vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
                ProtocolError::Frame(FrameError::LengthTooLarge),
                1002
            ),
            (masked(0x09, b""), ProtocolError::Frame(FrameError::ControlFragmented), 1002),
            (
                std::vec![0x89, 0xfe, 0x00, 0x7e],
                ProtocolError::Frame(FrameError::ControlTooLong),
                1002
            ),
            (masked(0x80, b"x"), ProtocolError::UnexpectedContinuation, 1002),
            (cont_first, ProtocolError::ExpectedContinuation, 1002),
            (
                masked(0x88, b"\x03"),
                ProtocolError::InvalidClose(crate::ws::close::CloseBodyError::Truncated),
                1002
            ),
            (
                masked(0x88, b"\x03\xed"),
                ProtocolError::InvalidClose(crate::ws::close::CloseBodyError::InvalidCode(1005)),
                1002
            ),
            (
                masked(0x88, b"\x03\xe8\xff"),
                ProtocolError::InvalidClose(crate::ws::close::CloseBodyError::InvalidReason),
                1007
            ),
            (masked(0x81, b"\xff"), ProtocolError::InvalidUtf8(Utf8Error { position: 0 }), 1007),
            (
                std::vec![0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9, 9, 9],
                ProtocolError::FrameTooBig,
                1009
            ),
        ];
        for (bytes, error, code) in cases {
            let c = Connection::server(Config::new());
            let r = all_ways(&c, &bytes);
            assert_eq!(r.error, Some(error), "{bytes:02x?}");
            assert_eq!(error.close_code().as_u16(), code);
            let mut expect = std::vec![0x88, 0x02];
            expect.extend_from_slice(&code.to_be_bytes());
            assert_eq!(r.sent, expect, "{bytes:02x?}");
            let mut c = Connection::server(Config::new());
            let _ = drive(&mut c, &bytes, bytes.len());
            assert_eq!(c.state(), State::Closed);
            assert_eq!(
                c.handle_input(Instant::ZERO, &mut [0x81, 0x80, 0, 0, 0, 0]),
                Ok(Status::Closed)
            );
        }
        // A masked frame from a server.
        let c = Connection::client(Config::new(), keys());
        let r = all_ways(&c, &masked(0x81, b"x"));
        assert_eq!(r.error, Some(ProtocolError::MaskedFrame));
    }

    #[test]
    fn limits_checked_on_header() {
        let config = Config { max_frame_size: 10, max_message_size: 15, ..Config::new() };
        let c = Connection::server(config);
        let r = all_ways(&c, &masked(0x82, &[0; 11]));
        assert_eq!(r.error, Some(ProtocolError::FrameTooBig));
        // Only the header is needed to fail.
        let mut c2 = c.clone();
        assert_eq!(
            c2.handle_input(Instant::ZERO, &mut masked(0x82, &[0; 11])[..6]),
            Err(ProtocolError::FrameTooBig)
        );
        let mut bytes = masked(0x02, &[0; 10]);
        bytes.extend(masked(0x80, &[0; 6]));
        let r = all_ways(&c, &bytes);
        assert_eq!(r.error, Some(ProtocolError::MessageTooBig));
        assert_eq!(r.sent, [0x88, 0x02, 0x03, 0xf1]);
        let text_off = Config { text_messages: TextMessages::Reject, ..Config::new() };
        let r = all_ways(&Connection::server(text_off), &masked(0x81, b"hi"));
        assert_eq!(r.error, Some(ProtocolError::TextNotAccepted));
        assert_eq!(r.sent, [0x88, 0x02, 0x03, 0xeb]);
    }

    #[test]
    fn rsv_bits_only_when_an_extension_claims_them() {
        let r = all_ways(&Connection::server(Config::new()), &masked(0xc1, b"x"));
        assert_eq!(r.error, Some(ProtocolError::Frame(FrameError::ReservedBits(0x40))));
        let mut c = Connection::server(Config { extension_rsv: Rsv::RSV1, ..Config::new() });
        let r = drive(&mut c, &masked(0xc2, b"z"), 100);
        assert_eq!(r.events, [Rec::Msg(MessageKind::Binary, b"z".to_vec())]);
        assert_eq!(c.frame_rsv(), Rsv::RSV1);
    }

    #[test]
    fn unmasked_opt_out() {
        let config = Config { unmasked_frames: UnmaskedFrames::Accept, ..Config::new() };
        let c = Connection::server(config);
        assert_eq!(all_ways(&c, HELLO).events, [text("Hello")]);
    }

    #[test]
    fn close_handshake_initiated_by_peer() {
        let c = Connection::server(Config::new());
        let mut bytes = masked(0x88, b"\x03\xe8bye");
        bytes.extend(masked(0x81, b"ignored"));
        let r = all_ways(&c, &bytes);
        assert_eq!(r.events, [Rec::Close(Some(CloseCode::Normal), "bye".into())]);
        assert_eq!(r.sent, [0x88, 0x02, 0x03, 0xe8]);
        assert_eq!(r.left, masked(0x81, b"ignored"));
        let mut c = c.clone();
        drive(&mut c, &masked(0x88, b""), 100);
        assert_eq!(c.state(), State::Closed);
        // An empty close is answered with an empty close.
        let r = all_ways(&Connection::server(Config::new()), &masked(0x88, b""));
        assert_eq!(r.events, [Rec::Close(None, String::new())]);
        assert_eq!(r.sent, [0x88, 0x00]);
    }

    #[test]
    fn close_handshake_initiated_locally() {
        let mut c = Connection::server(Config::new());
        assert_eq!(c.close(CloseCode::Reserved, ""), Err(UsageError::InvalidCloseCode));
        assert_eq!(c.close(CloseCode::Normal, &"x".repeat(124)), Err(UsageError::ControlTooLong));
        c.close(CloseCode::GoingAway, "bye").unwrap();
        assert_eq!(c.state(), State::Closing);
        assert_eq!(c.close(CloseCode::Normal, ""), Err(UsageError::Closed));
        let mut out = [0u8; 8];
        assert_eq!(
            c.poll_transmit(Instant::ZERO, &mut out[..6]),
            Err(BufferTooSmall { required: 7 })
        );
        assert_eq!(c.poll_transmit(Instant::ZERO, &mut out), Ok(Some(7)));
        assert_eq!(&out[..7], b"\x88\x05\x03\xe9bye");
        assert_eq!(c.poll_transmit(Instant::ZERO, &mut out), Ok(None));
        assert_eq!(c.encode_text(&mut out, "x"), Err(UsageError::Closed));
        // Data still arrives until the peer's close; pings get no pong after our close.
        let mut bytes = masked(0x81, b"late");
        bytes.extend(masked(0x89, b""));
        bytes.extend(masked(0x88, b"\x03\xe9"));
        let r = drive(&mut c, &bytes, 5);
        assert_eq!(
            r.events,
            [
                text("late"),
                Rec::Ping(Vec::new()),
                Rec::Close(Some(CloseCode::GoingAway), "".into())
            ]
        );
        assert!(r.sent.is_empty());
        assert_eq!(c.state(), State::Closed);
    }

    #[test]
    fn sending_messages_and_fragments() {
        let mut c = Connection::client(Config::new(), || [0x37, 0xfa, 0x21, 0x3d]);
        let mut out = [0u8; 32];
        let n = c.encode_text(&mut out, "Hello").unwrap();
        assert_eq!(&out[..n], HELLO_MASKED);
        let mut s = Connection::server(Config::new());
        let n = s.encode_data(&mut out, MessageKind::Text, b"Hel", false).unwrap();
        assert_eq!(&out[..n], &HEL_LO[..5]);
        assert!(s.is_sending_message());
        assert_eq!(
            s.encode_data(&mut out, MessageKind::Binary, b"x", true),
            Err(UsageError::MessageInProgress)
        );
        let n = s.encode_data(&mut out, MessageKind::Text, b"lo", true).unwrap();
        assert_eq!(&out[..n], &HEL_LO[5..]);
        assert_eq!(
            s.encode_binary(&mut out[..3], b"abc"),
            Err(UsageError::BufferTooSmall { required: 5 })
        );
        let n = s.encode_ping(&mut out, b"Hello").unwrap();
        assert_eq!(&out[..n], PING_HELLO);
        assert_eq!(s.encode_ping(&mut [0; 200], &[0; 126]), Err(UsageError::ControlTooLong));
        let (n, masker) = s.encode_data_header(&mut out, MessageKind::Binary, 70000, true).unwrap();
        assert_eq!((&out[..n], masker), (&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0x11, 0x70][..], None));
        let (n, masker) = c.encode_data_header(&mut out, MessageKind::Binary, 5, true).unwrap();
        assert_eq!(n, 6);
        assert_eq!(masker.map(|m| m.key()), Some([0x37, 0xfa, 0x21, 0x3d]));
    }

    #[test]
    fn header_only_encoding_and_ping_refusals() {
        let mut s: Connection<NoMasking> = Connection::server(Config::default());
        assert_eq!(s.config(), &Config::new());
        assert_eq!(NoMasking.next_key(), [0; 4]);
        // RFC 6455 §5.2: the 64-bit length has its most significant bit 0.
        let too_long = s.encode_data_header(&mut [0; 16], MessageKind::Binary, 1 << 63, true);
        assert_eq!(too_long, Err(UsageError::PayloadTooLong));
        let short = s.encode_data_header(&mut [0; 9], MessageKind::Binary, 70000, true);
        assert_eq!(short, Err(UsageError::BufferTooSmall { required: 10 }));
        assert!(!s.is_sending_message(), "a refused header starts no message");
        s.close(CloseCode::Normal, "").unwrap();
        assert_eq!(s.encode_ping(&mut [0; 8], b""), Err(UsageError::Closed));
        assert_eq!(s.handle_timeout(Instant::ZERO), Ok(()));
        let full = Error::Usage(UsageError::BufferTooSmall { required: 7 });
        assert_eq!(Connection::<NoMasking>::room_required(&full), Some(7));
        assert_eq!(Connection::<NoMasking>::room_required(&Error::Usage(UsageError::Closed)), None);
    }

    /// Arbitrary bytes never panic either role, in any chunking, and every error queues a close.
    #[test]
    fn random_input_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let small = Config { max_frame_size: 300, max_message_size: 600, ..Config::new() };
        for round in 0..3000 {
            let len = (next() % 80) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Bias towards plausible headers so that deeper states are reached.
            if let Some(b) = bytes.get_mut(0) {
                *b = [0x81, 0x82, 0x01, 0x00, 0x80, 0x88, 0x89, 0x8a][(next() % 8) as usize];
            }
            if let Some(b) = bytes.get_mut(1) {
                *b = (*b & 0x80) | (next() % 130) as u8;
            }
            let chunk = 1 + (next() % 9) as usize;
            let mut server = Connection::server(if round % 2 == 0 { small } else { Config::new() });
            let r = drive(&mut server, &bytes, chunk);
            if let Some(e) = r.error {
                assert!(e.close_code().is_sendable());
                assert_eq!(&r.sent[r.sent.len() - 4..r.sent.len() - 2], &[0x88, 0x02]);
            }
            let mut client = Connection::client(small, keys());
            let _ = drive(&mut client, &bytes, chunk);
        }
    }

    #[test]
    fn client_server_round_trip() {
        let mut client = Connection::client(Config::new(), keys());
        let server = Connection::server(Config::new());
        let mut wire = Vec::new();
        let mut out = [0u8; 64];
        for msg in ["one", "two", "three"] {
            let n = client.encode_text(&mut out, msg).unwrap();
            wire.extend_from_slice(&out[..n]);
        }
        let n = client.encode_ping(&mut out, b"p").unwrap();
        wire.extend_from_slice(&out[..n]);
        client.close(CloseCode::Normal, "done").unwrap();
        let n = client.poll_transmit(Instant::ZERO, &mut out).unwrap().unwrap();
        wire.extend_from_slice(&out[..n]);
        let r = all_ways(&server, &wire);
        assert_eq!(
            r.events,
            [
                text("one"),
                text("two"),
                text("three"),
                Rec::Ping(b"p".to_vec()),
                Rec::Close(Some(CloseCode::Normal), "done".into())
            ]
        );
        let back = drive(&mut client, &r.sent, 2);
        assert_eq!(
            back.events,
            [Rec::Pong(b"p".to_vec()), Rec::Close(Some(CloseCode::Normal), String::new())]
        );
        assert_eq!(client.state(), State::Closed);
    }
}
