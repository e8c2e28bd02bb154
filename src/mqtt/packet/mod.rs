//! MQTT control packets: decode from and encode into caller buffers.
//!
//! # Decoding
//!
//! [`decode`] reads one packet from the front of a buffer and returns it with the number of bytes
//! it used; bytes after the packet are left alone. A decoded [`Packet`] borrows topic, payload,
//! strings, properties and subscription lists from the buffer (zero-copy). Invariants after a
//! successful decode: every field was validated, so no accessor and no iterator of a decoded
//! packet fails or panics.
//!
//! The result is the crate's [`Status`]: [`Status::Progress`] with the packet and the bytes it
//! took. When the buffer holds less than one packet the result is [`Status::NeedMore`] with the number
//! of bytes still needed: the exact remainder once the fixed header is complete (nothing is
//! re-scanned: only the fixed header is read until the whole packet is there), at least one byte
//! before that. A packet over the receiver's Maximum Packet Size is reported from the fixed header
//! alone ([`DecodeError::PacketTooLarge`]) with its total length so the caller can skip it.
//!
//! CONNECT carries its protocol level; decoding it ignores [`DecodeOptions::version`] and reports
//! the version in [`Connect::version`]. Every other packet is decoded as the version given.
//!
//! # Streaming large PUBLISH packets
//!
//! [`FixedHeader::decode`] reads the fixed header alone, then [`Publish::decode_head`] reads topic,
//! packet identifier and properties from a buffer that holds only those and reports the payload
//! length; the payload is then read in chunks by the caller. [`Publish::encode_head`] writes the
//! head for a given payload length so a sender can stream the payload.
//!
//! # Encoding
//!
//! [`Packet::encoded_len`] computes the exact size (and validates the packet);
//! [`Packet::encode`] writes into a `&mut [u8]` and returns the length. A buffer that is too small
//! gives [`EncodeError::BufferTooSmall`] with the size required, and nothing is written.
//! Encoding validates what the caller built (topic names and filters, reason codes and
//! properties allowed in the packet, 3.1.1 limits) and reports misuse as [`EncodeError`].
//!
//! # Implementation notes
//!
//! Parsing is hand-written over a bounds-checked cursor rather than `nom` combinators: every
//! field is fixed-width or length-prefixed, so a cursor is as clear and keeps the hot PUBLISH
//! path free of combinator overhead (nom cost instructions on every packet measured, twice; the
//! numbers are in `benches/README.md`). nom parses where the input is a grammar: the HTTP/1.1
//! lines of the WebSocket opening handshake. Strings are checked in one pass (UTF-8, then NUL and
//! wildcards a word at a time). Property lists keep a bit set of the identifiers present,
//! so checking a list against a packet type when encoding costs a few instructions.
//!
//! Not checked here because they need connection state or the direction of the packet: topic
//! alias ranges, Receive Maximum, whether a client may send Subscription Identifiers or a
//! server may send Disconnect with Will Message, and UTF-8 payloads announced by the Payload
//! Format Indicator (a receiver MAY check those).

mod ack;
mod connect;
mod disconnect;
mod publish;
mod subscribe;

pub use ack::Ack;
pub use connect::{ConnAck, Connect, Will};
pub use disconnect::{Auth, Disconnect};
pub use publish::{Publish, PublishHead, QosPid};
pub use subscribe::{
    ReasonCodes, RetainHandling, SubAck, Subscribe, SubscribeFilters, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeFilters,
};
pub(crate) use subscribe::{SubscribeSlice, UnsubscribeSlice};

use super::error::{DecodeError, EncodeError};
use super::wire::{self, Reader, Writer};
use super::{PacketId, ReasonCode, Version};
use crate::machine::Status;

/// What the receiver knows before it decodes a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DecodeOptions {
    /// The version of the connection (CONNECT is decoded as the level it carries).
    pub version: Version,
    /// The Maximum Packet Size the receiver announced, in bytes, fixed header included;
    /// `u32::MAX` for no limit beyond the protocol's.
    pub max_packet_size: u32,
}

impl DecodeOptions {
    /// Options for `version` without a packet size limit.
    pub const fn new(version: Version) -> Self {
        Self { version, max_packet_size: u32::MAX }
    }

    /// The same options with a Maximum Packet Size.
    pub const fn with_max_packet_size(self, max_packet_size: u32) -> Self {
        Self { max_packet_size, ..self }
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self::new(Version::V5)
    }
}

