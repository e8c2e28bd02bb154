//! The MQTT client session: a sans-IO state machine on top of the [packet codec](super::packet).
//!
//! [`Client`] owns no buffers and does no I/O. Bytes from the broker go in through
//! [`Client::handle_input`], bytes for the broker come out of [`Client::poll_transmit`] (acks,
//! pings, re-sent messages, DISCONNECT) or straight out of a command ([`Client::connect`],
//! [`Client::publish`], [`Client::subscribe`], ...) that encodes into a caller buffer, and time
//! comes in through [`Client::handle_timeout`]. Outgoing QoS 1/2 messages are kept in a caller
//! [`Store`] until acknowledged, and the identifiers of incoming QoS 2 messages until released, so
//! the session survives a reconnect (and, with a store in flash, a reboot).
//!
//! # The run loop invariant
//!
//! `Client` is a [`Machine`] and follows the crate's run loop: after **any**
//! call that may owe the broker bytes (a command, `handle_input`, `handle_timeout`), call
//! [`Client::poll_transmit`] until it returns `Ok(None)` and send what it wrote, in order; only
//! then send a command's own bytes, or wait for input or for [`Client::poll_timeout`]. The
//! drivers in [`io`](crate::io) do all of this; by hand it looks like this:
//!
//! 1. `connect(now, &options, out)`, send the bytes.
//! 2. Loop: drain `poll_transmit`; wait for bytes or the deadline of `poll_timeout`.
//! 3. On bytes: call `handle_input` until it stops making [`Status::Progress`]; each call
//!    consumes at most one packet (or one chunk of a large PUBLISH) and may report one
//!    [`Event`], which borrows the input only: the client takes commands while you hold it.
//! 4. On the deadline: `handle_timeout(now)` (harmless when early).
//!
//! ```no_run
//! use mqtt_ws::Status;
//! use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
//! use mqtt_ws::time::Instant;
//! # fn transport_send(_: &[u8]) {}
//! # fn transport_recv(_: &mut [u8]) -> usize { 0 }
//! # fn now() -> Instant { Instant::ZERO }
//! let mut store_buf = [0u8; 1024];
//! let mut client: Client<SliceStore<'_, 8>> =
//!     Client::new(SliceStore::new(&mut store_buf), Config::new(512));
//! let (mut rx, mut rx_len, mut tx) = ([0u8; 512], 0usize, [0u8; 512]);
//! let n = client.connect(now(), &ConnectOptions::new("sensor-1"), &mut tx)?;
//! transport_send(&tx[..n]);
//! loop {
//!     while let Some(n) = client.poll_transmit(now(), &mut tx)? {
//!         transport_send(&tx[..n]);
//!     }
//!     rx_len += transport_recv(&mut rx[rx_len..]);
//!     let mut start = 0;
//!     while let Status::Progress { consumed, event } =
//!         client.handle_input(now(), &rx[start..rx_len])?
//!     {
//!         start += consumed;
//!         match event {
//!             Some(Event::Connected(_)) => {
//!                 // What the client owes goes first (the rule), then the command's bytes.
//!                 while let Some(n) = client.poll_transmit(now(), &mut tx)? {
//!                     transport_send(&tx[..n]);
//!                 }
//!                 let light = Outgoing::new("home/livingroom/light", b"ON");
//!                 let sent = client.publish(now(), &light, &mut tx)?;
//!                 transport_send(&tx[..sent.len]);
//!             }
//!             Some(Event::Message(m)) => { /* m.topic, m.payload */ }
//!             _ => {}
//!         }
//!     }
//!     rx.copy_within(start..rx_len, 0);
//!     rx_len -= start;
//!     client.handle_timeout(now())?;
//! }
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! # Invariants
//!
//! - No broker input panics; every broker fault is an [`Error::Remote`] naming the reason code
//!   that the queued DISCONNECT carries (MQTT 5.0). Local misuse is an [`Error::Usage`] and changes
//!   nothing.
//! - A packet identifier is never reused while its message or request is in flight.
//! - Outgoing QoS 1/2 messages are counted against the server's Receive Maximum; at the limit,
//!   `publish` returns [`UsageError::ReceiveMaximumReached`] (backpressure, nothing dropped).
//! - Incoming QoS 2 messages are delivered once: a re-sent PUBLISH with a packet identifier still
//!   waiting for its PUBREL is acknowledged again but not delivered again [MQTT-4.3.3-10].
//! - An incoming QoS 2 message holds one slot of the announced Receive Maximum (`IN_FLIGHT`) from its
//!   PUBLISH until its PUBREL, when the PUBCOMP that frees the server's quota (§4.9) is queued.
//!   A PUBLISH beyond that is refused with Receive Maximum Exceeded (0x93) [MQTT-3.3.4-9], on
//!   every connection it happens. A resumed session announces only the slots its carried
//!   messages leave free (at least 1). Mosquitto 2.0.11 overshoots while it has messages queued
//!   for the client (each PUBCOMP of its oldest in-flight message releases up to Receive Maximum
//!   more); there, choose `IN_FLIGHT` above the backlog expected after a reconnect.
//! - Topic aliases (both ways) live for one network connection and are reset by `connect`.
//! - A payload larger than any buffer goes out in pieces: [`Client::publish_stream`] writes the
//!   head of the PUBLISH, [`Client::publish_chunk`] the payload as it fits, [`Client::publish_end`]
//!   ends it. Nothing else is written in between (acks and PINGREQ wait); the store keeps the
//!   head only, so such a message is named by [`Connected::unsent_stream`] instead of re-sent.

mod alias;
mod error;
mod event;
mod options;
mod store;

pub use error::{Error, RemoteError, RemoteFault, Timeout, UsageError};
pub use event::{Connected, Event, request_properties, response_to, server_reference};
pub use options::{Config, ConnectOptions, Outgoing, Sent};
pub use store::{SliceStore, Store, StoreFull, Stored};

use alias::TopicRef;
use event::published;
use options::connect_properties;

use core::num::{NonZeroU16, NonZeroU32};

pub use super::message::Message;
use super::message::{DEFAULT_ALIAS_LEN, Topic};
use super::packet::{
    Auth, ConnAck, Connect, DecodeOptions, Disconnect, Encode, FixedHeader, PacketType, Publish,
    QosPid, ReasonCodes, ServerPacket, SubAck, SubscribeSlice, Subscription, UnsubAck,
    UnsubscribeSlice, decode_server_packet, encode_short, read_publish,
};
use super::properties::{Properties, PropertiesBuilder, PropertyId};
use super::wire::Writer;
use super::{EncodeError, PacketId, Qos, ReasonCode, Version};
use crate::machine::{BufferTooSmall, Machine, Status};
use crate::time::{Duration, Instant};

/// Bytes of stack scratch the client uses to merge property lists (CONNECT properties, a
/// PUBLISH's properties plus a Topic Alias). Longer lists give [`UsageError::PropertiesTooLong`].
pub const PROPERTY_SCRATCH: usize = 512;

/// Capacity of the queue of small packets owed to the server (acks, PINGREQ).
const CONTROL_QUEUE: usize = 8;

/// Capacity of SUBSCRIBE/UNSUBSCRIBE requests waiting for their acknowledgement.
const PENDING_REQUESTS: usize = 8;

