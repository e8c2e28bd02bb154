//! The server role over HTTP/1.1: parse and validate the Upgrade request, answer `101` or
//! refuse with `400` / `403` / `426` / `431`.
//!
//! Invariants: [`RequestParser`] scans each received byte at most once across calls and never
//! more than [`Limits::max_head_len`]; a [`Request`] exists only for a head that passed every
//! check of RFC 6455 §4.2.1, so its accessors never fail and never panic.

use core::str;

use super::client::{is_extension_offer, is_visible, put_headers, put_list};
use super::grammar::{
    extension_name, field_line, is_ascii_field_value, is_extension, is_token, request_line,
};
use super::head::{
    Head, Headers, Limits, Lines, List, ListValues, Once, Put, ScanError, Scanner, encode_with,
    eq_ci, field_index, list_has_ci,
};
use super::key::{AcceptKey, Key};
use super::origin::OriginPolicy;
use super::{EncodeError, Error, Field, Reject, RequestError};
use crate::machine::{BufferTooSmall, Machine, Status};
use crate::time::Instant;

/// Parses a client's opening handshake incrementally.
///
/// Append what the client sends to one buffer and call [`parse`](Self::parse) with the whole
/// buffer after each read until it is [`Status::Progress`]; on an error, send
/// [`RequestError::reject`] and close. [`Server`] does this as a [`Machine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestParser {
    limits: Limits,
    scanner: Scanner,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(Limits::DEFAULT)
    }
}

impl RequestParser {
    /// A parser that refuses heads beyond `limits`.
    pub const fn new(limits: Limits) -> Self {
        RequestParser { limits, scanner: Scanner::new() }
    }

    /// Parses the request in `buf`, every byte received so far (it grows between calls and
    /// keeps its start; only new bytes are scanned).
    ///
    /// Returns [`Status::NeedMore`] until the head is complete, then [`Status::Progress`]
    /// consuming the head. The bytes after [`Request::head_len`] are not part of the handshake
    /// and are left untouched. One empty line before the request line is ignored (RFC 9112
    /// §2.2).
    pub fn parse<'b>(&mut self, buf: &'b [u8]) -> Result<Status<Request<'b>>, RequestError> {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before
        // the request line.
        let lead = match buf {
            [b'\r'] => return Ok(Status::NeedMore { needed: 1 }),
            [b'\r', b'\n', ..] => 2,
            _ => 0,
        };
        let buf = buf.get(lead..).unwrap_or_default();
        let end = match self.scanner.scan(buf, &self.limits) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(Status::NeedMore { needed: 1 }),
            Err(ScanError::TooLarge) => return Err(RequestError::HeadTooLarge),
            Err(ScanError::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        };
        let bytes = buf.get(..end).ok_or(RequestError::Malformed)?;
        let request = Request { lead, ..validate(Head { bytes })? };
        debug!("websocket handshake request, head {} bytes", end);
        Ok(Status::Progress { consumed: lead + end, event: request })
    }
}

/// Checks a complete head against RFC 9112 and RFC 6455 §4.2.1, in one pass over its lines.
/// The request fields the server reads, in the order `validate` matches them.
const REQUEST_FIELDS: [&str; 8] = [
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Key",
    "Origin",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
];

