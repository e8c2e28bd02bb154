//! What the caller hands the client: its [`Config`], the [`ConnectOptions`] of a connection and
//! the [`Outgoing`] messages it publishes.

use core::num::NonZeroU32;

use super::{Error, UsageError};
use crate::mqtt::packet::{Publish, QosPid, Will};
use crate::mqtt::properties::{Properties, PropertiesBuilder, PropertyId};
use crate::mqtt::wire;
use crate::mqtt::{EncodeError, PacketId, Qos, Version};
use crate::time::Duration;

/// Settings of the client itself (not of a connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// The size of the caller's receive buffer: a PUBLISH larger than this is delivered in
    /// chunks ([`Event::MessageStart`](super::Event::MessageStart), [`Event::MessageChunk`](super::Event::MessageChunk)); any other packet larger than
    /// this is refused with Packet Too Large (0x95).
    pub rx_buffer_len: usize,
    /// The Maximum Packet Size announced in CONNECT (MQTT 5.0); `None` announces no limit.
    /// Larger packets are refused with Packet Too Large (0x95).
    pub max_packet_size: Option<NonZeroU32>,
    /// How long to wait for CONNACK.
    pub connect_timeout: Duration,
    /// How long to wait for PINGRESP; `None`: the keep alive interval.
    pub ping_timeout: Option<Duration>,
    /// Replace repeated topic names of outgoing PUBLISH packets by topic aliases, within the
    /// server's Topic Alias Maximum (MQTT 5.0).
    pub outgoing_aliases: bool,
    /// Deliver a PUBLISH larger than `rx_buffer_len` in chunks ([`Event::MessageStart`](super::Event::MessageStart),
    /// [`Event::MessageChunk`](super::Event::MessageChunk)). Off: such a message is refused as Packet Too Large
    /// ([`Event::MessageSkipped`](super::Event::MessageSkipped)), its bytes skipped, and the connection goes on.
    pub stream_large_payloads: bool,
}

impl Config {
    /// Defaults for a receive buffer of `rx_buffer_len` bytes: no Maximum Packet Size, 30 s
    /// CONNACK timeout, PINGRESP awaited one keep-alive interval, outgoing aliases on, messages
    /// larger than the receive buffer skipped.
    pub const fn new(rx_buffer_len: usize) -> Self {
        Self {
            rx_buffer_len,
            max_packet_size: None,
            connect_timeout: Duration::from_secs(30),
            ping_timeout: None,
            outgoing_aliases: true,
            stream_large_payloads: false,
        }
    }
}

/// Everything CONNECT can say (§3.1). MQTT 5.0-only fields must stay at their defaults in
/// MQTT 3.1.1 mode, or `connect` returns [`UsageError::NotInVersion`](super::UsageError::NotInVersion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnectOptions<'a> {
    /// Protocol version.
    pub version: Version,
    /// Client identifier; empty asks the server to assign one.
    pub client_id: &'a str,
    /// Clean Start (5.0) / Clean Session (3.1.1). `false` resumes the session: unacknowledged
    /// messages in the store are re-sent after CONNACK with Session Present.
    pub clean_start: bool,
    /// Keep Alive in seconds (0: off).
    pub keep_alive: u16,
    /// Session Expiry Interval in seconds (5.0).
    pub session_expiry: u32,
    /// The will message (its properties: 5.0 only).
    pub will: Option<Will<'a>>,
    /// User Name.
    pub username: Option<&'a str>,
    /// Password.
    pub password: Option<&'a [u8]>,
    /// Authentication Method for enhanced authentication (5.0).
    pub auth_method: Option<&'a str>,
    /// Authentication Data (5.0; needs `auth_method`).
    pub auth_data: Option<&'a [u8]>,
    /// Request Response Information (5.0).
    pub request_response_information: bool,
    /// Request Problem Information (5.0; `true` is the protocol default).
    pub request_problem_information: bool,
    /// User Properties (5.0).
    pub user_properties: &'a [(&'a str, &'a str)],
}

impl<'a> ConnectOptions<'a> {
    /// MQTT 5.0, clean start, keep alive 60 s, nothing else.
    pub const fn new(client_id: &'a str) -> Self {
        Self {
            version: Version::V5,
            client_id,
            clean_start: true,
            keep_alive: 60,
            session_expiry: 0,
            will: None,
            username: None,
            password: None,
            auth_method: None,
            auth_data: None,
            request_response_information: false,
            request_problem_information: true,
            user_properties: &[],
        }
    }
}

