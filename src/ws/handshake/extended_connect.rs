//! WebSocket over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): the extended-CONNECT mapping.
//!
//! The HTTP/2 or HTTP/3 stack owns the connection, the streams and the header compression;
//! this module only maps the WebSocket handshake to and from the header lists that stack gives
//! and takes, as `(name, value)` pairs with pseudo-headers (`:method`, `:status` ...) included.
//! Both versions use the same mapping (RFC 9220 §3), so one set of types serves both. After the
//! exchange the stream's DATA carries WebSocket frames exactly as a TCP connection would (RFC
//! 8441 §5): no key, no accept value, no `Upgrade` or `Connection` fields.
//!
//! - Client: [`ClientConnect::headers`] gives the request's header list;
//!   [`ClientConnect::validate_response`] checks the server's (any 2xx accepts).
//! - Server: [`ServerConnect::parse`] validates a received list; [`ServerConnect::accept`]
//!   gives the `:status 200` list, [`Reject::connect_headers`] a refusal.
//!
//! The server's stack must have sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3), and
//! the client must have received it, before a request is sent.
//!
//! Once the stream is open, a [`Connection`](crate::ws::connection::Connection) or a
//! [`Stream`](crate::ws::stream::Stream) (MQTT over WebSocket) runs on its DATA, with
//! permessage-deflate when [`ClientConnect::extensions()`] offered it and the answer agreed. The
//! repository's `tests/ws_h2.rs` (the `h2` crate) and `tests/ws_h3.rs` (quinn and the `http3`
//! crate, whose `:protocol` takes `websocket`; h3 0.0.8 refuses it) show the glue.
//!
//! Received lists are slices of pairs of anything that is bytes (`(&str, &str)`,
//! `(&[u8], &[u8])`, `(http::HeaderName, http::HeaderValue)` ...). Invariant: a
//! [`ServerConnect`] or [`ConnectAccepted`] exists only for a list that passed every check, so
//! their accessors never fail.
//!
//! # Example
//!
//! ```
//! use mqtt_ws::ws::handshake::extended_connect::{ClientConnect, ServerConnect};
//!
//! // Client: the header list of the extended CONNECT request.
//! let offer = ClientConnect::new("https", "broker.example.com", "/mqtt").protocols(&["mqtt"]);
//! let request: Vec<(&str, &str)> = offer.headers()?.collect();
//! assert_eq!(request[0], (":method", "CONNECT"));
//!
//! // Server: validate what the HTTP/2 stack received, choose the subprotocol, answer 200.
//! let received = ServerConnect::parse(&request)?;
//! let protocol = received.select_protocol(&["mqtt"]);
//! let response: Vec<(&str, &str)> = received.accept(protocol)?.collect();
//! assert_eq!(response, [(":status", "200"), ("sec-websocket-protocol", "mqtt")]);
//!
//! // Client: any 2xx accepts; the stream now carries WebSocket frames.
//! let accepted = offer.validate_response(&response)?;
//! assert_eq!(accepted.protocol(), Some("mqtt"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::str;

use super::client::{is_extension_offer, is_visible};
use super::grammar::{extension_name, is_ascii_field_value, is_tchar, is_token};
use super::head::{List, eq_ci};
use super::origin::OriginPolicy;
use super::{EncodeError, Field, Reject, ResponseError};

/// A header list entry this module produces.
pub type Pair<'a> = (&'a str, &'a str);

/// The header list of a request or response, in order (pseudo-headers first). Yields
/// `(name, value)` with lowercase names, ready for the HTTP/2 or HTTP/3 stack.
#[derive(Debug, Clone)]
pub struct HeaderList<'a> {
    fixed: [Option<Pair<'a>>; 7],
    next_fixed: usize,
    lists: [(&'a str, &'a [&'a str]); 2],
    next_list: usize,
    next_item: usize,
}

impl<'a> HeaderList<'a> {
    fn new(fixed: [Option<Pair<'a>>; 7], lists: [(&'a str, &'a [&'a str]); 2]) -> Self {
        HeaderList { fixed, next_fixed: 0, lists, next_list: 0, next_item: 0 }
    }
}

impl<'a> Iterator for HeaderList<'a> {
    type Item = Pair<'a>;
    fn next(&mut self) -> Option<Pair<'a>> {
        while let Some(slot) = self.fixed.get(self.next_fixed) {
            self.next_fixed += 1;
            if let Some(pair) = slot {
                return Some(*pair);
            }
        }
        while let Some((name, items)) = self.lists.get(self.next_list) {
            if let Some(item) = items.get(self.next_item) {
                self.next_item += 1;
                return Some((name, item));
            }
            self.next_list += 1;
            self.next_item = 0;
        }
        None
    }
}

