//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs every payload byte `i` with `key[i % 4]`; unmasking is the same operation. The
//! work is done in place in the caller's buffer, eight bytes at a time in safe Rust. A frame that
//! arrives in pieces keeps its position in the key (the *phase*) across calls, so a piece may
//! start and end anywhere.
//!
//! The key is always the caller's: this module never makes up randomness.
//!
//! For text payloads, the connection unmasks and checks for ASCII in the same pass, while
//! each word is still in a register: a UTF-8 validator then only has to look at the bytes from
//! the first block that holds a non-ASCII byte.

/// A masking key together with the position reached in the payload, so that a payload can be
/// (un)masked in any number of pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Masker {
    key: [u8; 4],
    phase: usize,
}

impl Masker {
    /// A masker at the start of a payload.
    pub const fn new(key: [u8; 4]) -> Self {
        Masker { key, phase: 0 }
    }

    /// A masker `phase` bytes into a payload (taken modulo 4).
    #[cfg(feature = "deflate")]
    pub(crate) const fn with_phase(key: [u8; 4], phase: usize) -> Self {
        Masker { key, phase: phase % 4 }
    }

    /// The key.
    pub const fn key(&self) -> [u8; 4] {
        self.key
    }

    /// The offset in the key (0..4) the next byte is XORed with.
    pub const fn phase(&self) -> usize {
        self.phase
    }

    /// (Un)masks `buf` in place as the next piece of the payload.
    pub fn apply(&mut self, buf: &mut [u8]) {
        self.phase = apply_mask(self.key, self.phase, buf);
    }

    /// [`apply`](Self::apply) that also returns the length of a pure-ASCII prefix of the unmasked
    /// piece (see [`apply_mask_ascii`]).
    #[inline]
    pub(crate) fn apply_ascii(&mut self, buf: &mut [u8]) -> usize {
        let (phase, ascii) = apply_mask_ascii(self.key, self.phase, buf);
        self.phase = phase;
        ascii
    }
}

/// XORs `buf` in place with `key`, starting at key offset `phase` (taken modulo 4), and returns
/// the phase for the byte after `buf`. Masking and unmasking are the same operation.
///
/// ```
/// use mqtt_ws::ws::mask::apply_mask;
/// let mut data = *b"Hello";
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let phase = apply_mask(key, 0, &mut data[..2]);
/// apply_mask(key, phase, &mut data[2..]);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// ```
pub fn apply_mask(key: [u8; 4], phase: usize, buf: &mut [u8]) -> usize {
    let phase = phase % 4;
    xor_words(buf, key_word(key, phase));
    (phase + buf.len() % 4) % 4
}

/// XORs `buf` with `word` repeated.
#[inline(always)]
fn xor_words(buf: &mut [u8], word: u64) {
    // On 64-bit targets sixteen bytes at a time (one vector register); 32-bit ones keep the
    // smaller code of the 8-byte loop below.
    let mut buf = buf;
    if cfg!(target_pointer_width = "64") {
        let wide = u128::from(word) | u128::from(word) << 64;
        let mut pairs = buf.chunks_exact_mut(16);
        for pair in &mut pairs {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(pair);
            pair.copy_from_slice(&(u128::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
        }
        buf = pairs.into_remainder();
    }
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        xor_word(chunk, word);
    }
    // Whole 8-byte chunks keep the phase, so the tail starts at the word's first byte again.
    xor_tail(chunks.into_remainder(), word);
}

/// Bytes unmasked per ASCII check in [`apply_mask_ascii`]: whole words, so blocks keep the phase.
const ASCII_BLOCK: usize = 32;

/// The high bit of every byte of a word: set in a byte that is not ASCII.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Like [`apply_mask`], and also finds a prefix of the unmasked `buf` that is pure ASCII.
/// Returns the phase for the byte after `buf` and the prefix length: `buf.len()` when every byte
/// is ASCII, otherwise the start of the block of [`ASCII_BLOCK`] bytes (or of the tail after the
/// last whole block) that holds the first non-ASCII byte. Everything after the prefix is still
/// unmasked, only not checked.
pub(crate) fn apply_mask_ascii(key: [u8; 4], phase: usize, buf: &mut [u8]) -> (usize, usize) {
    let phase = phase % 4;
    let word = key_word(key, phase);
    let end_phase = (phase + buf.len() % 4) % 4;
    let len = buf.len();
    let mut blocks = buf.chunks_exact_mut(ASCII_BLOCK);
    let mut ascii = 0;
    for block in &mut blocks {
        let mut high = 0;
        for chunk in block.chunks_exact_mut(8) {
            high |= xor_word(chunk, word);
        }
        if high & HIGH_BITS != 0 {
            // The rest only needs unmasking: the validator reads it from `ascii` on.
            for block in &mut blocks {
                xor_words(block, word);
            }
            xor_words(blocks.into_remainder(), word);
            return (end_phase, ascii);
        }
        ascii += ASCII_BLOCK;
    }
    let tail = blocks.into_remainder();
    let mut chunks = tail.chunks_exact_mut(8);
    let mut high = 0;
    for chunk in &mut chunks {
        high |= xor_word(chunk, word);
    }
    let high = high | u64::from(xor_tail(chunks.into_remainder(), word));
    (end_phase, if high & HIGH_BITS == 0 { len } else { ascii })
}

/// The key as a word whose first byte (in memory order) is `key[phase]`.
#[inline(always)]
fn key_word(key: [u8; 4], phase: usize) -> u64 {
    let k = u32::from_ne_bytes(key);
    // Rotating the native-endian word moves `key[phase]` to the first byte in memory.
    let rotated = if cfg!(target_endian = "little") {
        k.rotate_right(8 * phase as u32)
    } else {
        k.rotate_left(8 * phase as u32)
    };
    let r = u64::from(rotated);
    r | (r << 32)
}

/// XORs an 8-byte chunk with `word` and returns the result.
#[inline(always)]
fn xor_word(chunk: &mut [u8], word: u64) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    let masked = u64::from_ne_bytes(bytes) ^ word;
    chunk.copy_from_slice(&masked.to_ne_bytes());
    masked
}

