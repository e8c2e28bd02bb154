//! Exponential backoff with a cap and jitter, for reconnecting.
//!
//! Invariants: the n-th delay after a reset lies in `[d/2, d]` where `d = min(cap, base * 2^n)`
//! ("equal jitter": never zero, never above the cap); the jitter comes from a small generator
//! seeded by the caller (time and randomness are the caller's, see the crate docs); no
//! arithmetic overflows, whatever the attempt count.

use crate::time::Duration;

/// Delays between reconnect attempts: `base`, doubling per failed attempt up to `cap`, each
/// with random jitter; [`Backoff::reset`] once a connection proved useful (the `Reconnecting`
/// drivers do so at the first progress after a CONNACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff {
    base_ms: u64,
    cap_ms: u64,
    attempt: u32,
    rng: u32,
}

impl Backoff {
    /// Delays from `base` up to `cap`; `seed` (any value, e.g. from a hardware RNG or the
    /// device's serial number) drives the jitter so that many devices do not retry in step.
    pub fn new(base: Duration, cap: Duration, seed: u32) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        let base_ms = ms(base);
        Self { base_ms, cap_ms: ms(cap).max(base_ms), attempt: 0, rng: seed | 1 }
    }

    /// Failed attempts since the last [`Backoff::reset`].
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to the first delay (call it once a connection made progress).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before the next attempt; counts one more failed attempt.
    pub fn next_delay(&mut self) -> Duration {
        let shift = self.attempt.min(63);
        let full = self.base_ms.checked_shl(shift).filter(|d| d >> shift == self.base_ms);
        let full = full.unwrap_or(u64::MAX).min(self.cap_ms);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift32: cheap, deterministic for a seed, good enough to spread retries.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        let half = full / 2;
        let jitter = u64::from(x) % (full - half + 1);
        Duration::from_millis(half + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_range() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 42);
        let mut full = 100u64;
        for _ in 0..200 {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= full / 2 && d <= full, "{d} outside [{}, {full}]", full / 2);
            full = (full * 2).min(5000);
        }
        assert_eq!(b.attempts(), 200);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn seeds_spread_the_delays() {
        let delays = |seed| {
            let mut b = Backoff::new(Duration::from_millis(1000), Duration::from_secs(60), seed);
            (0..8).map(|_| b.next_delay()).collect::<heapless::Vec<_, 8>>()
        };
        assert_eq!(delays(7), delays(7));
        assert_ne!(delays(7), delays(8));
    }

    #[test]
    fn extreme_settings_do_not_overflow() {
        let mut b = Backoff::new(Duration::ZERO, Duration::MAX, 0);
        for _ in 0..100 {
            b.next_delay();
        }
        let mut b = Backoff::new(Duration::MAX, Duration::ZERO, u32::MAX);
        assert!(b.next_delay() >= Duration::from_millis(u64::MAX / 2));
    }
}
