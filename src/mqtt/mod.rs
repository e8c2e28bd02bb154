//! MQTT 5.0 and 3.1.1 (protocol level 4).
//!
//! The packet codec lives in [`packet`]: [`packet::decode`] reads one packet from the front of a
//! buffer (zero-copy: the packet borrows the buffer) and [`packet::Packet::encode`] writes one
//! into a caller buffer. The protocol version is a parameter, not a separate API.
//! [`properties`], [`reason`] and [`topic`] hold the pieces packets are made of.

pub(crate) mod alias;
pub mod client;
mod error;
pub mod message;
pub mod packet;
pub mod properties;
pub mod reason;
pub mod server;
pub mod session;
pub mod topic;
mod wire;

pub use error::{DecodeError, EncodeError};
pub use message::{Message, Topic};
pub use reason::ReasonCode;
pub use session::{AwaitingRelease, StoreFull};

use core::num::NonZeroU16;

/// The protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Version {
    /// MQTT 3.1.1, protocol level 4.
    V3_1_1,
    /// MQTT 5.0, protocol level 5.
    #[default]
    V5,
}

impl Version {
    /// The protocol level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            Version::V3_1_1 => 4,
            Version::V5 => 5,
        }
    }

    /// The version for a CONNECT protocol level byte.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(Version::V3_1_1),
            5 => Some(Version::V5),
            _ => None,
        }
    }
}

/// Quality of service of a message or subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Qos {
    /// QoS 0: at most once.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once.
    AtLeastOnce = 1,
    /// QoS 2: exactly once.
    ExactlyOnce = 2,
}

impl Qos {
    /// The QoS for its two-bit value; `None` for 3 (malformed [MQTT-3.3.1-4]).
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Qos::AtMostOnce),
            1 => Some(Qos::AtLeastOnce),
            2 => Some(Qos::ExactlyOnce),
            _ => None,
        }
    }

    /// The value on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A packet identifier: never 0 [MQTT-2.2.1-3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PacketId(pub NonZeroU16);

impl PacketId {
    /// `None` for 0.
    pub const fn new(id: u16) -> Option<Self> {
        match NonZeroU16::new(id) {
            Some(n) => Some(PacketId(n)),
            None => None,
        }
    }

    /// The identifier.
    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl core::fmt::Display for PacketId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}