fn validate(head: Head<'_>) -> Result<Request<'_>, RequestError> {
    let mut lines = Lines::new(head.bytes);
    let path = parse_request_line(lines.next().unwrap_or(&[]))?;
    let (mut host, mut version, mut key, mut origin) =
        (Once::Absent, Once::Absent, Once::Absent, Once::Absent);
    let (mut protocols, mut extensions) = (Once::Absent, Once::Absent);
    let (mut upgrade, mut connection) = (false, false);
    let (mut non_ascii, mut bad_protocol, mut bad_extension) = (false, false, false);
    for line in lines {
        let (name, value) = field_line(line).ok_or(RequestError::Malformed)?;
        match field_index(name, &REQUEST_FIELDS) {
            0 => host.see(value),
            1 => upgrade |= list_has_ci(value, "websocket"),
            2 => connection |= list_has_ci(value, "upgrade"),
            3 => version.see(value),
            4 => key.see(value),
            5 => origin.see(value),
            // RFC 6455 §4.1 item 10: subprotocols are tokens.
            6 => {
                protocols.see(value);
                bad_protocol |= !List::new(value).all(is_token);
            }
            // RFC 6455 §9.1: the extension grammar.
            7 => {
                extensions.see(value);
                bad_extension |= !List::new(value).all(is_extension);
            }
            _ => continue,
        }
        // The fields read above are text: they must be ASCII.
        non_ascii |= !is_ascii_field_value(value);
    }
    if non_ascii {
        return Err(RequestError::InvalidField);
    }
    // RFC 6455 §4.2.1 item 2; RFC 9112 §3.2: exactly one Host.
    let host = match host {
        Once::Present(h) if is_visible(h) => as_str(h),
        _ => return Err(RequestError::Host),
    };
    // RFC 6455 §4.2.1 items 3 and 4: token lists, case-insensitive.
    if !upgrade {
        return Err(RequestError::Upgrade);
    }
    if !connection {
        return Err(RequestError::Connection);
    }
    // RFC 6455 §4.2.1 item 6, §4.4. Checked before the key so that a client of another version
    // learns which one to speak.
    match version {
        Once::Repeated => return Err(RequestError::DuplicateHeader),
        Once::Absent => return Err(RequestError::MissingVersion),
        Once::Present(b"13") => {}
        Once::Present(_) => return Err(RequestError::UnsupportedVersion),
    }
    // RFC 6455 §4.2.1 item 5, §11.3.1: once, base64 of 16 bytes.
    let key = match key {
        Once::Repeated => return Err(RequestError::DuplicateHeader),
        Once::Absent => return Err(RequestError::Key),
        Once::Present(v) => Key::parse(v).ok_or(RequestError::Key)?,
    };
    let origin = match origin {
        Once::Repeated => return Err(RequestError::DuplicateHeader),
        Once::Absent => None,
        Once::Present(v) => Some(as_str(v)),
    };
    if bad_protocol || bad_extension {
        return Err(RequestError::InvalidField);
    }
    Ok(Request { lead: 0, head, path, host, origin, key, protocols, extensions })
}

/// Parses `GET SP request-target SP HTTP/1.1` (RFC 9112 §3) and returns the target.
fn parse_request_line(line: &[u8]) -> Result<&str, RequestError> {
    let (method, target, version) = request_line(line).ok_or(RequestError::Malformed)?;
    // RFC 6455 §4.2.1 item 1 (the method is case-sensitive, RFC 9110 §9.1).
    if method != b"GET" {
        return Err(RequestError::MethodNotGet);
    }
    if version != b"HTTP/1.1" {
        return Err(RequestError::HttpVersion);
    }
    Ok(as_str(target))
}

/// Text of a value already checked to be ASCII.
fn as_str(v: &[u8]) -> &str {
    str::from_utf8(v).unwrap_or("")
}

/// A valid WebSocket opening handshake request. Borrows the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request<'b> {
    /// The empty line ignored before the request line: 0 or 2 bytes.
    lead: usize,
    head: Head<'b>,
    path: &'b str,
    host: &'b str,
    origin: Option<&'b str>,
    key: Key,
    /// Where the `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` fields were seen, so
    /// that reading them does not walk the head again.
    protocols: Once<'b>,
    extensions: Once<'b>,
}

impl<'b> Request<'b> {
    /// How many bytes of the buffer the request head used.
    pub fn head_len(&self) -> usize {
        self.lead + self.head.bytes.len()
    }

