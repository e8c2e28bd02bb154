//! MQTT 5.0 properties (§2.2.2): read zero-copy, written through a builder.
//!
//! Invariants: a [`Properties`] value only exists after its bytes were validated, either by
//! [`Properties::parse`] (which every packet decoder calls) or by [`PropertiesBuilder`]; so
//! [`Properties::iter`] is infallible and never re-checks. Validation covers: known identifiers,
//! well-formed values (strings UTF-8 without U+0000), value ranges, the packets each property may
//! appear in, and duplicates (only User Property may repeat; Subscription Identifier may repeat in
//! PUBLISH).

use core::num::{NonZeroU16, NonZeroU32};

use super::Qos;
use super::error::{DecodeError, EncodeError};
use super::topic;
use super::wire::{self, Reader, Writer};

/// Where a property list appears: the packet, or the will properties in CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PropertyContext {
    /// CONNECT properties.
    Connect,
    /// Will properties in the CONNECT payload.
    Will,
    /// CONNACK.
    ConnAck,
    /// PUBLISH.
    Publish,
    /// PUBACK.
    PubAck,
    /// PUBREC.
    PubRec,
    /// PUBREL.
    PubRel,
    /// PUBCOMP.
    PubComp,
    /// SUBSCRIBE.
    Subscribe,
    /// SUBACK.
    SubAck,
    /// UNSUBSCRIBE.
    Unsubscribe,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

const fn bit(c: PropertyContext) -> u16 {
    1 << c as u16
}

const CONNECT: u16 = bit(PropertyContext::Connect);
const WILL: u16 = bit(PropertyContext::Will);
const CONNACK: u16 = bit(PropertyContext::ConnAck);
const PUBLISH: u16 = bit(PropertyContext::Publish);
const SUBSCRIBE: u16 = bit(PropertyContext::Subscribe);
const DISCONNECT: u16 = bit(PropertyContext::Disconnect);
const AUTH: u16 = bit(PropertyContext::Auth);
const ACKS: u16 = bit(PropertyContext::PubAck)
    | bit(PropertyContext::PubRec)
    | bit(PropertyContext::PubRel)
    | bit(PropertyContext::PubComp)
    | bit(PropertyContext::SubAck)
    | bit(PropertyContext::UnsubAck);
const ALL: u16 = 0x3fff;

/// The type of a property's value (§2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Byte,
    U16,
    U32,
    VarInt,
    Str,
    Bin,
    Pair,
}

macro_rules! property_ids {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $kind:ident, $ctx:expr; )*) => {
        /// A property identifier (MQTT 5.0 §2.2.2.2, table 2-4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum PropertyId {
            $( $(#[$doc])* $name = $value, )*
        }

        impl PropertyId {
            /// The identifier for its value, `None` if unknown.
            pub const fn from_u8(b: u8) -> Option<Self> {
                match b {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }

            const fn kind(self) -> Kind {
                match self { $( Self::$name => Kind::$kind, )* }
            }

            const fn contexts(self) -> u16 {
                match self { $( Self::$name => $ctx, )* }
            }
        }
    };
}

property_ids! {
    /// 0x01 Payload Format Indicator.
    PayloadFormatIndicator = 0x01, Byte, PUBLISH | WILL;
    /// 0x02 Message Expiry Interval.
    MessageExpiryInterval = 0x02, U32, PUBLISH | WILL;
    /// 0x03 Content Type.
    ContentType = 0x03, Str, PUBLISH | WILL;
    /// 0x08 Response Topic.
    ResponseTopic = 0x08, Str, PUBLISH | WILL;
    /// 0x09 Correlation Data.
    CorrelationData = 0x09, Bin, PUBLISH | WILL;
    /// 0x0B Subscription Identifier.
    SubscriptionIdentifier = 0x0B, VarInt, PUBLISH | SUBSCRIBE;
    /// 0x11 Session Expiry Interval.
    SessionExpiryInterval = 0x11, U32, CONNECT | CONNACK | DISCONNECT;
    /// 0x12 Assigned Client Identifier.
    AssignedClientIdentifier = 0x12, Str, CONNACK;
    /// 0x13 Server Keep Alive.
    ServerKeepAlive = 0x13, U16, CONNACK;
    /// 0x15 Authentication Method.
    AuthenticationMethod = 0x15, Str, CONNECT | CONNACK | AUTH;
    /// 0x16 Authentication Data.
    AuthenticationData = 0x16, Bin, CONNECT | CONNACK | AUTH;
    /// 0x17 Request Problem Information.
    RequestProblemInformation = 0x17, Byte, CONNECT;
    /// 0x18 Will Delay Interval.
    WillDelayInterval = 0x18, U32, WILL;
    /// 0x19 Request Response Information.
    RequestResponseInformation = 0x19, Byte, CONNECT;
    /// 0x1A Response Information.
    ResponseInformation = 0x1A, Str, CONNACK;
    /// 0x1C Server Reference.
    ServerReference = 0x1C, Str, CONNACK | DISCONNECT;
    /// 0x1F Reason String.
    ReasonString = 0x1F, Str, CONNACK | ACKS | DISCONNECT | AUTH;
    /// 0x21 Receive Maximum.
    ReceiveMaximum = 0x21, U16, CONNECT | CONNACK;
    /// 0x22 Topic Alias Maximum.
    TopicAliasMaximum = 0x22, U16, CONNECT | CONNACK;
    /// 0x23 Topic Alias.
    TopicAlias = 0x23, U16, PUBLISH;
    /// 0x24 Maximum QoS.
    MaximumQos = 0x24, Byte, CONNACK;
    /// 0x25 Retain Available.
    RetainAvailable = 0x25, Byte, CONNACK;
    /// 0x26 User Property.
    UserProperty = 0x26, Pair, ALL;
    /// 0x27 Maximum Packet Size.
    MaximumPacketSize = 0x27, U32, CONNECT | CONNACK;
    /// 0x28 Wildcard Subscription Available.
    WildcardSubscriptionAvailable = 0x28, Byte, CONNACK;
    /// 0x29 Subscription Identifier Available.
    SubscriptionIdentifierAvailable = 0x29, Byte, CONNACK;
    /// 0x2A Shared Subscription Available.
    SharedSubscriptionAvailable = 0x2A, Byte, CONNACK;
}

impl PropertyId {
    /// Whether a property list in `context` may carry this property [MQTT-2.2.2.2].
    pub const fn is_allowed_in(self, context: PropertyContext) -> bool {
        self.contexts() & bit(context) != 0
    }

    /// Whether the property may appear more than once in `context`.
    pub const fn may_repeat_in(self, context: PropertyContext) -> bool {
        matches!(self, PropertyId::UserProperty)
            || (matches!(self, PropertyId::SubscriptionIdentifier)
                && matches!(context, PropertyContext::Publish))
    }
}

/// Payload Format Indicator values [MQTT-3.3.2.3.2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PayloadFormat {
    /// 0: unspecified bytes.
    Unspecified,
    /// 1: UTF-8 encoded character data.
    Utf8,
}

