//! Frame headers (RFC 6455 §5.2): parse and emit.
//!
//! [`FrameHeader::parse`] reads a header from the start of a buffer and never reads the payload.
//! It rejects, as soon as the offending byte is present: reserved opcodes, RSV bits no extension
//! claimed, non-minimal lengths, 64-bit lengths with the most significant bit set, control frames
//! that are fragmented or longer than 125 bytes (§5.5). Whether a frame must be masked depends on
//! the role and is checked by [`Connection`](super::connection::Connection).
//!
//! Invariant: a header that parsed is one [`FrameHeader::emit`] writes back byte for byte, and
//! [`FrameHeader::encoded_len`] is the length both agree on.

use super::mask::apply_mask;
use crate::machine::{BufferTooSmall, Status};

/// The longest header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest control frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode (RFC 6455 §5.2, §11.8). Reserved opcodes are rejected when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Opcode {
    /// 0x0: a continuation of a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: connection close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl Opcode {
    /// The opcode for a 4-bit value, or `None` for the reserved values 0x3-0x7 and 0xB-0xF.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xa => Opcode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xa,
        }
    }

    /// Whether this is a control opcode (close, ping, pong; RFC 6455 §5.5).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// The three reserved bits of the first header byte, in place (RSV1 = 0x40, RSV2 = 0x20,
/// RSV3 = 0x10). They must be zero unless a negotiated extension gives them a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rsv(pub u8);

impl Rsv {
    /// No reserved bit.
    pub const NONE: Rsv = Rsv(0);
    /// RSV1 (permessage-deflate uses it).
    pub const RSV1: Rsv = Rsv(0x40);
    /// RSV2.
    pub const RSV2: Rsv = Rsv(0x20);
    /// RSV3.
    pub const RSV3: Rsv = Rsv(0x10);
}

