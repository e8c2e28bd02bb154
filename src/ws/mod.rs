//! WebSocket (RFC 6455).
//!
//! Layers, bottom up: [`frame`] (header parse / emit), [`mask`] (in-place masking), [`utf8`]
//! (incremental validation), [`close`] (close codes), [`connection`] (the sans-IO state machine
//! per role), [`message`] (whole messages in a caller buffer), [`stream`] (an `embedded-io`
//! byte stream over binary messages, for MQTT).

pub mod close;
pub mod connection;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
pub mod stream;
pub mod utf8;

pub use error::Error;