    /// The request target as sent: usually a path such as `/mqtt?x=1`, or an absolute URI
    /// (RFC 6455 §4.2.1 item 1 allows both).
    pub fn path(&self) -> &'b str {
        self.path
    }

    /// The `Host` value.
    pub fn host(&self) -> &'b str {
        self.host
    }

    /// The `Origin` value, sent by browsers (RFC 6455 §4.1 item 8, §10.2). Check it with
    /// [`check_origin`](Self::check_origin).
    pub fn origin(&self) -> Option<&'b str> {
        self.origin
    }

    /// The client's `Sec-WebSocket-Key`.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The offered subprotocols in the client's order of preference.
    pub fn protocols(&self) -> ListValues<'b> {
        self.head.list("Sec-WebSocket-Protocol", self.protocols)
    }

    /// The offered extensions (each `name; params`), in order.
    pub fn extensions(&self) -> ListValues<'b> {
        self.head.list("Sec-WebSocket-Extensions", self.extensions)
    }

    /// Every header field of the request, e.g. to read `Authorization` or cookies.
    pub fn headers(&self) -> Headers<'b> {
        self.head.headers()
    }

    /// The value of the first header field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.head.headers().find(|h| eq_ci(h.name.as_bytes(), name)).map(|h| h.value)
    }

    /// Picks the first of the server's `supported` subprotocols that the client offered
    /// (compared case-sensitively, RFC 7936 §2).
    pub fn select_protocol<'s>(&self, supported: &[&'s str]) -> Option<&'s str> {
        supported.iter().copied().find(|s| self.protocols().any(|p| p == *s))
    }

    /// Applies an `Origin` allow-list: `Err(RequestError::OriginNotAllowed)` (answer 403) when
    /// the policy refuses this request's origin (RFC 6455 §4.2.2 item 4, §10.2).
    pub fn check_origin(&self, policy: &OriginPolicy<'_>) -> Result<(), RequestError> {
        if policy.allows(self.origin) {
            Ok(())
        } else {
            debug!("websocket origin refused");
            Err(RequestError::OriginNotAllowed)
        }
    }

    /// Prepares the `101 Switching Protocols` answer, with the chosen subprotocol if any.
    ///
    /// Fails with [`EncodeError::ProtocolNotOffered`] when `protocol` was not offered.
    pub fn accept<'r>(&self, protocol: Option<&'r str>) -> Result<Accept<'r>, EncodeError> {
        if let Some(p) = protocol
            && !self.protocols().any(|o| o == p)
        {
            return Err(EncodeError::ProtocolNotOffered);
        }
        Ok(Accept { accept: self.key.accept(), protocol, extensions: &[], headers: &[] })
    }

    /// Like [`accept`](Self::accept), with extension responses (each `name; params`) and
    /// extra header fields. Each extension's name must have been offered (RFC 6455 §9.1).
    pub fn accept_with<'r>(
        &self,
        protocol: Option<&'r str>,
        extensions: &'r [&'r str],
        headers: &'r [(&'r str, &'r str)],
    ) -> Result<Accept<'r>, EncodeError> {
        let accept = self.accept(protocol)?;
        for e in extensions {
            if !is_extension_offer(e) {
                return Err(EncodeError::InvalidField(Field::Extension));
            }
            let name = extension_name(e.as_bytes());
            if !self.extensions().any(|o| extension_name(o.as_bytes()).eq_ignore_ascii_case(name)) {
                return Err(EncodeError::ExtensionNotOffered);
            }
        }
        for (name, value) in headers {
            if !is_token(name.as_bytes()) {
                return Err(EncodeError::InvalidField(Field::HeaderName));
            }
            if RESERVED.iter().any(|r| eq_ci(name.as_bytes(), r)) {
                return Err(EncodeError::InvalidField(Field::ReservedHeader));
            }
            if !is_ascii_field_value(value.as_bytes()) {
                return Err(EncodeError::InvalidField(Field::HeaderValue));
            }
        }
        Ok(Accept { extensions, headers, ..accept })
    }
}

/// Header fields the `101` answer writes itself.
const RESERVED: [&str; 6] = [
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
];

/// A server's `101 Switching Protocols` answer, ready to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Accept<'r> {
    accept: AcceptKey,
    protocol: Option<&'r str>,
    extensions: &'r [&'r str],
    headers: &'r [(&'r str, &'r str)],
}

impl Accept<'_> {
    /// The `Sec-WebSocket-Accept` value.
    pub fn accept_key(&self) -> &AcceptKey {
        &self.accept
    }

    fn emit(&self, w: &mut dyn Put) {
        // RFC 6455 §4.2.2 item 5.
        w.put_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
        w.put_str("Connection: Upgrade\r\nSec-WebSocket-Accept: ");
        w.put(self.accept.as_bytes());
        w.put_str("\r\n");
        put_list(w, "Sec-WebSocket-Protocol", self.protocol.as_slice());
        put_list(w, "Sec-WebSocket-Extensions", self.extensions);
        put_headers(w, self.headers);
        w.put_str("\r\n");
    }

    /// The exact size of the response [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let mut c = super::head::Count(0);
        self.emit(&mut c);
        c.0
    }

    /// Writes the `101` response into `out` and returns its length; nothing is written on
    /// [`EncodeError::BufferTooSmall`]. Once it is sent the connection speaks WebSocket.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        encode_with(out, |w| self.emit(w))
    }
}

/// Where a server-side handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase<'r> {
    /// Reading the request head.
    Reading,
    /// The request was reported; the caller's answer is awaited.
    Answering,
    /// The answer is owed: a `101` to accept.
    Accept(Accept<'r>),
    /// The answer is owed: a refusal, after which the connection closes.
    Reject(Reject),
    /// The `101` went out: the connection speaks WebSocket now.
    Accepted,
    /// Refused, or the transport ended.
    Closed,
}

