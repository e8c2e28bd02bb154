//! WebSocket (RFC 6455).

pub mod handshake;
pub mod close;
pub mod error;
pub mod frame;
pub mod mask;
pub mod utf8;
pub mod connection;
pub mod stream;