/// One property with its value; strings and binary data borrow the packet.
///
/// The discriminant of each variant is its identifier, so [`Property::id`] is a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Property<'a> {
    /// 0x01 Payload Format Indicator.
    PayloadFormatIndicator(PayloadFormat) = 0x01,
    /// 0x02 Message Expiry Interval, seconds.
    MessageExpiryInterval(u32) = 0x02,
    /// 0x03 Content Type.
    ContentType(&'a str) = 0x03,
    /// 0x08 Response Topic.
    ResponseTopic(&'a str) = 0x08,
    /// 0x09 Correlation Data.
    CorrelationData(&'a [u8]) = 0x09,
    /// 0x0B Subscription Identifier, 1 to 268,435,455.
    SubscriptionIdentifier(NonZeroU32) = 0x0B,
    /// 0x11 Session Expiry Interval, seconds.
    SessionExpiryInterval(u32) = 0x11,
    /// 0x12 Assigned Client Identifier.
    AssignedClientIdentifier(&'a str) = 0x12,
    /// 0x13 Server Keep Alive, seconds.
    ServerKeepAlive(u16) = 0x13,
    /// 0x15 Authentication Method.
    AuthenticationMethod(&'a str) = 0x15,
    /// 0x16 Authentication Data.
    AuthenticationData(&'a [u8]) = 0x16,
    /// 0x17 Request Problem Information.
    RequestProblemInformation(bool) = 0x17,
    /// 0x18 Will Delay Interval, seconds.
    WillDelayInterval(u32) = 0x18,
    /// 0x19 Request Response Information.
    RequestResponseInformation(bool) = 0x19,
    /// 0x1A Response Information.
    ResponseInformation(&'a str) = 0x1A,
    /// 0x1C Server Reference.
    ServerReference(&'a str) = 0x1C,
    /// 0x1F Reason String.
    ReasonString(&'a str) = 0x1F,
    /// 0x21 Receive Maximum.
    ReceiveMaximum(NonZeroU16) = 0x21,
    /// 0x22 Topic Alias Maximum.
    TopicAliasMaximum(u16) = 0x22,
    /// 0x23 Topic Alias.
    TopicAlias(NonZeroU16) = 0x23,
    /// 0x24 Maximum QoS: [`Qos::AtMostOnce`] or [`Qos::AtLeastOnce`].
    MaximumQos(Qos) = 0x24,
    /// 0x25 Retain Available.
    RetainAvailable(bool) = 0x25,
    /// 0x26 User Property: name, value.
    UserProperty(&'a str, &'a str) = 0x26,
    /// 0x27 Maximum Packet Size, bytes.
    MaximumPacketSize(NonZeroU32) = 0x27,
    /// 0x28 Wildcard Subscription Available.
    WildcardSubscriptionAvailable(bool) = 0x28,
    /// 0x29 Subscription Identifier Available.
    SubscriptionIdentifierAvailable(bool) = 0x29,
    /// 0x2A Shared Subscription Available.
    SharedSubscriptionAvailable(bool) = 0x2A,
}

impl Property<'_> {
    /// The property's identifier.
    pub const fn id(&self) -> PropertyId {
        use Property as P;
        use PropertyId as I;
        match self {
            P::PayloadFormatIndicator(_) => I::PayloadFormatIndicator,
            P::MessageExpiryInterval(_) => I::MessageExpiryInterval,
            P::ContentType(_) => I::ContentType,
            P::ResponseTopic(_) => I::ResponseTopic,
            P::CorrelationData(_) => I::CorrelationData,
            P::SubscriptionIdentifier(_) => I::SubscriptionIdentifier,
            P::SessionExpiryInterval(_) => I::SessionExpiryInterval,
            P::AssignedClientIdentifier(_) => I::AssignedClientIdentifier,
            P::ServerKeepAlive(_) => I::ServerKeepAlive,
            P::AuthenticationMethod(_) => I::AuthenticationMethod,
            P::AuthenticationData(_) => I::AuthenticationData,
            P::RequestProblemInformation(_) => I::RequestProblemInformation,
            P::WillDelayInterval(_) => I::WillDelayInterval,
            P::RequestResponseInformation(_) => I::RequestResponseInformation,
            P::ResponseInformation(_) => I::ResponseInformation,
            P::ServerReference(_) => I::ServerReference,
            P::ReasonString(_) => I::ReasonString,
            P::ReceiveMaximum(_) => I::ReceiveMaximum,
            P::TopicAliasMaximum(_) => I::TopicAliasMaximum,
            P::TopicAlias(_) => I::TopicAlias,
            P::MaximumQos(_) => I::MaximumQos,
            P::RetainAvailable(_) => I::RetainAvailable,
            P::UserProperty(..) => I::UserProperty,
            P::MaximumPacketSize(_) => I::MaximumPacketSize,
            P::WildcardSubscriptionAvailable(_) => I::WildcardSubscriptionAvailable,
            P::SubscriptionIdentifierAvailable(_) => I::SubscriptionIdentifierAvailable,
            P::SharedSubscriptionAvailable(_) => I::SharedSubscriptionAvailable,
        }
    }
}

#[cfg(test)]
fn bool_value(id: PropertyId, b: u8) -> Result<bool, DecodeError> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        // Any other value is a Protocol Error (§3.1.2.11, §3.2.2.3).
        _ => Err(DecodeError::InvalidPropertyValue(id)),
    }
}

/// Reads one property from the front of `r`, checking its value: the straightforward reader
/// that the validation pass ([`check_property`]) and the iterator ([`read_valid`]) are tested
/// against.
#[cfg(test)]
fn read_property<'a>(r: &mut Reader<'a>) -> Result<Property<'a>, DecodeError> {
    // The identifier is a variable byte integer [MQTT-2.2.2.2]; every known one fits one byte.
    let raw = r.varint()?;
    let id = u8::try_from(raw)
        .ok()
        .and_then(PropertyId::from_u8)
        .ok_or(DecodeError::UnknownProperty(u16::try_from(raw).unwrap_or(u16::MAX)))?;
    let invalid = DecodeError::InvalidPropertyValue(id);
    use PropertyId as I;
    Ok(match id.kind() {
        Kind::Byte => {
            let b = r.u8()?;
            match id {
                // [MQTT-3.3.2.3.2] 0 or 1.
                I::PayloadFormatIndicator => Property::PayloadFormatIndicator(match b {
                    0 => PayloadFormat::Unspecified,
                    1 => PayloadFormat::Utf8,
                    _ => return Err(invalid),
                }),
                // §3.2.2.3.4: Maximum QoS other than 0 or 1 is a Protocol Error.
                I::MaximumQos => Property::MaximumQos(match b {
                    0 => Qos::AtMostOnce,
                    1 => Qos::AtLeastOnce,
                    _ => return Err(invalid),
                }),
                I::RequestProblemInformation => {
                    Property::RequestProblemInformation(bool_value(id, b)?)
                }
                I::RequestResponseInformation => {
                    Property::RequestResponseInformation(bool_value(id, b)?)
                }
                I::RetainAvailable => Property::RetainAvailable(bool_value(id, b)?),
                I::WildcardSubscriptionAvailable => {
                    Property::WildcardSubscriptionAvailable(bool_value(id, b)?)
                }
                I::SubscriptionIdentifierAvailable => {
                    Property::SubscriptionIdentifierAvailable(bool_value(id, b)?)
                }
                _ => Property::SharedSubscriptionAvailable(bool_value(id, b)?),
            }
        }
        Kind::U16 => {
            let v = r.u16()?;
            match id {
                I::ServerKeepAlive => Property::ServerKeepAlive(v),
                // §3.1.2.11.3: Receive Maximum 0 is a Protocol Error.
                I::ReceiveMaximum => Property::ReceiveMaximum(NonZeroU16::new(v).ok_or(invalid)?),
                I::TopicAliasMaximum => Property::TopicAliasMaximum(v),
                // [MQTT-3.3.2-8] Topic Alias 0 is a Protocol Error.
                _ => Property::TopicAlias(NonZeroU16::new(v).ok_or(invalid)?),
            }
        }
        Kind::U32 => {
            let v = r.u32()?;
            match id {
                I::MessageExpiryInterval => Property::MessageExpiryInterval(v),
                I::SessionExpiryInterval => Property::SessionExpiryInterval(v),
                I::WillDelayInterval => Property::WillDelayInterval(v),
                // §3.1.2.11.4: Maximum Packet Size 0 is a Protocol Error.
                _ => Property::MaximumPacketSize(NonZeroU32::new(v).ok_or(invalid)?),
            }
        }
        // §3.3.2.3.8: Subscription Identifier 0 is a Protocol Error.
        Kind::VarInt => {
            Property::SubscriptionIdentifier(NonZeroU32::new(r.varint()?).ok_or(invalid)?)
        }
        Kind::Str => {
            let s = r.string()?;
            match id {
                I::ContentType => Property::ContentType(s),
                // [MQTT-3.3.2-14] the Response Topic is a topic name: no wildcards.
                I::ResponseTopic => match topic::validate_topic_name(s) {
                    Ok(()) => Property::ResponseTopic(s),
                    Err(_) => return Err(invalid),
                },
                I::AssignedClientIdentifier => Property::AssignedClientIdentifier(s),
                I::AuthenticationMethod => Property::AuthenticationMethod(s),
                I::ResponseInformation => Property::ResponseInformation(s),
                I::ServerReference => Property::ServerReference(s),
                _ => Property::ReasonString(s),
            }
        }
        Kind::Bin => {
            let b = r.binary()?;
            match id {
                I::CorrelationData => Property::CorrelationData(b),
                _ => Property::AuthenticationData(b),
            }
        }
        Kind::Pair => {
            let k = r.string()?;
            let v = r.string()?;
            Property::UserProperty(k, v)
        }
    })
}

/// Reads one property from a list already validated by [`Properties::parse`] or built by
/// [`PropertiesBuilder`]: the value checks of [`check_property`] held, so they are not repeated
/// (only the conversion to `&str` checks UTF-8 again, as safe code must). `None` only if the
/// list ends.
#[inline]
fn read_valid<'a>(r: &mut Reader<'a>) -> Option<Property<'a>> {
    use Property as P;
    use PropertyId as I;
    let id = PropertyId::from_u8(r.u8().ok()?)?;
    Some(match id.kind() {
        Kind::Byte => {
            let set = r.u8().ok()? != 0;
            match id {
                I::PayloadFormatIndicator => P::PayloadFormatIndicator(if set {
                    PayloadFormat::Utf8
                } else {
                    PayloadFormat::Unspecified
                }),
                I::MaximumQos => {
                    P::MaximumQos(if set { Qos::AtLeastOnce } else { Qos::AtMostOnce })
                }
                I::RequestProblemInformation => P::RequestProblemInformation(set),
                I::RequestResponseInformation => P::RequestResponseInformation(set),
                I::RetainAvailable => P::RetainAvailable(set),
                I::WildcardSubscriptionAvailable => P::WildcardSubscriptionAvailable(set),
                I::SubscriptionIdentifierAvailable => P::SubscriptionIdentifierAvailable(set),
                _ => P::SharedSubscriptionAvailable(set),
            }
        }
        Kind::U16 => {
            let v = r.u16().ok()?;
            match id {
                I::ServerKeepAlive => P::ServerKeepAlive(v),
                I::ReceiveMaximum => P::ReceiveMaximum(NonZeroU16::new(v)?),
                I::TopicAliasMaximum => P::TopicAliasMaximum(v),
                _ => P::TopicAlias(NonZeroU16::new(v)?),
            }
        }
        Kind::U32 => {
            let v = r.u32().ok()?;
            match id {
                I::MessageExpiryInterval => P::MessageExpiryInterval(v),
                I::SessionExpiryInterval => P::SessionExpiryInterval(v),
                I::WillDelayInterval => P::WillDelayInterval(v),
                _ => P::MaximumPacketSize(NonZeroU32::new(v)?),
            }
        }
        Kind::VarInt => P::SubscriptionIdentifier(NonZeroU32::new(r.varint().ok()?)?),
        Kind::Str => {
            let s = core::str::from_utf8(r.binary().ok()?).ok()?;
            match id {
                I::ContentType => P::ContentType(s),
                I::ResponseTopic => P::ResponseTopic(s),
                I::AssignedClientIdentifier => P::AssignedClientIdentifier(s),
                I::AuthenticationMethod => P::AuthenticationMethod(s),
                I::ResponseInformation => P::ResponseInformation(s),
                I::ServerReference => P::ServerReference(s),
                _ => P::ReasonString(s),
            }
        }
        Kind::Bin => {
            let b = r.binary().ok()?;
            match id {
                I::CorrelationData => P::CorrelationData(b),
                _ => P::AuthenticationData(b),
            }
        }
        Kind::Pair => {
            let k = core::str::from_utf8(r.binary().ok()?).ok()?;
            let v = core::str::from_utf8(r.binary().ok()?).ok()?;
            P::UserProperty(k, v)
        }
    })
}

/// Checks one property at the front of `r` with the same rules as `read_property` (the test
/// reference), without building the [`Property`] value (the validation pass of
/// [`Properties::parse`]).
#[inline]
fn check_property(r: &mut Reader<'_>) -> Result<PropertyId, DecodeError> {
    let before = *r;
    let b = r.u8()?;
    let Some(id) = PropertyId::from_u8(b) else {
        // Unknown, or a multi-byte identifier: none is defined, so a well-formed one is unknown.
        let mut again = before;
        let raw = again.varint()?;
        return Err(DecodeError::UnknownProperty(u16::try_from(raw).unwrap_or(u16::MAX)));
    };
    let invalid = DecodeError::InvalidPropertyValue(id);
    use PropertyId as I;
    match id.kind() {
        // Every one-byte property is 0 or 1: Payload Format Indicator [MQTT-3.3.2.3.2],
        // Maximum QoS (§3.2.2.3.4) and the booleans (§3.1.2.11, §3.2.2.3).
        Kind::Byte => {
            if r.u8()? > 1 {
                return Err(invalid);
            }
        }
        Kind::U16 => {
            // §3.1.2.11.3 Receive Maximum 0, [MQTT-3.3.2-8] Topic Alias 0: Protocol Errors.
            if r.u16()? == 0 && matches!(id, I::ReceiveMaximum | I::TopicAlias) {
                return Err(invalid);
            }
        }
        Kind::U32 => {
            // §3.1.2.11.4: Maximum Packet Size 0 is a Protocol Error.
            if r.u32()? == 0 && id == I::MaximumPacketSize {
                return Err(invalid);
            }
        }
        // §3.3.2.3.8: Subscription Identifier 0 is a Protocol Error.
        Kind::VarInt => {
            if r.varint()? == 0 {
                return Err(invalid);
            }
        }
        Kind::Str => {
            let b = r.binary()?;
            let flags = wire::check_utf8(b)?;
            // [MQTT-3.3.2-14] the Response Topic is a topic name: no wildcards, not empty.
            if id == I::ResponseTopic && (b.is_empty() || flags & wire::found::WILDCARD != 0) {
                return Err(invalid);
            }
        }
        Kind::Bin => {
            r.binary()?;
        }
        Kind::Pair => {
            wire::check_utf8(r.binary()?)?;
            wire::check_utf8(r.binary()?)?;
        }
    }
    Ok(id)
}

/// A validated property list: the raw bytes after the Property Length, borrowed.
///
/// Obtain one from a decoded packet, from [`Properties::parse`] or from [`PropertiesBuilder`].
/// `Properties::default()` is the empty list.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Properties<'a> {
    raw: &'a [u8],
    /// Bit [`bit_of`]`(id)` set for each property present; [`REPEATED_SUB_ID`] if Subscription
    /// Identifier appears more than once. A function of `raw`, computed when the list is
    /// validated.
    present: u32,
}

