//! Client errors: local misuse ([`UsageError`]) and broker faults ([`RemoteError`]) are
//! different types; [`Error`] is either, or a timeout.

use crate::mqtt::packet::PacketType;
use crate::mqtt::{DecodeError, EncodeError, ReasonCode};

/// The caller asked for something the session cannot do now; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UsageError {
    /// The command needs a connection (CONNACK received) and there is none.
    NotConnected,
    /// `connect` while a connection is open or being opened.
    AlreadyConnected,
    /// Encoding failed (too small a buffer: `EncodeError::BufferTooSmall { required }`).
    Encode(EncodeError),
    /// An MQTT 5.0 feature (properties, session expiry, AUTH, ...) asked of MQTT 3.1.1.
    NotInVersion,
    /// The in-flight store has no room for this message.
    StoreFull,
    /// As many QoS 1/2 messages are in flight as the server's Receive Maximum allows
    /// [MQTT-4.9.0-2]: wait for acknowledgements.
    ReceiveMaximumReached,
    /// Every packet identifier is in use.
    PacketIdsExhausted,
    /// Too many SUBSCRIBE/UNSUBSCRIBE requests wait for their acknowledgement.
    TooManyPendingRequests,
    /// The server's Maximum QoS is lower than the QoS asked for [MQTT-3.2.2-11].
    QosNotSupported,
    /// The server does not support retained messages [MQTT-3.2.2-14].
    RetainNotSupported,
    /// The server does not support wildcard subscriptions (§3.2.2.3.11).
    WildcardSubscriptionsNotSupported,
    /// The server does not support shared subscriptions (§3.2.2.3.13).
    SharedSubscriptionsNotSupported,
    /// The server does not support subscription identifiers (§3.2.2.3.12).
    SubscriptionIdentifiersNotSupported,
    /// The packet is larger than the server's Maximum Packet Size [MQTT-3.1.2-24].
    PacketTooLarge {
        /// The packet's size.
        len: usize,
        /// The server's limit.
        max: u32,
    },
    /// The properties do not fit the client's scratch space ([`super::PROPERTY_SCRATCH`] bytes).
    PropertiesTooLong,
    /// Topic Alias is set by the client itself (see [`super::Config::outgoing_aliases`]).
    TopicAliasNotAllowed,
    /// AUTH without an authentication method in CONNECT [MQTT-4.12.0-7].
    NoAuthenticationMethod,
    /// A streamed PUBLISH is unfinished: no other packet may go out before
    /// [`Client::publish_end`](super::Client::publish_end) (a packet is a contiguous run of the
    /// byte stream, §2.1, §4.2).
    StreamUnfinished,
    /// [`Client::publish_chunk`](super::Client::publish_chunk) or
    /// [`Client::publish_end`](super::Client::publish_end) without a streamed PUBLISH.
    NoStream,
    /// A streamed PUBLISH was given a payload in its message: the payload comes in chunks.
    PayloadInStreamedMessage,
    /// A chunk longer than what the streamed PUBLISH announced still needs; nothing was
    /// copied.
    PayloadTooLong {
        /// Payload bytes still announced.
        remaining: usize,
    },
    /// [`Client::publish_end`](super::Client::publish_end) before the announced payload length
    /// was handed over.
    PayloadTooShort {
        /// Payload bytes still missing.
        remaining: usize,
    },
    /// A streamed QoS 1/2 PUBLISH still awaits its acknowledgement; the store keeps only its
    /// head, so one at a time (see [`Client::publish_stream`](super::Client::publish_stream)).
    StreamAwaitingAck,
}

impl From<EncodeError> for UsageError {
    fn from(e: EncodeError) -> Self {
        UsageError::Encode(e)
    }
}

/// What the broker did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RemoteFault {
    /// A malformed packet or a protocol error found by the codec.
    Decode(DecodeError),
    /// A packet the server may not send, or not in this state (a second CONNACK, a SUBSCRIBE,
    /// anything before CONNACK).
    UnexpectedPacket(PacketType),
    /// An acknowledgement that matches nothing (wrong type for the packet identifier, or a
    /// SUBACK/UNSUBACK with the wrong number of reason codes).
    AckMismatch,
    /// More QoS 2 messages in flight than the Receive Maximum the client announced
    /// [MQTT-3.3.4-9].
    ReceiveMaximumExceeded,
    /// Topic Alias 0 or above the Topic Alias Maximum the client announced [MQTT-3.3.2-9].
    TopicAliasInvalid,
    /// A PUBLISH with an empty topic and an alias that has no mapping (§3.3.2.3.4).
    UnknownTopicAlias,
    /// A topic to remember under an alias is longer than the client's alias slots.
    AliasTopicTooLong,
    /// A packet larger than the Maximum Packet Size the client announced, or a packet other than
    /// PUBLISH larger than the receive buffer [MQTT-3.1.2-24].
    PacketTooLarge,
    /// AUTH though the client sent no authentication method [MQTT-4.12.0-6].
    UnexpectedAuth,
    /// CONNACK with Session Present after a CONNECT with Clean Start [MQTT-3.2.2-2].
    SessionPresentOnCleanStart,
}

/// The broker broke the protocol. The connection is over: for MQTT 5.0 a DISCONNECT carrying
/// [`RemoteError::reason`] is queued (drain `poll_transmit`, then close the transport); for MQTT
/// 3.1.1 close the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RemoteError {
    /// What went wrong.
    pub fault: RemoteFault,
}

