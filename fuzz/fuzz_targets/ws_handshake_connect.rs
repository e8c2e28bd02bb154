//! The RFC 8441 / 9220 mapping: arbitrary header lists never panic either role's validator.
//!
//! Input: one field a line, `name=value` (so seeds are readable; names may start with `:`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::ws::handshake::extended_connect::{ClientConnect, ServerConnect};

fuzz_target!(|data: &[u8]| {
    let list: Vec<(&[u8], &[u8])> = data
        .split(|&b| b == b'\n')
        .map(|line| match line.iter().position(|&b| b == b'=') {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, &[][..]),
        })
        .collect();
    if let Ok(request) = ServerConnect::parse(&list) {
        let _ = (request.scheme(), request.authority(), request.path(), request.origin());
        let _ = request.extensions().count();
        let protocol = request.protocols().next();
        let response: Vec<_> = request.accept(protocol).expect("offered").collect();
        assert_eq!(response[0], (":status", "200"));
    }
    let offer = ClientConnect::new("https", "h", "/").protocols(&["mqtt"]).extensions(&["x-a"]);
    if let Ok(accepted) = offer.validate_response(&list) {
        assert!((200..300).contains(&accepted.status()));
        let _ = accepted.extensions().count();
    }
});
