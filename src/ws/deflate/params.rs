//! Negotiating permessage-deflate (RFC 7692 §5, §7.1): the four parameters, parsed from one
//! element of `Sec-WebSocket-Extensions` (an offer or a response), validated, and the
//! agreement each role draws from them.
//!
//! The element is the string the handshake types hand out ([`Request::extensions`] on a server,
//! [`Accepted::extensions`] on a client, the `extensions()` of the extended-CONNECT types over
//! HTTP/2 and HTTP/3), already checked against the grammar of RFC 6455 §9.1.
//!
//! [`Request::extensions`]: crate::ws::handshake::Request::extensions
//! [`Accepted::extensions`]: crate::ws::handshake::Accepted::extensions

use core::fmt::Write;

use crate::ws::connection::Role;

/// The extension's name (RFC 7692 §7).
pub const NAME: &str = "permessage-deflate";

/// The smallest and largest LZ77 window sizes a peer may name, as a base-2 logarithm
/// (RFC 7692 §7.1.2).
pub const WINDOW_BITS: core::ops::RangeInclusive<u8> = 8..=15;

/// The longest offer or response this module writes.
pub const MAX_ELEMENT_LEN: usize = 128;

/// An offer or response value, as written by [`ClientConfig::offer`] and
/// [`Agreement::response`].
pub type Element = heapless::String<MAX_ELEMENT_LEN>;

/// Why an offer or a response is not valid (RFC 7692 §7). A server declines such an offer; a
/// client fails the handshake on such a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter appears twice (RFC 7692 §7: declined / failed).
    DuplicateParameter,
    /// A parameter RFC 7692 does not define.
    UnknownParameter,
    /// A parameter's value is missing, present where none is allowed, or not a decimal from 8
    /// to 15 without leading zeros (RFC 7692 §7.1.1, §7.1.2).
    InvalidValue,
    /// The server's response holds permessage-deflate twice.
    RepeatedResponse,
    /// The server's window (`server_max_window_bits`, or 15 when absent) is larger than the
    /// client offered or than its receive window holds (RFC 7692 §7.1.2.1).
    ServerWindowTooLarge,
    /// The response lacks `server_no_context_takeover` the client asked for (RFC 7692 §7.1.1.1).
    ContextTakeoverNotAgreed,
}

impl core::fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "permessage-deflate negotiation: {self:?}")
    }
}

impl core::error::Error for NegotiationError {}

/// A window-size parameter as it appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WindowParam {
    /// Not present.
    Absent,
    /// Present without a value (allowed for `client_max_window_bits` in an offer only).
    NoValue,
    /// Present with a value from 8 to 15.
    Bits(u8),
}

impl WindowParam {
    fn bits_or(self, default: u8) -> u8 {
        match self {
            WindowParam::Bits(b) => b,
            _ => default,
        }
    }
}

/// The parameters of one permessage-deflate offer or response (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Params {
    /// `server_no_context_takeover` (§7.1.1.1).
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` (§7.1.1.2).
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits` (§7.1.2.1); never [`WindowParam::NoValue`].
    pub server_max_window_bits: WindowParam,
    /// `client_max_window_bits` (§7.1.2.2).
    pub client_max_window_bits: WindowParam,
}

impl Params {
    /// Parses one element: `None` if it is another extension, else its parameters or why they
    /// are not valid (duplicate, unknown or bad value). Names compare case-insensitively; a
    /// value may be a token or a quoted string (RFC 7692 §7.1: the same value after unquoting).
    pub fn parse(element: &str) -> Option<Result<Params, NegotiationError>> {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or("").trim_matches([' ', '\t']);
        if !name.eq_ignore_ascii_case(NAME) {
            return None;
        }
        Some(parts.try_fold(Params::NONE, |mut p, param| {
            let (key, value) = match param.split_once('=') {
                Some((k, v)) => (k.trim_matches([' ', '\t']), Some(v.trim_matches([' ', '\t']))),
                None => (param.trim_matches([' ', '\t']), None),
            };
            let value = value.map(unquote).transpose()?;
            if key.eq_ignore_ascii_case("server_no_context_takeover") {
                flag(&mut p.server_no_context_takeover, value)?;
            } else if key.eq_ignore_ascii_case("client_no_context_takeover") {
                flag(&mut p.client_no_context_takeover, value)?;
            } else if key.eq_ignore_ascii_case("server_max_window_bits") {
                // §7.1.2.1: always with a value.
                window(&mut p.server_max_window_bits, Some(value.ok_or(BAD)?))?;
            } else if key.eq_ignore_ascii_case("client_max_window_bits") {
                window(&mut p.client_max_window_bits, value)?;
            } else {
                return Err(NegotiationError::UnknownParameter);
            }
            Ok(p)
        }))
    }