/// The client side: what it offers, as an extended CONNECT request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientConnect<'a> {
    /// `:scheme`: `https` (or `http` over cleartext HTTP/2).
    pub scheme: &'a str,
    /// `:authority`: host and, unless default, port.
    pub authority: &'a str,
    /// `:path`, starting with `/`.
    pub path: &'a str,
    /// Subprotocols offered in order of preference (`sec-websocket-protocol`).
    pub protocols: &'a [&'a str],
    /// Extension offers (`sec-websocket-extensions`), each `name; params`.
    pub extensions: &'a [&'a str],
    /// `origin`, as a browser would send it.
    pub origin: Option<&'a str>,
}

impl<'a> ClientConnect<'a> {
    /// An offer for `scheme://authority/path`, with no subprotocol, extension or origin.
    pub const fn new(scheme: &'a str, authority: &'a str, path: &'a str) -> Self {
        ClientConnect { scheme, authority, path, protocols: &[], extensions: &[], origin: None }
    }

    /// Offers these subprotocols.
    pub const fn protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// Offers these extensions.
    pub const fn extensions(mut self, extensions: &'a [&'a str]) -> Self {
        self.extensions = extensions;
        self
    }

    /// Sends this `origin`.
    pub const fn origin(mut self, origin: &'a str) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The request's header list: `:method CONNECT`, `:protocol websocket`, `:scheme`,
    /// `:path`, `:authority`, `sec-websocket-version: 13`, then `origin`, one
    /// `sec-websocket-protocol` per subprotocol and one `sec-websocket-extensions` per offer
    /// (a field repeated is the same as one list, RFC 6455 §11.3.2, §11.3.4).
    ///
    /// Fails with [`EncodeError::InvalidField`] when a value cannot be sent.
    pub fn headers(&self) -> Result<HeaderList<'a>, EncodeError> {
        let bad = |f| Err(EncodeError::InvalidField(f));
        if !is_token(self.scheme.as_bytes()) {
            return bad(Field::Scheme);
        }
        if !is_visible(self.authority.as_bytes()) {
            return bad(Field::Host);
        }
        if !self.path.starts_with('/') || !is_visible(self.path.as_bytes()) {
            return bad(Field::Path);
        }
        if !self.protocols.iter().all(|p| is_token(p.as_bytes())) {
            return bad(Field::Protocol);
        }
        if !self.extensions.iter().all(|e| is_extension_offer(e) && is_trimmed(e.as_bytes())) {
            return bad(Field::Extension);
        }
        if self.origin.is_some_and(|o| !is_visible(o.as_bytes())) {
            return bad(Field::Origin);
        }
        // RFC 8441 §4 and §5; RFC 9220 §3.
        Ok(HeaderList::new(
            [
                Some((":method", "CONNECT")),
                Some((":protocol", "websocket")),
                Some((":scheme", self.scheme)),
                Some((":path", self.path)),
                Some((":authority", self.authority)),
                Some(("sec-websocket-version", "13")),
                self.origin.map(|o| ("origin", o)),
            ],
            [
                ("sec-websocket-protocol", self.protocols),
                ("sec-websocket-extensions", self.extensions),
            ],
        ))
    }

    /// Validates the response's header list. RFC 8441 §5: any 2xx status accepts; the chosen
    /// subprotocol and extensions must have been offered (RFC 6455 §4.1).
    pub fn validate_response<'h, N, V>(
        &self,
        headers: &'h [(N, V)],
    ) -> Result<ConnectAccepted<'h, N, V>, ResponseError>
    where
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut status = None;
        let mut regular = false;
        let mut protocol = None;
        for (name, value) in headers {
            let (name, value) = (name.as_ref(), value.as_ref());
            if !is_field_name(name) || !is_h2_value(value) {
                return Err(ResponseError::Malformed);
            }
            if name.first() == Some(&b':') {
                // RFC 9113 §8.3: pseudo-headers once, first; a response has only `:status`.
                if regular || name != b":status" || status.is_some() {
                    return Err(ResponseError::Malformed);
                }
                status = Some(parse_status(value).ok_or(ResponseError::Malformed)?);
                continue;
            }
            regular = true;
            if name == b"sec-websocket-protocol" {
                if protocol.is_some() {
                    return Err(ResponseError::Protocol);
                }
                // RFC 6455 §4.1 client check 6, compared case-sensitively (RFC 7936 §2).
                match str::from_utf8(value) {
                    Ok(p) if self.protocols.contains(&p) => protocol = Some(p),
                    _ => return Err(ResponseError::Protocol),
                }
            } else if name == b"sec-websocket-extensions" {
                // RFC 6455 §4.1 client check 5.
                for ext in List::new(value) {
                    let name = extension_name(ext);
                    let offered = self
                        .extensions
                        .iter()
                        .any(|o| extension_name(o.as_bytes()).eq_ignore_ascii_case(name));
                    if !offered {
                        return Err(ResponseError::Extension);
                    }
                }
            }
        }
        let status = status.ok_or(ResponseError::Malformed)?;
        if !(200..300).contains(&status) {
            return Err(ResponseError::Status(status));
        }
        Ok(ConnectAccepted { headers, status, protocol })
    }
}