/// Why a frame header is malformed. Every case is a protocol error: close with 1002.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FrameError {
    /// A reserved opcode (RFC 6455 §5.2).
    ReservedOpcode(u8),
    /// RSV bits no extension negotiated (RFC 6455 §5.2); the bits found, in place.
    ReservedBits(u8),
    /// A length not in its shortest form (RFC 6455 §5.2).
    NonMinimalLength,
    /// A 64-bit length with its most significant bit set (RFC 6455 §5.2).
    LengthTooLarge,
    /// A control frame with a payload above 125 bytes (RFC 6455 §5.5).
    ControlTooLong,
    /// A control frame without FIN (RFC 6455 §5.5).
    ControlFragmented,
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// Reserved bits set (only ever non-zero if the parser was told they are allowed).
    pub rsv: Rsv,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key, if the payload is masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes (below 2^63).
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header for an unmasked, non-fragmented frame.
    pub const fn new(opcode: Opcode, payload_len: u64) -> Self {
        FrameHeader { fin: true, rsv: Rsv::NONE, opcode, mask: None, payload_len }
    }

    /// Parses a header at the start of `buf`. `allowed_rsv` holds the RSV bits negotiated
    /// extensions use ([`Rsv::NONE`] without extensions).
    ///
    /// [`Status::NeedMore`] with the exact number of bytes still missing (once the second byte
    /// tells the header's length), or [`Status::Progress`] with the header and its length (the
    /// payload starts at `buf[consumed]`). Bytes after the header are never read.
    pub fn parse(buf: &[u8], allowed_rsv: Rsv) -> Result<Status<Self>, FrameError> {
        let short = |len: usize| Ok(Status::NeedMore { needed: len.saturating_sub(buf.len()) });
        let Some(&b0) = buf.first() else { return short(2) };
        let rsv = b0 & 0x70;
        if rsv & !allowed_rsv.0 != 0 {
            return Err(FrameError::ReservedBits(rsv)); // RFC 6455 §5.2
        }
        let opcode = Opcode::from_u8(b0 & 0x0f).ok_or(FrameError::ReservedOpcode(b0 & 0x0f))?;
        let fin = b0 & 0x80 != 0;
        if opcode.is_control() && !fin {
            return Err(FrameError::ControlFragmented); // RFC 6455 §5.5
        }
        let Some(&b1) = buf.get(1) else { return short(2) };
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        if opcode.is_control() && len7 > 125 {
            return Err(FrameError::ControlTooLong); // RFC 6455 §5.5
        }
        let key_len = if masked { 4 } else { 0 };
        let (payload_len, mut pos) = match len7 {
            126 => {
                let Some(&[b2, b3]) = buf.get(2..4) else { return short(4 + key_len) };
                let len = u64::from(u16::from_be_bytes([b2, b3]));
                if len < 126 {
                    return Err(FrameError::NonMinimalLength); // RFC 6455 §5.2
                }
                (len, 4)
            }
            127 => {
                let Some(&first) = buf.get(2) else { return short(10 + key_len) };
                if first & 0x80 != 0 {
                    return Err(FrameError::LengthTooLarge); // RFC 6455 §5.2
                }
                let Some(b) = buf.get(2..10) else { return short(10 + key_len) };
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(b);
                let len = u64::from_be_bytes(bytes);
                if len <= 0xffff {
                    return Err(FrameError::NonMinimalLength); // RFC 6455 §5.2
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            let Some(&[k0, k1, k2, k3]) = buf.get(pos..pos + 4) else { return short(pos + 4) };
            pos += 4;
            Some([k0, k1, k2, k3])
        } else {
            None
        };
        let header = FrameHeader { fin, rsv: Rsv(rsv), opcode, mask, payload_len };
        Ok(Status::Progress { consumed: pos, event: header })
    }

    /// The number of bytes [`emit`](Self::emit) writes: the length in its shortest form.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xffff => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Writes the header to the start of `out` and returns its length. Payload lengths of 2^63
    /// and above cannot be encoded and are clamped to 2^63 - 1; the caller keeps lengths in range.
    /// On `BufferTooSmall` nothing is written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let n = self.encoded_len();
        let out = out.get_mut(..n).ok_or(BufferTooSmall { required: n })?;
        let mut head = [0u8; MAX_HEADER_LEN];
        let mut slots = head.iter_mut();
        let mut put = |bytes: &[u8]| {
            // The bytes first: `zip` then stops without taking a slot too many.
            for (b, slot) in bytes.iter().zip(slots.by_ref()) {
                *slot = *b;
            }
        };
        put(&[if self.fin { 0x80 } else { 0 } | (self.rsv.0 & 0x70) | self.opcode.as_u8()]);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        match self.payload_len {
            len @ 0..=125 => put(&[mask_bit | len as u8]),
            len @ 126..=0xffff => {
                put(&[mask_bit | 126]);
                put(&(len as u16).to_be_bytes());
            }
            len => {
                put(&[mask_bit | 127]);
                put(&len.min(i64::MAX as u64).to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            put(&key);
        }
        // `n` is the length just written.
        out.copy_from_slice(head.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Writes a whole frame, header and payload (masked with the header's key, if any), to the start
/// of `out`; the header's `payload_len` is set from `payload`. Returns the frame length. On
/// `BufferTooSmall` nothing is written.
pub fn encode_frame(
    out: &mut [u8],
    mut header: FrameHeader,
    payload: &[u8],
) -> Result<usize, BufferTooSmall> {
    header.payload_len = payload.len() as u64;
    let hlen = header.encoded_len();
    let total = hlen.checked_add(payload.len()).ok_or(BufferTooSmall { required: usize::MAX })?;
    if out.len() < total {
        return Err(BufferTooSmall { required: total });
    }
    header.emit(out)?;
    let body = out.get_mut(hlen..total).ok_or(BufferTooSmall { required: total })?;
    body.copy_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(key, 0, body);
    }
    Ok(total)
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid WebSocket frame header: {self:?}")
    }
}

impl core::error::Error for FrameError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `bytes` whole, one byte at a time (as a growing prefix: each short prefix needs
    /// at least one byte, and exactly the rest once the length byte is in), and with trailing
    /// bytes.
    fn parse_all_ways(bytes: &[u8]) -> Result<(FrameHeader, usize), FrameError> {
        let whole = FrameHeader::parse(bytes, Rsv::NONE)?.progress().expect("complete");
        for n in 0..whole.1 {
            let Ok(Status::NeedMore { needed }) = FrameHeader::parse(&bytes[..n], Rsv::NONE) else {
                panic!("prefix {n}")
            };
            assert!(needed >= 1 && n + needed <= whole.1, "prefix {n} needs {needed}");
            if n >= 2 {
                assert_eq!(n + needed, whole.1, "prefix {n}");
            }
        }
        let mut trailing = [0xffu8; 64];
        trailing[..bytes.len()].copy_from_slice(bytes);
        let copy = trailing;
        let again = FrameHeader::parse(&trailing, Rsv::NONE)?.progress();
        assert_eq!(again, Some(whole));
        assert_eq!(trailing, copy);
        Ok(whole)
    }

    /// Fails at the first offending byte: every prefix that includes it fails the same way.
    fn parse_err(bytes: &[u8]) -> FrameError {
        let e = FrameHeader::parse(bytes, Rsv::NONE).unwrap_err();
        let mut bytewise = None;
        for n in 1..=bytes.len() {
            if let Err(e) = FrameHeader::parse(&bytes[..n], Rsv::NONE) {
                bytewise = Some(e);
                break;
            }
        }
        assert_eq!(bytewise, Some(e));
        e
    }

    fn emit(h: &FrameHeader) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.emit(&mut out).unwrap();
        assert_eq!(n, h.encoded_len());
        (out, n)
    }

    // RFC 6455 §5.7 examples.
    const HELLO_UNMASKED: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const HELLO_MASKED: &[u8] = &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    const HEL: &[u8] = &[0x01, 0x03, 0x48, 0x65, 0x6c];
    const LO: &[u8] = &[0x80, 0x02, 0x6c, 0x6f];
    const PING_HELLO: &[u8] = &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const PONG_HELLO_MASKED: &[u8] =
        &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

    #[test]
    fn rfc_examples_parse_and_emit() {
        type Case<'a> = (&'a [u8], bool, Opcode, Option<[u8; 4]>, u64, usize);
        let cases: &[Case] = &[
            (HELLO_UNMASKED, true, Opcode::Text, None, 5, 2),
            (HELLO_MASKED, true, Opcode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6),
            (HEL, false, Opcode::Text, None, 3, 2),
            (LO, true, Opcode::Continuation, None, 2, 2),
            (PING_HELLO, true, Opcode::Ping, None, 5, 2),
            (PONG_HELLO_MASKED, true, Opcode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6),
            (&[0x82, 0x7e, 0x01, 0x00], true, Opcode::Binary, None, 256, 4),
            (&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0], true, Opcode::Binary, None, 65536, 10),
        ];
        for &(bytes, fin, opcode, mask, len, hlen) in cases {
            let (h, n) = parse_all_ways(bytes).unwrap();
            assert_eq!((h.fin, h.opcode, h.mask, h.payload_len, n), (fin, opcode, mask, len, hlen));
            let (out, m) = emit(&h);
            assert_eq!(&out[..m], &bytes[..hlen]);
        }
    }

    #[test]
    fn encode_whole_frames() {
        let mut out = [0u8; 16];
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let h = FrameHeader { mask: Some(key), ..FrameHeader::new(Opcode::Text, 0) };
        assert_eq!(encode_frame(&mut out, h, b"Hello"), Ok(HELLO_MASKED.len()));
        assert_eq!(&out[..HELLO_MASKED.len()], HELLO_MASKED);
        let n = encode_frame(&mut out, FrameHeader::new(Opcode::Ping, 0), b"Hello").unwrap();
        assert_eq!(&out[..n], PING_HELLO);
        let mut small = [0u8; 10];
        assert_eq!(encode_frame(&mut small, h, b"Hello"), Err(BufferTooSmall { required: 11 }));
        assert_eq!(small, [0u8; 10]);
    }

    #[test]
    fn minimal_length_on_emit() {
        for (len, hlen) in [(0u64, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (1 << 40, 10)] {
            let h = FrameHeader::new(Opcode::Binary, len);
            let (out, n) = emit(&h);
            assert_eq!(n, hlen);
            let (back, m) = parse_all_ways(&out[..n]).unwrap();
            assert_eq!((back, m), (h, n));
            let masked = FrameHeader { mask: Some([1, 2, 3, 4]), ..h };
            assert_eq!(emit(&masked).1, hlen + 4);
        }
        let h = FrameHeader::new(Opcode::Binary, 300);
        let mut out = [0u8; 3];
        assert_eq!(h.emit(&mut out), Err(BufferTooSmall { required: 4 }));
        assert_eq!(out, [0; 3]);
    }

    #[test]
    fn malformed_headers() {
        for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            assert_eq!(parse_err(&[0x80 | op, 0x00]), FrameError::ReservedOpcode(op));
        }
        assert_eq!(parse_err(&[0xc1, 0x00]), FrameError::ReservedBits(0x40));
        assert_eq!(parse_err(&[0xa1, 0x00]), FrameError::ReservedBits(0x20));
        assert_eq!(parse_err(&[0x91, 0x00]), FrameError::ReservedBits(0x10));
        assert_eq!(parse_err(&[0x82, 0x7e, 0x00, 0x7d]), FrameError::NonMinimalLength);
        assert_eq!(
            parse_err(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            FrameError::NonMinimalLength
        );
        assert_eq!(parse_err(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]), FrameError::LengthTooLarge);
        assert_eq!(parse_err(&[0x89, 0x7e, 0x00, 0x7e]), FrameError::ControlTooLong);
        assert_eq!(parse_err(&[0x88, 0x7e]), FrameError::ControlTooLong);
        for op in [8u8, 9, 0xa] {
            assert_eq!(parse_err(&[op, 0x00]), FrameError::ControlFragmented);
        }
    }

    #[test]
    fn allowed_rsv_and_largest_length() {
        let (h, _) = FrameHeader::parse(&[0xc1, 0x00], Rsv::RSV1).unwrap().progress().unwrap();
        assert_eq!(h.rsv, Rsv::RSV1);
        assert_eq!(
            FrameHeader::parse(&[0xe1, 0x00], Rsv::RSV1),
            Err(FrameError::ReservedBits(0x60))
        );
        let max = [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(parse_all_ways(&max).unwrap().0.payload_len, i64::MAX as u64);
        let (h, _) = FrameHeader::parse(&max, Rsv::NONE).unwrap().progress().unwrap();
        assert_eq!(h.encoded_len(), 10);
    }

    #[test]
    fn masked_extended_lengths_and_the_longest_control_frame() {
        // A client's frames are masked: the key follows the extended length (RFC 6455 §5.2),
        // and a short prefix needs exactly the rest of both.
        let (h, n) = parse_all_ways(&[0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4]).unwrap();
        assert_eq!((h.payload_len, h.mask, n), (256, Some([1, 2, 3, 4]), 8));
        let long = [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7, 6];
        let (h, n) = parse_all_ways(&long).unwrap();
        assert_eq!((h.payload_len, h.mask, n), (65536, Some([9, 8, 7, 6]), 14));
        // A control frame carries at most 125 bytes (RFC 6455 §5.5): 125 is allowed.
        let (h, n) = parse_all_ways(&[0x89, 0x7d]).unwrap();
        assert_eq!((h.opcode, h.payload_len, n), (Opcode::Ping, 125, 2));
    }

    #[test]
    fn a_frame_fills_a_buffer_of_its_exact_size() {
        let mut out = [0u8; 7];
        let n = encode_frame(&mut out, FrameHeader::new(Opcode::Text, 0), b"Hello").unwrap();
        assert_eq!(&out[..n], b"\x81\x05Hello");
        let short = encode_frame(&mut out[..6], FrameHeader::new(Opcode::Text, 0), b"Hello");
        assert_eq!(short, Err(BufferTooSmall { required: 7 }));
        let e = FrameError::NonMinimalLength;
        assert_eq!(std::format!("{e}"), "invalid WebSocket frame header: NonMinimalLength");
    }

    #[test]
    fn opcodes_round_trip() {
        for v in 0..16u8 {
            if let Some(op) = Opcode::from_u8(v) {
                assert_eq!(op.as_u8(), v);
                assert_eq!(op.is_control(), v >= 8);
            }
        }
    }
}
