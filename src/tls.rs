//! TLS for `mqtts://` and `wss://` on std: a rustls client session over a std byte stream, exposed
//! as an [`embedded_io`] transport so that the MQTT drivers and [`ws::Stream`](crate::ws) take it
//! like any other.
//!
//! The no_std core knows nothing of TLS; this module exists only with the `tls` feature (std +
//! rustls with the `ring` crypto provider). On a microcontroller the same place is taken by a
//! no_std TLS stack that implements `embedded_io::{Read, Write}` (see `examples/embedded-tls`).
//!
//! Invariants:
//! - [`TlsStream::connect`] returns only after the handshake is complete and the broker's
//!   certificate chain has been verified against the caller's roots and the server name. A wrong
//!   CA or a wrong host name is a [`TlsError::Handshake`] and no MQTT byte is ever sent.
//! - Reads that time out on the socket are reported as [`embedded_io::ErrorKind::TimedOut`]
//!   (the drivers' "no bytes yet"), exactly like [`StdIo`](crate::io::StdIo) does for plain TCP.
//! - A TLS `close_notify` from the peer is end of stream (`Ok(0)`).
//!
//! ```no_run
//! use mqtt_ws::tls::{TlsStream, client_config};
//! let ca = std::fs::read("ca.pem").unwrap();
//! let config = client_config(&ca).unwrap();
//! let tcp = std::net::TcpStream::connect("broker.local:8883").unwrap();
//! let tls = TlsStream::connect(config, "broker.local", tcp).unwrap();
//! // `tls` is an `embedded_io::Read + Write`: hand it to `io::blocking::Connection::new`,
//! // or to `ws::stream::Stream` for `wss://`.
//! # let _ = tls;
//! ```

use std::borrow::ToOwned;
use std::io::{self, Read as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::vec::Vec;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// The rustls version this module is built on, for its configuration and error types.
pub use rustls;

/// How long [`TlsStream::connect`] waits for the handshake when the socket has a read timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a TLS client could not be set up or could not connect.
///
/// Not `Clone`/`PartialEq`: it may carry a [`std::io::Error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The CA file (or client certificate file) holds no PEM certificate.
    NoCertificates,
    /// A PEM section could not be parsed.
    Pem(rustls::pki_types::pem::Error),
    /// The client key file holds no private key.
    NoPrivateKey,
    /// A CA certificate, client certificate or key was rejected by rustls.
    Config(rustls::Error),
    /// The server name is neither a DNS name nor an IP address.
    InvalidServerName,
    /// The TLS handshake failed: the broker's certificate is not signed by a trusted CA
    /// (`InvalidCertificate(UnknownIssuer)`), is not valid for the server name
    /// (`InvalidCertificate(NotValidForName..)`), has expired, or the peer sent an alert.
    Handshake(rustls::Error),
    /// The handshake did not finish within [`HANDSHAKE_TIMEOUT`].
    HandshakeTimeout,
    /// The peer closed (or reset) the connection during the handshake, as a server that does
    /// not speak TLS on that port does.
    Closed,
    /// The socket failed.
    Io(io::Error),
}

impl core::fmt::Display for TlsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TlsError::NoCertificates => f.write_str("no PEM certificate found"),
            TlsError::Pem(e) => write!(f, "bad PEM: {e}"),
            TlsError::NoPrivateKey => f.write_str("no PEM private key found"),
            TlsError::Config(e) => write!(f, "TLS configuration: {e}"),
            TlsError::InvalidServerName => f.write_str("invalid TLS server name"),
            TlsError::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            TlsError::HandshakeTimeout => f.write_str("TLS handshake timed out"),
            TlsError::Closed => {
                f.write_str("the peer closed the connection during the TLS handshake")
            }
            TlsError::Io(e) => write!(f, "TLS socket: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::Pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates);
    }
    Ok(certs)
}

fn roots(ca_pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca_pem)? {
        roots.add(cert).map_err(TlsError::Config)?;
    }
    Ok(roots)
}

fn builder(
    ca_pem: &[u8],
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_root_certificates(roots(ca_pem)?))
}

/// A client configuration that trusts exactly the CA certificates in `ca_pem` (PEM, one or
/// more), TLS 1.2 and 1.3, ring crypto, no client certificate.
pub fn client_config(ca_pem: &[u8]) -> Result<Arc<ClientConfig>, TlsError> {
    Ok(Arc::new(builder(ca_pem)?.with_no_client_auth()))
}

