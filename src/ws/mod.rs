//! WebSocket (RFC 6455).

pub mod close;
pub mod connection;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod stream;
pub mod utf8;