/// The control packet type (MQTT 5.0 §2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum PacketType {
    /// 1: client request to connect.
    Connect = 1,
    /// 2: connect acknowledgment.
    ConnAck = 2,
    /// 3: publish message.
    Publish = 3,
    /// 4: publish acknowledgment (QoS 1).
    PubAck = 4,
    /// 5: publish received (QoS 2 part 1).
    PubRec = 5,
    /// 6: publish release (QoS 2 part 2).
    PubRel = 6,
    /// 7: publish complete (QoS 2 part 3).
    PubComp = 7,
    /// 8: subscribe request.
    Subscribe = 8,
    /// 9: subscribe acknowledgment.
    SubAck = 9,
    /// 10: unsubscribe request.
    Unsubscribe = 10,
    /// 11: unsubscribe acknowledgment.
    UnsubAck = 11,
    /// 12: ping request.
    PingReq = 12,
    /// 13: ping response.
    PingResp = 13,
    /// 14: disconnect notification.
    Disconnect = 14,
    /// 15: authentication exchange (MQTT 5.0 only).
    Auth = 15,
}

impl PacketType {
    /// The type for the high nibble of the first byte; `None` for 0 (reserved).
    pub const fn from_u8(v: u8) -> Option<Self> {
        use PacketType::*;
        Some(match v {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The fixed header flags this type must carry, `None` for PUBLISH (§2.1.3 table 2-2).
    const fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

/// The fixed header: type, flags and remaining length (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The low nibble of the first byte (validated for the type).
    pub flags: u8,
    /// Bytes after the fixed header.
    pub remaining_len: usize,
    /// Bytes of the fixed header itself (2 to 5).
    pub header_len: usize,
}

impl FixedHeader {
    /// The whole packet's length.
    pub const fn total_len(&self) -> usize {
        self.header_len + self.remaining_len
    }

    /// Decodes and checks the fixed header at the front of `buf`.
    ///
    /// Checks the packet type, its flags [MQTT-2.1.3-1] (for PUBLISH: QoS 3 [MQTT-3.3.1-4] and
    /// DUP on QoS 0 [MQTT-3.3.1-2]), the remaining length encoding [MQTT-1.5.5-1] and the
    /// Maximum Packet Size in `options`.
    #[inline]
    ///
    /// [`Status::Progress`] consumes the fixed header ([`FixedHeader::header_len`] bytes).
    pub fn decode(buf: &[u8], options: &DecodeOptions) -> Result<Status<Self>, DecodeError> {
        let Some(&first) = buf.first() else { return Ok(Status::NeedMore { needed: 2 }) };
        let packet_type = PacketType::from_u8(first >> 4).ok_or(DecodeError::ReservedPacketType)?;
        // AUTH does not exist in 3.1.1, where 15 is reserved. A CONNECT tells its own version.
        if packet_type == PacketType::Auth && options.version == Version::V3_1_1 {
            return Err(DecodeError::ReservedPacketType);
        }
        let flags = first & 0x0f;
        match packet_type.required_flags() {
            Some(f) if f != flags => return Err(DecodeError::InvalidFixedHeaderFlags),
            Some(_) => {}
            None => {
                let qos = (flags >> 1) & 0b11;
                if qos == 3 {
                    return Err(DecodeError::InvalidQos); // [MQTT-3.3.1-4]
                }
                if qos == 0 && flags & 0b1000 != 0 {
                    return Err(DecodeError::DupWithQos0); // [MQTT-3.3.1-2]
                }
            }
        }
        let rest = buf.get(1..).unwrap_or_default();
        let Some((remaining, n)) = wire::decode_varint(rest)? else {
            return Ok(Status::NeedMore { needed: 1 });
        };
        let header = FixedHeader {
            packet_type,
            flags,
            remaining_len: remaining as usize,
            header_len: 1 + n,
        };
        let total_len = header.total_len();
        if total_len as u64 > u64::from(options.max_packet_size) {
            // [MQTT-3.1.2-24] / [MQTT-3.2.2-15]: larger than announced is a Packet Too Large.
            return Err(DecodeError::PacketTooLarge);
        }
        Ok(Status::Progress { consumed: header.header_len, event: header })
    }
}

/// Any control packet; each borrows the buffer it was decoded from (or the caller's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Packet<'a> {
    /// CONNECT.
    Connect(Connect<'a>),
    /// CONNACK.
    ConnAck(ConnAck<'a>),
    /// PUBLISH.
    Publish(Publish<'a>),
    /// PUBACK.
    PubAck(Ack<'a>),
    /// PUBREC.
    PubRec(Ack<'a>),
    /// PUBREL.
    PubRel(Ack<'a>),
    /// PUBCOMP.
    PubComp(Ack<'a>),
    /// SUBSCRIBE.
    Subscribe(Subscribe<'a>),
    /// SUBACK.
    SubAck(SubAck<'a>),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe<'a>),
    /// UNSUBACK.
    UnsubAck(UnsubAck<'a>),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect<'a>),
    /// AUTH (MQTT 5.0 only).
    Auth(Auth<'a>),
}

/// Decodes one packet from the front of `buf`; see the [module docs](self).
///
/// Returns the packet and the number of bytes it took ([`Status::Progress`]), or how many more
/// bytes it needs ([`Status::NeedMore`]).
#[inline]
pub fn decode<'a>(
    buf: &'a [u8],
    options: &DecodeOptions,
) -> Result<Status<Packet<'a>>, DecodeError> {
    let (header, _) = match FixedHeader::decode(buf, options)?.into_progress() {
        Ok(header) => header,
        Err(waiting) => return Ok(waiting),
    };
    let total = header.total_len();
    let Some(body) = buf.get(header.header_len..total) else {
        return Ok(Status::NeedMore { needed: total - buf.len() });
    };
    let packet = Packet::decode_body(&header, body, options.version)?;
    Ok(Status::Progress { consumed: total, event: packet })
}

impl<'a> Packet<'a> {
    /// Same as [`decode`].
    pub fn decode(
        buf: &'a [u8],
        options: &DecodeOptions,
    ) -> Result<Status<Packet<'a>>, DecodeError> {
        decode(buf, options)
    }

    /// Decodes the body (the `remaining_len` bytes after the fixed header) of a packet whose
    /// fixed header was already decoded with [`FixedHeader::decode`].
    #[inline]
    pub fn decode_body(
        header: &FixedHeader,
        body: &'a [u8],
        version: Version,
    ) -> Result<Packet<'a>, DecodeError> {
        check_body_len(header, body)?;
        let mut r = Reader::new(body);
        let ty = header.packet_type;
        let packet = match ty {
            PacketType::Connect => Packet::Connect(Connect::read(&mut r)?),
            PacketType::ConnAck => Packet::ConnAck(ConnAck::read(&mut r, version)?),
            PacketType::Publish => Packet::Publish(Publish::read(header.flags, &mut r, version)?),
            PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
                // One read for the four acknowledgements; only the variant differs.
                let a = Ack::read(&mut r, version, ty)?;
                match ty {
                    PacketType::PubAck => Packet::PubAck(a),
                    PacketType::PubRec => Packet::PubRec(a),
                    PacketType::PubRel => Packet::PubRel(a),
                    _ => Packet::PubComp(a),
                }
            }
            PacketType::Subscribe => Packet::Subscribe(Subscribe::read(&mut r, version)?),
            PacketType::SubAck => Packet::SubAck(SubAck::read(&mut r, version)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::read(&mut r, version)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::read(&mut r, version)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(Disconnect::read(&mut r, version)?),
            PacketType::Auth => Packet::Auth(Auth::read(&mut r, version)?),
        };
        // Content shorter than the remaining length [MQTT-2.1.4].
        if !r.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok(packet)
    }

    /// The packet's type.
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// The first byte: type and flags. Not for PUBLISH, the one type with flags of its own,
    /// which [`Publish::encode`] writes.
    fn first_byte(&self) -> u8 {
        let ty = self.packet_type();
        (ty as u8) << 4 | ty.required_flags().unwrap_or(0)
    }

    /// Validates the packet for `version` and returns its body length.
    fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        match self {
            Packet::Connect(p) => p.body_len(),
            Packet::ConnAck(p) => p.body_len(version),
            Packet::Publish(p) => p.body_len(version, p.payload.len()),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.body_len(version, self.packet_type())
            }
            Packet::Subscribe(p) => p.body_len(version),
            Packet::SubAck(p) => p.body_len(version),
            Packet::Unsubscribe(p) => p.body_len(version),
            Packet::UnsubAck(p) => p.body_len(version),
            Packet::PingReq | Packet::PingResp => Ok(0),
            Packet::Disconnect(p) => p.body_len(version),
            Packet::Auth(p) => p.body_len(version),
        }
    }

    fn write_body(&self, version: Version, w: &mut Writer<'_>) {
        match self {
            Packet::Connect(p) => p.write(w),
            Packet::ConnAck(p) => p.write(version, w),
            Packet::Publish(p) => {
                p.write_head(version, w);
                w.bytes(p.payload);
            }
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.write(version, w)
            }
            Packet::Subscribe(p) => p.write(version, w),
            Packet::SubAck(p) => p.write(version, w),
            Packet::Unsubscribe(p) => p.write(version, w),
            Packet::UnsubAck(p) => p.write(version, w),
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(p) => p.write(version, w),
            Packet::Auth(p) => p.write(w),
        }
    }

    /// Exact encoded size for `version`, after validating the packet.
    ///
    /// CONNECT is encoded as its own [`Connect::version`]; `version` is ignored for it.
    pub fn encoded_len(&self, version: Version) -> Result<usize, EncodeError> {
        total_len(self.body_len(version)?)
    }

    /// Encodes the packet into `buf` and returns the number of bytes written.
    ///
    /// On error nothing was written. CONNECT is encoded as its own [`Connect::version`].
    #[inline]
    pub fn encode(&self, version: Version, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if let Packet::Publish(p) = self {
            // The hot path, without the per-packet-type dispatch below.
            return p.encode(version, buf);
        }
        // CONNECT's body ignores `version`: it is written as its own.
        encode_parts(self.first_byte(), self.body_len(version)?, buf, |w| {
            self.write_body(version, w)
        })
    }
}

/// Writes a packet of `body` bytes: first byte, remaining length, then `write` for the body.
/// Nothing is written when `buf` is too small.
#[inline]
fn encode_parts(
    first: u8,
    body: usize,
    buf: &mut [u8],
    write: impl FnOnce(&mut Writer<'_>),
) -> Result<usize, EncodeError> {
    let (mut w, total) = start_packet(first, body, buf, 0)?;
    write(&mut w);
    debug_assert_eq!(w.pos(), total);
    Ok(total)
}

/// Checks the size of a packet with a `body`-byte body, `tail` bytes of which the caller sends
/// later (a streamed payload), and writes its fixed header into `buf`. Returns the writer
/// positioned after the fixed header and the bytes it will hold; nothing is written on error.
/// Out of line: one copy for every packet type's encoder.
#[inline(never)]
pub(crate) fn start_packet(
    first: u8,
    body: usize,
    buf: &mut [u8],
    tail: usize,
) -> Result<(Writer<'_>, usize), EncodeError> {
    let total = total_len(body)? - tail;
    let Some(out) = buf.get_mut(..total) else {
        return Err(EncodeError::BufferTooSmall { required: total });
    };
    let mut w = Writer::new(out);
    w.u8(first);
    w.varint(body);
    Ok((w, total))
}

/// One packet type's encoder, for callers that know the type statically (the client): calling
/// it links that type's encoder alone, where [`Packet::encode`] links every type's. Same
/// validation and output as [`Packet::encode`] / [`Packet::encoded_len`] of the same packet.
pub(crate) trait Encode {
    /// The first byte: type and flags.
    fn first(&self) -> u8;
    /// Validates for `version` and returns the body length.
    fn body(&self, version: Version) -> Result<usize, EncodeError>;
    /// Writes the body (after `body` succeeded).
    fn write_to(&self, version: Version, w: &mut Writer<'_>);

    /// Exact encoded size, as [`Packet::encoded_len`].
    fn len_as(&self, version: Version) -> Result<usize, EncodeError> {
        total_len(self.body(version)?)
    }

    /// Encodes into `buf`, as [`Packet::encode`].
    fn encode_as(&self, version: Version, buf: &mut [u8]) -> Result<usize, EncodeError> {
        encode_parts(self.first(), self.body(version)?, buf, |w| self.write_to(version, w))
    }
}

/// CONNECT is encoded as its own [`Connect::version`]; `version` is ignored.
impl Encode for Connect<'_> {
    fn first(&self) -> u8 {
        (PacketType::Connect as u8) << 4
    }
    fn body(&self, _: Version) -> Result<usize, EncodeError> {
        self.body_len()
    }
    fn write_to(&self, _: Version, w: &mut Writer<'_>) {
        self.write(w)
    }
}

impl Encode for Publish<'_> {
    fn first(&self) -> u8 {
        (PacketType::Publish as u8) << 4 | self.flags()
    }
    fn body(&self, version: Version) -> Result<usize, EncodeError> {
        self.body_len(version, self.payload.len())
    }
    fn write_to(&self, version: Version, w: &mut Writer<'_>) {
        self.write_head(version, w);
        w.bytes(self.payload);
    }
    fn encode_as(&self, version: Version, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.encode(version, buf)
    }
}

/// Writes PINGREQ, or PUBACK / PUBREC / PUBREL / PUBCOMP without properties, the packets a
/// session owes most, straight into `out`: the same bytes as the general encoders (tested), none
/// of their code on a device. The reason code is left out when it is Success, and always in 3.1.1
/// (§3.4.2.1); `code` is one the packet type allows. `packet_id` is not used for PINGREQ.
pub(crate) fn encode_short(
    ty: PacketType,
    packet_id: PacketId,
    code: ReasonCode,
    version: Version,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let n = match ty {
        PacketType::PingReq => 2,
        _ if version == Version::V5 && code != ReasonCode::Success => 5,
        _ => 4,
    };
    let first = (ty as u8) << 4 | ty.required_flags().unwrap_or(0);
    let [hi, lo] = packet_id.get().to_be_bytes();
    // The remaining length is what follows the two bytes of the fixed header.
    let bytes = [first, n as u8 - 2, hi, lo, code.code()];
    let (Some(dst), Some(src)) = (out.get_mut(..n), bytes.get(..n)) else {
        return Err(EncodeError::BufferTooSmall { required: n });
    };
    dst.copy_from_slice(src);
    Ok(n)
}

macro_rules! encode_by_type {
    ($($ty:ident => $pt:ident),*) => {$(
        impl Encode for $ty<'_> {
            fn first(&self) -> u8 {
                (PacketType::$pt as u8) << 4 | PacketType::$pt.required_flags().unwrap_or(0)
            }
            fn body(&self, version: Version) -> Result<usize, EncodeError> {
                self.body_len(version)
            }
            fn write_to(&self, version: Version, w: &mut Writer<'_>) {
                self.write(version, w)
            }
        }
    )*};
}
encode_by_type!(
    Subscribe => Subscribe,
    Unsubscribe => Unsubscribe,
    SubscribeSlice => Subscribe,
    UnsubscribeSlice => Unsubscribe,
    Disconnect => Disconnect
);

impl Encode for Auth<'_> {
    fn first(&self) -> u8 {
        (PacketType::Auth as u8) << 4
    }
    fn body(&self, version: Version) -> Result<usize, EncodeError> {
        self.body_len(version)
    }
    fn write_to(&self, _: Version, w: &mut Writer<'_>) {
        self.write(w)
    }
}

/// A packet a server may send to a client, other than PUBLISH (which the client reads with
/// [`read_publish`] from the decoded fixed header, whole or streamed). Smaller than [`Packet`]:
/// the client dispatches on it without the client-only variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerPacket<'a> {
    /// CONNACK.
    ConnAck(ConnAck<'a>),
    /// PUBACK, PUBREC, PUBREL or PUBCOMP (the type given).
    Ack(PacketType, Ack<'a>),
    /// SUBACK.
    SubAck(SubAck<'a>),
    /// UNSUBACK.
    UnsubAck(UnsubAck<'a>),
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect<'a>),
    /// AUTH.
    Auth(Auth<'a>),
}

/// Decodes the body of a packet a server may send to a client (CONNACK, PUBACK, PUBREC,
/// PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP, DISCONNECT, AUTH) as [`Packet::decode_body`]
/// does; `Ok(None)` for PUBLISH (see [`read_publish`]) and for a type only a client sends
/// (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ), whose body is not read (only its length checked).
/// Links only these decoders.
#[inline]
pub(crate) fn decode_server_packet<'a>(
    header: &FixedHeader,
    body: &'a [u8],
    version: Version,
) -> Result<Option<ServerPacket<'a>>, DecodeError> {
    let ty = header.packet_type;
    check_body_len(header, body)?;
    let mut r = Reader::new(body);
    let r = &mut r;
    let packet = match ty {
        PacketType::ConnAck => ServerPacket::ConnAck(ConnAck::read(r, version)?),
        PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
            ServerPacket::Ack(ty, Ack::read(r, version, ty)?)
        }
        PacketType::SubAck => ServerPacket::SubAck(SubAck::read(r, version)?),
        PacketType::UnsubAck => ServerPacket::UnsubAck(UnsubAck::read(r, version)?),
        PacketType::Disconnect => ServerPacket::Disconnect(Disconnect::read(r, version)?),
        PacketType::Auth => ServerPacket::Auth(Auth::read(r, version)?),
        PacketType::PingResp => ServerPacket::PingResp,
        PacketType::Connect
        | PacketType::Publish
        | PacketType::Subscribe
        | PacketType::Unsubscribe
        | PacketType::PingReq => return Ok(None),
    };
    // Content shorter than the remaining length [MQTT-2.1.4].
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(Some(packet))
}

/// Reads the head of a PUBLISH whose fixed header `header` was already decoded, from `body`
/// (the bytes after the fixed header, possibly cut short of `header.remaining_len`): the
/// publish (payload empty) and the body bytes the head took, or how many more bytes the head
/// needs. The same checks as [`Publish::decode_head`], without decoding the fixed header again.
pub(crate) fn read_publish<'a>(
    header: &FixedHeader,
    body: &'a [u8],
    version: Version,
) -> Result<Status<Publish<'a>>, DecodeError> {
    let body = body.get(..header.remaining_len).unwrap_or(body);
    publish::read_head(header.flags, body, header.remaining_len, version)
}

/// Checks that `body` is exactly the `remaining_len` bytes after `header`.
fn check_body_len(header: &FixedHeader, body: &[u8]) -> Result<(), DecodeError> {
    if body.len() != header.remaining_len {
        return Err(if body.len() < header.remaining_len {
            DecodeError::Truncated
        } else {
            DecodeError::TrailingBytes
        });
    }
    Ok(())
}

/// Fixed header plus body, checking the remaining length limit [MQTT-1.5.5].
pub(crate) fn total_len(body: usize) -> Result<usize, EncodeError> {
    if body > wire::MAX_REMAINING_LEN {
        return Err(EncodeError::PacketTooLarge);
    }
    Ok(1 + wire::varint_len(body) + body)
}

/// Reads a packet identifier that must not be 0 [MQTT-2.2.1-3].
pub(crate) fn read_packet_id(r: &mut Reader<'_>) -> Result<PacketId, DecodeError> {
    PacketId::new(r.u16()?).ok_or(DecodeError::ZeroPacketId)
}

macro_rules! from_packet {
    ($($variant:ident($ty:ident)),*) => {$(
        impl<'a> From<$ty<'a>> for Packet<'a> {
            fn from(p: $ty<'a>) -> Self {
                Packet::$variant(p)
            }
        }
    )*};
}
from_packet!(
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    Disconnect(Disconnect),
    Auth(Auth)
);

