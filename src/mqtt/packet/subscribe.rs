//! SUBSCRIBE, SUBACK (§3.8, §3.9), UNSUBSCRIBE and UNSUBACK (§3.10, §3.11).
//!
//! Decoded lists (topic filters, reason codes) are zero-copy: they keep the validated raw bytes
//! and iterate over them without failing. Lists to encode are caller slices.

use super::super::error::{DecodeError, EncodeError};
use super::super::properties::{Properties, PropertyContext};
use super::super::reason::{ReasonCode, ReasonContext};
use super::super::topic::{self, SharedSubscription};
use super::super::wire::{self, Reader, Writer};
use super::super::{PacketId, Qos, Version};
use super::connect::{check_reason, props_len};
use super::read_packet_id;

/// Retain Handling subscription option (§3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendOnSubscribe,
    /// 1: send retained messages only if the subscription did not exist.
    SendIfNew,
    /// 2: do not send retained messages.
    DoNotSend,
}

/// Subscription options (§3.8.3.1). In MQTT 3.1.1 only `qos` exists; the rest must be default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: Qos,
    /// No Local (5.0).
    pub no_local: bool,
    /// Retain As Published (5.0).
    pub retain_as_published: bool,
    /// Retain Handling (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with `qos` and defaults otherwise.
    pub const fn new(qos: Qos) -> Self {
        Self {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendOnSubscribe,
        }
    }

    /// Parses the options byte for `version`.
    pub fn from_byte(b: u8, version: Version) -> Result<Self, DecodeError> {
        let reserved = match version {
            Version::V5 => 0b1100_0000,
            Version::V3_1_1 => 0b1111_1100, // [MQTT-3.8.3-4] (3.1.1)
        };
        // [MQTT-3.8.3-5] reserved bits MUST be 0.
        if b & reserved != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions);
        }
        let qos = Qos::from_u8(b & 0b11).ok_or(DecodeError::InvalidQos)?;
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendOnSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            // §3.8.3.1: Retain Handling 3 is a Protocol Error.
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(Self {
            qos,
            no_local: b & 0b0100 != 0,
            retain_as_published: b & 0b1000 != 0,
            retain_handling,
        })
    }

    /// The options byte.
    pub const fn to_byte(self) -> u8 {
        self.qos as u8
            | (self.no_local as u8) << 2
            | (self.retain_as_published as u8) << 3
            | (self.retain_handling as u8) << 4
    }
}

/// One entry of a SUBSCRIBE: a topic filter and its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Subscription<'a> {
    /// The topic filter (possibly `$share/{group}/{filter}` in 5.0).
    pub filter: &'a str,
    /// Its options.
    pub options: SubscriptionOptions,
}

impl<'a> Subscription<'a> {
    /// `filter` at `qos` with default options.
    pub const fn new(filter: &'a str, qos: Qos) -> Self {
        Self { filter, options: SubscriptionOptions::new(qos) }
    }
}

fn filter_error(_: topic::TopicError) -> DecodeError {
    DecodeError::InvalidTopicFilter
}

/// Checks a filter received in SUBSCRIBE/UNSUBSCRIBE; in 5.0 with the shared rules.
fn check_filter(filter: &str, version: Version) -> Result<bool, DecodeError> {
    match version {
        Version::V5 => {
            let shared = SharedSubscription::parse(filter).map_err(filter_error)?.is_some();
            if !shared {
                topic::validate_topic_filter(filter).map_err(filter_error)?;
            }
            Ok(shared)
        }
        Version::V3_1_1 => {
            topic::validate_topic_filter(filter).map(|_| false).map_err(filter_error)
        }
    }
}

fn encode_filter_len(filter: &str, version: Version) -> Result<(usize, bool), EncodeError> {
    let shared = check_filter(filter, version).map_err(|_| EncodeError::InvalidTopicFilter)?;
    Ok((wire::check_str(filter)?, shared))
}

