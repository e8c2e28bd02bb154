//! Reason codes (MQTT 5.0 §2.4) and the 3.1.1 CONNACK / SUBACK return codes mapped onto them.
//!
//! Values 0x00, 0x01 and 0x02 carry several spec names; [`ReasonCode::NormalDisconnection`] and
//! [`ReasonCode::GrantedQos0`] are associated constants equal to [`ReasonCode::Success`], and
//! [`ReasonCode::GrantedQos1`] / [`ReasonCode::GrantedQos2`] are variants. The spec does not allow
//! unknown reason codes, so there is no `Unknown` case: decoding rejects them.

use super::Qos;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $mask:expr; )*) => {
        /// An MQTT 5.0 reason code (§2.4), named as the specification names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum ReasonCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl ReasonCode {
            /// The reason code for a byte, `None` if the byte is no reason code.
            #[inline]
            pub const fn from_u8(b: u8) -> Option<Self> {
                match b {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }

            /// Bit set of the [`ReasonContext`]s that may carry this code, as listed (the
            /// source of [`CONTEXTS`]).
            const fn listed_contexts(self) -> u16 {
                match self {
                    $( Self::$name => $mask, )*
                }
            }
        }
    };
}

const CONNACK: u16 = 1 << ReasonContext::ConnAck as u16;
const PUBACK: u16 = 1 << ReasonContext::PubAck as u16;
const PUBREC: u16 = 1 << ReasonContext::PubRec as u16;
const PUBREL: u16 = 1 << ReasonContext::PubRel as u16;
const PUBCOMP: u16 = 1 << ReasonContext::PubComp as u16;
const SUBACK: u16 = 1 << ReasonContext::SubAck as u16;
const UNSUBACK: u16 = 1 << ReasonContext::UnsubAck as u16;
const DISCONNECT: u16 = 1 << ReasonContext::Disconnect as u16;
const AUTH: u16 = 1 << ReasonContext::Auth as u16;
const PUB: u16 = PUBACK | PUBREC;

reason_codes! {
    /// 0x00 Success (also Normal disconnection, Granted QoS 0).
    Success = 0x00, CONNACK | PUB | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH;
    /// 0x01 Granted QoS 1.
    GrantedQos1 = 0x01, SUBACK;
    /// 0x02 Granted QoS 2.
    GrantedQos2 = 0x02, SUBACK;
    /// 0x04 Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04, DISCONNECT;
    /// 0x10 No matching subscribers.
    NoMatchingSubscribers = 0x10, PUB;
    /// 0x11 No subscription existed.
    NoSubscriptionExisted = 0x11, UNSUBACK;
    /// 0x18 Continue authentication.
    ContinueAuthentication = 0x18, AUTH;
    /// 0x19 Re-authenticate.
    ReAuthenticate = 0x19, AUTH;
    /// 0x80 Unspecified error.
    UnspecifiedError = 0x80, CONNACK | PUB | SUBACK | UNSUBACK | DISCONNECT;
    /// 0x81 Malformed Packet.
    MalformedPacket = 0x81, CONNACK | DISCONNECT;
    /// 0x82 Protocol Error.
    ProtocolError = 0x82, CONNACK | DISCONNECT;
    /// 0x83 Implementation specific error.
    ImplementationSpecificError = 0x83, CONNACK | PUB | SUBACK | UNSUBACK | DISCONNECT;
    /// 0x84 Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84, CONNACK;
    /// 0x85 Client Identifier not valid.
    ClientIdentifierNotValid = 0x85, CONNACK;
    /// 0x86 Bad User Name or Password.
    BadUserNameOrPassword = 0x86, CONNACK;
    /// 0x87 Not authorized.
    NotAuthorized = 0x87, CONNACK | PUB | SUBACK | UNSUBACK | DISCONNECT;
    /// 0x88 Server unavailable.
    ServerUnavailable = 0x88, CONNACK;
    /// 0x89 Server busy.
    ServerBusy = 0x89, CONNACK | DISCONNECT;
    /// 0x8A Banned.
    Banned = 0x8A, CONNACK;
    /// 0x8B Server shutting down.
    ServerShuttingDown = 0x8B, DISCONNECT;
    /// 0x8C Bad authentication method.
    BadAuthenticationMethod = 0x8C, CONNACK | DISCONNECT;
    /// 0x8D Keep Alive timeout.
    KeepAliveTimeout = 0x8D, DISCONNECT;
    /// 0x8E Session taken over.
    SessionTakenOver = 0x8E, DISCONNECT;
    /// 0x8F Topic Filter invalid.
    TopicFilterInvalid = 0x8F, SUBACK | UNSUBACK | DISCONNECT;
    /// 0x90 Topic Name invalid.
    TopicNameInvalid = 0x90, CONNACK | PUB | DISCONNECT;
    /// 0x91 Packet Identifier in use.
    PacketIdentifierInUse = 0x91, PUB | SUBACK | UNSUBACK;
    /// 0x92 Packet Identifier not found.
    PacketIdentifierNotFound = 0x92, PUBREL | PUBCOMP;
    /// 0x93 Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93, DISCONNECT;
    /// 0x94 Topic Alias invalid.
    TopicAliasInvalid = 0x94, DISCONNECT;
    /// 0x95 Packet too large.
    PacketTooLarge = 0x95, CONNACK | DISCONNECT;
    /// 0x96 Message rate too high.
    MessageRateTooHigh = 0x96, DISCONNECT;
    /// 0x97 Quota exceeded.
    QuotaExceeded = 0x97, CONNACK | PUB | SUBACK | DISCONNECT;
    /// 0x98 Administrative action.
    AdministrativeAction = 0x98, DISCONNECT;
    /// 0x99 Payload format invalid.
    PayloadFormatInvalid = 0x99, CONNACK | PUB | DISCONNECT;
    /// 0x9A Retain not supported.
    RetainNotSupported = 0x9A, CONNACK | DISCONNECT;
    /// 0x9B QoS not supported.
    QosNotSupported = 0x9B, CONNACK | DISCONNECT;
    /// 0x9C Use another server.
    UseAnotherServer = 0x9C, CONNACK | DISCONNECT;
    /// 0x9D Server moved.
    ServerMoved = 0x9D, CONNACK | DISCONNECT;
    /// 0x9E Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E, SUBACK | DISCONNECT;
    /// 0x9F Connection rate exceeded.
    ConnectionRateExceeded = 0x9F, CONNACK | DISCONNECT;
    /// 0xA0 Maximum connect time.
    MaximumConnectTime = 0xA0, DISCONNECT;
    /// 0xA1 Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1, SUBACK | DISCONNECT;
    /// 0xA2 Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2, SUBACK | DISCONNECT;
}