/// A server's accepting response to an extended CONNECT, as validated by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectAccepted<'h, N, V> {
    headers: &'h [(N, V)],
    status: u16,
    protocol: Option<&'h str>,
}

impl<'h, N: AsRef<[u8]>, V: AsRef<[u8]>> ConnectAccepted<'h, N, V> {
    /// The 2xx status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The subprotocol the server chose (one the client offered), if any.
    pub fn protocol(&self) -> Option<&'h str> {
        self.protocol
    }

    /// The extensions the server accepted, each `name; params`.
    pub fn extensions(&self) -> PairList<'h, N, V> {
        PairList::new(self.headers, "sec-websocket-extensions")
    }
}

/// The list elements of every field of one name in a received header list.
#[derive(Debug, Clone)]
pub struct PairList<'h, N, V> {
    headers: core::slice::Iter<'h, (N, V)>,
    name: &'static str,
    current: List<'h>,
}

impl<'h, N, V> PairList<'h, N, V> {
    fn new(headers: &'h [(N, V)], name: &'static str) -> Self {
        PairList { headers: headers.iter(), name, current: List::new(b"") }
    }
}

impl<'h, N: AsRef<[u8]>, V: AsRef<[u8]>> Iterator for PairList<'h, N, V> {
    type Item = &'h str;
    fn next(&mut self) -> Option<&'h str> {
        loop {
            if let Some(item) = self.current.next() {
                match str::from_utf8(item) {
                    Ok(s) => return Some(s),
                    Err(_) => continue,
                }
            }
            let name = self.name;
            let (_, v) = self.headers.find(|(n, _)| n.as_ref() == name.as_bytes())?;
            self.current = List::new(v.as_ref());
        }
    }
}

/// Why a server refuses an extended CONNECT request (a remote fault). Answer with
/// [`ConnectError::reject`] and [`Reject::connect_headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConnectError {
    /// The list is not a well-formed HTTP/2 or HTTP/3 request: uppercase or invalid names,
    /// values with CR, LF, NUL or surrounding whitespace, pseudo-headers repeated, unknown or
    /// after regular fields, connection-specific fields (RFC 9113 §8.2, §8.3; RFC 9114 §4.2).
    Malformed,
    /// `:method` is not `CONNECT` (RFC 8441 §4).
    Method,
    /// `:protocol` is missing or not `websocket` (RFC 8441 §4, §5).
    Protocol,
    /// `:scheme`, `:path` or `:authority` is missing or invalid (RFC 8441 §4).
    Target,
    /// A field that must appear once appears twice.
    DuplicateHeader,
    /// `sec-websocket-version` is missing (RFC 8441 §5).
    MissingVersion,
    /// `sec-websocket-version` is not `13`: answer 426.
    UnsupportedVersion,
    /// A subprotocol is not a token, or an extension offer or `origin` is not valid.
    InvalidField,
    /// The `origin` is refused by the server's [`OriginPolicy`]: answer 403.
    OriginNotAllowed,
}

