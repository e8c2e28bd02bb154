//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs every payload byte `i` with `key[i % 4]`; unmasking is the same operation. The
//! work is done in place in the caller's buffer, eight bytes at a time in safe Rust. A frame that
//! arrives in pieces keeps its position in the key (the *phase*) across calls, so a piece may
//! start and end anywhere.
//!
//! The key is always the caller's: this module never makes up randomness.

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
    // The key as seen from the first byte of `buf`.
    let rotated = [key[phase], key[(phase + 1) % 4], key[(phase + 2) % 4], key[(phase + 3) % 4]];
    let word = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(bytes) ^ word;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    // Whole 8-byte chunks keep the phase, so the tail starts at `rotated[0]` again.
    for (b, k) in chunks.into_remainder().iter_mut().zip(rotated.iter().cycle()) {
        *b ^= k;
    }
    (phase + buf.len() % 4) % 4
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn empty_keeps_phase() {
        assert_eq!(apply_mask([1, 2, 3, 4], 2, &mut []), 2);
        assert_eq!(apply_mask([1, 2, 3, 4], 6, &mut []), 2);
    }
}
