//! Wire primitives shared by the codec (crate-internal).
//!
//! Invariants: [`Reader`] never reads past the slice it was given and reports running out as
//! [`DecodeError::Truncated`] (the packet's content is longer than its remaining length).
//! [`Writer`] is only used after the exact encoded size was computed and checked against the
//! caller's buffer, so it writes without further checks.
//!
//! # Why a hand-written cursor and one string scanner
//!
//! nom's number parsers assemble integers a byte at a time and its `IResult` plumbing does not
//! fold away: it costs instructions on every packet, so [`Reader`] is a plain bounds-checked cursor; every string check goes through
//! one out-of-line scanner ([`scan_all`]) behind a short inlined fast path ([`scan`]), so a
//! size-optimised firmware holds one copy while the common string (ASCII, no NUL, no wildcard)
//! stays cheap. The measurements, and what was tried and dropped: `benches/README.md`.

use super::error::{DecodeError, EncodeError};

/// Largest remaining length a variable byte integer can hold (four bytes) [MQTT-1.5.5].
pub(crate) const MAX_REMAINING_LEN: usize = 268_435_455;

/// Largest UTF-8 string or binary data length (two-byte length prefix) [MQTT-1.5.4], [MQTT-1.5.6].
pub(crate) const MAX_STRING_LEN: usize = 65_535;

