//! Helpers of the reliability tests: a seeded RNG, the clock, transports to the broker (TCP and
//! WebSocket) and a fault-injecting TCP proxy.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use mqtt_ws::io::{StdIo, blocking};
use mqtt_ws::time::{Duration, Instant};
use mqtt_ws::ws::connection::Config as WsConfig;
use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};
use mqtt_ws::ws::stream::Stream;

/// xorshift64*: small, seeded, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    /// `true` with probability `1/n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

pub fn clock() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(StdInstant::now);
    Instant::from_millis(start.elapsed().as_millis() as u64)
}

/// Sleeps until `until` on [`clock`] (at most 1 s).
pub fn sleep_until(until: Instant) {
    let d = until.saturating_duration_since(clock()).min(StdDuration::from_secs(1));
    std::thread::sleep(d);
}

pub fn port(var: &str) -> u16 {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run through scripts/broker"))
        .parse()
        .unwrap()
}

/// A zeroed buffer of `n` bytes for a driver or a store to own.
pub fn buf(n: usize) -> Vec<u8> {
    vec![0u8; n]
}

pub type Keys = Box<dyn FnMut() -> [u8; 4] + Send>;
pub type Ws = Stream<'static, StdIo<TcpStream>, Keys, Vec<u8>>;

/// A TCP connection to `127.0.0.1:port` with a short read timeout (the driver's poll tick).
pub fn open_tcp(port: u16) -> Result<StdIo<TcpStream>, String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(StdDuration::from_millis(20))).map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(StdIo(s))
}

/// A WebSocket (subprotocol `mqtt`) to `127.0.0.1:port`, as an embedded-io transport.
pub fn open_ws(port: u16, seed: u32) -> Result<Ws, String> {
    let t = open_tcp(port)?;
    let host = format!("127.0.0.1:{port}");
    let hs =
        Handshake::new(ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]), [seed as u8; 16])
            .map_err(|e| format!("{e:?}"))?
            .with_deadline(clock() + Duration::from_secs(3));
    let mut conn = blocking::Connection::with_buffers(t, hs, buf(8192), buf(8192));
    conn.handshake(clock).map_err(|e| format!("{e:?}"))?;
    let mut key = seed | 1;
    let keys: Keys = Box::new(move || {
        key = key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        key.to_le_bytes()
    });
    conn.upgrade(WsConfig::new(), keys).into_stream().map_err(|e| format!("{e:?}"))
}

/// How a [`Proxy`] cuts the upstream side of a connection (the client's side is always cut
/// abruptly, mid-packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Both directions at once: what the upstream writes after the cut fails (reset).
    Abrupt,
    /// Only the proxy's write half; what the upstream writes until it closes is read and thrown
    /// away. The upstream sees the end of the stream and loses what it sent, but none of its
    /// writes fail.
    Drain,
}

/// Counters of a [`Proxy`].
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub connections: AtomicUsize,
    pub cuts: AtomicUsize,
    pub bytes: AtomicU64,
}

/// A TCP proxy on 127.0.0.1 in front of `upstream` that splits and delays writes and cuts each
/// connection after a random number of bytes (both directions counted, so mid-packet too).
pub struct Proxy {
    pub port: u16,
    pub stats: Arc<ProxyStats>,
}

impl Proxy {
    /// `max_budget`: the most bytes a connection carries before it is cut.
    pub fn start(upstream: u16, seed: u64, max_budget: u64) -> Proxy {
        Proxy::start_with(upstream, seed, max_budget, Cut::Abrupt)
    }

    /// [`Proxy::start`], cutting the upstream side as `cut` says.
    pub fn start_with(upstream: u16, seed: u64, max_budget: u64, cut: Cut) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(ProxyStats::default());
        let st = stats.clone();
        std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            for down in listener.incoming() {
                let Ok(down) = down else { continue };
                let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let _ = (down.set_nodelay(true), up.set_nodelay(true));
                st.connections.fetch_add(1, Ordering::Relaxed);
                // Some connections die very early (in CONNECT / CONNACK / SUBSCRIBE).
                let budget =
                    if rng.one_in(5) { rng.range(1, 300) } else { rng.range(300, max_budget) };
                let budget = Arc::new(AtomicU64::new(budget));
                let pair = [down.try_clone().unwrap(), up.try_clone().unwrap()];
                let pair = Arc::new(pair);
                for (from, to, upstream) in [
                    (down, up.try_clone().unwrap(), false),
                    (up, pair[0].try_clone().unwrap(), true),
                ] {
                    let (budget, pair, st) = (budget.clone(), pair.clone(), st.clone());
                    let mut rng = Rng::new(rng.next());
                    let drain = upstream && cut == Cut::Drain;
                    std::thread::spawn(move || {
                        pump(from, to, &budget, &pair, &st, &mut rng, cut);
                        if drain {
                            discard(pair[1].try_clone().unwrap());
                        }
                    });
                }
            }
        });
        Proxy { port, stats }
    }

    pub fn cuts(&self) -> usize {
        self.stats.cuts.load(Ordering::Relaxed)
    }
    pub fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::Relaxed)
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    budget: &AtomicU64,
    pair: &[TcpStream; 2],
    st: &ProxyStats,
    rng: &mut Rng,
    cut: Cut,
) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            // Split writes: a random piece, sometimes after a short delay.
            let piece =
                if rng.one_in(3) { rng.range(1, data.len() as u64) as usize } else { data.len() };
            if rng.one_in(40) {
                std::thread::sleep(StdDuration::from_millis(rng.range(1, 4)));
            }
            let left = budget.load(Ordering::Relaxed);
            let take = (piece as u64).min(left) as usize;
            if take > 0 && to.write_all(&data[..take]).is_err() {
                break;
            }
            st.bytes.fetch_add(take as u64, Ordering::Relaxed);
            let before = budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    Some(b.saturating_sub(take as u64))
                })
                .unwrap_or(0);
            if before <= take as u64 {
                // Budget spent: cut both sides (counted by whoever spent the last byte).
                if before > 0 {
                    st.cuts.fetch_add(1, Ordering::Relaxed);
                }
                close(pair, cut);
                return;
            }
            data = &data[take..];
        }
    }
    close(pair, cut);
}

/// Cuts both sides of a proxied connection: `pair` is (client side, upstream side).
fn close(pair: &[TcpStream; 2], cut: Cut) {
    let _ = pair[0].shutdown(Shutdown::Both);
    let up = if cut == Cut::Drain { Shutdown::Write } else { Shutdown::Both };
    let _ = pair[1].shutdown(up);
}

/// Reads and drops what `up` sends until it closes (or stays silent for 10 s).
fn discard(mut up: TcpStream) {
    let _ = up.set_read_timeout(Some(StdDuration::from_secs(10)));
    let mut buf = [0u8; 4096];
    while matches!(up.read(&mut buf), Ok(n) if n > 0) {}
}
