//! Randomness from the operating system, for WebSocket nonces and masking keys (RFC 6455 §4.1,
//! §5.3: unpredictable, from a strong source of entropy).

#[cfg(feature = "ws")]
use crate::ws::connection::MaskKeys;

/// `N` random bytes from the operating system (`getrandom`).
pub fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)?;
    Ok(out)
}

/// WebSocket masking keys from the operating system, drawn 64 keys at a time so that a frame
/// does not cost a system call.
#[derive(Debug, Clone)]
pub struct OsRandom {
    pool: [u8; 256],
    at: usize,
}

impl OsRandom {
    /// A source with its first 64 keys drawn.
    pub fn new() -> Result<Self, getrandom::Error> {
        Ok(OsRandom { pool: random()?, at: 0 })
    }

    /// The next 4 random bytes. Should the operating system fail to give more, the pool is
    /// stirred with std's randomly keyed SipHash rather than reused as it was.
    pub fn next_u32_bytes(&mut self) -> [u8; 4] {
        if self.at + 4 > self.pool.len() {
            if getrandom::fill(&mut self.pool).is_err() {
                use std::hash::BuildHasher;
                let state = std::collections::hash_map::RandomState::new();
                for (i, chunk) in self.pool.chunks_exact_mut(8).enumerate() {
                    let word = state.hash_one((i, &*chunk));
                    chunk.copy_from_slice(&word.to_le_bytes());
                }
            }
            self.at = 0;
        }
        let mut key = [0u8; 4];
        if let Some(bytes) = self.pool.get(self.at..self.at + 4) {
            key.copy_from_slice(bytes);
        }
        self.at += 4;
        key
    }
}

#[cfg(feature = "ws")]
impl MaskKeys for OsRandom {
    fn next_key(&mut self) -> [u8; 4] {
        self.next_u32_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_across_refills() {
        let mut r = OsRandom::new().unwrap();
        let keys: std::collections::HashSet<[u8; 4]> =
            (0..1000).map(|_| r.next_u32_bytes()).collect();
        // 1000 draws of 32 bits: a repeat is possible but rare; all equal would be a bug.
        assert!(keys.len() > 990);
        assert_ne!(random::<16>().unwrap(), random::<16>().unwrap());
    }
}