impl RemoteError {
    pub(crate) fn new(fault: RemoteFault) -> Self {
        Self { fault }
    }

    /// The reason code sent in DISCONNECT.
    pub const fn reason(&self) -> ReasonCode {
        match self.fault {
            RemoteFault::Decode(e) => e.reason_code(),
            RemoteFault::ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            RemoteFault::TopicAliasInvalid => ReasonCode::TopicAliasInvalid,
            RemoteFault::PacketTooLarge => ReasonCode::PacketTooLarge,
            RemoteFault::AliasTopicTooLong => ReasonCode::ImplementationSpecificError,
            RemoteFault::UnexpectedPacket(_)
            | RemoteFault::AckMismatch
            | RemoteFault::UnknownTopicAlias
            | RemoteFault::UnexpectedAuth
            | RemoteFault::SessionPresentOnCleanStart => ReasonCode::ProtocolError,
        }
    }
}

/// A deadline passed: the connection is lost. Close the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Timeout {
    /// No CONNACK within [`super::Config::connect_timeout`].
    ConnAck,
    /// No PINGRESP within [`super::Config::ping_timeout`] of a PINGREQ (§3.1.2.10).
    PingResp,
}

/// Any client error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// Local misuse or a request the server said it cannot take; nothing changed.
    Usage(UsageError),
    /// The broker broke the protocol; the connection is being closed.
    Remote(RemoteError),
    /// A deadline passed; the connection is lost.
    Timeout(Timeout),
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::Usage(UsageError::Encode(e))
    }
}

impl From<RemoteError> for Error {
    fn from(e: RemoteError) -> Self {
        Error::Remote(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Remote(e) => e.fmt(f),
            Error::Timeout(t) => t.fmt(f),
        }
    }
}

impl core::fmt::Display for UsageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UsageError::Encode(e) => write!(f, "MQTT client: {e}"),
            e => write!(f, "MQTT client: {e:?}"),
        }
    }
}

impl core::error::Error for UsageError {}

impl core::fmt::Display for RemoteFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            // The reason code is the fault's (`RemoteError` names it): not twice.
            RemoteFault::Decode(e) => write!(f, "invalid MQTT packet: {e:?}"),
            e => write!(f, "{e:?}"),
        }
    }
}

impl core::error::Error for RemoteFault {}

impl core::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MQTT broker fault: {} (reason code {:?})", self.fault, self.reason())
    }
}

impl core::error::Error for RemoteError {}

impl core::fmt::Display for Timeout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MQTT connection lost: no {self:?} in time")
    }
}

impl core::error::Error for Timeout {}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    /// MQTT 5.0 §4.13.2: the DISCONNECT a client sends names the fault it found.
    #[test]
    fn each_broker_fault_is_answered_with_its_reason_code() {
        let cases = [
            (RemoteFault::Decode(DecodeError::MalformedVarInt), ReasonCode::MalformedPacket),
            (RemoteFault::Decode(DecodeError::PacketTooLarge), ReasonCode::PacketTooLarge),
            (RemoteFault::UnexpectedPacket(PacketType::Subscribe), ReasonCode::ProtocolError),
            (RemoteFault::AckMismatch, ReasonCode::ProtocolError),
            (RemoteFault::ReceiveMaximumExceeded, ReasonCode::ReceiveMaximumExceeded),
            (RemoteFault::TopicAliasInvalid, ReasonCode::TopicAliasInvalid),
            (RemoteFault::UnknownTopicAlias, ReasonCode::ProtocolError),
            (RemoteFault::AliasTopicTooLong, ReasonCode::ImplementationSpecificError),
            (RemoteFault::PacketTooLarge, ReasonCode::PacketTooLarge),
            (RemoteFault::UnexpectedAuth, ReasonCode::ProtocolError),
            (RemoteFault::SessionPresentOnCleanStart, ReasonCode::ProtocolError),
        ];
        for (fault, code) in cases {
            let e = RemoteError::new(fault);
            assert_eq!(e.reason(), code, "{fault:?}");
            let text = Error::from(e).to_string();
            assert!(text.starts_with("MQTT broker fault: "), "{text}");
            assert!(text.ends_with(&std::format!("(reason code {code:?})")), "{text}");
        }
        let decode = RemoteError::new(RemoteFault::Decode(DecodeError::InvalidQos)).to_string();
        assert_eq!(
            decode,
            "MQTT broker fault: invalid MQTT packet: InvalidQos (reason code MalformedPacket)"
        );
    }

    #[test]
    fn usage_errors_and_timeouts_say_what_happened() {
        assert_eq!(Error::from(UsageError::NotConnected).to_string(), "MQTT client: NotConnected");
        let encode = Error::from(EncodeError::BufferTooSmall { required: 12 });
        assert_eq!(
            encode,
            Error::Usage(UsageError::Encode(EncodeError::BufferTooSmall { required: 12 }))
        );
        assert_eq!(
            encode.to_string(),
            std::format!("MQTT client: {}", EncodeError::BufferTooSmall { required: 12 })
        );
        let too_short = UsageError::PayloadTooShort { remaining: 3 }.to_string();
        assert_eq!(too_short, "MQTT client: PayloadTooShort { remaining: 3 }");
        assert_eq!(
            Error::Timeout(Timeout::ConnAck).to_string(),
            "MQTT connection lost: no ConnAck in time"
        );
        assert_eq!(
            Error::Timeout(Timeout::PingResp).to_string(),
            "MQTT connection lost: no PingResp in time"
        );
    }
}