impl ConnectError {
    /// The response this fault calls for.
    pub const fn reject(self) -> Reject {
        match self {
            ConnectError::UnsupportedVersion => Reject::UpgradeRequired,
            ConnectError::OriginNotAllowed => Reject::Forbidden,
            _ => Reject::BadRequest,
        }
    }
}

impl core::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bad extended CONNECT request ({self:?}), answer {}", self.reject().code())
    }
}

impl core::error::Error for ConnectError {}

impl Reject {
    /// The HTTP/2 or HTTP/3 header list of this refusal: `:status`, and for 426
    /// `sec-websocket-version: 13`. The server then ends the stream.
    pub fn connect_headers(self) -> HeaderList<'static> {
        let version = match self {
            Reject::UpgradeRequired => Some(("sec-websocket-version", "13")),
            _ => None,
        };
        HeaderList::new(
            [Some((":status", self.code_str())), version, None, None, None, None, None],
            [("", &[]), ("", &[])],
        )
    }
}

/// A valid extended CONNECT request for a WebSocket, as received by a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConnect<'h, N, V> {
    headers: &'h [(N, V)],
    scheme: &'h str,
    authority: &'h str,
    path: &'h str,
    origin: Option<&'h str>,
}

/// Connection-specific fields, malformed in HTTP/2 and HTTP/3 (RFC 9113 §8.2.2, RFC 9114 §4.2).
const CONNECTION_SPECIFIC: [&str; 5] =
    ["connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding"];

impl<'h, N: AsRef<[u8]>, V: AsRef<[u8]>> ServerConnect<'h, N, V> {
    /// Validates a received request header list (pseudo-headers included).
    pub fn parse(headers: &'h [(N, V)]) -> Result<Self, ConnectError> {
        let mut method = None;
        let mut protocol = None;
        let mut scheme = None;
        let mut authority = None;
        let mut path = None;
        let mut version = None;
        let mut origin = None;
        let mut regular = false;
        let once = |slot: &mut Option<&'h [u8]>, value: &'h [u8], err| {
            if slot.replace(value).is_some() { Err(err) } else { Ok(()) }
        };
        for (name, value) in headers {
            let (name, value) = (name.as_ref(), value.as_ref());
            if !is_field_name(name) || !is_h2_value(value) {
                return Err(ConnectError::Malformed);
            }
            if name.first() == Some(&b':') {
                // RFC 9113 §8.3: pseudo-headers come first, each at most once, known ones only.
                if regular {
                    return Err(ConnectError::Malformed);
                }
                let slot = match name {
                    b":method" => &mut method,
                    b":protocol" => &mut protocol,
                    b":scheme" => &mut scheme,
                    b":authority" => &mut authority,
                    b":path" => &mut path,
                    _ => return Err(ConnectError::Malformed),
                };
                once(slot, value, ConnectError::Malformed)?;
                continue;
            }
            regular = true;
            if CONNECTION_SPECIFIC.iter().any(|c| name == c.as_bytes())
                || (name == b"te" && value != b"trailers")
            {
                return Err(ConnectError::Malformed);
            }
            match name {
                b"sec-websocket-version" => {
                    once(&mut version, value, ConnectError::DuplicateHeader)?
                }
                b"origin" => once(&mut origin, value, ConnectError::DuplicateHeader)?,
                b"sec-websocket-protocol" | b"sec-websocket-extensions"
                    if !is_ascii_field_value(value) =>
                {
                    return Err(ConnectError::InvalidField);
                }
                _ => {}
            }
        }
        // RFC 8441 §4: an extended CONNECT carries `:protocol`, `:scheme`, `:path` and
        // `:authority`.
        if method != Some(b"CONNECT") {
            return Err(ConnectError::Method);
        }
        // RFC 8441 §5: the token is `websocket`.
        if !protocol.is_some_and(|p| eq_ci(p, "websocket")) {
            return Err(ConnectError::Protocol);
        }
        let scheme = scheme.filter(|s| is_token(s)).ok_or(ConnectError::Target)?;
        let authority = authority.filter(|a| is_visible(a)).ok_or(ConnectError::Target)?;
        let path = path
            .filter(|p| p.first() == Some(&b'/') && is_visible(p))
            .ok_or(ConnectError::Target)?;
        // RFC 8441 §5 keeps RFC 6455's version negotiation; RFC 6455 §4.4.
        match version {
            None => return Err(ConnectError::MissingVersion),
            Some(b"13") => {}
            Some(_) => return Err(ConnectError::UnsupportedVersion),
        }
        let origin = match origin {
            Some(o) if is_visible(o) => Some(as_str(o)),
            Some(_) => return Err(ConnectError::InvalidField),
            None => None,
        };
        let request = ServerConnect {
            headers,
            scheme: as_str(scheme),
            authority: as_str(authority),
            path: as_str(path),
            origin,
        };
        // RFC 6455 §4.1 item 10: subprotocols are tokens.
        if !request.protocols().all(|p| is_token(p.as_bytes())) {
            return Err(ConnectError::InvalidField);
        }
        if !request.extensions().all(is_extension_offer) {
            return Err(ConnectError::InvalidField);
        }
        Ok(request)
    }