/// Decodes a variable byte integer from the start of `buf`.
///
/// `Ok(None)` when `buf` ends before the integer does.
#[inline]
pub(crate) fn decode_varint(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(i) else { return Ok(None) };
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // [MQTT-1.5.5-1] the encoded value MUST use the minimum number of bytes.
            if i > 0 && b == 0 {
                return Err(DecodeError::NonMinimalVarInt);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    // More than four bytes: malformed [MQTT-1.5.5].
    Err(DecodeError::MalformedVarInt)
}

/// Number of bytes the variable byte integer encoding of `value` takes (`value` at most
/// [`MAX_REMAINING_LEN`]).
#[inline]
pub(crate) const fn varint_len(value: usize) -> usize {
    if value < 0x80 {
        1
    } else if value < 0x4000 {
        2
    } else if value < 0x20_0000 {
        3
    } else {
        4
    }
}

/// Length of a two-byte-prefixed string or binary field, or the misuse error.
#[inline]
pub(crate) fn prefixed_len(len: usize) -> Result<usize, EncodeError> {
    if len > MAX_STRING_LEN { Err(EncodeError::StringTooLong) } else { Ok(2 + len) }
}

/// What [`scan`] found in a string's bytes.
pub(crate) mod found {
    /// A byte above 0x7F (the bytes are not all ASCII).
    pub const NON_ASCII: u8 = 1;
    /// A 0x00 byte.
    pub const NUL: u8 = 2;
    /// A `+` or `#`.
    pub const WILDCARD: u8 = 4;
    /// A wildcard that does not fill its whole level, read as a topic filter [MQTT-4.7.1-1],
    /// [MQTT-4.7.1-2].
    pub const MISPLACED: u8 = 8;
}

/// The scanner's word: the target's native width, so a 32-bit firmware tests four bytes with
/// one instruction per step rather than eight bytes with two.
type Word = usize;
/// Bytes in a [`Word`].
const W: usize = core::mem::size_of::<Word>();

const LO: Word = Word::MAX / 0xff;
const HI: Word = LO * 0x80;
const LO7: Word = LO * 0x7f;

// SWAR byte tests: `(w - LO) & !w & HI` has high bits set where `w` may have a zero byte, and
// is non-zero exactly when `w` has one (a borrow can only add bits above a real zero byte).
// `+` (0x2B) and `#` (0x23) differ only in bit 3: with that bit set in every byte both become
// 0x2B and no other byte does, so `(w | BIT3) ^ PLUS` has a zero byte exactly where `w` has a
// wildcard.
const BIT3: Word = LO * 0x08;
const PLUS: Word = LO * b'+' as Word;

/// Whether the wildcard at `i` fills its whole level.
#[inline]
fn placed(bytes: &[u8], i: usize) -> bool {
    // The start of the string behaves as if after a separator, its end as if before one.
    let at = |j: usize| bytes.get(j).copied().unwrap_or(b'/');
    let prev = i.checked_sub(1).map_or(b'/', at);
    prev == b'/'
        && match at(i) {
            // [MQTT-4.7.1-1] '#' alone in the last level.
            b'#' => i + 1 == bytes.len(),
            // [MQTT-4.7.1-2] '+' occupies an entire level.
            _ => at(i + 1) == b'/',
        }
}

/// Whether a wildcard in `w`, the word of `bytes` at `base`, is misplaced: finds
/// them exactly (`+` and `#` differ only in bit 3) and checks their neighbours.
#[inline]
fn misplaced_in(bytes: &[u8], base: usize, w: Word) -> bool {
    let x = (w | BIT3) ^ PLUS;
    // Exactly the wildcard bytes (no borrow between bytes).
    let mut m = !((x & LO7).wrapping_add(LO7) | x | LO7);
    while m != 0 {
        if !placed(bytes, base + (m.trailing_zeros() / 8) as usize) {
            return true;
        }
        m &= m - 1;
    }
    false
}

/// The last word of `bytes` when it is that long (with where they start), else the tail
/// `rest` padded with a byte that matches nothing; re-testing bytes changes no flag.
#[inline]
fn last_word(bytes: &[u8], rest: &[u8]) -> (usize, Word) {
    let last = |start| Some((start, *bytes.get(start..)?.first_chunk::<W>()?));
    match bytes.len().checked_sub(W).and_then(last) {
        Some((start, c)) => (start, Word::from_le_bytes(c)),
        // Shifted in byte by byte: a copy into a padded array becomes a `memcpy` call.
        _ => (0, rest.iter().rev().fold(LO * Word::from(b'a'), |w, &b| w << 8 | Word::from(b))),
    }
}

/// The [`found`] flags of `bytes`. Every string check of the codec goes through this one
/// function (with `from_utf8` where a `&str` is needed or a byte is above 0x7F).
///
/// Most strings are ASCII without NUL or wildcard: a first loop, a word at a time, tests only
/// that, fails fast at the first word where it does not hold and hands the string to the one
/// out-of-line [`scan_all`]. The early exit keeps the loop scalar and short. `#[inline]` is a
/// hint that an optimised build takes and a size-optimised firmware leaves (one copy).
#[inline]
pub(crate) fn scan(bytes: &[u8]) -> u8 {
    // `w - LO` has a high bit set in some byte exactly when `w` holds a 0x00 byte or one above
    // 0x80, and `x - LO` when `w` holds a wildcard or a byte above 0x7F (borrows only add bits
    // above a byte that already sets one): no high bit, no flag to report.
    let plain = |w: Word| {
        let x = (w | BIT3) ^ PLUS;
        (w.wrapping_sub(LO) | x.wrapping_sub(LO)) & HI == 0
    };
    let mut rest = bytes;
    while let Some((&c, r)) = rest.split_first_chunk() {
        if !plain(Word::from_le_bytes(c)) {
            return scan_all(bytes);
        }
        rest = r;
    }
    if rest.is_empty() || plain(last_word(bytes, rest).1) {
        return 0;
    }
    scan_all(bytes)
}

/// [`scan`] for strings holding a NUL, a wildcard or a byte above 0x7F: one pass over `bytes`,
/// a word at a time, for all the [`found`] flags; words that pass the fast test of [`scan`] are
/// skipped, the others tested exactly, and a word holding a wildcard also has each wildcard's
/// neighbours checked ([`found::MISPLACED`]). Topic filters, which often hold a wildcard, come
/// here directly.
#[inline(never)]
pub(crate) fn scan_all(bytes: &[u8]) -> u8 {
    scan_words(bytes)
}

/// [`scan_all`] for a topic filter: the same pass, which an optimised build inlines into the
/// one filter check and a size-optimised firmware leaves as a call.
#[inline]
pub(crate) fn scan_filter(bytes: &[u8]) -> u8 {
    scan_words(bytes)
}

/// The body of [`scan_all`] and [`scan_filter`].
#[inline]
fn scan_words(bytes: &[u8]) -> u8 {
    let mut flags = 0;
    let mut word = |base: usize, w: Word| {
        let x = (w | BIT3) ^ PLUS;
        if (w.wrapping_sub(LO) | x.wrapping_sub(LO)) & HI == 0 {
            return;
        }
        if w.wrapping_sub(LO) & !w & HI != 0 {
            flags |= found::NUL;
        }
        if w & HI != 0 {
            flags |= found::NON_ASCII;
        }
        if x.wrapping_sub(LO) & !x & HI != 0 {
            flags |= found::WILDCARD;
            // The last word may repeat bytes of the one before: checking a wildcard twice
            // changes nothing.
            if misplaced_in(bytes, base, w) {
                flags |= found::MISPLACED;
            }
        }
    };
    let mut rest = bytes;
    while let Some((&c, r)) = rest.split_first_chunk() {
        word(bytes.len() - rest.len(), Word::from_le_bytes(c));
        rest = r;
    }
    if !rest.is_empty() {
        let (base, w) = last_word(bytes, rest);
        word(base, w);
    }
    flags
}

/// Validates a UTF-8 encoded string's content [MQTT-1.5.4-1], [MQTT-1.5.4-2] without making a
/// `&str` of it, and returns the [`scan`] flags: all-ASCII bytes are valid UTF-8, so
/// `from_utf8` only runs when the scan saw a byte above 0x7F. Same errors, in the same order,
/// as [`utf8_scan`].
#[inline]
pub(crate) fn check_utf8(bytes: &[u8]) -> Result<u8, DecodeError> {
    let f = scan(bytes);
    // `from_utf8` rejects ill-formed sequences, overlong forms and surrogates [MQTT-1.5.4-1].
    if f & found::NON_ASCII != 0 && core::str::from_utf8(bytes).is_err() {
        return Err(DecodeError::InvalidUtf8);
    }
    // [MQTT-1.5.4-2] a string MUST NOT include U+0000.
    if f & found::NUL != 0 {
        return Err(DecodeError::NullCharacter);
    }
    Ok(f)
}

/// Validates a UTF-8 encoded string's content [MQTT-1.5.4-1], [MQTT-1.5.4-2] and returns it
/// with the [`scan`] flags (so topic checks need no second pass).
#[inline]
pub(crate) fn utf8_scan(bytes: &[u8]) -> Result<(&str, u8), DecodeError> {
    // `from_utf8` rejects ill-formed sequences, overlong forms and surrogates [MQTT-1.5.4-1].
    let s = core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
    let f = scan(bytes);
    // [MQTT-1.5.4-2] a string MUST NOT include U+0000.
    if f & found::NUL != 0 {
        return Err(DecodeError::NullCharacter);
    }
    Ok((s, f))
}

/// Validates a UTF-8 encoded string's content [MQTT-1.5.4-1], [MQTT-1.5.4-2].
#[inline]
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    utf8_scan(bytes).map(|(s, _)| s)
}

