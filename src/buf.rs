//! Byte-buffer helpers shared by the MQTT and WebSocket layers.

/// Memory a layer works in: a caller's `&mut [u8]` (the default, all a device needs), an array,
/// or on std a `Vec<u8>` or `Box<[u8]>` the owner keeps, or an [`ElasticBuffer`] that grows on
/// demand (the [`Pump`](crate::io::Pump)'s buffers, the MQTT client's `SliceStore`).
///
/// Its length is what a layer may use. Fixed memory keeps its length; a type whose memory can
/// change overrides [`fit`](Buffer::fit).
pub trait Buffer: AsRef<[u8]> + AsMut<[u8]> {
    /// Asks for room for `wanted` bytes in all, keeping the first `keep` bytes as they are: the
    /// buffer may grow toward `wanted`, or give memory back when `wanted` is small, or stay as
    /// it is (fixed memory always does: the default). The caller reads the length afterwards.
    #[inline(always)]
    fn fit(&mut self, keep: usize, wanted: usize) {
        let _ = (keep, wanted);
    }

    /// Gives the memory back while nothing in it is needed: the next [`fit`](Buffer::fit) asks
    /// for it again. Fixed memory keeps it (the default).
    #[inline(always)]
    fn release(&mut self) {}
}

impl Buffer for [u8] {}

impl<const N: usize> Buffer for [u8; N] {}

impl<B: Buffer + ?Sized> Buffer for &mut B {
    #[inline(always)]
    fn fit(&mut self, keep: usize, wanted: usize) {
        (**self).fit(keep, wanted);
    }

    #[inline(always)]
    fn release(&mut self) {
        (**self).release();
    }
}

#[cfg(feature = "std")]
impl Buffer for std::vec::Vec<u8> {}

#[cfg(feature = "std")]
impl Buffer for std::boxed::Box<[u8]> {}

/// Heap memory that grows on demand between a floor and a ceiling (std): a server with many
/// mostly idle connections keeps each at the floor and lets the one that receives or sends a
/// large packet grow, up to the ceiling, for as long as it needs.
///
/// It starts at `floor` bytes. [`fit`](Buffer::fit) grows it to what is wanted (at least twice
/// its length, so a flood grows it in few steps, at least `floor`, and never past `ceiling`), and
/// once it has grown past four times its floor, shrinks it back to `floor` when what is wanted
/// fits there again (so a connection busy with small packets does not reallocate on every
/// burst). [`release`](Buffer::release) gives all its memory back until the next `fit` asks
/// for some ([`Pump::release`](crate::io::Pump::release): an idle connection holds none). New
/// memory is zeroed.
///
/// ```
/// use mqtt_ws::io::{Buffer, ElasticBuffer};
///
/// let mut b = ElasticBuffer::new(1024, 64 * 1024);
/// assert_eq!(b.as_ref().len(), 1024);
/// b.fit(1000, 5000); // 1,000 bytes held, a packet of 4,000 more announced
/// assert_eq!(b.as_ref().len(), 5000);
/// b.fit(0, 100_000); // never past the ceiling
/// assert_eq!(b.as_ref().len(), 64 * 1024);
/// b.fit(0, 1); // idle again: back to the floor
/// assert_eq!(b.as_ref().len(), 1024);
/// b.fit(0, 3000);
/// b.fit(0, 1); // grown less than four times the floor: kept
/// assert_eq!(b.as_ref().len(), 3000);
/// b.release(); // idle: no memory at all
/// assert_eq!(b.as_ref().len(), 0);
/// b.fit(0, 2); // wanted again: the floor at least
/// assert_eq!(b.as_ref().len(), 1024);
/// ```
#[cfg(feature = "std")]
#[derive(Clone, PartialEq, Eq)]
pub struct ElasticBuffer {
    bytes: std::vec::Vec<u8>,
    /// 32 bits each: a server keeps two of these per connection.
    floor: u32,
    ceiling: u32,
}

/// Its size and bounds, not its bytes.
#[cfg(feature = "std")]
impl core::fmt::Debug for ElasticBuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ElasticBuffer")
            .field("len", &self.bytes.len())
            .field("floor", &self.floor)
            .field("ceiling", &self.ceiling)
            .finish()
    }
}

#[cfg(feature = "std")]
impl ElasticBuffer {
    /// A buffer of `floor` bytes that grows up to `ceiling` (at least `floor`; either is at
    /// most 4 GiB, and taken as 4 GiB if larger).
    pub fn new(floor: usize, ceiling: usize) -> Self {
        let (floor, ceiling) = (clamp(floor), clamp(ceiling));
        ElasticBuffer { bytes: std::vec![0; floor as usize], floor, ceiling: ceiling.max(floor) }
    }

