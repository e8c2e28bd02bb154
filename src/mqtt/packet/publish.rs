//! PUBLISH (§3.3), whole or streamed (head first, payload in chunks).

use super::super::error::{DecodeError, EncodeError};
use super::super::properties::{Properties, PropertyContext, PropertyId};
use super::super::topic;
use super::super::wire::{self, Reader, Writer};
use super::super::{PacketId, Qos, Version};
use super::connect::props_len;
use super::{DecodeOptions, Encode, FixedHeader, PacketType, start_packet, total_len};
use crate::machine::Status;

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

/// QoS with the packet identifier it requires (none for QoS 0) [MQTT-2.2.1-2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QosPid {
    /// QoS 0: no packet identifier.
    AtMostOnce,
    /// QoS 1.
    AtLeastOnce(PacketId),
    /// QoS 2.
    ExactlyOnce(PacketId),
}

impl QosPid {
    /// The QoS.
    pub const fn qos(self) -> Qos {
        match self {
            QosPid::AtMostOnce => Qos::AtMostOnce,
            QosPid::AtLeastOnce(_) => Qos::AtLeastOnce,
            QosPid::ExactlyOnce(_) => Qos::ExactlyOnce,
        }
    }

    /// The packet identifier (QoS 1 and 2).
    pub const fn packet_id(self) -> Option<PacketId> {
        match self {
            QosPid::AtMostOnce => None,
            QosPid::AtLeastOnce(id) | QosPid::ExactlyOnce(id) => Some(id),
        }
    }
}

/// PUBLISH: an application message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Publish<'a> {
    /// DUP: a redelivery (never with QoS 0 [MQTT-3.3.1-2]).
    pub dup: bool,
    /// QoS and packet identifier.
    pub qos_pid: QosPid,
    /// RETAIN.
    pub retain: bool,
    /// Topic name; in MQTT 5.0 empty when a Topic Alias property stands for it.
    pub topic: &'a str,
    /// PUBLISH properties (MQTT 5.0; empty in 3.1.1).
    pub properties: Properties<'a>,
    /// The payload (empty in the `publish` of a [`PublishHead`]).
    pub payload: &'a [u8],
}

/// The head of a PUBLISH decoded without its payload (see [`Publish::decode_head`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PublishHead<'a> {
    /// Everything but the payload (`payload` is empty).
    pub publish: Publish<'a>,
    /// Bytes from the start of the packet to the first payload byte (fixed header included).
    pub head_len: usize,
    /// Payload length: the packet ends `payload_len` bytes after `head_len`.
    pub payload_len: usize,
}

impl<'a> Publish<'a> {
    /// A QoS 0, not retained PUBLISH without properties.
    pub fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Self {
            dup: false,
            qos_pid: QosPid::AtMostOnce,
            retain: false,
            topic,
            properties: Properties::default(),
            payload,
        }
    }

    pub(super) fn flags(&self) -> u8 {
        let mut f = self.qos_pid.qos().as_u8() << 1;
        if self.dup {
            f |= DUP;
        }
        if self.retain {
            f |= RETAIN;
        }
        f
    }

    #[inline]
    pub(super) fn read(
        flags: u8,
        r: &mut Reader<'a>,
        version: Version,
    ) -> Result<Self, DecodeError> {
        let body = r.rest();
        match read_head(flags, body, body.len(), version)? {
            Status::Progress { consumed, event: mut publish } => {
                publish.payload = body.get(consumed..).unwrap_or_default();
                Ok(publish)
            }
            // The whole body is there, so the head cannot be partial.
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Decodes the head of a PUBLISH (fixed header, topic, packet identifier, properties) from
    /// `buf`, which starts at the packet's first byte and may end anywhere after the head: the
    /// payload need not be there. [`Status::NeedMore`] if the head is not complete yet;
    /// [`Status::Progress`] consumes the head ([`PublishHead::head_len`] bytes).
    ///
    /// A packet that is not a PUBLISH is [`DecodeError::UnexpectedPacketType`]. Maximum Packet
    /// Size and fixed header rules are checked as in [`super::decode`].
    pub fn decode_head(
        buf: &'a [u8],
        options: &DecodeOptions,
    ) -> Result<Status<PublishHead<'a>>, DecodeError> {
        let (header, _) = match FixedHeader::decode(buf, options)?.into_progress() {
            Ok(header) => header,
            Err(waiting) => return Ok(waiting),
        };
        if header.packet_type != PacketType::Publish {
            return Err(DecodeError::UnexpectedPacketType);
        }
        let body = buf.get(header.header_len..).unwrap_or_default();
        let body = body.get(..header.remaining_len).unwrap_or(body);
        match read_head(header.flags, body, header.remaining_len, options.version)? {
            Status::Progress { consumed, event: publish } => Ok(Status::Progress {
                consumed: header.header_len + consumed,
                event: PublishHead {
                    publish,
                    head_len: header.header_len + consumed,
                    payload_len: header.remaining_len - consumed,
                },
            }),
            Status::NeedMore { needed } => Ok(Status::NeedMore { needed }),
            _ => Ok(Status::NeedMore { needed: 1 }),
        }
    }

    /// Validates the PUBLISH for `version` and returns the body length with a payload of
    /// `payload_len` bytes.
    pub(super) fn body_len(
        &self,
        version: Version,
        payload_len: usize,
    ) -> Result<usize, EncodeError> {
        let v5 = version == Version::V5;
        if self.dup && self.qos_pid == QosPid::AtMostOnce {
            // [MQTT-3.3.1-2] DUP MUST be 0 for QoS 0; caller misuse.
            return Err(EncodeError::DupWithQos0);
        }
        if self.topic.is_empty() && v5 && self.properties.contains(PropertyId::TopicAlias) {
            // A Topic Alias stands for the topic (§3.3.2.3.4).
        } else {
            topic::validate_topic_name(self.topic).map_err(|_| EncodeError::InvalidTopicName)?;
        }
        let mut len = wire::prefixed_len(self.topic.len())?;
        if self.qos_pid.packet_id().is_some() {
            len += 2;
        }
        len += props_len(&self.properties, v5, PropertyContext::Publish)?;
        len.checked_add(payload_len).ok_or(EncodeError::PacketTooLarge)
    }

    pub(super) fn write_head(&self, version: Version, w: &mut Writer<'_>) {
        w.string(self.topic);
        if let Some(id) = self.qos_pid.packet_id() {
            w.u16(id.get());
        }
        if version == Version::V5 {
            self.properties.write(w);
        }
    }

    /// Exact size of the head [`Publish::encode_head`] writes for a payload of `payload_len`
    /// bytes (`self.payload` is ignored).
    pub fn head_len(&self, version: Version, payload_len: usize) -> Result<usize, EncodeError> {
        let body = self.body_len(version, payload_len)?;
        Ok(total_len(body)? - payload_len)
    }

    /// Encodes the whole PUBLISH (as [`super::Packet::encode`] does).
    #[inline]
    pub(super) fn encode(&self, version: Version, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let body = self.body_len(version, self.payload.len())?;
        let total = total_len(body)?;
        let Some(out) = buf.get_mut(..total) else {
            return Err(EncodeError::BufferTooSmall { required: total });
        };
        let mut w = Writer::new(out);
        w.u8(Encode::first(self));
        w.varint(body);
        Encode::write_to(self, version, &mut w);
        debug_assert_eq!(w.pos(), total);
        Ok(total)
    }

    /// Encodes the fixed header, topic, packet identifier and properties of a PUBLISH whose
    /// payload is `payload_len` bytes long, for a sender that streams the payload after it.
    /// `self.payload` is ignored. Returns the bytes written; nothing is written on error.
    pub fn encode_head(
        &self,
        version: Version,
        payload_len: usize,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let body = self.body_len(version, payload_len)?;
        // `body` counts the payload, so the total is at least `payload_len`.
        let (mut w, head) = start_packet(Encode::first(self), body, buf, payload_len)?;
        self.write_head(version, &mut w);
        debug_assert_eq!(w.pos(), head);
        Ok(head)
    }
}

