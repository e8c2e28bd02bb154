//! mqtt-ws on a Cortex-M board emulated by QEMU, talking MQTT 5 to a real broker through UART0.
//!
//! QEMU bridges UART0 to a TCP connection (`-serial tcp:127.0.0.1:PORT`), so the bytes this
//! firmware writes to the UART reach the broker. The firmware runs the session a device would:
//!
//! 1. CONNECT (MQTT 5.0, keep alive [`KEEP_ALIVE_S`] seconds); with the `ws` feature, first the
//!    WebSocket opening handshake (`mqtt` subprotocol), then MQTT over `ws::Stream`;
//! 2. SUBSCRIBE to `mqtt-ws/qemu/<board>/<tcp|ws>` at QoS 2;
//! 3. PUBLISH one message at each QoS 0, 1 and 2 to that topic, and wait for PUBACK and
//!    PUBCOMP and for all three messages to come back through the subscription;
//! 4. stay idle until the client's keep-alive timer sends PINGREQ and PINGRESP arrives;
//! 5. DISCONNECT.
//!
//! It prints its progress through semihosting and ends QEMU with exit code 0 when every step
//! passed, 1 otherwise (a failed step, a broker error, or [`DEADLINE_MS`] passing).
//!
//! Time comes from SysTick ([`clock`]). Randomness: the WebSocket handshake nonce and the frame
//! mask keys come from [`Xorshift`], seeded with a constant: that is good enough for an emulator
//! but predictable. A real board must take them from its hardware RNG (RFC 6455 §5.3 requires
//! unpredictable mask keys; §4.1 a random nonce).

#![no_std]
#![no_main]

mod clock;
mod stack;
mod uart;

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_io::{Read, Write};
use mqtt_ws::io::DriverError;
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::{Duration, Instant};

#[cfg(not(any(feature = "lm3s6965evb", feature = "mps2-an386")))]
compile_error!("choose a board: --features lm3s6965evb or --features mps2-an386");
#[cfg(all(feature = "lm3s6965evb", feature = "mps2-an386"))]
compile_error!("choose one board feature");

/// Names of this build: `BOARD`, `TRANSPORT`, the `TOPIC` published to and subscribed to, and
/// the `CLIENT_ID` (each build its own, so that runs in parallel do not take over each other's
/// session).
macro_rules! names {
    ($board:literal, $transport:literal) => {
        const BOARD: &str = $board;
        const TRANSPORT: &str = $transport;
        const TOPIC: &str = concat!("mqtt-ws/qemu/", $board, "/", $transport);
        const CLIENT_ID: &str = concat!("mqtt-ws-", $board, "-", $transport);
    };
}
#[cfg(all(feature = "lm3s6965evb", not(feature = "ws")))]
names!("lm3s6965evb", "tcp");
#[cfg(all(feature = "lm3s6965evb", feature = "ws"))]
names!("lm3s6965evb", "ws");
#[cfg(all(feature = "mps2-an386", not(feature = "ws")))]
names!("mps2-an386", "tcp");
#[cfg(all(feature = "mps2-an386", feature = "ws"))]
names!("mps2-an386", "ws");

/// Keep alive announced in CONNECT: short, so that a PINGREQ goes out within the run.
const KEEP_ALIVE_S: u16 = 2;
/// The whole session must be over by then.
const DEADLINE_MS: u64 = 20_000;

fn now() -> Instant {
    Instant::from_millis(clock::now_ms())
}

#[entry]
fn main() -> ! {
    stack::paint();
    let core = cortex_m::Peripherals::take().unwrap_or_else(|| fail("core peripherals taken"));
    clock::start(core.SYST);
    let uart = uart::Uart::take().unwrap_or_else(|| fail("UART0 taken"));
    hprintln!("mqtt-ws on {} over {}: start", BOARD, TRANSPORT);
    match run(uart) {
        Ok(()) => {
            hprintln!(
                "peak stack: {} bytes (all buffers and state; client state alone: {} bytes)",
                stack::peak(),
                core::mem::size_of::<Client<SliceStore<'_, 4>>>()
            );
            hprintln!("mqtt-ws on {} over {}: PASS in {} ms", BOARD, TRANSPORT, clock::now_ms());
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(why) => fail(why),
    }
    loop {
        cortex_m::asm::wfi();
    }
}

fn fail(why: &str) -> ! {
    hprintln!("mqtt-ws on {} over {}: FAIL at {} ms: {}", BOARD, TRANSPORT, clock::now_ms(), why);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

/// A xorshift32 generator. Stands in for a hardware RNG, which a real board must use instead.
#[cfg(feature = "ws")]
struct Xorshift(u32);

#[cfg(feature = "ws")]
impl Xorshift {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

#[cfg(not(feature = "ws"))]
fn run(uart: uart::Uart) -> Result<(), &'static str> {
    session(uart)
}

/// The WebSocket opening handshake over the UART, then the MQTT session over `ws::Stream`.
#[cfg(feature = "ws")]
fn run(uart: uart::Uart) -> Result<(), &'static str> {
    use mqtt_ws::ws::connection::Config as WsConfig;
    use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};

    let mut rng = Xorshift(0x2545_f491);
    let mut nonce = [0u8; 16];
    for chunk in nonce.chunks_mut(4) {
        chunk.copy_from_slice(&rng.next_u32().to_le_bytes());
    }
    let request = ClientRequest::new("127.0.0.1", "/mqtt").protocols(&["mqtt"]);
    let handshake = Handshake::new(request, nonce)
        .map_err(|_| "handshake request")?
        .with_deadline(Instant::from_millis(DEADLINE_MS));
    let (mut ws_rx, mut ws_tx) = ([0u8; 512], [0u8; 512]);
    let mut hs = Connection::new(uart, handshake, &mut ws_rx, &mut ws_tx);
    match hs.handshake(now).map_err(driver)? {
        Some("mqtt") => {}
        _ => return Err("broker did not accept the mqtt subprotocol"),
    }
    hprintln!("websocket: open");
    let ws = hs.upgrade(WsConfig::new(), move || rng.next_u32().to_le_bytes());
    let stream = ws.into_stream().map_err(|_| "websocket buffers too small")?;
    session(stream)
}

