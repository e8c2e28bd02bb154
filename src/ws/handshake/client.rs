//! The client role over HTTP/1.1: write the Upgrade request, validate the `101` response.
//!
//! Invariants: a [`Client`] only exists for a request that can be sent (every caller value was
//! checked in [`Client::new`]), so [`Client::encode_request`] fails only on buffer size; the
//! response is scanned incrementally (each byte looked at once, bounded by [`Limits`]).

use core::str;

use super::grammar::{
    extension_name, field_line, is_ascii_field_value, is_extension, is_token, status_line, trim_ows,
};
use super::head::{
    Head, Headers, Limits, Lines, List, ListValues, Once, Put, ScanError, Scanner, encode_with,
    eq_ci, list_has_ci,
};
use super::key::Key;
use super::{EncodeError, Error, Field, ResponseError};
use crate::machine::{BufferTooSmall, Machine, Status};
use crate::time::Instant;

/// What a client asks for in its opening handshake (RFC 6455 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientRequest<'a> {
    /// The `Host` value: the server's host name, with `:port` unless it is the scheme's default.
    pub host: &'a str,
    /// The request target, starting with `/` (e.g. `/mqtt`), query included.
    pub path: &'a str,
    /// Subprotocols offered in order of preference (`Sec-WebSocket-Protocol`), e.g. `["mqtt"]`.
    pub protocols: &'a [&'a str],
    /// Extension offers (`Sec-WebSocket-Extensions`), each `name; param=value ...`.
    pub extensions: &'a [&'a str],
    /// Further header fields to send, e.g. `("Origin", "https://example.com")` or
    /// `("Authorization", "Bearer ...")`.
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> ClientRequest<'a> {
    /// A request for `path` on `host`, offering no subprotocol and no extension.
    pub const fn new(host: &'a str, path: &'a str) -> Self {
        ClientRequest { host, path, protocols: &[], extensions: &[], headers: &[] }
    }

    /// Offers these subprotocols, in order of preference.
    pub const fn protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// Offers these extensions.
    pub const fn extensions(mut self, extensions: &'a [&'a str]) -> Self {
        self.extensions = extensions;
        self
    }

    /// Sends these extra header fields.
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    fn validate(&self) -> Result<(), EncodeError> {
        let bad = |f| Err(EncodeError::InvalidField(f));
        if !is_visible(self.host.as_bytes()) {
            return bad(Field::Host);
        }
        if !self.path.starts_with('/') || !is_visible(self.path.as_bytes()) {
            return bad(Field::Path);
        }
        // RFC 6455 §4.1 item 10: each subprotocol is a token.
        if !self.protocols.iter().all(|p| is_token(p.as_bytes())) {
            return bad(Field::Protocol);
        }
        if !self.extensions.iter().all(|e| is_extension_offer(e)) {
            return bad(Field::Extension);
        }
        for (name, value) in self.headers {
            if !is_token(name.as_bytes()) {
                return bad(Field::HeaderName);
            }
            if RESERVED.iter().any(|r| eq_ci(name.as_bytes(), r)) {
                return bad(Field::ReservedHeader);
            }
            if !is_ascii_field_value(value.as_bytes()) {
                return bad(Field::HeaderValue);
            }
        }
        Ok(())
    }

    fn emit(&self, key: &Key, w: &mut dyn Put) {
        w.put_str("GET ");
        w.put_str(self.path);
        w.put_str(" HTTP/1.1\r\nHost: ");
        w.put_str(self.host);
        // RFC 6455 §4.1 items 5-9.
        w.put_str("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
        w.put(key.as_bytes());
        w.put_str("\r\nSec-WebSocket-Version: 13\r\n");
        put_list(w, "Sec-WebSocket-Protocol", self.protocols);
        put_list(w, "Sec-WebSocket-Extensions", self.extensions);
        put_headers(w, self.headers);
        w.put_str("\r\n");
    }
}

/// Header fields the handshake writes itself; a caller's extra header may not repeat them.
const RESERVED: [&str; 8] = [
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
];

/// Visible ASCII, at least one byte: hosts, paths, origins.
pub(crate) fn is_visible(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// An extension offer or response in the grammar of RFC 6455 §9.1.
pub(crate) fn is_extension_offer(e: &str) -> bool {
    is_extension(e.as_bytes())
}

/// Writes `name: value` lines, values trimmed of surrounding whitespace.
pub(crate) fn put_headers(w: &mut dyn Put, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        w.put_str(name);
        w.put_str(": ");
        w.put(trim_ows(value.as_bytes()));
        w.put_str("\r\n");
    }
}

