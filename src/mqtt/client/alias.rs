//! The topic aliases the server sets (§3.3.2.3.4), for one network connection; the client's own
//! are [`crate::mqtt::alias::Outbound`].
//!
//! Invariants: [`Inbound`] holds at most `N` mappings, one per alias, each alias in `1..=N` (the
//! Topic Alias Maximum the client announced). Topics longer than `T` bytes get no slot.

use core::num::NonZeroU16;

use super::RemoteFault;

type Topic<const T: usize> = heapless::String<T>;

/// Where a delivered topic name lives: in the packet, or in an inbound alias slot.
#[derive(Debug, Clone, Copy)]
pub(super) enum TopicRef<'a> {
    Input(&'a str),
    Alias(usize),
}

/// Aliases the server set, resolved for incoming PUBLISH packets.
#[derive(Debug)]
pub(super) struct Inbound<const N: usize, const T: usize> {
    slots: heapless::Vec<(u16, Topic<T>), N>,
}

impl<const N: usize, const T: usize> Inbound<N, T> {
    pub(super) const fn new() -> Self {
        Self { slots: heapless::Vec::new() }
    }

    /// The Topic Alias Maximum announced in CONNECT.
    pub(super) fn maximum() -> u16 {
        u16::try_from(N).unwrap_or(u16::MAX)
    }

    pub(super) fn clear(&mut self) {
        self.slots.clear();
    }

    /// Applies the Topic Alias of a PUBLISH with `topic` (possibly empty).
    pub(super) fn resolve<'a>(
        &mut self,
        alias: NonZeroU16,
        topic: &'a str,
    ) -> Result<TopicRef<'a>, RemoteFault> {
        // [MQTT-3.3.2-9] no alias above the Topic Alias Maximum the client sent.
        if N == 0 || alias.get() > Self::maximum() {
            return Err(RemoteFault::TopicAliasInvalid);
        }
        let slot = self.slots.iter().position(|(a, _)| *a == alias.get());
        if topic.is_empty() {
            // §3.3.2.3.4: an alias without a mapping is a Protocol Error.
            return slot.map(TopicRef::Alias).ok_or(RemoteFault::UnknownTopicAlias);
        }
        if topic.len() > T {
            return Err(RemoteFault::AliasTopicTooLong);
        }
        // Written in place (no slot-sized copy). At most N distinct aliases (1..=N) exist, so a
        // new one always fits.
        let i = slot.unwrap_or(self.slots.len());
        if slot.is_none() {
            let _ = self.slots.push((alias.get(), Topic::new()));
        }
        if let Some((_, s)) = self.slots.get_mut(i) {
            s.clear();
            let _ = s.push_str(topic);
        }
        Ok(TopicRef::Input(topic))
    }

    /// The topic in slot `i` (from [`TopicRef::Alias`]).
    pub(super) fn get(&self, i: usize) -> &str {
        self.slots.get(i).map_or("", |(_, s)| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u16) -> NonZeroU16 {
        NonZeroU16::new(n).unwrap()
    }

    #[test]
    fn inbound_rules() {
        let mut t = Inbound::<2, 8>::new();
        assert!(matches!(t.resolve(a(1), "x/y"), Ok(TopicRef::Input("x/y"))));
        match t.resolve(a(1), "") {
            Ok(TopicRef::Alias(i)) => assert_eq!(t.get(i), "x/y"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(t.resolve(a(3), "z"), Err(RemoteFault::TopicAliasInvalid)));
        assert!(matches!(t.resolve(a(2), ""), Err(RemoteFault::UnknownTopicAlias)));
        assert!(matches!(t.resolve(a(2), "123456789"), Err(RemoteFault::AliasTopicTooLong)));
        let mut none = Inbound::<0, 8>::new();
        assert!(matches!(none.resolve(a(1), "x"), Err(RemoteFault::TopicAliasInvalid)));
    }
}