/// The packets that carry reason codes; each allows its own set (MQTT 5.0 §2.4 table 2-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReasonContext {
    /// CONNACK.
    ConnAck,
    /// PUBACK.
    PubAck,
    /// PUBREC.
    PubRec,
    /// PUBREL.
    PubRel,
    /// PUBCOMP.
    PubComp,
    /// SUBACK.
    SubAck,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

/// The bit of a [`ReasonContext`] in a [`CONTEXTS`] entry: PUBACK and PUBREC allow the same
/// codes (§3.4.2.1, §3.5.2.1), so they share one and the set fits a byte.
const fn context_bit(context: ReasonContext) -> u8 {
    match context {
        ReasonContext::ConnAck => 1,
        ReasonContext::PubAck | ReasonContext::PubRec => 2,
        ReasonContext::PubRel => 4,
        ReasonContext::PubComp => 8,
        ReasonContext::SubAck => 16,
        ReasonContext::UnsubAck => 32,
        ReasonContext::Disconnect => 64,
        ReasonContext::Auth => 128,
    }
}

/// The first codes (0x00 to 0x19) have entries `0..0x1A` of [`CONTEXTS`]; the errors (0x80 to
/// 0xA2, no gaps) follow.
const LOW_CODES: usize = 0x1A;

/// The contexts that may carry each code, as [`context_bit`]s, by [`ReasonCode::table_index`]:
/// a 61-byte table is smaller than the match over 43 codes.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an index out of range fails the build"
)]
const CONTEXTS: [u8; LOW_CODES + 0x23] = {
    const CTX: [ReasonContext; 9] = [
        ReasonContext::ConnAck,
        ReasonContext::PubAck,
        ReasonContext::PubRec,
        ReasonContext::PubRel,
        ReasonContext::PubComp,
        ReasonContext::SubAck,
        ReasonContext::UnsubAck,
        ReasonContext::Disconnect,
        ReasonContext::Auth,
    ];
    let mut table = [0u8; LOW_CODES + 0x23];
    let mut b = 0u8;
    loop {
        if let Some(code) = ReasonCode::from_u8(b) {
            let listed = code.listed_contexts();
            // PUBACK and PUBREC must agree for their shared bit.
            assert!((listed & PUBACK == 0) == (listed & PUBREC == 0));
            let mut bits = 0u8;
            let mut c = 0;
            while c < CTX.len() {
                if listed & (1 << CTX[c] as u16) != 0 {
                    bits |= context_bit(CTX[c]);
                }
                c += 1;
            }
            table[ReasonCode::table_index(b)] = bits;
        }
        if b == u8::MAX {
            break;
        }
        b += 1;
    }
    table
};

