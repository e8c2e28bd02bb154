//! Incremental UTF-8 validation for text messages (RFC 6455 §5.6, §8.1).
//!
//! A text message may arrive in many frames, and each frame in many pieces, split anywhere, even
//! inside a code point. [`Utf8Validator`] remembers a partial code point between calls and fails
//! on the first byte that can never be part of valid UTF-8 (overlong forms, surrogates, code points
//! above U+10FFFF), without waiting for the end of the message. Runs of complete text go through
//! `core::str::from_utf8`, whose ASCII path works a word at a time.
//!
//! Invariant: after `feed` returns `Ok`, every byte fed so far is valid UTF-8 or a valid prefix of
//! one code point still open at the end.

/// The bytes fed so far can never become valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Utf8Error {
    /// Offset of the offending byte in the slice passed to the failing call (for
    /// [`Utf8Validator::finish`], the slice length: the message ended inside a code point).
    pub position: usize,
}

/// An incremental UTF-8 validator. Cheap to copy, 3 bytes of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Utf8Validator {
    /// Continuation bytes still expected for the open code point (0 when between code points).
    needed: u8,
    /// Inclusive range the next continuation byte must fall in.
    lo: u8,
    hi: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator { needed: 0, lo: 0x80, hi: 0xbf }
    }

    /// Whether the bytes fed so far end between code points.
    pub const fn is_complete(&self) -> bool {
        self.needed == 0
    }

    /// Validates the next piece of the message. On error the validator is left as it was before
    /// the offending byte; the message is invalid whatever follows.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut i = 0;
        // Finish an open code point byte by byte.
        while self.needed > 0 {
            let Some(&b) = bytes.get(i) else { return Ok(()) };
            let saved = *self;
            if self.step(b).is_err() {
                *self = saved;
                return Err(Utf8Error { position: i });
            }
            i += 1;
        }
        let rest = bytes.get(i..).unwrap_or(&[]);
        let Err(e) = core::str::from_utf8(rest) else { return Ok(()) };
        let valid = e.valid_up_to();
        // Either an invalid sequence (stepping through it finds the exact offending byte and
        // leaves the validator just before it) or a valid prefix of a code point at the end
        // (stepping through it remembers it).
        i += valid;
        for &b in rest.get(valid..).unwrap_or(&[]) {
            let saved = *self;
            if self.step(b).is_err() {
                *self = saved;
                return Err(Utf8Error { position: i });
            }
            i += 1;
        }
        Ok(())
    }

    /// Checks that the message ends between code points. `len` is reported as the error position
    /// (pass the length of the last piece, or 0).
    pub fn finish(&self, len: usize) -> Result<(), Utf8Error> {
        if self.needed == 0 { Ok(()) } else { Err(Utf8Error { position: len }) }
    }

    /// Resets the validator for a new message.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// One byte of the state machine (Unicode 15 table 3-7, "well-formed UTF-8 byte sequences").
    fn step(&mut self, b: u8) -> Result<(), ()> {
        if self.needed > 0 {
            if b < self.lo || b > self.hi {
                return Err(());
            }
            self.needed -= 1;
            self.lo = 0x80;
            self.hi = 0xbf;
            return Ok(());
        }
        let (needed, lo, hi) = match b {
            0x00..=0x7f => (0, 0x80, 0xbf),
            0xc2..=0xdf => (1, 0x80, 0xbf),
            0xe0 => (2, 0xa0, 0xbf),
            0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf),
            0xed => (2, 0x80, 0x9f),
            0xf0 => (3, 0x90, 0xbf),
            0xf1..=0xf3 => (3, 0x80, 0xbf),
            0xf4 => (3, 0x80, 0x8f),
            _ => return Err(()),
        };
        self.needed = needed;
        self.lo = lo;
        self.hi = hi;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> Result<(), usize> {
        let mut v = Utf8Validator::new();
        v.feed(bytes).map_err(|e| e.position)?;
        v.finish(bytes.len()).map_err(|e| e.position)
    }

    /// Feeds one byte at a time; returns the index of the failing byte.
    fn bytewise(bytes: &[u8]) -> Result<(), usize> {
        let mut v = Utf8Validator::new();
        for (i, b) in bytes.iter().enumerate() {
            v.feed(core::slice::from_ref(b)).map_err(|_| i)?;
        }
        v.finish(0).map_err(|_| bytes.len())
    }

    #[test]
    fn valid_text() {
        for s in ["", "hello", "κόσμε", "\u{10ffff}", "a\u{7ff}b\u{800}\u{ffff}\u{10000}", "€uro"]
        {
            assert_eq!(whole(s.as_bytes()), Ok(()), "{s}");
            assert_eq!(bytewise(s.as_bytes()), Ok(()), "{s}");
            for split in 0..=s.len() {
                let mut v = Utf8Validator::new();
                v.feed(&s.as_bytes()[..split]).unwrap();
                v.feed(&s.as_bytes()[split..]).unwrap();
                assert!(v.is_complete());
            }
        }
    }

    #[test]
    fn fails_on_first_invalid_byte() {
        // (input, index of the first byte that makes it invalid)
        let cases: &[(&[u8], usize)] = &[
            (b"ab\x80", 2),           // lone continuation
            (b"\xc0\xaf", 0),         // overlong lead
            (b"\xe0\x80\x80", 1),     // overlong 3-byte
            (b"\xed\xa0\x80", 1),     // surrogate
            (b"\xf0\x80\x80\x80", 1), // overlong 4-byte
            (b"\xf4\x90\x80\x80", 1), // above U+10FFFF
            (b"\xf5", 0),             // invalid lead
            (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", 12), // Autobahn 6.4.x
            (b"\xe2\x82\x28", 2), // bad continuation
            (b"\xff", 0),
        ];
        for &(input, at) in cases {
            assert_eq!(whole(input), Err(at), "{input:?}");
            assert_eq!(bytewise(input), Err(at), "{input:?}");
        }
    }

    #[test]
    fn truncated_at_end() {
        assert_eq!(whole(b"ab\xe2\x82"), Err(4));
        assert_eq!(bytewise(b"\xf0\x9f\x98"), Err(3));
        let mut v = Utf8Validator::new();
        v.feed(b"\xf0\x9f").unwrap();
        assert!(!v.is_complete());
        v.reset();
        assert!(v.is_complete());
    }

    #[test]
    fn exhaustive_two_and_three_byte_sequences_match_core() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let s = [a, b];
                assert_eq!(whole(&s).is_ok(), core::str::from_utf8(&s).is_ok(), "{s:?}");
                assert_eq!(bytewise(&s).is_ok(), core::str::from_utf8(&s).is_ok(), "{s:?}");
            }
        }
        for a in 0xe0..=0xf4u8 {
            for b in 0x70..=0xc0u8 {
                for c in [0x7f, 0x80, 0xbf, 0xc0] {
                    let s = [a, b, c];
                    assert_eq!(bytewise(&s).is_ok(), core::str::from_utf8(&s).is_ok(), "{s:?}");
                }
            }
        }
    }
}
