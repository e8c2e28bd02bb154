//! Incoming topic aliases (MQTT 5.0 §3.3.2.3.4): alias number to topic name, per connection.
//!
//! Invariants: slot `n - 1` holds alias `n`; a stored topic is a valid topic name (it came from
//! a decoded PUBLISH) of at most `LEN` bytes.

use heapless::String;

/// The alias table of one connection: `N` aliases of topics up to `LEN` bytes.
#[derive(Debug, Clone)]
pub(super) struct Aliases<const N: usize, const LEN: usize> {
    slots: [Option<String<LEN>>; N],
}

impl<const N: usize, const LEN: usize> Aliases<N, LEN> {
    pub(super) const fn new() -> Self {
        Self { slots: [const { None }; N] }
    }

    /// Maps `alias` (1-based, checked by the caller) to `topic`; `false` if the topic is too
    /// long or the alias out of range.
    pub(super) fn set(&mut self, alias: u16, topic: &str) -> bool {
        let Some(slot) = (alias as usize).checked_sub(1).and_then(|i| self.slots.get_mut(i)) else {
            return false;
        };
        let mut s = String::new();
        if s.push_str(topic).is_err() {
            return false;
        }
        *slot = Some(s);
        true
    }

    /// The topic mapped to `alias`, if any.
    pub(super) fn get(&self, alias: u16) -> Option<&str> {
        let i = (alias as usize).checked_sub(1)?;
        self.slots.get(i)?.as_ref().map(String::as_str)
    }

    pub(super) fn clear(&mut self) {
        self.slots = [const { None }; N];
    }
}