#[allow(non_upper_case_globals)]
impl ReasonCode {
    /// 0x00 Normal disconnection (DISCONNECT), the same value as [`ReasonCode::Success`].
    pub const NormalDisconnection: ReasonCode = ReasonCode::Success;
    /// 0x00 Granted QoS 0 (SUBACK), the same value as [`ReasonCode::Success`].
    pub const GrantedQos0: ReasonCode = ReasonCode::Success;

    /// The byte on the wire.
    #[inline]
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// `true` for 0x80 and above: the operation failed.
    #[inline]
    pub const fn is_error(self) -> bool {
        self.code() >= 0x80
    }

    /// The entry of byte `b` in [`CONTEXTS`]; past its end for bytes that are no code in either
    /// range (every code below 0x80 is below [`LOW_CODES`]).
    const fn table_index(b: u8) -> usize {
        match b {
            0..0x1A => b as usize,
            0x80.. => b as usize - 0x80 + LOW_CODES,
            _ => usize::MAX,
        }
    }

    /// Whether byte `b` is a reason code that `context` may carry: [`ReasonCode::from_u8`] and
    /// [`ReasonCode::is_allowed_in`] in one lookup, for lists of codes checked a byte at a time.
    #[inline]
    pub(crate) const fn byte_allowed_in(b: u8, context: ReasonContext) -> bool {
        let i = Self::table_index(b);
        #[allow(clippy::indexing_slicing, reason = "checked against the length first")]
        let bits = if i < CONTEXTS.len() { CONTEXTS[i] } else { 0 };
        bits & context_bit(context) != 0
    }

    /// Whether `context` may carry this code [MQTT-2.4].
    #[inline]
    pub const fn is_allowed_in(self, context: ReasonContext) -> bool {
        Self::byte_allowed_in(self.code(), context)
    }

    /// The SUBACK code granting `qos`.
    pub const fn granted(qos: Qos) -> Self {
        match qos {
            Qos::AtMostOnce => Self::Success,
            Qos::AtLeastOnce => Self::GrantedQos1,
            Qos::ExactlyOnce => Self::GrantedQos2,
        }
    }

    /// The MQTT 3.1.1 CONNACK return code (§3.2.2.3) as its 5.0 equivalent.
    pub const fn from_v3_connack(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            1 => Self::UnsupportedProtocolVersion,
            2 => Self::ClientIdentifierNotValid,
            3 => Self::ServerUnavailable,
            4 => Self::BadUserNameOrPassword,
            5 => Self::NotAuthorized,
            _ => return None,
        })
    }

    /// The MQTT 3.1.1 CONNACK return code for this code, `None` if 3.1.1 has no equivalent.
    pub const fn to_v3_connack(self) -> Option<u8> {
        Some(match self {
            Self::Success => 0,
            Self::UnsupportedProtocolVersion => 1,
            Self::ClientIdentifierNotValid => 2,
            Self::ServerUnavailable => 3,
            Self::BadUserNameOrPassword => 4,
            Self::NotAuthorized => 5,
            _ => return None,
        })
    }

    /// The MQTT 3.1.1 SUBACK return code (§3.9.3: 0, 1, 2 or 0x80 Failure) as its 5.0
    /// equivalent (0x80 is [`ReasonCode::UnspecifiedError`]).
    pub const fn from_v3_suback(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            1 => Self::GrantedQos1,
            2 => Self::GrantedQos2,
            0x80 => Self::UnspecifiedError,
            _ => return None,
        })
    }

    /// The MQTT 3.1.1 SUBACK return code: granted QoS as is, every failure as 0x80; `None` for
    /// codes a SUBACK may not carry.
    pub const fn to_v3_suback(self) -> Option<u8> {
        if !self.is_allowed_in(ReasonContext::SubAck) {
            return None;
        }
        Some(if self.is_error() { 0x80 } else { self.code() })
    }
}

