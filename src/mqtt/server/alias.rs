//! Topic aliases of one network connection (MQTT 5.0 §3.3.2.3.4): the client's (alias number to
//! topic, set by the PUBLISH packets it sends) and the server's own (the topics it assigned
//! aliases to in the PUBLISH packets it sends), in storage the caller chooses.
//!
//! Invariants: incoming alias `n` is slot `n - 1`; outgoing alias `i + 1` is the `i`th topic.
//! The [`Server`](super::Server) checks every bound before it calls the storage (the alias
//! number against its Topic Alias Maximum, the count against the client's, the topic's length
//! against `ALIAS_LEN`), so a storage only refuses what it has no room for.

use heapless::String;

/// Where a [`Server`](super::Server) keeps the topic aliases of its connection.
///
/// [`InlineAliases`] (the default) keeps them in place, `ALIASES` topics of `ALIAS_LEN` bytes
/// each way, with no allocator. [`HeapAliases`] (`std`) holds nothing until the client or the
/// server uses an alias, then only the topics in use: for a broker with many connections that
/// mostly never use aliases. A connection starts with the `Default` (no aliases).
/// Implementations must never panic.
pub trait TopicAliases: Default {
    /// The topic the client mapped to incoming `alias` (1-based), if any.
    fn inbound(&self, alias: u16) -> Option<&str>;
    /// Maps incoming `alias` (1-based, at most the server's Topic Alias Maximum) to `topic`,
    /// replacing what it mapped to before; `false` if it cannot be held (nothing changed).
    fn set_inbound(&mut self, alias: u16, topic: &str) -> bool;
    /// The topic of outgoing alias `index + 1`, if assigned.
    fn outbound(&self, index: usize) -> Option<&str>;
    /// The number of outgoing aliases assigned.
    fn outbound_len(&self) -> usize;
    /// Assigns outgoing alias `outbound_len() + 1` to `topic`; `false` if it cannot be held
    /// (nothing changed).
    fn push_outbound(&mut self, topic: &str) -> bool;
    /// Forgets the outgoing alias assigned last (its PUBLISH could not carry it).
    fn pop_outbound(&mut self);
    /// Forgets every alias both ways (the network connection ended).
    fn clear(&mut self);
}

/// [`TopicAliases`] in place: `N` aliases of topics up to `LEN` bytes each way, no allocator.
/// Its `Default` is empty.
#[derive(Debug, Clone)]
pub struct InlineAliases<const N: usize, const LEN: usize> {
    inbound: [Option<String<LEN>>; N],
    outbound: heapless::Vec<String<LEN>, N>,
}

impl<const N: usize, const LEN: usize> InlineAliases<N, LEN> {
    /// No aliases.
    pub const fn new() -> Self {
        Self { inbound: [const { None }; N], outbound: heapless::Vec::new() }
    }
}

impl<const N: usize, const LEN: usize> Default for InlineAliases<N, LEN> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const LEN: usize> TopicAliases for InlineAliases<N, LEN> {
    fn inbound(&self, alias: u16) -> Option<&str> {
        let i = usize::from(alias).checked_sub(1)?;
        self.inbound.get(i)?.as_ref().map(String::as_str)
    }

    fn set_inbound(&mut self, alias: u16, topic: &str) -> bool {
        let Some(slot) = usize::from(alias).checked_sub(1).and_then(|i| self.inbound.get_mut(i))
        else {
            return false;
        };
        let mut s = String::new();
        if s.push_str(topic).is_err() {
            return false;
        }
        *slot = Some(s);
        true
    }

    fn outbound(&self, index: usize) -> Option<&str> {
        self.outbound.get(index).map(String::as_str)
    }

    fn outbound_len(&self) -> usize {
        self.outbound.len()
    }

    fn push_outbound(&mut self, topic: &str) -> bool {
        let mut s = String::new();
        s.push_str(topic).is_ok() && self.outbound.push(s).is_ok()
    }

    fn pop_outbound(&mut self) {
        self.outbound.pop();
    }

    fn clear(&mut self) {
        self.inbound = [const { None }; N];
        self.outbound.clear();
    }
}

/// [`TopicAliases`] on the heap (`std`): a pointer, with nothing allocated until an alias is
/// used, then as many slots as the highest incoming alias number and the outgoing aliases
/// assigned, each topic allocated at its length. The [`Server`](super::Server)'s `ALIASES` and
/// `ALIAS_LEN` still bound both. [`clear`](TopicAliases::clear) gives the memory back. Its
/// `Default` is empty.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Default)]
pub struct HeapAliases {
    maps: Option<std::boxed::Box<HeapMaps>>,
}

