//! Close status codes (RFC 6455 §7.4) and close frame bodies (§5.5.1).
//!
//! Invariant: a [`CloseCode`] round-trips through `u16` unchanged; [`CloseCode::is_sendable`]
//! says whether it may appear in a close frame on the wire.

/// A close status code (RFC 6455 §7.4.1, IANA "WebSocket Close Code Number Registry").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    Normal,
    /// 1001: an endpoint is going away (server shutdown, page navigated away).
    GoingAway,
    /// 1002: the peer broke the protocol.
    ProtocolError,
    /// 1003: a data type the endpoint cannot accept (for example text on an MQTT connection).
    UnsupportedData,
    /// 1004: reserved, never on the wire.
    Reserved,
    /// 1005: no status code was present; never on the wire.
    NoStatusReceived,
    /// 1006: closed without a close frame; never on the wire.
    Abnormal,
    /// 1007: message data inconsistent with its type (invalid UTF-8 in text).
    InvalidPayload,
    /// 1008: a message violated the endpoint's policy.
    PolicyViolation,
    /// 1009: a message or frame too big to process.
    MessageTooBig,
    /// 1010: the client expected the server to negotiate an extension.
    MandatoryExtension,
    /// 1011: the server met an unexpected condition.
    InternalError,
    /// 1012: the service is restarting.
    ServiceRestart,
    /// 1013: try again later.
    TryAgainLater,
    /// 1014: bad gateway.
    BadGateway,
    /// 1015: TLS handshake failure; never on the wire.
    TlsHandshake,
    /// Any other code: 0-999 and 1016-2999 are invalid on the wire, 3000-3999 are registered
    /// with IANA, 4000-4999 are private use.
    Other(u16),
}

impl CloseCode {
    /// Whether the code may be sent in, and accepted from, a close frame: 1000-1003, 1007-1014
    /// and 3000-4999 (RFC 6455 §7.4.1, §7.4.2).
    pub const fn is_sendable(self) -> bool {
        match self {
            CloseCode::Reserved
            | CloseCode::NoStatusReceived
            | CloseCode::Abnormal
            | CloseCode::TlsHandshake => false,
            CloseCode::Other(c) => matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999),
            _ => true,
        }
    }

    /// The code as a number.
    pub const fn as_u16(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::UnsupportedData => 1003,
            CloseCode::Reserved => 1004,
            CloseCode::NoStatusReceived => 1005,
            CloseCode::Abnormal => 1006,
            CloseCode::InvalidPayload => 1007,
            CloseCode::PolicyViolation => 1008,
            CloseCode::MessageTooBig => 1009,
            CloseCode::MandatoryExtension => 1010,
            CloseCode::InternalError => 1011,
            CloseCode::ServiceRestart => 1012,
            CloseCode::TryAgainLater => 1013,
            CloseCode::BadGateway => 1014,
            CloseCode::TlsHandshake => 1015,
            CloseCode::Other(c) => c,
        }
    }

    /// The code for a number; numbers without a name become [`CloseCode::Other`].
    pub const fn from_u16(code: u16) -> Self {
        match code {
            1000 => CloseCode::Normal,
            1001 => CloseCode::GoingAway,
            1002 => CloseCode::ProtocolError,
            1003 => CloseCode::UnsupportedData,
            1004 => CloseCode::Reserved,
            1005 => CloseCode::NoStatusReceived,
            1006 => CloseCode::Abnormal,
            1007 => CloseCode::InvalidPayload,
            1008 => CloseCode::PolicyViolation,
            1009 => CloseCode::MessageTooBig,
            1010 => CloseCode::MandatoryExtension,
            1011 => CloseCode::InternalError,
            1012 => CloseCode::ServiceRestart,
            1013 => CloseCode::TryAgainLater,
            1014 => CloseCode::BadGateway,
            1015 => CloseCode::TlsHandshake,
            c => CloseCode::Other(c),
        }
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode::from_u16(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.as_u16()
    }
}

/// Largest close reason in bytes: a control payload holds at most 125 bytes, two of them the
/// code (RFC 6455 §5.5).
pub const MAX_CLOSE_REASON: usize = 123;

/// Why a received close body is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CloseBodyError {
    /// A one-byte body: a code needs two (RFC 6455 §5.5.1). Close with 1002.
    Truncated,
    /// A code that may not be on the wire (RFC 6455 §7.4.1). Close with 1002.
    InvalidCode(u16),
    /// The reason is not UTF-8 (RFC 6455 §5.5.1). Close with 1007.
    InvalidReason,
}

/// Parses an unmasked close frame body: empty (no code) or a code followed by a UTF-8 reason.
pub fn parse_close_body(body: &[u8]) -> Result<Option<(CloseCode, &str)>, CloseBodyError> {
    match body {
        [] => Ok(None),
        [_] => Err(CloseBodyError::Truncated),
        [hi, lo, reason @ ..] => {
            let code = CloseCode::from_u16(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(CloseBodyError::InvalidCode(code.as_u16())); // RFC 6455 §7.4.1
            }
            let reason = core::str::from_utf8(reason).map_err(|_| CloseBodyError::InvalidReason)?; // §5.5.1
            Ok(Some((code, reason)))
        }
    }
}

impl core::fmt::Display for CloseBodyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid WebSocket close frame body: {self:?}")
    }
}

impl core::error::Error for CloseBodyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_is_wrong() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            CloseBodyError::InvalidCode(1005).to_string(),
            "invalid WebSocket close frame body: InvalidCode(1005)"
        );
        assert_eq!(
            CloseBodyError::Truncated.to_string(),
            "invalid WebSocket close frame body: Truncated"
        );
    }

    #[test]
    fn round_trip_and_validity() {
        for n in 0..=u16::MAX {
            let c = CloseCode::from_u16(n);
            assert_eq!(c.as_u16(), n);
            let ok = matches!(n, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(c.is_sendable(), ok, "{n}");
            // A caller may build `Other` with a named number: judged by the number alone.
            assert_eq!(CloseCode::Other(n).is_sendable(), ok, "Other({n})");
        }
        assert_eq!(CloseCode::from(1000), CloseCode::Normal);
        assert_eq!(u16::from(CloseCode::MessageTooBig), 1009);
    }

    #[test]
    fn close_bodies() {
        assert_eq!(parse_close_body(&[]), Ok(None));
        assert_eq!(parse_close_body(&[0x03]), Err(CloseBodyError::Truncated));
        assert_eq!(parse_close_body(&[0x03, 0xe8]), Ok(Some((CloseCode::Normal, ""))));
        assert_eq!(parse_close_body(b"\x03\xe9bye"), Ok(Some((CloseCode::GoingAway, "bye"))));
        assert_eq!(parse_close_body(&[0x03, 0xed]), Err(CloseBodyError::InvalidCode(1005)));
        assert_eq!(parse_close_body(&[0x03, 0xe7]), Err(CloseBodyError::InvalidCode(999)));
        assert_eq!(parse_close_body(&[0x13, 0x88]), Err(CloseBodyError::InvalidCode(5000)));
        assert_eq!(parse_close_body(&[0x0f, 0xa0]), Ok(Some((CloseCode::Other(4000), ""))));
        assert_eq!(parse_close_body(b"\x03\xe8\xff"), Err(CloseBodyError::InvalidReason));
    }
}
