//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.1, §4.2.2).
//!
//! Invariant: a [`Key`] always holds the base64 encoding of exactly 16 bytes, and an
//! [`AcceptKey`] the base64 encoding of a 20-byte SHA-1 digest, so `as_str` is always ASCII.

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
        let mut out = [0u8; 24];
        // 16 bytes always encode to exactly 24 characters, so this cannot fail.
        let _ = Base64::encode(&nonce, &mut out);
        Key(out)
    }

    /// Checks a received `Sec-WebSocket-Key` value: canonical padded base64 that decodes to
    /// exactly 16 bytes (RFC 6455 §4.2.1 item 5).
    pub fn parse(value: &[u8]) -> Option<Key> {
        let chars: [u8; 24] = value.try_into().ok()?;
        let mut nonce = [0u8; 16];
        let decoded = Base64::decode(chars, &mut nonce).ok()?;
        if decoded.len() != 16 {
            return None;
        }
        Some(Key(chars))
    }

    /// The key as sent on the wire.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The `Sec-WebSocket-Accept` value a server answers this key with. RFC 6455 §4.2.2 item 5.
    pub fn accept(&self) -> AcceptKey {
        let mut sha = sha1_smol::Sha1::new();
        sha.update(&self.0);
        sha.update(GUID.as_bytes());
        let digest = sha.digest().bytes();
        let mut out = [0u8; 28];
        // 20 bytes always encode to exactly 28 characters, so this cannot fail.
        let _ = Base64::encode(&digest, &mut out);
        AcceptKey(out)
    }
}

impl AcceptKey {
    /// The accept value as sent on the wire.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
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
