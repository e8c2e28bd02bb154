//! mqtt-ws on a Cortex-M board emulated by QEMU, talking MQTT 5 to a real broker through UART0.
//!
//! QEMU bridges UART0 to a TCP connection (`-serial tcp:127.0.0.1:PORT`), so the bytes this
//! firmware writes to the UART reach the broker. The firmware runs the session a device would:
//!
//! 1. CONNECT (MQTT 5.0, keep alive [`KEEP_ALIVE_S`] seconds); with the `ws` feature, first the
//!    WebSocket opening handshake (`mqtt` subprotocol), then MQTT over `ws::Stream`;
//! 2. SUBSCRIBE to [`TOPIC`] (`mqtt-ws/qemu/<board>/<tcp|ws>/<blocking|async>`) at QoS 2;
//! 3. PUBLISH one message at each QoS 0, 1 and 2 to that topic, and wait for PUBACK and
//!    PUBCOMP and for all three messages to come back through the subscription;
//! 4. stay idle until the client's keep-alive timer sends PINGREQ and PINGRESP arrives;
//! 5. DISCONNECT.
//!
//! The session is written once ([`session`]). It runs on the blocking driver
//! (`mqtt_ws::io::blocking`; module `blocking`) over UART0 with a read timeout or, with the
//! `async` feature, on the async driver (`mqtt_ws::io::asynch`; module `asynch`) in an
//! embassy-executor task over UART0 woken by its receive interrupt.
//!
//! It prints its progress through semihosting and ends QEMU with exit code 0 when every step
//! passed, 1 otherwise (a failed step, a broker error, or [`DEADLINE_MS`] passing).
//!
//! Time comes from SysTick ([`clock`]). Randomness: the WebSocket handshake nonce and the frame
//! mask keys come from `Xorshift`, seeded with a constant: that is good enough for an emulator
//! but predictable. A real board must take them from its hardware RNG (RFC 6455 §5.3 requires
//! unpredictable mask keys; §4.1 a random nonce).

#![no_std]
#![no_main]

#[cfg(feature = "async")]
mod asynch;
#[cfg(not(feature = "async"))]
mod blocking;
mod clock;
mod session;
mod stack;
mod uart;
#[cfg(feature = "async")]
mod waker;

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use mqtt_ws::time::Instant;

#[cfg(not(any(feature = "lm3s6965evb", feature = "mps2-an386")))]
compile_error!("choose a board: --features lm3s6965evb or --features mps2-an386");
#[cfg(all(feature = "lm3s6965evb", feature = "mps2-an386"))]
compile_error!("choose one board feature");

// The names of this build, as literals for `concat!`.
#[cfg(feature = "lm3s6965evb")]
macro_rules! board {
    () => {
        "lm3s6965evb"
    };
}
#[cfg(feature = "mps2-an386")]
macro_rules! board {
    () => {
        "mps2-an386"
    };
}
#[cfg(not(feature = "ws"))]
macro_rules! transport {
    () => {
        "tcp"
    };
}
#[cfg(feature = "ws")]
macro_rules! transport {
    () => {
        "ws"
    };
}
#[cfg(not(feature = "async"))]
macro_rules! driver {
    () => {
        "blocking"
    };
}
#[cfg(feature = "async")]
macro_rules! driver {
    () => {
        "async"
    };
}

/// This build: board, transport and driver (`lm3s6965evb over tcp (async)`).
const BUILD: &str = concat!(board!(), " over ", transport!(), " (", driver!(), ")");
/// The topic published to and subscribed to, one per build.
const TOPIC: &str = concat!("mqtt-ws/qemu/", board!(), "/", transport!(), "/", driver!());
/// The client identifier, one per build, so that runs in parallel do not take over each other's
/// session.
const CLIENT_ID: &str = concat!("mqtt-ws-", board!(), "-", transport!(), "-", driver!());

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
    hprintln!("mqtt-ws on {}: start", BUILD);
    #[cfg(not(feature = "async"))]
    finish(blocking::run(uart));
    #[cfg(feature = "async")]
    asynch::start(uart)
}

/// Reports the outcome of the session and ends QEMU: exit code 0 for `Ok`, 1 for `Err`.
fn finish(outcome: Result<(), &'static str>) -> ! {
    if let Err(why) = outcome {
        fail(why);
    }
    hprintln!(
        "RAM: peak stack {} bytes, statics {} bytes (client state alone: {} bytes)",
        stack::peak(),
        stack::statics(),
        core::mem::size_of::<session::MqttClient<'_>>()
    );
    hprintln!("mqtt-ws on {}: PASS in {} ms", BUILD, clock::now_ms());
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

fn fail(why: &str) -> ! {
    hprintln!("mqtt-ws on {}: FAIL at {} ms: {}", BUILD, clock::now_ms(), why);
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
