//! WebSocket (RFC 6455).
//!
//! Layers, bottom up: [`frame`] (header parse / emit), [`mask`] (in-place masking), [`utf8`]
//! (incremental validation), [`close`] (close codes), [`connection`] (the sans-IO state machine
//! per role), [`message`] (whole messages in a caller buffer), [`stream`] (an `embedded-io`
//! byte stream over binary messages, for MQTT); [`deflate`] (feature `deflate`: permessage-deflate
//! negotiation and decompression, RFC 7692).

pub mod close;
pub mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
pub mod stream;
pub mod utf8;

pub use error::Error;
