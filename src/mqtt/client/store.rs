//! The client's session storage: outgoing QoS 1 and QoS 2 messages in flight, and incoming QoS 2
//! messages awaiting their PUBREL.

use core::marker::PhantomData;

use crate::buf::Buffer;
pub use crate::mqtt::StoreFull;
use crate::mqtt::{AwaitingRelease, PacketId};

/// One in-flight message, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Stored<'a> {
    /// A PUBLISH not yet acknowledged (PUBACK for QoS 1, PUBREC for QoS 2): the encoded packet.
    Publish {
        /// Its packet identifier.
        id: PacketId,
        /// The whole encoded PUBLISH packet.
        packet: &'a [u8],
    },
    /// A QoS 2 PUBLISH that got its PUBREC: the PUBREL is owed until PUBCOMP.
    Released {
        /// Its packet identifier.
        id: PacketId,
    },
}

impl Stored<'_> {
    /// The entry's packet identifier.
    pub const fn id(&self) -> PacketId {
        match self {
            Stored::Publish { id, .. } | Stored::Released { id } => *id,
        }
    }
}

/// Bounded storage for a client's session: in-flight outgoing messages, and (through
/// [`AwaitingRelease`]) incoming QoS 2 messages awaiting PUBREL.
///
/// The session keeps every PUBLISH it sent with QoS 1 or 2 until the server acknowledges it, so
/// that it can be re-sent after a reconnect with session resume [MQTT-4.4.0-1], and the packet
/// identifier of every QoS 2 message it delivered until the server's PUBREL, so that a copy
/// re-sent after a reconnect is not delivered twice (MQTT 5.0 §4.3.3). Where that lives is the
/// caller's choice: [`Store`] is the contract (RAM, flash, a file), [`SliceStore`] the ready-made
/// implementation over a caller slice.
///
/// # Keeping the session across a reboot
///
/// The client's half of the session state is exactly the store's content: each unacknowledged
/// PUBLISH as encoded, the identifiers of QoS 2 messages whose PUBREL is owed, and the
/// identifiers of QoS 2 messages received and not yet released. Packet identifiers still in the
/// store are never reused. So a device that keeps its store in flash (every change written
/// before the call returns) keeps its session across a reboot: rebuild the client over the same
/// store with `Client::new` and connect with Clean Start 0 and a Session Expiry Interval > 0;
/// after CONNACK with Session Present the messages go out again with DUP, the owed PUBRELs are
/// re-sent [MQTT-4.4.0-1], and a QoS 2 message the server sends again is acknowledged without
/// being delivered a second time. If the server has no session (Session Present 0) the store is
/// cleared.
///
/// Invariants: entries are kept in the order they were inserted (the order the PUBLISH packets
/// were first sent, which is the order they are re-sent in [MQTT-4.6.0-1]); each packet
/// identifier appears at most once; a stored packet is the exact PUBLISH as first encoded, with
/// its full topic name and no Topic Alias, so it stays valid on a new connection.
/// Implementations must keep insertion order and must never panic.
pub trait Store: AwaitingRelease {
    /// Stores `packet` (a whole encoded PUBLISH) under `id`, after every existing entry.
    /// On [`StoreFull`] nothing changed.
    fn insert(&mut self, id: PacketId, packet: &[u8]) -> Result<(), StoreFull>;
    /// Turns the entry `id` into [`Stored::Released`] (its bytes are no longer needed).
    /// Returns `false` if there is no such entry.
    fn release(&mut self, id: PacketId) -> bool;
    /// Removes the entry `id`; returns `false` if there is none.
    fn remove(&mut self, id: PacketId) -> bool;
    /// The entry at `index`, oldest first; `None` past the end.
    fn get(&self, index: usize) -> Option<Stored<'_>>;
    /// The number of outgoing entries.
    fn len(&self) -> usize;
    /// Removes every entry, outgoing and awaiting release.
    fn clear(&mut self);

