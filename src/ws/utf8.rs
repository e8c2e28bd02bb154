//! Incremental UTF-8 validation for text messages (RFC 6455 §5.6, §8.1).
//!
//! A text message may arrive in many frames, and each frame in many pieces, split anywhere, even
//! inside a code point. [`Utf8Validator`] remembers a partial code point between calls and fails
//! on the first byte that can never be part of valid UTF-8 (overlong forms, surrogates, code points
//! above U+10FFFF), without waiting for the end of the message.
//!
//! The validator is a deterministic automaton over the well-formed byte sequences of Unicode 15
//! table 3-7, stored as a *shift DFA*: the state is a bit offset, and `ROWS[class] >> state`
//! holds the next state in its low 6 bits, so a byte costs two loads and one shift. Between code
//! points, ASCII is skipped a word (eight bytes) at a time, up to the next non-ASCII byte, and a
//! two- or three-byte code point whose bytes are all in view is checked whole.
//!
//! On x86-64 with `std` (AVX2 or SSE4.2, chosen at run time) and on AArch64 (NEON), a piece that
//! starts between code points is first checked by `simdutf8`, many bytes per instruction; the
//! automaton then takes over where that check stopped: at an error, which it locates the same way
//! on every target, or at a code point the piece leaves open.
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

// DFA states, as bit offsets into a table row. REJECT is 0 so that every transition the table
// does not list rejects, and stays rejected.
const REJECT: u32 = 0;
/// Between code points.
const ACCEPT: u32 = 6;
/// One continuation byte (0x80..=0xbf) still needed.
const CONT1: u32 = 12;
/// Two continuation bytes still needed.
const CONT2: u32 = 18;
/// Three continuation bytes still needed.
const CONT3: u32 = 24;
/// After 0xe0: the next byte must be 0xa0..=0xbf (no overlong form).
const AFTER_E0: u32 = 30;
/// After 0xed: the next byte must be 0x80..=0x9f (no surrogate).
const AFTER_ED: u32 = 36;
/// After 0xf0: the next byte must be 0x90..=0xbf (no overlong form).
const AFTER_F0: u32 = 42;
/// After 0xf4: the next byte must be 0x80..=0x8f (nothing above U+10FFFF).
const AFTER_F4: u32 = 48;

/// The bytes that behave alike in every state, numbered: [`CLASS`] maps a byte to its class
/// and [`ROWS`] holds one transition row per class (384 bytes of tables instead of 2 KiB).
const CLASS_REPRESENTATIVES: [u8; 12] =
    [0x00, 0x80, 0x90, 0xa0, 0xc0, 0xc2, 0xe0, 0xe1, 0xed, 0xf0, 0xf1, 0xf4];

/// The class of every byte.
static CLASS: [u8; 256] = build_classes();

/// `ROWS[class] >> state & 63` is the state after a byte of `class` (Unicode 15 table 3-7).
static ROWS: [u64; 16] = build_rows();

const fn class_of(b: u8) -> u8 {
    match b {
        0x00..=0x7f => 0,
        0x80..=0x8f => 1,
        0x90..=0x9f => 2,
        0xa0..=0xbf => 3,
        0xc0..=0xc1 | 0xf5..=0xff => 4,
        0xc2..=0xdf => 5,
        0xe0 => 6,
        0xe1..=0xec | 0xee..=0xef => 7,
        0xed => 8,
        0xf0 => 9,
        0xf1..=0xf3 => 10,
        0xf4 => 11,
    }
}

#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range fails the build"
)]
const fn build_classes() -> [u8; 256] {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        classes[b] = class_of(b as u8);
        b += 1;
    }
    classes
}

#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range fails the build"
)]
const fn build_rows() -> [u64; 16] {
    // Classes 12..16 are unused (all REJECT): 16 rows let a mask bound the index.
    let mut rows = [0u64; 16];
    let mut c = 0;
    while c < 12 {
        rows[c] = row(CLASS_REPRESENTATIVES[c]);
        c += 1;
    }
    rows
}

