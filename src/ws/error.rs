//! WebSocket errors: remote faults (the peer broke RFC 6455) carry the close code the connection
//! sends back; local misuse (the caller broke the API contract) is a separate type.

use super::close::{CloseBodyError, CloseCode};
use super::frame::FrameError;
use super::utf8::Utf8Error;
use crate::BufferTooSmall;

/// Any WebSocket connection error: the peer's fault, or the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol; the close frame with its code is queued.
    Protocol(ProtocolError),
    /// The caller broke the API contract; nothing changed.
    Usage(UsageError),
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Protocol(e) => e.fmt(f),
            Error::Usage(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for Error {}

/// The peer broke the protocol. The connection has queued a close frame with
/// [`ProtocolError::close_code`] and accepts no more input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolError {
    /// A malformed frame header.
    Frame(FrameError),
    /// A client sent an unmasked frame (RFC 6455 §5.1).
    UnmaskedFrame,
    /// A server sent a masked frame (RFC 6455 §5.1).
    MaskedFrame,
    /// A continuation frame with no message in progress (RFC 6455 §5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was in progress (RFC 6455 §5.4).
    ExpectedContinuation,
    /// A text message is not UTF-8 (RFC 6455 §8.1).
    InvalidUtf8(Utf8Error),
    /// A malformed close frame body.
    InvalidClose(CloseBodyError),
    /// A frame larger than the configured limit.
    FrameTooBig,
    /// A message larger than the configured limit.
    MessageTooBig,
    /// A text message where only binary is accepted.
    TextNotAccepted,
    /// RSV1 on a control or continuation frame with permessage-deflate (RFC 7692 §6).
    UnexpectedRsv1,
    /// A compressed message that is not valid DEFLATE (RFC 7692 §6.2, RFC 1951): closed with
    /// 1007, as other payload data inconsistent with its message (RFC 6455 §7.4.1).
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code the connection sends for this fault.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8(_)
            | ProtocolError::InvalidCompressedData
            | ProtocolError::InvalidClose(CloseBodyError::InvalidReason) => {
                CloseCode::InvalidPayload
            }
            ProtocolError::FrameTooBig | ProtocolError::MessageTooBig => CloseCode::MessageTooBig,
            ProtocolError::TextNotAccepted => CloseCode::UnsupportedData,
            _ => CloseCode::ProtocolError,
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

/// The caller broke the API contract; nothing was sent and no state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UsageError {
    /// The output buffer is too small; nothing was written.
    BufferTooSmall {
        /// Bytes the operation needs.
        required: usize,
    },
    /// A close frame was already sent (or is queued): no more frames may be sent.
    Closed,
    /// A control payload above 125 bytes (RFC 6455 §5.5).
    ControlTooLong,
    /// A close code that may not be sent (RFC 6455 §7.4.1).
    InvalidCloseCode,
    /// A fragment of one message type while a message of the other type is being sent.
    MessageInProgress,
    /// A frame payload of 2^63 bytes or more (RFC 6455 §5.2).
    PayloadTooLong,
}

impl From<BufferTooSmall> for UsageError {
    fn from(e: BufferTooSmall) -> Self {
        UsageError::BufferTooSmall { required: e.required }
    }
}

impl core::error::Error for ProtocolError {}
impl core::error::Error for UsageError {}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "websocket protocol error {:?} (close {})", self, self.close_code().as_u16())
    }
}

impl core::fmt::Display for UsageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "websocket usage error {self:?}")
    }
}
