//! CONNECT (§3.1) and CONNACK (§3.2).

use super::super::error::{DecodeError, EncodeError};
use super::super::properties::{Properties, PropertyContext};
use super::super::reason::{ReasonCode, ReasonContext};
use super::super::topic;
use super::super::wire::{self, Reader, Writer};
use super::super::{Qos, Version};

const PROTOCOL_NAME: &[u8] = b"MQTT";

mod flag {
    pub const RESERVED: u8 = 0x01;
    pub const CLEAN_START: u8 = 0x02;
    pub const WILL: u8 = 0x04;
    pub const WILL_QOS_SHIFT: u8 = 3;
    pub const WILL_QOS: u8 = 0x18;
    pub const WILL_RETAIN: u8 = 0x20;
    pub const PASSWORD: u8 = 0x40;
    pub const USERNAME: u8 = 0x80;
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Will<'a> {
    /// Will QoS.
    pub qos: Qos,
    /// Will Retain.
    pub retain: bool,
    /// Will properties (MQTT 5.0; empty in 3.1.1).
    pub properties: Properties<'a>,
    /// Will topic (a valid topic name).
    pub topic: &'a str,
    /// Will payload.
    pub payload: &'a [u8],
}

/// CONNECT: the first packet a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Connect<'a> {
    /// The protocol version, from the protocol level byte. Decoding reads it from the packet;
    /// encoding writes this version (whatever version the encode call names).
    pub version: Version,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep Alive in seconds (0: off).
    pub keep_alive: u16,
    /// CONNECT properties (MQTT 5.0; empty in 3.1.1).
    pub properties: Properties<'a>,
    /// Client identifier (may be empty).
    pub client_id: &'a str,
    /// The will message.
    pub will: Option<Will<'a>>,
    /// User Name.
    pub username: Option<&'a str>,
    /// Password.
    pub password: Option<&'a [u8]>,
}

