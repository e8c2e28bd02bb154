//! SUBSCRIBE, SUBACK (§3.8, §3.9), UNSUBSCRIBE and UNSUBACK (§3.10, §3.11).
//!
//! Decoded lists (topic filters, reason codes) are zero-copy: they keep the validated raw bytes
//! and iterate over them without failing. Lists to encode are caller slices.
//!
//! Invariant: a decoded list's bytes passed every check of the version it was decoded for, so
//! encoding it again for that version copies the bytes as they are. When a decoded filter list
//! is valid UTF-8 as a whole (always for ASCII filters shorter than 128 bytes), it is kept as
//! one `&str` and filters are sliced out of it, so reading them does not check UTF-8 again.

use super::super::error::{DecodeError, EncodeError};
use super::super::properties::{Properties, PropertyContext};
use super::super::reason::{ReasonCode, ReasonContext};
use super::super::topic;
use super::super::wire::{Reader, Writer};
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
        let qos = Qos::from_u8(b & 0b11).ok_or(match version {
            // §3.8.3.1: Maximum QoS 3 is a Protocol Error.
            Version::V5 => DecodeError::InvalidSubscriptionQos,
            // [MQTT-3.8.3-4] (3.1.1): malformed.
            Version::V3_1_1 => DecodeError::InvalidSubscriptionOptions,
        })?;
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

/// Whether filters follow the shared-subscription rules in `version`: shared subscriptions
/// exist in 5.0 only (in 3.1.1 `$share/...` is an ordinary filter).
fn shared_rules(version: Version) -> bool {
    version == Version::V5
}

/// Checks a filter received in SUBSCRIBE/UNSUBSCRIBE (UTF-8 already checked); in 5.0 with the
/// shared rules. Returns whether it is a shared subscription.
#[inline]
fn read_filter(filter: &str, version: Version) -> Result<bool, DecodeError> {
    match topic::check_filter(filter, shared_rules(version)) {
        Ok(start) => Ok(start != 0),
        // [MQTT-1.5.4-2] a string MUST NOT include U+0000.
        Err(topic::TopicError::NullCharacter) => Err(DecodeError::NullCharacter),
        Err(_) => Err(DecodeError::InvalidTopicFilter),
    }
}

/// Checks one entry to send (a filter, with its options in a SUBSCRIBE) for `version` and
/// returns its encoded length.
fn check_entry(
    filter: &str,
    options: Option<SubscriptionOptions>,
    version: Version,
) -> Result<usize, EncodeError> {
    check_entry_inline(filter, options, version)
}

/// [`check_entry`] inlined into the walker of a caller's list, so that a SUBSCRIBE of many
/// filters pays no call per filter.
#[inline(always)]
fn check_entry_inline(
    filter: &str,
    options: Option<SubscriptionOptions>,
    version: Version,
) -> Result<usize, EncodeError> {
    // One scan: the filter checks include length and U+0000 [MQTT-1.5.4-2].
    let shared = topic::check_filter_inline(filter, shared_rules(version))
        .map_err(|_| EncodeError::InvalidTopicFilter)?
        != 0;
    let Some(options) = options else { return Ok(2 + filter.len()) };
    // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
    if shared && options.no_local {
        return Err(EncodeError::NoLocalOnSharedSubscription);
    }
    if version == Version::V3_1_1 && options != SubscriptionOptions::new(options.qos) {
        return Err(EncodeError::NotInVersion);
    }
    Ok(3 + filter.len())
}

/// A caller's list to encode: SUBSCRIBE entries or UNSUBSCRIBE filters.
#[derive(Clone, Copy)]
enum Entries<'a> {
    Subscribe(&'a [Subscription<'a>]),
    Unsubscribe(&'a [&'a str]),
}

