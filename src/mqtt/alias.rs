//! Outgoing topic aliases (MQTT 5.0 §3.3.2.3.4): the table a sender (client or server) keeps of
//! the aliases it assigned, for one network connection.
//!
//! Invariants: alias `i + 1` maps to the `i`th topic; never more aliases than the limit given
//! (the receiver's Topic Alias Maximum) nor than `N`; topics longer than `T` bytes get none.

use core::num::NonZeroU16;

type Topic<const T: usize> = heapless::String<T>;

/// The aliases a sender assigns to the topics it publishes to.
#[derive(Debug, Clone)]
pub(crate) struct Outbound<const N: usize, const T: usize> {
    topics: heapless::Vec<Topic<T>, N>,
}

impl<const N: usize, const T: usize> Outbound<N, T> {
    pub(crate) const fn new() -> Self {
        Self { topics: heapless::Vec::new() }
    }

    pub(crate) fn clear(&mut self) {
        self.topics.clear();
    }

    /// The alias for `topic` and whether it is newly assigned (the topic goes out once with it),
    /// within `limit` (the receiver's Topic Alias Maximum); `None`: send the topic in full.
    pub(crate) fn assign(&mut self, topic: &str, limit: u16) -> Option<(NonZeroU16, bool)> {
        if let Some(i) = self.topics.iter().position(|t| t.as_str() == topic) {
            return NonZeroU16::new(u16::try_from(i + 1).ok()?).map(|a| (a, false));
        }
        if self.topics.len() >= usize::from(limit).min(N) {
            return None;
        }
        if topic.len() > T {
            return None;
        }
        self.topics.push(Topic::new()).ok()?;
        let _ = self.topics.last_mut()?.push_str(topic);
        NonZeroU16::new(u16::try_from(self.topics.len()).ok()?).map(|a| (a, true))
    }

    /// Forgets the alias just assigned (its PUBLISH could not carry it).
    pub(crate) fn undo_last(&mut self) {
        self.topics.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u16) -> NonZeroU16 {
        NonZeroU16::new(n).unwrap()
    }

    #[test]
    fn outbound_rules() {
        let mut t = Outbound::<3, 8>::new();
        assert_eq!(t.assign("a", 2), Some((a(1), true)));
        assert_eq!(t.assign("a", 2), Some((a(1), false)));
        assert_eq!(t.assign("b", 2), Some((a(2), true)));
        assert_eq!(t.assign("c", 2), None, "the receiver's limit");
        assert_eq!(t.assign("123456789", 3), None, "too long for a slot");
        t.undo_last();
        assert_eq!(t.assign("c", 2), Some((a(2), true)));
    }
}
