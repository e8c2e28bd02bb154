//! Codec errors.
//!
//! [`DecodeError`] is a remote fault: the peer sent bytes the specification calls malformed or a
//! protocol error. [`DecodeError::reason_code`] gives the reason code the receiver must send
//! (MQTT 5.0: in CONNACK or DISCONNECT; MQTT 3.1.1: the network connection is closed).
//! [`EncodeError`] is local misuse or a buffer that is too small; nothing was written.

use super::properties::PropertyId;
use super::reason::ReasonCode;

/// The peer sent a packet that breaks the specification.
///
/// Every variant names the statement it enforces; [`DecodeError::reason_code`] maps it to the
/// reason code to send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// A variable byte integer continues past its fourth byte [MQTT-1.5.5].
    MalformedVarInt,
    /// A variable byte integer does not use the minimum number of bytes [MQTT-1.5.5-1].
    NonMinimalVarInt,
    /// Packet type 0, or AUTH (15) in MQTT 3.1.1 [MQTT-2.1.2].
    ReservedPacketType,
    /// Reserved fixed header flag bits have the wrong value [MQTT-2.1.3-1].
    InvalidFixedHeaderFlags,
    /// QoS 3 in a PUBLISH, a will or a subscription [MQTT-3.3.1-4].
    InvalidQos,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    DupWithQos0,
    /// The packet is larger than the Maximum Packet Size the receiver announced
    /// [MQTT-3.1.2-24], [MQTT-3.2.2-15]. Known from the fixed header alone:
    /// [`FixedHeader::decode`](super::packet::FixedHeader::decode) gives the length to skip.
    PacketTooLarge,
    /// The content runs past the end given by the remaining length [MQTT-2.1.4].
    Truncated,
    /// Bytes are left over after the content the remaining length announced [MQTT-2.1.4].
    TrailingBytes,
    /// A string is not well-formed UTF-8 (or encodes a surrogate) [MQTT-1.5.4-1].
    InvalidUtf8,
    /// A string contains U+0000 [MQTT-1.5.4-2].
    NullCharacter,
    /// The CONNECT protocol name is not "MQTT" [MQTT-3.1.2-1].
    InvalidProtocolName,
    /// The CONNECT protocol level is neither 4 (3.1.1) nor 5 (5.0) [MQTT-3.1.2-2].
    UnsupportedProtocolVersion,
    /// The CONNECT reserved flag is not 0 [MQTT-3.1.2-3].
    ReservedConnectFlag,
    /// Will QoS or Will Retain set without the Will Flag (5.0: [MQTT-3.1.2-11],
    /// [MQTT-3.1.2-13]; 3.1.1: [MQTT-3.1.2-13], [MQTT-3.1.2-15]).
    InvalidWillFlags,
    /// MQTT 3.1.1: Password Flag set without User Name Flag [MQTT-3.1.2-22].
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags bits 7-1 are not 0 [MQTT-3.2.2-1].
    InvalidConnAckFlags,
    /// CONNACK with Session Present set and a failure reason code [MQTT-3.2.2-6].
    SessionPresentOnError,
    /// A packet identifier of 0 where one is required [MQTT-2.2.1-3].
    ZeroPacketId,
    /// A topic name is empty (3.1.1) or holds a wildcard [MQTT-3.3.2-2], [MQTT-4.7.3-1]: a
    /// Protocol Error, as a Response Topic with a wildcard is (0x90 Topic Name invalid is for a
    /// name that is well formed but refused).
    InvalidTopicName,
    /// MQTT 5.0: a zero-length topic name without a Topic Alias (§3.3.2.1, §3.3.2.3.4).
    EmptyTopicWithoutAlias,
    /// A topic filter breaks the wildcard or shared-subscription rules [MQTT-4.7.1-1],
    /// [MQTT-4.7.1-2], [MQTT-4.7.3-1], [MQTT-4.8.2-1], [MQTT-4.8.2-2].
    InvalidTopicFilter,
    /// Reserved bits of the subscription options are not 0 [MQTT-3.8.3-5] (3.1.1: or the QoS
    /// is 3 [MQTT-3.8.3-4]).
    InvalidSubscriptionOptions,
    /// MQTT 5.0: a subscription's Maximum QoS is 3, a Protocol Error (§3.8.3.1).
    InvalidSubscriptionQos,
    /// Retain Handling 3 [MQTT-3.8.3.1].
    InvalidRetainHandling,
    /// No Local set on a shared subscription [MQTT-3.8.3-4].
    NoLocalOnSharedSubscription,
    /// SUBSCRIBE or UNSUBSCRIBE without a topic filter [MQTT-3.8.3-3], [MQTT-3.10.3-2].
    NoTopicFilters,
    /// SUBACK or UNSUBACK without a reason code [MQTT-3.9.3], [MQTT-3.11.3].
    NoReasonCodes,
    /// A byte that is no reason code (or no 3.1.1 return code) [MQTT-2.4].
    UnknownReasonCode(u8),
    /// A reason code that this packet type may not carry [MQTT-2.4].
    ReasonCodeNotAllowed(ReasonCode),
    /// An unknown property identifier [MQTT-2.2.2] (identifiers above 65,535, all
    /// undefined, read as 65,535: the error stays four bytes, cheap to move on small targets).
    UnknownProperty(u16),
    /// A property this packet may not carry [MQTT-2.2.2.2].
    PropertyNotAllowed(PropertyId),
    /// A property that may appear once appears twice [MQTT-2.2.2.2].
    DuplicateProperty(PropertyId),
    /// A property value outside its range (Receive Maximum 0, Maximum QoS 2, ...).
    InvalidPropertyValue(PropertyId),
    /// Authentication Data without Authentication Method (§3.1.2.11.10, §3.2.2.3.18,
    /// §3.15.2.2.3).
    AuthenticationDataWithoutMethod,
    /// An AUTH with a reason code but no Authentication Method (§3.15.2.2.2).
    MissingAuthenticationMethod,
    /// The packet has a valid type but is not the one the caller asked to decode (for example
    /// [`Publish::decode_head`](super::packet::Publish::decode_head) given a SUBSCRIBE).
    UnexpectedPacketType,
}

