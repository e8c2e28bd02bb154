//! Errors of the opening handshake.
//!
//! Local misuse (the caller gave something that cannot be sent) is [`EncodeError`]; remote
//! faults are [`RequestError`] (a client's request, seen by a server: it says which status to
//! answer with) and [`ResponseError`] (a server's response, seen by a client).

/// Any handshake error: the peer's fault ([`RequestError`] seen by a server, [`ResponseError`]
/// seen by a client), or the caller's ([`EncodeError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The client's request is refused; the server queued its rejection.
    Request(RequestError),
    /// The server's response is refused; the client closes the connection.
    Response(ResponseError),
    /// The caller's value cannot be sent, or the command does not fit the handshake's state.
    Encode(EncodeError),
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Error::Request(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Self {
        Error::Response(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::Encode(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Request(e) => e.fmt(f),
            Error::Response(e) => e.fmt(f),
            Error::Encode(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for Error {}

/// Why a request, response or header list could not be encoded. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// `out` is too small; `required` bytes would fit.
    BufferTooSmall {
        /// The exact number of bytes the encoding takes.
        required: usize,
    },
    /// A value the caller gave cannot go on the wire (see [`Field`]).
    InvalidField(Field),
    /// The server chose a subprotocol the client did not offer (RFC 6455 §4.2.2 item 5).
    ProtocolNotOffered,
    /// The server accepted an extension the client did not offer (RFC 6455 §9.1).
    ExtensionNotOffered,
    /// An answer to a request that is not waiting for one.
    NothingToAnswer,
}

/// The caller-given value an [`EncodeError::InvalidField`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field {
    /// The host (`Host` / `:authority`): empty, or holds whitespace or control bytes.
    Host,
    /// The path: empty, or holds whitespace or control bytes.
    Path,
    /// The scheme (`:scheme`) is not a token such as `https`.
    Scheme,
    /// A subprotocol is not an RFC 9110 token (RFC 6455 §4.1 item 10).
    Protocol,
    /// An extension offer holds a control byte or is empty.
    Extension,
    /// An extra header's name is not a token.
    HeaderName,
    /// An extra header's value holds a control byte.
    HeaderValue,
    /// An extra header would repeat one the handshake writes itself (`Host`, `Upgrade`,
    /// `Connection`, `Sec-WebSocket-*`, or a pseudo-header).
    ReservedHeader,
    /// The `Origin` value holds whitespace or control bytes.
    Origin,
}

/// What a server answers a refused handshake with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reject {
    /// `400 Bad Request`: the request is not a valid WebSocket handshake (RFC 6455 §4.2.2).
    BadRequest,
    /// `403 Forbidden`: the `Origin` is not allowed (RFC 6455 §4.2.2 item 4, §10.2).
    Forbidden,
    /// `404 Not Found`: no WebSocket service at the requested path (RFC 6455 §4.2.2 item 1
    /// mentions it for a service that is not available).
    NotFound,
    /// `426 Upgrade Required` with `Sec-WebSocket-Version: 13`: the client speaks another
    /// version (RFC 6455 §4.4).
    UpgradeRequired,
    /// `431 Request Header Fields Too Large` (RFC 6585 §5): the head exceeds the
    /// [`Limits`](super::Limits).
    HeaderFieldsTooLarge,
    /// `408 Request Timeout` (RFC 9110 §15.5.9): the request head did not arrive by the
    /// handshake's deadline.
    RequestTimeout,
}

impl Reject {
    /// The status code.
    pub const fn code(self) -> u16 {
        match self {
            Reject::BadRequest => 400,
            Reject::Forbidden => 403,
            Reject::NotFound => 404,
            Reject::UpgradeRequired => 426,
            Reject::HeaderFieldsTooLarge => 431,
            Reject::RequestTimeout => 408,
        }
    }

    /// The status code as three ASCII digits (for an HTTP/2 or HTTP/3 `:status`).
    pub const fn code_str(self) -> &'static str {
        match self {
            Reject::BadRequest => "400",
            Reject::Forbidden => "403",
            Reject::NotFound => "404",
            Reject::UpgradeRequired => "426",
            Reject::HeaderFieldsTooLarge => "431",
            Reject::RequestTimeout => "408",
        }
    }

    /// The HTTP/1.1 reason phrase.
    pub const fn reason(self) -> &'static str {
        match self {
            Reject::BadRequest => "Bad Request",
            Reject::Forbidden => "Forbidden",
            Reject::NotFound => "Not Found",
            Reject::UpgradeRequired => "Upgrade Required",
            Reject::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Reject::RequestTimeout => "Request Timeout",
        }
    }

    fn emit(self, w: &mut dyn super::head::Put) {
        w.put_str("HTTP/1.1 ");
        w.put_str(self.code_str());
        w.put_str(" ");
        w.put_str(self.reason());
        w.put_str("\r\n");
        if self == Reject::UpgradeRequired {
            // RFC 6455 §4.4; RFC 9110 §15.5.22 requires an Upgrade field with 426.
            w.put_str("Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n");
        }
        w.put_str("Connection: close\r\nContent-Length: 0\r\n\r\n");
    }

    /// The exact size of the HTTP/1.1 response [`encode`](Self::encode) writes.
    pub fn encoded_len(self) -> usize {
        let mut c = super::head::Count(0);
        self.emit(&mut c);
        c.0
    }

    /// Writes the complete HTTP/1.1 response (no body, `Connection: close`) into `out` and
    /// returns its length. After sending it the server closes the connection.
    pub fn encode(self, out: &mut [u8]) -> Result<usize, EncodeError> {
        super::head::encode_with(out, |w| self.emit(w))
    }
}