/// The body of a SUBSCRIBE or UNSUBSCRIBE of a caller's list, in one walk for both packet
/// types and both steps: without `w`, checks everything for `version` and returns the body
/// length; with `w` (after that succeeded), writes the body and returns 0.
#[inline(never)]
fn entries_body(
    packet_id: PacketId,
    properties: &Properties<'_>,
    entries: Entries<'_>,
    version: Version,
    mut w: Option<&mut Writer<'_>>,
) -> Result<usize, EncodeError> {
    let v5 = version == Version::V5;
    let (context, n) = match entries {
        Entries::Subscribe(s) => (PropertyContext::Subscribe, s.len()),
        Entries::Unsubscribe(f) => (PropertyContext::Unsubscribe, f.len()),
    };
    let mut len = 0;
    match &mut w {
        Some(w) => {
            w.u16(packet_id.get());
            if v5 {
                properties.write(w);
            }
        }
        None => {
            len = 2 + props_len(properties, v5, context)?;
            // [MQTT-3.8.3-3], [MQTT-3.10.3-2] at least one topic filter.
            if n == 0 {
                return Err(EncodeError::NoTopicFilters);
            }
        }
    }
    for i in 0..n {
        let (filter, options) = match entries {
            Entries::Subscribe(s) => match s.get(i) {
                Some(s) => (s.filter, Some(s.options)),
                None => break,
            },
            Entries::Unsubscribe(f) => match f.get(i) {
                Some(&f) => (f, None),
                None => break,
            },
        };
        match &mut w {
            Some(w) => {
                w.string(filter);
                if let Some(options) = options {
                    w.u8(options.to_byte());
                }
            }
            None => {
                let n = check_entry_inline(filter, options, version)?;
                len = n.checked_add(len).ok_or(EncodeError::PacketTooLarge)?;
            }
        }
    }
    Ok(len)
}

#[derive(Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum List<'a, T: 'a> {
    /// Wire bytes validated when decoded as `Version`.
    Raw(&'a [u8], Version),
    /// The same, valid UTF-8 as a whole.
    Text(&'a str, Version),
    /// A caller's list to encode.
    Slice(&'a [T]),
}

impl<'a, T> List<'a, T> {
    /// The wire bytes of a decoded list, when they were validated for `version`.
    #[inline]
    fn wire_for(&self, version: Version) -> Option<&'a [u8]> {
        match *self {
            List::Raw(b, v) if v == version => Some(b),
            List::Text(t, v) if v == version => Some(t.as_bytes()),
            _ => None,
        }
    }

    fn iter(&self) -> ListIter<'a, T> {
        match *self {
            List::Raw(raw, _) => ListIter::Raw(Reader::new(raw)),
            List::Text(text, _) => ListIter::Text(text),
            List::Slice(s) => ListIter::Slice(s.iter()),
        }
    }
}

/// Splits a two-byte-prefixed string off the front of `text`: `Err` when `text` is too short,
/// `Ok(None)` when the string does not start and end on character boundaries (so its bytes
/// alone are not valid UTF-8).
#[inline]
fn split_text(text: &str) -> Result<Option<(&str, &str)>, DecodeError> {
    let b = text.as_bytes();
    let (Some(&hi), Some(&lo)) = (b.first(), b.get(1)) else { return Err(DecodeError::Truncated) };
    let end = 2 + usize::from(u16::from_be_bytes([hi, lo]));
    if end > b.len() {
        return Err(DecodeError::Truncated);
    }
    // `get` checks that both ends are character boundaries; `end` being one makes the rest valid.
    Ok(text.get(2..end).zip(text.get(end..)))
}