/// The server side of an HTTP/1.1 opening handshake, a [`Machine`].
///
/// 1. [`Server::handle_input`] parses the request ([`RequestParser`]) and reports the valid
///    [`Request`], consuming its head; a request that fails a check is refused with the status
///    its [`RequestError`] calls for (queued, then the handshake is closed).
/// 2. Answer it: [`Server::accept`] with the [`Accept`] that [`Request::accept`] prepares (after
///    [`Request::check_origin`] and [`Request::select_protocol`]), or [`Server::reject`].
/// 3. [`Server::poll_transmit`] writes the answer. After a `101` the bytes behind the request
///    head are WebSocket frames for the server's
///    [`Connection`](crate::ws::connection::Connection).
///
/// `'r` is the lifetime of the strings the answer names (subprotocol, extensions, headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server<'r> {
    parser: RequestParser,
    phase: Phase<'r>,
    deadline: Option<Instant>,
}

impl Default for Server<'_> {
    fn default() -> Self {
        Server::new(Limits::DEFAULT)
    }
}

impl<'r> Server<'r> {
    /// A handshake that refuses request heads beyond `limits` (`431`).
    pub const fn new(limits: Limits) -> Self {
        Server { parser: RequestParser::new(limits), phase: Phase::Reading, deadline: None }
    }

    /// Refuses with `408 Request Timeout` ([`RequestError::Timeout`]) when the request head has
    /// not arrived by `deadline`, so a client that trickles bytes cannot hold the connection
    /// (see [`Machine::handle_timeout`]). The deadline covers the peer only: once the request
    /// is reported, answering it is the caller's turn and no timer runs until
    /// [`Server::accept`] or [`Server::reject`] is called.
    pub const fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// `true` once the `101` was written: the connection speaks WebSocket.
    pub fn is_accepted(&self) -> bool {
        self.phase == Phase::Accepted
    }

    /// Parses the request: [`Status::NeedMore`] until its head is complete, then
    /// [`Status::Progress`] with the [`Request`] (the head consumed); [`Status::Blocked`] until
    /// it is answered, [`Status::Closed`] afterwards.
    ///
    /// On `Err` the refusal the error calls for ([`RequestError::reject`]) is queued.
    pub fn handle_input<'b>(
        &mut self,
        now: Instant,
        input: &'b [u8],
    ) -> Result<Status<Option<Request<'b>>>, RequestError> {
        let _ = now;
        match self.phase {
            Phase::Reading => {}
            Phase::Answering | Phase::Accept(_) | Phase::Reject(_) => return Ok(Status::Blocked),
            Phase::Accepted | Phase::Closed => return Ok(Status::Closed),
        }
        match self.parser.parse(input) {
            Ok(status) => {
                if let Status::Progress { .. } = status {
                    self.phase = Phase::Answering;
                }
                Ok(status.map(Some))
            }
            Err(e) => {
                self.phase = Phase::Reject(e.reject());
                Err(e)
            }
        }
    }

    /// Accepts the reported request with `accept` (from [`Request::accept`] or
    /// [`Request::accept_with`]): the `101` is queued.
    pub fn accept(&mut self, accept: Accept<'r>) -> Result<(), EncodeError> {
        self.answer(Phase::Accept(accept))
    }

    /// Refuses the reported request (a `403` after [`Request::check_origin`], for example): the
    /// response is queued, then the connection closes.
    pub fn reject(&mut self, reject: Reject) -> Result<(), EncodeError> {
        self.answer(Phase::Reject(reject))
    }

    fn answer(&mut self, phase: Phase<'r>) -> Result<(), EncodeError> {
        if self.phase != Phase::Answering {
            return Err(EncodeError::NothingToAnswer);
        }
        self.phase = phase;
        Ok(())
    }

    /// Writes the answer once it is given: the `101`, or the refusal.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        let _ = now;
        let (written, next) = match self.phase {
            Phase::Accept(a) => (a.encode(out), Phase::Accepted),
            Phase::Reject(r) => (r.encode(out), Phase::Closed),
            _ => return Ok(None),
        };
        // Checked when the answer was prepared: only the buffer can be too small.
        let n = written.map_err(EncodeError::into_buffer_too_small)?;
        self.phase = next;
        Ok(Some(n))
    }
}

