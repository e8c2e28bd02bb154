//! HTTP/3 on QUIC for the RFC 9220 tests: the `http3` crate's QUIC traits implemented over
//! quinn, a QUIC server and client on 127.0.0.1 with a self-signed certificate, and a bridge
//! that turns the DATA of one request stream into a tokio byte pipe.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http3::error::Code;
use http3::quic::{self, ConnectionErrorIncoming, StreamErrorIncoming, StreamId, WriteBuf};
use quinn::VarInt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

type Pending<T> =
    Option<Pin<Box<dyn Future<Output = Result<T, quinn::ConnectionError>> + Send + Sync>>>;

/// Polls the future in `slot`, made by `make` when there is none; empties the slot when done.
fn poll_slot<T>(
    slot: &mut Pending<T>,
    cx: &mut Context<'_>,
    make: impl FnOnce()
        -> Pin<Box<dyn Future<Output = Result<T, quinn::ConnectionError>> + Send + Sync>>,
) -> Poll<Result<T, quinn::ConnectionError>> {
    let r = ready!(slot.get_or_insert_with(make).as_mut().poll(cx));
    *slot = None;
    Poll::Ready(r)
}

fn connection_error(e: quinn::ConnectionError) -> ConnectionErrorIncoming {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => {
            ConnectionErrorIncoming::ApplicationClose { error_code: c.error_code.into_inner() }
        }
        quinn::ConnectionError::TimedOut => ConnectionErrorIncoming::Timeout,
        other => ConnectionErrorIncoming::Undefined(Arc::new(other)),
    }
}

fn stream_error(e: quinn::ConnectionError) -> StreamErrorIncoming {
    StreamErrorIncoming::ConnectionErrorIncoming { connection_error: connection_error(e) }
}

fn write_error(e: quinn::WriteError) -> StreamErrorIncoming {
    match e {
        quinn::WriteError::Stopped(code) => {
            StreamErrorIncoming::StreamTerminated { error_code: code.into_inner() }
        }
        quinn::WriteError::ConnectionLost(c) => stream_error(c),
        other => StreamErrorIncoming::Unknown(Box::new(other)),
    }
}

fn read_error(e: quinn::ReadError) -> StreamErrorIncoming {
    match e {
        quinn::ReadError::Reset(code) => {
            StreamErrorIncoming::StreamTerminated { error_code: code.into_inner() }
        }
        quinn::ReadError::ConnectionLost(c) => stream_error(c),
        other => StreamErrorIncoming::Unknown(Box::new(other)),
    }
}

fn var_int(code: u64) -> VarInt {
    VarInt::from_u64(code).unwrap_or(VarInt::MAX)
}

fn stream_id(id: quinn::StreamId) -> StreamId {
    u64::from(id).try_into().expect("a QUIC stream id is an HTTP/3 stream id")
}

/// A quinn connection as `http3::quic::Connection`.
pub struct Conn {
    conn: quinn::Connection,
    uni: Pending<quinn::RecvStream>,
    bidi: Pending<(quinn::SendStream, quinn::RecvStream)>,
    opener: Opener,
}

impl Conn {
    pub fn new(conn: quinn::Connection) -> Self {
        Self { opener: Opener::new(conn.clone()), conn, uni: None, bidi: None }
    }
}

impl<B: Buf> quic::Connection<B> for Conn {
    type RecvStream = RecvHalf;
    type OpenStreams = Opener;

    fn poll_accept_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<RecvHalf, ConnectionErrorIncoming>> {
        let conn = self.conn.clone();
        poll_slot(&mut self.uni, cx, || Box::pin(async move { conn.accept_uni().await }))
            .map(|r| r.map(RecvHalf).map_err(connection_error))
    }

    fn poll_accept_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Bidi<B>, ConnectionErrorIncoming>> {
        let conn = self.conn.clone();
        poll_slot(&mut self.bidi, cx, || Box::pin(async move { conn.accept_bi().await }))
            .map(|r| r.map(Bidi::new).map_err(connection_error))
    }

    fn opener(&self) -> Opener {
        Opener::new(self.conn.clone())
    }
}

impl<B: Buf> quic::OpenStreams<B> for Conn {
    type BidiStream = Bidi<B>;
    type SendStream = SendHalf<B>;

    fn poll_open_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Bidi<B>, StreamErrorIncoming>> {
        quic::OpenStreams::<B>::poll_open_bidi(&mut self.opener, cx)
    }