/// Flag in [`Properties::present`]: more than one Subscription Identifier.
const REPEATED_SUB_ID: u32 = 1 << 31;

/// For each identifier byte, its position among the 27 defined identifiers (0 for unknown
/// bytes): the bit of [`Properties::present`] standing for it, so the set fits a `u32`.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range fails the build"
)]
const INDEX: [u8; 64] = {
    let mut table = [0u8; 64];
    let (mut id, mut n) = (0u8, 0u8);
    while id < 64 {
        if PropertyId::from_u8(id).is_some() {
            table[id as usize] = n;
            n += 1;
        }
        id += 1;
    }
    table
};

/// The identifier for each bit of [`Properties::present`] (the inverse of [`INDEX`]).
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range fails the build"
)]
const BY_INDEX: [u8; 32] = {
    let mut table = [0u8; 32];
    let mut id = 0u8;
    while id < 64 {
        if PropertyId::from_u8(id).is_some() {
            table[INDEX[id as usize] as usize] = id;
        }
        id += 1;
    }
    table
};

/// For each [`PropertyContext`], the bit set of property identifiers it allows.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range fails the build"
)]
const ALLOWED: [u32; 14] = {
    let mut table = [0u32; 14];
    let mut id = 0u8;
    while id < 64 {
        if let Some(p) = PropertyId::from_u8(id) {
            let mut c = 0;
            while c < 14 {
                if p.contexts() & (1 << c) != 0 {
                    table[c] |= bit_of(p);
                }
                c += 1;
            }
        }
        id += 1;
    }
    table
};

