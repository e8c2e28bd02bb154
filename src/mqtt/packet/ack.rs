//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4 - §3.7): one layout, four packet types.

use super::super::PacketId;
use super::super::Version;
use super::super::error::{DecodeError, EncodeError};
use super::super::properties::{Properties, PropertyContext};
use super::super::reason::{ReasonCode, ReasonContext};
use super::super::wire::{Reader, Writer};
use super::connect::{check_reason, props_len, read_reason};
use super::{PacketType, read_packet_id};

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP; [`super::Packet`] tells which.
///
/// In MQTT 3.1.1 only the packet identifier exists: the reason code is always
/// [`ReasonCode::Success`] and the properties are empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ack<'a> {
    /// The packet identifier of the PUBLISH (or PUBREL) acknowledged.
    pub packet_id: PacketId,
    /// The reason code (MQTT 5.0).
    pub reason_code: ReasonCode,
    /// Properties (MQTT 5.0).
    pub properties: Properties<'a>,
}

fn contexts(ty: PacketType) -> (ReasonContext, PropertyContext) {
    match ty {
        PacketType::PubAck => (ReasonContext::PubAck, PropertyContext::PubAck),
        PacketType::PubRec => (ReasonContext::PubRec, PropertyContext::PubRec),
        PacketType::PubRel => (ReasonContext::PubRel, PropertyContext::PubRel),
        _ => (ReasonContext::PubComp, PropertyContext::PubComp),
    }
}

impl<'a> Ack<'a> {
    /// A successful acknowledgment of `packet_id` without properties.
    pub fn new(packet_id: PacketId) -> Self {
        Self { packet_id, reason_code: ReasonCode::Success, properties: Properties::default() }
    }

    pub(super) fn read(
        r: &mut Reader<'a>,
        version: Version,
        ty: PacketType,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let (reason_ctx, prop_ctx) = contexts(ty);
        // 5.0 §3.4.2.1: reason code and properties may be omitted (Success, none).
        let (reason_code, properties) = if version == Version::V5 && !r.is_empty() {
            let code = read_reason(r, reason_ctx)?;
            // §3.4.2.2: no Property Length when the remaining length is less than 4.
            let props =
                if r.is_empty() { Properties::default() } else { Properties::read(r, prop_ctx)? };
            (code, props)
        } else {
            (ReasonCode::Success, Properties::default())
        };
        Ok(Ack { packet_id, reason_code, properties })
    }

    pub(super) fn body_len(&self, version: Version, ty: PacketType) -> Result<usize, EncodeError> {
        let (reason_ctx, prop_ctx) = contexts(ty);
        match version {
            Version::V3_1_1 => {
                if self.reason_code != ReasonCode::Success {
                    return Err(EncodeError::NotInVersion);
                }
                props_len(&self.properties, false, prop_ctx)?;
                Ok(2)
            }
            Version::V5 => {
                check_reason(self.reason_code, reason_ctx)?;
                if self.properties.is_empty() {
                    // The short forms: 2 bytes for Success, 3 with a reason code.
                    Ok(if self.reason_code == ReasonCode::Success { 2 } else { 3 })
                } else {
                    Ok(3 + props_len(&self.properties, true, prop_ctx)?)
                }
            }
        }
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        w.u16(self.packet_id.get());
        if version == Version::V5 {
            if self.properties.is_empty() {
                if self.reason_code != ReasonCode::Success {
                    w.u8(self.reason_code.code());
                }
            } else {
                w.u8(self.reason_code.code());
                self.properties.write(w);
            }
        }
    }
}
