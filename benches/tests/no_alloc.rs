//! Proof that the benchmarked paths of mqtt-ws allocate nothing: a counting global allocator
//! watches the exact calls the benchmarks time (and the drivers' publish path that
//! `benches/e2e.rs` measures, over an in-memory transport). The peers are run through the same
//! counter to show it counts (rumqttc allocates for every decoded packet).

#[path = "../benches/common/mod.rs"]
mod common;

use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use embedded_io_adapters::tokio_1::FromTokio;
use mqtt_ws::io::{StdIo, asynch, blocking};
use mqtt_ws::mqtt::Qos;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::time::Instant;
use mqtt_ws_benches::{CountingAllocator, allocations};

const NOW: Instant = Instant::ZERO;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn mqtt_decode_and_encode_allocate_nothing() {
    for (name, bytes) in common::mqtt_cases() {
        let mut out = vec![0u8; bytes.len()];
        let (n, count) = allocations(|| {
            let packet = common::ours::mqtt_decode(&bytes);
            let visited = common::ours::mqtt_decode_visit(&bytes);
            (common::ours::mqtt_encode(&packet, &mut out), visited)
        });
        assert_eq!(count, 0, "{name}: mqtt-ws allocated");
        assert_eq!(n.0, bytes.len());
        assert_eq!(out, bytes, "{name}: re-encodes to the same bytes");
        assert!(n.1 > 0);

        // The encode benchmark's input: the packet as a sender builds it.
        let decoded = common::ours::mqtt_decode(&bytes);
        let lists = common::ours::lists(&decoded);
        let built = common::ours::built(decoded, &lists);
        let (n, count) = allocations(|| common::ours::mqtt_encode(&built, &mut out));
        assert_eq!(count, 0, "{name}: mqtt-ws allocated");
        assert_eq!(&out[..n], &bytes[..], "{name}: the built packet encodes to the same bytes");

        let mut input = common::peers::rumqttc_input(&bytes);
        let (_, count) = allocations(|| common::peers::rumqttc_decode(&mut input));
        assert!(count > 0, "{name}: the counter sees rumqttc's allocations");
    }
}

#[test]
fn ws_read_path_allocates_nothing() {
    for case in common::ws_cases() {
        let name = case.name;
        let mut frames = case.bytes.clone();
        let (n, count) = allocations(|| common::ours::ws_read(&mut frames, case.messages));
        assert_eq!(count, 0, "{name}: mqtt-ws allocated");
        assert_eq!(n, case.data_len);
        let (_, count) = allocations(|| common::ours::unmask(&mut frames));
        assert_eq!(count, 0);

        let mut ws = common::peers::tungstenite_server(&case.bytes, case.messages);
        let (n, _) = allocations(|| common::peers::tungstenite_read(&mut ws, case.messages));
        assert_eq!(n, case.data_len, "{name}: tungstenite reads the same data");
    }
}

/// An in-memory transport: reads come from `input` (then "no bytes yet", as a read timeout),
/// writes are counted and dropped.
struct Memory {
    input: Vec<u8>,
    pos: usize,
    written: usize,
}

impl Memory {
    /// CONNACK, then a PUBACK for each of the packet identifiers `1..=acks`.
    fn broker(acks: u16) -> Self {
        let mut input = vec![0x20, 0x03, 0x00, 0x00, 0x00];
        for id in 1..=acks {
            input.extend_from_slice(&[0x40, 0x02]);
            input.extend_from_slice(&id.to_be_bytes());
        }
        Memory { input, pos: 0, written: 0 }
    }

    fn take(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.input[self.pos..];
        if rest.is_empty() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl std::io::Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.take(buf)
    }
}

impl std::io::Write for Memory {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Memory {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.get_mut().take(buf.initialize_unfilled());
        Poll::Ready(n.map(|n| buf.advance(n)))
    }
}

impl tokio::io::AsyncWrite for Memory {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(std::io::Write::write(self.get_mut(), buf))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future whose transport is always ready.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(r) = f.as_mut().poll(&mut cx) {
            return r;
        }
    }
}

const MESSAGES: u16 = 100;

/// The path `benches/e2e.rs` measures: publishing through the blocking and async drivers (and,
/// at QoS 1, polling for the PUBACK) allocates nothing per message.
#[test]
fn driver_publish_allocates_nothing() {
    let payload = [0x5a; 64];
    for qos in [Qos::AtMostOnce, Qos::AtLeastOnce] {
        let msg = Outgoing::new("mqttws-e2e/alloc", &payload).qos(qos);
        let acks = if qos == Qos::AtMostOnce { 0 } else { MESSAGES };
        let (mut store, mut rx, mut tx) = ([0u8; 4096], [0u8; 1024], [0u8; 1024]);
        let mut memory = Memory::broker(acks);
        let client: Client<SliceStore<'_, 16>> =
            Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
        let mut conn = blocking::Connection::new(StdIo(&mut memory), client, &mut rx, &mut tx);
        conn.connect(NOW, &ConnectOptions::new("alloc")).unwrap();
        while !matches!(conn.poll(NOW).unwrap(), Some(Event::Connected(_))) {}
        let (acked, count) = allocations(|| {
            let mut acked = 0;
            for _ in 0..MESSAGES {
                conn.publish(NOW, &msg).unwrap();
                while acked < acks {
                    if let Some(Event::Published { .. }) = conn.poll(NOW).unwrap() {
                        acked += 1;
                        break;
                    }
                }
            }
            acked
        });
        assert_eq!(count, 0, "blocking, {qos:?}: the driver allocated");
        assert_eq!(acked, acks);
        drop(conn);
        assert!(memory.written > usize::from(MESSAGES) * payload.len());

        let (mut store, mut rx, mut tx) = ([0u8; 4096], [0u8; 1024], [0u8; 1024]);
        let mut memory = Memory::broker(acks);
        let client: Client<SliceStore<'_, 16>> =
            Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
        let mut conn =
            asynch::Connection::new(FromTokio::new(&mut memory), client, &mut rx, &mut tx);
        ready(conn.connect(NOW, &ConnectOptions::new("alloc"))).unwrap();
        while !matches!(ready(conn.poll(NOW)).unwrap(), Some(Event::Connected(_))) {}
        let (acked, count) = allocations(|| {
            ready(async {
                let mut acked = 0;
                for _ in 0..MESSAGES {
                    conn.publish(NOW, &msg).await.unwrap();
                    while acked < acks {
                        if let Some(Event::Published { .. }) = conn.poll(NOW).await.unwrap() {
                            acked += 1;
                            break;
                        }
                    }
                }
                acked
            })
        });
        assert_eq!(count, 0, "async, {qos:?}: the driver allocated");
        assert_eq!(acked, acks);
        drop(conn);
        assert!(memory.written > usize::from(MESSAGES) * payload.len());
    }
}
