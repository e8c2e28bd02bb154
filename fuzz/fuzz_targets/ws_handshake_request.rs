//! The server's HTTP/1.1 request parser: arbitrary bytes never panic, feeding them in chunks
//! gives the same result as feeding them whole, and an accepted request can always be answered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::ws::handshake::{Limits, RequestParser};
use mqtt_ws::Status;

fuzz_target!(|data: &[u8]| {
    let Some((&step, data)) = data.split_first() else { return };
    let limits = Limits { max_head_len: 1024, max_headers: 16 };

    let whole = RequestParser::new(limits).parse(data);

    // The same bytes arriving `step + 1` at a time.
    let mut parser = RequestParser::new(limits);
    let mut chunked = Ok(Status::Partial);
    let mut end = 0;
    while end < data.len() {
        end = (end + usize::from(step) + 1).min(data.len());
        chunked = parser.parse(&data[..end]);
        if !matches!(chunked, Ok(Status::Partial)) {
            break;
        }
    }
    match (&whole, &chunked) {
        (Ok(Status::Complete(a)), Ok(Status::Complete(b))) => {
            assert_eq!(a.head_len(), b.head_len());
            assert!(a.head_len() <= data.len());
        }
        (Ok(Status::Progress { .. }), other) => panic!("whole completed, chunked gave {other:?}"),
        (Err(a), Err(b)) => assert_eq!(a.reject(), b.reject()),
        _ => {}
    }

    if let Ok(Status::Complete(request)) = whole {
        let _ = (request.path(), request.host(), request.origin(), request.key());
        let _ = request.headers().count() + request.extensions().count();
        let protocol = request.protocols().next();
        let accept = request.accept(protocol).expect("an offered protocol is accepted");
        let mut out = [0u8; 2048];
        let n = accept.encode(&mut out).expect("fits");
        assert_eq!(n, accept.encoded_len());
    } else if let Err(e) = whole {
        let mut out = [0u8; 256];
        e.reject().encode(&mut out).expect("fits");
    }
});