/// A cursor over a decoded filter list: string slices out of validated text when the list is
/// valid UTF-8 as a whole, bytes otherwise.
enum ListCursor<'a> {
    Text(&'a str),
    Raw(Reader<'a>),
}

impl<'a> ListCursor<'a> {
    fn is_empty(&self) -> bool {
        match self {
            ListCursor::Text(t) => t.is_empty(),
            ListCursor::Raw(r) => r.is_empty(),
        }
    }

    /// A UTF-8 encoded string [MQTT-1.5.4-1] (U+0000 is left to the filter check).
    #[inline(always)]
    fn string(&mut self) -> Result<&'a str, DecodeError> {
        match self {
            ListCursor::Text(t) => match split_text(t)? {
                Some((s, rest)) => {
                    *t = rest;
                    Ok(s)
                }
                // Not on character boundaries: the string's own bytes are not UTF-8.
                None => Err(DecodeError::InvalidUtf8),
            },
            ListCursor::Raw(r) => {
                core::str::from_utf8(r.binary()?).map_err(|_| DecodeError::InvalidUtf8)
            }
        }
    }

    #[inline]
    fn u8(&mut self) -> Result<u8, DecodeError> {
        match self {
            ListCursor::Text(t) => {
                let (&b, rest) = t.as_bytes().split_first().ok_or(DecodeError::Truncated)?;
                match t.get(1..) {
                    Some(rest) => *t = rest,
                    // Not a character boundary: continue over the bytes.
                    None => *self = ListCursor::Raw(Reader::new(rest)),
                }
                Ok(b)
            }
            ListCursor::Raw(r) => r.u8(),
        }
    }

    /// The list to keep: text when the whole list was valid UTF-8.
    fn list<T>(raw: &'a [u8], version: Version) -> List<'a, T> {
        match core::str::from_utf8(raw) {
            Ok(text) => List::Text(text, version),
            Err(_) => List::Raw(raw, version),
        }
    }
}

impl SubscribeFilters<'_> {
    /// Number of entries (counts decoded lists by walking them).
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

impl UnsubscribeFilters<'_> {
    /// Number of entries (counts decoded lists by walking them).
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

impl ReasonCodes<'_> {
    /// Number of reason codes.
    pub fn len(&self) -> usize {
        match self.0 {
            // One byte per code, every byte a code (checked when decoded).
            List::Raw(raw, _) => raw.len(),
            // Reason code lists are never kept as text.
            List::Text(..) => 0,
            List::Slice(s) => s.len(),
        }
    }
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
                $iter(self.0.iter())
            }

            /// `true` if there are no entries.
            pub fn is_empty(&self) -> bool {
                match self.0 {
                    List::Raw(raw, _) => raw.is_empty(),
                    List::Text(text, _) => text.is_empty(),
                    List::Slice(s) => s.is_empty(),
                }
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
    Text(&'a str),
    Slice(core::slice::Iter<'a, T>),
}

/// The topic filters of a SUBSCRIBE: validated raw bytes when decoded, a slice when built.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubscribeFilters<'a>(List<'a, Subscription<'a>>);
list_impls!(SubscribeFilters, Subscription<'a>, SubscribeFiltersIter);

impl<'a> Iterator for SubscribeFiltersIter<'a> {
    type Item = Subscription<'a>;
    #[inline]
    fn next(&mut self) -> Option<Subscription<'a>> {
        // Validated at decode; a failure (impossible) ends the iteration.
        let (filter, options) = match &mut self.0 {
            ListIter::Slice(s) => return s.next().copied(),
            ListIter::Text(t) => {
                let (filter, rest) = split_text(t).ok()??;
                let (&options, _) = rest.as_bytes().split_first()?;
                // Options bytes are ASCII (reserved bits clear), so this is a boundary.
                *t = rest.get(1..)?;
                (filter, options)
            }
            ListIter::Raw(r) => {
                if r.is_empty() {
                    return None;
                }
                (r.string().ok()?, r.u8().ok()?)
            }
        };
        let options = SubscriptionOptions::from_byte(options, Version::V5).ok()?;
        Some(Subscription { filter, options })
    }
}

/// The topic filters of an UNSUBSCRIBE: validated raw bytes when decoded, a slice when built.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnsubscribeFilters<'a>(List<'a, &'a str>);
list_impls!(UnsubscribeFilters, &'a str, UnsubscribeFiltersIter);

impl<'a> Iterator for UnsubscribeFiltersIter<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        match &mut self.0 {
            ListIter::Slice(s) => s.next().copied(),
            ListIter::Text(t) => {
                let (filter, rest) = split_text(t).ok()??;
                *t = rest;
                Some(filter)
            }
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
    #[inline]
    fn next(&mut self) -> Option<ReasonCode> {
        match &mut self.0 {
            ListIter::Slice(s) => s.next().copied(),
            // Raw bytes hold 5.0 codes (3.1.1 SUBACK codes have the same values).
            ListIter::Raw(r) => ReasonCode::from_u8(r.u8().ok()?),
            // Reason code lists are never kept as text.
            ListIter::Text(_) => None,
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
        let list = ListCursor::list(raw, version);
        let mut p = match list {
            List::Text(text, _) => ListCursor::Text(text),
            _ => ListCursor::Raw(Reader::new(raw)),
        };
        while !p.is_empty() {
            let shared = read_filter(p.string()?, version)?;
            let options = SubscriptionOptions::from_byte(p.u8()?, version)?;
            // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
            if shared && options.no_local {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
        }
        Ok(Subscribe { packet_id, properties, filters: SubscribeFilters(list) })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        let (id, props) = (self.packet_id, &self.properties);
        if let List::Slice(items) = self.filters.0 {
            return entries_body(id, props, Entries::Subscribe(items), version, None);
        }
        let v5 = version == Version::V5;
        let mut len = 2 + props_len(props, v5, PropertyContext::Subscribe)?;
        if let Some(wire) = self.filters.0.wire_for(version) {
            // Decoded for this version: every rule below already held [MQTT-3.8.3-3].
            return len.checked_add(wire.len()).ok_or(EncodeError::PacketTooLarge);
        }
        // Decoded for the other version (so not empty): checked again entry by entry.
        for s in self.filters.iter() {
            let n = check_entry(s.filter, Some(s.options), version)?;
            len = len.checked_add(n).ok_or(EncodeError::PacketTooLarge)?;
        }
        Ok(len)
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        if let List::Slice(items) = self.filters.0 {
            let _ = entries_body(
                self.packet_id,
                &self.properties,
                Entries::Subscribe(items),
                version,
                Some(w),
            );
            return;
        }
        w.u16(self.packet_id.get());
        if version == Version::V5 {
            self.properties.write(w);
        }
        if let Some(wire) = self.filters.0.wire_for(version) {
            w.bytes(wire);
            return;
        }
        for s in self.filters.iter() {
            w.string(s.filter);
            w.u8(s.options.to_byte());
        }
    }
}

/// Reads a SUBACK (`unsuback` false) or UNSUBACK body, one reader for both: packet
/// identifier, properties (5.0) and at least one reason code allowed in the packet; a 3.1.1
/// UNSUBACK is the packet identifier alone.
#[inline(never)]
fn read_ack<'a>(
    r: &mut Reader<'a>,
    version: Version,
    unsuback: bool,
) -> Result<(PacketId, Properties<'a>, ReasonCodes<'a>), DecodeError> {
    let packet_id = read_packet_id(r)?;
    let v5 = version == Version::V5;
    if unsuback && !v5 {
        return Ok((packet_id, Properties::default(), ReasonCodes(List::Raw(&[], version))));
    }
    let (properties, context) = match unsuback {
        false => (PropertyContext::SubAck, ReasonContext::SubAck),
        true => (PropertyContext::UnsubAck, ReasonContext::UnsubAck),
    };
    let properties = if v5 { Properties::read(r, properties)? } else { Properties::default() };
    let raw = r.rest();
    if raw.is_empty() {
        return Err(DecodeError::NoReasonCodes);
    }
    for &b in raw {
        // In 5.0 one lookup passes a code; one that fails is read again to say why.
        if v5 && ReasonCode::byte_allowed_in(b, context) {
            continue;
        }
        // 3.1.1 has SUBACK return codes only: 0-2 granted QoS, 0x80 failure.
        let code = if v5 { ReasonCode::from_u8(b) } else { ReasonCode::from_v3_suback(b) }
            .ok_or(DecodeError::UnknownReasonCode(b))?;
        if !code.is_allowed_in(context) {
            return Err(DecodeError::ReasonCodeNotAllowed(code));
        }
    }
    Ok((packet_id, properties, ReasonCodes(List::Raw(raw, version))))
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
        let (packet_id, properties, reason_codes) = read_ack(r, version, false)?;
        Ok(SubAck { packet_id, properties, reason_codes })
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
        let list = ListCursor::list(raw, version);
        let mut p = match list {
            List::Text(text, _) => ListCursor::Text(text),
            _ => ListCursor::Raw(Reader::new(raw)),
        };
        while !p.is_empty() {
            read_filter(p.string()?, version)?;
        }
        Ok(Unsubscribe { packet_id, properties, filters: UnsubscribeFilters(list) })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        let (id, props) = (self.packet_id, &self.properties);
        if let List::Slice(items) = self.filters.0 {
            return entries_body(id, props, Entries::Unsubscribe(items), version, None);
        }
        let v5 = version == Version::V5;
        let mut len = 2 + props_len(props, v5, PropertyContext::Unsubscribe)?;
        if let Some(wire) = self.filters.0.wire_for(version) {
            // Decoded for this version: every rule below already held [MQTT-3.10.3-2].
            return len.checked_add(wire.len()).ok_or(EncodeError::PacketTooLarge);
        }
        // Decoded for the other version (so not empty): checked again filter by filter.
        for f in self.filters.iter() {
            let n = check_entry(f, None, version)?;
            len = len.checked_add(n).ok_or(EncodeError::PacketTooLarge)?;
        }
        Ok(len)
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        if let List::Slice(items) = self.filters.0 {
            let _ = entries_body(
                self.packet_id,
                &self.properties,
                Entries::Unsubscribe(items),
                version,
                Some(w),
            );
            return;
        }
        w.u16(self.packet_id.get());
        if version == Version::V5 {
            self.properties.write(w);
        }
        if let Some(wire) = self.filters.0.wire_for(version) {
            w.bytes(wire);
            return;
        }
        self.filters.iter().for_each(|f| w.string(f));
    }
}

/// UNSUBACK. MQTT 3.1.1 has only the packet identifier: decoded reason codes are empty, and
/// encoding reason codes for 3.1.1 is refused with [`EncodeError::NotInVersion`].
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
        let (packet_id, properties, reason_codes) = read_ack(r, version, true)?;
        Ok(UnsubAck { packet_id, properties, reason_codes })
    }

    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        if version == Version::V3_1_1 {
            // A 3.1.1 UNSUBACK is the packet identifier alone: reason codes are 5.0 only.
            if !self.reason_codes.is_empty() {
                return Err(EncodeError::NotInVersion);
            }
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

/// A SUBSCRIBE of a caller's slice, encoded exactly as [`Subscribe`] with
/// [`SubscribeFilters::from_slice`] is, but without the paths for decoded lists: a client that
/// only sends its own slices links less.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubscribeSlice<'a> {
    pub packet_id: PacketId,
    pub properties: Properties<'a>,
    pub items: &'a [Subscription<'a>],
}

