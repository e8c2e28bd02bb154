//! Server session errors.
//!
//! [`RemoteError`] is a remote fault: the client broke the protocol. The session has already
//! queued what the specification asks for (a CONNACK or DISCONNECT with
//! [`RemoteError::reason_code`] in MQTT 5.0; nothing in MQTT 3.1.1, where the server just closes
//! the network connection); drain [`poll_transmit`](super::Server::poll_transmit), then close the
//! transport. [`UsageError`] is local misuse: the caller broke the session's contract, and
//! nothing changed.

use crate::mqtt::packet::PacketType;
use crate::mqtt::{DecodeError, EncodeError, ReasonCode};

/// The client broke the protocol; the session is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RemoteError {
    /// A packet is malformed or breaks a rule the codec checks (its own reason code).
    Decode(DecodeError),
    /// The first packet was not CONNECT [MQTT-3.1.0-1]: closed without a reply.
    FirstPacketNotConnect,
    /// A second CONNECT [MQTT-3.1.0-2].
    SecondConnect,
    /// A packet only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP), or AUTH while no
    /// authentication exchange is possible [MQTT-4.12.0-1].
    UnexpectedPacket(PacketType),
    /// A packet other than AUTH or DISCONNECT during the authentication exchange
    /// [MQTT-4.12.0-4].
    NotAuthDuringAuthentication(PacketType),
    /// AUTH with a method other than the one of CONNECT [MQTT-4.12.0-5].
    AuthenticationMethodChanged,
    /// AUTH with a reason code the exchange does not allow at this point: the client answers
    /// the server's AUTH with Continue Authentication [MQTT-4.12.0-3] and starts a
    /// re-authentication with Re-authenticate [MQTT-4.12.1-1].
    UnexpectedAuthReason(ReasonCode),
    /// An acknowledgement of the wrong flow: PUBREC for a QoS 1 publish in flight, which takes
    /// PUBACK (MQTT 5.0 §4.3.2).
    AckMismatch(PacketType),
    /// More unacknowledged QoS 1 and QoS 2 PUBLISH packets than the server's Receive Maximum
    /// (MQTT 5.0 §3.3.4).
    ReceiveMaximumExceeded,
    /// A Topic Alias above the server's Topic Alias Maximum [MQTT-3.3.2-9].
    TopicAliasInvalid,
    /// An empty topic with a Topic Alias the client never mapped (MQTT 5.0 §3.3.2.3.4).
    UnknownTopicAlias,
    /// A topic mapped to an alias is longer than the session can remember.
    AliasTopicTooLong,
    /// PUBLISH (or a will) with a QoS above the server's Maximum QoS (MQTT 5.0 §3.2.2.3.4).
    QosNotSupported,
    /// PUBLISH (or a will) with Retain set while the server has no retained messages
    /// (MQTT 5.0 §3.2.2.3.5).
    RetainNotSupported,
    /// PUBLISH from a client with a Subscription Identifier [MQTT-3.3.4-6].
    SubscriptionIdentifierFromClient,
    /// SUBSCRIBE with a Subscription Identifier the server said it does not support
    /// (MQTT 5.0 §3.2.2.3.12).
    SubscriptionIdentifiersNotSupported,
    /// MQTT 3.1.1: an empty Client Identifier with Clean Session 0 [MQTT-3.1.3-8].
    ClientIdentifierNotValid,
    /// DISCONNECT with a non-zero Session Expiry Interval after CONNECT set it to zero
    /// (MQTT 5.0 §3.14.2.2.2).
    SessionExpiryAfterZero,
}

impl RemoteError {
    /// The reason code sent to the client (MQTT 5.0), in CONNACK while connecting and in
    /// DISCONNECT afterwards.
    pub const fn reason_code(self) -> ReasonCode {
        use RemoteError::*;
        match self {
            Decode(e) => e.reason_code(),
            FirstPacketNotConnect
            | SecondConnect
            | UnexpectedPacket(_)
            | NotAuthDuringAuthentication(_)
            | AuthenticationMethodChanged
            | UnexpectedAuthReason(_)
            | AckMismatch(_)
            | UnknownTopicAlias
            | SubscriptionIdentifierFromClient
            | SessionExpiryAfterZero => ReasonCode::ProtocolError,
            ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            TopicAliasInvalid => ReasonCode::TopicAliasInvalid,
            AliasTopicTooLong => ReasonCode::QuotaExceeded,
            QosNotSupported => ReasonCode::QosNotSupported,
            RetainNotSupported => ReasonCode::RetainNotSupported,
            SubscriptionIdentifiersNotSupported => ReasonCode::SubscriptionIdentifiersNotSupported,
            ClientIdentifierNotValid => ReasonCode::ClientIdentifierNotValid,
        }
    }
}

impl From<DecodeError> for RemoteError {
    fn from(e: DecodeError) -> Self {
        RemoteError::Decode(e)
    }
}