    /// The least it holds.
    pub fn floor(&self) -> usize {
        self.floor as usize
    }

    /// The most it grows to.
    pub fn ceiling(&self) -> usize {
        self.ceiling as usize
    }
}

#[cfg(feature = "std")]
fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(feature = "std")]
impl AsRef<[u8]> for ElasticBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(feature = "std")]
impl AsMut<[u8]> for ElasticBuffer {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

#[cfg(feature = "std")]
impl Buffer for ElasticBuffer {
    fn fit(&mut self, keep: usize, wanted: usize) {
        let len = self.bytes.len();
        if wanted > len {
            let to = wanted.max(len.saturating_mul(2)).max(self.floor()).min(self.ceiling());
            if to > len {
                // Exactly what is asked: `resize` alone may reserve twice the old capacity.
                self.bytes.reserve_exact(to - len);
                self.bytes.resize(to, 0);
            }
        } else if wanted <= self.floor()
            && keep <= self.floor()
            && len > self.floor().saturating_mul(4)
        {
            // `keep <= floor`: the kept bytes stay.
            self.bytes.truncate(self.floor());
            self.bytes.shrink_to_fit();
        }
    }

    fn release(&mut self) {
        self.bytes = std::vec::Vec::new();
    }
}

/// Moves `buf[src..end]` down to start at `dst` (`dst <= src`), as `copy_within` does, but with
/// `memcpy` on chunks that do not overlap: a firmware then links no `memmove` (1.5 KiB on
/// Cortex-M). Out-of-range arguments move what is in range and never panic.
pub(crate) fn move_down(buf: &mut [u8], src: usize, end: usize, dst: usize) {
    let Some(gap) = src.checked_sub(dst).filter(|&g| g > 0) else { return };
    let end = end.min(buf.len());
    let mut at = src;
    while at < end {
        let n = gap.min(end - at);
        let (low, high) = buf.split_at_mut(at);
        if let (Some(to), Some(from)) = (low.get_mut(at - gap..at - gap + n), high.get(..n)) {
            to.copy_from_slice(from);
        }
        at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_memory_stays_as_it_is() {
        let mut mem = [0u8; 8];
        let mut buf: &mut [u8] = &mut mem;
        buf.fit(0, 100);
        Buffer::release(&mut buf);
        assert_eq!(buf.len(), 8);
    }

    #[cfg(feature = "std")]
    #[test]
    fn an_elastic_buffer_grows_and_shrinks_within_its_bounds() {
        let mut b = ElasticBuffer::new(16, 64);
        assert_eq!((b.floor(), b.ceiling(), b.as_ref().len()), (16, 64, 16));
        b.as_mut()[..3].copy_from_slice(b"abc");
        b.fit(3, 1000);
        assert_eq!(b.as_ref().len(), 64);
        assert_eq!(&b.as_ref()[..3], b"abc");
        // Given back while nothing is needed (through a reference, as a driver holds it), then
        // at least the floor again.
        let mut r = &mut b;
        Buffer::release(&mut r);
        assert_eq!(b.as_ref().len(), 0);
        b.fit(0, 10);
        assert_eq!(b.as_ref().len(), 16);
        assert_eq!(std::format!("{b:?}"), "ElasticBuffer { len: 16, floor: 16, ceiling: 64 }");
        let huge = ElasticBuffer::new(0, usize::MAX);
        assert_eq!(huge.ceiling(), u32::MAX as usize, "at most 4 GiB");
        assert_eq!(
            core::mem::size_of::<ElasticBuffer>(),
            core::mem::size_of::<std::vec::Vec<u8>>() + 8
        );
    }

    #[test]
    fn move_down_matches_copy_within() {
        for len in 0..12usize {
            for src in 0..=len {
                for dst in 0..=src {
                    for end in src..=len {
                        let mut a: [u8; 12] = core::array::from_fn(|i| i as u8);
                        let mut b = a;
                        move_down(&mut a[..len], src, end, dst);
                        b[..len].copy_within(src..end, dst);
                        assert_eq!(a, b, "len {len} src {src} end {end} dst {dst}");
                    }
                }
            }
        }
        let mut a = [1u8, 2, 3];
        move_down(&mut a, 1, 9, 0); // end past the slice
        assert_eq!(a, [2, 3, 3]);
        move_down(&mut a, 0, 3, 1); // upwards: refused
        assert_eq!(a, [2, 3, 3]);
    }
}
