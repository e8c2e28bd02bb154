//! Compressing sent messages (RFC 7692 §7.2.1), with feature `std`: `miniz_oxide`'s encoder
//! allocates its dictionary and tables (a few hundred KiB per connection). Sending compressed
//! is optional per message (RFC 7692 §6): without `std` an endpoint sends plain.

use std::boxed::Box;
use std::vec::Vec;

use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output,
    create_comp_flags_from_zip_params,
};

use super::Agreement;
use crate::ws::connection::Role;

/// The bytes a sync flush ends with, which the sender removes (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The encoder failed (it never does on valid parameters; the message can go plain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressError;

impl core::fmt::Display for CompressError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("permessage-deflate: the encoder failed")
    }
}

impl core::error::Error for CompressError {}

/// The send half of permessage-deflate for one connection: compresses whole messages as the
/// agreement allows this end (its window bits and context takeover). Send the result with
/// [`Connection::encode_compressed`](crate::ws::connection::Connection::encode_compressed).
pub struct Compressor {
    encoder: Box<CompressorOxide>,
    no_context_takeover: bool,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// The compressor for the messages `role` sends under `agreement`. With fewer than 15
    /// window bits agreed for this end, it only encodes runs (matches one byte back), which
    /// every window holds.
    pub fn new(agreement: &Agreement, role: Role) -> Self {
        let (bits, no_context_takeover) = agreement.send(role);
        let strategy =
            if bits < 15 { CompressionStrategy::RLE } else { CompressionStrategy::Default };
        // Negative window bits: raw DEFLATE, no zlib header.
        let flags = create_comp_flags_from_zip_params(6, -15, strategy as i32);
        Compressor { encoder: Box::new(CompressorOxide::new(flags)), no_context_takeover }
    }

    /// Appends `data` compressed as one message to `out`: DEFLATE blocks up to a sync flush,
    /// without its final `00 00 ff ff` (RFC 7692 §7.2.1). Without context takeover each
    /// message starts from an empty window.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        if self.no_context_takeover {
            self.encoder.reset();
        }
        let start = out.len();
        let (status, used) = compress_to_output(&mut self.encoder, data, TDEFLFlush::Sync, |b| {
            out.extend_from_slice(b);
            true
        });
        if status != TDEFLStatus::Okay || used != data.len() {
            out.truncate(start);
            return Err(CompressError);
        }
        if out.get(start..).is_some_and(|o| o.ends_with(&TAIL)) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.len() == start {
            // An empty message: the start of an empty stored block (RFC 7692 §7.2.3.6).
            out.push(0x00);
        }
        Ok(())
    }
}