/// Checks a string the caller wants to send: length and U+0000 [MQTT-1.5.4-2].
#[inline]
pub(crate) fn check_str(s: &str) -> Result<usize, EncodeError> {
    if scan(s.as_bytes()) & found::NUL != 0 {
        return Err(EncodeError::NullCharacter);
    }
    prefixed_len(s.len())
}

/// Bounds-checked cursor over one packet body (or a part of it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(b)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        let (&b, rest) = self.buf.split_first_chunk().ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(u16::from_be_bytes(b))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let (&b, rest) = self.buf.split_first_chunk().ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(u32::from_be_bytes(b))
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// Binary data: two-byte length, then the bytes [MQTT-1.5.6].
    #[inline]
    pub(crate) fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    /// UTF-8 encoded string [MQTT-1.5.4].
    #[inline]
    pub(crate) fn string(&mut self) -> Result<&'a str, DecodeError> {
        let b = self.binary()?;
        utf8(b)
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        match decode_varint(self.buf)? {
            Some((v, n)) => {
                self.buf = self.buf.get(n..).unwrap_or_default();
                Ok(v)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    /// Everything left.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }
}

/// Writer into a buffer already checked to be large enough.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    #[inline]
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    // The size was checked before writing: the bounds checks below never fail, and a failed one
    // would only skip the write (no panic path in the firmware).

    #[inline]
    pub(crate) fn u8(&mut self, b: u8) {
        if let Some(to) = self.buf.get_mut(self.pos) {
            *to = b;
        }
        self.pos += 1;
    }

    #[inline]
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    #[inline]
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        let end = self.pos + b.len();
        if let Some(to) = self.buf.get_mut(self.pos..end) {
            to.copy_from_slice(b);
        }
        self.pos = end;
    }

    /// Two-byte length then the bytes; the length was checked by the size computation.
    #[inline]
    pub(crate) fn binary(&mut self, b: &[u8]) {
        self.u16(b.len() as u16);
        self.bytes(b);
    }

    #[inline]
    pub(crate) fn string(&mut self, s: &str) {
        self.binary(s.as_bytes());
    }

    #[inline]
    pub(crate) fn varint(&mut self, mut v: usize) {
        loop {
            let mut b = (v & 0x7f) as u8;
            v >>= 7;
            if v > 0 {
                b |= 0x80;
            }
            self.u8(b);
            if v == 0 {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_of_up_to_65535_bytes_have_a_length_prefix() {
        // MQTT 5.0 §1.5.4: a two-byte length.
        assert_eq!(prefixed_len(0), Ok(2));
        assert_eq!(prefixed_len(65_535), Ok(65_537));
        assert_eq!(prefixed_len(65_536), Err(EncodeError::StringTooLong));
    }

    // Examples from the table in MQTT 5.0 §1.5.5.
    const VECTORS: &[(u32, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xff, 0x7f]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xff, 0xff, 0x7f]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
    ];

    #[test]
    fn varint_vectors() {
        for &(value, bytes) in VECTORS {
            assert_eq!(decode_varint(bytes), Ok(Some((value, bytes.len()))));
            assert_eq!(varint_len(value as usize), bytes.len());
            let mut out = [0u8; 4];
            let mut w = Writer::new(&mut out);
            w.varint(value as usize);
            assert_eq!(&out[..bytes.len()], bytes);
            // Every strict prefix is incomplete.
            for n in 0..bytes.len() {
                assert_eq!(decode_varint(&bytes[..n]), Ok(None));
            }
            // Trailing bytes are left alone.
            let mut long = [0xAAu8; 6];
            long[..bytes.len()].copy_from_slice(bytes);
            assert_eq!(decode_varint(&long), Ok(Some((value, bytes.len()))));
        }
    }

    #[test]
    fn varint_five_bytes_is_malformed() {
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(DecodeError::MalformedVarInt)
        );
        assert_eq!(decode_varint(&[0x80, 0x80, 0x80, 0x80]), Err(DecodeError::MalformedVarInt));
    }

    #[test]
    fn varint_non_minimal_is_malformed() {
        assert_eq!(decode_varint(&[0x80, 0x00]), Err(DecodeError::NonMinimalVarInt));
        assert_eq!(decode_varint(&[0x81, 0x80, 0x00]), Err(DecodeError::NonMinimalVarInt));
    }

    #[test]
    fn scan_finds_everything_everywhere() {
        for len in 0..24 {
            let base = [b'a'; 24];
            assert_eq!(scan(&base[..len]), 0);
            for i in 0..len {
                for b in [0u8, b'+', b'#'] {
                    let mut v = base;
                    v[i] = b;
                    // A lone wildcard fills its level; next to an `a` it does not.
                    let f = match b {
                        0 => found::NUL,
                        _ if len == 1 => found::WILDCARD,
                        _ => found::WILDCARD | found::MISPLACED,
                    };
                    assert_eq!(scan(&v[..len]), f, "len {len} at {i}");
                }
                // Bytes near the searched values do not match; bytes above 0x7F are non-ASCII.
                for b in [1u8, b'*', b',', b'"', b'$', 0x7F, 0x80, 0xAB, 0xA3, 0xFF] {
                    let mut v = base;
                    v[i] = b;
                    let f = if b > 0x7F { found::NON_ASCII } else { 0 };
                    assert_eq!(scan(&v[..len]), f, "byte {b:#x} len {len} at {i}");
                }
            }
        }
    }

    #[test]
    fn utf8_rules() {
        assert_eq!(utf8(b"a/b"), Ok("a/b"));
        // U+D800 encoded as UTF-8 (a surrogate) [MQTT-1.5.4-1].
        assert_eq!(utf8(&[0xED, 0xA0, 0x80]), Err(DecodeError::InvalidUtf8));
        // Overlong encoding of '/'.
        assert_eq!(utf8(&[0xC0, 0xAF]), Err(DecodeError::InvalidUtf8));
        assert_eq!(utf8(b"a\0b"), Err(DecodeError::NullCharacter));
        // U+FEFF is allowed and not stripped [MQTT-1.5.4-3].
        assert_eq!(utf8("\u{FEFF}a".as_bytes()), Ok("\u{FEFF}a"));
    }

    #[test]
    fn check_utf8_agrees_with_utf8_scan() {
        let cases: &[&[u8]] = &[
            b"",
            b"a/b",
            b"sensors/+/temperature/with/a/longer/name",
            "\u{FEFF}a/é/€/😀".as_bytes(),
            &[0xED, 0xA0, 0x80],
            &[0xC0, 0xAF],
            b"a\0b",
            // Invalid UTF-8 and NUL: the UTF-8 error is reported first, as `utf8_scan` does.
            &[b'a', 0, 0xFF],
            &[0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xE2, 0x82],
        ];
        for &c in cases {
            assert_eq!(check_utf8(c), utf8_scan(c).map(|(_, f)| f), "{c:?}");
        }
    }
}
