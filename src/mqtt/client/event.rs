//! What the client reports: one [`Event`] per [`Client::handle_input`](super::Client::handle_input)
//! step, borrowing the input; and the request/response helpers (§4.10).

use crate::mqtt::message::{DEFAULT_ALIAS_LEN, Message};
use crate::mqtt::packet::{Ack, ReasonCodes};
use crate::mqtt::properties::{Properties, PropertiesBuilder, Property, PropertyId};
use crate::mqtt::{EncodeError, PacketId, ReasonCode};

/// Properties for a request (§4.10): `response_topic` and optional `correlation` data, written
/// into `buf`. Publish the request with them and subscribe to `response_topic`.
pub fn request_properties<'b>(
    buf: &'b mut [u8],
    response_topic: &str,
    correlation: Option<&[u8]>,
) -> Result<Properties<'b>, EncodeError> {
    let mut b = PropertiesBuilder::new(buf);
    b.push(Property::ResponseTopic(response_topic))?;
    if let Some(c) = correlation {
        b.push(Property::CorrelationData(c))?;
    }
    Ok(b.finish())
}

/// The topic and properties to answer `request` with (§4.10): its Response Topic and a copy of
/// its Correlation Data written into `buf`; `None` if the request has no Response Topic.
pub fn response_to<'m, 'b, const N: usize>(
    request: &Message<'m, N>,
    buf: &'b mut [u8],
) -> Result<Option<(&'m str, Properties<'b>)>, EncodeError> {
    let Some(topic) = request.response_topic() else { return Ok(None) };
    let mut b = PropertiesBuilder::new(buf);
    if let Some(c) = request.correlation_data() {
        b.push(Property::CorrelationData(c))?;
    }
    Ok(Some((topic, b.finish())))
}

/// CONNACK accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Connected<'a> {
    /// The server resumed the session; unacknowledged messages are being re-sent.
    pub session_present: bool,
    /// The CONNACK properties; the limits in them are applied (see [`Client::server`](super::Client::server)).
    pub properties: Properties<'a>,
    /// A streamed QoS 1/2 PUBLISH ([`Client::publish_stream`](super::Client::publish_stream))
    /// that was not acknowledged on the last connection: the store kept only its head, so it
    /// is not re-sent [MQTT-4.4.0-1] but taken out of the store and named here. Publish it
    /// again with its payload.
    pub unsent_stream: Option<PacketId>,
}

impl<'a> Connected<'a> {
    fn str_prop(&self, id: PropertyId) -> Option<&'a str> {
        match self.properties.get(id)? {
            Property::AssignedClientIdentifier(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s) => Some(s),
            _ => None,
        }
    }

    /// Assigned Client Identifier (when CONNECT had an empty one).
    pub fn assigned_client_id(&self) -> Option<&'a str> {
        self.str_prop(PropertyId::AssignedClientIdentifier)
    }

    /// Response Information (after Request Response Information).
    pub fn response_information(&self) -> Option<&'a str> {
        self.str_prop(PropertyId::ResponseInformation)
    }

    /// Server Reference.
    pub fn server_reference(&self) -> Option<&'a str> {
        self.str_prop(PropertyId::ServerReference)
    }
}

/// The Server Reference in a property list (redirection, §4.11).
pub fn server_reference<'a>(properties: &Properties<'a>) -> Option<&'a str> {
    match properties.get(PropertyId::ServerReference) {
        Some(Property::ServerReference(s)) => Some(s),
        _ => None,
    }
}

/// Something the broker said. Borrows the input only, so the client is free for commands while
/// an event is held; `N` is the client's `ALIAS_LEN` (a topic that arrived as an alias is copied).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a, const N: usize = DEFAULT_ALIAS_LEN> {
    /// CONNACK with success: the session is up.
    Connected(Connected<'a>),
    /// CONNACK with an error reason code: the connection is over. Use Another Server (0x9C) and
    /// Server Moved (0x9D) name the server in [`server_reference`].
    Refused {
        /// The reason code.
        reason_code: ReasonCode,
        /// The CONNACK properties.
        properties: Properties<'a>,
    },
    /// A whole message.
    Message(Message<'a, N>),
    /// The head of a message larger than the receive buffer; `payload_len` bytes follow in
    /// [`Event::MessageChunk`]s. The acknowledgement is sent after the last chunk.
    MessageStart {
        /// The message, with an empty payload.
        message: Message<'a, N>,
        /// The payload length.
        payload_len: usize,
    },
    /// A message larger than the receive buffer, refused as Packet Too Large (0x95) because
    /// [`Config::stream_large_payloads`](super::Config::stream_large_payloads) is off: its payload is skipped, a QoS 1/2 message is
    /// acknowledged with Implementation Specific Error (0x83), and the connection goes on.
    MessageSkipped {
        /// The message, with an empty payload.
        message: Message<'a, N>,
        /// The payload length skipped.
        payload_len: usize,
    },
    /// A piece of the payload announced by [`Event::MessageStart`].
    MessageChunk {
        /// The bytes.
        data: &'a [u8],
        /// Their offset in the payload.
        offset: usize,
        /// `true` for the last chunk.
        last: bool,
    },
    /// An outgoing QoS 1/2 message is done: PUBACK, PUBCOMP, or a PUBREC with an error code.
    Published {
        /// Its packet identifier.
        packet_id: PacketId,
        /// The acknowledgement's reason code.
        reason_code: ReasonCode,
        /// The acknowledgement's properties.
        properties: Properties<'a>,
    },
    /// SUBACK: one reason code per filter, in request order.
    Subscribed {
        /// The SUBSCRIBE's packet identifier.
        packet_id: PacketId,
        /// Granted QoS or error, per filter.
        reason_codes: ReasonCodes<'a>,
        /// SUBACK properties.
        properties: Properties<'a>,
    },
    /// UNSUBACK: one reason code per filter (MQTT 5.0; none in 3.1.1).
    Unsubscribed {
        /// The UNSUBSCRIBE's packet identifier.
        packet_id: PacketId,
        /// Per-filter result.
        reason_codes: ReasonCodes<'a>,
        /// UNSUBACK properties.
        properties: Properties<'a>,
    },
    /// AUTH from the server: answer with [`Client::auth`](super::Client::auth) (Continue Authentication) or, for
    /// Success after a re-authentication, nothing.
    Auth {
        /// The reason code.
        reason_code: ReasonCode,
        /// Properties (method, data).
        properties: Properties<'a>,
    },
    /// The server sent DISCONNECT; the connection is over (see [`server_reference`]).
    Disconnected {
        /// The reason code.
        reason_code: ReasonCode,
        /// The DISCONNECT properties.
        properties: Properties<'a>,
    },
    /// PINGRESP.
    Pong,
}

pub(super) fn published<const N: usize>(a: Ack<'_>) -> Event<'_, N> {
    Event::Published {
        packet_id: a.packet_id,
        reason_code: a.reason_code,
        properties: a.properties,
    }
}