    fn poll_open_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<SendHalf<B>, StreamErrorIncoming>> {
        quic::OpenStreams::<B>::poll_open_send(&mut self.opener, cx)
    }

    fn close(&mut self, code: Code, reason: &[u8]) {
        self.conn.close(var_int(code.value()), reason);
    }
}

/// Opens streams on a quinn connection.
pub struct Opener {
    conn: quinn::Connection,
    bidi: Pending<(quinn::SendStream, quinn::RecvStream)>,
    uni: Pending<quinn::SendStream>,
}

impl Opener {
    fn new(conn: quinn::Connection) -> Self {
        Self { conn, bidi: None, uni: None }
    }
}

impl<B: Buf> quic::OpenStreams<B> for Opener {
    type BidiStream = Bidi<B>;
    type SendStream = SendHalf<B>;

    fn poll_open_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Bidi<B>, StreamErrorIncoming>> {
        let conn = self.conn.clone();
        poll_slot(&mut self.bidi, cx, || Box::pin(async move { conn.open_bi().await }))
            .map(|r| r.map(Bidi::new).map_err(stream_error))
    }

    fn poll_open_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<SendHalf<B>, StreamErrorIncoming>> {
        let conn = self.conn.clone();
        poll_slot(&mut self.uni, cx, || Box::pin(async move { conn.open_uni().await }))
            .map(|r| r.map(SendHalf::new).map_err(stream_error))
    }

    fn close(&mut self, code: Code, reason: &[u8]) {
        self.conn.close(var_int(code.value()), reason);
    }
}

/// The sending half of a QUIC stream: one frame (header and payload) at a time.
pub struct SendHalf<B: Buf> {
    stream: quinn::SendStream,
    pending: Option<WriteBuf<B>>,
}

impl<B: Buf> SendHalf<B> {
    fn new(stream: quinn::SendStream) -> Self {
        Self { stream, pending: None }
    }
}

impl<B: Buf> quic::SendStream<B> for SendHalf<B> {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        while let Some(buf) = self.pending.as_mut() {
            if !buf.has_remaining() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, buf.chunk()))
                .map_err(write_error)?;
            buf.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    fn send_data<T: Into<WriteBuf<B>>>(&mut self, data: T) -> Result<(), StreamErrorIncoming> {
        assert!(self.pending.is_none(), "send_data before poll_ready finished the last frame");
        self.pending = Some(data.into());
        Ok(())
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        ready!(self.poll_ready(cx))?;
        let _ = self.stream.finish();
        Poll::Ready(Ok(()))
    }

    fn reset(&mut self, reset_code: u64) {
        let _ = self.stream.reset(var_int(reset_code));
    }

    fn send_id(&self) -> StreamId {
        stream_id(self.stream.id())
    }
}

impl<B: Buf> quic::SendStreamUnframed<B> for SendHalf<B> {
    fn poll_send<D: Buf>(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut D,
    ) -> Poll<Result<usize, StreamErrorIncoming>> {
        ready!(quic::SendStream::poll_ready(self, cx))?;
        let n =
            ready!(Pin::new(&mut self.stream).poll_write(cx, buf.chunk())).map_err(write_error)?;
        buf.advance(n);
        Poll::Ready(Ok(n))
    }
}

/// The receiving half of a QUIC stream.
pub struct RecvHalf(quinn::RecvStream);

impl quic::RecvStream for RecvHalf {
    type Buf = Bytes;

    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, StreamErrorIncoming>> {
        let chunk = ready!(pin!(self.0.read_chunk(usize::MAX, true)).poll(cx));
        Poll::Ready(chunk.map(|c| c.map(|c| c.bytes)).map_err(read_error))
    }

    fn stop_sending(&mut self, error_code: u64) {
        let _ = self.0.stop(var_int(error_code));
    }

    fn recv_id(&self) -> StreamId {
        stream_id(self.0.id())
    }
}

/// A bidirectional QUIC stream (a request stream).
pub struct Bidi<B: Buf> {
    send: SendHalf<B>,
    recv: RecvHalf,
}

impl<B: Buf> Bidi<B> {
    fn new((send, recv): (quinn::SendStream, quinn::RecvStream)) -> Self {
        Self { send: SendHalf::new(send), recv: RecvHalf(recv) }
    }
}