/// The transitions on byte `b` from every state, packed.
const fn row(b: u8) -> u64 {
    const fn edge(from: u32, to: u32) -> u64 {
        (to as u64) << from
    }
    match b {
        0x00..=0x7f => edge(ACCEPT, ACCEPT),
        0x80..=0xbf => {
            let mut row = edge(CONT1, ACCEPT) | edge(CONT2, CONT1) | edge(CONT3, CONT2);
            if b >= 0xa0 {
                row |= edge(AFTER_E0, CONT1);
            } else {
                row |= edge(AFTER_ED, CONT1);
            }
            if b >= 0x90 {
                row |= edge(AFTER_F0, CONT2);
            } else {
                row |= edge(AFTER_F4, CONT2);
            }
            row
        }
        0xc2..=0xdf => edge(ACCEPT, CONT1),
        0xe0 => edge(ACCEPT, AFTER_E0),
        0xe1..=0xec | 0xee..=0xef => edge(ACCEPT, CONT2),
        0xed => edge(ACCEPT, AFTER_ED),
        0xf0 => edge(ACCEPT, AFTER_F0),
        0xf1..=0xf3 => edge(ACCEPT, CONT3),
        0xf4 => edge(ACCEPT, AFTER_F4),
        _ => 0, // 0xc0, 0xc1, 0xf5..=0xff never occur
    }
}

/// The state after `b` from `state` (REJECT stays REJECT).
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "a u8 indexes 256 classes; a class masked to 0..16")]
fn step(state: u32, b: u8) -> u32 {
    let row = ROWS[usize::from(CLASS[usize::from(b)] & 15)];
    // `state` is a multiple of 6 below 64: the shift never overflows.
    ((row >> state) & 63) as u32
}

/// The high bit of every byte of a word: set in a byte that is not ASCII.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The SIMD check of long pieces, where the target has one: x86-64 with `std` (the instruction
/// set chosen at run time) and AArch64.
#[cfg(any(all(feature = "std", target_arch = "x86_64"), target_arch = "aarch64"))]
mod simd {
    /// Pieces at least this long go to `simdutf8` first: below it, the call costs more than the
    /// automaton's word-at-a-time ASCII loop saves.
    pub(super) const MIN_LEN: usize = 64;

    /// How many bytes from the start of `bytes` are valid UTF-8 as `simdutf8` checks them; out
    /// of line, so that short pieces do not pay for its registers.
    #[inline(never)]
    pub(super) fn valid_up_to(bytes: &[u8]) -> usize {
        simdutf8::compat::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), str::len)
    }
}

/// An incremental UTF-8 validator. Cheap to copy, one word of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Utf8Validator {
    /// The DFA state: never `REJECT` between calls.
    state: u32,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator { state: ACCEPT }
    }

    /// Whether the bytes fed so far end between code points.
    pub const fn is_complete(&self) -> bool {
        self.state == ACCEPT
    }

    /// Validates the next piece of the message. On error the validator is left as it was before
    /// the offending byte; the message is invalid whatever follows.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut state = self.state;
        let mut i = 0;
        #[cfg(any(all(feature = "std", target_arch = "x86_64"), target_arch = "aarch64"))]
        if state == ACCEPT && bytes.len() >= simd::MIN_LEN {
            // The automaton goes on from the first byte the check did not pass.
            i = simd::valid_up_to(bytes);
            if i == bytes.len() {
                return Ok(());
            }
        }
        loop {
            if state == ACCEPT {
                // Between code points: ASCII a word at a time, up to the first non-ASCII byte.
                'ascii: {
                    let (words, _) = bytes.get(i..).unwrap_or_default().as_chunks::<8>();
                    for word in words {
                        let high = u64::from_ne_bytes(*word) & HIGH_BITS;
                        if high != 0 {
                            let skip = if cfg!(target_endian = "little") {
                                high.trailing_zeros()
                            } else {
                                high.leading_zeros()
                            } / 8;
                            i += skip as usize;
                            break 'ascii;
                        }
                        i += 8; // eight ASCII bytes
                    }
                    // Fewer than eight bytes left: ASCII ones a byte at a time, without the
                    // automaton.
                    while let Some(&b) = bytes.get(i)
                        && b < 0x80
                    {
                        i += 1;
                    }
                }
                // A two- or three-byte code point whole in view is checked at once, by the rows
                // of Unicode 15 table 3-7 the automaton holds: C2..DF then a continuation byte;
                // E0..EF then two, the first A0..BF after E0 (no overlong form) and 80..9F
                // after ED (no surrogate). Anything else goes to the automaton a byte at a time.
                if let Some(&[lead, c1, c2]) = bytes.get(i..).and_then(<[u8]>::first_chunk::<3>)
                    && c1 & 0xc0 == 0x80
                {
                    if (0xc2..=0xdf).contains(&lead) {
                        i += 2;
                        continue;
                    }
                    if lead & 0xf0 == 0xe0
                        && c2 & 0xc0 == 0x80
                        && (lead != 0xe0 || c1 >= 0xa0)
                        && (lead != 0xed || c1 < 0xa0)
                    {
                        i += 3;
                        continue;
                    }
                }
            }
            let Some(&b) = bytes.get(i) else { break };
            let next = step(state, b);
            if next == REJECT {
                self.state = state;
                return Err(Utf8Error { position: i });
            }
            state = next;
            i += 1;
        }
        self.state = state;
        Ok(())
    }

    /// Checks that the message ends between code points. `len` is reported as the error position
    /// (pass the length of the last piece, or 0).
    pub fn finish(&self, len: usize) -> Result<(), Utf8Error> {
        if self.state == ACCEPT { Ok(()) } else { Err(Utf8Error { position: len }) }
    }

    /// Resets the validator for a new message.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