    /// `:scheme`.
    pub fn scheme(&self) -> &'h str {
        self.scheme
    }

    /// `:authority`.
    pub fn authority(&self) -> &'h str {
        self.authority
    }

    /// `:path`.
    pub fn path(&self) -> &'h str {
        self.path
    }

    /// `origin`, if sent.
    pub fn origin(&self) -> Option<&'h str> {
        self.origin
    }

    /// The offered subprotocols in the client's order of preference.
    pub fn protocols(&self) -> PairList<'h, N, V> {
        PairList::new(self.headers, "sec-websocket-protocol")
    }

    /// The offered extensions, each `name; params`.
    pub fn extensions(&self) -> PairList<'h, N, V> {
        PairList::new(self.headers, "sec-websocket-extensions")
    }

    /// The first of the server's `supported` subprotocols the client offered.
    pub fn select_protocol<'s>(&self, supported: &[&'s str]) -> Option<&'s str> {
        supported.iter().copied().find(|s| self.protocols().any(|p| p == *s))
    }

    /// Applies an `origin` allow-list (RFC 6455 §10.2): `Err(ConnectError::OriginNotAllowed)`,
    /// answer 403, when refused.
    pub fn check_origin(&self, policy: &OriginPolicy<'_>) -> Result<(), ConnectError> {
        if policy.allows(self.origin) { Ok(()) } else { Err(ConnectError::OriginNotAllowed) }
    }

    /// The accepting response list: `:status 200` and the chosen subprotocol (RFC 8441 §5).
    ///
    /// Fails with [`EncodeError::ProtocolNotOffered`] when `protocol` was not offered.
    pub fn accept<'r>(&self, protocol: Option<&'r str>) -> Result<HeaderList<'r>, EncodeError> {
        self.accept_with(protocol, &[])
    }

    /// Like [`accept`](Self::accept), with accepted extensions (each `name; params`, the name
    /// offered by the client).
    pub fn accept_with<'r>(
        &self,
        protocol: Option<&'r str>,
        extensions: &'r [&'r str],
    ) -> Result<HeaderList<'r>, EncodeError> {
        if let Some(p) = protocol
            && !self.protocols().any(|o| o == p)
        {
            return Err(EncodeError::ProtocolNotOffered);
        }
        for e in extensions {
            if !is_extension_offer(e) || !is_trimmed(e.as_bytes()) {
                return Err(EncodeError::InvalidField(Field::Extension));
            }
            let name = extension_name(e.as_bytes());
            if !self.extensions().any(|o| extension_name(o.as_bytes()).eq_ignore_ascii_case(name)) {
                return Err(EncodeError::ExtensionNotOffered);
            }
        }
        Ok(HeaderList::new(
            [
                Some((":status", "200")),
                protocol.map(|p| ("sec-websocket-protocol", p)),
                None,
                None,
                None,
                None,
                None,
            ],
            [("sec-websocket-extensions", extensions), ("", &[])],
        ))
    }
}