/// Why a server refuses a client's HTTP/1.1 handshake request (a remote fault). Answer with
/// [`RequestError::reject`], then close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RequestError {
    /// The head is longer than [`Limits::max_head_len`](super::Limits::max_head_len).
    HeadTooLarge,
    /// The head has more lines than [`Limits::max_headers`](super::Limits::max_headers).
    TooManyHeaders,
    /// The request line or a header line is not valid HTTP/1.1 (RFC 9112 §3, §5).
    Malformed,
    /// The method is not `GET` (RFC 6455 §4.2.1 item 1).
    MethodNotGet,
    /// The version is not `HTTP/1.1` (RFC 6455 §4.2.1 item 1).
    HttpVersion,
    /// `Host` is missing or appears twice (RFC 6455 §4.2.1 item 2, RFC 9112 §3.2).
    Host,
    /// A field that must appear once appears twice (RFC 6455 §11.3.1, §11.3.5).
    DuplicateHeader,
    /// `Upgrade` does not list `websocket` (RFC 6455 §4.2.1 item 3).
    Upgrade,
    /// `Connection` does not list `Upgrade` (RFC 6455 §4.2.1 item 4).
    Connection,
    /// `Sec-WebSocket-Key` is missing or not the base64 of 16 bytes (RFC 6455 §4.2.1 item 5).
    Key,
    /// `Sec-WebSocket-Version` is missing (RFC 6455 §4.2.1 item 6).
    MissingVersion,
    /// `Sec-WebSocket-Version` is not `13` (RFC 6455 §4.4): answer 426.
    UnsupportedVersion,
    /// A `Sec-WebSocket-Protocol` element is not a token, or a WebSocket field holds non-ASCII
    /// bytes (RFC 6455 §4.1 item 10, §4.2.1).
    InvalidField,
    /// The `Origin` is refused by the server's [`OriginPolicy`](super::OriginPolicy)
    /// (RFC 6455 §10.2): answer 403.
    OriginNotAllowed,
    /// The request head did not arrive by the handshake's deadline: answer 408.
    Timeout,
}

impl RequestError {
    /// The response this fault calls for.
    pub const fn reject(self) -> Reject {
        match self {
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => {
                Reject::HeaderFieldsTooLarge
            }
            RequestError::UnsupportedVersion => Reject::UpgradeRequired,
            RequestError::OriginNotAllowed => Reject::Forbidden,
            RequestError::Timeout => Reject::RequestTimeout,
            _ => Reject::BadRequest,
        }
    }
}

/// A request that fails a check is refused with the status its fault calls for, so `?` works in
/// the decision of a server handshake (`req.check_origin(&policy)?`).
impl From<RequestError> for Reject {
    fn from(e: RequestError) -> Self {
        e.reject()
    }
}

/// Why a client refuses a server's HTTP/1.1 handshake response (a remote fault). The client
/// closes the connection without sending a WebSocket Close frame (RFC 6455 §4.1: "_Fail the
/// WebSocket Connection_" before it is established).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ResponseError {
    /// The head is longer than [`Limits::max_head_len`](super::Limits::max_head_len).
    HeadTooLarge,
    /// The head has more lines than [`Limits::max_headers`](super::Limits::max_headers).
    TooManyHeaders,
    /// The status line or a header line is not valid HTTP/1.1 (RFC 9112 §4, §5).
    Malformed,
    /// The status is not `101` (RFC 6455 §4.1 client check 1); the server's code is kept, e.g.
    /// 401 to retry with credentials, 403 for a refused `Origin`, 426 for another version.
    Status(u16),
    /// `Upgrade` does not list `websocket` (RFC 6455 §4.1 client check 2).
    Upgrade,
    /// `Connection` does not list `Upgrade` (RFC 6455 §4.1 client check 3).
    Connection,
    /// `Sec-WebSocket-Accept` is missing, repeated or wrong (RFC 6455 §4.1 client check 4).
    Accept,
    /// The server chose a subprotocol the client did not offer, or several (RFC 6455 §4.1
    /// client check 6).
    Protocol,
    /// The server accepted an extension the client did not offer (RFC 6455 §4.1 client
    /// check 5).
    Extension,
    /// The response head did not arrive by the handshake's deadline.
    Timeout,
}

impl core::error::Error for EncodeError {}