impl core::fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid UTF-8 at byte {}", self.position)
    }
}

impl core::error::Error for Utf8Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables the compiler built are the ones their builders give at run time, and every
    /// byte of a class moves the automaton as its class's representative does: the classes
    /// lose nothing of Unicode's table 3-7.
    #[test]
    fn the_tables_are_what_their_builders_say() {
        assert_eq!(build_classes(), CLASS);
        assert_eq!(build_rows(), ROWS);
        for b in 0..=255u8 {
            let class = usize::from(class_of(b));
            let representative = CLASS_REPRESENTATIVES[class];
            assert_eq!(class_of(representative), class_of(b), "{b:#x}");
            assert_eq!(row(b), row(representative), "{b:#x} moves as {representative:#x}");
        }
        // Bytes that never occur in UTF-8 reject from every state.
        for b in [0xc0, 0xc1, 0xf5, 0xff] {
            assert_eq!(row(b), 0);
        }
    }

    #[test]
    fn the_error_names_its_byte() {
        let e = Utf8Validator::new().feed(b"ok\xff").unwrap_err();
        assert_eq!(std::format!("{e}"), "invalid UTF-8 at byte 2");
    }

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

    /// Feeds `bytes` in two pieces split at `split`; returns the index of the failing byte.
    fn split_feed(bytes: &[u8], split: usize) -> Result<(), usize> {
        let mut v = Utf8Validator::new();
        let (a, b) = bytes.split_at(split);
        v.feed(a).map_err(|e| e.position)?;
        v.feed(b).map_err(|e| split + e.position)?;
        v.finish(bytes.len()).map_err(|e| e.position)
    }

    #[test]
    fn long_text_fails_at_the_first_bad_byte_across_word_and_piece_boundaries() {
        let text = "MQTT über WebSocket — sans-IO, no_std; \u{10348} ok".as_bytes();
        for at in 0..=text.len() {
            for bad in [0x80u8, 0xc0, 0xe0, 0xed, 0xf4, 0xff] {
                let mut bytes = text.to_vec();
                bytes.insert(at, bad);
                let expected =
                    core::str::from_utf8(&bytes).map(|_| ()).map_err(|e| e.valid_up_to());
                let got = whole(&bytes);
                assert_eq!(got.is_ok(), expected.is_ok(), "{bytes:?}");
                if let (Err(g), Err(valid)) = (got, expected) {
                    // The offending byte is at or after the end of core's valid prefix, within
                    // the bad sequence (at most 3 bytes further), and never after the inserted one
                    // plus the sequence it opened.
                    assert!(g >= valid && g <= valid + 3, "{bytes:?}: {g} vs {valid}");
                    for split in 0..=bytes.len() {
                        assert_eq!(split_feed(&bytes, split), Err(g), "{bytes:?} split {split}");
                    }
                    assert_eq!(bytewise(&bytes), Err(g), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn long_pieces_fail_at_the_byte_the_automaton_names() {
        // Pieces of 64 bytes and more are checked by SIMD first where the target has it: valid
        // text passes in any two pieces, and an error is reported at the byte the automaton
        // alone names when fed one byte at a time.
        let text = "MQTT über WebSocket — sans-IO, no_std; \u{10348} ok. ".repeat(4);
        let text = text.as_bytes();
        for split in 0..=text.len() {
            assert_eq!(split_feed(text, split), Ok(()), "split {split}");
        }
        for at in 0..=text.len() {
            for bad in [0x80u8, 0xc0, 0xe0, 0xed, 0xf4, 0xff] {
                let mut bytes = text.to_vec();
                bytes.insert(at, bad);
                let expected = bytewise(&bytes);
                assert!(expected.is_err(), "{bytes:?}");
                assert_eq!(whole(&bytes), expected, "{bytes:?}");
                for split in [0, at / 2, at, at + 1, bytes.len() - 64, bytes.len()] {
                    let split = split.min(bytes.len());
                    assert_eq!(split_feed(&bytes, split), expected, "{bytes:?} split {split}");
                }
            }
        }
    }

    #[test]
    fn random_text_agrees_with_core_in_any_pieces() {
        // Bytes drawn from a few classes (ASCII, continuation, every kind of lead byte), so most
        // inputs hold long valid runs and then break in every possible way.
        const CLASSES: [u8; 14] =
            [b'a', b'~', 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xc0];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut bytes = std::vec::Vec::with_capacity(len);
            for _ in 0..len {
                let r = next();
                // Mostly valid text so errors come late.
                let b = if r % 4 == 0 {
                    CLASSES[(r >> 8) as usize % CLASSES.len()]
                } else {
                    let s = ["x", "é", "€", "\u{10348}", "ab"][(r >> 8) as usize % 5];
                    bytes.extend_from_slice(s.as_bytes());
                    continue;
                };
                bytes.push(b);
            }
            let expected = core::str::from_utf8(&bytes).map(|_| ()).map_err(|e| e.valid_up_to());
            let got = whole(&bytes);
            match (got, expected) {
                (Ok(()), Ok(())) => {}
                (Err(g), Err(valid)) => assert!(g >= valid && g <= valid + 3, "{bytes:?}"),
                _ => panic!("{bytes:?}: {got:?} vs core {expected:?}"),
            }
            let split = (next() as usize) % (bytes.len() + 1);
            assert_eq!(split_feed(&bytes, split), got, "{bytes:?} split {split}");
            assert_eq!(bytewise(&bytes), got, "{bytes:?}");
        }
    }

    #[test]
    fn classes_keep_every_transition() {
        for b in 0..=255u8 {
            assert_eq!(ROWS[usize::from(CLASS[usize::from(b)])], row(b), "{b:#x}");
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

    #[test]
    fn code_points_checked_whole_agree_with_the_automaton() {
        // Fed whole, a two- or three-byte code point with the bytes after it in view is checked
        // at once; byte by byte, only the automaton runs: the same answer, the same position.
        let check = |a: u8, b: u8, c: u8| {
            let s = [a, b, c, b'x'];
            assert_eq!(whole(&s), bytewise(&s), "{s:x?}");
            assert_eq!(whole(&s).is_ok(), core::str::from_utf8(&s).is_ok(), "{s:x?}");
        };
        // Every first byte, ASCII too (at the end of a text fewer than eight bytes are left for
        // the word scan, so the check may start at an ASCII byte).
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in [0x00, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0] {
                    check(a, b, c);
                }
            }
        }
        // Every third byte after each three-byte lead and a second byte at its limits.
        for a in 0xe0..=0xefu8 {
            for b in [0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0] {
                (0..=255u8).for_each(|c| check(a, b, c));
            }
        }
    }

    #[test]
    fn four_byte_sequences_at_every_lead_byte_match_core() {
        // Every lead byte from 0xf0 (overlong below 0x90) to 0xf4 (nothing above U+10FFFF),
        // second bytes at and around each limit, whole and byte by byte.
        for a in 0xf0..=0xf5u8 {
            for b in [0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0] {
                for c in [0x80, 0xbf, 0xc0] {
                    let s = [a, b, c, 0x80];
                    let core = core::str::from_utf8(&s).is_ok();
                    assert_eq!(whole(&s).is_ok(), core, "{s:x?}");
                    assert_eq!(bytewise(&s).is_ok(), core, "{s:x?}");
                }
            }
        }
        // U+50000 (0xf1, a supplementary plane), after ASCII that fills a word.
        assert_eq!(whole("abcdefgh\u{50000}ijk".as_bytes()), Ok(()));
    }
}
