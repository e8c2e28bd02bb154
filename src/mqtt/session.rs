//! The receiving half of a session's state, kept by either side: the QoS 2 messages received and
//! not yet released.
//!
//! MQTT 5.0 §4.3.3 (method B) makes exactly-once delivery rest on the receiver remembering, per
//! packet identifier, that it has passed a QoS 2 message on and sent PUBREC: a re-sent PUBLISH
//! with that identifier (DUP, after a reconnect) is acknowledged again but not delivered again,
//! until PUBREL frees the identifier. §4.1 makes that memory part of the session, which lasts
//! across network connections and, with storage that survives one, across restarts. So both
//! session machines keep it in the caller's store, behind [`AwaitingRelease`]: the client's
//! [`client::Store`](super::client::Store) and the server's [`server::Store`](super::server::Store)
//! both require it.
//!
//! `heapless::Vec<PacketId, N>` implements it, for stores that keep the identifiers in RAM.

use super::PacketId;

/// The store is full: no room for one more entry (or, for a client store, for a packet's bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StoreFull;

impl core::fmt::Display for StoreFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the session store is full")
    }
}

impl core::error::Error for StoreFull {}

/// Packet identifiers of incoming QoS 2 messages that were delivered and acknowledged with
/// PUBREC, and await their PUBREL (MQTT 5.0 §4.3.3, method B).
///
/// A store that must survive a restart writes each change before the call returns. Each
/// identifier is held at most once. Implementations must never panic.
pub trait AwaitingRelease {
    /// Starts holding `id` (its message was just delivered). On [`StoreFull`] nothing changed;
    /// holding an identifier already held changes nothing.
    fn await_release(&mut self, id: PacketId) -> Result<(), StoreFull>;
    /// Whether `id` is held: a PUBLISH with it is a re-sent copy, not a new message.
    fn awaits_release(&self, id: PacketId) -> bool;
    /// PUBREL for `id` arrived: stops holding it. Returns `false` if it was not held.
    fn released(&mut self, id: PacketId) -> bool;
    /// How many identifiers are held.
    fn awaiting_release(&self) -> usize;
    /// How many identifiers it can hold at most: a session announces no more than this as its
    /// Receive Maximum. Unbounded by default.
    fn awaiting_capacity(&self) -> usize {
        usize::MAX
    }
}

impl<const N: usize> AwaitingRelease for heapless::Vec<PacketId, N> {
    fn await_release(&mut self, id: PacketId) -> Result<(), StoreFull> {
        if self.contains(&id) {
            return Ok(());
        }
        self.push(id).map_err(|_| StoreFull)
    }

    fn awaits_release(&self, id: PacketId) -> bool {
        self.contains(&id)
    }

    fn released(&mut self, id: PacketId) -> bool {
        let i = self.iter().position(|held| *held == id);
        i.map(|i| self.swap_remove(i)).is_some()
    }

    fn awaiting_release(&self) -> usize {
        self.len()
    }

    fn awaiting_capacity(&self) -> usize {
        N
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_each_identifier_once_within_capacity() {
        let id = |n| PacketId::new(n).unwrap();
        let mut held = heapless::Vec::<PacketId, 2>::new();
        held.await_release(id(7)).unwrap();
        held.await_release(id(7)).unwrap();
        assert_eq!(held.awaiting_release(), 1);
        held.await_release(id(9)).unwrap();
        assert_eq!(held.await_release(id(10)), Err(StoreFull));
        assert!(held.awaits_release(id(9)) && !held.awaits_release(id(10)));
        assert!(held.released(id(7)));
        assert!(!held.released(id(7)));
        assert_eq!(held.awaiting_release(), 1);
    }

    #[test]
    fn capacity_and_the_full_error() {
        let held = heapless::Vec::<PacketId, 3>::new();
        assert_eq!(held.awaiting_capacity(), 3);
        assert_eq!(std::format!("{StoreFull}"), "the session store is full");
    }
}
