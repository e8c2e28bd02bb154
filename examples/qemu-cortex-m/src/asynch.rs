//! The session on the async driver (`io::asynch::Connection`) in an embassy-executor task (the
//! Cortex-M thread-mode executor), over UART0 woken by its receive interrupt
//! ([`AsyncUart`]). A read has no timeout: each `poll` races a timer ([`clock::at`]) set to
//! the client's `poll_timeout`, and the next `poll` runs the timer that came due.

use embassy_executor::Executor;
use embassy_futures::select::{Either, select};
use embedded_io_async::{Read, Write};
use mqtt_ws::io::DriverError;
use mqtt_ws::io::asynch::Connection;
use mqtt_ws::mqtt::client::{self, Event};

use crate::session::{self, BUF, MqttClient};
use crate::uart::Uart;
use crate::uart::asynch::{self as uart, AsyncUart};
use crate::{DEADLINE_MS, clock, fail, finish, now};

/// Runs the session in a task on the thread-mode executor; never returns ([`finish`] ends QEMU).
pub fn start(uart: Uart) -> ! {
    let executor = cortex_m::singleton!(: Executor = Executor::new())
        .unwrap_or_else(|| fail("executor taken"));
    let uart = AsyncUart::new(uart);
    executor.run(|spawner| match main_task(uart) {
        Ok(task) => spawner.spawn(task),
        Err(_) => fail("main task spawned twice"),
    })
}

#[embassy_executor::task]
async fn main_task(uart: AsyncUart) {
    finish(run(uart).await)
}

/// MQTT over the UART.
#[cfg(not(feature = "ws"))]
async fn run(uart: AsyncUart) -> Result<(), &'static str> {
    mqtt(uart).await
}

/// The WebSocket opening handshake over the UART, then MQTT over `ws::Stream`.
#[cfg(feature = "ws")]
async fn run(uart: AsyncUart) -> Result<(), &'static str> {
    use mqtt_ws::ws::connection::Config;

    use crate::session::driver;

    let (handshake, mask_keys) = session::ws_handshake()?;
    let (mut ws_rx, mut ws_tx) = ([0u8; BUF], [0u8; BUF]);
    let mut hs = Connection::new(uart, handshake, &mut ws_rx, &mut ws_tx);
    // The handshake checks its deadline only when bytes come: time it out here.
    let deadline = hs.poll_timeout().map_or(DEADLINE_MS, |t| t.as_millis());
    match select(hs.handshake(now), clock::at(deadline)).await {
        Either::First(protocol) => session::ws_accepted(protocol.map_err(driver)?)?,
        Either::Second(()) => return Err("websocket handshake timed out"),
    }
    let ws = hs.upgrade(Config::new(), mask_keys);
    mqtt(ws.into_stream().map_err(|_| "websocket buffers too small")?).await
}

/// The MQTT session over any embedded-io-async transport: the UART itself or a WebSocket
/// stream.
async fn mqtt<T: Read + Write>(transport: T) -> Result<(), &'static str> {
    let (mut rx, mut tx, mut store) = ([0u8; BUF], [0u8; BUF], [0u8; BUF]);
    let mut conn = Connection::new(transport, session::client(&mut store), &mut rx, &mut tx);
    session::drive!(conn, poll(&mut conn), await)
}

/// `conn.poll(now)` raced against a timer at the client's `poll_timeout` (or the session's
/// deadline, if sooner): `Ok(None)` when the timer wins.
async fn poll<'c, T: Read + Write>(
    conn: &'c mut Connection<'_, T, MqttClient<'_>>,
) -> Result<Option<Event<'c>>, DriverError<T::Error, client::Error>> {
    let at = conn.poll_timeout().map_or(DEADLINE_MS, |t| t.as_millis().min(DEADLINE_MS));
    match select(conn.poll(now()), clock::at(at)).await {
        Either::First(event) => event,
        Either::Second(()) => Ok(None),
    }
}

/// Interrupts: UART0's receive interrupt; no other is enabled.
// cortex-m-rt wants the default handler `unsafe`, as it also catches NMI, which can preempt a
// critical section: this one touches only UART0's interrupt registers and the waker slot, and
// only for UART0's interrupt (NMI ends in the panic).
#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    if u16::try_from(irqn) == Ok(uart::IRQ) {
        uart::on_interrupt();
    } else {
        panic!("unexpected exception {}", irqn);
    }
}