/// Where the session stands.
#[derive(Default)]
struct Progress {
    subscribed: bool,
    acked: [bool; 3],
    received: [bool; 3],
    ping_after: Option<u64>,
    pong: bool,
}

impl Progress {
    fn published_all(&self) -> bool {
        self.acked[1] && self.acked[2] && self.received.iter().all(|r| *r)
    }
}

/// The MQTT 5 session over any embedded-io transport: the UART itself or a WebSocket stream.
fn session<T: Read + Write>(transport: T) -> Result<(), &'static str> {
    let (mut rx, mut tx, mut store) = ([0u8; 512], [0u8; 512], [0u8; 512]);
    let mut config = Config::new(rx.len());
    // PINGRESP may take longer than the short keep alive on a loaded host.
    config.ping_timeout = Some(Duration::from_secs(5));
    let client: Client<SliceStore<'_, 4>> = Client::new(SliceStore::new(&mut store), config);
    let mut conn = Connection::new(transport, client, &mut rx, &mut tx);
    let mut options = ConnectOptions::new(CLIENT_ID);
    options.keep_alive = KEEP_ALIVE_S;
    conn.connect(now(), &options).map_err(driver)?;
    let topic = TOPIC;
    let payloads: [&[u8]; 3] = [b"qos0 from qemu", b"qos1 from qemu", b"qos2 from qemu"];
    let mut ids = [None; 3];
    let mut p = Progress::default();
    while !p.pong {
        if clock::now_ms() > DEADLINE_MS {
            return Err("deadline passed");
        }
        let mut publish = false;
        match conn.poll(now()).map_err(driver)? {
            None => {}
            Some(Event::Connected(c)) => {
                hprintln!("CONNACK: session present {}", c.session_present);
                let sub = [Subscription::new(topic, Qos::ExactlyOnce)];
                conn.subscribe(now(), &sub, Properties::EMPTY).map_err(driver)?;
            }
            Some(Event::Subscribed { reason_codes, .. }) => {
                let granted = reason_codes.iter().next();
                hprintln!("SUBACK: {:?}", granted);
                if granted != Some(ReasonCode::GrantedQos2) {
                    return Err("subscription not granted at QoS 2");
                }
                p.subscribed = true;
                publish = true;
            }
            Some(Event::Published { packet_id, reason_code: reason, .. }) => {
                let qos = ids.iter().position(|id| *id == Some(packet_id));
                hprintln!("ack of QoS {:?} publish: {:?}", qos, reason);
                if reason.is_error() {
                    return Err("publish refused");
                }
                match qos {
                    Some(q) => p.acked[q] = true,
                    None => return Err("ack for an unknown packet id"),
                }
            }
            Some(Event::Message(m)) => {
                hprintln!("message: {} {:?}", m.topic, m.qos);
                let q = payloads.iter().position(|pl| *pl == m.payload);
                match q {
                    Some(q) if m.topic == topic && m.qos as usize == q => p.received[q] = true,
                    _ => return Err("unexpected message"),
                }
            }
            Some(Event::Pong) => match p.ping_after {
                Some(idle_since) => {
                    hprintln!("PINGRESP after {} ms idle", clock::now_ms() - idle_since);
                    p.pong = true;
                }
                None => hprintln!("PINGRESP (before the idle phase)"),
            },
            Some(Event::Refused { reason_code: reason, .. }) => {
                hprintln!("CONNACK: {:?}", reason);
                return Err("connection refused");
            }
            Some(Event::Disconnected { reason_code: reason, .. }) => {
                hprintln!("DISCONNECT from broker: {:?}", reason);
                return Err("broker disconnected");
            }
            Some(_) => return Err("unexpected event"),
        }
        if publish {
            for (q, (qos, payload)) in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce]
                .iter()
                .zip(payloads)
                .enumerate()
            {
                let sent = conn
                    .publish(now(), &Outgoing::new(topic, payload).qos(*qos))
                    .map_err(driver)?;
                if let Some(slot) = ids.get_mut(q) {
                    *slot = sent.packet_id;
                }
            }
            // QoS 0 has no acknowledgement.
            p.acked[0] = true;
        }
        if p.ping_after.is_none() && p.published_all() {
            hprintln!(
                "all three messages acknowledged and received at {} ms; idle until keep-alive",
                clock::now_ms()
            );
            p.ping_after = Some(clock::now_ms());
        }
    }
    conn.disconnect(now(), ReasonCode::NormalDisconnection, Properties::EMPTY).map_err(driver)?;
    hprintln!("DISCONNECT sent");
    Ok(())
}

fn driver<T: core::fmt::Debug, M: core::fmt::Debug>(e: DriverError<T, M>) -> &'static str {
    hprintln!("driver error: {:?}", e);
    match e {
        DriverError::Machine(_) => "protocol error",
        DriverError::Transport(_) => "transport error",
        DriverError::Closed => "the connection was closed",
        DriverError::Eof => "the broker closed the connection",
        DriverError::ReceiveBufferTooSmall { .. } => "receive buffer too small",
        _ => "driver error",
    }
}