/// Writes `name: a, b` when `items` is not empty.
pub(crate) fn put_list(w: &mut dyn Put, name: &str, items: &[&str]) {
    if items.is_empty() {
        return;
    }
    w.put_str(name);
    let mut separator = ": ";
    for item in items {
        w.put_str(separator);
        w.put_str(item);
        separator = ", ";
    }
    w.put_str("\r\n");
}

/// The client side of an HTTP/1.1 opening handshake, a [`Machine`].
///
/// 1. [`Client::new`] with the request and 16 random bytes;
/// 2. [`Client::poll_transmit`] writes the request (once);
/// 3. append what the server sends to one buffer and call [`Client::handle_input`] with the
///    unconsumed bytes until it reports the [`Accepted`] response; it consumes the response head,
///    and the bytes after it are WebSocket frames for the
///    [`Connection`](crate::ws::connection::Connection) (a driver's
///    [`switch`](crate::io::blocking::Connection::switch) hands them over).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Client<'a> {
    request: ClientRequest<'a>,
    key: Key,
    limits: Limits,
    scanner: Scanner,
    status_checked: bool,
    request_sent: bool,
    done: bool,
    deadline: Option<Instant>,
}

impl<'a> Client<'a> {
    /// Prepares the handshake for `request` with `nonce`, 16 bytes from a cryptographic random
    /// source, fresh for each connection (RFC 6455 §4.1 item 7).
    ///
    /// Fails with [`EncodeError::InvalidField`] when a value cannot be sent.
    pub fn new(request: ClientRequest<'a>, nonce: [u8; 16]) -> Result<Self, EncodeError> {
        request.validate()?;
        Ok(Client {
            request,
            key: Key::from_nonce(nonce),
            limits: Limits::DEFAULT,
            scanner: Scanner::new(),
            status_checked: false,
            request_sent: false,
            done: false,
            deadline: None,
        })
    }

    /// Uses these bounds on the response head instead of [`Limits::DEFAULT`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Gives up with [`ResponseError::Timeout`] when the `101` has not arrived by `deadline`
    /// (see [`Machine::handle_timeout`]).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The request this handshake sends.
    pub fn request(&self) -> &ClientRequest<'a> {
        &self.request
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The exact size of the request [`encode_request`](Self::encode_request) writes.
    pub fn request_len(&self) -> usize {
        let mut c = super::head::Count(0);
        self.request.emit(&self.key, &mut c);
        c.0
    }

    /// Writes the HTTP/1.1 Upgrade request into `out` and returns its length, whether or not
    /// [`poll_transmit`](Self::poll_transmit) sent it already. On
    /// [`EncodeError::BufferTooSmall`] nothing is written.
    pub fn encode_request(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        encode_with(out, |w| self.request.emit(&self.key, w))
    }