/// The bit set of property identifiers `context` allows.
#[allow(clippy::indexing_slicing, reason = "ALLOWED has one entry per PropertyContext")]
const fn allowed_in(context: PropertyContext) -> u32 {
    ALLOWED[context as usize]
}

/// The bit of [`Properties::present`] for `id`.
#[allow(clippy::indexing_slicing, reason = "masked to 0..64, the length of INDEX")]
const fn bit_of(id: PropertyId) -> u32 {
    // Identifiers are below 64, so the mask only spares a bounds check.
    1 << INDEX[id as usize & 63]
}

impl core::fmt::Debug for Properties<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> Properties<'a> {
    /// The empty property list.
    pub const EMPTY: Properties<'static> = Properties { raw: &[], present: 0 };

    /// Validates `raw` (the bytes after the Property Length) as the property list of `context`.
    // Out of line: the validation walker is linked once, not into every packet decoder.
    #[inline(never)]
    pub fn parse(raw: &'a [u8], context: PropertyContext) -> Result<Self, DecodeError> {
        let mut r = Reader::new(raw);
        let mut present: u32 = 0;
        // Bit sets, so each property costs two tests: what `is_allowed_in` and `may_repeat_in`
        // say for this context.
        let allowed = allowed_in(context);
        let repeatable = bit_of(PropertyId::UserProperty)
            | if matches!(context, PropertyContext::Publish) {
                bit_of(PropertyId::SubscriptionIdentifier)
            } else {
                0
            };
        while !r.is_empty() {
            let id = check_property(&mut r)?;
            let mask = bit_of(id);
            // [MQTT-2.2.2.2] a property not defined for this packet is a Protocol Error.
            if allowed & mask == 0 {
                return Err(DecodeError::PropertyNotAllowed(id));
            }
            if present & mask != 0 {
                if repeatable & mask == 0 {
                    return Err(DecodeError::DuplicateProperty(id));
                }
                if id == PropertyId::SubscriptionIdentifier {
                    present |= REPEATED_SUB_ID;
                }
            }
            present |= mask;
        }
        // §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3: Authentication Data without an Authentication
        // Method is a Protocol Error.
        if present & bit_of(PropertyId::AuthenticationData) != 0
            && present & bit_of(PropertyId::AuthenticationMethod) == 0
        {
            return Err(DecodeError::AuthenticationDataWithoutMethod);
        }
        Ok(Properties { raw, present })
    }

    /// Whether a property with identifier `id` is present.
    #[inline]
    pub const fn contains(&self, id: PropertyId) -> bool {
        self.present & bit_of(id) != 0
    }

    /// Reads a Property Length and the list it announces from `r`.
    #[inline]
    pub(crate) fn read(r: &mut Reader<'a>, context: PropertyContext) -> Result<Self, DecodeError> {
        let len = r.varint()?;
        let raw = r.bytes(len as usize)?;
        Self::parse(raw, context)
    }

    /// The raw bytes (without the Property Length).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// `true` if there are no properties.
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The properties in wire order.
    pub fn iter(&self) -> PropertiesIter<'a> {
        PropertiesIter { r: Reader::new(self.raw) }
    }

    /// The first property with identifier `id`.
    pub fn get(&self, id: PropertyId) -> Option<Property<'a>> {
        if !self.contains(id) {
            return None;
        }
        self.iter().find(|p| p.id() == id)
    }

    /// The User Properties (name, value) in wire order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k, v)),
            _ => None,
        })
    }

    /// The Subscription Identifiers in wire order (several in a PUBLISH, at most one elsewhere).
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = NonZeroU32> + 'a {
        self.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(id),
            _ => None,
        })
    }

    /// Bytes on the wire: the Property Length plus the list.
    pub(crate) fn wire_len(&self) -> usize {
        wire::varint_len(self.raw.len()) + self.raw.len()
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.varint(self.raw.len());
        w.bytes(self.raw);
    }

    /// Checks that every property may be sent in `context` (encode side).
    pub(crate) fn check(&self, context: PropertyContext) -> Result<(), EncodeError> {
        let ids = self.present & !REPEATED_SUB_ID;
        let bad = ids & !allowed_in(context);
        if bad != 0 {
            let first = BY_INDEX.get(bad.trailing_zeros() as usize).copied().unwrap_or(0);
            if let Some(id) = PropertyId::from_u8(first) {
                return Err(EncodeError::PropertyNotAllowed(id));
            }
        }
        if self.present & REPEATED_SUB_ID != 0 && context != PropertyContext::Publish {
            return Err(EncodeError::DuplicateProperty(PropertyId::SubscriptionIdentifier));
        }
        if ids & bit_of(PropertyId::AuthenticationData) != 0
            && ids & bit_of(PropertyId::AuthenticationMethod) == 0
        {
            return Err(EncodeError::AuthenticationDataWithoutMethod);
        }
        Ok(())
    }
}

macro_rules! getters {
    ($( $(#[$doc:meta])* $fn:ident: $variant:ident -> $ty:ty; )*) => {
        /// Typed accessors for the properties that appear at most once.
        impl<'a> Properties<'a> {
            $(
                $(#[$doc])*
                pub fn $fn(&self) -> Option<$ty> {
                    match self.get(PropertyId::$variant) {
                        Some(Property::$variant(v)) => Some(v),
                        _ => None,
                    }
                }
            )*
        }
    };
}

getters! {
    /// Payload Format Indicator.
    payload_format_indicator: PayloadFormatIndicator -> PayloadFormat;
    /// Message Expiry Interval, seconds.
    message_expiry_interval: MessageExpiryInterval -> u32;
    /// Content Type.
    content_type: ContentType -> &'a str;
    /// Response Topic.
    response_topic: ResponseTopic -> &'a str;
    /// Correlation Data.
    correlation_data: CorrelationData -> &'a [u8];
    /// Session Expiry Interval, seconds.
    session_expiry_interval: SessionExpiryInterval -> u32;
    /// Assigned Client Identifier.
    assigned_client_identifier: AssignedClientIdentifier -> &'a str;
    /// Server Keep Alive, seconds.
    server_keep_alive: ServerKeepAlive -> u16;
    /// Authentication Method.
    authentication_method: AuthenticationMethod -> &'a str;
    /// Authentication Data.
    authentication_data: AuthenticationData -> &'a [u8];
    /// Request Problem Information.
    request_problem_information: RequestProblemInformation -> bool;
    /// Will Delay Interval, seconds.
    will_delay_interval: WillDelayInterval -> u32;
    /// Request Response Information.
    request_response_information: RequestResponseInformation -> bool;
    /// Response Information.
    response_information: ResponseInformation -> &'a str;
    /// Server Reference.
    server_reference: ServerReference -> &'a str;
    /// Reason String.
    reason_string: ReasonString -> &'a str;
    /// Receive Maximum.
    receive_maximum: ReceiveMaximum -> NonZeroU16;
    /// Topic Alias Maximum.
    topic_alias_maximum: TopicAliasMaximum -> u16;
    /// Topic Alias.
    topic_alias: TopicAlias -> NonZeroU16;
    /// Maximum QoS.
    maximum_qos: MaximumQos -> Qos;
    /// Retain Available.
    retain_available: RetainAvailable -> bool;
    /// Maximum Packet Size, bytes.
    maximum_packet_size: MaximumPacketSize -> NonZeroU32;
    /// Wildcard Subscription Available.
    wildcard_subscription_available: WildcardSubscriptionAvailable -> bool;
    /// Subscription Identifier Available.
    subscription_identifier_available: SubscriptionIdentifierAvailable -> bool;
    /// Shared Subscription Available.
    shared_subscription_available: SharedSubscriptionAvailable -> bool;
}

impl<'a> Properties<'a> {
    /// Each property's identifier with its integer value (0 for strings, binary data and User
    /// Properties), in wire order: for lookups of numbers that need no [`Property`] value, so
    /// they link neither the iterator's conversions nor its UTF-8 checks.
    pub(crate) fn ints(&self) -> IntsIter<'a> {
        IntsIter { r: Reader::new(self.raw) }
    }

    /// The integer value of the first property `id` (see [`Properties::ints`]).
    pub(crate) fn int(&self, id: PropertyId) -> Option<u32> {
        if !self.contains(id) {
            return None;
        }
        self.ints().find(|&(i, _)| i == id).map(|(_, v)| v)
    }
}

/// Iterator of [`Properties::ints`] over a validated list.
pub(crate) struct IntsIter<'a> {
    r: Reader<'a>,
}

impl Iterator for IntsIter<'_> {
    type Item = (PropertyId, u32);
    fn next(&mut self) -> Option<(PropertyId, u32)> {
        let r = &mut self.r;
        let id = PropertyId::from_u8(r.u8().ok()?)?;
        let v = match id.kind() {
            Kind::Byte => u32::from(r.u8().ok()?),
            Kind::U16 => u32::from(r.u16().ok()?),
            Kind::U32 => r.u32().ok()?,
            Kind::VarInt => r.varint().ok()?,
            Kind::Str | Kind::Bin => {
                r.binary().ok()?;
                0
            }
            Kind::Pair => {
                r.binary().ok()?;
                r.binary().ok()?;
                0
            }
        };
        Some((id, v))
    }
}

