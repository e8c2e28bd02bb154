//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.1, §4.2.2).
//!
//! Invariant: a [`Key`] always holds the base64 encoding of exactly 16 bytes, and an
//! [`AcceptKey`] the base64 encoding of a 20-byte SHA-1 digest, so `as_str` is always ASCII.
//!
//! SHA-1 (FIPS 180-4) is `sha1_smol`'s; base64 (RFC 4648 §4) is `base64ct`'s, whose strict,
//! constant-time decoder also refuses a key that is not in canonical form.

use base64ct::{Base64, Encoding};

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
        // 16 bytes take exactly 24 characters: the encoder cannot run out of room.
        let _ = Base64::encode(&nonce, &mut out);
        Key(out)
    }

    /// Checks a received `Sec-WebSocket-Key` value: canonical padded base64 that decodes to
    /// exactly 16 bytes (RFC 6455 §4.2.1 item 5).
    pub fn parse(value: &[u8]) -> Option<Key> {
        let chars: [u8; 24] = value.try_into().ok()?;
        let mut nonce = [0u8; 16];
        // 24 characters decode to at most 18 bytes; a 16-byte buffer refuses 17 or 18, and a
        // shorter result (more padding) is refused below.
        match Base64::decode(chars, &mut nonce) {
            Ok(decoded) if decoded.len() == 16 => Some(Key(chars)),
            _ => None,
        }
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
        let mut sha1 = sha1_smol::Sha1::new();
        sha1.update(&self.0);
        sha1.update(GUID.as_bytes());
        let mut out = [0; 28];
        // A 20-byte digest takes exactly 28 characters.
        let _ = Base64::encode(&sha1.digest().bytes(), &mut out);
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
    fn accept_values_match_known_vectors() {
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

    /// Keys from a small generator round-trip; with one character changed to any byte, a key is
    /// accepted exactly when the rule written out here holds: 22 digits of the RFC 4648 §4
    /// alphabet, then `==`, and the 4 bits past the 16th byte zero (canonical form).
    #[test]
    fn keys_are_accepted_exactly_when_canonical() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let digit = |c: &u8| ALPHABET.iter().position(|a| a == c);
        let canonical = |k: &[u8; 24]| {
            &k[22..] == b"=="
                && k[..22].iter().all(|c| digit(c).is_some())
                && digit(&k[21]).is_some_and(|d| d & 0xF == 0)
        };
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..4000 {
            let mut nonce = [0u8; 16];
            for b in &mut nonce {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let key = Key::from_nonce(nonce);
            assert_eq!(Key::parse(key.as_bytes()), Some(key));
            let mut message = [0u8; 60];
            message[..24].copy_from_slice(key.as_bytes());
            message[24..].copy_from_slice(GUID.as_bytes());
            let digest = sha1_smol::Sha1::from(message).digest().bytes();
            let mut decoded = [0u8; 20];
            assert_eq!(Base64::decode(key.accept().as_bytes(), &mut decoded), Ok(&digest[..]));
            let mut mutated = [0u8; 24];
            mutated.copy_from_slice(key.as_bytes());
            mutated[(x >> 8) as usize % 24] = (x >> 16) as u8;
            assert_eq!(Key::parse(&mutated).is_some(), canonical(&mutated), "{mutated:?}");
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