/// XORs fewer than 8 bytes with the first bytes of `word`; returns the OR of the results.
#[inline(always)]
fn xor_tail(tail: &mut [u8], word: u64) -> u8 {
    let mut high = 0;
    for (b, k) in tail.iter_mut().zip(word.to_ne_bytes()) {
        *b ^= k;
        high |= *b;
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn naive(key: [u8; 4], start: usize, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(start + i) % 4];
        }
    }

    #[test]
    fn rfc_example() {
        // RFC 6455 §5.7: a masked "Hello".
        let mut data = *b"Hello";
        apply_mask([0x37, 0xfa, 0x21, 0x3d], 0, &mut data);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn matches_bytewise_for_every_split_and_phase() {
        let key = [0x01, 0x82, 0x43, 0xc4];
        let mut original = [0u8; 67];
        for (i, b) in original.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37);
        }
        for start in 0..4 {
            for split in 0..original.len() {
                let mut expected = original;
                naive(key, start, &mut expected);
                let mut got = original;
                let mut m = Masker { key, phase: start };
                let (a, b) = got.split_at_mut(split);
                m.apply(a);
                m.apply(b);
                assert_eq!(got, expected, "start {start} split {split}");
                assert_eq!(m.phase(), (start + original.len()) % 4);
            }
        }
    }

    #[test]
    fn unmask_is_mask() {
        let key = [9, 8, 7, 6];
        let mut data = *b"a longer payload that spans several words";
        apply_mask(key, 3, &mut data);
        apply_mask(key, 3, &mut data);
        assert_eq!(&data, b"a longer payload that spans several words");
    }

    /// Every byte of the result matches the bytewise XOR, and the prefix is ASCII, is the whole
    /// buffer when all of it is ASCII, and stops at most one block before the first non-ASCII byte.
    fn check_ascii(key: [u8; 4], start: usize, original: &[u8], split: usize) {
        let mut expected = original.to_vec();
        naive(key, start, &mut expected);
        let mut got = original.to_vec();
        let (a, b) = got.split_at_mut(split);
        let (phase, ascii_a) = apply_mask_ascii(key, start, a);
        assert_eq!(phase, (start + a.len()) % 4);
        let (phase, ascii_b) = apply_mask_ascii(key, phase, b);
        assert_eq!(phase, (start + original.len()) % 4);
        assert_eq!(got, expected, "start {start} split {split}");
        for (piece, ascii) in [(&expected[..split], ascii_a), (&expected[split..], ascii_b)] {
            assert!(piece[..ascii].is_ascii());
            match piece.iter().position(|b| *b >= 0x80) {
                None => assert_eq!(ascii, piece.len()),
                Some(at) => assert!(ascii <= at && at - ascii < ASCII_BLOCK.max(8)),
            }
        }
    }

    #[test]
    fn fused_ascii_matches_bytewise_for_every_split_and_phase() {
        let key = [0x11, 0x22, 0x33, 0x44];
        let mut ascii = [0u8; 75];
        for (i, b) in ascii.iter_mut().enumerate() {
            *b = b'a' + (i % 26) as u8;
        }
        let mut masked = ascii;
        for start in 0..4 {
            masked.copy_from_slice(&ascii);
            naive(key, start, &mut masked);
            for split in 0..=masked.len() {
                check_ascii(key, start, &masked, split);
            }
        }
    }

    #[test]
    fn fused_ascii_finds_non_ascii_at_every_position() {
        let key = [0x80, 0x01, 0xff, 0x7f];
        for len in [1, 7, 8, 9, 15, 16, 31, 32, 33, 64, 70, 100] {
            for at in 0..len {
                let mut text = vec![b'x'; len];
                text[at] = 0xc3;
                for start in 0..4 {
                    let mut masked = text.clone();
                    naive(key, start, &mut masked);
                    for split in [0, at / 2, at, (at + 1).min(len), len] {
                        check_ascii(key, start, &masked, split);
                    }
                }
            }
        }
    }

    #[test]
    fn fused_ascii_finds_non_ascii_in_a_word_and_the_tail_together() {
        // The same high bit in a word and in the bytes after the last word: both count.
        let key = [0x80, 0x01, 0xff, 0x7f];
        let mut text = *b"\xc3x-------\xc3";
        naive(key, 0, &mut text);
        assert_eq!(apply_mask_ascii(key, 0, &mut text), (2, 0));
    }

    #[test]
    fn empty_keeps_phase() {
        assert_eq!(apply_mask_ascii([1, 2, 3, 4], 7, &mut []), (3, 0));
        assert_eq!(apply_mask([1, 2, 3, 4], 2, &mut []), 2);
        assert_eq!(apply_mask([1, 2, 3, 4], 6, &mut []), 2);
    }

    #[test]
    fn any_phase_is_taken_modulo_4() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let (mut a, mut b) = (*b"Hello", *b"Hello");
        assert_eq!(apply_mask(key, usize::MAX, &mut a), apply_mask(key, 3, &mut b));
        assert_eq!(a, b);
        let (mut a, mut b) = (*b"Hello", *b"Hello");
        assert_eq!(apply_mask_ascii(key, usize::MAX, &mut a), apply_mask_ascii(key, 3, &mut b));
        assert_eq!(a, b);
        #[cfg(feature = "deflate")]
        assert_eq!(Masker::with_phase(key, 6).phase(), 2);
    }
}
