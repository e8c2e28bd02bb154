//! permessage-deflate (RFC 7692): negotiation in [`params`], decompression of received
//! messages in [`inflate`] with no allocator (the LZ77 window is the caller's buffer).
//!
//! Compression is optional per message for the sender (RFC 7692 §6): an endpoint that agreed
//! to permessage-deflate may send every message plain. With feature `std`, [`Compressor`]
//! compresses messages to send with
//! [`Connection::encode_compressed`](crate::ws::connection::Connection::encode_compressed).
//!
//! # Example: a server accepts an offer and reads a compressed message
//!
//! ```
//! use mqtt_ws::Status;
//! use mqtt_ws::time::Instant;
//! use mqtt_ws::ws::connection::{Config, Connection, Event, Role};
//! use mqtt_ws::ws::deflate::{Inflater, ServerConfig};
//!
//! let mut window = [0u8; 32768];
//! // The client offered permessage-deflate (from `Request::extensions()`).
//! let offers = ["permessage-deflate; client_max_window_bits"];
//! let agreed = ServerConfig::new().accept(offers).expect("acceptable");
//! assert_eq!(agreed.response().as_str(), "permessage-deflate");
//! let (_bits, no_takeover) = agreed.receive(Role::Server);
//! let mut inflater = Inflater::new(&mut window, no_takeover)?;
//! let mut server = Connection::server(Config::new());
//!
//! // "Hello" compressed (RFC 7692 §7.2.3.1), RSV1 set, masked by the client.
//! let mut frame = [0xc1, 0x87, 0, 0, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
//! let mut text = Vec::new();
//! let mut input = &mut frame[..];
//! loop {
//!     let Status::Progress { consumed, event } =
//!         server.handle_input_inflate(Instant::ZERO, input, &mut inflater)?
//!     else {
//!         break;
//!     };
//!     if let Some(Event::Data { data, last, .. }) = event {
//!         text.extend_from_slice(data);
//!         if last {
//!             break;
//!         }
//!     }
//!     input = &mut input[consumed..];
//! }
//! assert_eq!(text, b"Hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "std")]
pub mod compress;
pub mod inflate;
pub mod params;

#[cfg(feature = "std")]
pub use compress::{CompressError, Compressor};
pub use inflate::{BadWindow, Inflater};
pub use params::{Agreement, ClientConfig, NegotiationError, Params, ServerConfig, WindowParam};

#[cfg(test)]
mod tests;