impl<'a> IntoIterator for Properties<'a> {
    type Item = Property<'a>;
    type IntoIter = PropertiesIter<'a>;
    fn into_iter(self) -> PropertiesIter<'a> {
        self.iter()
    }
}

/// Iterator over a validated [`Properties`] list; never fails.
#[derive(Debug, Clone)]
pub struct PropertiesIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for PropertiesIter<'a> {
    type Item = Property<'a>;
    #[inline]
    fn next(&mut self) -> Option<Property<'a>> {
        if self.r.is_empty() {
            return None;
        }
        // The list was validated when the `Properties` was made, so this cannot fail; should it
        // ever, iteration simply ends.
        read_valid(&mut self.r)
    }
}

/// Writes a property list into a caller buffer and hands back the [`Properties`] view.
///
/// Values are checked as they are pushed (ranges, string lengths, U+0000, duplicates); whether a
/// property may appear in a given packet is checked when the packet is encoded.
///
/// ```
/// use mqtt_ws::mqtt::properties::{Property, PropertiesBuilder};
/// let mut buf = [0u8; 64];
/// let mut b = PropertiesBuilder::new(&mut buf);
/// b.push(Property::MessageExpiryInterval(60))?.push(Property::UserProperty("k", "v"))?;
/// let props = b.finish();
/// assert_eq!(props.iter().count(), 2);
/// # Ok::<(), mqtt_ws::mqtt::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct PropertiesBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    seen: u32,
}

impl<'b> PropertiesBuilder<'b> {
    /// A builder writing into `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0, seen: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `p`. On error nothing was appended.
    pub fn push(&mut self, p: Property<'_>) -> Result<&mut Self, EncodeError> {
        let id = p.id();
        let mask = bit_of(id);
        let repeatable =
            matches!(id, PropertyId::UserProperty | PropertyId::SubscriptionIdentifier);
        if self.seen & mask != 0 && !repeatable {
            return Err(EncodeError::DuplicateProperty(id));
        }
        let invalid = EncodeError::InvalidPropertyValue(id);
        let value_len = match p {
            Property::PayloadFormatIndicator(_)
            | Property::RequestProblemInformation(_)
            | Property::RequestResponseInformation(_)
            | Property::RetainAvailable(_)
            | Property::WildcardSubscriptionAvailable(_)
            | Property::SubscriptionIdentifierAvailable(_)
            | Property::SharedSubscriptionAvailable(_) => 1,
            Property::MaximumQos(q) => {
                if q == Qos::ExactlyOnce {
                    return Err(invalid);
                }
                1
            }
            Property::ServerKeepAlive(_)
            | Property::ReceiveMaximum(_)
            | Property::TopicAliasMaximum(_)
            | Property::TopicAlias(_) => 2,
            Property::MessageExpiryInterval(_)
            | Property::SessionExpiryInterval(_)
            | Property::WillDelayInterval(_)
            | Property::MaximumPacketSize(_) => 4,
            Property::SubscriptionIdentifier(v) => {
                let v = v.get() as usize;
                if v > wire::MAX_REMAINING_LEN {
                    return Err(invalid);
                }
                wire::varint_len(v)
            }
            Property::ResponseTopic(s) => {
                // [MQTT-3.3.2-14] a topic name without wildcards.
                topic::validate_topic_name(s).map_err(|_| invalid)?;
                wire::check_str(s)?
            }
            Property::ContentType(s)
            | Property::AssignedClientIdentifier(s)
            | Property::AuthenticationMethod(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s) => wire::check_str(s)?,
            Property::CorrelationData(b) | Property::AuthenticationData(b) => {
                wire::prefixed_len(b.len())?
            }
            Property::UserProperty(k, v) => wire::check_str(k)? + wire::check_str(v)?,
        };
        let required = self.len + 1 + value_len;
        let Some(out) = self.buf.get_mut(self.len..required) else {
            return Err(EncodeError::BufferTooSmall { required });
        };
        let mut w = Writer::new(out);
        w.u8(id as u8);
        write_value(&mut w, &p);
        self.len = required;
        if self.seen & mask != 0 && id == PropertyId::SubscriptionIdentifier {
            self.seen |= REPEATED_SUB_ID;
        }
        self.seen |= mask;
        Ok(self)
    }

    /// A builder that starts with the valid list `p`, copied into `buf` (to append to it).
    pub(crate) fn starting_with(
        buf: &'b mut [u8],
        p: &Properties<'_>,
    ) -> Result<Self, EncodeError> {
        let raw = p.as_bytes();
        let Some(dst) = buf.get_mut(..raw.len()) else {
            return Err(EncodeError::BufferTooSmall { required: raw.len() });
        };
        dst.copy_from_slice(raw);
        Ok(Self { buf, len: raw.len(), seen: p.present })
    }

    /// Appends property `id` with the value bytes `fixed` followed by the length-prefixed
    /// `prefixed` (none, or a string, binary data, a User Property's name and value), for lists
    /// the crate writes itself: the caller knows the value is in range and `id` not a duplicate,
    /// and checked strings with `wire::check_str`. A smaller path than [`Self::push`]'s match
    /// over every property. On error nothing was appended.
    pub(crate) fn put(
        &mut self,
        id: PropertyId,
        fixed: &[u8],
        prefixed: &[&[u8]],
    ) -> Result<(), EncodeError> {
        let mut value_len = fixed.len();
        for b in prefixed {
            value_len += wire::prefixed_len(b.len())?;
        }
        let required = self.len + 1 + value_len;
        let Some(out) = self.buf.get_mut(self.len..required) else {
            return Err(EncodeError::BufferTooSmall { required });
        };
        let mut w = Writer::new(out);
        w.u8(id as u8);
        w.bytes(fixed);
        for b in prefixed {
            w.binary(b);
        }
        self.len = required;
        self.seen |= bit_of(id);
        Ok(())
    }

