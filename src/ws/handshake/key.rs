//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.1, §4.2.2).
//!
//! Invariant: a [`Key`] always holds the base64 encoding of exactly 16 bytes, and an
//! [`AcceptKey`] the base64 encoding of a 20-byte SHA-1 digest, so `as_str` is always ASCII.
//!
//! SHA-1 (FIPS 180-4 §6.1) and base64 (RFC 4648 §4) are written here for the only inputs the
//! handshake has: one 60-byte message (key and GUID) and 16- or 20-byte encodings. A rolled
//! loop keeps the flash small; the hash runs once per connection.

/// The GUID appended to the key before hashing. RFC 6455 §1.3.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A `Sec-WebSocket-Key`: the base64 encoding of 16 bytes (24 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Key([u8; 24]);

/// A `Sec-WebSocket-Accept` value: base64(SHA-1(key + GUID)) (28 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AcceptKey([u8; 28]);

impl Key {
    /// The key for 16 bytes of caller randomness. RFC 6455 §4.1: "a randomly selected 16-byte
    /// value ... randomly selected for each connection": use a cryptographic RNG.
    pub fn from_nonce(nonce: [u8; 16]) -> Key {
        let mut out = [0; 24];
        encode_base64(&nonce, &mut out);
        Key(out)
    }

    /// Checks a received `Sec-WebSocket-Key` value: canonical padded base64 that decodes to
    /// exactly 16 bytes (RFC 6455 §4.2.1 item 5).
    pub fn parse(value: &[u8]) -> Option<Key> {
        let chars: [u8; 24] = value.try_into().ok()?;
        let (digits, pad) = chars.split_at(22);
        if pad != b"==" {
            return None;
        }
        let mut last = 0;
        for &c in digits {
            last = ALPHABET.iter().position(|&a| a == c)?;
        }
        // 22 digits carry 132 bits; the 4 past the 16th byte must be zero (canonical form).
        if last & 0xF != 0 {
            return None;
        }
        Some(Key(chars))
    }

    /// The key as sent on the wire.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The key's bytes (ASCII), for writing without a UTF-8 check.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `Sec-WebSocket-Accept` value a server answers this key with. RFC 6455 §4.2.2 item 5.
    pub fn accept(&self) -> AcceptKey {
        // The 60-byte message as big-endian words, padded to two blocks: 0x80, zeros, and the
        // bit length (480) last.
        let mut words = [[0u32; 16]; 2];
        let message = self.0.iter().chain(GUID.as_bytes()).chain(&[0x80]);
        for (i, &byte) in message.enumerate() {
            if let Some(w) = words.as_flattened_mut().get_mut(i / 4) {
                *w |= u32::from(byte) << (24 - 8 * (i % 4));
            }
        }
        words[1][15] = 480;
        let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
        for block in words {
            sha1_block(&mut h, block);
        }
        let mut digest = [0u8; 20];
        for (out, word) in digest.chunks_exact_mut(4).zip(h) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        let mut out = [0; 28];
        encode_base64(&digest, &mut out);
        AcceptKey(out)
    }
}

impl AcceptKey {
    /// The accept value as sent on the wire.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The accept value's bytes (ASCII), for writing without a UTF-8 check.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `value` is this accept value (exact, RFC 6455 §4.1 client check 4).
    pub fn matches(&self, value: &[u8]) -> bool {
        value == self.0
    }
}

/// The base64 alphabet. RFC 4648 §4.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Writes the base64 encoding of `input` into `out`, which the caller sizes to
/// `4 * ceil(len / 3)`; digits past the end of `out` are dropped (never the case for our sizes).
#[allow(clippy::indexing_slicing, reason = "sextets are masked to 0..64, the alphabet's length")]
fn encode_base64(input: &[u8], out: &mut [u8]) {
    let (mut bits, mut held) = (0u32, 0u32);
    let mut digits = out.iter_mut();
    for &byte in input {
        bits = bits << 8 | u32::from(byte);
        held += 8;
        while held >= 6 {
            held -= 6;
            if let Some(d) = digits.next() {
                *d = ALPHABET[(bits >> held) as usize & 63];
            }
        }
    }
    // The last bits, zero-padded to a digit, then `=` padding.
    if held > 0
        && let Some(d) = digits.next()
    {
        *d = ALPHABET[(bits << (6 - held)) as usize & 63];
    }
    for d in digits {
        *d = b'=';
    }
}

