//! The microcontroller path to `mqtts://`: [embedded-tls] (TLS 1.3, no_std, no allocator) over
//! any `embedded_io::{Read, Write}` socket (embassy-net's or smoltcp's TCP socket, a modem's
//! UART), and the mqtt-ws blocking driver on top of the TLS connection, which is itself an
//! `embedded_io` transport. Nothing here needs std or an allocator: every buffer is the
//! caller's, so the whole session can live in a `static` or on the stack.
//!
//! The broker's certificate chain is verified against the caller's CA certificate (DER) and the
//! server name (embedded-tls's `rustpki` verifier: ECDSA P-256 / P-384, Ed25519 and RSA
//! signatures, DNS names). Certificate validity dates are checked only if a [`TlsClock`] that
//! knows the time is supplied; without a real-time clock use [`NoClock`].
//!
//! [embedded-tls]: https://docs.rs/embedded-tls

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::marker::PhantomData;

use embedded_io::{Read, Write};
use embedded_tls::blocking::{
    Aes128GcmSha256, Certificate, CryptoProvider, TlsConfig, TlsConnection, TlsContext, TlsError,
    TlsVerifier,
};
use embedded_tls::pki::CertVerifier;
pub use embedded_tls::{CryptoRngCore, NoClock, TlsClock};
use mqtt_ws::io::DriverError;
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Error as ClientError, Event, Outgoing, SliceStore,
};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;

/// The largest server certificate the verifier holds (DER bytes).
pub const CERT_SIZE: usize = 4096;

/// A TLS record: 16 KiB of plaintext plus header, padding and tag (RFC 8446 §5.2).
pub const RECORD_LEN: usize = 16_384 + 256;

/// The crypto provider: the caller's random generator and a verifier that checks the broker's
/// certificate against one CA certificate and the server name.
pub struct Provider<'a, R, C: TlsClock> {
    rng: R,
    verifier: CertVerifier<'a, Aes128GcmSha256, C, CERT_SIZE>,
    _clock: PhantomData<C>,
}

impl<'a, R: CryptoRngCore, C: TlsClock> Provider<'a, R, C> {
    /// A provider trusting `ca_der` (one X.509 certificate, DER).
    pub fn new(rng: R, ca_der: &'a [u8]) -> Self {
        Self { rng, verifier: CertVerifier::new(Certificate::X509(ca_der)), _clock: PhantomData }
    }
}

impl<R: CryptoRngCore, C: TlsClock> CryptoProvider for Provider<'_, R, C> {
    type CipherSuite = Aes128GcmSha256;
    // No client certificate: the signer is never asked for.
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// Every buffer of a session: TLS records in and out, MQTT packets in and out, and the client's
/// in-flight store.
pub struct Buffers {
    /// Encrypted records read from the socket.
    pub tls_rx: [u8; RECORD_LEN],
    /// Records being written (a smaller buffer caps the record size the client sends).
    pub tls_tx: [u8; 4096],
    /// MQTT receive buffer.
    pub rx: [u8; 1024],
    /// MQTT transmit buffer.
    pub tx: [u8; 1024],
    /// In-flight QoS 1/2 messages.
    pub store: [u8; 2048],
}

impl Buffers {
    /// Zeroed buffers (about 21 KiB).
    pub const fn new() -> Self {
        Self {
            tls_rx: [0; RECORD_LEN],
            tls_tx: [0; 4096],
            rx: [0; 1024],
            tx: [0; 1024],
            store: [0; 2048],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a session failed.
#[derive(Debug)]
pub enum Error {
    /// The TLS handshake failed (a certificate not signed by the CA or not valid for the
    /// server name is `TlsError::InvalidCertificate` or similar).
    Tls(TlsError),
    /// The MQTT session or the TLS transport under it failed.
    Mqtt(DriverError<TlsError, ClientError>),
    /// The broker refused the connection, the subscription or the message.
    Refused(ReasonCode),
}

impl From<DriverError<TlsError, ClientError>> for Error {
    fn from(e: DriverError<TlsError, ClientError>) -> Self {
        Error::Mqtt(e)
    }
}

/// Opens TLS to `server_name` over `socket` (already connected), connects as `client_id`,
/// subscribes to `topic`, publishes `payload` to it at QoS 1 and waits for both the PUBACK and
/// the message coming back; then disconnects. Returns the received payload's length (copied
/// into `out`).
///
/// The socket's `read` blocks until bytes arrive: this walk-through sends no keep-alive ping.
#[allow(clippy::too_many_arguments)]
pub fn publish_and_receive<S: Read + Write, R: CryptoRngCore, C: TlsClock>(
    socket: S,
    provider: Provider<'_, R, C>,
    server_name: &str,
    client_id: &str,
    topic: &str,
    payload: &[u8],
    mut now: impl FnMut() -> Instant,
    bufs: &mut Buffers,
    out: &mut [u8],
) -> Result<usize, Error> {
    let Buffers { tls_rx, tls_tx, rx, tx, store } = bufs;
    let mut tls: TlsConnection<'_, S, Aes128GcmSha256> =
        TlsConnection::new(socket, &mut tls_rx[..], &mut tls_tx[..]);
    let config = TlsConfig::new().with_server_name(server_name);
    tls.open(TlsContext::new(&config, provider)).map_err(Error::Tls)?;

    let client: Client<SliceStore<'_, 4>> =
        Client::new(SliceStore::new(&mut store[..]), Config::new(rx.len()));
    let mut conn = Connection::new(tls, client, &mut rx[..], &mut tx[..]);
    conn.connect(now(), &ConnectOptions::new(client_id))?;
    let (mut acked, mut received) = (false, None);
    while !acked || received.is_none() {
        match conn.poll(now())? {
            Some(Event::Connected(_)) => {
                let subs = [Subscription::new(topic, Qos::AtLeastOnce)];
                conn.subscribe(now(), &subs, Properties::EMPTY)?;
            }
            Some(Event::Refused { reason_code: reason, .. }) => return Err(Error::Refused(reason)),
            Some(Event::Subscribed { reason_codes, .. }) => {
                if let Some(bad) = reason_codes.iter().find(|c| c.is_error()) {
                    return Err(Error::Refused(bad));
                }
                conn.publish(now(), &Outgoing::new(topic, payload).qos(Qos::AtLeastOnce))?;
            }
            Some(Event::Published { reason_code: reason, .. }) => {
                if reason.is_error() {
                    return Err(Error::Refused(reason));
                }
                acked = true;
            }
            Some(Event::Message(m)) => {
                let n = m.payload.len().min(out.len());
                out[..n].copy_from_slice(&m.payload[..n]);
                received = Some(n);
            }
            _ => {}
        }
    }
    conn.flush(now())?;
    conn.disconnect(now(), ReasonCode::NormalDisconnection, Properties::EMPTY)?;
    Ok(received.unwrap_or(0))
}