/// A message to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Outgoing<'a> {
    /// Topic name (no wildcards).
    pub topic: &'a str,
    /// Payload.
    pub payload: &'a [u8],
    /// QoS.
    pub qos: Qos,
    /// Retain.
    pub retain: bool,
    /// PUBLISH properties (5.0), without Topic Alias: the client assigns aliases.
    pub properties: Properties<'a>,
}

impl<'a> Outgoing<'a> {
    /// A QoS 0, not retained message without properties.
    pub const fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Self { topic, payload, qos: Qos::AtMostOnce, retain: false, properties: Properties::EMPTY }
    }

    /// Its first transmission (DUP 0) under `qos_pid`, the QoS and identifier the session gave.
    pub(crate) fn first_publish(&self, qos_pid: QosPid) -> Publish<'a> {
        Publish {
            dup: false,
            qos_pid,
            retain: self.retain,
            topic: self.topic,
            properties: self.properties,
            payload: self.payload,
        }
    }

    /// The same message with `qos`.
    pub const fn qos(self, qos: Qos) -> Self {
        Self { qos, ..self }
    }

    /// The same message with the retain flag.
    pub const fn retain(self, retain: bool) -> Self {
        Self { retain, ..self }
    }

    /// The same message with `properties`.
    pub const fn properties(self, properties: Properties<'a>) -> Self {
        Self { properties, ..self }
    }
}

/// What a command wrote into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sent {
    /// Bytes written; send them.
    pub len: usize,
    /// The packet identifier (QoS 1/2 PUBLISH, SUBSCRIBE, UNSUBSCRIBE), matched by the
    /// acknowledgement's event.
    pub packet_id: Option<PacketId>,
}

/// The CONNECT properties for `o` (MQTT 5.0), written into `scratch`. `receive`: the client's
/// Receive Maximum; `carried`: incoming QoS 2 messages of the resumed session still waiting for
/// their PUBREL.
pub(super) fn connect_properties<'b, const ALIASES: usize>(
    scratch: &'b mut [u8],
    o: &ConnectOptions<'_>,
    config: &Config,
    receive: usize,
    carried: usize,
) -> Result<Properties<'b>, Error> {
    let too_long = |e: EncodeError| match e {
        EncodeError::BufferTooSmall { .. } => Error::Usage(UsageError::PropertiesTooLong),
        e => e.into(),
    };
    let mut b = PropertiesBuilder::new(scratch);
    // Values in range by construction and each property once (User Property may repeat), so
    // the builder's short path without its checks; strings are checked here.
    let mut put =
        |id, fixed: &[u8], prefixed: &[&[u8]]| b.put(id, fixed, prefixed).map_err(too_long);
    if o.session_expiry != 0 {
        put(PropertyId::SessionExpiryInterval, &o.session_expiry.to_be_bytes(), &[])?;
    }
    // The server's send quota starts afresh on every network connection [MQTT-4.9.0-1], while
    // the QoS 2 messages carried over from the last one still hold their slots until PUBREL:
    // announce only the free slots, so the server never exceeds what the client can track.
    let free = receive.saturating_sub(carried).max(1);
    let rx = u16::try_from(free).unwrap_or(u16::MAX).max(1);
    put(PropertyId::ReceiveMaximum, &rx.to_be_bytes(), &[])?;
    if let Some(max) = config.max_packet_size {
        put(PropertyId::MaximumPacketSize, &max.get().to_be_bytes(), &[])?;
    }
    if ALIASES > 0 {
        let max = u16::try_from(ALIASES).unwrap_or(u16::MAX);
        put(PropertyId::TopicAliasMaximum, &max.to_be_bytes(), &[])?;
    }
    if o.request_response_information {
        put(PropertyId::RequestResponseInformation, &[1], &[])?;
    }
    if !o.request_problem_information {
        put(PropertyId::RequestProblemInformation, &[0], &[])?;
    }
    for &(k, v) in o.user_properties {
        wire::check_str(k)?;
        wire::check_str(v)?;
        put(PropertyId::UserProperty, &[], &[k.as_bytes(), v.as_bytes()])?;
    }
    if let Some(m) = o.auth_method {
        wire::check_str(m)?;
        put(PropertyId::AuthenticationMethod, &[], &[m.as_bytes()])?;
    }
    if let Some(d) = o.auth_data {
        put(PropertyId::AuthenticationData, &[], &[d])?;
    }
    Ok(b.finish())
}