#[cfg(test)]
mod tests {
    use super::*;

    const V5: DecodeOptions = DecodeOptions::new(Version::V5);

    #[test]
    fn fixed_header_vectors() {
        // PINGREQ, a PUBLISH with a two-byte remaining length, a SUBSCRIBE.
        let cases: &[(&[u8], PacketType, u8, usize, usize)] = &[
            (&[0xC0, 0x00], PacketType::PingReq, 0, 0, 2),
            (&[0x3D, 0x80, 0x01], PacketType::Publish, 0xD, 128, 3),
            (&[0x82, 0xFF, 0xFF, 0xFF, 0x7F], PacketType::Subscribe, 2, 268_435_455, 5),
        ];
        for &(bytes, ty, flags, remaining_len, header_len) in cases {
            let h = FixedHeader { packet_type: ty, flags, remaining_len, header_len };
            let whole = Ok(Status::Progress { consumed: header_len, event: h });
            assert_eq!(FixedHeader::decode(bytes, &V5), whole);
            for n in 0..bytes.len() {
                match FixedHeader::decode(&bytes[..n], &V5) {
                    Ok(Status::NeedMore { needed }) => assert!(needed >= 1),
                    other => panic!("{other:?}"),
                }
            }
            let mut long = [0xEEu8; 8];
            long[..bytes.len()].copy_from_slice(bytes);
            assert_eq!(FixedHeader::decode(&long, &V5), whole);
        }
    }