/// The aliases of a [`HeapAliases`] in use.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Default)]
struct HeapMaps {
    inbound: std::vec::Vec<Option<std::boxed::Box<str>>>,
    outbound: std::vec::Vec<std::boxed::Box<str>>,
}

#[cfg(feature = "std")]
impl HeapAliases {
    /// No aliases (allocates nothing).
    pub const fn new() -> Self {
        Self { maps: None }
    }

    fn maps(&mut self) -> &mut HeapMaps {
        self.maps.get_or_insert_default()
    }
}

#[cfg(feature = "std")]
impl TopicAliases for HeapAliases {
    fn inbound(&self, alias: u16) -> Option<&str> {
        let i = usize::from(alias).checked_sub(1)?;
        self.maps.as_ref()?.inbound.get(i)?.as_deref()
    }

    fn set_inbound(&mut self, alias: u16, topic: &str) -> bool {
        let Some(i) = usize::from(alias).checked_sub(1) else { return false };
        let inbound = &mut self.maps().inbound;
        if i >= inbound.len() {
            inbound.resize(i + 1, None);
        }
        if let Some(slot) = inbound.get_mut(i) {
            *slot = Some(topic.into());
        }
        true
    }

    fn outbound(&self, index: usize) -> Option<&str> {
        self.maps.as_ref()?.outbound.get(index).map(|t| &**t)
    }

    fn outbound_len(&self) -> usize {
        self.maps.as_ref().map_or(0, |m| m.outbound.len())
    }

    fn push_outbound(&mut self, topic: &str) -> bool {
        self.maps().outbound.push(topic.into());
        true
    }

    fn pop_outbound(&mut self) {
        if let Some(m) = &mut self.maps {
            m.outbound.pop();
        }
    }

    fn clear(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract every storage keeps, given room for 3 aliases of 8 bytes.
    fn contract(t: &mut impl TopicAliases) {
        assert_eq!(t.inbound(1), None);
        assert!(!t.set_inbound(0, "a"), "alias 0 does not exist");
        assert!(t.set_inbound(3, "c/3"));
        assert_eq!((t.inbound(3), t.inbound(2), t.inbound(4)), (Some("c/3"), None, None));
        assert!(t.set_inbound(3, "d"), "an alias is mapped again");
        assert_eq!(t.inbound(3), Some("d"));
        assert!(t.set_inbound(1, "a"));
        assert_eq!(t.inbound(1), Some("a"));
        assert_eq!(t.outbound_len(), 0);
        assert!(t.push_outbound("x") && t.push_outbound("y/z"));
        assert_eq!((t.outbound(0), t.outbound(1), t.outbound(2)), (Some("x"), Some("y/z"), None));
        t.pop_outbound();
        assert_eq!((t.outbound_len(), t.outbound(1)), (1, None));
        t.clear();
        assert_eq!((t.inbound(1), t.inbound(3), t.outbound_len()), (None, None, 0));
    }

    #[test]
    fn inline_aliases() {
        let mut t = InlineAliases::<3, 8>::new();
        contract(&mut t);
        assert!(!t.set_inbound(4, "a"), "past N");
        assert!(!t.set_inbound(1, "123456789"), "past LEN");
        assert_eq!(t.inbound(1), None, "a refused mapping changes nothing");
        assert!(!t.push_outbound("123456789"));
        assert!(t.push_outbound("a") && t.push_outbound("b") && t.push_outbound("c"));
        assert!(!t.push_outbound("d"), "past N");
        assert_eq!(t.outbound_len(), 3);
    }

    #[cfg(feature = "std")]
    #[test]
    fn heap_aliases_allocate_only_what_is_used() {
        let mut t = HeapAliases::new();
        contract(&mut t);
        assert!(t.maps.is_none(), "clear frees");
        assert!(t.set_inbound(2, "b"));
        let slots = |t: &HeapAliases| t.maps.as_ref().map_or(0, |m| m.inbound.len());
        assert_eq!(slots(&t), 2, "slots up to the highest alias used");
        assert!(t.set_inbound(1, "a"));
        assert_eq!((t.inbound(1), t.inbound(2), slots(&t)), (Some("a"), Some("b"), 2));
        assert_eq!(core::mem::size_of::<HeapAliases>(), core::mem::size_of::<usize>());
    }
}