/// One SHA-1 compression of a 16-word block into `h`. FIPS 180-4 §6.1.2, with the message
/// schedule kept in 16 words (§6.1.3).
#[allow(clippy::indexing_slicing, reason = "schedule indices are masked to 0..16")]
fn sha1_block(h: &mut [u32; 5], mut w: [u32; 16]) {
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    for t in 0..80 {
        let s = t & 15;
        if t >= 16 {
            w[s] = (w[(s + 13) & 15] ^ w[(s + 8) & 15] ^ w[(s + 2) & 15] ^ w[s]).rotate_left(1);
        }
        let (f, k) = match t / 20 {
            0 => ((b & c) | (!b & d), 0x5A82_7999),
            1 => (b ^ c ^ d, 0x6ED9_EBA1),
            2 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let temp =
            a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(w[s]);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
        *x = x.wrapping_add(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_section_1_3_vector() {
        let key = Key::parse(b"dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        assert_eq!(key.accept().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(key.accept().matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert!(!key.accept().matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo"));
        // "the sample nonce" is the 16-byte nonce of that example.
        assert_eq!(Key::from_nonce(*b"the sample nonce"), key);
        assert_eq!(key.as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn accept_values_match_an_independent_sha1_and_base64() {
        for (nonce, key, accept) in [
            ([0u8; 16], "AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="),
            ([0xFF; 16], "/////////////////////w==", "XXpj4jYzLM2yUE0C7TIgMwTQh2g="),
            ([7; 16], "BwcHBwcHBwcHBwcHBwcHBw==", "CdXSYUsvsaMthlEXWDNURGWA/1o="),
            (
                [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                "AAECAwQFBgcICQoLDA0ODw==",
                "Bz3qJYTGdOe8gUSpLosEdiLKDrk=",
            ),
        ] {
            let k = Key::from_nonce(nonce);
            assert_eq!(k.as_str(), key);
            assert_eq!(Key::parse(key.as_bytes()), Some(k));
            assert_eq!(k.accept().as_str(), accept);
        }
    }

    /// Against the reference crates (dev-dependencies), for nonces from a small generator.
    #[test]
    fn accept_values_match_sha1_smol_and_base64ct() {
        use base64ct::{Base64, Encoding};
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut nonce = [0u8; 16];
            for b in &mut nonce {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let key = Key::from_nonce(nonce);
            assert_eq!(key.as_str(), Base64::encode_string(&nonce));
            assert_eq!(Key::parse(key.as_str().as_bytes()), Some(key));
            let mut sha = sha1_smol::Sha1::new();
            sha.update(key.as_str().as_bytes());
            sha.update(GUID.as_bytes());
            assert_eq!(key.accept().as_str(), Base64::encode_string(&sha.digest().bytes()));
            // One character changed (to any byte): refused exactly when base64ct's strict
            // decoder refuses it or it no longer decodes to 16 bytes.
            let mut mutated = [0u8; 24];
            mutated.copy_from_slice(key.as_str().as_bytes());
            mutated[(x >> 8) as usize % 24] = (x >> 16) as u8;
            let mut out = [0u8; 18];
            let reference = Base64::decode(mutated, &mut out).is_ok_and(|d| d.len() == 16);
            assert_eq!(Key::parse(&mutated).is_some(), reference, "{mutated:?}");
        }
    }

    #[test]
    fn keys_that_are_not_16_bytes_of_base64_are_refused() {
        assert_eq!(Key::parse(b""), None);
        assert_eq!(Key::parse(b"dGhlIHNhbXBsZSBub25jZQ="), None); // 23 chars
        assert_eq!(Key::parse(b"dGhlIHNhbXBsZSBub25jZQ=="[..20].as_ref()), None);
        assert_eq!(Key::parse(b"dGhlIHNhbXBsZSBub25jZQ!="), None); // bad alphabet
        assert_eq!(Key::parse(b"dGhlIHNhbXBsZSBub25jZR=="), None); // non-canonical bits
        assert_eq!(Key::parse(b"dGhlIHNhbXBsZSBub25jZQAA"), None); // 18 bytes
        assert_eq!(Key::parse(b"dGhlIHNhbXBsZSBub25jZQ==="), None);
    }
}