/// A client configuration that trusts the operating system's root certificates (its CA store,
/// or `SSL_CERT_FILE` / `SSL_CERT_DIR`), TLS 1.2 and 1.3, ring crypto, no client certificate.
/// Loaded once per process; [`NoCertificates`](TlsError::NoCertificates) when the store holds
/// none that parse.
pub fn system_config() -> Result<Arc<ClientConfig>, TlsError> {
    static SYSTEM: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    if let Some(config) = SYSTEM.get() {
        return Ok(config.clone());
    }
    let mut roots = RootCertStore::empty();
    let (added, _ignored) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if added == 0 {
        return Err(TlsError::NoCertificates);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(SYSTEM.get_or_init(|| Arc::new(config)).clone())
}

/// Like [`client_config`], and authenticates with the client certificate chain `cert_pem` and
/// its private key `key_pem` (PKCS#8, PKCS#1 or SEC1, PEM).
pub fn client_config_with_auth(
    ca_pem: &[u8],
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<ClientConfig>, TlsError> {
    let chain = certificates(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey,
        e => TlsError::Pem(e),
    })?;
    let config = builder(ca_pem)?.with_client_auth_cert(chain, key).map_err(TlsError::Config)?;
    Ok(Arc::new(config))
}

/// `true` for the error kinds a socket read timeout produces.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The rustls error inside an I/O error returned by rustls, if any.
pub(crate) fn tls_cause(e: &io::Error) -> Option<rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).cloned()
}

/// A verified TLS client session over the byte stream `T` (usually a `TcpStream`), usable as an
/// [`embedded_io::Read`] + [`embedded_io::Write`] transport.
#[derive(Debug)]
pub struct TlsStream<T> {
    conn: ClientConnection,
    sock: T,
}

impl<T: io::Read + io::Write> TlsStream<T> {
    /// Runs the handshake with `server_name` (a DNS name or an IP address, checked against the
    /// certificate) over `sock` and verifies the certificate chain against `config`'s roots.
    ///
    /// If `sock` has a read timeout, the handshake is retried until [`HANDSHAKE_TIMEOUT`].
    pub fn connect(
        config: Arc<ClientConfig>,
        server_name: &str,
        mut sock: T,
    ) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::InvalidServerName)?;
        let mut conn = ClientConnection::new(config, name).map_err(TlsError::Config)?;
        let start = Instant::now();
        while conn.is_handshaking() {
            match conn.complete_io(&mut sock) {
                Ok((0, 0)) if conn.is_handshaking() => return Err(TlsError::Closed),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    if start.elapsed() > HANDSHAKE_TIMEOUT {
                        return Err(TlsError::HandshakeTimeout);
                    }
                }
                Err(e) => {
                    return Err(match tls_cause(&e) {
                        Some(cause) => TlsError::Handshake(cause),
                        None if matches!(
                            e.kind(),
                            io::ErrorKind::UnexpectedEof
                                | io::ErrorKind::ConnectionReset
                                | io::ErrorKind::ConnectionAborted
                                | io::ErrorKind::BrokenPipe
                        ) =>
                        {
                            TlsError::Closed
                        }
                        None => TlsError::Io(e),
                    });
                }
            }
        }
        Ok(Self { conn, sock })
    }

    /// The rustls session (negotiated version, cipher suite, ALPN, peer certificates).
    pub fn session(&self) -> &ClientConnection {
        &self.conn
    }

    /// The underlying byte stream (for example to change its read timeout).
    pub fn socket(&mut self) -> &mut T {
        &mut self.sock
    }

    /// Sends a TLS `close_notify` alert and flushes it.
    pub fn close(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        self.sock.flush()
    }
}

impl<T> embedded_io::ErrorType for TlsStream<T> {
    type Error = io::Error;
}

impl<T: io::Read + io::Write> embedded_io::Read for TlsStream<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        rustls::Stream::new(&mut self.conn, &mut self.sock)
            .read(buf)
            .map_err(|e| if is_timeout(&e) { io::ErrorKind::TimedOut.into() } else { e })
    }
}