#[derive(Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum List<'a, T: 'a> {
    Raw(&'a [u8]),
    Slice(&'a [T]),
}

macro_rules! list_impls {
    ($name:ident, $item:ty, $iter:ident) => {
        impl<'a> $name<'a> {
            /// A list to encode.
            pub const fn from_slice(items: &'a [$item]) -> Self {
                Self(List::Slice(items))
            }

            /// The entries in order.
            pub fn iter(&self) -> $iter<'a> {
                $iter(match self.0 {
                    List::Raw(raw) => ListIter::Raw(Reader::new(raw)),
                    List::Slice(s) => ListIter::Slice(s.iter()),
                })
            }

            /// `true` if there are no entries.
            pub fn is_empty(&self) -> bool {
                match self.0 {
                    List::Raw(raw) => raw.is_empty(),
                    List::Slice(s) => s.is_empty(),
                }
            }

            /// Number of entries (counts decoded lists by walking them).
            pub fn len(&self) -> usize {
                self.iter().count()
            }
        }

        impl PartialEq for $name<'_> {
            fn eq(&self, other: &Self) -> bool {
                self.iter().eq(other.iter())
            }
        }

        impl Eq for $name<'_> {}

        impl core::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }

        impl<'a> IntoIterator for $name<'a> {
            type Item = $item;
            type IntoIter = $iter<'a>;
            fn into_iter(self) -> $iter<'a> {
                self.iter()
            }
        }

        /// Iterator over the list; never fails.
        #[derive(Clone)]
        pub struct $iter<'a>(ListIter<'a, $item>);
    };
}

#[derive(Clone)]
enum ListIter<'a, T> {
    Raw(Reader<'a>),
    Slice(core::slice::Iter<'a, T>),
}

/// The topic filters of a SUBSCRIBE: validated raw bytes when decoded, a slice when built.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubscribeFilters<'a>(List<'a, Subscription<'a>>);
list_impls!(SubscribeFilters, Subscription<'a>, SubscribeFiltersIter);

impl<'a> Iterator for SubscribeFiltersIter<'a> {
    type Item = Subscription<'a>;
    fn next(&mut self) -> Option<Subscription<'a>> {
        match &mut self.0 {
            ListIter::Slice(s) => s.next().copied(),
            ListIter::Raw(r) => {
                if r.is_empty() {
                    return None;
                }
                // Validated at decode; a failure (impossible) ends the iteration.
                let filter = r.string().ok()?;
                let options = SubscriptionOptions::from_byte(r.u8().ok()?, Version::V5).ok()?;
                Some(Subscription { filter, options })
            }
        }
    }
}

/// The topic filters of an UNSUBSCRIBE: validated raw bytes when decoded, a slice when built.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnsubscribeFilters<'a>(List<'a, &'a str>);
list_impls!(UnsubscribeFilters, &'a str, UnsubscribeFiltersIter);

impl<'a> Iterator for UnsubscribeFiltersIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        match &mut self.0 {
            ListIter::Slice(s) => s.next().copied(),
            ListIter::Raw(r) => {
                if r.is_empty() {
                    return None;
                }
                r.string().ok()
            }
        }
    }
}

/// The reason codes of a SUBACK or UNSUBACK, one per topic filter.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReasonCodes<'a>(List<'a, ReasonCode>);
list_impls!(ReasonCodes, ReasonCode, ReasonCodesIter);

impl Iterator for ReasonCodesIter<'_> {
    type Item = ReasonCode;
    fn next(&mut self) -> Option<ReasonCode> {
        match &mut self.0 {
            ListIter::Slice(s) => s.next().copied(),
            // Raw bytes hold 5.0 codes (3.1.1 SUBACK codes have the same values).
            ListIter::Raw(r) => ReasonCode::from_u8(r.u8().ok()?),
        }
    }
}

/// SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Subscribe<'a> {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// At least one topic filter with its options [MQTT-3.8.3-3].
    pub filters: SubscribeFilters<'a>,
}

