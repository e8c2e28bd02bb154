//! DISCONNECT (§3.14) and AUTH (§3.15).

use super::super::Version;
use super::super::error::{DecodeError, EncodeError};
use super::super::properties::{Properties, PropertyContext, PropertyId};
use super::super::reason::{ReasonCode, ReasonContext};
use super::super::wire::{Reader, Writer};
use super::connect::{check_reason, props_len, read_reason};

/// Reads the optional reason code and properties shared by DISCONNECT and AUTH: with a
/// remaining length of 0 the code is Success, below 2 there is no Property Length (§3.14.2.1).
fn read_tail<'a>(
    r: &mut Reader<'a>,
    reason: ReasonContext,
    props: PropertyContext,
) -> Result<(ReasonCode, Properties<'a>), DecodeError> {
    if r.is_empty() {
        return Ok((ReasonCode::Success, Properties::default()));
    }
    let code = read_reason(r, reason)?;
    let properties = if r.is_empty() { Properties::default() } else { Properties::read(r, props)? };
    Ok((code, properties))
}

fn tail_len(
    code: ReasonCode,
    properties: &Properties<'_>,
    reason: ReasonContext,
    props: PropertyContext,
) -> Result<usize, EncodeError> {
    check_reason(code, reason)?;
    if properties.is_empty() {
        Ok(if code == ReasonCode::Success { 0 } else { 1 })
    } else {
        Ok(1 + props_len(properties, true, props)?)
    }
}

fn write_tail(code: ReasonCode, properties: &Properties<'_>, w: &mut Writer<'_>) {
    if !properties.is_empty() {
        w.u8(code.code());
        properties.write(w);
    } else if code != ReasonCode::Success {
        w.u8(code.code());
    }
}

/// DISCONNECT. MQTT 3.1.1 has no body: the reason code is always Normal disconnection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Disconnect<'a> {
    /// Disconnect reason code.
    pub reason_code: ReasonCode,
    /// Properties (5.0).
    pub properties: Properties<'a>,
}

impl<'a> Disconnect<'a> {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self { reason_code, properties: Properties::default() }
    }

    pub(super) fn read(r: &mut Reader<'a>, version: Version) -> Result<Self, DecodeError> {
        if version == Version::V3_1_1 {
            // Any body is left for the caller's trailing-bytes check.
            return Ok(Self::new(ReasonCode::NormalDisconnection));
        }
        let (reason_code, properties) =
            read_tail(r, ReasonContext::Disconnect, PropertyContext::Disconnect)?;
        Ok(Disconnect { reason_code, properties })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        match version {
            Version::V3_1_1 => {
                if self.reason_code != ReasonCode::NormalDisconnection
                    || !self.properties.is_empty()
                {
                    return Err(EncodeError::NotInVersion);
                }
                Ok(0)
            }
            Version::V5 => tail_len(
                self.reason_code,
                &self.properties,
                ReasonContext::Disconnect,
                PropertyContext::Disconnect,
            ),
        }
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        if version == Version::V5 {
            write_tail(self.reason_code, &self.properties, w);
        }
    }
}

/// AUTH (MQTT 5.0 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Auth<'a> {
    /// Authenticate reason code.
    pub reason_code: ReasonCode,
    /// Properties.
    pub properties: Properties<'a>,
}

impl<'a> Auth<'a> {
    /// An AUTH with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self { reason_code, properties: Properties::default() }
    }

    pub(super) fn read(r: &mut Reader<'a>, version: Version) -> Result<Self, DecodeError> {
        if version == Version::V3_1_1 {
            return Err(DecodeError::ReservedPacketType);
        }
        let body = !r.is_empty();
        let (reason_code, properties) = read_tail(r, ReasonContext::Auth, PropertyContext::Auth)?;
        // §3.15.2.2.2: omitting the Authentication Method is a Protocol Error (only the bare
        // Success form, remaining length 0, carries no properties at all).
        if body && !properties.contains(PropertyId::AuthenticationMethod) {
            return Err(DecodeError::MissingAuthenticationMethod);
        }
        Ok(Auth { reason_code, properties })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        if version == Version::V3_1_1 {
            return Err(EncodeError::NotInVersion);
        }
        let len = tail_len(
            self.reason_code,
            &self.properties,
            ReasonContext::Auth,
            PropertyContext::Auth,
        )?;
        if len > 0 && !self.properties.contains(PropertyId::AuthenticationMethod) {
            return Err(EncodeError::MissingAuthenticationMethod);
        }
        Ok(len)
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) {
        write_tail(self.reason_code, &self.properties, w);
    }
}