impl DecodeError {
    /// The reason code the receiver sends for this fault (MQTT 5.0), in CONNACK when it happens
    /// on CONNECT and in DISCONNECT otherwise. MQTT 3.1.1 receivers close the connection.
    pub const fn reason_code(self) -> ReasonCode {
        use DecodeError::*;
        match self {
            PacketTooLarge => ReasonCode::PacketTooLarge,
            InvalidProtocolName | UnsupportedProtocolVersion => {
                ReasonCode::UnsupportedProtocolVersion
            }
            InvalidTopicFilter => ReasonCode::TopicFilterInvalid,
            InvalidTopicName
            | EmptyTopicWithoutAlias
            | InvalidSubscriptionQos
            | InvalidRetainHandling
            | NoLocalOnSharedSubscription
            | NoTopicFilters
            | NoReasonCodes
            | UnknownReasonCode(_)
            | ReasonCodeNotAllowed(_)
            | DuplicateProperty(_)
            | InvalidPropertyValue(_)
            | SessionPresentOnError
            | UnexpectedPacketType
            | AuthenticationDataWithoutMethod
            | MissingAuthenticationMethod
            | ZeroPacketId => ReasonCode::ProtocolError,
            MalformedVarInt
            | NonMinimalVarInt
            | ReservedPacketType
            | InvalidFixedHeaderFlags
            | InvalidQos
            | DupWithQos0
            | Truncated
            | TrailingBytes
            | InvalidUtf8
            | NullCharacter
            | ReservedConnectFlag
            | InvalidWillFlags
            | PasswordWithoutUsername
            | InvalidConnAckFlags
            | InvalidSubscriptionOptions
            // §2.2.2.2: an identifier not valid for its packet type is a Malformed Packet.
            | PropertyNotAllowed(_)
            | UnknownProperty(_) => ReasonCode::MalformedPacket,
        }
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid MQTT packet: {self:?} (reason code {:?})", self.reason_code())
    }
}

impl core::error::Error for DecodeError {}

/// Encoding failed; nothing was written into the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The buffer is too small: the packet needs `required` bytes.
    BufferTooSmall {
        /// Exact number of bytes the encoding needs.
        required: usize,
    },
    /// The remaining length would exceed 268,435,455 bytes [MQTT-1.5.5].
    PacketTooLarge,
    /// A string or binary field longer than 65,535 bytes [MQTT-1.5.4], [MQTT-1.5.6].
    StringTooLong,
    /// A string contains U+0000 [MQTT-1.5.4-2].
    NullCharacter,
    /// Something only MQTT 5.0 has (properties, a reason code other than success, subscription
    /// options other than QoS, AUTH) was asked of MQTT 3.1.1.
    NotInVersion,
    /// The topic name is empty or holds a wildcard [MQTT-3.3.2-2], [MQTT-4.7.3-1].
    InvalidTopicName,
    /// The topic filter breaks the wildcard or shared-subscription rules [MQTT-4.7.1].
    InvalidTopicFilter,
    /// MQTT 3.1.1: a password without a user name [MQTT-3.1.2-22].
    PasswordWithoutUsername,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    DupWithQos0,
    /// SUBSCRIBE or UNSUBSCRIBE without topic filters [MQTT-3.8.3-3], [MQTT-3.10.3-2].
    NoTopicFilters,
    /// SUBACK or UNSUBACK without reason codes.
    NoReasonCodes,
    /// No Local on a shared subscription [MQTT-3.8.3-4].
    NoLocalOnSharedSubscription,
    /// Session Present with a failure reason code [MQTT-3.2.2-6].
    SessionPresentOnError,
    /// The reason code may not be sent in this packet (or has no 3.1.1 equivalent) [MQTT-2.4].
    ReasonCodeNotAllowed(ReasonCode),
    /// The property may not be sent in this packet [MQTT-2.2.2.2].
    PropertyNotAllowed(PropertyId),
    /// The property may appear only once [MQTT-2.2.2.2].
    DuplicateProperty(PropertyId),
    /// The property value is outside its range (Maximum QoS 2, ...).
    InvalidPropertyValue(PropertyId),
    /// Authentication Data without Authentication Method (§3.1.2.11.10).
    AuthenticationDataWithoutMethod,
    /// An AUTH with a body but no Authentication Method (§3.15.2.2.2).
    MissingAuthenticationMethod,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "cannot encode MQTT packet: {self:?}")
    }
}

impl core::error::Error for EncodeError {}

impl EncodeError {
    /// The error of encoding what a state machine built and checked itself, where only the
    /// buffer can be too small: [`BufferTooSmall`](crate::BufferTooSmall) (any other error, which
    /// cannot happen, as one no buffer satisfies).
    pub(crate) fn into_buffer_too_small(self) -> crate::BufferTooSmall {
        match self {
            EncodeError::BufferTooSmall { required } => crate::BufferTooSmall { required },
            _ => crate::BufferTooSmall { required: usize::MAX },
        }
    }
}