    /// `true` if there are no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry with identifier `id`.
    fn find(&self, id: PacketId) -> Option<Stored<'_>> {
        (0..self.len()).filter_map(|i| self.get(i)).find(|s| s.id() == id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    id: PacketId,
    start: usize,
    len: usize,
    released: bool,
}

/// A [`Store`] over a caller byte slice, for at most `N` outgoing messages and `R` (by default
/// `N`) incoming QoS 2 messages awaiting release: the client announces at most `R` as its
/// Receive Maximum.
///
/// Packet bytes are kept back to back in the slice between `head` and `used`. Removing the
/// entry whose bytes come first (the usual case: acknowledgements arrive in order) only advances
/// `head`; removing another moves the bytes after it down. An insert that does not fit at the
/// end first moves the live bytes back to the start, so the free space is the two ends.
///
/// Its `Debug` output lists the entries and the buffer's size, not the stored bytes.
pub struct SliceStore<'b, const N: usize, B: Buffer = &'b mut [u8], const R: usize = N> {
    buf: B,
    head: usize,
    used: usize,
    entries: heapless::Vec<Entry, N>,
    awaiting: heapless::Vec<PacketId, R>,
    /// The lifetime of a borrowed buffer (the default `B`).
    borrowed: PhantomData<&'b mut [u8]>,
}

impl<const N: usize, B: Buffer, const R: usize> core::fmt::Debug for SliceStore<'_, N, B, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SliceStore")
            .field("len", &self.buf.as_ref().len())
            .field("head", &self.head)
            .field("used", &self.used)
            .field("entries", &self.entries)
            .field("awaiting", &self.awaiting)
            .finish()
    }
}

impl<'b, const N: usize> SliceStore<'b, N> {
    /// An empty store keeping packet bytes in `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self::with_buffer(buf)
    }
}

impl<'b, const N: usize, B: Buffer, const R: usize> SliceStore<'b, N, B, R> {
    /// An empty store keeping packet bytes in a buffer of any [`Buffer`](crate::io::Buffer) type (on std, a
    /// `Vec<u8>` the store owns).
    pub fn with_buffer(buf: B) -> Self {
        Self {
            buf,
            head: 0,
            used: 0,
            entries: heapless::Vec::new(),
            awaiting: heapless::Vec::new(),
            borrowed: PhantomData,
        }
    }

    /// Bytes of `buf` still free.
    pub fn free_bytes(&self) -> usize {
        self.buf.as_ref().len() - self.used + self.head
    }

    /// Moves the live bytes from `head` back to the start of the slice.
    fn compact(&mut self) {
        let head = self.head;
        crate::buf::move_down(self.buf.as_mut(), head, self.used, 0);
        self.used -= head;
        self.head = 0;
        for e in self.entries.iter_mut() {
            // Entries without bytes may point anywhere below `used`.
            e.start = e.start.saturating_sub(head);
        }
    }

    fn position(&self, id: PacketId) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    /// Drops the bytes of entry `i`: advances `head` past them if they come first, otherwise
    /// moves the bytes after them down.
    fn drop_bytes(&mut self, i: usize) {
        let Some(&Entry { start, len, .. }) = self.entries.get(i) else { return };
        if len == 0 {
            return;
        }
        if start == self.head {
            self.head += len;
            if self.head == self.used {
                self.head = 0;
                self.used = 0;
            }
            if let Some(e) = self.entries.get_mut(i) {
                e.len = 0;
            }
            return;
        }
        crate::buf::move_down(self.buf.as_mut(), start + len, self.used, start);
        self.used -= len;
        for e in self.entries.iter_mut().skip(i + 1) {
            e.start = e.start.saturating_sub(len);
        }
        if let Some(e) = self.entries.get_mut(i) {
            e.len = 0;
        }
    }
}

impl<const N: usize, B: Buffer, const R: usize> Store for SliceStore<'_, N, B, R> {
    fn insert(&mut self, id: PacketId, packet: &[u8]) -> Result<(), StoreFull> {
        if self.head > 0 && self.buf.as_ref().len() - self.used < packet.len() {
            self.compact();
        }
        let end = self.used.checked_add(packet.len()).ok_or(StoreFull)?;
        if self.entries.is_full() || end > self.buf.as_ref().len() || self.position(id).is_some() {
            return Err(StoreFull);
        }
        let Some(dst) = self.buf.as_mut().get_mut(self.used..end) else { return Err(StoreFull) };
        dst.copy_from_slice(packet);
        let entry = Entry { id, start: self.used, len: packet.len(), released: false };
        self.entries.push(entry).map_err(|_| StoreFull)?;
        self.used = end;
        Ok(())
    }

    fn release(&mut self, id: PacketId) -> bool {
        let Some(i) = self.position(id) else { return false };
        self.drop_bytes(i);
        if let Some(e) = self.entries.get_mut(i) {
            e.released = true;
        }
        true
    }

    fn remove(&mut self, id: PacketId) -> bool {
        let Some(i) = self.position(id) else { return false };
        self.drop_bytes(i);
        // `Vec::remove` by hand: one entry at a time, so no `memmove` is linked.
        for j in i + 1..self.entries.len() {
            if let Some(&e) = self.entries.get(j)
                && let Some(d) = self.entries.get_mut(j - 1)
            {
                *d = e;
            }
        }
        self.entries.pop();
        true
    }

    fn get(&self, index: usize) -> Option<Stored<'_>> {
        let e = self.entries.get(index)?;
        Some(if e.released {
            Stored::Released { id: e.id }
        } else {
            Stored::Publish { id: e.id, packet: self.buf.as_ref().get(e.start..e.start + e.len)? }
        })
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn find(&self, id: PacketId) -> Option<Stored<'_>> {
        // Identifiers are unique in the store: the entry's position, then that one entry.
        self.get(self.position(id)?)
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.awaiting.clear();
        self.head = 0;
        self.used = 0;
    }
}

