//! `ws::Stream` through `embedded_io_async` over an in-memory tokio duplex pipe with small
//! buffers, so reads and writes really wait; the client cancels its reads again and again
//! (`select!` against a yield) and no byte is lost or repeated.
#![cfg(feature = "ws")]

use embedded_io_async::{Read, Write};
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{Config, Connection, State};
use mqtt_ws::ws::stream::{MIN_RX_BUFFER, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A tokio duplex pipe end as an embedded-io-async transport.
struct Pipe(DuplexStream);

impl embedded_io_async::ErrorType for Pipe {
    type Error = embedded_io_async::ErrorKind;
}
impl Read for Pipe {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).await.map_err(|_| embedded_io_async::ErrorKind::Other)
    }
}
impl Write for Pipe {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).await.map_err(|_| embedded_io_async::ErrorKind::Other)
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().await.map_err(|_| embedded_io_async::ErrorKind::Other)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn async_stream_echo_with_cancelled_reads() {
    let (a, b) = tokio::io::duplex(4096);
    let payload: Vec<u8> = (0..30_000u32).map(|i| (i * 13 % 256) as u8).collect();

    let server = async move {
        let mut rx = [0u8; 200];
        let mut tx = [0u8; 400];
        let conn = Connection::server(Config::new());
        let mut ws = Stream::new(Pipe(b), conn, &mut rx, &mut tx).unwrap();
        let mut buf = [0u8; 333];
        let mut total = 0;
        loop {
            let n = ws.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            total += n;
            ws.write_all(&buf[..n]).await.unwrap();
            ws.flush().await.unwrap();
        }
        assert_eq!(ws.connection().state(), State::Closed);
        total
    };

    let client = async {
        let mut rx = [0u8; MIN_RX_BUFFER];
        let mut tx = [0u8; 1100];
        let mut k = 7u32;
        let conn = Connection::client(Config::new(), move || {
            k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            k.to_be_bytes()
        });
        let mut ws = Stream::new(Pipe(a), conn, &mut rx, &mut tx).unwrap();
        let mut echoed = Vec::new();
        let mut cancelled = 0;
        let mut buf = [0u8; 50];
        for chunk in payload.chunks(1000) {
            ws.write_all(chunk).await.unwrap();
            ws.flush().await.unwrap();
            let want = echoed.len() + chunk.len();
            while echoed.len() < want {
                tokio::select! {
                    biased;
                    r = ws.read(&mut buf) => {
                        let n = r.unwrap();
                        assert!(n > 0);
                        echoed.extend_from_slice(&buf[..n]);
                    }
                    _ = tokio::task::yield_now() => cancelled += 1,
                }
            }
        }
        ws.close_async(CloseCode::Normal).await.unwrap();
        assert_eq!(ws.connection().state(), State::Closed);
        (echoed, cancelled)
    };

    let (total, (echoed, cancelled)) = tokio::join!(server, client);
    assert_eq!(total, payload.len());
    assert_eq!(echoed, payload);
    assert!(cancelled > 0, "no read was ever cancelled");
}