impl<'r> Machine for Server<'r> {
    type Event<'b> = Request<'b>;
    type Error = Error;

    fn handle_input<'b>(
        &mut self,
        now: Instant,
        input: &'b mut [u8],
    ) -> Result<Status<Option<Request<'b>>>, Error> {
        Server::handle_input(self, now, input).map_err(Error::Request)
    }

    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        Server::poll_transmit(self, now, out)
    }

    /// The deadline given with [`Server::with_deadline`], while the request is read.
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline.filter(|_| self.phase == Phase::Reading)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {
                self.phase = Phase::Reject(Reject::RequestTimeout);
                Err(RequestError::Timeout.into())
            }
            _ => Ok(()),
        }
    }

    fn connection_lost(&mut self) {
        self.phase = Phase::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MissingOrigin, Reject};
    use super::*;

    /// RFC 6455 §1.2's request, with the `mqtt` subprotocols and an extension offer.
    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Protocol: mqtt\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

    const ACCEPT: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: mqtt\r\n\
\r\n";

    fn parse(buf: &[u8]) -> Result<Status<Request<'_>>, RequestError> {
        RequestParser::default().parse(buf)
    }

    #[test]
    fn parses_whole_bytewise_and_with_trailing_bytes() {
        let check = |r: &Request<'_>| {
            assert_eq!(r.head_len(), REQUEST.len());
            assert_eq!(r.path(), "/chat");
            assert_eq!(r.host(), "server.example.com");
            assert_eq!(r.origin(), Some("http://example.com"));
            assert_eq!(r.key().as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
            let protocols: heapless::Vec<&str, 4> = r.protocols().collect();
            assert_eq!(protocols.as_slice(), &["chat", "superchat", "mqtt"]);
            let ext: heapless::Vec<&str, 4> = r.extensions().collect();
            assert_eq!(ext.as_slice(), &["permessage-deflate; client_max_window_bits", "x-foo"]);
            assert_eq!(r.headers().count(), 9);
            assert_eq!(r.header("origin"), Some(&b"http://example.com"[..]));
            assert_eq!(r.header("Cookie"), None);
        };
        check(&parse(REQUEST).unwrap().progress().map(|(r, _)| r).unwrap());

        let mut p = RequestParser::default();
        for n in 0..REQUEST.len() {
            assert_eq!(p.parse(&REQUEST[..n]), Ok(Status::NeedMore { needed: 1 }), "at {n}");
        }
        check(&p.parse(REQUEST).unwrap().progress().map(|(r, _)| r).unwrap());

        let mut buf = [0u8; 600];
        buf[..REQUEST.len()].copy_from_slice(REQUEST);
        let tail = [0x81, 0x80, 1, 2, 3, 4];
        buf[REQUEST.len()..REQUEST.len() + tail.len()].copy_from_slice(&tail);
        let all = &buf[..REQUEST.len() + tail.len()];
        let r = parse(all).unwrap().progress().map(|(r, _)| r).unwrap();
        check(&r);
        assert_eq!(&all[r.head_len()..], &tail);
    }

    #[test]
    fn one_empty_line_before_the_request_line_is_ignored() {
        // RFC 9112 §2.2: at least one; a second is refused as a malformed head.
        let mut buf = heapless::Vec::<u8, 1024>::new();
        buf.extend_from_slice(b"\r\n").unwrap();
        buf.extend_from_slice(REQUEST).unwrap();
        let mut p = RequestParser::default();
        for n in 0..buf.len() {
            assert_eq!(p.parse(&buf[..n]), Ok(Status::NeedMore { needed: 1 }), "at {n}");
        }
        let (r, consumed) = p.parse(&buf).unwrap().progress().unwrap();
        assert_eq!((consumed, r.head_len()), (REQUEST.len() + 2, REQUEST.len() + 2));
        assert_eq!(r.path(), "/chat");
        buf.insert(0, b'\n').unwrap();
        buf.insert(0, b'\r').unwrap();
        assert_eq!(parse(&buf), Err(RequestError::Malformed));
    }

    fn replaced(replace: &str, with: &str) -> heapless::Vec<u8, 1024> {
        let text = str::from_utf8(REQUEST).unwrap();
        let (a, b) = text.split_once(replace).unwrap();
        let mut v = heapless::Vec::new();
        v.extend_from_slice(a.as_bytes()).unwrap();
        v.extend_from_slice(with.as_bytes()).unwrap();
        v.extend_from_slice(b.as_bytes()).unwrap();
        v
    }

    /// The error and the status it is answered with.
    fn refused(replace: &str, with: &str) -> (RequestError, u16) {
        let buf = replaced(replace, with);
        let e = parse(&buf).unwrap_err();
        (e, e.reject().code())
    }

    fn allowed(replace: &str, with: &str) -> bool {
        let buf = replaced(replace, with);
        matches!(parse(&buf), Ok(Status::Progress { .. }))
    }

    #[test]
    fn each_request_rule_with_its_status() {
        use RequestError as E;
        assert_eq!(refused("GET /chat", "POST /chat"), (E::MethodNotGet, 400));
        assert_eq!(refused("GET /chat", "get /chat"), (E::MethodNotGet, 400));
        assert_eq!(refused("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost"), (E::HttpVersion, 400));
        assert_eq!(refused("GET /chat", "GET  /chat"), (E::Malformed, 400));
        assert_eq!(refused("GET /chat HTTP/1.1", "GET /chat"), (E::Malformed, 400));
        assert_eq!(refused("GET /chat HTTP/1.1", "GET /chat HTTP/1.1 x"), (E::Malformed, 400));
        assert_eq!(refused("Host: server.example.com\r\n", ""), (E::Host, 400));
        assert_eq!(refused("Host: server.example.com", "Host: "), (E::Host, 400));
        assert_eq!(refused("Host: server.example.com", "Host: a\r\nHost: b"), (E::Host, 400));
        assert_eq!(refused("GET /chat HTTP/1.1", "GET /chat HTTP/1.10"), (E::Malformed, 400));
        assert_eq!(
            refused("client_max_window_bits", "client_max_window_bits="),
            (E::InvalidField, 400)
        );
        assert_eq!(refused("client_max_window_bits", "=15"), (E::InvalidField, 400));
        assert_eq!(refused(", x-foo", ", x-foo;"), (E::InvalidField, 400));
        assert!(allowed("client_max_window_bits", "client_max_window_bits = \"15\""));
        assert!(allowed("x-foo", "x-foo, , x-bar;a=\"1,2\""));
        assert_eq!(refused("Upgrade: websocket", "Upgrade: h2c"), (E::Upgrade, 400));
        assert_eq!(refused("Upgrade: websocket\r\n", ""), (E::Upgrade, 400));
        assert_eq!(refused("Connection: Upgrade", "Connection: keep-alive"), (E::Connection, 400));
        assert_eq!(refused("Connection: Upgrade\r\n", ""), (E::Connection, 400));
        assert_eq!(refused("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), (E::Key, 400));
        assert_eq!(refused("ZQ==", "ZQ="), (E::Key, 400));
        assert_eq!(refused("Bub25jZQ==", "Bub25jZQ==AAAA"), (E::Key, 400));
        assert_eq!(
            refused("Origin", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin"),
            (E::DuplicateHeader, 400)
        );
        assert_eq!(refused("Origin", "Origin: a\r\nOrigin"), (E::DuplicateHeader, 400));
        assert_eq!(refused("Sec-WebSocket-Version: 13\r\n", ""), (E::MissingVersion, 400));
        assert_eq!(refused("Version: 13", "Version: 8"), (E::UnsupportedVersion, 426));
        assert_eq!(refused("Version: 13", "Version: 13, 8"), (E::UnsupportedVersion, 426));
        assert_eq!(
            refused("Version: 13", "Version: 13\r\nSec-WebSocket-Version: 13"),
            (E::DuplicateHeader, 400)
        );
        assert_eq!(refused("chat, superchat", "chat, super chat"), (E::InvalidField, 400));
        assert_eq!(refused("chat, superchat", "chat, \"superchat\""), (E::InvalidField, 400));
        assert_eq!(refused("x-foo", "; x"), (E::InvalidField, 400));
        assert_eq!(
            refused("Origin: http://example.com", "Origin: http://\u{e9}.com"),
            (E::InvalidField, 400)
        );
        assert_eq!(refused("Origin: http", "Origin : http"), (E::Malformed, 400));
        assert_eq!(refused("\r\nOrigin", "\r\n folded\r\nOrigin"), (E::Malformed, 400));
        assert_eq!(refused("\r\nOrigin", "\r\nX: a\nb\r\nOrigin"), (E::Malformed, 400));
        assert_eq!(refused("\r\nOrigin", "\r\nX: a\0b\r\nOrigin"), (E::Malformed, 400));
        // Token lists are compared case-insensitively, and other tokens may stand beside.
        assert!(allowed("Upgrade: websocket", "Upgrade: WebSocket"));
        assert!(allowed("Upgrade: websocket", "Upgrade: foo/2, websocket"));
        assert!(allowed("Connection: Upgrade", "Connection: keep-alive, upgrade"));
        assert!(allowed("Connection: Upgrade", "Connection: keep-alive\r\nConnection: Upgrade"));
        assert!(allowed("Origin: http://example.com\r\n", ""));
        assert!(allowed("\r\nOrigin", "\r\nX-Other: caf\u{e9}\r\nOrigin"));
    }

    #[test]
    fn oversize_heads_and_too_many_headers_get_431() {
        let mut p = RequestParser::new(Limits { max_head_len: 100, max_headers: 32 });
        let e = p.parse(REQUEST).unwrap_err();
        assert_eq!((e, e.reject()), (RequestError::HeadTooLarge, Reject::HeaderFieldsTooLarge));
        // The bound holds while the head is still incomplete.
        let mut p = RequestParser::new(Limits { max_head_len: 100, max_headers: 32 });
        assert_eq!(p.parse(&[b'a'; 99]), Ok(Status::NeedMore { needed: 1 }));
        assert_eq!(p.parse(&[b'a'; 100]), Err(RequestError::HeadTooLarge));
        let mut p = RequestParser::new(Limits { max_head_len: 4096, max_headers: 8 });
        assert_eq!(p.parse(REQUEST), Err(RequestError::TooManyHeaders));
        let mut p = RequestParser::new(Limits { max_head_len: REQUEST.len(), max_headers: 9 });
        assert!(p.parse(REQUEST).unwrap().progress().map(|(r, _)| r).is_some());
    }

    #[test]
    fn accept_is_encoded_exactly() {
        let r = parse(REQUEST).unwrap().progress().map(|(r, _)| r).unwrap();
        let protocol = r.select_protocol(&["mqtt", "chat"]);
        assert_eq!(protocol, Some("mqtt"));
        let a = r.accept(protocol).unwrap();
        let mut out = [0u8; 256];
        let n = a.encode(&mut out).unwrap();
        assert_eq!(&out[..n], ACCEPT);
        assert_eq!(a.encoded_len(), n);
        let mut small = [0u8; 100];
        assert_eq!(a.encode(&mut small), Err(EncodeError::BufferTooSmall { required: n }));
        assert_eq!(small, [0u8; 100]);
    }

    #[test]
    fn accept_checks_the_servers_choices() {
        let r = parse(REQUEST).unwrap().progress().map(|(r, _)| r).unwrap();
        assert_eq!(r.select_protocol(&["MQTT", "v2"]), None);
        assert_eq!(r.accept(Some("MQTT")), Err(EncodeError::ProtocolNotOffered));
        assert_eq!(r.accept_with(None, &["x-bar"], &[]), Err(EncodeError::ExtensionNotOffered));
        assert_eq!(
            r.accept_with(None, &[], &[("Upgrade", "x")]),
            Err(EncodeError::InvalidField(Field::ReservedHeader))
        );
        assert_eq!(
            r.accept_with(None, &[], &[("X", "a\r\n")]),
            Err(EncodeError::InvalidField(Field::HeaderValue))
        );
        let a = r.accept_with(None, &["x-foo"], &[("Server", "mqtt-ws")]).unwrap();
        let mut out = [0u8; 256];
        let n = a.encode(&mut out).unwrap();
        assert!(out[..n].ends_with(b"Sec-WebSocket-Extensions: x-foo\r\nServer: mqtt-ws\r\n\r\n"));
    }

    #[test]
    fn rejects_are_encoded_exactly() {
        let mut out = [0u8; 256];
        let n = Reject::BadRequest.encode(&mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        let n = Reject::UpgradeRequired.encode(&mut out).unwrap();
        assert_eq!(
            &out[..n],
            &b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\
Connection: close\r\nContent-Length: 0\r\n\r\n"[..]
        );
        assert_eq!(Reject::UpgradeRequired.encoded_len(), n);
        let n = Reject::Forbidden.encode(&mut out).unwrap();
        assert!(out[..n].starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
        let n = Reject::HeaderFieldsTooLarge.encode(&mut out).unwrap();
        assert!(out[..n].starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let mut small = [0u8; 10];
        assert!(matches!(
            Reject::BadRequest.encode(&mut small),
            Err(EncodeError::BufferTooSmall { required: 66 })
        ));
    }

    #[test]
    fn origin_policy_gives_403() {
        let r = parse(REQUEST).unwrap().progress().map(|(r, _)| r).unwrap();
        let ok = OriginPolicy::allow_list(&["http://example.com"]);
        assert_eq!(r.check_origin(&ok), Ok(()));
        let e = r.check_origin(&OriginPolicy::allow_list(&["https://example.com"])).unwrap_err();
        assert_eq!((e, e.reject().code()), (RequestError::OriginNotAllowed, 403));
        let buf = replaced("Origin: http://example.com\r\n", "");
        let r = parse(&buf).unwrap().progress().map(|(r, _)| r).unwrap();
        assert_eq!(r.check_origin(&ok), Ok(()));
        let strict = ok.missing(MissingOrigin::Refuse);
        assert_eq!(r.check_origin(&strict), Err(RequestError::OriginNotAllowed));
    }

    /// The request reported by a server machine that read `REQUEST` whole.
    fn reported(s: &mut Server<'static>) -> Request<'static> {
        match s.handle_input(Instant::ZERO, REQUEST) {
            Ok(Status::Progress { consumed, event: Some(r) }) if consumed == REQUEST.len() => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_server_answers_once_then_speaks_websocket() {
        let now = Instant::ZERO;
        let mut out = [0u8; 256];
        let mut s = Server::default();
        // Nothing to answer yet, nothing to send.
        assert_eq!(s.reject(Reject::Forbidden), Err(EncodeError::NothingToAnswer));
        assert_eq!(s.poll_transmit(now, &mut out), Ok(None));
        let r = reported(&mut s);
        // Awaiting the answer: no more input is read, nothing is sent.
        assert_eq!(s.handle_input(now, REQUEST), Ok(Status::Blocked));
        assert_eq!(s.poll_transmit(now, &mut out), Ok(None));
        let accept = r.accept(Some("mqtt")).unwrap();
        s.accept(accept).unwrap();
        assert_eq!(s.accept(accept), Err(EncodeError::NothingToAnswer));
        assert_eq!(s.handle_input(now, REQUEST), Ok(Status::Blocked));
        assert!(!s.is_accepted());
        let mut small = [0u8; 16];
        let required = ACCEPT.len();
        assert_eq!(s.poll_transmit(now, &mut small), Err(BufferTooSmall { required }));
        assert_eq!(s.poll_transmit(now, &mut out), Ok(Some(required)));
        assert_eq!(&out[..required], ACCEPT);
        assert!(s.is_accepted());
        assert_eq!(s.poll_transmit(now, &mut out), Ok(None));
        assert_eq!(s.handle_input(now, REQUEST), Ok(Status::Closed));
    }

    #[test]
    fn a_request_not_in_by_the_deadline_is_refused_408() {
        let at = Instant::from_millis(1000);
        let mut s = Server::default().with_deadline(at);
        assert_eq!(s.poll_timeout(), Some(at));
        assert_eq!(
            s.handle_input(Instant::ZERO, &REQUEST[..20]),
            Ok(Status::NeedMore { needed: 1 })
        );
        assert_eq!(s.handle_timeout(Instant::from_millis(999)), Ok(()));
        assert_eq!(s.handle_timeout(at), Err(Error::Request(RequestError::Timeout)));
        assert_eq!(s.poll_timeout(), None);
        let mut out = [0u8; 256];
        let n = s.poll_transmit(at, &mut out).unwrap().unwrap();
        assert!(out[..n].starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
        // Once the request is in, the answer is the caller's: the deadline no longer applies.
        let mut s = Server::default().with_deadline(at);
        reported(&mut s);
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.handle_timeout(at), Ok(()));
    }

    #[test]
    fn a_lost_connection_ends_the_handshake() {
        let mut s = Server::default().with_deadline(Instant::from_millis(1000));
        s.connection_lost();
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.handle_input(Instant::ZERO, REQUEST), Ok(Status::Closed));
    }

    #[test]
    fn a_new_buffer_restarts_the_scan() {
        let mut p = RequestParser::default();
        assert_eq!(p.parse(&REQUEST[..50]), Ok(Status::NeedMore { needed: 1 }));
        // A shorter buffer than already scanned: the caller started over.
        assert_eq!(p.parse(&REQUEST[..10]), Ok(Status::NeedMore { needed: 1 }));
        assert!(p.parse(REQUEST).unwrap().progress().map(|(r, _)| r).is_some());
    }
}
