//! The one error type of the std layer.

use core::fmt;
use std::io;

use super::url::UrlError;
use crate::io::DriverError;

/// Why a connect helper or a std client failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL does not parse.
    Url(UrlError),
    /// The socket failed (connect, read, write), or the connection ended.
    Io(io::Error),
    /// The operating system gave no randomness.
    Random(getrandom::Error),
    /// The TLS handshake or configuration failed.
    #[cfg(feature = "tls")]
    Tls(crate::tls::TlsError),
    /// The URL asks for TLS but no TLS is built in: the `tls` feature (and `tokio-tls` on
    /// tokio).
    TlsUnavailable,
    /// The WebSocket opening handshake failed.
    #[cfg(feature = "ws")]
    Handshake(crate::ws::handshake::Error),
    /// The server did not accept the WebSocket subprotocol asked for.
    #[cfg(feature = "ws")]
    Subprotocol,
    /// The WebSocket connection failed (a protocol fault of the peer, with the close code sent).
    #[cfg(feature = "ws")]
    WebSocket(crate::ws::Error),
    /// The MQTT session failed, or refused a command.
    #[cfg(feature = "mqtt")]
    Mqtt(crate::mqtt::client::Error),
    /// The broker refused the connection (CONNACK with this reason code).
    #[cfg(feature = "mqtt")]
    Refused(crate::mqtt::ReasonCode),
    /// No answer in time (CONNACK, the opening handshake).
    Timeout,
    /// The connection is closed.
    Closed,
    /// A message does not fit the buffers the options sized.
    BufferTooSmall {
        /// Bytes required.
        required: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "{e}"),
            Error::Random(e) => write!(f, "no randomness from the operating system: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS: {e}"),
            Error::TlsUnavailable => {
                f.write_str("TLS needs the `tls` feature (`tokio-tls` on tokio)")
            }
            #[cfg(feature = "ws")]
            Error::Handshake(e) => write!(f, "WebSocket handshake: {e}"),
            #[cfg(feature = "ws")]
            Error::Subprotocol => {
                f.write_str("the server did not accept the WebSocket subprotocol")
            }
            #[cfg(feature = "ws")]
            Error::WebSocket(e) => write!(f, "WebSocket: {e}"),
            #[cfg(feature = "mqtt")]
            Error::Mqtt(e) => write!(f, "MQTT: {e}"),
            #[cfg(feature = "mqtt")]
            Error::Refused(r) => write!(f, "the broker refused the connection: {r:?}"),
            Error::Timeout => f.write_str("no answer in time"),
            Error::Closed => f.write_str("the connection is closed"),
            Error::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::Url(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<getrandom::Error> for Error {
    fn from(e: getrandom::Error) -> Self {
        Error::Random(e)
    }
}

#[cfg(feature = "tls")]
impl From<crate::tls::TlsError> for Error {
    fn from(e: crate::tls::TlsError) -> Self {
        Error::Tls(e)
    }
}

#[cfg(feature = "ws")]
impl From<crate::ws::handshake::Error> for Error {
    fn from(e: crate::ws::handshake::Error) -> Self {
        Error::Handshake(e)
    }
}

#[cfg(feature = "ws")]
impl From<crate::ws::handshake::EncodeError> for Error {
    fn from(e: crate::ws::handshake::EncodeError) -> Self {
        Error::Handshake(e.into())
    }
}

#[cfg(feature = "ws")]
impl From<crate::ws::Error> for Error {
    fn from(e: crate::ws::Error) -> Self {
        Error::WebSocket(e)
    }
}

#[cfg(feature = "mqtt")]
impl From<crate::mqtt::client::Error> for Error {
    fn from(e: crate::mqtt::client::Error) -> Self {
        Error::Mqtt(e)
    }
}

impl<M: Into<Error>> From<DriverError<io::Error, M>> for Error {
    fn from(e: DriverError<io::Error, M>) -> Self {
        match e {
            DriverError::Machine(m) => m.into(),
            DriverError::Transport(e) => Error::Io(e),
            DriverError::Eof => Error::Io(io::ErrorKind::UnexpectedEof.into()),
            DriverError::ReceiveBufferTooSmall { required }
            | DriverError::TransmitBufferTooSmall { required } => {
                Error::BufferTooSmall { required }
            }
            _ => Error::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn each_error_says_what_failed() {
        let io = || io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let cases: Vec<(Error, &str)> = vec![
            (UrlError::Port.into(), "the URL's port is not a number from 1 to 65535"),
            (io().into(), "refused"),
            (Error::TlsUnavailable, "TLS needs the `tls` feature (`tokio-tls` on tokio)"),
            (Error::Timeout, "no answer in time"),
            (Error::Closed, "the connection is closed"),
            (Error::BufferTooSmall { required: 5 }, "buffer too small: 5 bytes required"),
            #[cfg(feature = "tls")]
            (crate::tls::TlsError::NoCertificates.into(), "TLS: no PEM certificate found"),
            #[cfg(feature = "ws")]
            (
                crate::ws::handshake::Error::from(crate::ws::handshake::ResponseError::Status(404))
                    .into(),
                "WebSocket handshake: server answered 404 instead of 101",
            ),
            #[cfg(feature = "ws")]
            (
                crate::ws::handshake::EncodeError::NothingToAnswer.into(),
                "WebSocket handshake: no request waits for an answer",
            ),
            #[cfg(feature = "ws")]
            (Error::Subprotocol, "the server did not accept the WebSocket subprotocol"),
            #[cfg(feature = "ws")]
            (
                crate::ws::Error::Usage(crate::ws::error::UsageError::Closed).into(),
                "WebSocket: websocket usage error Closed",
            ),
            #[cfg(feature = "mqtt")]
            (
                crate::mqtt::client::Error::Usage(crate::mqtt::client::UsageError::NotConnected)
                    .into(),
                "MQTT: MQTT client: NotConnected",
            ),
            #[cfg(feature = "mqtt")]
            (
                Error::Refused(crate::mqtt::ReasonCode::NotAuthorized),
                "the broker refused the connection: NotAuthorized",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text, "{e:?}");
        }
        let random = Error::from(getrandom::Error::UNSUPPORTED).to_string();
        assert!(random.starts_with("no randomness from the operating system: "), "{random}");
    }

    #[test]
    fn the_socket_and_tls_errors_are_the_source() {
        let e = Error::from(io::Error::other("reset"));
        assert_eq!(e.source().map(ToString::to_string).as_deref(), Some("reset"));
        #[cfg(feature = "tls")]
        {
            let e = Error::from(crate::tls::TlsError::NoPrivateKey);
            assert!(e.source().is_some());
        }
        assert!(Error::Timeout.source().is_none());
    }

    #[test]
    fn a_driver_error_becomes_the_error_of_its_layer() {
        type D = DriverError<io::Error, Error>;
        let of = |d: D| Error::from(d);
        assert!(matches!(of(D::Machine(Error::Timeout)), Error::Timeout));
        let transport = of(D::Transport(io::Error::other("x")));
        assert!(matches!(transport, Error::Io(ref e) if e.to_string() == "x"));
        let eof = of(D::Eof);
        assert!(matches!(eof, Error::Io(ref e) if e.kind() == io::ErrorKind::UnexpectedEof));
        let rx = of(D::ReceiveBufferTooSmall { required: 9 });
        assert!(matches!(rx, Error::BufferTooSmall { required: 9 }));
        let tx = of(D::TransmitBufferTooSmall { required: 10 });
        assert!(matches!(tx, Error::BufferTooSmall { required: 10 }));
        assert!(matches!(of(D::Closed), Error::Closed));
        assert!(matches!(of(D::Blocked), Error::Closed));
    }
}