/// A two-byte integer from a two-byte field (the callers checked it is there; no panic path).
fn be16(b: Option<&[u8]>) -> u16 {
    match b {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

/// Reads the PUBLISH head from `body`, which may be cut short of `remaining_len`. Returns the
/// head with the number of body bytes it took, or how many more bytes are needed.
#[inline]
pub(super) fn read_head<'a>(
    flags: u8,
    body: &'a [u8],
    remaining_len: usize,
    version: Version,
) -> Result<Status<Publish<'a>>, DecodeError> {
    // Needs `end` bytes of body: content past the remaining length is malformed, past the buffer
    // is partial.
    let need = |end: usize| -> Result<Option<usize>, DecodeError> {
        if end > remaining_len {
            Err(DecodeError::Truncated)
        } else if end > body.len() {
            Ok(Some(end - body.len()))
        } else {
            Ok(None)
        }
    };
    macro_rules! need {
        ($end:expr) => {
            if let Some(needed) = need($end)? {
                return Ok(Status::NeedMore { needed });
            }
        };
    }
    need!(2);
    let topic_len = usize::from(be16(body.get(..2)));
    let mut pos = 2 + topic_len;
    need!(pos);
    let (topic, chars) = wire::utf8_scan(body.get(2..pos).unwrap_or_default())?;
    let qos = (flags >> 1) & 0b11;
    let qos_pid = match qos {
        0 => QosPid::AtMostOnce,
        _ => {
            need!(pos + 2);
            let id = be16(body.get(pos..pos + 2));
            pos += 2;
            // [MQTT-2.2.1-3] a QoS > 0 PUBLISH has a non-zero packet identifier.
            let id = PacketId::new(id).ok_or(DecodeError::ZeroPacketId)?;
            if qos == 1 { QosPid::AtLeastOnce(id) } else { QosPid::ExactlyOnce(id) }
        }
    };
    let properties = if version == Version::V5 {
        let avail = body.get(pos..remaining_len.min(body.len())).unwrap_or_default();
        let (len, n) = match wire::decode_varint(avail)? {
            Some(v) => v,
            None => {
                need!(pos + avail.len() + 1);
                return Err(DecodeError::Truncated);
            }
        };
        pos += n;
        let end = pos.checked_add(len as usize).ok_or(DecodeError::Truncated)?;
        need!(end);
        let props =
            Properties::parse(body.get(pos..end).unwrap_or_default(), PropertyContext::Publish)?;
        pos = end;
        props
    } else {
        Properties::default()
    };
    if topic.is_empty() {
        // 3.1.1: the topic name is at least one character [MQTT-4.7.3-1]; 5.0: a zero-length
        // topic needs a Topic Alias, else it is a Protocol Error (§3.3.2.1, §3.3.2.3.4).
        if version == Version::V3_1_1 {
            return Err(DecodeError::InvalidTopicName);
        }
        if !properties.contains(PropertyId::TopicAlias) {
            return Err(DecodeError::EmptyTopicWithoutAlias);
        }
    } else if chars & wire::found::WILDCARD != 0 {
        return Err(DecodeError::InvalidTopicName); // [MQTT-3.3.2-2]
    }
    let publish = Publish {
        dup: flags & DUP != 0,
        qos_pid,
        retain: flags & RETAIN != 0,
        topic,
        properties,
        payload: &[],
    };
    Ok(Status::Progress { consumed: pos, event: publish })
}