    const NONE: Params = Params {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: WindowParam::Absent,
        client_max_window_bits: WindowParam::Absent,
    };
}

const BAD: NegotiationError = NegotiationError::InvalidValue;

/// A quoted-string value without its quotes; a value that needs a quoted-pair is no valid
/// value of any parameter here.
fn unquote(v: &str) -> Result<&str, NegotiationError> {
    match v.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').filter(|s| !s.contains(['"', '\\'])).ok_or(BAD),
        None => Ok(v),
    }
}

fn flag(seen: &mut bool, value: Option<&str>) -> Result<(), NegotiationError> {
    if *seen {
        return Err(NegotiationError::DuplicateParameter);
    }
    if value.is_some() {
        return Err(BAD); // §7.1.1: no value
    }
    *seen = true;
    Ok(())
}

fn window(seen: &mut WindowParam, value: Option<&str>) -> Result<(), NegotiationError> {
    if *seen != WindowParam::Absent {
        return Err(NegotiationError::DuplicateParameter);
    }
    *seen = match value {
        None => WindowParam::NoValue,
        // §7.1.2: 1*DIGIT, no leading zero, 8 to 15.
        Some(v) => match v.as_bytes() {
            [d @ b'8'..=b'9'] => WindowParam::Bits(d - b'0'),
            [b'1', d @ b'0'..=b'5'] => WindowParam::Bits(10 + d - b'0'),
            _ => return Err(BAD),
        },
    };
    Ok(())
}

/// What both ends agreed on: which windows each side compresses with and whether it keeps its
/// context between messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Agreement {
    /// The server starts each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with (8 to 15).
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with (8 to 15).
    pub client_max_window_bits: u8,
    /// Whether the response names `server_max_window_bits`.
    server_bits_in_response: bool,
    /// Whether the response names `client_max_window_bits`.
    client_bits_in_response: bool,
}

impl Agreement {
    /// The window (bits) and context takeover of the messages `role` receives: what its
    /// [`Inflater`](super::Inflater) needs.
    pub const fn receive(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Server => (self.client_max_window_bits, self.client_no_context_takeover),
            Role::Client => (self.server_max_window_bits, self.server_no_context_takeover),
        }
    }

    /// The window (bits) and context takeover of the messages `role` sends.
    pub const fn send(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Server => (self.server_max_window_bits, self.server_no_context_takeover),
            Role::Client => (self.client_max_window_bits, self.client_no_context_takeover),
        }
    }

    /// The server's response value, for `Request::accept_with` or the extended-CONNECT
    /// response.
    pub fn response(&self) -> Element {
        let mut s = Element::new();
        // At most 126 bytes: never fails.
        let _ = s.push_str(NAME);
        if self.server_no_context_takeover {
            let _ = s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            let _ = s.push_str("; client_no_context_takeover");
        }
        if self.server_bits_in_response {
            let _ = write!(s, "; server_max_window_bits={}", self.server_max_window_bits);
        }
        if self.client_bits_in_response {
            let _ = write!(s, "; client_max_window_bits={}", self.client_max_window_bits);
        }
        s
    }
}

/// A server's policy for accepting permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerConfig {
    /// The window the server can receive with (its inflater's window, 8 to 15): an offer
    /// that does not let the server limit the client's window below it is declined.
    pub receive_window_bits: u8,
    /// Ask the client to start each message with an empty window.
    pub client_no_context_takeover: bool,
    /// Start each sent message with an empty window.
    pub server_no_context_takeover: bool,
}

impl ServerConfig {
    /// Full windows (15 bits), context takeover both ways.
    pub const fn new() -> Self {
        ServerConfig {
            receive_window_bits: 15,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
        }
    }

