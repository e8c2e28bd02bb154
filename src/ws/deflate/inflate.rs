//! Decompressing received messages (RFC 7692 §6.2, §7.2.2) with no allocator: the LZ77
//! window is the caller's buffer, the decoder state (about 11 KiB, Huffman tables included)
//! lives in the [`Inflater`], and output is produced one window-contiguous piece at a time.
//!
//! The decoder is `miniz_oxide`'s `inflate::core` (no allocator, no `unsafe`), used in its
//! wrapping-buffer mode: the window doubles as the output buffer, so every decompressed piece
//! is a slice of it, handed out before the next piece overwrites older bytes.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress_with_limit};

use super::params::WINDOW_BITS;

/// The bytes a sender removes from the end of each compressed message and the receiver
/// appends before inflating (RFC 7692 §7.2.2): an empty stored block, as a sync flush ends.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The window buffer is not a power of two from 256 to 32768 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BadWindow;

impl core::fmt::Display for BadWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("inflate window must be a power of two from 256 to 32768 bytes")
    }
}

impl core::error::Error for BadWindow {}

/// The compressed data is not valid DEFLATE (RFC 1951).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt;

/// One decompression step: input bytes taken and the piece of output (a range of the window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// Input bytes the decoder took (it may keep a few bits of them for later).
    pub used: usize,
    /// Where the output is in the window.
    pub out: core::ops::Range<usize>,
    /// Everything given so far is decoded and handed out (nothing waits for window room).
    pub drained: bool,
}

/// The receive half of permessage-deflate for one connection: the decoder state and the LZ77
/// window `W` (the caller's buffer, `2^bits` bytes for the window bits agreed for the peer's
/// messages: `&mut [u8]`, an array, or a `Box<[u8]>` on std). Pass it to
/// [`Connection::handle_input_inflate`](crate::ws::connection::Connection::handle_input_inflate).
pub struct Inflater<W> {
    decoder: DecompressorOxide,
    window: W,
    /// Where the next output byte goes.
    pos: usize,
    /// Reset the window at each message (`*_no_context_takeover` agreed for the peer).
    no_context_takeover: bool,
    /// How much of [`TAIL`] the decoder took in this message.
    tail: usize,
    /// The decoder saw a block with BFINAL set: the stream is over until the next message.
    ended: bool,
    /// Bytes decompressed in this message.
    total: u64,
}

impl<W: AsRef<[u8]>> core::fmt::Debug for Inflater<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("window", &self.window.as_ref().len())
            .field("pos", &self.pos)
            .field("no_context_takeover", &self.no_context_takeover)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl<W: AsMut<[u8]> + AsRef<[u8]>> Inflater<W> {
    /// An inflater over `window`, whose length (a power of two from 256 to 32768) must be at
    /// least `2^bits` for the window bits agreed for the peer's messages; `no_context_takeover`
    /// as agreed for the peer (see
    /// [`Agreement::receive`](super::Agreement::receive)).
    pub fn new(mut window: W, no_context_takeover: bool) -> Result<Self, BadWindow> {
        let len = window.as_mut().len();
        if !len.is_power_of_two() || !(256..=32768).contains(&len) {
            return Err(BadWindow);
        }
        Ok(Inflater {
            decoder: DecompressorOxide::new(),
            window,
            pos: 0,
            no_context_takeover,
            tail: 0,
            ended: false,
            total: 0,
        })
    }

    /// The window bits this inflater can receive with (8 to 15): the value to negotiate with
    /// ([`ServerConfig::receive_window_bits`](super::ServerConfig::receive_window_bits),
    /// [`ClientConfig::receive_window_bits`](super::ClientConfig::receive_window_bits)).
    pub fn window_bits(&self) -> u8 {
        let bits = self.window.as_ref().len().trailing_zeros() as u8;
        bits.clamp(*WINDOW_BITS.start(), *WINDOW_BITS.end())
    }

    /// The output of the last step.
    pub(crate) fn piece(&self, out: core::ops::Range<usize>) -> &[u8] {
        self.window.as_ref().get(out).unwrap_or(&[])
    }

    /// Bytes decompressed so far in the current message.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// A compressed message starts (RFC 7692 §7.2.2): a fresh decoder after a final block or
    /// without context takeover, and an empty window without context takeover.
    pub(crate) fn start_message(&mut self) {
        if self.no_context_takeover || self.ended {
            self.decoder.init();
        }
        if self.no_context_takeover {
            self.pos = 0;
        }
        self.ended = false;
        self.tail = 0;
        self.total = 0;
    }

    /// Decodes from `input` (the message's compressed bytes) into the window, at most `limit`
    /// bytes of output.
    pub(crate) fn inflate(&mut self, input: &[u8], limit: usize) -> Result<Step, Corrupt> {
        if self.ended {
            // RFC 7692 §7.2.3.4: after a block with BFINAL set, the rest of the message is
            // padding (the start of the empty block a sender appends, §7.2.1): skipped.
            return Ok(Step { used: input.len(), out: self.pos..self.pos, drained: true });
        }
        self.step(input, limit)
    }

    /// Feeds the rest of the tail after the message's last byte: the message is complete when
    /// `drained`. Each call takes tail bytes or gives output (or both).
    pub(crate) fn finish(&mut self, limit: usize) -> Result<Step, Corrupt> {
        loop {
            if self.ended {
                return Ok(Step { used: 0, out: self.pos..self.pos, drained: true });
            }
            let rest = TAIL.get(self.tail..).unwrap_or(&[]);
            let step = self.step(rest, limit)?;
            self.tail += step.used;
            let done = self.tail >= TAIL.len() && step.drained;
            if done || !step.out.is_empty() {
                return Ok(Step { drained: done, ..step });
            }
        }
    }

    fn step(&mut self, input: &[u8], limit: usize) -> Result<Step, Corrupt> {
        let start = self.pos;
        let window = self.window.as_mut();
        let (status, used, written) = decompress_with_limit(
            &mut self.decoder,
            input,
            window,
            start,
            limit.max(1),
            TINFL_FLAG_HAS_MORE_INPUT,
        );
        let drained = match status {
            TINFLStatus::NeedsMoreInput => true,
            TINFLStatus::HasMoreOutput => false,
            TINFLStatus::Done => {
                self.ended = true;
                true
            }
            _ => return Err(Corrupt),
        };
        let end = start.saturating_add(written).min(window.len());
        self.pos = if end == window.len() { 0 } else { end };
        self.total = self.total.saturating_add(written as u64);
        Ok(Step { used, out: start..end, drained })
    }
}