impl<B: Buf> quic::SendStream<B> for Bidi<B> {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.send.poll_ready(cx)
    }
    fn send_data<T: Into<WriteBuf<B>>>(&mut self, data: T) -> Result<(), StreamErrorIncoming> {
        self.send.send_data(data)
    }
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.send.poll_finish(cx)
    }
    fn reset(&mut self, reset_code: u64) {
        self.send.reset(reset_code)
    }
    fn send_id(&self) -> StreamId {
        self.send.send_id()
    }
}

impl<B: Buf> quic::RecvStream for Bidi<B> {
    type Buf = Bytes;
    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, StreamErrorIncoming>> {
        self.recv.poll_data(cx)
    }
    fn stop_sending(&mut self, error_code: u64) {
        self.recv.stop_sending(error_code)
    }
    fn recv_id(&self) -> StreamId {
        self.recv.recv_id()
    }
}

impl<B: Buf> quic::SendStreamUnframed<B> for Bidi<B> {
    fn poll_send<D: Buf>(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut D,
    ) -> Poll<Result<usize, StreamErrorIncoming>> {
        self.send.poll_send(cx, buf)
    }
}

impl<B: Buf> quic::BidiStream<B> for Bidi<B> {
    type SendStream = SendHalf<B>;
    type RecvStream = RecvHalf;
    fn split(self) -> (SendHalf<B>, RecvHalf) {
        (self.send, self.recv)
    }
}

// --- Endpoints on 127.0.0.1 ---------------------------------------------------------------

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A QUIC server endpoint on 127.0.0.1 (a fresh self-signed certificate for `localhost`,
/// ALPN `h3`) and a client endpoint that trusts exactly that certificate.
pub fn endpoints() -> (quinn::Endpoint, SocketAddr, quinn::Endpoint) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());

    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .unwrap();
    server.alpn_protocols = vec![b"h3".to_vec()];
    let server = quinn::crypto::rustls::QuicServerConfig::try_from(server).unwrap();
    let server = quinn::Endpoint::server(
        quinn::ServerConfig::with_crypto(Arc::new(server)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h3".to_vec()];
    let client = quinn::crypto::rustls::QuicClientConfig::try_from(client).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(client)));
    (server, addr, endpoint)
}

// --- One request stream as a byte pipe ----------------------------------------------------

/// The DATA of a request stream as a tokio byte pipe: what arrives in DATA frames is read
/// from the returned end, what is written to it leaves in DATA frames; shutting the returned
/// end's writing side finishes the stream. `recv` and `send` are the stream's halves.
pub fn bridge<R, S>(mut recv: R, mut send: S) -> DuplexStream
where
    R: RecvData + Send + 'static,
    S: SendData + Send + 'static,
{
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (mut read, mut write) = tokio::io::split(ours);
    tokio::spawn(async move {
        while let Some(chunk) = recv.recv().await {
            if write.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !send.send(Bytes::copy_from_slice(&buf[..n])).await {
                        return;
                    }
                }
            }
        }
        send.finish().await;
    });
    theirs
}

/// The receiving half of a request stream (client or server side).
pub trait RecvData {
    /// The next DATA chunk; `None` at the end of the stream.
    fn recv(&mut self) -> impl Future<Output = Option<Bytes>> + Send;
}

/// The sending half of a request stream (client or server side).
pub trait SendData {
    /// Sends a DATA frame; `false` once the stream is gone.
    fn send(&mut self, data: Bytes) -> impl Future<Output = bool> + Send;
    /// Ends the stream.
    fn finish(&mut self) -> impl Future<Output = ()> + Send;
}

macro_rules! halves {
    ($recv:ty, $send:ty) => {
        impl RecvData for $recv {
            async fn recv(&mut self) -> Option<Bytes> {
                let mut chunk = self.recv_data().await.ok()??;
                Some(chunk.copy_to_bytes(chunk.remaining()))
            }
        }
        impl SendData for $send {
            async fn send(&mut self, data: Bytes) -> bool {
                self.send_data(data).await.is_ok()
            }
            async fn finish(&mut self) {
                let _ = <$send>::finish(self).await;
            }
        }
    };
}

halves!(
    http3::client::RequestStream<RecvHalf, Bytes>,
    http3::client::RequestStream<SendHalf<Bytes>, Bytes>
);
halves!(
    http3::server::RequestStream<RecvHalf, Bytes>,
    http3::server::RequestStream<SendHalf<Bytes>, Bytes>
);
