//! The WebSocket opening handshake: HTTP/1.1 Upgrade (RFC 6455 §4) for both roles, and the
//! extended-CONNECT mapping over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220) in
//! [`extended_connect`].
//!
//! Sans-IO like the rest of the crate: both roles are [`Machine`](crate::Machine)s,
//! [`Client`] and [`Server`], so the drivers in [`io`](crate::io) run them over any transport
//! (`handshake(..)` then `upgrade(..)` on `io::blocking::Connection`, with no read loop to
//! write). Requests and responses are written into caller buffers (all or nothing), received
//! heads are parsed from a caller buffer that grows between calls, each byte scanned once,
//! bounded by [`Limits`] and, if given, a deadline (`408` for a request too slow to arrive).
//! Results borrow that buffer. Randomness (the 16-byte nonce) comes from the caller.
//!
//! Invariants:
//! - peer bytes never panic a parser; every malformed input is a typed error, remote faults
//!   ([`RequestError`], [`ResponseError`]) apart from local misuse ([`EncodeError`]), and a
//!   server queues the refusal the fault calls for;
//! - a complete head is consumed (its length is `head_len`): the bytes after it are WebSocket
//!   frames and are left untouched;
//! - a value that exists ([`Request`], [`Accepted`]) has passed every check, so its accessors
//!   cannot fail.
//!
//! # Example: both roles over HTTP/1.1, in memory
//!
//! ```
//! use mqtt_ws::Status;
//! use mqtt_ws::time::Instant;
//! use mqtt_ws::ws::handshake::{Client, ClientRequest, OriginPolicy, Server};
//!
//! let now = Instant::ZERO;
//! // Client: its request is what it owes first. The nonce comes from a cryptographic RNG.
//! let request = ClientRequest::new("broker.example.com", "/mqtt")
//!     .protocols(&["mqtt"])
//!     .headers(&[("Origin", "https://app.example.com")]);
//! let mut client = Client::new(request, [7; 16])?;
//! let mut wire = [0u8; 512];
//! let n = client.poll_transmit(now, &mut wire)?.unwrap();
//!
//! // Server: parse what arrived (here all at once; call again with more bytes on NeedMore),
//! // decide, answer.
//! let mut server = Server::default();
//! let Status::Progress { event: Some(req), .. } = server.handle_input(now, &wire[..n])? else {
//!     unreachable!()
//! };
//! assert_eq!(req.path(), "/mqtt");
//! // Cross-Site WebSocket Hijacking defence: refuse unknown browser origins with 403.
//! req.check_origin(&OriginPolicy::allow_list(&["https://app.example.com"]))?;
//! server.accept(req.accept(req.select_protocol(&["mqtt"]))?)?;
//! // (To refuse: `server.reject(Reject::Forbidden)`; the response goes out, then close.)
//! let mut reply = [0u8; 256];
//! let m = server.poll_transmit(now, &mut reply)?.unwrap();
//!
//! // Client: validate the 101; the bytes after the head belong to the framer.
//! let Status::Progress { consumed, event: Some(accepted) } =
//!     client.handle_input(now, &reply[..m])?
//! else {
//!     unreachable!()
//! };
//! assert_eq!(accepted.protocol(), Some("mqtt"));
//! assert_eq!(consumed, m);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
pub mod extended_connect;
mod grammar;
mod head;
mod key;
mod origin;
mod server;

pub use client::{Accepted, Client, ClientRequest};
pub use error::{EncodeError, Error, Field, Reject, RequestError, ResponseError};
pub use head::{Header, Headers, Limits, ListValues};
pub use key::{AcceptKey, GUID, Key};
pub use origin::{MissingOrigin, OriginPolicy};
pub use server::{Accept, Request, RequestParser, Server};
