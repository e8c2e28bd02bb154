//! The WebSocket opening handshake: HTTP/1.1 Upgrade (RFC 6455 §4) for both roles, and the
//! extended-CONNECT mapping over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220) in
//! [`extended_connect`].
//!
//! Sans-IO like the rest of the crate: requests and responses are written into caller buffers
//! (all or nothing, [`EncodeError::BufferTooSmall`] with the exact size), received heads are
//! parsed from a caller buffer that grows between calls, each byte scanned once, bounded by
//! [`Limits`]. Results borrow that buffer. Randomness (the 16-byte nonce) comes from the caller.
//!
//! Invariants:
//! - peer bytes never panic a parser; every malformed input is a typed error, remote faults
//!   ([`RequestError`], [`ResponseError`]) apart from local misuse ([`EncodeError`]);
//! - a complete head reports its length (`head_len`): the bytes after it are WebSocket frames
//!   and are left untouched;
//! - a value that exists ([`Request`], [`Accepted`]) has passed every check, so its accessors
//!   cannot fail.
//!
//! # Example: both roles over HTTP/1.1
//!
//! ```
//! use mqtt_ws::ws::handshake::{Client, ClientRequest, OriginPolicy, RequestParser, Status};
//!
//! // Client: write the request. The nonce comes from a cryptographic RNG.
//! let request = ClientRequest::new("broker.example.com", "/mqtt")
//!     .protocols(&["mqtt"])
//!     .headers(&[("Origin", "https://app.example.com")]);
//! let mut client = Client::new(request, [7; 16])?;
//! let mut wire = [0u8; 512];
//! let n = client.encode_request(&mut wire)?;
//!
//! // Server: parse what arrived (here all at once; call again with more bytes on Partial).
//! let mut parser = RequestParser::default();
//! let Status::Complete(req) = parser.parse(&wire[..n])? else { unreachable!() };
//! assert_eq!(req.path(), "/mqtt");
//! // Cross-Site WebSocket Hijacking defence: refuse unknown browser origins with 403.
//! req.check_origin(&OriginPolicy::allow_list(&["https://app.example.com"]))?;
//! let protocol = req.select_protocol(&["mqtt"]);
//! let mut reply = [0u8; 256];
//! let m = req.accept(protocol)?.encode(&mut reply)?;
//! // On an error `e`, the server sends `e.reject().encode(&mut reply)` and closes instead.
//!
//! // Client: validate the 101; bytes after `head_len` belong to the framer.
//! let Status::Complete(accepted) = client.handle_response(&reply[..m])? else { unreachable!() };
//! assert_eq!(accepted.protocol(), Some("mqtt"));
//! assert_eq!(accepted.head_len(), m);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
pub mod extended_connect;
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
