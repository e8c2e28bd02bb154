//! Frame decoding in the client role: a header that parses re-emits to the same bytes, and a
//! client connection reading arbitrary bytes from one buffer never panics and keeps its
//! invariants.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::ws::connection::{Config, Connection};

#[path = "ws_connection_common.rs"]
mod ws_common;

fuzz_target!(|data: &[u8]| ws_common::frame_target(
    data,
    Connection::client(Config::new(), || [1u8, 2, 3, 4])
));
