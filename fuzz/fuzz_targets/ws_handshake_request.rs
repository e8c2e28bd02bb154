//! The server's HTTP/1.1 request parser: arbitrary bytes never panic, feeding them in chunks
//! gives the same result as feeding them whole, the head parses the same without the bytes
//! behind it, and an accepted request can always be answered. The server handshake machine fed
//! the same chunks agrees with the parser, waits for its answer (`Blocked`), writes exactly the
//! answer given (or, for a bad request, the refusal the error calls for) and then reads nothing.
//! A request we accept is one httparse (the HTTP/1.1 parser of hyper and tungstenite) reads
//! the same: the same head length, method, target and header fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::handshake::{Limits, RequestParser, Server};

fuzz_target!(|data: &[u8]| {
    let Some((&step, data)) = data.split_first() else { return };
    let limits = Limits { max_head_len: 1024, max_headers: 16 };

    let whole = RequestParser::new(limits).parse(data);

    // The same bytes arriving `step + 1` at a time.
    let mut parser = RequestParser::new(limits);
    let mut chunked = Ok(Status::NeedMore { needed: 1 });
    let mut end = 0;
    while end < data.len() {
        end = (end + usize::from(step) + 1).min(data.len());
        chunked = parser.parse(&data[..end]);
        match &chunked {
            Ok(Status::NeedMore { needed }) => assert!(*needed >= 1),
            Ok(Status::Progress { .. }) | Err(_) => break,
            Ok(other) => panic!("a request parser answered {other:?}"),
        }
    }
    match (&whole, &chunked) {
        (
            Ok(Status::Progress { consumed: a_len, event: a }),
            Ok(Status::Progress { consumed: b_len, event: b }),
        ) => {
            assert_eq!(*a_len, a.head_len());
            assert_eq!(*b_len, b.head_len());
            assert_eq!(a.head_len(), b.head_len());
            assert!(a.head_len() <= data.len());
        }
        (Ok(Status::Progress { .. }), other) => panic!("whole completed, chunked gave {other:?}"),
        (Err(a), Err(b)) => assert_eq!(a.reject(), b.reject()),
        _ => {}
    }

    // The server handshake machine, on the same chunks.
    let mut server = Server::new(limits);
    let mut end = 0;
    let mut reported = Ok(Status::NeedMore { needed: 1 });
    while end < data.len() {
        end = (end + usize::from(step) + 1).min(data.len());
        reported = server.handle_input(Instant::ZERO, &data[..end]);
        if !matches!(reported, Ok(Status::NeedMore { .. })) {
            break;
        }
    }
    assert_eq!(reported, chunked.map(|s| s.map(Some)), "the machine and the parser disagree");
    let mut out = [0u8; 2048];
    let answer = match reported {
        Ok(Status::Progress { event: Some(request), .. }) => {
            assert_eq!(server.handle_input(Instant::ZERO, data), Ok(Status::Blocked));
            assert_eq!(server.poll_transmit(Instant::ZERO, &mut out), Ok(None));
            let accept = request.accept(request.protocols().next()).expect("offered");
            server.accept(accept).expect("a reported request is answered");
            let mut expected = vec![0u8; accept.encoded_len()];
            accept.encode(&mut expected).expect("fits");
            Some(expected)
        }
        Err(e) => {
            let mut expected = vec![0u8; e.reject().encoded_len()];
            e.reject().encode(&mut expected).expect("fits");
            Some(expected)
        }
        _ => None,
    };
    if let Some(expected) = answer {
        assert_eq!(server.handle_input(Instant::ZERO, data), Ok(Status::Blocked));
        let n = server.poll_transmit(Instant::ZERO, &mut out).expect("fits").expect("the answer");
        assert_eq!(&out[..n], &expected[..]);
        assert_eq!(server.poll_transmit(Instant::ZERO, &mut out), Ok(None));
        assert_eq!(server.handle_input(Instant::ZERO, data), Ok(Status::Closed));
    }

    if let Ok(Status::Progress { consumed, event: request }) = whole {
        // The head alone (no bytes behind it) parses to the same request.
        match RequestParser::new(limits).parse(&data[..consumed]) {
            Ok(Status::Progress { consumed: again, event }) => {
                assert_eq!(again, consumed);
                assert_eq!(event, request);
            }
            other => panic!("the head alone gave {other:?}"),
        }
        let _ = (request.path(), request.host(), request.origin(), request.key());
        let _ = request.headers().count() + request.extensions().count();
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut reference = httparse::Request::new(&mut fields);
        let parsed = reference.parse(&data[..consumed]).expect("httparse reads what we accept");
        assert_eq!(parsed, httparse::Status::Complete(consumed));
        assert_eq!((reference.method, reference.path), (Some("GET"), Some(request.path())));
        assert_eq!(reference.version, Some(1));
        let ours = request.headers().map(|h| (h.name, h.value));
        assert!(ours.eq(reference.headers.iter().map(|h| (h.name, h.value))), "{request:?}");
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