impl SubscribeSlice<'_> {
    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        entries_body(
            self.packet_id,
            &self.properties,
            Entries::Subscribe(self.items),
            version,
            None,
        )
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        let entries = Entries::Subscribe(self.items);
        let _ = entries_body(self.packet_id, &self.properties, entries, version, Some(w));
    }
}

/// An UNSUBSCRIBE of a caller's slice, encoded exactly as [`Unsubscribe`] with
/// [`UnsubscribeFilters::from_slice`] is, without the paths for decoded lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnsubscribeSlice<'a> {
    pub packet_id: PacketId,
    pub properties: Properties<'a>,
    pub items: &'a [&'a str],
}

impl UnsubscribeSlice<'_> {
    pub(super) fn body_len(&self, version: Version) -> Result<usize, EncodeError> {
        let entries = Entries::Unsubscribe(self.items);
        entries_body(self.packet_id, &self.properties, entries, version, None)
    }

    pub(super) fn write(&self, version: Version, w: &mut Writer<'_>) {
        let entries = Entries::Unsubscribe(self.items);
        let _ = entries_body(self.packet_id, &self.properties, entries, version, Some(w));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeOptions, Packet, decode};
    use super::*;
    use crate::Status;

    /// A SUBSCRIBE (5.0, packet id 1, no properties) with `payload` as its filter list.
    fn subscribe_bytes(payload: &[u8], out: &mut [u8; 512]) -> usize {
        let body = 3 + payload.len();
        let mut w = Writer::new(out);
        w.u8(0x82);
        w.varint(body);
        w.u16(1);
        w.u8(0);
        w.bytes(payload);
        w.pos()
    }

    fn decode_v(bytes: &[u8], version: Version) -> Result<Packet<'_>, DecodeError> {
        match decode(bytes, &DecodeOptions::new(version))? {
            Status::Progress { consumed, event } => {
                assert_eq!(consumed, bytes.len());
                Ok(event)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_and_raw_lists_read_and_re_encode_alike() {
        // A 200-byte filter: its length's low byte (0xC8) is not UTF-8 on its own, so the list
        // is kept as bytes; a short one is kept as text.
        let long = [b'a'; 200];
        for filter in [&b"a/+"[..], &long[..]] {
            let mut payload = [0u8; 256];
            let mut w = Writer::new(&mut payload);
            w.binary(filter);
            w.u8(0x01);
            w.binary(b"b/#");
            w.u8(0x2A);
            let n = w.pos();
            let mut buf = [0u8; 512];
            let len = subscribe_bytes(&payload[..n], &mut buf);
            let Packet::Subscribe(s) = decode_v(&buf[..len], Version::V5).unwrap() else {
                panic!("not a SUBSCRIBE")
            };
            let text = matches!(s.filters.0, List::Text(..));
            assert_eq!(text, filter.len() < 128);
            let got: heapless::Vec<_, 2> = s.filters.iter().collect();
            assert_eq!(got[0].filter.as_bytes(), filter);
            assert_eq!(got[0].options.qos, Qos::AtLeastOnce);
            assert_eq!(
                got[1],
                Subscription {
                    filter: "b/#",
                    options: SubscriptionOptions::from_byte(0x2A, Version::V5).unwrap()
                }
            );
            // Re-encoded as decoded, and the same through the slice path.
            let mut out = [0u8; 512];
            assert_eq!(Packet::Subscribe(s).encode(Version::V5, &mut out), Ok(len));
            assert_eq!(&out[..len], &buf[..len]);
            let built = Subscribe::new(s.packet_id, &got);
            let mut out2 = [0u8; 512];
            assert_eq!(Packet::Subscribe(built).encode(Version::V5, &mut out2), Ok(len));
            assert_eq!(&out2[..len], &buf[..len]);
            // 5.0 options do not exist in 3.1.1: the decoded list is checked again.
            assert_eq!(
                Packet::Subscribe(s).encode(Version::V3_1_1, &mut out),
                Err(EncodeError::NotInVersion)
            );
        }
    }

    #[test]
    fn text_list_rejects_what_the_byte_path_rejects() {
        // Length 0xC3 then a continuation byte: valid UTF-8 as a whole ("é"), but the filter's
        // own bytes start mid-character.
        let mut payload = [b'a'; 0xC3 + 3];
        payload[0] = 0;
        payload[1] = 0xC3;
        payload[2] = 0xA9;
        payload[0xC3 + 2] = 0;
        let mut buf = [0u8; 512];
        let len = subscribe_bytes(&payload, &mut buf);
        assert_eq!(decode_v(&buf[..len], Version::V5), Err(DecodeError::InvalidUtf8));
        for (payload, err) in [
            (&b"\0\x03a\0b\x00"[..], DecodeError::NullCharacter),
            (b"\0\x03a+b\x00", DecodeError::InvalidTopicFilter),
            (b"\0\x01a\xC0", DecodeError::InvalidSubscriptionOptions),
            (b"\0\x01a\x03", DecodeError::InvalidSubscriptionQos),
            (b"\0\x01a", DecodeError::Truncated),
            (b"\0\x05a", DecodeError::Truncated),
            (b"\0", DecodeError::Truncated),
            (b"\0\x0c$share/g/a/#\x04", DecodeError::NoLocalOnSharedSubscription),
            (b"\0\x08$share/g\x00", DecodeError::InvalidTopicFilter),
        ] {
            let len = subscribe_bytes(payload, &mut buf);
            assert_eq!(decode_v(&buf[..len], Version::V5), Err(err), "{payload:?}");
        }
    }

    #[test]
    fn unsubscribe_lists_round_trip() {
        let long = [b'x'; 130];
        let long = core::str::from_utf8(&long).unwrap();
        for filters in [&["a/+", "$share/g/#"][..], &[long, "b"][..]] {
            let mut buf = [0u8; 512];
            let u = Unsubscribe::new(pid(9), filters);
            let len = Packet::Unsubscribe(u).encode(Version::V5, &mut buf).unwrap();
            let Packet::Unsubscribe(d) = decode_v(&buf[..len], Version::V5).unwrap() else {
                panic!("not an UNSUBSCRIBE")
            };
            assert!(d.filters.iter().eq(filters.iter().copied()));
            let mut out = [0u8; 512];
            assert_eq!(Packet::Unsubscribe(d).encode(Version::V5, &mut out), Ok(len));
            assert_eq!(&out[..len], &buf[..len]);
            // "$share/g/#" is an ordinary filter in 3.1.1, so both versions take it.
            assert!(Packet::Unsubscribe(d).encode(Version::V3_1_1, &mut out).is_ok());
        }
    }

    fn ack_codes(p: Packet<'_>) -> ReasonCodes<'_> {
        match p {
            Packet::SubAck(a) => a.reason_codes,
            Packet::UnsubAck(a) => a.reason_codes,
            other => panic!("not an acknowledgement: {other:?}"),
        }
    }

    #[test]
    fn suback_and_unsuback_reason_code_rules() {
        use ReasonCode as R;
        let (v5, v3) = (Version::V5, Version::V3_1_1);
        for (bytes, version, want) in [
            // SUBACK: at least one code, known, allowed in SUBACK (§3.9.3).
            (&[0x90, 0x03, 0x00, 0x01, 0x00][..], v5, Err(DecodeError::NoReasonCodes)),
            (&[0x90, 0x04, 0x00, 0x01, 0x00, 0x03], v5, Err(DecodeError::UnknownReasonCode(3))),
            (
                &[0x90, 0x04, 0x00, 0x01, 0x00, 0x11],
                v5,
                Err(DecodeError::ReasonCodeNotAllowed(R::NoSubscriptionExisted)),
            ),
            (&[0x90, 0x02, 0x00, 0x01], v3, Err(DecodeError::NoReasonCodes)),
            // 3.1.1 return codes are 0-2 and 0x80 only.
            (&[0x90, 0x03, 0x00, 0x01, 0x87], v3, Err(DecodeError::UnknownReasonCode(0x87))),
            (
                &[0x90, 0x04, 0x00, 0x01, 0x02, 0x80],
                v3,
                Ok(&[R::GrantedQos2, R::UnspecifiedError][..]),
            ),
            // UNSUBACK: the same rules in 5.0, the packet identifier alone in 3.1.1.
            (&[0xB0, 0x03, 0x00, 0x01, 0x00], v5, Err(DecodeError::NoReasonCodes)),
            (&[0xB0, 0x04, 0x00, 0x01, 0x00, 0x03], v5, Err(DecodeError::UnknownReasonCode(3))),
            (
                &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x01],
                v5,
                Err(DecodeError::ReasonCodeNotAllowed(R::GrantedQos1)),
            ),
            (&[0xB0, 0x04, 0x00, 0x01, 0x00, 0x11], v5, Ok(&[R::NoSubscriptionExisted][..])),
            (&[0xB0, 0x03, 0x00, 0x01, 0x00], v3, Err(DecodeError::TrailingBytes)),
            (&[0xB0, 0x02, 0x00, 0x01], v3, Ok(&[][..])),
        ] {
            match (decode_v(bytes, version).map(ack_codes), want) {
                (Ok(c), Ok(w)) => {
                    assert!(c.iter().eq(w.iter().copied()), "{bytes:x?}");
                    assert_eq!(c.len(), w.len());
                }
                (Err(e), Err(w)) => assert_eq!(e, w, "{bytes:x?}"),
                (r, w) => panic!("{bytes:x?}: {r:?} vs {w:?}"),
            }
            // Cut short: partial; with trailing bytes: the same result, the rest untouched.
            for n in 0..bytes.len() {
                let r = decode(&bytes[..n], &DecodeOptions::new(version));
                assert!(matches!(r, Ok(Status::NeedMore { .. })), "{bytes:x?} cut at {n}");
            }
            let mut long = [0xEEu8; 16];
            long[..bytes.len()].copy_from_slice(bytes);
            let r = decode(&long[..bytes.len() + 3], &DecodeOptions::new(version));
            match (r, want) {
                (Ok(Status::Progress { consumed: n, event: p }), Ok(w)) => {
                    assert_eq!(n, bytes.len());
                    assert!(ack_codes(p).iter().eq(w.iter().copied()));
                }
                (Err(e), Err(w)) => assert_eq!(e, w),
                (r, w) => panic!("{bytes:x?}: {r:?} vs {w:?}"),
            }
        }
    }

    #[test]
    fn v311_unsuback_refuses_reason_codes() {
        let mut out = [0u8; 16];
        let codes = [ReasonCode::Success];
        let with_codes = Packet::UnsubAck(UnsubAck::new(pid(7), &codes));
        assert_eq!(with_codes.encode(Version::V3_1_1, &mut out), Err(EncodeError::NotInVersion));
        assert_eq!(with_codes.encoded_len(Version::V3_1_1), Err(EncodeError::NotInVersion));
        assert_eq!(out, [0u8; 16]);
        // Without reason codes: the packet identifier alone.
        let bare = Packet::UnsubAck(UnsubAck::new(pid(7), &[]));
        assert_eq!(bare.encode(Version::V3_1_1, &mut out), Ok(4));
        assert_eq!(out[..4], [0xB0, 0x02, 0x00, 0x07]);
        // A 3.1.1 UNSUBACK decodes with no reason codes and re-encodes as it was.
        let Packet::UnsubAck(d) = decode_v(&out[..4], Version::V3_1_1).unwrap() else {
            panic!("not an UNSUBACK")
        };
        let mut again = [0u8; 16];
        assert_eq!(Packet::UnsubAck(d).encode(Version::V3_1_1, &mut again), Ok(4));
        assert_eq!(again[..4], out[..4]);
        // 5.0 requires them.
        assert_eq!(bare.encode(Version::V5, &mut out), Err(EncodeError::NoReasonCodes));
    }

    fn pid(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    #[test]
    fn shared_filter_with_nul_in_share_name_is_refused_on_encode() {
        let s = [Subscription::new("$share/g\0/a", Qos::AtMostOnce)];
        let mut out = [0u8; 64];
        assert_eq!(
            Packet::Subscribe(Subscribe::new(pid(1), &s)).encode(Version::V5, &mut out),
            Err(EncodeError::InvalidTopicFilter)
        );
    }
}
