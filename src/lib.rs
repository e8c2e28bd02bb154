//! MQTT 5.0 (and 3.1.1) and WebSocket (RFC 6455) as sans-IO state machines: `#![no_std]`, no
//! allocator, no `unsafe`, no I/O of their own. The same code runs a Cortex-M sensor over a UART
//! and a broker on a server.
//!
//! # Layers
//!
//! Data flows down on send and up on receive; each layer knows only the one below.
//!
//! | layer | what | where |
//! |---|---|---|
//! | std layer (feature `std`, `tokio`) | clients connected from a URL, owned buffers, clock and OS randomness | `net`, [`prelude`] |
//! | drivers | a machine pumped over a transport, blocking or async | [`io`] |
//! | sessions | MQTT client and server session state machines | [`mqtt::client`], [`mqtt::server`] |
//! | codec | every MQTT packet, property, reason code, topic rule | [`mqtt::packet`] and siblings |
//! | WebSocket (optional) | byte stream, connection, framer, opening handshake (HTTP/1.1, RFC 8441, RFC 9220) | [`ws`] |
//! | transport | anything `embedded_io::{Read, Write}` or their async twins: TCP, TLS, a UART, [`ws::stream::Stream`] | yours |
//!
//! MQTT over WebSocket is the client driven over a `ws::stream::Stream`: composed, not a
//! special case.
//!
//! # One contract
//!
//! Every state machine (the MQTT [client](mqtt::client::Client) and [server](mqtt::server::Server)
//! sessions, the WebSocket [connection](ws::connection::Connection), both roles of the
//! [opening handshake](ws::handshake)) is a [`Machine`], and every input step, the packet decoder's
//! included, answers with one [`Status`]: need more bytes, progress (bytes consumed and an event),
//! blocked, or closed. Events borrow the input only, never the machine, so a command (publish a
//! reply, answer a request) can be given while an event is held. Time is passed in ([`time`]),
//! randomness too (WebSocket nonces and masking keys), and every buffer is the caller's.
//!
//! The run loop, the same for every machine:
//!
//! 1. **Drain**: call `poll_transmit` until it returns `Ok(None)` and send what it wrote, in order,
//!    after every input, command and timeout; a command's own bytes go after.
//! 2. **Wait** for bytes from the peer, or until `poll_timeout`.
//! 3. **Input**: append the bytes to the unconsumed ones and call `handle_input` until it stops
//!    making progress; each call consumes at most one packet, frame or head (or one piece of a
//!    large one) and may report one event.
//! 4. **Timers**: on the deadline, `handle_timeout` (harmless when early).
//! 5. When the transport ends, `connection_lost`.
//!
//! By hand, for the MQTT client over a std socket (the drivers below do exactly this):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::{ErrorKind, Read, Write};
//! use mqtt_ws::Status;
//! use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, SliceStore};
//! use mqtt_ws::time::Instant;
//!
//! let mut tcp = std::net::TcpStream::connect("127.0.0.1:1883")?;
//! let start = std::time::Instant::now();
//! let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
//! let mut store = [0u8; 4096];
//! let mut client: Client<SliceStore<'_, 8>> =
//!     Client::new(SliceStore::new(&mut store), Config::new(1024));
//! let (mut rx, mut len, mut tx) = ([0u8; 1024], 0, [0u8; 1024]);
//! let n = client.connect(now(), &ConnectOptions::new("sensor-1"), &mut tx)?;
//! tcp.write_all(&tx[..n])?;
//! loop {
//!     // 1. Drain.
//!     while let Some(n) = client.poll_transmit(now(), &mut tx)? {
//!         tcp.write_all(&tx[..n])?;
//!     }
//!     // 2. Wait for bytes, or for the next deadline.
//!     let wait = client.poll_timeout().map(|t| t.saturating_duration_since(now()));
//!     tcp.set_read_timeout(wait.filter(|d| !d.is_zero()))?;
//!     match tcp.read(&mut rx[len..]) {
//!         Ok(0) => {
//!             client.connection_lost();
//!             return Ok(());
//!         }
//!         Ok(n) => len += n,
//!         Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
//!         Err(e) => return Err(e.into()),
//!     }
//!     // 3. Input: one packet per call; the event borrows `rx` only.
//!     let mut used = 0;
//!     while let Status::Progress { consumed, event } = client.handle_input(now(), &rx[used..len])? {
//!         used += consumed;
//!         if let Some(Event::Message(m)) = event {
//!             println!("{}: {:?}", m.topic, m.payload);
//!         }
//!     }
//!     rx.copy_within(used..len, 0);
//!     len -= used;
//!     // 4. Timers.
//!     client.handle_timeout(now())?;
//! }
//! # }
//! ```
//!
//! # Which driver
//!
//! - [`io::blocking::Connection`]: a blocking transport (a socket with a read timeout, a UART, an
//!   RTOS stream). `poll` does one bounded step and hands back at most one event; each machine's
//!   commands are methods on it (`publish`, `accept`, `send`, `handshake` ...).
//! - [`io::asynch::Connection`]: the same over `embedded-io-async` (embassy-net, tokio through
//!   `embedded-io-adapters`); race `poll` against your executor's timer at `poll_timeout`.
//! - [`io::blocking::Reconnecting`] and [`io::asynch::Reconnecting`]: the MQTT client that
//!   reconnects with backoff and resumes its session.
//! - [`io::Pump`]: your own event loop (non-blocking sockets, `epoll`, an RTOS queue): it says
//!   which I/O to do next and keeps the buffer rules.
//! - The machines themselves, as above, to move every byte yourself (`examples/tour.rs`).
//!
//! ```no_run
//! # #[cfg(all(feature = "std", feature = "mqtt"))]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mqtt_ws::io::{StdIo, blocking::Connection};
//! use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
//! use mqtt_ws::time::Instant;
//!
//! let tcp = std::net::TcpStream::connect("127.0.0.1:1883")?;
//! tcp.set_read_timeout(Some(std::time::Duration::from_millis(500)))?;
//! let start = std::time::Instant::now();
//! let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
//! let (mut rx, mut tx, mut store) = ([0u8; 1024], [0u8; 1024], [0u8; 4096]);
//! let client: Client<SliceStore<'_, 8>> =
//!     Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
//! let mut conn = Connection::new(StdIo(tcp), client, &mut rx, &mut tx);
//! conn.connect(now(), &ConnectOptions::new("light-1"))?;
//! loop {
//!     match conn.poll(now())? {
//!         Some(Event::Connected(_)) => {
//!             conn.publish(now(), &Outgoing::new("home/livingroom/light", b"ON"))?;
//!         }
//!         Some(Event::Message(m)) => println!("{}: {:?}", m.topic, m.payload),
//!         _ => {}
//!     }
//! }
//! # }
//! # #[cfg(not(all(feature = "std", feature = "mqtt")))]
//! # fn main() {}
//! ```
//!
//! # Errors
//!
//! One error type per layer, each `Display` and [`core::error::Error`] without `std`, with the
//! peer's faults apart from the caller's: [`mqtt::client::Error`], [`mqtt::server::Error`],
//! [`ws::Error`], [`ws::handshake::Error`], the codec's [`mqtt::DecodeError`] /
//! [`mqtt::EncodeError`], and the drivers' [`io::DriverError`]. A peer's fault names the MQTT
//! reason code or the WebSocket close code to send, and the machine has already queued it.
//! Peer input never panics.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `mqtt` | yes | MQTT 5.0 / 3.1.1: codec, client and server sessions |
//! | `ws` | yes | WebSocket: framer, connection, byte stream, opening handshake |
//! | `deflate` | no | permessage-deflate (RFC 7692) for WebSocket: negotiation, compressed messages received with no allocator (`ws::deflate`) |
//! | `std` | no | [`net`]: clients connected from a URL with owned buffers, the clock read for you and OS randomness; `io::StdIo`, `From<Topic> for String`; nothing in the core needs it |
//! | `tokio` | no | `net::tokio`: the same on tokio, sleeping until the session's timers |
//! | `tokio-tls` | no | `mqtts://` and `wss://` for `net::tokio` (tokio-rustls) |
//! | `defmt` | no | `defmt::Format` on public types, and defmt logging |
//! | `tls` | no | a rustls client stream as an embedded-io transport, for `mqtts://` and `wss://` (std) |
//!
//! Memory: no statics and no allocation; capacities are const generics (`heapless` inside) or
//! caller slices. Minimum supported Rust version: 1.88.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Peer input never panics: in the library, indexing that can panic, `unwrap`, `expect` and
// `panic!` are refused by the linter (unit tests may use them).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "std")]
extern crate std;

// The README's examples compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

// The logging shim comes first so its macros are visible in every module.
#[macro_use]
mod fmt;

#[cfg(any(feature = "mqtt", feature = "ws"))]
mod buf;

mod machine;
pub mod time;

pub use machine::{BufferTooSmall, Machine, Status};

#[cfg(feature = "mqtt")]
pub mod mqtt;

#[cfg(feature = "ws")]
pub mod ws;

#[cfg(any(feature = "mqtt", feature = "ws"))]
pub mod io;

#[cfg(feature = "tls")]
pub mod tls;

#[cfg(all(feature = "std", any(feature = "mqtt", feature = "ws")))]
pub mod net;

pub mod prelude;