/// The session's connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// No connection: call [`Client::connect`].
    Disconnected,
    /// CONNECT sent, CONNACK awaited (AUTH may be exchanged).
    Connecting,
    /// CONNACK received.
    Connected,
    /// A broker fault: the DISCONNECT is owed through `poll_transmit`, then the transport closes.
    Closing,
}

/// What the server said it can take (CONNACK, §3.2.2.3); protocol defaults until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerLimits {
    /// Receive Maximum: QoS 1/2 messages in flight at once.
    pub receive_maximum: u16,
    /// Maximum QoS.
    pub maximum_qos: Qos,
    /// Retain Available.
    pub retain_available: bool,
    /// Maximum Packet Size (`None`: the protocol's limit).
    pub maximum_packet_size: Option<u32>,
    /// Topic Alias Maximum.
    pub topic_alias_maximum: u16,
    /// Wildcard Subscription Available.
    pub wildcard_subscriptions: bool,
    /// Subscription Identifiers Available.
    pub subscription_identifiers: bool,
    /// Shared Subscription Available.
    pub shared_subscriptions: bool,
    /// Server Keep Alive, replacing the client's [MQTT-3.2.2-21].
    pub keep_alive: Option<u16>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            receive_maximum: u16::MAX,
            maximum_qos: Qos::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            wildcard_subscriptions: true,
            subscription_identifiers: true,
            shared_subscriptions: true,
            keep_alive: None,
        }
    }
}

impl ServerLimits {
    fn from_properties(p: &Properties<'_>) -> Self {
        let mut s = Self::default();
        // The list was validated: the booleans and Maximum QoS are 0 or 1, the numbers in range.
        for (id, v) in p.ints() {
            let set = v != 0;
            match id {
                PropertyId::ReceiveMaximum => s.receive_maximum = v as u16,
                PropertyId::MaximumQos => {
                    s.maximum_qos = if set { Qos::AtLeastOnce } else { Qos::AtMostOnce };
                }
                PropertyId::RetainAvailable => s.retain_available = set,
                PropertyId::MaximumPacketSize => s.maximum_packet_size = Some(v),
                PropertyId::TopicAliasMaximum => s.topic_alias_maximum = v as u16,
                PropertyId::WildcardSubscriptionAvailable => s.wildcard_subscriptions = set,
                PropertyId::SubscriptionIdentifierAvailable => s.subscription_identifiers = set,
                PropertyId::SharedSubscriptionAvailable => s.shared_subscriptions = set,
                PropertyId::ServerKeepAlive => s.keep_alive = Some(v as u16),
                _ => {}
            }
        }
        s
    }
}

/// The filters of a SUBSCRIBE or UNSUBSCRIBE request.
#[derive(Clone, Copy)]
enum Filters<'r> {
    Subscribe(&'r [Subscription<'r>]),
    Unsubscribe(&'r [&'r str]),
}

/// SUBSCRIBE or UNSUBSCRIBE: one encoder instance for both requests.
#[derive(Clone, Copy)]
enum Request<'r> {
    Subscribe(SubscribeSlice<'r>),
    Unsubscribe(UnsubscribeSlice<'r>),
}

impl Encode for Request<'_> {
    fn first(&self) -> u8 {
        match self {
            Request::Subscribe(s) => s.first(),
            Request::Unsubscribe(u) => u.first(),
        }
    }
    fn body(&self, version: Version) -> Result<usize, EncodeError> {
        match self {
            Request::Subscribe(s) => s.body(version),
            Request::Unsubscribe(u) => u.body(version),
        }
    }
    fn write_to(&self, version: Version, w: &mut Writer<'_>) {
        match self {
            Request::Subscribe(s) => s.write_to(version, w),
            Request::Unsubscribe(u) => u.write_to(version, w),
        }
    }
}

/// A small packet owed to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    PubAck(PacketId, ReasonCode),
    PubRec(PacketId, ReasonCode),
    PubRel(PacketId, ReasonCode),
    PubComp(PacketId, ReasonCode),
    PingReq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestKind {
    Subscribe,
    Unsubscribe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    id: PacketId,
    kind: RequestKind,
    filters: usize,
}

/// A PUBLISH payload being delivered in chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streaming {
    remaining: usize,
    offset: usize,
    deliver: bool,
    ack: Option<Control>,
}

/// An outgoing PUBLISH whose payload the caller hands over in pieces
/// ([`Client::publish_stream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sending {
    /// Payload bytes announced and not yet handed over.
    remaining: usize,
    /// Its packet identifier (QoS 1/2).
    packet_id: Option<PacketId>,
}

/// What to do with an incoming PUBLISH.
struct Incoming<'a> {
    topic: TopicRef<'a>,
    deliver: bool,
    ack: Option<Control>,
}

/// The MQTT client session state machine; see the [module docs](self) for the run loop.
///
/// - `S`: the session's [`Store`]: outgoing QoS 1/2 messages in flight, incoming QoS 2 messages
///   awaiting PUBREL.
/// - `IN_FLIGHT`: incoming QoS 2 messages awaiting PUBREL at once; announced as Receive
///   Maximum (at least 1).
/// - `ALIASES`: topic aliases each way; announced as Topic Alias Maximum (0 turns them off).
/// - `ALIAS_LEN`: the longest topic name an alias slot holds.
#[derive(Debug)]
pub struct Client<
    S: Store,
    const IN_FLIGHT: usize = 16,
    const ALIASES: usize = 8,
    const ALIAS_LEN: usize = DEFAULT_ALIAS_LEN,
> {
    store: S,
    config: Config,
    state: State,
    version: Version,
    server: ServerLimits,
    keep_alive: u16,
    auth_method: bool,
    clean_start: bool,
    connect_sent: Instant,
    last_sent: Instant,
    ping_sent: Option<Instant>,
    next_id: u16,
    resend: Option<usize>,
    close_reason: ReasonCode,
    control: heapless::Deque<Control, CONTROL_QUEUE>,
    pending: heapless::Vec<Pending, PENDING_REQUESTS>,
    aliases_in: alias::Inbound<ALIASES, ALIAS_LEN>,
    aliases_out: crate::mqtt::alias::Outbound<ALIASES, ALIAS_LEN>,
    stream: Option<Streaming>,
    sending: Option<Sending>,
}