impl EncodeError {
    /// The error of encoding what a state machine built and checked itself, where only the
    /// buffer can be too small: [`BufferTooSmall`](crate::BufferTooSmall) (any other error, which
    /// cannot happen, as one no buffer satisfies).
    pub(crate) fn into_buffer_too_small(self) -> crate::BufferTooSmall {
        match self {
            EncodeError::BufferTooSmall { required } => crate::BufferTooSmall { required },
            _ => crate::BufferTooSmall { required: usize::MAX },
        }
    }
}
impl core::error::Error for RequestError {}
impl core::error::Error for ResponseError {}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
            EncodeError::InvalidField(field) => write!(f, "invalid value for {field:?}"),
            EncodeError::ProtocolNotOffered => f.write_str("subprotocol was not offered"),
            EncodeError::ExtensionNotOffered => f.write_str("extension was not offered"),
            EncodeError::NothingToAnswer => f.write_str("no request waits for an answer"),
        }
    }
}

impl core::fmt::Display for RequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bad WebSocket handshake request ({self:?}), answer {}", self.reject().code())
    }
}

impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResponseError::Status(code) => write!(f, "server answered {code} instead of 101"),
            other => write!(f, "bad WebSocket handshake response ({other:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;
    use std::vec::Vec;

    use super::*;

    const REJECTS: [Reject; 6] = [
        Reject::BadRequest,
        Reject::Forbidden,
        Reject::NotFound,
        Reject::UpgradeRequired,
        Reject::HeaderFieldsTooLarge,
        Reject::RequestTimeout,
    ];

    #[test]
    fn every_refusal_is_a_whole_http_response_with_its_status() {
        for r in REJECTS {
            assert_eq!(r.code_str(), r.code().to_string());
            let mut out = [0u8; 256];
            let n = r.encode(&mut out).unwrap();
            assert_eq!(n, r.encoded_len());
            let text = core::str::from_utf8(&out[..n]).unwrap();
            let status = std::format!("HTTP/1.1 {} {}\r\n", r.code(), r.reason());
            assert!(text.starts_with(&status), "{text:?}");
            assert!(text.ends_with("Connection: close\r\nContent-Length: 0\r\n\r\n"), "{text:?}");
            // RFC 6455 §4.4: a 426 names the version the server speaks.
            let names_version = text.contains("Sec-WebSocket-Version: 13\r\n");
            assert_eq!(names_version, r == Reject::UpgradeRequired, "{text:?}");
            // One byte short: nothing written, the size asked for.
            let mut short = [0u8; 256];
            assert_eq!(
                r.encode(&mut short[..n - 1]),
                Err(EncodeError::BufferTooSmall { required: n })
            );
        }
    }

    #[test]
    fn each_request_fault_is_answered_with_the_status_it_calls_for() {
        use RequestError::*;
        let cases = [
            (HeadTooLarge, 431),
            (TooManyHeaders, 431),
            (Malformed, 400),
            (MethodNotGet, 400),
            (HttpVersion, 400),
            (Host, 400),
            (DuplicateHeader, 400),
            (Upgrade, 400),
            (Connection, 400),
            (Key, 400),
            (MissingVersion, 400),
            (UnsupportedVersion, 426),
            (InvalidField, 400),
            (OriginNotAllowed, 403),
            (Timeout, 408),
        ];
        for (e, code) in cases {
            assert_eq!(e.reject().code(), code, "{e:?}");
            assert_eq!(Reject::from(e), e.reject());
            let text = Error::from(e).to_string();
            assert_eq!(
                text,
                std::format!("bad WebSocket handshake request ({e:?}), answer {code}")
            );
        }
    }

    #[test]
    fn messages_say_which_fault() {
        use ResponseError as R;
        let response = [
            R::HeadTooLarge,
            R::TooManyHeaders,
            R::Malformed,
            R::Upgrade,
            R::Connection,
            R::Accept,
            R::Protocol,
            R::Extension,
            R::Timeout,
        ];
        for e in response {
            let text = Error::from(e).to_string();
            assert_eq!(text, std::format!("bad WebSocket handshake response ({e:?})"));
        }
        assert_eq!(Error::from(R::Status(403)).to_string(), "server answered 403 instead of 101");
        let encode: Vec<(EncodeError, &str)> = std::vec![
            (EncodeError::BufferTooSmall { required: 7 }, "buffer too small: 7 bytes required"),
            (EncodeError::InvalidField(Field::Origin), "invalid value for Origin"),
            (EncodeError::ProtocolNotOffered, "subprotocol was not offered"),
            (EncodeError::ExtensionNotOffered, "extension was not offered"),
            (EncodeError::NothingToAnswer, "no request waits for an answer"),
        ];
        for (e, text) in encode {
            assert_eq!(Error::from(e).to_string(), text);
        }
        // Only a full buffer is a size; anything else cannot be satisfied by any buffer.
        let sized = EncodeError::BufferTooSmall { required: 9 }.into_buffer_too_small();
        assert_eq!(sized.required, 9);
        let never = EncodeError::NothingToAnswer.into_buffer_too_small();
        assert_eq!(never.required, usize::MAX);
    }
}