    /// The reason code a receiver sends for `bytes`.
    fn code_for(bytes: &[u8]) -> ReasonCode {
        decode(bytes, &V5).expect_err("refused").reason_code()
    }

    #[test]
    fn reason_codes_follow_the_clause_that_is_broken() {
        // §2.2.2.2: a property not valid for the packet type (Topic Alias in a SUBSCRIBE) is a
        // Malformed Packet, as an unknown identifier is.
        let sub_with_alias = [0x82, 0x0A, 0, 1, 3, 0x23, 0, 1, 0, 1, b'a', 0];
        let e = DecodeError::PropertyNotAllowed(crate::mqtt::properties::PropertyId::TopicAlias);
        assert_eq!(decode(&sub_with_alias, &V5), Err(e));
        assert_eq!(code_for(&sub_with_alias), ReasonCode::MalformedPacket);
        // §3.8.3.1: Maximum QoS 3 is a Protocol Error in 5.0 (reserved bits: malformed).
        let qos3 = [0x82, 0x07, 0, 1, 0, 0, 1, b'a', 3];
        assert_eq!(decode(&qos3, &V5), Err(DecodeError::InvalidSubscriptionQos));
        assert_eq!(code_for(&qos3), ReasonCode::ProtocolError);
        assert_eq!(code_for(&[0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0xC0]), ReasonCode::MalformedPacket);
        // A wildcard in the Topic Name and in the Response Topic: the same code; U+0000 in
        // either: malformed (§1.5.4).
        let topic = |t: u8| [0x30, 0x05, 0, 2, b'a', t, 0];
        let response = |t: u8| [0x30, 0x09, 0, 1, b'a', 5, 0x08, 0, 2, b'a', t];
        assert_eq!(code_for(&topic(b'#')), ReasonCode::ProtocolError);
        assert_eq!(code_for(&response(b'#')), ReasonCode::ProtocolError);
        assert_eq!(code_for(&topic(b'+')), code_for(&response(b'+')));
        assert_eq!(code_for(&topic(0)), ReasonCode::MalformedPacket);
        assert_eq!(code_for(&response(0)), ReasonCode::MalformedPacket);
    }

