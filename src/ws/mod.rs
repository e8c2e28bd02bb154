//! WebSocket (RFC 6455).
pub mod close;
pub mod connection;
pub mod error;
pub mod frame;
pub mod mask;
pub mod utf8;