impl From<ReasonCode> for u8 {
    fn from(r: ReasonCode) -> u8 {
        r.code()
    }
}

impl TryFrom<u8> for ReasonCode {
    type Error = u8;
    fn try_from(b: u8) -> Result<Self, u8> {
        Self::from_u8(b).ok_or(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        let mut known = 0;
        for b in 0..=255u8 {
            if let Some(r) = ReasonCode::from_u8(b) {
                assert_eq!(r.code(), b);
                known += 1;
            }
        }
        assert_eq!(known, 43);
    }

    #[test]
    fn byte_conversions() {
        assert_eq!(u8::from(ReasonCode::NotAuthorized), 0x87);
        assert_eq!(ReasonCode::try_from(0x87), Ok(ReasonCode::NotAuthorized));
        assert_eq!(ReasonCode::try_from(0x03), Err(0x03));
    }

    #[test]
    fn spec_names() {
        assert_eq!(ReasonCode::NoMatchingSubscribers.code(), 0x10);
        assert_eq!(ReasonCode::NormalDisconnection, ReasonCode::Success);
        assert_eq!(ReasonCode::GrantedQos0.code(), 0);
        assert_eq!(ReasonCode::WildcardSubscriptionsNotSupported.code(), 0xA2);
    }

    /// The table agrees with the list for every code and context.
    #[test]
    fn context_table_matches_the_list() {
        use ReasonContext::*;
        let all = [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth];
        for b in 0..=255u8 {
            if let Some(r) = ReasonCode::from_u8(b) {
                assert!(r.code() < LOW_CODES as u8 || r.code() >= 0x80, "{r:?}");
                for c in all {
                    let listed = r.listed_contexts() & (1 << c as u16) != 0;
                    assert_eq!(r.is_allowed_in(c), listed, "{r:?} in {c:?}");
                }
            }
        }
    }

    /// The one-lookup check of a byte agrees with `from_u8` then `is_allowed_in`, for every
    /// byte in every context (bytes that are no code included).
    #[test]
    fn byte_check_matches_the_code_check() {
        use ReasonContext::*;
        let all = [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth];
        for b in 0..=255u8 {
            for c in all {
                let expected = ReasonCode::from_u8(b).is_some_and(|r| r.is_allowed_in(c));
                assert_eq!(ReasonCode::byte_allowed_in(b, c), expected, "{b:#04x} in {c:?}");
            }
        }
    }

    #[test]
    fn contexts() {
        use ReasonContext::*;
        assert!(ReasonCode::NoMatchingSubscribers.is_allowed_in(PubAck));
        assert!(!ReasonCode::NoMatchingSubscribers.is_allowed_in(PubRel));
        assert!(ReasonCode::PacketIdentifierNotFound.is_allowed_in(PubComp));
        assert!(!ReasonCode::GrantedQos1.is_allowed_in(ConnAck));
        assert!(ReasonCode::ContinueAuthentication.is_allowed_in(Auth));
        assert!(!ReasonCode::ContinueAuthentication.is_allowed_in(Disconnect));
        assert!(ReasonCode::DisconnectWithWillMessage.is_allowed_in(Disconnect));
        assert!(ReasonCode::Banned.is_allowed_in(ConnAck));
        assert!(!ReasonCode::Banned.is_allowed_in(Disconnect));
    }

    #[test]
    fn v3_mappings() {
        use ReasonCode::*;
        assert_eq!(ReasonCode::from_v3_connack(5), Some(ReasonCode::NotAuthorized));
        assert_eq!(ReasonCode::NotAuthorized.to_v3_connack(), Some(5));
        assert_eq!(ReasonCode::from_v3_connack(6), None);
        assert_eq!(ReasonCode::Banned.to_v3_connack(), None);
        for c in 0..=5u8 {
            assert_eq!(ReasonCode::from_v3_connack(c).and_then(ReasonCode::to_v3_connack), Some(c));
        }
        for (c, code) in
            [(0, Success), (1, GrantedQos1), (2, GrantedQos2), (0x80, UnspecifiedError)]
        {
            assert_eq!(ReasonCode::from_v3_suback(c), Some(code));
        }
        assert_eq!(ReasonCode::NotAuthorized.to_v3_suback(), Some(0x80));
        assert_eq!(ReasonCode::GrantedQos2.to_v3_suback(), Some(2));
        assert_eq!(ReasonCode::from_v3_suback(3), None);
        assert_eq!(ReasonCode::Banned.to_v3_suback(), None);
    }
}