    #[test]
    fn fixed_header_errors() {
        assert_eq!(FixedHeader::decode(&[0x00], &V5), Err(DecodeError::ReservedPacketType));
        assert_eq!(
            FixedHeader::decode(&[0xF0, 0x00], &DecodeOptions::new(Version::V3_1_1)),
            Err(DecodeError::ReservedPacketType)
        );
        assert_eq!(FixedHeader::decode(&[0x63], &V5), Err(DecodeError::InvalidFixedHeaderFlags));
        assert_eq!(FixedHeader::decode(&[0x36], &V5), Err(DecodeError::InvalidQos));
        assert_eq!(FixedHeader::decode(&[0x39], &V5), Err(DecodeError::DupWithQos0));
        assert_eq!(
            FixedHeader::decode(&[0x30, 0x0A], &V5.with_max_packet_size(11)),
            Err(DecodeError::PacketTooLarge)
        );
    }

    fn header_of(bytes: &[u8]) -> FixedHeader {
        match FixedHeader::decode(bytes, &V5) {
            Ok(Status::Progress { event: h, .. }) => h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_packet_decoder_matches_decode_body() {
        let cases: &[&[u8]] = &[
            &[0x20, 0x03, 0x01, 0x00, 0x00],       // CONNACK
            &[0x30, 0x04, 0x00, 0x01, b't', 0x00], // PUBLISH
            &[0x40, 0x02, 0x00, 0x07],             // PUBACK
            &[0x50, 0x03, 0x00, 0x07, 0x10],       // PUBREC
            &[0x62, 0x02, 0x00, 0x07],             // PUBREL
            &[0x70, 0x02, 0x00, 0x07],             // PUBCOMP
            &[0x90, 0x04, 0x00, 0x07, 0x00, 0x01], // SUBACK
            &[0xB0, 0x04, 0x00, 0x07, 0x00, 0x00], // UNSUBACK
            &[0xD0, 0x00],                         // PINGRESP
            &[0xE0, 0x01, 0x8E],                   // DISCONNECT
            &[0xF0, 0x00],                         // AUTH
            &[0x40, 0x03, 0x00, 0x07, 0x10],       // PUBACK, bad reason
            &[0x90, 0x03, 0x00, 0x07, 0x00],       // SUBACK without codes
        ];
        fn packet(p: ServerPacket<'_>) -> Packet<'_> {
            match p {
                ServerPacket::ConnAck(c) => Packet::ConnAck(c),
                ServerPacket::Ack(PacketType::PubAck, a) => Packet::PubAck(a),
                ServerPacket::Ack(PacketType::PubRec, a) => Packet::PubRec(a),
                ServerPacket::Ack(PacketType::PubRel, a) => Packet::PubRel(a),
                ServerPacket::Ack(_, a) => Packet::PubComp(a),
                ServerPacket::SubAck(a) => Packet::SubAck(a),
                ServerPacket::UnsubAck(a) => Packet::UnsubAck(a),
                ServerPacket::PingResp => Packet::PingResp,
                ServerPacket::Disconnect(d) => Packet::Disconnect(d),
                ServerPacket::Auth(a) => Packet::Auth(a),
            }
        }
        for &bytes in cases {
            let h = header_of(bytes);
            let body = &bytes[h.header_len..];
            if h.packet_type == PacketType::Publish {
                // Read by `read_publish`, the head alone, whole or cut short.
                assert_eq!(decode_server_packet(&h, body, Version::V5), Ok(None));
                let Ok(Packet::Publish(whole)) = Packet::decode_body(&h, body, Version::V5) else {
                    panic!("{bytes:02x?}")
                };
                let Ok(Status::Progress { consumed: used, event: head }) =
                    read_publish(&h, body, Version::V5)
                else {
                    panic!("{bytes:02x?}")
                };
                assert_eq!(Publish { payload: &body[used..], ..head }, whole);
                assert_eq!(
                    read_publish(&h, &body[..1], Version::V5),
                    Ok(Status::NeedMore { needed: 1 })
                );
                continue;
            }
            assert_eq!(
                decode_server_packet(&h, body, Version::V5).map(|p| p.map(packet)),
                Packet::decode_body(&h, body, Version::V5).map(Some),
                "{bytes:02x?}"
            );
            let short = &body[..body.len() - 1.min(body.len())];
            if short.len() < body.len() {
                assert_eq!(
                    decode_server_packet(&h, short, Version::V5),
                    Err(DecodeError::Truncated)
                );
            }
        }
    }

    #[test]
    fn server_packet_decoder_refuses_client_packets() {
        let cases: &[&[u8]] = &[
            &[0x10, 0x00],             // CONNECT (body not read)
            &[0x82, 0x02, 0x00, 0x01], // SUBSCRIBE without filters
            &[0xA2, 0x02, 0x00, 0x01], // UNSUBSCRIBE without filters
            &[0xC0, 0x00],             // PINGREQ
        ];
        for &bytes in cases {
            let h = header_of(bytes);
            assert_eq!(decode_server_packet(&h, &bytes[h.header_len..], Version::V5), Ok(None));
        }
    }

    #[test]
    fn per_type_encoders_match_packet_encode() {
        let props = [0x1F, 0x00, 0x01, b'r']; // Reason String "r"
        let props = crate::mqtt::properties::Properties::parse(
            &props,
            crate::mqtt::properties::PropertyContext::Disconnect,
        )
        .unwrap();
        let id = PacketId::new(7).unwrap();
        let disconnect =
            Disconnect { reason_code: crate::mqtt::ReasonCode::Success, properties: props };
        let filters = [Subscription::new("a/+", crate::mqtt::Qos::AtLeastOnce)];
        let subscribe = Subscribe::new(id, &filters);
        let unsubscribe = Unsubscribe::new(id, &["a/+"]);
        let publish = Publish::new("t", b"x");
        let connect = Connect::new(Version::V5, "c");
        let auth = Auth {
            reason_code: crate::mqtt::ReasonCode::ContinueAuthentication,
            properties: Default::default(),
        };
        fn check<E: Encode>(e: &E, p: Packet<'_>) {
            for v in [Version::V5, Version::V3_1_1] {
                let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
                assert_eq!(e.encode_as(v, &mut a), p.encode(v, &mut b), "{p:?}");
                assert_eq!(a, b);
                assert_eq!(e.len_as(v), p.encoded_len(v));
                assert_eq!(e.encode_as(v, &mut a[..1]), p.encode(v, &mut b[..1]));
            }
        }
        // The short encoder writes what the general one writes.
        for v in [Version::V5, Version::V3_1_1] {
            let one = PacketId::new(1).unwrap();
            let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
            let n = encode_short(PacketType::PingReq, one, ReasonCode::Success, v, &mut a);
            assert_eq!(n, Packet::PingReq.encode(v, &mut b));
            assert_eq!(a, b);
            // Success, and an error code each type allows.
            let failures = [
                (PacketType::PubAck, ReasonCode::UnspecifiedError),
                (PacketType::PubRec, ReasonCode::QuotaExceeded),
                (PacketType::PubRel, ReasonCode::PacketIdentifierNotFound),
                (PacketType::PubComp, ReasonCode::PacketIdentifierNotFound),
            ];
            for (ty, failure) in failures {
                for code in [ReasonCode::Success, failure] {
                    // 3.1.1 has no reason codes: the general encoder gets Success there.
                    let reason_code = if v == Version::V5 { code } else { ReasonCode::Success };
                    let ack = Ack { packet_id: id, reason_code, properties: Default::default() };
                    let p = match ty {
                        PacketType::PubAck => Packet::PubAck(ack),
                        PacketType::PubRec => Packet::PubRec(ack),
                        PacketType::PubRel => Packet::PubRel(ack),
                        _ => Packet::PubComp(ack),
                    };
                    let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
                    let n = encode_short(ty, id, code, v, &mut a);
                    assert_eq!(n, p.encode(v, &mut b), "{p:?} {code:?} {v:?}");
                    assert_eq!(a, b, "{p:?} {code:?} {v:?}");
                    let required = n.unwrap();
                    let err = Err(EncodeError::BufferTooSmall { required });
                    assert_eq!(encode_short(ty, id, code, v, &mut a[..required - 1]), err);
                }
            }
        }
        check(&disconnect, disconnect.into());
        check(&subscribe, subscribe.into());
        check(&unsubscribe, unsubscribe.into());
        let none = crate::mqtt::properties::Properties::default();
        let slice = SubscribeSlice { packet_id: id, properties: none, items: &filters };
        check(&slice, subscribe.into());
        // Reason String is not allowed in SUBSCRIBE: the same error both ways.
        check(
            &SubscribeSlice { properties: props, ..slice },
            Subscribe { properties: props, ..subscribe }.into(),
        );
        check(&SubscribeSlice { items: &[], ..slice }, Subscribe::new(id, &[]).into());
        let bad = [Subscription::new("a/#/b", crate::mqtt::Qos::AtMostOnce)];
        check(&SubscribeSlice { items: &bad, ..slice }, Subscribe::new(id, &bad).into());
        let slice = UnsubscribeSlice { packet_id: id, properties: none, items: &["a/+", "b"] };
        check(&slice, Unsubscribe::new(id, &["a/+", "b"]).into());
        check(&UnsubscribeSlice { items: &[], ..slice }, Unsubscribe::new(id, &[]).into());
        check(&publish, publish.into());
        check(&connect, connect.into());
        check(&auth, auth.into());
    }

    #[test]
    fn encode_writes_nothing_when_too_small() {
        let p = Packet::PingReq;
        let mut out = [0x55u8; 1];
        assert_eq!(
            p.encode(Version::V5, &mut out),
            Err(EncodeError::BufferTooSmall { required: 2 })
        );
        assert_eq!(out, [0x55]);
        let mut out = [0u8; 2];
        assert_eq!(p.encode(Version::V5, &mut out), Ok(2));
        assert_eq!(out, [0xC0, 0x00]);
    }
}
