//! The client's HTTP/1.1 response validator: arbitrary bytes never panic, and feeding them in
//! chunks gives the same result as feeding them whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::ws::handshake::{Client, ClientRequest, Limits};
use mqtt_ws::Status;

fuzz_target!(|data: &[u8]| {
    let Some((&step, data)) = data.split_first() else { return };
    let request = ClientRequest::new("h", "/mqtt")
        .protocols(&["mqtt", "chat"])
        .extensions(&["permessage-deflate; client_max_window_bits"]);
    // The nonce of RFC 6455 §1.3, so seeds can carry its accept value.
    let client = Client::new(request, *b"the sample nonce")
        .expect("valid request")
        .with_limits(Limits { max_head_len: 1024, max_headers: 16 });

    let whole = client.clone().handle_response(data);

    let mut chunked_client = client.clone();
    let mut chunked = Ok(Status::Partial);
    let mut end = 0;
    while end < data.len() {
        end = (end + usize::from(step) + 1).min(data.len());
        chunked = chunked_client.handle_response(&data[..end]);
        if !matches!(chunked, Ok(Status::Partial)) {
            break;
        }
    }
    match (&whole, &chunked) {
        (Ok(Status::Complete(a)), Ok(Status::Complete(b))) => {
            assert_eq!(a.head_len(), b.head_len());
            assert!(a.head_len() <= data.len());
            assert!(a.protocol().is_none_or(|p| p == "mqtt" || p == "chat"));
            let _ = a.extensions().count() + a.headers().count();
        }
        (Ok(Status::Progress { .. }), other) => panic!("whole completed, chunked gave {other:?}"),
        _ => {}
    }
});