impl<'a> Connect<'a> {
    /// A CONNECT for `version` with `client_id`, clean start, no keep alive and nothing else.
    pub fn new(version: Version, client_id: &'a str) -> Self {
        Self {
            version,
            clean_start: true,
            keep_alive: 0,
            properties: Properties::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }

    pub(super) fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        // [MQTT-3.1.2-1] protocol name "MQTT".
        let name = r.binary()?;
        let level = r.u8()?;
        if name != PROTOCOL_NAME {
            // "MQIsdp" is MQTT 3.1 (level 3): an unsupported version rather than garbage.
            return Err(if name == b"MQIsdp" {
                DecodeError::UnsupportedProtocolVersion
            } else {
                DecodeError::InvalidProtocolName
            });
        }
        // [MQTT-3.1.2-2] protocol level.
        let version = Version::from_level(level).ok_or(DecodeError::UnsupportedProtocolVersion)?;
        let flags = r.u8()?;
        // [MQTT-3.1.2-3] the reserved flag MUST be 0.
        if flags & flag::RESERVED != 0 {
            return Err(DecodeError::ReservedConnectFlag);
        }
        let will_flag = flags & flag::WILL != 0;
        let will_qos = (flags & flag::WILL_QOS) >> flag::WILL_QOS_SHIFT;
        let will_retain = flags & flag::WILL_RETAIN != 0;
        if !will_flag && (will_qos != 0 || will_retain) {
            // Will QoS 0 and Will Retain 0 without a will: 5.0 [MQTT-3.1.2-11], [MQTT-3.1.2-13];
            // 3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-15].
            return Err(DecodeError::InvalidWillFlags);
        }
        // [MQTT-3.1.2-12] Will QoS 3 is malformed.
        let will_qos = Qos::from_u8(will_qos).ok_or(DecodeError::InvalidQos)?;
        let has_username = flags & flag::USERNAME != 0;
        let has_password = flags & flag::PASSWORD != 0;
        if version == Version::V3_1_1 && has_password && !has_username {
            return Err(DecodeError::PasswordWithoutUsername); // [MQTT-3.1.2-22] (3.1.1)
        }
        let keep_alive = r.u16()?;
        let properties = if version == Version::V5 {
            Properties::read(r, PropertyContext::Connect)?
        } else {
            Properties::default()
        };
        // [MQTT-3.1.3-4] the Client Identifier is a UTF-8 string.
        let client_id = r.string()?;
        let will = if will_flag {
            let properties = if version == Version::V5 {
                Properties::read(r, PropertyContext::Will)?
            } else {
                Properties::default()
            };
            let topic = r.string()?;
            // [MQTT-3.1.3-11] the Will Topic is a topic name.
            topic::validate_topic_name(topic).map_err(|_| DecodeError::InvalidTopicName)?;
            let payload = r.binary()?;
            Some(Will { qos: will_qos, retain: will_retain, properties, topic, payload })
        } else {
            None
        };
        let username = if has_username { Some(r.string()?) } else { None };
        let password = if has_password { Some(r.binary()?) } else { None };
        Ok(Connect {
            version,
            clean_start: flags & flag::CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn flags(&self) -> u8 {
        let mut f = 0;
        if self.clean_start {
            f |= flag::CLEAN_START;
        }
        if let Some(w) = &self.will {
            f |= flag::WILL | (w.qos.as_u8() << flag::WILL_QOS_SHIFT);
            if w.retain {
                f |= flag::WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            f |= flag::PASSWORD;
        }
        if self.username.is_some() {
            f |= flag::USERNAME;
        }
        f
    }

    pub(super) fn body_len(&self) -> Result<usize, EncodeError> {
        let v5 = self.version == Version::V5;
        // Protocol name, level, flags, keep alive.
        let mut len = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        len += props_len(&self.properties, v5, PropertyContext::Connect)?;
        len += wire::check_str(self.client_id)?;
        if let Some(w) = &self.will {
            len += props_len(&w.properties, v5, PropertyContext::Will)?;
            topic::validate_topic_name(w.topic).map_err(|_| EncodeError::InvalidTopicName)?;
            len += wire::prefixed_len(w.topic.len())?;
            len += wire::prefixed_len(w.payload.len())?;
        }
        if let Some(u) = self.username {
            len += wire::check_str(u)?;
        }
        if let Some(p) = self.password {
            if !v5 && self.username.is_none() {
                return Err(EncodeError::PasswordWithoutUsername); // [MQTT-3.1.2-22] (3.1.1)
            }
            len += wire::prefixed_len(p.len())?;
        }
        Ok(len)
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) {
        let v5 = self.version == Version::V5;
        w.binary(PROTOCOL_NAME);
        w.u8(self.version.level());
        w.u8(self.flags());
        w.u16(self.keep_alive);
        if v5 {
            self.properties.write(w);
        }
        w.string(self.client_id);
        if let Some(will) = &self.will {
            if v5 {
                will.properties.write(w);
            }
            w.string(will.topic);
            w.binary(will.payload);
        }
        if let Some(u) = self.username {
            w.string(u);
        }
        if let Some(p) = self.password {
            w.binary(p);
        }
    }
}

/// Wire length of a property list: only MQTT 5.0 has one; 3.1.1 must have none.
pub(super) fn props_len(
    p: &Properties<'_>,
    v5: bool,
    context: PropertyContext,
) -> Result<usize, EncodeError> {
    if v5 {
        p.check(context)?;
        Ok(p.wire_len())
    } else if p.is_empty() {
        Ok(0)
    } else {
        Err(EncodeError::NotInVersion)
    }
}

/// Checks a reason code for a packet being encoded.
pub(super) fn check_reason(code: ReasonCode, context: ReasonContext) -> Result<(), EncodeError> {
    if code.is_allowed_in(context) { Ok(()) } else { Err(EncodeError::ReasonCodeNotAllowed(code)) }
}

/// Reads a reason code and checks it belongs to `context` [MQTT-2.4].
pub(super) fn read_reason(
    r: &mut Reader<'_>,
    context: ReasonContext,
) -> Result<ReasonCode, DecodeError> {
    let b = r.u8()?;
    let code = ReasonCode::from_u8(b).ok_or(DecodeError::UnknownReasonCode(b))?;
    if !code.is_allowed_in(context) {
        return Err(DecodeError::ReasonCodeNotAllowed(code));
    }
    Ok(code)
}

/// CONNACK: the server's answer to CONNECT.
///
/// In MQTT 3.1.1 the return code is mapped to its 5.0 equivalent (return code 5 is
/// [`ReasonCode::NotAuthorized`], ...; see [`ReasonCode::from_v3_connack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnAck<'a> {
    /// Session Present.
    pub session_present: bool,
    /// Connect reason code.
    pub reason_code: ReasonCode,
    /// CONNACK properties (MQTT 5.0; empty in 3.1.1).
    pub properties: Properties<'a>,
}

impl<'a> ConnAck<'a> {
    /// A CONNACK with `reason_code`, no session present, no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self { session_present: false, reason_code, properties: Properties::default() }
    }

    pub(super) fn read(r: &mut Reader<'a>, version: Version) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        // [MQTT-3.2.2-1] bits 7-1 are reserved and MUST be 0.
        if flags & 0xfe != 0 {
            return Err(DecodeError::InvalidConnAckFlags);
        }
        let session_present = flags & 1 != 0;
        let (reason_code, properties) = match version {
            Version::V3_1_1 => {
                let b = r.u8()?;
                let code =
                    ReasonCode::from_v3_connack(b).ok_or(DecodeError::UnknownReasonCode(b))?;
                (code, Properties::default())
            }
            Version::V5 => {
                let code = read_reason(r, ReasonContext::ConnAck)?;
                (code, Properties::read(r, PropertyContext::ConnAck)?)
            }
        };
        // [MQTT-3.2.2-6] (5.0) / [MQTT-3.2.2-4] (3.1.1): Session Present 0 with an error code.
        if session_present && reason_code.is_error() {
            return Err(DecodeError::SessionPresentOnError);
        }
        Ok(ConnAck { session_present, reason_code, properties })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        if self.session_present && self.reason_code.is_error() {
            return Err(EncodeError::SessionPresentOnError);
        }
        match version {
            Version::V3_1_1 => {
                if self.reason_code.to_v3_connack().is_none() {
                    return Err(EncodeError::ReasonCodeNotAllowed(self.reason_code));
                }
                props_len(&self.properties, false, PropertyContext::ConnAck)?;
                Ok(2)
            }
            Version::V5 => {
                check_reason(self.reason_code, ReasonContext::ConnAck)?;
                Ok(2 + props_len(&self.properties, true, PropertyContext::ConnAck)?)
            }
        }
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        w.u8(u8::from(self.session_present));
        match version {
            Version::V3_1_1 => w.u8(self.reason_code.to_v3_connack().unwrap_or(0)),
            Version::V5 => {
                w.u8(self.reason_code.code());
                self.properties.write(w);
            }
        }
    }
}