impl<const N: usize, B: Buffer, const R: usize> AwaitingRelease for SliceStore<'_, N, B, R> {
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
        R
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn removing_in_order_moves_no_bytes_and_wraps() {
        let mut buf = [0u8; 8];
        let mut s = SliceStore::<4>::new(&mut buf);
        s.insert(id(1), b"aaa").unwrap();
        s.insert(id(2), b"bbb").unwrap();
        assert!(s.remove(id(1)));
        assert_eq!((s.head, s.used, s.free_bytes()), (3, 6, 5));
        // Does not fit at the end (2 bytes left): the live bytes move back to the start.
        s.insert(id(3), b"cccc").unwrap();
        assert_eq!((s.head, s.used, s.free_bytes()), (0, 7, 1));
        assert_eq!(s.get(0), Some(Stored::Publish { id: id(2), packet: b"bbb" }));
        assert_eq!(s.get(1), Some(Stored::Publish { id: id(3), packet: b"cccc" }));
        assert!(s.release(id(2)));
        assert_eq!(s.get(0), Some(Stored::Released { id: id(2) }));
        assert_eq!(s.free_bytes(), 4);
        s.insert(id(4), b"dddd").unwrap();
        assert_eq!(s.get(1), Some(Stored::Publish { id: id(3), packet: b"cccc" }));
        assert_eq!(s.get(2), Some(Stored::Publish { id: id(4), packet: b"dddd" }));
        assert_eq!(s.insert(id(5), b"e"), Err(StoreFull));
        assert!(s.remove(id(3)) && s.remove(id(4)) && s.remove(id(2)));
        assert_eq!((s.head, s.used, s.free_bytes()), (0, 0, 8));
    }

    #[test]
    fn keeps_order_and_compacts() {
        let mut buf = [0u8; 10];
        let mut s = SliceStore::<3>::new(&mut buf);
        s.insert(id(1), b"aaa").unwrap();
        s.insert(id(2), b"bbbb").unwrap();
        assert_eq!(s.insert(id(3), b"cccc"), Err(StoreFull));
        assert_eq!(s.insert(id(2), b"c"), Err(StoreFull), "duplicate id");
        assert!(s.release(id(1)));
        assert_eq!(s.free_bytes(), 6);
        s.insert(id(3), b"cc").unwrap();
        assert_eq!(s.get(0), Some(Stored::Released { id: id(1) }));
        assert_eq!(s.get(1), Some(Stored::Publish { id: id(2), packet: b"bbbb" }));
        assert_eq!(s.get(2), Some(Stored::Publish { id: id(3), packet: b"cc" }));
        assert_eq!(s.insert(id(4), b""), Err(StoreFull), "entry limit");
        assert!(s.remove(id(2)));
        assert!(!s.remove(id(2)));
        assert_eq!(s.get(1), Some(Stored::Publish { id: id(3), packet: b"cc" }));
        assert_eq!(s.find(id(3)), Some(Stored::Publish { id: id(3), packet: b"cc" }));
        assert_eq!(s.find(id(1)), Some(Stored::Released { id: id(1) }));
        assert_eq!(s.find(id(2)), None);
        // The same answers as the trait's default lookup (a walk over `get`).
        for n in 1..5 {
            let walk = (0..s.len()).filter_map(|i| s.get(i)).find(|x| x.id() == id(n));
            assert_eq!(s.find(id(n)), walk);
        }
        assert_eq!(s.len(), 2);
        s.clear();
        assert!(s.is_empty());
        assert_eq!(s.free_bytes(), 10);
    }
}
