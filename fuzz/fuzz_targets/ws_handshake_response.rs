//! The client's HTTP/1.1 response validator: arbitrary bytes never panic, feeding them in chunks
//! gives the same result as feeding them whole, the head is validated the same without the bytes
//! behind it, and once the handshake is over (accepted or failed) the client reads nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::handshake::{Accepted, Client, ClientRequest, Limits, ResponseError};

type Step<'b> = Result<Status<Option<Accepted<'b>>>, ResponseError>;

/// After the response was accepted or refused (`step`), the handshake is over.
fn check_over(client: &mut Client<'_>, step: &Step<'_>, data: &[u8]) {
    match step {
        Ok(Status::NeedMore { .. }) => return,
        _ => {}
    }
    assert_eq!(client.handle_input(Instant::ZERO, data), Ok(Status::Closed), "after {step:?}");
    assert_eq!(client.handle_input(Instant::ZERO, &[]), Ok(Status::Closed), "after {step:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, data)) = data.split_first() else { return };
    let request = ClientRequest::new("h", "/mqtt")
        .protocols(&["mqtt", "chat"])
        .extensions(&["permessage-deflate; client_max_window_bits"]);
    // The nonce of RFC 6455 §1.3, so seeds can carry its accept value.
    let client = Client::new(request, *b"the sample nonce")
        .expect("valid request")
        .with_limits(Limits { max_head_len: 1024, max_headers: 16 });

    let mut whole_client = client.clone();
    let whole = whole_client.handle_input(Instant::ZERO, data);
    check_over(&mut whole_client, &whole, data);

    let mut chunked_client = client.clone();
    let mut chunked: Step<'_> = Ok(Status::NeedMore { needed: 1 });
    let mut end = 0;
    while end < data.len() {
        end = (end + usize::from(step) + 1).min(data.len());
        chunked = chunked_client.handle_input(Instant::ZERO, &data[..end]);
        match &chunked {
            Ok(Status::NeedMore { needed }) => assert!(*needed >= 1),
            Ok(Status::Progress { .. }) | Err(_) => break,
            Ok(other) => panic!("the handshake answered {other:?} before it was over"),
        }
    }
    check_over(&mut chunked_client, &chunked, data);
    match (&whole, &chunked) {
        (
            Ok(Status::Progress { consumed: a_len, event: Some(a) }),
            Ok(Status::Progress { consumed: b_len, event: Some(b) }),
        ) => {
            assert_eq!(*a_len, a.head_len());
            assert_eq!(*b_len, b.head_len());
            assert_eq!(a.head_len(), b.head_len());
            assert!(a.head_len() <= data.len());
            assert!(a.protocol().is_none_or(|p| p == "mqtt" || p == "chat"));
            let _ = a.extensions().count() + a.headers().count();
        }
        (Ok(Status::Progress { .. }), other) => panic!("whole completed, chunked gave {other:?}"),
        _ => {}
    }

    // The head alone (no bytes behind it) is accepted the same way.
    if let Ok(Status::Progress { consumed, event }) = whole {
        let mut alone = client.clone();
        assert_eq!(
            alone.handle_input(Instant::ZERO, &data[..consumed]),
            Ok(Status::Progress { consumed, event })
        );
    }
});
