//! The server's half of a client's session: what outlives one network connection.

use crate::mqtt::{AwaitingRelease, PacketId, StoreFull};

/// What an outgoing QoS 1 / QoS 2 publish waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(clippy::enum_variant_names)] // named after the packet awaited
pub enum Outgoing {
    /// QoS 1, sent: PUBACK is awaited. Sent again after a reconnect.
    PubAck,
    /// QoS 2, sent: PUBREC is awaited. Sent again after a reconnect.
    PubRec,
    /// QoS 2, PUBREC received and PUBREL sent: PUBCOMP is awaited. After a reconnect the
    /// session sends PUBREL again itself [MQTT-4.4.0-1].
    PubComp,
}

/// Storage for one client's session on the server side.
///
/// MQTT 5.0 §4.1 makes the server's session state include the QoS 1 and QoS 2 messages sent to
/// the client and not completed, and the QoS 2 messages received from it and not completed. A
/// [`Server`](super::Server) keeps both in a [`Store`] the caller owns, so a broker carries the
/// store from the connection that ends to the next one of the same Client Identifier, and a
/// store written to disk or flash carries it across a restart. Without that, a QoS 2 message
/// re-sent after a reconnect (DUP, [MQTT-4.4.0-1]) would be delivered a second time.
///
/// The store holds identifiers and states only: the content of a message to send again is the
/// caller's (it routed it), and goes out again with [`Server::republish`](super::Server::republish).
/// [`MemoryStore`] is the ready-made store in RAM.
///
/// Outgoing entries keep the order they were first added in (the order the PUBLISH packets were
/// first sent, which is the order they go out again in [MQTT-4.6.0-1]); each identifier appears
/// at most once. A store that must survive a restart writes each change before the call
/// returns. Implementations must never panic.
pub trait Store: AwaitingRelease {
    /// Records that outgoing `id` waits for `state`: updated in place if `id` is present, added
    /// after every entry otherwise. On [`StoreFull`] nothing changed.
    fn set_outgoing(&mut self, id: PacketId, state: Outgoing) -> Result<(), StoreFull>;
    /// What outgoing `id` waits for, if it is in flight.
    fn outgoing(&self, id: PacketId) -> Option<Outgoing>;
    /// The flow of `id` is complete (or ended by an error): removes it; `false` if absent.
    fn remove_outgoing(&mut self, id: PacketId) -> bool;
    /// The outgoing entry at `index`, oldest first; `None` past the end.
    fn outgoing_at(&self, index: usize) -> Option<(PacketId, Outgoing)>;
    /// The number of outgoing entries.
    fn outgoing_len(&self) -> usize;
    /// Forgets the session: every outgoing entry and every identifier awaiting release.
    fn clear(&mut self);
}

/// A [`Store`] in RAM for up to `N` outgoing and `N` incoming QoS 2 flows (make `N` at least the
/// server's `IN_FLIGHT`). Its `Default` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore<const N: usize = 16> {
    outgoing: heapless::Vec<(PacketId, Outgoing), N>,
    awaiting: heapless::Vec<PacketId, N>,
}

impl<const N: usize> MemoryStore<N> {
    /// An empty store.
    pub const fn new() -> Self {
        MemoryStore { outgoing: heapless::Vec::new(), awaiting: heapless::Vec::new() }
    }

    /// The incoming QoS 2 identifiers awaiting PUBREL (to save the store elsewhere).
    pub fn awaiting(&self) -> &[PacketId] {
        &self.awaiting
    }
}

impl<const N: usize> Store for MemoryStore<N> {
    fn set_outgoing(&mut self, id: PacketId, state: Outgoing) -> Result<(), StoreFull> {
        match self.outgoing.iter_mut().find(|(held, _)| *held == id) {
            Some((_, s)) => *s = state,
            None => self.outgoing.push((id, state)).map_err(|_| StoreFull)?,
        }
        Ok(())
    }

    fn outgoing(&self, id: PacketId) -> Option<Outgoing> {
        self.outgoing.iter().find(|(held, _)| *held == id).map(|(_, s)| *s)
    }

    fn remove_outgoing(&mut self, id: PacketId) -> bool {
        let Some(i) = self.outgoing.iter().position(|(held, _)| *held == id) else {
            return false;
        };
        // Order matters (re-sent in the order first sent): a shift, not a swap.
        self.outgoing.remove(i);
        true
    }

    fn outgoing_at(&self, index: usize) -> Option<(PacketId, Outgoing)> {
        self.outgoing.get(index).copied()
    }

    fn outgoing_len(&self) -> usize {
        self.outgoing.len()
    }

    fn clear(&mut self) {
        self.outgoing.clear();
        self.awaiting.clear();
    }
}

impl<const N: usize> AwaitingRelease for MemoryStore<N> {
    fn await_release(&mut self, id: PacketId) -> Result<(), StoreFull> {
        self.awaiting.await_release(id)
    }

    fn awaits_release(&self, id: PacketId) -> bool {
        self.awaiting.awaits_release(id)
    }

    fn released(&mut self, id: PacketId) -> bool {
        self.awaiting.released(id)
    }

    fn awaiting_release(&self) -> usize {
        self.awaiting.awaiting_release()
    }

    fn awaiting_capacity(&self) -> usize {
        N
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_awaiting_release_are_listed_in_order() {
        let id = |n| PacketId::new(n).unwrap();
        let mut s = MemoryStore::<4>::new();
        s.await_release(id(9)).unwrap();
        s.await_release(id(2)).unwrap();
        assert_eq!(s.awaiting(), [id(9), id(2)]);
        assert!(s.released(id(9)));
        assert_eq!(s.awaiting(), [id(2)]);
    }

    #[test]
    fn outgoing_entries_keep_their_order_and_states() {
        let id = |n| PacketId::new(n).unwrap();
        let mut s = MemoryStore::<2>::new();
        s.set_outgoing(id(5), Outgoing::PubRec).unwrap();
        s.set_outgoing(id(3), Outgoing::PubAck).unwrap();
        assert_eq!(s.set_outgoing(id(4), Outgoing::PubAck), Err(StoreFull));
        s.set_outgoing(id(5), Outgoing::PubComp).unwrap();
        assert_eq!(s.outgoing_at(0), Some((id(5), Outgoing::PubComp)));
        assert_eq!(s.outgoing(id(3)), Some(Outgoing::PubAck));
        s.set_outgoing(id(6), Outgoing::PubAck).unwrap_err();
        assert!(s.remove_outgoing(id(5)) && !s.remove_outgoing(id(5)));
        s.set_outgoing(id(6), Outgoing::PubAck).unwrap();
        assert_eq!(s.outgoing_at(0), Some((id(3), Outgoing::PubAck)));
        assert_eq!(s.outgoing_at(1), Some((id(6), Outgoing::PubAck)));
        s.await_release(id(9)).unwrap();
        s.clear();
        assert_eq!((s.outgoing_len(), s.awaiting_release()), (0, 0));
    }
}