impl<S: Store, const IN_FLIGHT: usize, const ALIASES: usize, const ALIAS_LEN: usize>
    Client<S, IN_FLIGHT, ALIASES, ALIAS_LEN>
{
    /// A disconnected client keeping in-flight messages in `store`.
    #[inline(never)]
    pub fn new(store: S, config: Config) -> Self {
        Self {
            store,
            config,
            state: State::Disconnected,
            version: Version::V5,
            server: ServerLimits::default(),
            keep_alive: 0,
            auth_method: false,
            clean_start: true,
            connect_sent: Instant::ZERO,
            last_sent: Instant::ZERO,
            ping_sent: None,
            next_id: 1,
            resend: None,
            close_reason: ReasonCode::Success,
            control: heapless::Deque::new(),
            pending: heapless::Vec::new(),
            aliases_in: alias::Inbound::new(),
            aliases_out: crate::mqtt::alias::Outbound::new(),
            stream: None,
            sending: None,
        }
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The protocol version of the current (or last) connection.
    pub fn version(&self) -> Version {
        self.version
    }

    /// What the server said it can take (defaults before CONNACK).
    pub fn server(&self) -> &ServerLimits {
        &self.server
    }

    /// The keep alive in force, in seconds (the server's if it sent one).
    pub fn keep_alive(&self) -> u16 {
        self.keep_alive
    }

    /// The Receive Maximum this client announces: `IN_FLIGHT`, or what the store can hold if
    /// that is less.
    pub fn receive_maximum(&self) -> usize {
        IN_FLIGHT.min(self.store.awaiting_capacity()).max(1)
    }

    /// The in-flight store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Outgoing QoS 1/2 messages not yet completed.
    pub fn in_flight(&self) -> usize {
        self.store.len()
    }

    /// Gives the store back (to keep it for a later session).
    pub fn into_store(self) -> S {
        self.store
    }

    fn decode_options(&self) -> DecodeOptions {
        let max = self.config.max_packet_size.map_or(u32::MAX, NonZeroU32::get);
        DecodeOptions::new(self.version).with_max_packet_size(max)
    }

    /// Encodes CONNECT for `options` into `out` and starts a connection (a new network
    /// connection: topic aliases reset). With `clean_start` the store is emptied.
    pub fn connect(
        &mut self,
        now: Instant,
        options: &ConnectOptions<'_>,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if matches!(self.state, State::Connecting | State::Connected) {
            return Err(UsageError::AlreadyConnected.into());
        }
        let v5 = options.version == Version::V5;
        if !v5
            && (options.session_expiry != 0
                || options.will.is_some_and(|w| !w.properties.is_empty())
                || options.auth_method.is_some()
                || options.auth_data.is_some()
                || options.request_response_information
                || !options.request_problem_information
                || !options.user_properties.is_empty())
        {
            return Err(UsageError::NotInVersion.into());
        }
        if options.auth_data.is_some() && options.auth_method.is_none() {
            return Err(UsageError::NoAuthenticationMethod.into());
        }
        let mut scratch = [0u8; PROPERTY_SCRATCH];
        let properties = if v5 {
            let carried = if options.clean_start { 0 } else { self.store.awaiting_release() };
            let receive = self.receive_maximum();
            connect_properties::<ALIASES>(&mut scratch, options, &self.config, receive, carried)?
        } else {
            Properties::EMPTY
        };
        let connect = Connect {
            version: options.version,
            clean_start: options.clean_start,
            keep_alive: options.keep_alive,
            properties,
            client_id: options.client_id,
            will: options.will,
            username: options.username,
            password: options.password,
        };
        let n = connect.encode_as(options.version, out)?;
        self.version = options.version;
        self.state = State::Connecting;
        self.server = ServerLimits::default();
        self.keep_alive = options.keep_alive;
        self.auth_method = options.auth_method.is_some();
        self.clean_start = options.clean_start;
        self.connect_sent = now;
        self.last_sent = now;
        self.ping_sent = None;
        self.resend = None;
        self.control.clear();
        self.pending.clear();
        self.aliases_in.clear();
        self.aliases_out.clear();
        self.stream = None;
        self.sending = None;
        if options.clean_start {
            self.store.clear();
        }
        debug!("CONNECT sent ({=usize} bytes)", n);
        Ok(n)
    }

    /// Reads at most one packet (or one chunk of a large PUBLISH) from the front of `input`.
    ///
    /// The event borrows `input` only. [`Status::NeedMore`]: more bytes are needed (nothing
    /// consumed); [`Status::Blocked`]: drain [`Client::poll_transmit`] first; [`Status::Closed`]:
    /// no connection (call [`Client::connect`]). Call it again with the rest of the input until
    /// it needs more; drain [`Client::poll_transmit`] afterwards.
    #[inline(never)]
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a [u8],
    ) -> Result<Status<Option<Event<'a, ALIAS_LEN>>>, Error> {
        let _ = now;
        if matches!(self.state, State::Disconnected | State::Closing) {
            return Ok(Status::Closed);
        }
        if self.control.is_full() {
            return Ok(Status::Blocked);
        }
        if let Some(st) = self.stream.as_mut() {
            if input.is_empty() {
                return Ok(Status::NeedMore { needed: st.remaining });
            }
            let n = input.len().min(st.remaining);
            let offset = st.offset;
            st.offset += n;
            st.remaining -= n;
            let last = st.remaining == 0;
            let deliver = st.deliver;
            if last {
                if let Some(ack) = st.ack {
                    self.queue(ack);
                }
                self.stream = None;
            }
            let data = input.get(..n).unwrap_or_default();
            let event = deliver.then_some(Event::MessageChunk { data, offset, last });
            return Ok(Status::Progress { consumed: n, event });
        }
        let options = self.decode_options();
        let (header, _) = match FixedHeader::decode(input, &options) {
            Ok(status) => match status.into_progress() {
                Ok(header) => header,
                Err(waiting) => return Ok(waiting),
            },
            Err(e) => return Err(self.fault(RemoteFault::Decode(e))),
        };
        let total = header.total_len();
        let too_large = total > self.config.rx_buffer_len;
        if header.packet_type == PacketType::Publish
            && (!too_large || self.state == State::Connected)
        {
            return self.publish_input(input, &header, too_large);
        }
        if too_large {
            return Err(self.fault(RemoteFault::PacketTooLarge));
        }
        let Some(body) = input.get(header.header_len..total) else {
            return Ok(Status::NeedMore { needed: total - input.len() });
        };
        // A server that speaks only MQTT 3.1.1 answers a 5.0 CONNECT with a 3.1.1 CONNACK:
        // return code 0x01, unacceptable protocol level, and no properties (3.1.1
        // [MQTT-3.1.2-2]). That is a refusal, reported as such, not a malformed 5.0 CONNACK.
        if self.state == State::Connecting
            && self.version == Version::V5
            && header.packet_type == PacketType::ConnAck
            && body == [0x00, 0x01]
        {
            let refused = ConnAck::new(ReasonCode::UnsupportedProtocolVersion);
            return Ok(Status::Progress { consumed: total, event: Some(self.on_connack(refused)) });
        }
        // Only the decoders of server packets are linked; a type only a client sends is a
        // protocol error whatever its body (§4.13.1).
        let packet = match decode_server_packet(&header, body, self.version) {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Err(self.fault(RemoteFault::UnexpectedPacket(header.packet_type)));
            }
            Err(e) => return Err(self.fault(RemoteFault::Decode(e))),
        };
        trace!("received {:?}", header.packet_type);
        let event = self.on_packet(header.packet_type, packet)?;
        Ok(Status::Progress { consumed: total, event })
    }

    /// The topic of an incoming PUBLISH for its event: borrowed from the input, or copied out of
    /// the alias slot (so the event does not borrow the session).
    fn topic<'a>(&self, t: TopicRef<'a>) -> Topic<'a, ALIAS_LEN> {
        match t {
            TopicRef::Input(s) => Topic::new(s),
            // A slot holds at most ALIAS_LEN bytes, so the copy always fits.
            TopicRef::Alias(i) => Topic::copied(self.aliases_in.get(i)).unwrap_or(Topic::new("")),
        }
    }

    /// A PUBLISH after its fixed header: whole when it fits the receive buffer, else its head
    /// now and the payload streamed in chunks (or skipped) by the next calls.
    fn publish_input<'a>(
        &mut self,
        input: &'a [u8],
        header: &FixedHeader,
        too_large: bool,
    ) -> Result<Status<Option<Event<'a, ALIAS_LEN>>>, Error> {
        let total = header.total_len();
        let body = if too_large {
            input.get(header.header_len..).unwrap_or_default()
        } else {
            match input.get(header.header_len..total) {
                Some(body) => body,
                None => return Ok(Status::NeedMore { needed: total - input.len() }),
            }
        };
        let (p, used) = match read_publish(header, body, self.version) {
            Ok(status) => match status.into_progress() {
                Ok(head) => head,
                Err(_) if input.len() >= self.config.rx_buffer_len => {
                    // The head alone does not fit the receive buffer.
                    return Err(self.fault(RemoteFault::PacketTooLarge));
                }
                Err(waiting) => return Ok(waiting),
            },
            Err(e) => return Err(self.fault(RemoteFault::Decode(e))),
        };
        let mut incoming = self.on_publish(&p)?;
        let skip = too_large && !self.config.stream_large_payloads;
        if skip {
            // Refused: acknowledged with an error, so a QoS 2 exchange ends at PUBREC (§4.3.3).
            let code = ReasonCode::ImplementationSpecificError;
            incoming.ack = match p.qos_pid {
                QosPid::AtMostOnce => None,
                QosPid::AtLeastOnce(id) => Some(Control::PubAck(id, code)),
                QosPid::ExactlyOnce(id) => {
                    self.store.released(id);
                    Some(Control::PubRec(id, code))
                }
            };
        }
        let payload_len = header.remaining_len - used;
        if too_large && payload_len > 0 {
            self.stream = Some(Streaming {
                remaining: payload_len,
                offset: 0,
                deliver: incoming.deliver && !skip,
                ack: incoming.ack,
            });
        } else if let Some(ack) = incoming.ack {
            self.queue(ack);
        }
        let consumed = if too_large { header.header_len + used } else { total };
        let event = if incoming.deliver || skip {
            let topic = self.topic(incoming.topic);
            Some(if !too_large {
                Event::Message(Message::new(&p, topic, body.get(used..).unwrap_or_default()))
            } else if skip {
                Event::MessageSkipped { message: Message::new(&p, topic, &[]), payload_len }
            } else {
                Event::MessageStart { message: Message::new(&p, topic, &[]), payload_len }
            })
        } else {
            None
        };
        Ok(Status::Progress { consumed, event })
    }

    /// Topic alias and QoS bookkeeping of an incoming PUBLISH.
    fn on_publish<'a>(&mut self, p: &Publish<'a>) -> Result<Incoming<'a>, Error> {
        if self.state != State::Connected {
            return Err(self.fault(RemoteFault::UnexpectedPacket(PacketType::Publish)));
        }
        let alias =
            p.properties.int(PropertyId::TopicAlias).and_then(|v| NonZeroU16::new(v as u16));
        let topic = match alias {
            None => TopicRef::Input(p.topic),
            Some(alias) => match self.aliases_in.resolve(alias, p.topic) {
                Ok(t) => t,
                Err(f) => return Err(self.fault(f)),
            },
        };
        let (deliver, ack) = match p.qos_pid {
            QosPid::AtMostOnce => (true, None),
            QosPid::AtLeastOnce(id) => (true, Some(Control::PubAck(id, ReasonCode::Success))),
            QosPid::ExactlyOnce(id) => {
                let ack = Some(Control::PubRec(id, ReasonCode::Success));
                if self.store.awaits_release(id) {
                    // [MQTT-4.3.3-10] a re-sent message is acknowledged, not delivered again.
                    (false, ack)
                } else if self.store.awaiting_release() >= self.receive_maximum()
                    || self.store.await_release(id).is_err()
                {
                    // [MQTT-3.3.4-9] more QoS 2 messages in flight than the Receive Maximum
                    // (`IN_FLIGHT`, or less when the store holds fewer): left unacknowledged,
                    // never delivered unrecorded, for the server to send again later.
                    return Err(self.fault(RemoteFault::ReceiveMaximumExceeded));
                } else {
                    (true, ack)
                }
            }
        };
        Ok(Incoming { topic, deliver, ack })
    }

    fn on_packet<'a>(
        &mut self,
        ty: PacketType,
        packet: ServerPacket<'a>,
    ) -> Result<Option<Event<'a, ALIAS_LEN>>, Error> {
        if self.state == State::Connecting {
            // [MQTT-3.2.0-1]: CONNACK (or AUTH) first.
            return match packet {
                ServerPacket::ConnAck(c) if c.session_present && self.clean_start => {
                    // [MQTT-3.2.2-2] Clean Start 1 means Session Present 0.
                    Err(self.fault(RemoteFault::SessionPresentOnCleanStart))
                }
                ServerPacket::ConnAck(c) => Ok(Some(self.on_connack(c))),
                ServerPacket::Auth(a) => self.on_auth(a),
                _ => Err(self.fault(RemoteFault::UnexpectedPacket(ty))),
            };
        }
        match packet {
            ServerPacket::Ack(ty, a) if ty != PacketType::PubRel => {
                // What the store holds for the identifier: the QoS of a kept PUBLISH, RELEASED
                // after its PUBREC, NOTHING; one lookup for PUBACK, PUBREC and PUBCOMP.
                const RELEASED: u8 = 4;
                const NOTHING: u8 = 5;
                let id = a.packet_id;
                let held = match self.store.find(id) {
                    Some(Stored::Publish { packet, .. }) => stored_qos(packet),
                    Some(Stored::Released { .. }) => RELEASED,
                    None => NOTHING,
                };
                match (ty, held) {
                    (PacketType::PubAck, 1) | (PacketType::PubComp, RELEASED) => {
                        self.store.remove(id);
                        Ok(Some(published(a)))
                    }
                    (PacketType::PubRec, 2) if a.reason_code.is_error() => {
                        // §4.3.3: a PUBREC with an error ends the exchange.
                        self.store.remove(id);
                        Ok(Some(published(a)))
                    }
                    (PacketType::PubRec, 2) => {
                        self.store.release(id);
                        self.queue(Control::PubRel(id, ReasonCode::Success));
                        Ok(None)
                    }
                    (PacketType::PubRec, RELEASED) => {
                        self.queue(Control::PubRel(id, ReasonCode::Success));
                        Ok(None)
                    }
                    (PacketType::PubRec, NOTHING) => {
                        self.queue(Control::PubRel(id, ReasonCode::PacketIdentifierNotFound));
                        Ok(None)
                    }
                    (_, NOTHING) => {
                        warn!("acknowledgement for unknown packet id {=u16}", id.get());
                        Ok(None)
                    }
                    _ => Err(self.fault(RemoteFault::AckMismatch)),
                }
            }
            ServerPacket::Ack(PacketType::PubRel, a) => {
                let code = if self.store.released(a.packet_id) {
                    ReasonCode::Success
                } else {
                    ReasonCode::PacketIdentifierNotFound
                };
                self.queue(Control::PubComp(a.packet_id, code));
                Ok(None)
            }
            ServerPacket::SubAck(SubAck { packet_id, properties, reason_codes }) => {
                self.take_pending(packet_id, RequestKind::Subscribe, reason_codes, true)?;
                Ok(Some(Event::Subscribed { packet_id, reason_codes, properties }))
            }
            ServerPacket::UnsubAck(UnsubAck { packet_id, properties, reason_codes }) => {
                let counted = self.version == Version::V5;
                self.take_pending(packet_id, RequestKind::Unsubscribe, reason_codes, counted)?;
                Ok(Some(Event::Unsubscribed { packet_id, reason_codes, properties }))
            }
            ServerPacket::PingResp => {
                self.ping_sent = None;
                Ok(Some(Event::Pong))
            }
            ServerPacket::Disconnect(d) => {
                info!("server DISCONNECT {:?}", d.reason_code);
                self.state = State::Disconnected;
                self.control.clear();
                Ok(Some(Event::Disconnected {
                    reason_code: d.reason_code,
                    properties: d.properties,
                }))
            }
            ServerPacket::Auth(a) => self.on_auth(a),
            _ => Err(self.fault(RemoteFault::UnexpectedPacket(ty))),
        }
    }

    fn take_pending(
        &mut self,
        id: PacketId,
        kind: RequestKind,
        codes: ReasonCodes<'_>,
        counted: bool,
    ) -> Result<(), Error> {
        let i = self.pending.iter().position(|p| p.id == id && p.kind == kind);
        let Some(i) = i else { return Err(self.fault(RemoteFault::AckMismatch)) };
        let filters = self.pending.get(i).map_or(0, |p| p.filters);
        // [MQTT-3.8.4-6], [MQTT-3.10.4-5]: one reason code per topic filter.
        if counted && codes.len() != filters {
            return Err(self.fault(RemoteFault::AckMismatch));
        }
        self.pending.swap_remove(i);
        Ok(())
    }

    fn on_connack<'a>(&mut self, c: ConnAck<'a>) -> Event<'a, ALIAS_LEN> {
        if c.reason_code.is_error() {
            info!("CONNACK refused {:?}", c.reason_code);
            self.state = State::Disconnected;
            return Event::Refused { reason_code: c.reason_code, properties: c.properties };
        }
        self.state = State::Connected;
        self.server = ServerLimits::from_properties(&c.properties);
        if let Some(ka) = self.server.keep_alive {
            // [MQTT-3.2.2-21] the server's keep alive replaces the client's.
            self.keep_alive = ka;
        }
        // A streamed PUBLISH is kept as its head only: it cannot be re-sent from the store, so
        // it leaves the store here and the event names it for the caller to publish again.
        let unsent_stream = self.take_unsent_stream();
        if c.session_present {
            // [MQTT-4.4.0-1] re-send unacknowledged PUBLISH (DUP) and PUBREL packets.
            self.resend = (!self.store.is_empty()).then_some(0);
        } else {
            // [MQTT-3.2.2-4]-style: no session on the server, so none here either.
            self.store.clear();
        }
        Event::Connected(Connected {
            session_present: c.session_present,
            properties: c.properties,
            unsent_stream,
        })
    }

    /// Removes the streamed PUBLISH still awaiting PUBACK or PUBREC from the store (there is at
    /// most one, see [`Client::publish_stream`]) and returns its identifier.
    fn take_unsent_stream(&mut self) -> Option<PacketId> {
        let id = (0..self.store.len()).find_map(|i| match self.store.get(i) {
            Some(Stored::Publish { id, packet }) if is_head_only(packet) => Some(id),
            _ => None,
        })?;
        self.store.remove(id);
        Some(id)
    }

    fn on_auth<'a>(&mut self, a: Auth<'a>) -> Result<Option<Event<'a, ALIAS_LEN>>, Error> {
        if !self.auth_method {
            // [MQTT-4.12.0-6] no AUTH unless CONNECT named a method.
            return Err(self.fault(RemoteFault::UnexpectedAuth));
        }
        Ok(Some(Event::Auth { reason_code: a.reason_code, properties: a.properties }))
    }

    /// A broker fault: drop what was owed, queue DISCONNECT (5.0), report it.
    fn fault(&mut self, fault: RemoteFault) -> Error {
        let e = RemoteError::new(fault);
        warn!("broker fault {:?}", e.fault);
        self.stream = None;
        self.control.clear();
        self.resend = None;
        // Bytes sent in the middle of a streamed PUBLISH would be read as its payload: no
        // DISCONNECT then, the transport is closed.
        let mid_packet = self.sending.take().is_some();
        // §4.13.1: the DISCONNECT with the reason code may go out before CONNACK too.
        if self.version == Version::V5
            && !mid_packet
            && matches!(self.state, State::Connected | State::Connecting)
        {
            self.close_reason = e.reason();
            self.state = State::Closing;
        } else {
            self.state = State::Disconnected;
        }
        Error::Remote(e)
    }

    fn queue(&mut self, c: Control) {
        // handle_input refuses to start with a full queue and queues at most one item.
        if self.control.push_back(c).is_err() {
            warn!("control queue full");
        }
    }

    /// Writes the next packet owed to the server into `out`: re-sent messages after a session
    /// resume, acknowledgements, PINGREQ, the DISCONNECT after a broker fault.
    ///
    /// Call it after every other call until it returns `Ok(None)`. All-or-nothing: on
    /// [`BufferTooSmall`] nothing changed.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        match self.state {
            State::Disconnected => Ok(None),
            State::Closing => {
                let mut d = Disconnect::new(self.close_reason);
                if !self.close_reason.is_allowed_in(super::reason::ReasonContext::Disconnect) {
                    d.reason_code = ReasonCode::ProtocolError;
                }
                let n =
                    d.encode_as(self.version, out).map_err(EncodeError::into_buffer_too_small)?;
                self.state = State::Disconnected;
                Ok(Some(n))
            }
            // Nothing may go out in the middle of a streamed PUBLISH: acks and PINGREQ wait.
            State::Connected if self.sending.is_some() => Ok(None),
            State::Connecting | State::Connected => {
                if self.state == State::Connected
                    && let Some(n) = self.poll_resend(out)?
                {
                    self.last_sent = now;
                    return Ok(Some(n));
                }
                let Some(&c) = self.control.front() else { return Ok(None) };
                let n = self.encode_control(c, out)?;
                self.control.pop_front();
                if c == Control::PingReq {
                    // The PINGRESP is awaited from now (the PINGREQ may have waited for the end
                    // of a streamed PUBLISH).
                    self.ping_sent = Some(now);
                }
                self.last_sent = now;
                Ok(Some(n))
            }
        }
    }

    fn poll_resend(&mut self, out: &mut [u8]) -> Result<Option<usize>, BufferTooSmall> {
        let Some(i) = self.resend else { return Ok(None) };
        let n = match self.store.get(i) {
            None => {
                self.resend = None;
                return Ok(None);
            }
            Some(Stored::Publish { packet, .. }) => {
                let Some(dst) = out.get_mut(..packet.len()) else {
                    return Err(BufferTooSmall { required: packet.len() });
                };
                dst.copy_from_slice(packet);
                // [MQTT-3.3.1-1] DUP on a re-delivery.
                if let Some(b) = dst.first_mut() {
                    *b |= 0b1000;
                }
                packet.len()
            }
            Some(Stored::Released { id }) => {
                self.encode_control(Control::PubRel(id, ReasonCode::Success), out)?
            }
        };
        self.resend = Some(i + 1);
        Ok(Some(n))
    }

    /// Writes a control packet: PINGREQ (§3.12), or PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4 -
    /// §3.7) without properties, through the codec's short encoder.
    fn encode_control(&self, c: Control, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let (ty, id, code) = match c {
            Control::PubAck(id, code) => (PacketType::PubAck, id, code),
            Control::PubRec(id, code) => (PacketType::PubRec, id, code),
            Control::PubRel(id, code) => (PacketType::PubRel, id, code),
            Control::PubComp(id, code) => (PacketType::PubComp, id, code),
            Control::PingReq => {
                (PacketType::PingReq, PacketId(NonZeroU16::MIN), ReasonCode::Success)
            }
        };
        encode_short(ty, id, code, self.version, out).map_err(EncodeError::into_buffer_too_small)
    }

    /// When to call [`Client::handle_timeout`] next; `None`: no timer.
    ///
    /// None during a streamed PUBLISH: its chunks are the traffic keep-alive asks for, a
    /// PINGREQ could not go out before its end anyway, and a PINGRESP is not awaited while the
    /// caller may be writing instead of reading.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (from, after) = match self.state {
            State::Connecting => (self.connect_sent, self.config.connect_timeout),
            State::Connected if self.sending.is_some() => return None,
            State::Connected if self.keep_alive > 0 => match self.ping_sent {
                Some(t) => (t, self.ping_timeout()),
                None => (self.last_sent, Duration::from_secs(u64::from(self.keep_alive))),
            },
            _ => return None,
        };
        Some(from + after)
    }

    fn ping_timeout(&self) -> Duration {
        self.config.ping_timeout.unwrap_or(Duration::from_secs(u64::from(self.keep_alive)))
    }

    /// Drives keep-alive and the CONNACK deadline. Idempotent and harmless when early.
    ///
    /// A PINGREQ is queued when nothing was sent for the keep-alive interval (§3.1.2.10);
    /// [`Error::Timeout`] means the connection is lost (close the transport, reconnect).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        // One deadline, the one `poll_timeout` gives: CONNACK, PINGRESP or the next PINGREQ.
        let Some(deadline) = self.poll_timeout() else { return Ok(()) };
        if now < deadline {
            return Ok(());
        }
        if self.state == State::Connecting {
            self.state = State::Disconnected;
            return Err(Error::Timeout(Timeout::ConnAck));
        }
        if self.ping_sent.is_some() {
            self.state = State::Disconnected;
            self.control.clear();
            return Err(Error::Timeout(Timeout::PingResp));
        }
        if self.control.push_back(Control::PingReq).is_ok() {
            self.ping_sent = Some(now);
        }
        Ok(())
    }

    /// Connected, and no streamed PUBLISH unfinished: a packet is a contiguous run of the byte
    /// stream (§2.1, §4.2), so none may go out in the middle of another.
    fn require_connected(&self) -> Result<(), Error> {
        if self.state != State::Connected {
            return Err(UsageError::NotConnected.into());
        }
        self.require_no_stream()
    }

    fn require_no_stream(&self) -> Result<(), Error> {
        match self.sending {
            Some(_) => Err(UsageError::StreamUnfinished.into()),
            None => Ok(()),
        }
    }

    fn id_in_use(&self, id: PacketId) -> bool {
        self.pending.iter().any(|p| p.id == id) || self.store.find(id).is_some()
    }

    /// The next free packet identifier [MQTT-2.2.1-3]: never one still in flight.
    fn alloc_id(&mut self) -> Result<PacketId, Error> {
        for _ in 0..u16::MAX {
            let n = self.next_id;
            self.next_id = if n == u16::MAX { 1 } else { n + 1 };
            if let Some(id) = PacketId::new(n)
                && !self.id_in_use(id)
            {
                return Ok(id);
            }
        }
        Err(UsageError::PacketIdsExhausted.into())
    }

    fn check_size(&self, len: usize) -> Result<(), Error> {
        match self.server.maximum_packet_size {
            // [MQTT-3.1.2-24] never send more than the server's Maximum Packet Size.
            Some(max) if len as u64 > u64::from(max) => {
                Err(UsageError::PacketTooLarge { len, max }.into())
            }
            _ => Ok(()),
        }
    }

    /// Encodes a PUBLISH of `msg` into `out`. QoS 1/2 messages are also kept in the store until
    /// acknowledged ([`Event::Published`]). Checks what the server said it can take first.
    pub fn publish(
        &mut self,
        now: Instant,
        msg: &Outgoing<'_>,
        out: &mut [u8],
    ) -> Result<Sent, Error> {
        let saved_id = self.next_id;
        let qos_pid = self.check_publish(msg)?;
        let publish = msg.first_publish(qos_pid);
        if let Err(e) = self.store_publish(publish, out) {
            // Nothing changed: the identifier is free for the next call.
            self.next_id = saved_id;
            return Err(e);
        }
        let len = match self.alias_for(msg.topic) {
            Some((alias, new)) => match self.encode_aliased(publish, alias, new, out) {
                Some(n) => n,
                None => {
                    if new {
                        self.aliases_out.undo_last();
                    }
                    publish.encode_as(self.version, out)?
                }
            },
            None => publish.encode_as(self.version, out)?,
        };
        self.last_sent = now;
        Ok(Sent { len, packet_id: qos_pid.packet_id() })
    }

    /// The checks of a PUBLISH before it is encoded, and its packet identifier for QoS 1/2
    /// (taken: restore `next_id` if the PUBLISH is not sent after all).
    fn check_publish(&mut self, msg: &Outgoing<'_>) -> Result<QosPid, Error> {
        self.require_connected()?;
        if self.version == Version::V3_1_1 && !msg.properties.is_empty() {
            return Err(UsageError::NotInVersion.into());
        }
        if msg.properties.contains(PropertyId::TopicAlias) {
            return Err(UsageError::TopicAliasNotAllowed.into());
        }
        if msg.qos > self.server.maximum_qos {
            return Err(UsageError::QosNotSupported.into()); // [MQTT-3.2.2-11]
        }
        if msg.retain && !self.server.retain_available {
            return Err(UsageError::RetainNotSupported.into()); // [MQTT-3.2.2-14]
        }
        Ok(match msg.qos {
            Qos::AtMostOnce => QosPid::AtMostOnce,
            qos => {
                // [MQTT-4.9.0-2] no more than Receive Maximum unacknowledged QoS 1/2 PUBLISH.
                if self.store.len() >= usize::from(self.server.receive_maximum) {
                    return Err(UsageError::ReceiveMaximumReached.into());
                }
                let id = self.alloc_id()?;
                if qos == Qos::AtLeastOnce {
                    QosPid::AtLeastOnce(id)
                } else {
                    QosPid::ExactlyOnce(id)
                }
            }
        })
    }

    /// Starts a PUBLISH of `msg` whose payload, `payload_len` bytes, the caller hands over in
    /// pieces: a payload larger than any buffer (a file) is sent in bounded memory.
    ///
    /// Encodes the head (fixed header with the Remaining Length of the whole packet, topic,
    /// packet identifier, properties) into `out`; `msg.payload` must be empty. Then give the
    /// payload to [`Client::publish_chunk`], as many times as it takes, and end with
    /// [`Client::publish_end`]. For QoS 1/2 the packet identifier in [`Sent`] is then awaited
    /// as for [`Client::publish`] ([`Event::Published`]).
    ///
    /// - The whole packet is checked against the server's Maximum Packet Size before anything
    ///   is written [MQTT-3.1.2-24] ([`UsageError::PacketTooLarge`]), and against the protocol's
    ///   limit of 268 435 455 bytes of Remaining Length (§1.5.5).
    /// - Until `publish_end`, no other packet is written (a packet is a contiguous run of the
    ///   byte stream, §2.1, §4.2): [`Client::poll_transmit`] holds back acknowledgements and
    ///   PINGREQ, the other commands return [`UsageError::StreamUnfinished`], and no timer runs
    ///   ([`Client::poll_timeout`]). Input is still handled.
    /// - No Topic Alias is used (the topic name is sent in full).
    /// - Retransmission: the store keeps only the head of a streamed QoS 1/2 message, so it
    ///   cannot be re-sent by the session [MQTT-4.4.0-1]. If the connection ends before its
    ///   PUBACK or PUBREC, the next CONNACK takes it out of the store and names it in
    ///   [`Connected::unsent_stream`]: publish it again (a new packet identifier, the payload
    ///   supplied again). Hence one streamed QoS 1/2 message at a time awaits its
    ///   acknowledgement: another gets [`UsageError::StreamAwaitingAck`].
    pub fn publish_stream(
        &mut self,
        now: Instant,
        msg: &Outgoing<'_>,
        payload_len: usize,
        out: &mut [u8],
    ) -> Result<Sent, Error> {
        if !msg.payload.is_empty() {
            return Err(UsageError::PayloadInStreamedMessage.into());
        }
        self.require_connected()?;
        if msg.qos != Qos::AtMostOnce && self.streamed_in_flight() {
            return Err(UsageError::StreamAwaitingAck.into());
        }
        let saved_id = self.next_id;
        let qos_pid = self.check_publish(msg)?;
        // Its payload is empty (checked above): the head alone, the length given apart.
        let publish = msg.first_publish(qos_pid);
        let result = self.start_stream(publish, payload_len, out);
        let len = match result {
            Ok(len) => len,
            Err(e) => {
                self.next_id = saved_id;
                return Err(e);
            }
        };
        let packet_id = qos_pid.packet_id();
        self.sending = Some(Sending { remaining: payload_len, packet_id });
        self.last_sent = now;
        Ok(Sent { len, packet_id })
    }

    /// Checks the size of a streamed PUBLISH, encodes its head into `out` and, for QoS 1/2,
    /// keeps the head in the store.
    #[inline(never)]
    fn start_stream(
        &mut self,
        publish: Publish<'_>,
        payload_len: usize,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let head = publish.head_len(self.version, payload_len)?;
        self.check_size(head.saturating_add(payload_len))?;
        let n = publish.encode_head(self.version, payload_len, out)?;
        if let Some(id) = publish.qos_pid.packet_id() {
            let stored = out.get(..n).unwrap_or_default();
            self.store.insert(id, stored).map_err(|_| UsageError::StoreFull)?;
        }
        Ok(n)
    }

    /// A streamed QoS 1/2 PUBLISH awaits its PUBACK or PUBREC.
    fn streamed_in_flight(&self) -> bool {
        (0..self.store.len()).any(|i| match self.store.get(i) {
            Some(Stored::Publish { packet, .. }) => is_head_only(packet),
            _ => false,
        })
    }

    /// Hands over the next piece of the payload of the PUBLISH [`Client::publish_stream`]
    /// started: copies as much of `data` as fits into `out` and returns how many bytes that is
    /// (send them; give the rest again).
    ///
    /// More bytes than announced are refused, nothing copied: [`UsageError::PayloadTooLong`].
    /// Without a streamed PUBLISH: [`UsageError::NoStream`].
    pub fn publish_chunk(
        &mut self,
        now: Instant,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let Some(sending) = self.sending.as_mut() else {
            return Err(UsageError::NoStream.into());
        };
        if data.len() > sending.remaining {
            return Err(UsageError::PayloadTooLong { remaining: sending.remaining }.into());
        }
        let n = data.len().min(out.len());
        if n == 0 && !data.is_empty() {
            return Err(EncodeError::BufferTooSmall { required: 1 }.into());
        }
        if let (Some(dst), Some(src)) = (out.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        sending.remaining -= n;
        self.last_sent = now;
        Ok(n)
    }

    /// Payload bytes the streamed PUBLISH still needs; `None` when none is being sent.
    pub fn stream_remaining(&self) -> Option<usize> {
        self.sending.map(|s| s.remaining)
    }

    /// Ends the PUBLISH [`Client::publish_stream`] started, once its whole payload was handed
    /// over; returns its packet identifier (QoS 1/2). Other packets may go out again: drain
    /// [`Client::poll_transmit`].
    ///
    /// Fewer bytes than announced: [`UsageError::PayloadTooShort`] and nothing changes. The
    /// broker counts the missing bytes as payload, so the connection cannot go on unless they
    /// come: close the transport and call [`Client::connection_lost`]; a QoS 1/2 message is then
    /// named by the next CONNACK's [`Connected::unsent_stream`] (a resumed session), or
    /// forgotten with the session (Clean Start).
    pub fn publish_end(&mut self, now: Instant) -> Result<Option<PacketId>, Error> {
        match self.sending {
            None => Err(UsageError::NoStream.into()),
            Some(Sending { remaining, .. }) if remaining > 0 => {
                Err(UsageError::PayloadTooShort { remaining }.into())
            }
            Some(Sending { packet_id, .. }) => {
                self.sending = None;
                if self.ping_sent.is_some() {
                    // Input may not have been read while the payload went out: the PINGRESP
                    // gets its full time from here.
                    self.ping_sent = Some(now);
                }
                Ok(packet_id)
            }
        }
    }

    /// Checks the size of `publish` and, for QoS 1/2, keeps its full encoding in the store.
    #[inline(never)]
    fn store_publish(&mut self, publish: Publish<'_>, out: &mut [u8]) -> Result<(), Error> {
        let len = publish.len_as(self.version)?;
        self.check_size(len)?;
        if len > out.len() {
            return Err(EncodeError::BufferTooSmall { required: len }.into());
        }
        if let Some(id) = publish.qos_pid.packet_id() {
            let n = publish.encode_as(self.version, out)?;
            let stored = out.get(..n).unwrap_or_default();
            self.store.insert(id, stored).map_err(|_| UsageError::StoreFull)?;
        }
        Ok(())
    }

    /// The outgoing alias for `topic` (see [`alias::Outbound::assign`]).
    fn alias_for(&mut self, topic: &str) -> Option<(NonZeroU16, bool)> {
        if !self.config.outgoing_aliases || self.version != Version::V5 {
            return None;
        }
        self.aliases_out.assign(topic, self.server.topic_alias_maximum)
    }

    /// Encodes `publish` with a Topic Alias (and an empty topic when the alias is known);
    /// `None` if it does not fit (scratch, `out` or the server's maximum).
    fn encode_aliased(
        &self,
        publish: Publish<'_>,
        alias: NonZeroU16,
        new: bool,
        out: &mut [u8],
    ) -> Option<usize> {
        let mut scratch = [0u8; PROPERTY_SCRATCH];
        // The caller's properties are valid: copied as they are, the alias appended.
        let mut b = PropertiesBuilder::starting_with(&mut scratch, &publish.properties).ok()?;
        // `publish` has no Topic Alias (refused in `publish`), so this is not a duplicate.
        b.put(PropertyId::TopicAlias, &alias.get().to_be_bytes(), &[]).ok()?;
        let properties = b.finish();
        let topic = if new { publish.topic } else { "" };
        let p = Publish { topic, properties, ..publish };
        let len = p.len_as(self.version).ok()?;
        self.check_size(len).ok()?;
        p.encode_as(self.version, out).ok()
    }

    /// Encodes SUBSCRIBE for `subscriptions` into `out`; [`Event::Subscribed`] reports the
    /// SUBACK per filter. Wildcards, shared subscriptions and subscription identifiers the server
    /// said it lacks are refused here.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: &[Subscription<'_>],
        properties: Properties<'_>,
        out: &mut [u8],
    ) -> Result<Sent, Error> {
        self.require_connected()?;
        if self.version == Version::V3_1_1 && !properties.is_empty() {
            return Err(UsageError::NotInVersion.into());
        }
        if properties.contains(PropertyId::SubscriptionIdentifier)
            && !self.server.subscription_identifiers
        {
            return Err(UsageError::SubscriptionIdentifiersNotSupported.into());
        }
        for s in subscriptions {
            // A shared subscription's filter starts with `$share/` (§4.8.2); whether the rest
            // is valid is the encoder's check.
            if s.filter.starts_with("$share/") && !self.server.shared_subscriptions {
                return Err(UsageError::SharedSubscriptionsNotSupported.into());
            }
            // Bytes, not chars: '+' and '#' are ASCII, never inside a multi-byte character.
            if s.filter.bytes().any(|b| b == b'+' || b == b'#')
                && !self.server.wildcard_subscriptions
            {
                return Err(UsageError::WildcardSubscriptionsNotSupported.into());
            }
        }
        self.send_request(now, properties, Filters::Subscribe(subscriptions), out)
    }

    /// Encodes UNSUBSCRIBE for `filters` into `out`; [`Event::Unsubscribed`] reports the
    /// UNSUBACK.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[&str],
        properties: Properties<'_>,
        out: &mut [u8],
    ) -> Result<Sent, Error> {
        self.require_connected()?;
        if self.version == Version::V3_1_1 && !properties.is_empty() {
            return Err(UsageError::NotInVersion.into());
        }
        self.send_request(now, properties, Filters::Unsubscribe(filters), out)
    }

    /// Encodes SUBSCRIBE or UNSUBSCRIBE with a fresh packet identifier and records the request;
    /// one (non-generic) copy for both.
    fn send_request(
        &mut self,
        now: Instant,
        properties: Properties<'_>,
        filters: Filters<'_>,
        out: &mut [u8],
    ) -> Result<Sent, Error> {
        if self.pending.is_full() {
            return Err(UsageError::TooManyPendingRequests.into());
        }
        let saved = self.next_id;
        let packet_id = self.alloc_id()?;
        let (p, kind, filters) = match filters {
            Filters::Subscribe(items) => (
                Request::Subscribe(SubscribeSlice { packet_id, properties, items }),
                RequestKind::Subscribe,
                items.len(),
            ),
            Filters::Unsubscribe(items) => (
                Request::Unsubscribe(UnsubscribeSlice { packet_id, properties, items }),
                RequestKind::Unsubscribe,
                items.len(),
            ),
        };
        let id = packet_id;
        let result = p.len_as(self.version).map_err(Error::from).and_then(|len| {
            self.check_size(len)?;
            Ok(p.encode_as(self.version, out)?)
        });
        let len = match result {
            Ok(len) => len,
            Err(e) => {
                self.next_id = saved;
                return Err(e);
            }
        };
        let _ = self.pending.push(Pending { id, kind, filters });
        self.last_sent = now;
        Ok(Sent { len, packet_id: Some(id) })
    }

    /// The transport closed or failed: forget the network connection without sending anything.
    /// The session (in-flight messages, QoS 2 state) is kept for a resume by the next
    /// [`Client::connect`] with `clean_start: false`.
    pub fn connection_lost(&mut self) {
        self.state = State::Disconnected;
        self.control.clear();
        self.stream = None;
        self.sending = None;
        self.resend = None;
        self.ping_sent = None;
    }

    /// Takes the outgoing message `id` out of the store, without a connection: it will not be
    /// re-sent when the session resumes. For a streamed PUBLISH that failed half-way (its
    /// sender was told, so it is not lost unseen). Returns `false`, and changes nothing, if
    /// there is no such message or a connection is open or being opened (the server may hold
    /// the identifier [MQTT-2.2.1-3]).
    pub fn discard(&mut self, id: PacketId) -> bool {
        matches!(self.state, State::Disconnected | State::Closing) && self.store.remove(id)
    }

    /// Encodes DISCONNECT into `out` and ends the session's connection (close the transport
    /// after sending). MQTT 3.1.1 carries no reason code or properties.
    pub fn disconnect(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let _ = now;
        if !matches!(self.state, State::Connected | State::Connecting) {
            return Err(UsageError::NotConnected.into());
        }
        self.require_no_stream()?;
        if self.version == Version::V3_1_1
            && (reason != ReasonCode::NormalDisconnection || !properties.is_empty())
        {
            return Err(UsageError::NotInVersion.into());
        }
        let n = Disconnect { reason_code: reason, properties }.encode_as(self.version, out)?;
        self.state = State::Disconnected;
        self.control.clear();
        self.stream = None;
        Ok(n)
    }

    /// Encodes AUTH into `out`: Continue Authentication during an exchange, Re-authenticate to
    /// start one on a live connection (§4.12). Needs an authentication method in CONNECT.
    pub fn auth(
        &mut self,
        now: Instant,
        reason: ReasonCode,
        properties: Properties<'_>,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if self.version == Version::V3_1_1 {
            return Err(UsageError::NotInVersion.into());
        }
        if !matches!(self.state, State::Connected | State::Connecting) {
            return Err(UsageError::NotConnected.into());
        }
        if !self.auth_method {
            return Err(UsageError::NoAuthenticationMethod.into()); // [MQTT-4.12.0-7]
        }
        self.require_no_stream()?;
        let n = Auth { reason_code: reason, properties }.encode_as(self.version, out)?;
        self.last_sent = now;
        Ok(n)
    }
}