    /// Accepts the first acceptable permessage-deflate offer among the request's extension
    /// elements (RFC 7692 §5.1); invalid offers are skipped (§7: declined). `None`: answer
    /// without the extension.
    pub fn accept<'o>(&self, offers: impl IntoIterator<Item = &'o str>) -> Option<Agreement> {
        offers
            .into_iter()
            .filter_map(Params::parse)
            .filter_map(Result::ok)
            .find_map(|offer| self.accept_offer(&offer))
    }

    /// The agreement for one valid offer, or `None` if this server cannot take it.
    pub fn accept_offer(&self, offer: &Params) -> Option<Agreement> {
        let limit = self.receive_window_bits.clamp(8, 15);
        let client_bits = match offer.client_max_window_bits {
            // §7.1.2.2: without the parameter the server may not limit the client's window.
            WindowParam::Absent if limit < 15 => return None,
            WindowParam::Absent => 15,
            WindowParam::NoValue => limit,
            WindowParam::Bits(b) => b.min(limit),
        };
        // §7.1.2.1: the server's window is at most what the client offered.
        let server_bits = offer.server_max_window_bits.bits_or(15);
        Some(Agreement {
            // §7.1.1.1: an offer with it is accepted only with it.
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            server_bits_in_response: offer.server_max_window_bits != WindowParam::Absent,
            client_bits_in_response: client_bits < offer.client_max_window_bits.bits_or(15),
        })
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A client's permessage-deflate offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientConfig {
    /// The window the client can receive with (its inflater's window, 8 to 15); below 15 the
    /// offer asks for `server_max_window_bits`.
    pub receive_window_bits: u8,
    /// Ask the server to start each message with an empty window.
    pub server_no_context_takeover: bool,
    /// Start each sent message with an empty window.
    pub client_no_context_takeover: bool,
}

impl ClientConfig {
    /// Full windows (15 bits), context takeover both ways.
    pub const fn new() -> Self {
        ClientConfig {
            receive_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
        }
    }

    fn window_bits(&self) -> u8 {
        self.receive_window_bits.clamp(8, 15)
    }

    /// The offer, for `ClientRequest::extensions` or the extended-CONNECT request. It always
    /// names `client_max_window_bits` (the server may limit the client's window: this end's
    /// compressor, if any, honours it).
    pub fn offer(&self) -> Element {
        let mut s = Element::new();
        let _ = s.push_str(NAME);
        if self.server_no_context_takeover {
            let _ = s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            let _ = s.push_str("; client_no_context_takeover");
        }
        if self.window_bits() < 15 {
            let _ = write!(s, "; server_max_window_bits={}", self.window_bits());
        }
        let _ = s.push_str("; client_max_window_bits");
        s
    }

    /// Reads the server's accepted extensions (`Accepted::extensions`): `Ok(None)` if it did
    /// not accept permessage-deflate, else what was agreed. An error fails the handshake
    /// (RFC 7692 §7).
    pub fn agreed<'r>(
        &self,
        extensions: impl IntoIterator<Item = &'r str>,
    ) -> Result<Option<Agreement>, NegotiationError> {
        let mut agreed = None;
        for element in extensions {
            let Some(params) = Params::parse(element) else { continue };
            if agreed.is_some() {
                return Err(NegotiationError::RepeatedResponse);
            }
            agreed = Some(self.check_response(&params?)?);
        }
        Ok(agreed)
    }

    fn check_response(&self, r: &Params) -> Result<Agreement, NegotiationError> {
        let server_bits = match r.server_max_window_bits {
            WindowParam::Bits(b) => b,
            WindowParam::NoValue => return Err(BAD),
            WindowParam::Absent => 15,
        };
        if server_bits > self.window_bits() {
            return Err(NegotiationError::ServerWindowTooLarge); // §7.1.2.1
        }
        let client_bits = match r.client_max_window_bits {
            WindowParam::Bits(b) => b,
            // §7.1.2.2: a response's client_max_window_bits has a value.
            WindowParam::NoValue => return Err(BAD),
            WindowParam::Absent => 15,
        };
        if self.server_no_context_takeover && !r.server_no_context_takeover {
            return Err(NegotiationError::ContextTakeoverNotAgreed); // §7.1.1.1
        }
        Ok(Agreement {
            server_no_context_takeover: r.server_no_context_takeover,
            client_no_context_takeover: r.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            server_bits_in_response: r.server_max_window_bits != WindowParam::Absent,
            client_bits_in_response: r.client_max_window_bits != WindowParam::Absent,
        })
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::new()
    }
}