    /// Writes the request the first time it is called (`Ok(None)` afterwards).
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        let _ = now;
        if self.request_sent {
            return Ok(None);
        }
        // `new` checked every value: only the buffer can be too small.
        let n = self.encode_request(out).map_err(EncodeError::into_buffer_too_small)?;
        self.request_sent = true;
        Ok(Some(n))
    }

    /// Validates the server's response: `input` holds every byte received so far that is not
    /// consumed yet (it grows between calls and keeps its start; only new bytes are scanned).
    ///
    /// [`Status::NeedMore`] until the head is complete; then [`Status::Progress`] consuming the
    /// head, with the [`Accepted`] response: the bytes after it belong to the WebSocket
    /// connection. [`Status::Closed`] after that. A wrong status code is refused as soon as the
    /// status line is in.
    pub fn handle_input<'b>(
        &mut self,
        now: Instant,
        input: &'b [u8],
    ) -> Result<Status<Option<Accepted<'b>>>, ResponseError> {
        let _ = now;
        if self.done {
            return Ok(Status::Closed);
        }
        let end = match self.scanner.scan(input, &self.limits) {
            Ok(Some(end)) => end,
            Ok(None) => {
                // Refuse a wrong status as soon as the status line is in, without waiting for
                // a head that may never end. Done once: the line is not scanned again.
                if !self.status_checked && self.scanner.lines() >= 1 {
                    self.status_checked = true;
                    let code = parse_status_line(Lines::new(input).next().unwrap_or(&[]))
                        .map_err(|e| self.fail(e))?;
                    if code != 101 {
                        return Err(self.fail(ResponseError::Status(code)));
                    }
                }
                return Ok(Status::NeedMore { needed: 1 });
            }
            Err(ScanError::TooLarge) => return Err(self.fail(ResponseError::HeadTooLarge)),
            Err(ScanError::TooManyHeaders) => return Err(self.fail(ResponseError::TooManyHeaders)),
        };
        let bytes = input.get(..end).ok_or(ResponseError::Malformed).map_err(|e| self.fail(e))?;
        let accepted = self.validate(Head { bytes }).map_err(|e| self.fail(e))?;
        debug!("websocket handshake accepted, head {} bytes", end);
        self.done = true;
        Ok(Status::Progress { consumed: end, event: Some(accepted) })
    }

    /// Ends the handshake on a fault of the server.
    fn fail(&mut self, e: ResponseError) -> ResponseError {
        self.done = true;
        e
    }

    fn validate<'b>(&self, head: Head<'b>) -> Result<Accepted<'b>, ResponseError> {
        let mut lines = Lines::new(head.bytes);
        let code = parse_status_line(lines.next().unwrap_or(&[]))?;
        if code != 101 {
            // RFC 6455 §4.1 client check 1.
            return Err(ResponseError::Status(code));
        }
        // One pass over the header lines; the checks then run in RFC 6455 §4.1 order.
        let (mut upgrade, mut connection, mut accept, mut protocol) =
            (false, false, Once::Absent, Once::Absent);
        let (mut extensions, mut unoffered_extension) = (Once::Absent, false);
        for line in lines {
            let (name, value) = field_line(line).ok_or(ResponseError::Malformed)?;
            if eq_ci(name, "Upgrade") {
                upgrade |= list_has_ci(value, "websocket");
            } else if eq_ci(name, "Connection") {
                connection |= list_has_ci(value, "upgrade");
            } else if eq_ci(name, "Sec-WebSocket-Accept") {
                accept.see(value);
            } else if eq_ci(name, "Sec-WebSocket-Protocol") {
                protocol.see(value);
            } else if eq_ci(name, "Sec-WebSocket-Extensions") {
                // RFC 6455 §9.1 grammar, and only offered extensions (§4.1 client check 5).
                extensions.see(value);
                unoffered_extension |= !is_ascii_field_value(value)
                    || !List::new(value).all(|e| is_extension(e) && self.offered_extension(e));
            }
        }
        // RFC 6455 §4.1 client checks 2 and 3: token lists, case-insensitive.
        if !upgrade {
            return Err(ResponseError::Upgrade);
        }
        if !connection {
            return Err(ResponseError::Connection);
        }
        // RFC 6455 §4.1 client check 4.
        match accept {
            Once::Present(v) if self.key.accept().matches(v) => {}
            _ => return Err(ResponseError::Accept),
        }
        // RFC 6455 §4.1 client check 5: only offered extensions.
        if unoffered_extension {
            return Err(ResponseError::Extension);
        }
        // RFC 6455 §4.1 client check 6: one subprotocol, one that was offered (compared
        // case-sensitively, RFC 7936 §2).
        let protocol = match protocol {
            Once::Repeated => return Err(ResponseError::Protocol),
            Once::Absent => None,
            Once::Present(v) => match str::from_utf8(v) {
                Ok(p) if self.request.protocols.contains(&p) => Some(p),
                _ => return Err(ResponseError::Protocol),
            },
        };
        Ok(Accepted { head, protocol, extensions })
    }
}

impl Client<'_> {
    /// Whether the extension a server accepted (`name; params`) was offered, by name.
    fn offered_extension(&self, ext: &[u8]) -> bool {
        let name = extension_name(ext);
        self.request
            .extensions
            .iter()
            .any(|o| extension_name(o.as_bytes()).eq_ignore_ascii_case(name))
    }
}

/// Parses `HTTP/1.1 SP 3DIGIT [SP reason]` and returns the code (RFC 9112 §4).
fn parse_status_line(line: &[u8]) -> Result<u16, ResponseError> {
    match status_line(line) {
        Some((b"HTTP/1.1", code)) => Ok(code),
        _ => Err(ResponseError::Malformed),
    }
}

