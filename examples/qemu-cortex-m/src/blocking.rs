//! The session on the blocking driver (`io::blocking::Connection`) over UART0, whose reads time
//! out after [`READ_TIMEOUT_MS`](crate::uart::READ_TIMEOUT_MS): `poll` then returns `Ok(None)`
//! and the next one runs the client's keep-alive timer.

use embedded_io::{Read, Write};
use mqtt_ws::io::blocking::Connection;

use crate::session::{self, BUF};
use crate::uart::Uart;

/// MQTT over the UART.
#[cfg(not(feature = "ws"))]
pub fn run(uart: Uart) -> Result<(), &'static str> {
    mqtt(uart)
}

/// The WebSocket opening handshake over the UART, then MQTT over `ws::Stream`.
#[cfg(feature = "ws")]
pub fn run(uart: Uart) -> Result<(), &'static str> {
    use mqtt_ws::ws::connection::Config;

    use crate::session::driver;

    let (handshake, mask_keys) = session::ws_handshake()?;
    let (mut ws_rx, mut ws_tx) = ([0u8; BUF], [0u8; BUF]);
    let mut hs = Connection::new(uart, handshake, &mut ws_rx, &mut ws_tx);
    session::ws_accepted(hs.handshake(crate::now).map_err(driver)?)?;
    let ws = hs.upgrade(Config::new(), mask_keys);
    mqtt(ws.into_stream().map_err(|_| "websocket buffers too small")?)
}

/// The MQTT session over any embedded-io transport: the UART itself or a WebSocket stream.
fn mqtt<T: Read + Write>(transport: T) -> Result<(), &'static str> {
    let (mut rx, mut tx, mut store) = ([0u8; BUF], [0u8; BUF], [0u8; BUF]);
    let mut conn = Connection::new(transport, session::client(&mut store), &mut rx, &mut tx);
    session::drive!(conn, conn.poll(crate::now()))
}
