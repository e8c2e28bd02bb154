//! WebSocket frame headers, masking and UTF-8 validation on arbitrary bytes.
//!
//! - a header that parses is re-emitted byte for byte, and every shorter prefix is `Partial`;
//! - the incremental UTF-8 validator, fed in two pieces, agrees with `core::str::from_utf8`;
//! - masking in two pieces equals masking at once.
//!
//! Input: byte 0 selects the allowed RSV bits and the split point; the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::ws::frame::{FrameHeader, MAX_HEADER_LEN, Rsv};
use mqtt_ws::ws::mask::apply_mask;
use mqtt_ws::ws::utf8::Utf8Validator;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else { return };
    let allowed = Rsv(sel & 0x70);
    match FrameHeader::parse(input, allowed) {
        Ok(Some((header, len))) => {
            assert!(len <= input.len());
            assert_eq!(len, header.encoded_len());
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = header.emit(&mut out).expect("a header fits MAX_HEADER_LEN");
            assert_eq!(&out[..n], &input[..len]);
            for k in 0..len {
                assert_eq!(FrameHeader::parse(&input[..k], allowed), Ok(None));
            }
        }
        Ok(None) => assert!(input.len() < MAX_HEADER_LEN),
        Err(_) => {}
    }

    let split = usize::from(sel) % (input.len() + 1);
    let (a, b) = input.split_at(split);
    let mut v = Utf8Validator::new();
    let valid = v.feed(a).is_ok() && v.feed(b).is_ok() && v.finish(0).is_ok();
    assert_eq!(valid, core::str::from_utf8(input).is_ok());

    let key = [sel, sel.wrapping_mul(3), 0x5a, !sel];
    let mut whole = input.to_vec();
    apply_mask(key, 1, &mut whole);
    let mut pieces = input.to_vec();
    let (x, y) = pieces.split_at_mut(split);
    let phase = apply_mask(key, 1, x);
    apply_mask(key, phase, y);
    assert_eq!(whole, pieces);
});
