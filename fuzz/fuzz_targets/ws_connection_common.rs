// Shared by the ws_* fuzz targets (included with `#[path]`, not a target itself).

use mqtt_ws::Status;
use mqtt_ws::time::Instant;
use mqtt_ws::ws::connection::{Connection, Event, MIN_INPUT, MaskKeys, State};

/// Room for any frame a connection owes (a pong or close: header + 125 bytes).
pub const TX_LEN: usize = MIN_INPUT;

/// Feeds `input` (already in the receive buffer) to `conn` until it needs more bytes, is closed
/// or fails, draining `poll_transmit` after every step as the run loop requires. Checks the
/// invariants every caller relies on and returns how many bytes were consumed.
pub fn pump<K: MaskKeys>(conn: &mut Connection<K>, input: &mut [u8]) -> usize {
    let mut pos = 0;
    loop {
        let len = input.len() - pos;
        let step = conn.handle_input(Instant::ZERO, &mut input[pos..]);
        let stop = match step {
            Ok(Status::NeedMore { needed }) => {
                assert!(needed > 0);
                true
            }
            // The WebSocket connection waits for nobody: it never blocks its input.
            Ok(Status::Blocked) => panic!("a WebSocket connection reported Blocked"),
            Ok(Status::Closed) => true,
            Ok(Status::Progress { consumed, event }) => {
                assert!(consumed <= len, "consumed {consumed} of {len}");
                if let Some(Event::Data { data, .. }) = event {
                    // A data piece is the tail of the bytes the call consumed.
                    assert!(data.len() <= consumed);
                }
                if let Some(Event::Close { reason, .. }) = event {
                    assert!(reason.len() <= 123);
                }
                pos += consumed;
                // A call that consumes nothing and reports no event would loop forever.
                assert!(consumed > 0 || event.is_some(), "no progress");
                false
            }
            Err(e) => {
                // A protocol error names a close code that may be sent, and the close frame
                // carrying it is queued (unless one went out before).
                assert!(e.close_code().is_sendable());
                true
            }
        };
        drain(conn);
        if stop {
            return pos;
        }
    }
}

/// Calls `poll_transmit` until it returns `None`; every frame it writes fits `TX_LEN`.
pub fn drain<K: MaskKeys>(conn: &mut Connection<K>) {
    let mut out = [0u8; TX_LEN];
    for _ in 0..4 {
        match conn.poll_transmit(Instant::ZERO, &mut out) {
            Ok(Some(n)) => assert!(n <= TX_LEN),
            Ok(None) => return,
            Err(e) => panic!("control frame does not fit {TX_LEN} bytes: {e:?}"),
        }
    }
    panic!("poll_transmit never returned None");
}

/// After input stops the connection is in one of its states, and a failed or closed connection
/// reads nothing more.
pub fn check_end<K: MaskKeys>(conn: &mut Connection<K>) {
    let state = conn.state();
    assert!(matches!(state, State::Open | State::Closing | State::Closed));
    let mut more = [0x81u8, 0x80, 1, 2, 3, 4];
    if state == State::Closed {
        assert!(matches!(conn.handle_input(Instant::ZERO, &mut more), Ok(Status::Closed)));
    }
}

/// The frame targets' check, for a connection of either role: a header that parses re-emits to
/// the same bytes (with and without RSV1 negotiated), and `conn` reading `data` from one buffer
/// never panics and keeps its invariants.
#[allow(dead_code)]
pub fn frame_target<K: MaskKeys>(data: &[u8], mut conn: Connection<K>) {
    use mqtt_ws::ws::frame::{FrameHeader, Rsv};
    for rsv in [Rsv::NONE, Rsv::RSV1] {
        if let Ok(Status::Progress { consumed: len, event: header }) = FrameHeader::parse(data, rsv)
        {
            assert_eq!(len, header.encoded_len());
            let mut out = [0u8; 14];
            assert_eq!(header.emit(&mut out), Ok(len));
            assert_eq!(&out[..len], &data[..len]);
        }
    }
    let mut buf = data.to_vec();
    pump(&mut conn, &mut buf);
    check_end(&mut conn);
}
