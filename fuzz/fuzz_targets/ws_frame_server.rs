//! Frame decoding in the server role: a header that parses re-emits to the same bytes, and a
//! server connection reading arbitrary bytes from one buffer never panics and keeps its
//! invariants.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::ws::connection::{Config, Connection};
use mqtt_ws::ws::frame::{FrameHeader, Rsv};

#[path = "ws_connection_common.rs"]
mod ws_common;

fuzz_target!(|data: &[u8]| {
    for rsv in [Rsv::NONE, Rsv::RSV1] {
        if let Ok(Some((header, len))) = FrameHeader::parse(data, rsv) {
            assert_eq!(len, header.encoded_len());
            let mut out = [0u8; 14];
            assert_eq!(header.emit(&mut out), Ok(len));
            assert_eq!(&out[..len], &data[..len]);
        }
    }
    let mut buf = data.to_vec();
    let mut conn = Connection::server(Config::new());
    ws_common::pump(&mut conn, &mut buf);
    ws_common::check_end(&mut conn);
});
