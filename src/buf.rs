//! Byte-buffer helpers shared by the MQTT and WebSocket layers.

/// Memory a layer works in: a caller's `&mut [u8]` (the default, all a device needs), an array,
/// or on std a `Vec<u8>` or `Box<[u8]>` the owner keeps (the [`Pump`](crate::io::Pump)'s
/// buffers, the MQTT client's `SliceStore`).
pub trait Buffer: AsRef<[u8]> + AsMut<[u8]> {}

impl<B: AsRef<[u8]> + AsMut<[u8]> + ?Sized> Buffer for B {}

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