/// A field name as HTTP/2 and HTTP/3 carry it: lowercase token, or `:` and a lowercase token
/// (RFC 9113 §8.2.1, RFC 9114 §4.2).
fn is_field_name(name: &[u8]) -> bool {
    let body = name.strip_prefix(b":").unwrap_or(name);
    !body.is_empty() && body.iter().all(|&b| is_tchar(b) && !b.is_ascii_uppercase())
}

/// A field value as HTTP/2 and HTTP/3 carry it: no NUL, CR or LF, no surrounding whitespace
/// (RFC 9113 §8.2.1).
fn is_h2_value(value: &[u8]) -> bool {
    !value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') && is_trimmed(value)
}

fn is_trimmed(value: &[u8]) -> bool {
    let ws = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !ws(value.first()) && !ws(value.last())
}

/// A 3-digit status code.
fn parse_status(value: &[u8]) -> Option<u16> {
    let [a, b, c] = value else { return None };
    if !(a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit()) || *a == b'0' {
        return None;
    }
    Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
}

/// Text of a value already checked to be visible ASCII.
fn as_str(v: &[u8]) -> &str {
    str::from_utf8(v).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8441 §5.1's example request, with the subprotocols and extension it offers.
    const REQUEST: [Pair<'static>; 9] = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", "server.example.com"),
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-extensions", "permessage-deflate"),
        ("sec-websocket-version", "13"),
        ("origin", "http://www.example.com"),
    ];

    fn collect<'a>(list: HeaderList<'a>) -> heapless::Vec<Pair<'a>, 16> {
        list.collect()
    }

    #[test]
    fn client_builds_the_request_list() {
        let offer = ClientConnect::new("https", "server.example.com", "/chat")
            .protocols(&["chat", "superchat"])
            .extensions(&["permessage-deflate"])
            .origin("http://www.example.com");
        let list = collect(offer.headers().unwrap());
        assert_eq!(
            list.as_slice(),
            &[
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "https"),
                (":path", "/chat"),
                (":authority", "server.example.com"),
                ("sec-websocket-version", "13"),
                ("origin", "http://www.example.com"),
                ("sec-websocket-protocol", "chat"),
                ("sec-websocket-protocol", "superchat"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]
        );
        // The server side reads a repeated field as one list.
        let received = ServerConnect::parse(&list).unwrap();
        let protocols: heapless::Vec<&str, 4> = received.protocols().collect();
        assert_eq!(protocols.as_slice(), &["chat", "superchat"]);
        let minimal = collect(ClientConnect::new("http", "h:8080", "/").headers().unwrap());
        assert_eq!(minimal.len(), 6);
    }

    #[test]
    fn client_values_are_checked() {
        let bad = |c: ClientConnect<'_>| c.headers().unwrap_err();
        let ok = ClientConnect::new("https", "h", "/");
        assert_eq!(
            bad(ClientConnect::new("ht tps", "h", "/")),
            EncodeError::InvalidField(Field::Scheme)
        );
        assert_eq!(
            bad(ClientConnect::new("https", "", "/")),
            EncodeError::InvalidField(Field::Host)
        );
        assert_eq!(
            bad(ClientConnect::new("https", "h", "p")),
            EncodeError::InvalidField(Field::Path)
        );
        assert_eq!(bad(ok.protocols(&["a b"])), EncodeError::InvalidField(Field::Protocol));
        assert_eq!(bad(ok.extensions(&[" x"])), EncodeError::InvalidField(Field::Extension));
        assert_eq!(bad(ok.origin("a\nb")), EncodeError::InvalidField(Field::Origin));
    }

    #[test]
    fn server_parses_and_answers() {
        let r = ServerConnect::parse(&REQUEST).unwrap();
        assert_eq!((r.scheme(), r.authority(), r.path()), ("https", "server.example.com", "/chat"));
        assert_eq!(r.origin(), Some("http://www.example.com"));
        assert_eq!(r.extensions().next(), Some("permessage-deflate"));
        let chosen = r.select_protocol(&["superchat"]);
        let list = collect(r.accept(chosen).unwrap());
        assert_eq!(list.as_slice(), &[(":status", "200"), ("sec-websocket-protocol", "superchat")]);
        assert_eq!(collect(r.accept(None).unwrap()).as_slice(), &[(":status", "200")]);
        assert_eq!(r.accept(Some("mqtt")).unwrap_err(), EncodeError::ProtocolNotOffered);
        let list = collect(
            r.accept_with(None, &["permessage-deflate; server_no_context_takeover"]).unwrap(),
        );
        assert_eq!(
            list[1],
            ("sec-websocket-extensions", "permessage-deflate; server_no_context_takeover")
        );
        assert_eq!(
            r.accept_with(None, &["x-other"]).unwrap_err(),
            EncodeError::ExtensionNotOffered
        );
        // Byte pairs are accepted as well as str pairs.
        let bytes: heapless::Vec<(&[u8], &[u8]), 16> =
            REQUEST.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
        assert_eq!(ServerConnect::parse(&bytes).unwrap().path(), "/chat");
    }

    fn with(change: impl Fn(&mut heapless::Vec<Pair<'static>, 16>)) -> Result<(), ConnectError> {
        let mut list: heapless::Vec<Pair<'static>, 16> = REQUEST.iter().copied().collect();
        change(&mut list);
        ServerConnect::parse(&list).map(|_| ())
    }

    fn set(
        name: &'static str,
        value: &'static str,
    ) -> impl Fn(&mut heapless::Vec<Pair<'static>, 16>) {
        move |l| {
            for p in l.iter_mut().filter(|p| p.0 == name) {
                p.1 = value;
            }
        }
    }

    fn remove(name: &'static str) -> impl Fn(&mut heapless::Vec<Pair<'static>, 16>) {
        move |l| l.retain(|p| p.0 != name)
    }

    fn push(
        name: &'static str,
        value: &'static str,
    ) -> impl Fn(&mut heapless::Vec<Pair<'static>, 16>) {
        move |l| l.push((name, value)).unwrap()
    }

    #[test]
    fn each_request_rule_with_its_status() {
        use ConnectError as E;
        let code = |r: Result<(), ConnectError>| r.map_err(|e| (e, e.reject().code()));
        assert_eq!(code(with(set(":method", "GET"))), Err((E::Method, 400)));
        assert_eq!(code(with(remove(":method"))), Err((E::Method, 400)));
        assert_eq!(code(with(set(":protocol", "h2c"))), Err((E::Protocol, 400)));
        assert_eq!(code(with(remove(":protocol"))), Err((E::Protocol, 400)));
        assert_eq!(code(with(remove(":scheme"))), Err((E::Target, 400)));
        assert_eq!(code(with(remove(":path"))), Err((E::Target, 400)));
        assert_eq!(code(with(set(":path", "chat"))), Err((E::Target, 400)));
        assert_eq!(code(with(remove(":authority"))), Err((E::Target, 400)));
        assert_eq!(code(with(set(":authority", ""))), Err((E::Target, 400)));
        assert_eq!(code(with(remove("sec-websocket-version"))), Err((E::MissingVersion, 400)));
        assert_eq!(
            code(with(set("sec-websocket-version", "8"))),
            Err((E::UnsupportedVersion, 426))
        );
        assert_eq!(code(with(push("sec-websocket-version", "13"))), Err((E::DuplicateHeader, 400)));
        assert_eq!(code(with(push("origin", "x"))), Err((E::DuplicateHeader, 400)));
        assert_eq!(code(with(set("origin", "a b"))), Err((E::InvalidField, 400)));
        assert_eq!(code(with(set("sec-websocket-protocol", "a b"))), Err((E::InvalidField, 400)));
        assert_eq!(code(with(set("sec-websocket-extensions", ";x"))), Err((E::InvalidField, 400)));
        // Malformed HTTP/2 lists (RFC 9113 §8.2, §8.3).
        assert_eq!(code(with(push(":path", "/again"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(push(":status", "200"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(|l| l.insert(0, ("x", "1")).unwrap())), Err((E::Malformed, 400)));
        assert_eq!(code(with(push("Origin2", "x"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(push("x-a", "a\r\nb"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(push("x-a", " a"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(push("connection", "upgrade"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(push("upgrade", "websocket"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(push("te", "gzip"))), Err((E::Malformed, 400)));
        assert_eq!(code(with(push(":x", "1"))), Err((E::Malformed, 400)));
        // Allowed variations.
        assert_eq!(with(push("te", "trailers")), Ok(()));
        assert_eq!(with(push("sec-websocket-key", "ignored")), Ok(()));
        assert_eq!(with(remove("origin")), Ok(()));
        assert_eq!(with(remove("sec-websocket-protocol")), Ok(()));
        assert_eq!(with(set(":protocol", "WebSocket")), Ok(()));
    }

    #[test]
    fn origin_policy_gives_403() {
        let r = ServerConnect::parse(&REQUEST).unwrap();
        assert_eq!(r.check_origin(&OriginPolicy::allow_list(&["http://www.example.com"])), Ok(()));
        let e = r.check_origin(&OriginPolicy::allow_list(&[])).unwrap_err();
        assert_eq!(e.reject().code(), 403);
        let list = collect(e.reject().connect_headers());
        assert_eq!(list.as_slice(), &[(":status", "403")]);
        let list = collect(Reject::UpgradeRequired.connect_headers());
        assert_eq!(list.as_slice(), &[(":status", "426"), ("sec-websocket-version", "13")]);
    }

    #[test]
    fn client_validates_the_response() {
        let offer = ClientConnect::new("https", "h", "/").protocols(&["mqtt"]).extensions(&["x-a"]);
        let ok = offer.validate_response(&[(":status", "200"), ("sec-websocket-protocol", "mqtt")]);
        let ok = ok.unwrap();
        assert_eq!((ok.status(), ok.protocol()), (200, Some("mqtt")));
        let v = |list: &[Pair<'_>]| offer.validate_response(list).map(|a| a.status());
        assert_eq!(v(&[(":status", "204")]), Ok(204));
        assert_eq!(v(&[(":status", "200"), ("sec-websocket-extensions", "x-a; p=1")]), Ok(200));
        assert_eq!(v(&[(":status", "400")]), Err(ResponseError::Status(400)));
        assert_eq!(
            v(&[(":status", "426"), ("sec-websocket-version", "13")]),
            Err(ResponseError::Status(426))
        );
        assert_eq!(v(&[(":status", "101")]), Err(ResponseError::Status(101)));
        assert_eq!(v(&[]), Err(ResponseError::Malformed));
        assert_eq!(v(&[(":status", "20")]), Err(ResponseError::Malformed));
        assert_eq!(v(&[(":status", "2000")]), Err(ResponseError::Malformed));
        assert_eq!(v(&[(":status", "200"), (":status", "200")]), Err(ResponseError::Malformed));
        assert_eq!(v(&[("x", "1"), (":status", "200")]), Err(ResponseError::Malformed));
        assert_eq!(v(&[(":status", "200"), (":path", "/")]), Err(ResponseError::Malformed));
        assert_eq!(v(&[(":status", "200"), ("X", "1")]), Err(ResponseError::Malformed));
        assert_eq!(
            v(&[(":status", "200"), ("sec-websocket-protocol", "chat")]),
            Err(ResponseError::Protocol)
        );
        assert_eq!(
            v(&[
                (":status", "200"),
                ("sec-websocket-protocol", "mqtt"),
                ("sec-websocket-protocol", "mqtt")
            ]),
            Err(ResponseError::Protocol)
        );
        assert_eq!(
            v(&[(":status", "200"), ("sec-websocket-extensions", "permessage-deflate")]),
            Err(ResponseError::Extension)
        );
    }
}