impl<S: Store, const IN_FLIGHT: usize, const ALIASES: usize, const ALIAS_LEN: usize> Machine
    for Client<S, IN_FLIGHT, ALIASES, ALIAS_LEN>
{
    type Event<'a> = Event<'a, ALIAS_LEN>;
    type Error = Error;

    fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Status<Option<Event<'a, ALIAS_LEN>>>, Error> {
        Client::handle_input(self, now, input)
    }

    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        Client::poll_transmit(self, now, out)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Client::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        Client::handle_timeout(self, now)
    }

    fn connection_lost(&mut self) {
        Client::connection_lost(self);
    }

    fn room_required(error: &Error) -> Option<usize> {
        match error {
            Error::Usage(UsageError::Encode(EncodeError::BufferTooSmall { required })) => {
                Some(*required)
            }
            _ => None,
        }
    }
}

/// A stored PUBLISH of which only the head is kept (a streamed one): shorter than its fixed
/// header says.
fn is_head_only(packet: &[u8]) -> bool {
    match super::wire::decode_varint(packet.get(1..).unwrap_or_default()) {
        Ok(Some((remaining, n))) => packet.len() < 1 + n + remaining as usize,
        _ => false,
    }
}

/// The QoS bits of a stored PUBLISH.
fn stored_qos(packet: &[u8]) -> u8 {
    packet.first().map_or(0, |b| (b >> 1) & 0b11)
}
