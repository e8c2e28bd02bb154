//! WebSocket frame headers, masking and UTF-8 validation on arbitrary bytes.
//!
//! - a header that parses is re-emitted byte for byte, parses the same without the bytes behind
//!   it, and every shorter prefix is `NeedMore` with the exact count missing once the second
//!   byte is in;
//! - the incremental UTF-8 validator, fed in two pieces, agrees with `core::str::from_utf8`, and
//!   names the same failing byte fed whole (the SIMD check first, from 64 bytes) as fed a byte at
//!   a time (the automaton alone);
//! - masking in two pieces equals masking at once.
//!
//! Input: byte 0 selects the allowed RSV bits and the split point; the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::ws::frame::{FrameHeader, MAX_HEADER_LEN, Rsv};
use mqtt_ws::ws::mask::apply_mask;
use mqtt_ws::ws::utf8::Utf8Validator;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else { return };
    let allowed = Rsv(sel & 0x70);
    match FrameHeader::parse(input, allowed) {
        Ok(Status::Progress { consumed: len, event: header }) => {
            assert!(len <= input.len());
            assert_eq!(len, header.encoded_len());
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = header.emit(&mut out).expect("a header fits MAX_HEADER_LEN");
            assert_eq!(&out[..n], &input[..len]);
            assert_eq!(
                FrameHeader::parse(&input[..len], allowed),
                Ok(Status::Progress { consumed: len, event: header })
            );
            for k in 0..len {
                match FrameHeader::parse(&input[..k], allowed) {
                    Ok(Status::NeedMore { needed }) if k >= 2 => assert_eq!(k + needed, len),
                    Ok(Status::NeedMore { needed }) => assert!(needed >= 1 && k + needed <= len),
                    other => panic!("prefix {k} of {len}: {other:?}"),
                }
            }
        }
        Ok(Status::NeedMore { needed }) => {
            assert!(needed >= 1);
            assert!(input.len() + needed <= MAX_HEADER_LEN);
        }
        Ok(other) => panic!("a header parser answered {other:?}"),
        Err(_) => {}
    }

    let split = usize::from(sel) % (input.len() + 1);
    let (a, b) = input.split_at(split);
    let mut v = Utf8Validator::new();
    let valid = v.feed(a).is_ok() && v.feed(b).is_ok() && v.finish(0).is_ok();
    assert_eq!(valid, core::str::from_utf8(input).is_ok());
    let mut whole = Utf8Validator::new();
    let at_once = whole.feed(input).err().map(|e| e.position);
    let mut bytewise = Utf8Validator::new();
    let one_by_one = input.iter().position(|b| bytewise.feed(core::slice::from_ref(b)).is_err());
    assert_eq!(at_once, one_by_one);

    let key = [sel, sel.wrapping_mul(3), 0x5a, !sel];
    let mut whole = input.to_vec();
    apply_mask(key, 1, &mut whole);
    let mut pieces = input.to_vec();
    let (x, y) = pieces.split_at_mut(split);
    let phase = apply_mask(key, 1, x);
    apply_mask(key, phase, y);
    assert_eq!(whole, pieces);
});