    /// The finished list, borrowing the builder's buffer.
    pub fn finish(self) -> Properties<'b> {
        let buf: &'b [u8] = self.buf;
        // `len` never exceeds the buffer (every write checked it).
        Properties { raw: buf.get(..self.len).unwrap_or_default(), present: self.seen }
    }
}

fn write_value(w: &mut Writer<'_>, p: &Property<'_>) {
    match *p {
        Property::PayloadFormatIndicator(f) => w.u8(f as u8),
        Property::MaximumQos(q) => w.u8(q.as_u8()),
        Property::RequestProblemInformation(b)
        | Property::RequestResponseInformation(b)
        | Property::RetainAvailable(b)
        | Property::WildcardSubscriptionAvailable(b)
        | Property::SubscriptionIdentifierAvailable(b)
        | Property::SharedSubscriptionAvailable(b) => w.u8(u8::from(b)),
        Property::ServerKeepAlive(v) | Property::TopicAliasMaximum(v) => w.u16(v),
        Property::ReceiveMaximum(v) | Property::TopicAlias(v) => w.u16(v.get()),
        Property::MessageExpiryInterval(v)
        | Property::SessionExpiryInterval(v)
        | Property::WillDelayInterval(v) => w.u32(v),
        Property::MaximumPacketSize(v) => w.u32(v.get()),
        Property::SubscriptionIdentifier(v) => w.varint(v.get() as usize),
        Property::ContentType(s)
        | Property::ResponseTopic(s)
        | Property::AssignedClientIdentifier(s)
        | Property::AuthenticationMethod(s)
        | Property::ResponseInformation(s)
        | Property::ServerReference(s)
        | Property::ReasonString(s) => w.string(s),
        Property::CorrelationData(b) | Property::AuthenticationData(b) => w.binary(b),
        Property::UserProperty(k, v) => {
            w.string(k);
            w.string(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz16(v: u16) -> NonZeroU16 {
        NonZeroU16::new(v).unwrap()
    }
    fn nz32(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    /// One of each of the 27 properties.
    fn all() -> [Property<'static>; 27] {
        use Property as P;
        [
            P::PayloadFormatIndicator(PayloadFormat::Utf8),
            P::MessageExpiryInterval(10),
            P::ContentType("text/plain"),
            P::ResponseTopic("r/t"),
            P::CorrelationData(b"\x01\x02"),
            P::SubscriptionIdentifier(nz32(300)),
            P::SessionExpiryInterval(3600),
            P::AssignedClientIdentifier("abc"),
            P::ServerKeepAlive(30),
            P::AuthenticationMethod("SCRAM"),
            P::AuthenticationData(b"x"),
            P::RequestProblemInformation(false),
            P::WillDelayInterval(5),
            P::RequestResponseInformation(true),
            P::ResponseInformation("resp"),
            P::ServerReference("other"),
            P::ReasonString("why"),
            P::ReceiveMaximum(nz16(10)),
            P::TopicAliasMaximum(5),
            P::TopicAlias(nz16(3)),
            P::MaximumQos(Qos::AtLeastOnce),
            P::RetainAvailable(true),
            P::UserProperty("k", "v"),
            P::MaximumPacketSize(nz32(1024)),
            P::WildcardSubscriptionAvailable(false),
            P::SubscriptionIdentifierAvailable(true),
            P::SharedSubscriptionAvailable(true),
        ]
    }

    fn context_for(id: PropertyId) -> PropertyContext {
        use PropertyContext as C;
        [C::Connect, C::Will, C::ConnAck, C::Publish, C::Disconnect, C::Auth, C::Subscribe]
            .into_iter()
            .find(|c| id.is_allowed_in(*c))
            .unwrap()
    }

    #[test]
    fn every_property_round_trips() {
        for p in all() {
            let mut buf = [0u8; 32];
            let mut b = PropertiesBuilder::new(&mut buf);
            // Authentication Data needs an Authentication Method beside it.
            let method = Property::AuthenticationMethod("m");
            if p.id() == PropertyId::AuthenticationData {
                b.push(method).unwrap();
            }
            b.push(p).unwrap();
            let props = b.finish();
            let parsed = Properties::parse(props.as_bytes(), context_for(p.id())).unwrap();
            let got = parsed.iter().collect::<heapless::Vec<_, 2>>();
            if p.id() == PropertyId::AuthenticationData {
                assert_eq!(got.as_slice(), &[method, p]);
            } else {
                assert_eq!(props.as_bytes()[0], p.id() as u8);
                assert_eq!(got.as_slice(), &[p]);
            }
        }
    }

    #[test]
    fn ints_give_every_identifier_and_number_as_the_iterator_does() {
        let mut buf = [0u8; 256];
        let mut b = PropertiesBuilder::new(&mut buf);
        for p in all() {
            b.push(p).unwrap();
        }
        let props = b.finish();
        let number = |p: Property<'_>| match p {
            Property::PayloadFormatIndicator(f) => f as u32,
            Property::MaximumQos(q) => u32::from(q.as_u8()),
            Property::RequestProblemInformation(b)
            | Property::RequestResponseInformation(b)
            | Property::RetainAvailable(b)
            | Property::WildcardSubscriptionAvailable(b)
            | Property::SubscriptionIdentifierAvailable(b)
            | Property::SharedSubscriptionAvailable(b) => u32::from(b),
            Property::ServerKeepAlive(v) | Property::TopicAliasMaximum(v) => u32::from(v),
            Property::ReceiveMaximum(v) | Property::TopicAlias(v) => u32::from(v.get()),
            Property::MessageExpiryInterval(v)
            | Property::SessionExpiryInterval(v)
            | Property::WillDelayInterval(v) => v,
            Property::MaximumPacketSize(v) | Property::SubscriptionIdentifier(v) => v.get(),
            _ => 0,
        };
        assert!(props.ints().eq(all().into_iter().map(|p| (p.id(), number(p)))));
        for p in all() {
            assert_eq!(props.int(p.id()), Some(number(p)));
        }
        let empty = Properties::EMPTY;
        assert_eq!(empty.int(PropertyId::TopicAlias), None);
        assert_eq!(empty.ints().count(), 0);
    }

    #[test]
    fn iterator_reads_every_property_as_read_property_does() {
        let mut buf = [0u8; 256];
        let mut b = PropertiesBuilder::new(&mut buf);
        for p in all() {
            b.push(p).unwrap();
        }
        let props = b.finish();
        assert!(props.iter().eq(all()));
        assert_iter_matches_reading(props);
    }

    #[test]
    fn typed_getters() {
        let raw = [0x21, 0, 10, 0x24, 1, 0x0B, 5, 0x26, 0, 1, b'k', 0, 1, b'v'];
        let p = Properties::parse(&raw[..5], PropertyContext::ConnAck).unwrap();
        assert_eq!(p.receive_maximum(), Some(nz16(10)));
        assert_eq!(p.maximum_qos(), Some(Qos::AtLeastOnce));
        assert_eq!(p.retain_available(), None);
        let p = Properties::parse(&raw[5..], PropertyContext::Publish).unwrap();
        assert_eq!(p.subscription_identifiers().collect::<heapless::Vec<_, 2>>(), [nz32(5)]);
        assert_eq!(p.user_properties().next(), Some(("k", "v")));
        assert!(p.contains(PropertyId::UserProperty));
        assert!(!p.contains(PropertyId::TopicAlias));
    }

    /// Each identifier has its own bit below [`REPEATED_SUB_ID`], and [`BY_INDEX`] maps it back.
    #[test]
    fn present_bits() {
        let mut seen = 0u32;
        for p in all() {
            let bit = bit_of(p.id());
            assert_eq!(bit.count_ones(), 1);
            assert_eq!(seen & bit, 0, "{:?}", p.id());
            assert_eq!(bit & REPEATED_SUB_ID, 0);
            assert_eq!(BY_INDEX[bit.trailing_zeros() as usize], p.id() as u8);
            seen |= bit;
        }
        assert_eq!(seen.count_ones(), 27);
    }

    #[test]
    fn wire_bytes() {
        let mut buf = [0u8; 32];
        let mut b = PropertiesBuilder::new(&mut buf);
        b.push(Property::SubscriptionIdentifier(nz32(300))).unwrap();
        b.push(Property::UserProperty("a", "b")).unwrap();
        assert_eq!(b.finish().as_bytes(), &[0x0B, 0xAC, 0x02, 0x26, 0, 1, b'a', 0, 1, b'b']);
    }

    #[test]
    fn context_rules() {
        // Topic Alias in CONNECT.
        assert_eq!(
            Properties::parse(&[0x23, 0, 1], PropertyContext::Connect),
            Err(DecodeError::PropertyNotAllowed(PropertyId::TopicAlias))
        );
        // Will Delay Interval only in will properties.
        assert!(Properties::parse(&[0x18, 0, 0, 0, 1], PropertyContext::Will).is_ok());
        assert_eq!(
            Properties::parse(&[0x18, 0, 0, 0, 1], PropertyContext::Publish),
            Err(DecodeError::PropertyNotAllowed(PropertyId::WillDelayInterval))
        );
    }

    /// The bit sets [`Properties::parse`] checks against agree with `is_allowed_in` and
    /// `may_repeat_in` for every property in every context, once and twice.
    #[test]
    fn parse_follows_context_and_repeat_rules() {
        use PropertyContext as C;
        let contexts = [
            C::Connect,
            C::Will,
            C::ConnAck,
            C::Publish,
            C::PubAck,
            C::PubRec,
            C::PubRel,
            C::PubComp,
            C::Subscribe,
            C::SubAck,
            C::Unsubscribe,
            C::UnsubAck,
            C::Disconnect,
            C::Auth,
        ];
        for p in all() {
            let id = p.id();
            let mut buf = [0u8; 32];
            let mut b = PropertiesBuilder::new(&mut buf);
            b.push(p).unwrap();
            let one = b.finish().as_bytes();
            let mut twice = [0u8; 64];
            twice[..one.len()].copy_from_slice(one);
            twice[one.len()..2 * one.len()].copy_from_slice(one);
            let twice = &twice[..2 * one.len()];
            for c in contexts {
                let auth_data_alone = id == PropertyId::AuthenticationData;
                let expected_one = if !id.is_allowed_in(c) {
                    Err(DecodeError::PropertyNotAllowed(id))
                } else if auth_data_alone {
                    Err(DecodeError::AuthenticationDataWithoutMethod)
                } else {
                    Ok(())
                };
                assert_eq!(Properties::parse(one, c).map(|_| ()), expected_one, "{id:?} {c:?}");
                let expected_twice = if !id.is_allowed_in(c) {
                    Err(DecodeError::PropertyNotAllowed(id))
                } else if !id.may_repeat_in(c) {
                    Err(DecodeError::DuplicateProperty(id))
                } else {
                    Ok(())
                };
                assert_eq!(Properties::parse(twice, c).map(|_| ()), expected_twice, "{id:?} {c:?}");
            }
        }
    }

    #[test]
    fn duplicates() {
        let twice = [0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2];
        assert_eq!(
            Properties::parse(&twice, PropertyContext::Publish),
            Err(DecodeError::DuplicateProperty(PropertyId::MessageExpiryInterval))
        );
        let users = [0x26, 0, 1, b'a', 0, 0, 0x26, 0, 1, b'a', 0, 0];
        assert_eq!(Properties::parse(&users, PropertyContext::PubAck).unwrap().iter().count(), 2);
        let sub_ids = [0x0B, 1, 0x0B, 2];
        assert!(Properties::parse(&sub_ids, PropertyContext::Publish).is_ok());
        assert_eq!(
            Properties::parse(&sub_ids, PropertyContext::Subscribe),
            Err(DecodeError::DuplicateProperty(PropertyId::SubscriptionIdentifier))
        );
        let mut buf = [0u8; 16];
        let mut b = PropertiesBuilder::new(&mut buf);
        b.push(Property::TopicAlias(nz16(1))).unwrap();
        assert_eq!(
            b.push(Property::TopicAlias(nz16(2))).unwrap_err(),
            EncodeError::DuplicateProperty(PropertyId::TopicAlias)
        );
    }

    #[test]
    fn value_rules() {
        use PropertyContext as C;
        let cases: &[(&[u8], C, PropertyId)] = &[
            (&[0x21, 0, 0], C::Connect, PropertyId::ReceiveMaximum),
            (&[0x24, 2], C::ConnAck, PropertyId::MaximumQos),
            (&[0x01, 2], C::Publish, PropertyId::PayloadFormatIndicator),
            (&[0x23, 0, 0], C::Publish, PropertyId::TopicAlias),
            (&[0x0B, 0], C::Subscribe, PropertyId::SubscriptionIdentifier),
            (&[0x27, 0, 0, 0, 0], C::Connect, PropertyId::MaximumPacketSize),
            (&[0x17, 2], C::Connect, PropertyId::RequestProblemInformation),
            (&[0x19, 2], C::Connect, PropertyId::RequestResponseInformation),
            (&[0x25, 2], C::ConnAck, PropertyId::RetainAvailable),
            (&[0x28, 2], C::ConnAck, PropertyId::WildcardSubscriptionAvailable),
            (&[0x29, 2], C::ConnAck, PropertyId::SubscriptionIdentifierAvailable),
            (&[0x2A, 2], C::ConnAck, PropertyId::SharedSubscriptionAvailable),
        ];
        for &(raw, c, id) in cases {
            let e = Properties::parse(raw, c).unwrap_err();
            assert_eq!(e, DecodeError::InvalidPropertyValue(id));
            assert_eq!(e.reason_code(), crate::mqtt::ReasonCode::ProtocolError);
        }
    }

    #[test]
    fn authentication_data_needs_a_method() {
        let data_only = [0x16, 0, 1, b'x'];
        assert_eq!(
            Properties::parse(&data_only, PropertyContext::Connect),
            Err(DecodeError::AuthenticationDataWithoutMethod)
        );
        let both = [0x16, 0, 1, b'x', 0x15, 0, 1, b'm'];
        assert!(Properties::parse(&both, PropertyContext::Auth).is_ok());
        let mut buf = [0u8; 8];
        let mut b = PropertiesBuilder::new(&mut buf);
        b.push(Property::AuthenticationData(b"x")).unwrap();
        assert_eq!(
            b.finish().check(PropertyContext::Connect),
            Err(EncodeError::AuthenticationDataWithoutMethod)
        );
    }

    #[test]
    fn response_topic_is_a_topic_name() {
        assert_eq!(
            Properties::parse(&[0x08, 0, 1, b'#'], PropertyContext::Publish),
            Err(DecodeError::InvalidPropertyValue(PropertyId::ResponseTopic))
        );
        assert_eq!(
            Properties::parse(&[0x08, 0, 0], PropertyContext::Will),
            Err(DecodeError::InvalidPropertyValue(PropertyId::ResponseTopic))
        );
        let mut buf = [0u8; 8];
        assert_eq!(
            PropertiesBuilder::new(&mut buf).push(Property::ResponseTopic("a/+")).unwrap_err(),
            EncodeError::InvalidPropertyValue(PropertyId::ResponseTopic)
        );
    }

    /// `Properties::parse` as first written: through `read_property`, building every value.
    fn parse_by_reading(raw: &[u8], context: PropertyContext) -> Result<u32, DecodeError> {
        let mut r = Reader::new(raw);
        let mut present = 0u32;
        while !r.is_empty() {
            let id = read_property(&mut r)?.id();
            if !id.is_allowed_in(context) {
                return Err(DecodeError::PropertyNotAllowed(id));
            }
            if present & bit_of(id) != 0 && !id.may_repeat_in(context) {
                return Err(DecodeError::DuplicateProperty(id));
            }
            present |= bit_of(id);
        }
        if present & bit_of(PropertyId::AuthenticationData) != 0
            && present & bit_of(PropertyId::AuthenticationMethod) == 0
        {
            return Err(DecodeError::AuthenticationDataWithoutMethod);
        }
        Ok(present)
    }

    /// The infallible iterator yields what `read_property` reads from a validated list.
    fn assert_iter_matches_reading(props: Properties<'_>) {
        let mut r = Reader::new(props.as_bytes());
        let mut it = props.iter();
        while !r.is_empty() {
            assert_eq!(it.next(), Some(read_property(&mut r).unwrap()));
        }
        assert_eq!(it.next(), None);
    }

    #[test]
    fn validation_pass_agrees_with_reading() {
        use PropertyContext as C;
        let contexts = [C::Publish, C::Will, C::Connect, C::ConnAck, C::Subscribe];
        let mut buf = [0u8; 4];
        // Every identifier byte with every following two bytes, and a few longer tails.
        for id in 0..=255u8 {
            for v in
                [0u8, 1, 0x7f, 0x80, 0xff].into_iter().flat_map(|h| (0..=255).map(move |l| [h, l]))
            {
                buf[0] = id;
                buf[1..3].copy_from_slice(&v);
                for len in [1, 2, 3] {
                    let raw = &buf[..len];
                    for c in contexts {
                        let want = parse_by_reading(raw, c);
                        let parsed = Properties::parse(raw, c);
                        if let Ok(p) = parsed {
                            assert_iter_matches_reading(p);
                        }
                        let got = parsed.map(|p| p.present & !REPEATED_SUB_ID);
                        assert_eq!(got, want, "{raw:?} in {c:?}");
                    }
                }
            }
        }
        let lists: &[&[u8]] = &[
            &[0x08, 0, 3, b'a', b'/', b'b'],
            &[0x08, 0, 3, b'a', b'/', b'+'],
            &[0x08, 0, 1, 0],
            &[0x26, 0, 1, b'k', 0, 1, 0xFF],
            &[0x26, 0, 1, b'k', 0, 1, 0],
            // Non-ASCII strings: valid, a surrogate, cut short after a full ASCII word.
            &[0x03, 0, 2, 0xC3, 0xA9],
            &[0x26, 0, 1, b'k', 0, 3, 0xED, 0xA0, 0x80],
            &[0x08, 0, 10, b'a', b'/', b'b', b'c', b'd', b'e', b'f', b'g', 0xE2, 0x82],
            &[0x08, 0, 10, b'a', b'/', b'b', b'c', b'd', b'e', b'f', b'g', 0xC3, 0xA9],
            &[0x26, 0, 2, 0xC3, 0xA9, 0, 1, 0],
            &[0x27, 0, 0, 0, 1],
            &[0x0B, 0x80, 0x01, 0x0B, 0x80, 0x00],
            &[0x80, 0x01, 0],
            &[0x81, 0x00],
            &[0x80, 0x80, 0x80, 0x80],
        ];
        for raw in lists {
            for c in contexts {
                if let Ok(p) = Properties::parse(raw, c) {
                    assert_iter_matches_reading(p);
                }
                let got = Properties::parse(raw, c).map(|p| p.present & !REPEATED_SUB_ID);
                assert_eq!(got, parse_by_reading(raw, c), "{raw:?} in {c:?}");
            }
        }
    }

    #[test]
    fn malformed() {
        // Unknown identifier.
        assert_eq!(
            Properties::parse(&[0x04, 0], PropertyContext::Publish),
            Err(DecodeError::UnknownProperty(4))
        );
        // Value runs past the list.
        assert_eq!(
            Properties::parse(&[0x02, 0, 0], PropertyContext::Publish),
            Err(DecodeError::Truncated)
        );
        // Invalid UTF-8 in a string value.
        assert_eq!(
            Properties::parse(&[0x03, 0, 1, 0xFF], PropertyContext::Publish),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn builder_too_small_writes_nothing() {
        let mut buf = [0u8; 4];
        let mut b = PropertiesBuilder::new(&mut buf);
        assert_eq!(
            b.push(Property::MessageExpiryInterval(1)).unwrap_err(),
            EncodeError::BufferTooSmall { required: 5 }
        );
        assert!(b.is_empty());
        assert_eq!(
            b.push(Property::MaximumQos(Qos::ExactlyOnce)).unwrap_err(),
            EncodeError::InvalidPropertyValue(PropertyId::MaximumQos)
        );
        assert_eq!(b.push(Property::ContentType("a\0")).unwrap_err(), EncodeError::NullCharacter);
    }

    #[test]
    fn put_writes_what_push_writes() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        let mut pushed = PropertiesBuilder::new(&mut a);
        pushed
            .push(Property::SessionExpiryInterval(7))
            .unwrap()
            .push(Property::ReceiveMaximum(nz16(5)))
            .unwrap()
            .push(Property::RequestProblemInformation(false))
            .unwrap()
            .push(Property::UserProperty("k", "v"))
            .unwrap()
            .push(Property::UserProperty("k", "w"))
            .unwrap()
            .push(Property::AuthenticationMethod("m"))
            .unwrap()
            .push(Property::AuthenticationData(b"d"))
            .unwrap();
        let mut put = PropertiesBuilder::new(&mut b);
        put.put(PropertyId::SessionExpiryInterval, &7u32.to_be_bytes(), &[]).unwrap();
        put.put(PropertyId::ReceiveMaximum, &5u16.to_be_bytes(), &[]).unwrap();
        put.put(PropertyId::RequestProblemInformation, &[0], &[]).unwrap();
        put.put(PropertyId::UserProperty, &[], &[b"k", b"v"]).unwrap();
        put.put(PropertyId::UserProperty, &[], &[b"k", b"w"]).unwrap();
        put.put(PropertyId::AuthenticationMethod, &[], &[b"m"]).unwrap();
        put.put(PropertyId::AuthenticationData, &[], &[b"d"]).unwrap();
        let (pushed, put) = (pushed.finish(), put.finish());
        assert_eq!(pushed, put);
        assert_eq!(Properties::parse(put.as_bytes(), PropertyContext::Connect), Ok(put));
    }

    #[test]
    fn put_writes_nothing_when_too_small() {
        let mut buf = [0xAAu8; 4];
        let mut b = PropertiesBuilder::new(&mut buf);
        b.put(PropertyId::TopicAlias, &1u16.to_be_bytes(), &[]).unwrap();
        assert_eq!(
            b.put(PropertyId::ContentType, &[], &[b"x"]),
            Err(EncodeError::BufferTooSmall { required: 7 })
        );
        assert_eq!(b.len(), 3);
        let too_long = [0u8; 65536];
        assert_eq!(
            b.put(PropertyId::CorrelationData, &[], &[&too_long]),
            Err(EncodeError::StringTooLong)
        );
        assert_eq!(b.finish().as_bytes(), [0x23, 0x00, 0x01]);
    }

    #[test]
    fn starting_with_copies_a_list_to_append_to() {
        let raw = [0x0B, 0x01, 0x0B, 0x02, 0x26, 0, 1, b'k', 0, 1, b'v'];
        let p = Properties::parse(&raw, PropertyContext::Publish).unwrap();
        let mut buf = [0u8; 16];
        let mut b = PropertiesBuilder::starting_with(&mut buf, &p).unwrap();
        b.put(PropertyId::TopicAlias, &3u16.to_be_bytes(), &[]).unwrap();
        let out = b.finish();
        let mut expected = raw.to_vec();
        expected.extend_from_slice(&[0x23, 0x00, 0x03]);
        assert_eq!(out.as_bytes(), &expected[..]);
        assert_eq!(Properties::parse(&expected, PropertyContext::Publish), Ok(out));
        let mut small = [0u8; 10];
        assert_eq!(
            PropertiesBuilder::starting_with(&mut small, &p).map(|b| b.len()),
            Err(EncodeError::BufferTooSmall { required: 11 })
        );
    }
}