impl<T: io::Read + io::Write> embedded_io::Write for TlsStream<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        rustls::Stream::new(&mut self.conn, &mut self.sock).write(buf)
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        rustls::Stream::new(&mut self.conn, &mut self.sock).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_certificate_in_ca_file() {
        assert!(matches!(client_config(b""), Err(TlsError::NoCertificates)));
        assert!(matches!(client_config(b"not a pem file\n"), Err(TlsError::NoCertificates)));
    }

    #[test]
    fn garbage_certificate_is_rejected() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(client_config(pem), Err(TlsError::Config(_))));
    }

    #[cfg(unix)]
    fn test_config() -> Arc<ClientConfig> {
        // Any well-formed CA will do: these tests never get as far as a certificate.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        )
    }

    #[cfg(unix)]
    #[test]
    fn invalid_server_name() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        for name in ["", "not a host name", "bad..name"] {
            let r = TlsStream::connect(test_config(), name, &a);
            assert!(matches!(r, Err(TlsError::InvalidServerName)), "{name}: {r:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn peer_closing_during_the_handshake() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(b);
        let r = TlsStream::connect(test_config(), "localhost", &a);
        assert!(matches!(r, Err(TlsError::Closed)), "{r:?}");
    }

    #[cfg(unix)]
    #[test]
    fn garbage_from_the_peer_is_a_handshake_error() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
        let r = TlsStream::connect(test_config(), "localhost", &a);
        assert!(matches!(r, Err(TlsError::Handshake(_))), "{r:?}");
    }

    #[test]
    fn bad_base64_is_a_pem_error() {
        let pem = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(client_config(pem), Err(TlsError::Pem(_))));
    }

    /// `label` PEM of `der`.
    fn pem(label: &str, der: &[u8]) -> Vec<u8> {
        use base64ct::{Base64, Encoding};
        let b64 = Base64::encode_string(der);
        let body: Vec<&str> =
            b64.as_bytes().chunks(64).map(|l| core::str::from_utf8(l).unwrap()).collect();
        std::format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", body.join("\n"))
            .into_bytes()
    }

    /// A self-signed certificate for `localhost` and its PKCS#8 key, in PEM.
    fn made() -> (Vec<u8>, Vec<u8>) {
        let made = rcgen::generate_simple_self_signed(std::vec!["localhost".into()]).unwrap();
        (pem("CERTIFICATE", made.cert.der()), pem("PRIVATE KEY", &made.signing_key.serialize_der()))
    }

    #[test]
    fn a_client_certificate_and_its_key() {
        let (cert, key) = made();
        let config = client_config_with_auth(&cert, &cert, &key).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
        // No key in the key file; a key that is not base64; no certificate in the chain file.
        let r = client_config_with_auth(&cert, &cert, b"nothing here\n");
        assert!(matches!(r, Err(TlsError::NoPrivateKey)), "{r:?}");
        let r = client_config_with_auth(
            &cert,
            &cert,
            b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n",
        );
        assert!(matches!(r, Err(TlsError::Pem(_))), "{r:?}");
        let r = client_config_with_auth(&cert, b"", &key);
        assert!(matches!(r, Err(TlsError::NoCertificates)), "{r:?}");
        // A key that is not the certificate's.
        let (_, other_key) = made();
        let r = client_config_with_auth(&cert, &cert, &other_key);
        assert!(matches!(r, Err(TlsError::Config(_))), "{r:?}");
    }

    #[test]
    fn every_error_says_what_failed() {
        let cases: Vec<(TlsError, &str)> = std::vec![
            (TlsError::NoCertificates, "no PEM certificate found"),
            (TlsError::NoPrivateKey, "no PEM private key found"),
            (TlsError::InvalidServerName, "invalid TLS server name"),
            (TlsError::HandshakeTimeout, "TLS handshake timed out"),
            (TlsError::Closed, "the peer closed the connection during the TLS handshake"),
            (TlsError::Io(io::Error::other("reset")), "TLS socket: reset"),
            (
                TlsError::Config(rustls::Error::General("x".into())),
                "TLS configuration: unexpected error: x",
            ),
            (
                TlsError::Handshake(rustls::Error::DecryptError),
                "TLS handshake failed: cannot decrypt peer's message",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(std::string::ToString::to_string(&e), text);
        }
        let pem = TlsError::Pem(rustls::pki_types::pem::Error::NoItemsFound);
        assert!(std::string::ToString::to_string(&pem).starts_with("bad PEM: "));
    }

    /// A whole handshake over a socket pair, the server on a thread: the session, the socket,
    /// data both ways and the close_notify.
    #[cfg(unix)]
    #[test]
    fn a_handshake_data_and_close_notify() {
        use std::io::{Read, Write};
        let made = rcgen::generate_simple_self_signed(std::vec!["localhost".into()]).unwrap();
        let ca = pem("CERTIFICATE", made.cert.der());
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(std::vec![made.cert.der().clone()], key.into())
            .unwrap();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let peer = std::thread::spawn(move || {
            let mut conn = rustls::ServerConnection::new(Arc::new(server)).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut b);
            let mut got = [0u8; 5];
            tls.read_exact(&mut got).unwrap();
            tls.write_all(b"pong!").unwrap();
            // The client's close_notify ends the stream cleanly.
            let mut rest = Vec::new();
            tls.read_to_end(&mut rest).unwrap();
            (got, rest)
        });
        let mut tls = TlsStream::connect(client_config(&ca).unwrap(), "localhost", a).unwrap();
        assert!(tls.session().protocol_version().is_some());
        tls.socket().set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        embedded_io::Write::write_all(&mut tls, b"ping!").unwrap();
        embedded_io::Write::flush(&mut tls).unwrap();
        let mut answer = [0u8; 5];
        embedded_io::Read::read_exact(&mut tls, &mut answer).unwrap();
        assert_eq!(&answer, b"pong!");
        tls.close().unwrap();
        let (got, rest) = peer.join().unwrap();
        assert_eq!((&got, rest.len()), (b"ping!", 0));
    }
}