impl core::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MQTT client broke the protocol: {self:?} (reason code {:?})", self.reason_code())
    }
}

impl core::error::Error for RemoteError {}

/// The caller broke the session's contract; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UsageError {
    /// The output buffer is too small: `required` bytes are needed.
    BufferTooSmall {
        /// Exact size needed.
        required: usize,
    },
    /// The command needs a connected session (CONNACK sent, not closed).
    NotConnected,
    /// `accept`, `reject` or `auth` without a CONNECT or AUTH waiting for an answer.
    NothingToAnswer,
    /// The session is closed.
    Closed,
    /// Every packet identifier the client's Receive Maximum (or the session's capacity) allows
    /// is in flight [MQTT-3.3.4-9]: wait for [`Event::Acknowledged`](super::Event).
    InFlightFull,
    /// The packet is larger than the client's Maximum Packet Size [MQTT-3.1.2-24]; the server
    /// must not send it.
    PacketTooLarge {
        /// The packet's size.
        size: usize,
        /// The client's limit.
        limit: u32,
    },
    /// An MQTT 5.0 client sent an empty Client Identifier: accepting needs an assigned one
    /// [MQTT-3.2.2-16].
    ClientIdentifierRequired,
    /// `reject` with a reason code that is not an error.
    NotAnError(ReasonCode),
    /// A packet identifier that is not in flight in the state the command needs.
    UnknownPacketId,
    /// The packet could not be encoded.
    Encode(EncodeError),
}

impl From<EncodeError> for UsageError {
    fn from(e: EncodeError) -> Self {
        match e {
            EncodeError::BufferTooSmall { required } => UsageError::BufferTooSmall { required },
            e => UsageError::Encode(e),
        }
    }
}

impl core::fmt::Display for UsageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MQTT server session misuse: {self:?}")
    }
}

impl core::error::Error for UsageError {}

/// Any server session error: the client's fault, or the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The client broke the protocol; the session is closed and owes its answer.
    Remote(RemoteError),
    /// The caller broke the session's contract; nothing changed.
    Usage(UsageError),
}

impl From<RemoteError> for Error {
    fn from(e: RemoteError) -> Self {
        Error::Remote(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Remote(e) => e.fmt(f),
            Error::Usage(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    /// The CONNACK or DISCONNECT the server sends names the rule the client broke.
    #[test]
    fn each_client_fault_is_answered_with_its_reason_code() {
        use RemoteError::*;
        let cases = [
            (Decode(DecodeError::MalformedVarInt), ReasonCode::MalformedPacket),
            (FirstPacketNotConnect, ReasonCode::ProtocolError),
            (SecondConnect, ReasonCode::ProtocolError),
            (UnexpectedPacket(PacketType::ConnAck), ReasonCode::ProtocolError),
            (NotAuthDuringAuthentication(PacketType::Publish), ReasonCode::ProtocolError),
            (AuthenticationMethodChanged, ReasonCode::ProtocolError),
            (UnexpectedAuthReason(ReasonCode::Success), ReasonCode::ProtocolError),
            (AckMismatch(PacketType::PubRel), ReasonCode::ProtocolError),
            (ReceiveMaximumExceeded, ReasonCode::ReceiveMaximumExceeded),
            (TopicAliasInvalid, ReasonCode::TopicAliasInvalid),
            (UnknownTopicAlias, ReasonCode::ProtocolError),
            (AliasTopicTooLong, ReasonCode::QuotaExceeded),
            (QosNotSupported, ReasonCode::QosNotSupported),
            (RetainNotSupported, ReasonCode::RetainNotSupported),
            (SubscriptionIdentifierFromClient, ReasonCode::ProtocolError),
            (SubscriptionIdentifiersNotSupported, ReasonCode::SubscriptionIdentifiersNotSupported),
            (ClientIdentifierNotValid, ReasonCode::ClientIdentifierNotValid),
            (SessionExpiryAfterZero, ReasonCode::ProtocolError),
        ];
        for (e, code) in cases {
            assert_eq!(e.reason_code(), code, "{e:?}");
            let text = Error::from(e).to_string();
            let expected =
                std::format!("MQTT client broke the protocol: {e:?} (reason code {code:?})");
            assert_eq!(text, expected);
        }
        assert_eq!(RemoteError::from(DecodeError::InvalidQos), Decode(DecodeError::InvalidQos));
    }

    #[test]
    fn an_encode_error_keeps_the_size_it_needs() {
        let small = UsageError::from(EncodeError::BufferTooSmall { required: 40 });
        assert_eq!(small, UsageError::BufferTooSmall { required: 40 });
        let other = UsageError::from(EncodeError::StringTooLong);
        assert_eq!(other, UsageError::Encode(EncodeError::StringTooLong));
        let text = Error::from(UsageError::NotConnected).to_string();
        assert_eq!(text, "MQTT server session misuse: NotConnected");
    }
}