/// A server's accepted `101 Switching Protocols` response. Borrows the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Accepted<'b> {
    head: Head<'b>,
    protocol: Option<&'b str>,
    /// Where `Sec-WebSocket-Extensions` was seen, so reading it does not walk the head again.
    extensions: Once<'b>,
}

impl<'b> Accepted<'b> {
    /// How many bytes of the buffer the response head used. Later bytes are WebSocket frames.
    pub fn head_len(&self) -> usize {
        self.head.bytes.len()
    }

    /// The subprotocol the server chose (one the client offered), if any. An MQTT client that
    /// offered `mqtt` should refuse a connection without it.
    pub fn protocol(&self) -> Option<&'b str> {
        self.protocol
    }

    /// The extensions the server accepted (each `name; params`), all offered by the client.
    pub fn extensions(&self) -> ListValues<'b> {
        self.head.list("Sec-WebSocket-Extensions", self.extensions)
    }

    /// Every header field of the response.
    pub fn headers(&self) -> Headers<'b> {
        self.head.headers()
    }
}

impl<'a> Machine for Client<'a> {
    type Event<'b> = Accepted<'b>;
    type Error = Error;

    fn handle_input<'b>(
        &mut self,
        now: Instant,
        input: &'b mut [u8],
    ) -> Result<Status<Option<Accepted<'b>>>, Error> {
        Client::handle_input(self, now, input).map_err(Error::Response)
    }

    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        Client::poll_transmit(self, now, out)
    }

    /// The deadline given with [`Client::with_deadline`], until the response is in.
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline.filter(|_| !self.done)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => Err(self.fail(ResponseError::Timeout).into()),
            _ => Ok(()),
        }
    }

    fn connection_lost(&mut self) {
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The accepted response of a step that completed the handshake.
    fn done(s: Status<Option<Accepted<'_>>>) -> Option<Accepted<'_>> {
        s.progress().and_then(|(a, _)| a)
    }

    const NONCE: [u8; 16] = *b"the sample nonce";
    const REQUEST: &[u8] = b"GET /mqtt HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Protocol: mqtt, mqttv3.1\r\n\
Origin: http://example.com\r\n\
\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: WebSocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: mqtt\r\n\
\r\n";

    fn client() -> Client<'static> {
        let req = ClientRequest::new("server.example.com", "/mqtt")
            .protocols(&["mqtt", "mqttv3.1"])
            .headers(&[("Origin", "http://example.com")]);
        Client::new(req, NONCE).unwrap()
    }

    #[test]
    fn encodes_the_request_exactly() {
        let c = client();
        let mut out = [0u8; 512];
        let n = c.encode_request(&mut out).unwrap();
        assert_eq!(&out[..n], REQUEST);
        assert_eq!(c.request_len(), REQUEST.len());
    }

    #[test]
    fn small_buffer_writes_nothing() {
        let c = client();
        let mut out = [0xAAu8; 64];
        let required = REQUEST.len();
        assert_eq!(c.encode_request(&mut out), Err(EncodeError::BufferTooSmall { required }));
        assert!(out.iter().all(|&b| b == 0xAA));
    }

    #[test]
    fn caller_values_are_checked() {
        let bad = |r: ClientRequest<'static>| Client::new(r, NONCE).unwrap_err();
        let r = ClientRequest::new("h", "/");
        assert_eq!(bad(ClientRequest::new("", "/")), EncodeError::InvalidField(Field::Host));
        assert_eq!(bad(ClientRequest::new("a b", "/")), EncodeError::InvalidField(Field::Host));
        assert_eq!(bad(ClientRequest::new("h", "x")), EncodeError::InvalidField(Field::Path));
        assert_eq!(bad(ClientRequest::new("h", "/a\r\n")), EncodeError::InvalidField(Field::Path));
        assert_eq!(bad(r.protocols(&["a,b"])), EncodeError::InvalidField(Field::Protocol));
        assert_eq!(bad(r.protocols(&[""])), EncodeError::InvalidField(Field::Protocol));
        assert_eq!(bad(r.extensions(&["x\r\n"])), EncodeError::InvalidField(Field::Extension));
        assert_eq!(bad(r.headers(&[("A B", "v")])), EncodeError::InvalidField(Field::HeaderName));
        assert_eq!(
            bad(r.headers(&[("X", "a\r\nB: c")])),
            EncodeError::InvalidField(Field::HeaderValue)
        );
        assert_eq!(
            bad(r.headers(&[("sec-websocket-key", "x")])),
            EncodeError::InvalidField(Field::ReservedHeader)
        );
    }

    #[test]
    fn accepts_rfc_response_whole_bytewise_and_with_trailing_frames() {
        // Whole.
        let mut c = client();
        let a = c.handle_input(Instant::ZERO, RESPONSE).map(done).unwrap().unwrap();
        assert_eq!(a.head_len(), RESPONSE.len());
        assert_eq!(a.protocol(), Some("mqtt"));
        assert_eq!(a.extensions().count(), 0);
        assert_eq!(a.headers().count(), 4);
        // One byte at a time.
        let mut c = client();
        for n in 0..RESPONSE.len() {
            assert_eq!(
                c.handle_input(Instant::ZERO, &RESPONSE[..n]),
                Ok(Status::NeedMore { needed: 1 }),
                "at {n}"
            );
        }
        let a = c.handle_input(Instant::ZERO, RESPONSE).map(done).unwrap().unwrap();
        assert_eq!(a.head_len(), RESPONSE.len());
        // With a frame behind it, which is left for the framer.
        let mut buf = [0u8; 256];
        buf[..RESPONSE.len()].copy_from_slice(RESPONSE);
        let frame = [0x82, 0x02, 0x20, 0x00];
        buf[RESPONSE.len()..RESPONSE.len() + 4].copy_from_slice(&frame);
        let all = &buf[..RESPONSE.len() + 4];
        let mut c = client();
        let a = c.handle_input(Instant::ZERO, all).map(done).unwrap().unwrap();
        assert_eq!(&all[a.head_len()..], &frame);
        // Once complete, the handshake reads nothing more.
        assert_eq!(c.handle_input(Instant::ZERO, all), Ok(Status::Closed));
    }

    fn response_with(replace: &str, with: &str) -> heapless::Vec<u8, 512> {
        let text = str::from_utf8(RESPONSE).unwrap();
        let (a, b) = text.split_once(replace).unwrap();
        let mut v = heapless::Vec::new();
        v.extend_from_slice(a.as_bytes()).unwrap();
        v.extend_from_slice(with.as_bytes()).unwrap();
        v.extend_from_slice(b.as_bytes()).unwrap();
        v
    }

    fn check(replace: &str, with: &str) -> Result<usize, ResponseError> {
        let buf = response_with(replace, with);
        client().handle_input(Instant::ZERO, &buf).map(|s| done(s).unwrap().head_len())
    }

    #[test]
    fn each_response_rule() {
        use ResponseError as E;
        assert_eq!(check("101 Switching Protocols", "101"), Ok(RESPONSE.len() - 20));
        assert_eq!(check("101 Switching Protocols", "200 OK"), Err(E::Status(200)));
        assert_eq!(check("HTTP/1.1 101", "HTTP/1.0 101"), Err(E::Malformed));
        assert_eq!(check("101 Switching", "1x1 Switching"), Err(E::Malformed));
        assert_eq!(check("101 Switching", "101Switching"), Err(E::Malformed));
        assert_eq!(check("Upgrade: WebSocket", "Upgrade: h2c"), Err(E::Upgrade));
        assert_eq!(check("Upgrade: WebSocket", "Upgrade: foo, websocket"), Ok(RESPONSE.len() + 5));
        assert_eq!(check("Upgrade: WebSocket\r\n", ""), Err(E::Upgrade));
        assert_eq!(check("Connection: Upgrade", "Connection: close"), Err(E::Connection));
        assert_eq!(
            check("Connection: Upgrade", "Connection: keep-alive, UPGRADE"),
            Ok(RESPONSE.len() + 12)
        );
        assert_eq!(check("K+xOo=", "K+xOp="), Err(E::Accept));
        assert_eq!(
            check("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
            Err(E::Accept)
        );
        assert_eq!(
            check(
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol"
            ),
            Err(E::Accept)
        );
        assert_eq!(
            check("Sec-WebSocket-Protocol: mqtt", "Sec-WebSocket-Protocol: MQTT"),
            Err(E::Protocol)
        );
        assert_eq!(
            check("Sec-WebSocket-Protocol: mqtt", "Sec-WebSocket-Protocol: mqtt, mqttv3.1"),
            Err(E::Protocol)
        );
        assert_eq!(
            check(
                "Sec-WebSocket-Protocol: mqtt\r\n",
                "Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Protocol: mqtt\r\n"
            ),
            Err(E::Protocol)
        );
        assert_eq!(check("Sec-WebSocket-Protocol: mqtt\r\n", ""), Ok(RESPONSE.len() - 30));
        assert_eq!(
            check("\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
            Err(E::Extension)
        );
        assert_eq!(check("Connection: Upgrade", "Connection : Upgrade"), Err(E::Malformed));
        assert_eq!(check("\r\nConnection", "\r\n folded\r\nConnection"), Err(E::Malformed));
    }

    #[test]
    fn offered_extension_may_be_accepted() {
        let req = ClientRequest::new("h", "/")
            .extensions(&["permessage-deflate; client_max_window_bits"]);
        let mut c = Client::new(req, NONCE).unwrap();
        let resp = b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n";
        let a = c.handle_input(Instant::ZERO, resp).map(done).unwrap().unwrap();
        assert_eq!(a.extensions().next(), Some("permessage-deflate; server_no_context_takeover"));
        assert_eq!(a.protocol(), None);
        // Offered, but not in the RFC 6455 §9.1 grammar.
        for bad in ["permessage-deflate;", "permessage-deflate; x=", "permessage-deflate; x y"] {
            let mut c = Client::new(req, NONCE).unwrap();
            let resp = std::format!(
                "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: {bad}\r\n\r\n"
            );
            let r = c.handle_input(Instant::ZERO, resp.as_bytes());
            assert_eq!(r.map(done), Err(ResponseError::Extension), "{bad}");
        }
    }

    #[test]
    fn wrong_status_is_reported_before_the_head_ends() {
        let mut c = client();
        assert_eq!(
            c.handle_input(Instant::ZERO, b"HTTP/1.1 40"),
            Ok(Status::NeedMore { needed: 1 })
        );
        assert_eq!(
            c.handle_input(Instant::ZERO, b"HTTP/1.1 403 Forbidden\r\n"),
            Err(ResponseError::Status(403))
        );
        assert_eq!(c.handle_input(Instant::ZERO, b""), Ok(Status::Closed));
        // A malformed status line ends the handshake too: nothing more is read.
        let mut c = client();
        let line = b"SSH-2.0-OpenSSH\r\n";
        assert_eq!(c.handle_input(Instant::ZERO, line), Err(ResponseError::Malformed));
        assert_eq!(c.handle_input(Instant::ZERO, line), Ok(Status::Closed));
    }

    #[test]
    fn a_response_not_in_by_the_deadline_times_out() {
        let at = Instant::from_millis(1000);
        let mut c = client().with_deadline(at);
        assert_eq!(c.poll_timeout(), Some(at));
        assert_eq!(
            c.handle_input(Instant::ZERO, b"HTTP/1.1 101"),
            Ok(Status::NeedMore { needed: 1 })
        );
        assert_eq!(c.handle_timeout(Instant::from_millis(999)), Ok(()));
        assert_eq!(c.handle_timeout(at), Err(Error::Response(ResponseError::Timeout)));
        // The handshake is over: no deadline, nothing more read.
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_input(Instant::ZERO, RESPONSE), Ok(Status::Closed));
        // Once the response is in, the deadline no longer applies.
        let mut c = client().with_deadline(at);
        assert!(c.handle_input(Instant::ZERO, RESPONSE).map(done).unwrap().is_some());
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_timeout(at), Ok(()));
    }

    #[test]
    fn a_lost_connection_ends_the_handshake() {
        let mut c = client().with_deadline(Instant::from_millis(1000));
        c.connection_lost();
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_input(Instant::ZERO, RESPONSE), Ok(Status::Closed));
    }

    #[test]
    fn oversize_and_too_many_headers() {
        let mut c = client().with_limits(Limits { max_head_len: 64, max_headers: 2 });
        assert_eq!(c.handle_input(Instant::ZERO, RESPONSE), Err(ResponseError::HeadTooLarge));
        let mut c = client().with_limits(Limits { max_head_len: 4096, max_headers: 2 });
        assert_eq!(c.handle_input(Instant::ZERO, RESPONSE), Err(ResponseError::TooManyHeaders));
    }
}