impl<'a> Subscribe<'a> {
    /// A SUBSCRIBE for `filters` without properties.
    pub fn new(packet_id: PacketId, filters: &'a [Subscription<'a>]) -> Self {
        Self {
            packet_id,
            properties: Properties::default(),
            filters: SubscribeFilters::from_slice(filters),
        }
    }

    pub(super) fn read(r: &mut Reader<'a>, version: Version) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version == Version::V5 {
            Properties::read(r, PropertyContext::Subscribe)?
        } else {
            Properties::default()
        };
        let raw = r.rest();
        // [MQTT-3.8.3-3] at least one filter: an empty payload is a Protocol Error.
        if raw.is_empty() {
            return Err(DecodeError::NoTopicFilters);
        }
        let mut p = Reader::new(raw);
        while !p.is_empty() {
            let filter = p.string()?;
            let options = SubscriptionOptions::from_byte(p.u8()?, version)?;
            let shared = check_filter(filter, version)?;
            // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
            if shared && options.no_local {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
        }
        Ok(Subscribe { packet_id, properties, filters: SubscribeFilters(List::Raw(raw)) })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        let v5 = version == Version::V5;
        let mut len = 2 + props_len(&self.properties, v5, PropertyContext::Subscribe)?;
        let mut any = false;
        for s in self.filters.iter() {
            any = true;
            let (n, shared) = encode_filter_len(s.filter, version)?;
            if shared && s.options.no_local {
                return Err(EncodeError::NoLocalOnSharedSubscription);
            }
            if !v5 && s.options != SubscriptionOptions::new(s.options.qos) {
                return Err(EncodeError::NotInVersion);
            }
            len = len.checked_add(n + 1).ok_or(EncodeError::PacketTooLarge)?;
        }
        if !any {
            return Err(EncodeError::NoTopicFilters);
        }
        Ok(len)
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        w.u16(self.packet_id.get());
        if version == Version::V5 {
            self.properties.write(w);
        }
        for s in self.filters.iter() {
            w.string(s.filter);
            w.u8(s.options.to_byte());
        }
    }
}

/// SUBACK. In 3.1.1 the return codes are mapped: 0-2 granted QoS, 0x80
/// [`ReasonCode::UnspecifiedError`]; on encode every failure code becomes 0x80.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubAck<'a> {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// One reason code per topic filter, in order.
    pub reason_codes: ReasonCodes<'a>,
}

impl<'a> SubAck<'a> {
    /// A SUBACK with `reason_codes` and no properties.
    pub fn new(packet_id: PacketId, reason_codes: &'a [ReasonCode]) -> Self {
        Self {
            packet_id,
            properties: Properties::default(),
            reason_codes: ReasonCodes::from_slice(reason_codes),
        }
    }

    pub(super) fn read(r: &mut Reader<'a>, version: Version) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version == Version::V5 {
            Properties::read(r, PropertyContext::SubAck)?
        } else {
            Properties::default()
        };
        let raw = r.rest();
        if raw.is_empty() {
            return Err(DecodeError::NoReasonCodes);
        }
        for &b in raw {
            let code = match version {
                Version::V5 => ReasonCode::from_u8(b),
                Version::V3_1_1 => ReasonCode::from_v3_suback(b),
            }
            .ok_or(DecodeError::UnknownReasonCode(b))?;
            if !code.is_allowed_in(ReasonContext::SubAck) {
                return Err(DecodeError::ReasonCodeNotAllowed(code));
            }
        }
        Ok(SubAck { packet_id, properties, reason_codes: ReasonCodes(List::Raw(raw)) })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        let v5 = version == Version::V5;
        let mut n = 0usize;
        for code in self.reason_codes.iter() {
            check_reason(code, ReasonContext::SubAck)?;
            n += 1;
        }
        if n == 0 {
            return Err(EncodeError::NoReasonCodes);
        }
        Ok(2 + props_len(&self.properties, v5, PropertyContext::SubAck)? + n)
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        w.u16(self.packet_id.get());
        match version {
            Version::V5 => {
                self.properties.write(w);
                for code in self.reason_codes.iter() {
                    w.u8(code.code());
                }
            }
            Version::V3_1_1 => {
                for code in self.reason_codes.iter() {
                    w.u8(code.to_v3_suback().unwrap_or(0x80));
                }
            }
        }
    }
}

/// UNSUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unsubscribe<'a> {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// At least one topic filter [MQTT-3.10.3-2].
    pub filters: UnsubscribeFilters<'a>,
}

impl<'a> Unsubscribe<'a> {
    /// An UNSUBSCRIBE for `filters` without properties.
    pub fn new(packet_id: PacketId, filters: &'a [&'a str]) -> Self {
        Self {
            packet_id,
            properties: Properties::default(),
            filters: UnsubscribeFilters::from_slice(filters),
        }
    }

    pub(super) fn read(r: &mut Reader<'a>, version: Version) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version == Version::V5 {
            Properties::read(r, PropertyContext::Unsubscribe)?
        } else {
            Properties::default()
        };
        let raw = r.rest();
        // [MQTT-3.10.3-2] at least one topic filter.
        if raw.is_empty() {
            return Err(DecodeError::NoTopicFilters);
        }
        let mut p = Reader::new(raw);
        while !p.is_empty() {
            check_filter(p.string()?, version)?;
        }
        Ok(Unsubscribe { packet_id, properties, filters: UnsubscribeFilters(List::Raw(raw)) })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        let v5 = version == Version::V5;
        let mut len = 2 + props_len(&self.properties, v5, PropertyContext::Unsubscribe)?;
        let mut any = false;
        for f in self.filters.iter() {
            any = true;
            len = len
                .checked_add(encode_filter_len(f, version)?.0)
                .ok_or(EncodeError::PacketTooLarge)?;
        }
        if !any {
            return Err(EncodeError::NoTopicFilters);
        }
        Ok(len)
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        w.u16(self.packet_id.get());
        if version == Version::V5 {
            self.properties.write(w);
        }
        for f in self.filters.iter() {
            w.string(f);
        }
    }
}

/// UNSUBACK. MQTT 3.1.1 has only the packet identifier: decoded reason codes are empty and
/// reason codes to encode are not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnsubAck<'a> {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// Properties (5.0).
    pub properties: Properties<'a>,
    /// One reason code per topic filter (5.0).
    pub reason_codes: ReasonCodes<'a>,
}

impl<'a> UnsubAck<'a> {
    /// An UNSUBACK with `reason_codes` and no properties.
    pub fn new(packet_id: PacketId, reason_codes: &'a [ReasonCode]) -> Self {
        Self {
            packet_id,
            properties: Properties::default(),
            reason_codes: ReasonCodes::from_slice(reason_codes),
        }
    }

    pub(super) fn read(r: &mut Reader<'a>, version: Version) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        if version == Version::V3_1_1 {
            return Ok(UnsubAck {
                packet_id,
                properties: Properties::default(),
                reason_codes: ReasonCodes(List::Raw(&[])),
            });
        }
        let properties = Properties::read(r, PropertyContext::UnsubAck)?;
        let raw = r.rest();
        if raw.is_empty() {
            return Err(DecodeError::NoReasonCodes);
        }
        for &b in raw {
            let code = ReasonCode::from_u8(b).ok_or(DecodeError::UnknownReasonCode(b))?;
            if !code.is_allowed_in(ReasonContext::UnsubAck) {
                return Err(DecodeError::ReasonCodeNotAllowed(code));
            }
        }
        Ok(UnsubAck { packet_id, properties, reason_codes: ReasonCodes(List::Raw(raw)) })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        if version == Version::V3_1_1 {
            props_len(&self.properties, false, PropertyContext::UnsubAck)?;
            return Ok(2);
        }
        let mut n = 0usize;
        for code in self.reason_codes.iter() {
            check_reason(code, ReasonContext::UnsubAck)?;
            n += 1;
        }
        if n == 0 {
            return Err(EncodeError::NoReasonCodes);
        }
        Ok(2 + props_len(&self.properties, true, PropertyContext::UnsubAck)? + n)
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        w.u16(self.packet_id.get());
        if version == Version::V5 {
            self.properties.write(w);
            for code in self.reason_codes.iter() {
                w.u8(code.code());
            }
        }
    }
}
