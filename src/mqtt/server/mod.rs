//! [`Server`]: one client connection seen from the server, as a sans-IO state machine.
//!
//! The session validates CONNECT, answers with the server's limits in CONNACK (Receive Maximum,
//! Maximum Packet Size, Topic Alias Maximum, Server Keep Alive), enforces keep-alive at one and
//! a half times the negotiated interval, keeps the QoS 1 / QoS 2 acknowledgement state both ways,
//! resolves incoming topic aliases, decides whether the will is published when the connection
//! ends, and turns every protocol fault into a typed [`RemoteError`] plus the DISCONNECT (or
//! CONNACK) the specification asks for. Routing, retained messages, subscriptions and message
//! queues are the caller's: the session reports what the client asked and the caller answers.
//! The protocol state a session keeps between connections (QoS 2 identifiers awaiting PUBREL,
//! what each outgoing QoS 1 / 2 message waits for) lives in a caller-owned [`Store`].
//!
//! # The run loop
//!
//! `Server` is a [`Machine`]: the drivers in [`io`](crate::io) run it over any
//! transport (the typed commands `accept`, `sub_ack`, `publish` ... are methods of
//! `io::blocking::Connection<T, Server>`). By hand:
//!
//! 1. Append received bytes to your buffer and call [`Server::handle_input`] on the unconsumed
//!    bytes. It decodes at most one packet and reports how many bytes it used with an optional
//!    [`Event`] that borrows the buffer only (a topic sent as an alias is copied into it), so
//!    the session takes commands while you hold it. [`Status::NeedMore`] means: read more bytes.
//! 2. Answer the events that need an answer: [`Event::Connect`] with [`Server::accept`] or
//!    [`Server::reject`] (or [`Server::auth`] to start an enhanced authentication exchange),
//!    [`Event::Subscribe`] with [`Server::sub_ack`], [`Event::Unsubscribe`] with
//!    [`Server::unsub_ack`]. Until a CONNECT or AUTH is answered, `handle_input` returns
//!    [`Status::Blocked`] and consumes nothing.
//! 3. After every input, command and timeout, call [`Server::poll_transmit`] until it returns
//!    `Ok(None)` and send what it wrote (acknowledgements, PINGRESP, DISCONNECT). A
//!    [`Status::Blocked`] with no answer due means exactly that is waited for.
//! 4. Wait for input or until [`Server::poll_timeout`], then call [`Server::handle_timeout`].
//! 5. When the transport ends, call [`Server::connection_lost`]. Once [`Server::closed`] is
//!    `Some` ([`Status::Closed`]) and nothing is left to transmit, close the transport;
//!    [`Closed::will`] says whether to publish the will the caller kept from [`Event::Connect`].
//!
//! # Sessions across connections
//!
//! Keep the [`Store`] of a session that outlives its connection ([`Server::into_store`], or
//! `core::mem::take` on [`Server::store_mut`]) with the session. When the same client connects
//! again with Clean Start 0, put it into the new `Server` (with [`Server::with_store`], or into
//! [`Server::store_mut`] before answering) and accept with `session_present: true`: a QoS 2
//! message the client sends again is acknowledged without being reported again, the PUBRELs
//! owed go out by themselves, and [`Server::to_resend`] lists the messages to send again with
//! [`Server::republish`] [MQTT-4.4.0-1]. Accepting with `session_present: false` empties the
//! store. A store in a file or in flash carries the session across a restart.
//!
//! The largest packet the session accepts is [`Config::max_packet_size`]; it is announced to the
//! client in CONNACK and must not exceed the caller's receive buffer.
//!
//! # Example
//!
//! ```
//! use mqtt_ws::Status;
//! use mqtt_ws::mqtt::server::{Accept, Config, Event, Server};
//! use mqtt_ws::time::Instant;
//!
//! let now = Instant::from_secs(1);
//! let mut server: Server = Server::new(Config::new(), now);
//! // A client's CONNECT (MQTT 5.0, client id "dev", keep-alive 10 s), then a PINGREQ.
//! let input = [
//!     0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 10, 0, 0, 3, b'd', b'e', b'v',
//!     0xc0, 0x00,
//! ];
//! let Status::Progress { consumed, event: Some(Event::Connect(c)) } =
//!     server.handle_input(now, &input)?
//! else {
//!     panic!("a CONNECT")
//! };
//! assert_eq!(c.client_id, "dev");
//! let mut out = [0u8; 128];
//! let n = server.accept(now, &Accept::default(), &mut out)?; // CONNACK: send out[..n]
//! assert_eq!(out[0], 0x20);
//!
//! let Status::Progress { consumed: used, event: None } =
//!     server.handle_input(now, &input[consumed..])?
//! else {
//!     panic!("a PINGREQ")
//! };
//! assert_eq!(consumed + used, input.len());
//! // The drain rule: everything owed, until None.
//! assert_eq!(server.poll_transmit(now, &mut out)?, Some(2));
//! assert_eq!(out[..2], [0xd0, 0x00]); // PINGRESP
//! assert_eq!(server.poll_transmit(now, &mut out)?, None);
//! // Keep-alive: 1.5 x 10 s after the last packet.
//! assert_eq!(server.poll_timeout(), Some(Instant::from_secs(16)));
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! # Invariants
//!
//! - No input panics; each malformed packet ends in one [`RemoteError`], after which the session
//!   is closed and reads nothing more.
//! - At most `IN_FLIGHT` incoming QoS 1 / QoS 2 publishes are unacknowledged (the Receive Maximum
//!   announced) and at most `IN_FLIGHT` outgoing ones are in flight.
//! - QoS 2 publishes are reported once, when the PUBLISH first arrives; a retransmission of a
//!   packet identifier awaiting PUBREL, on this connection or a later one of the session, is
//!   acknowledged again but not reported again (MQTT 5.0 §4.3.3, method B). When the store
//!   cannot hold one more identifier the PUBLISH is refused with PUBREC 0x97 (MQTT 5.0) or left
//!   unacknowledged as a Receive Maximum fault (3.1.1), never reported unrecorded.
//! - `handle_timeout` is idempotent and harmless when called early.

mod alias;
mod error;
mod store;
#[cfg(test)]
mod tests;

#[cfg(feature = "std")]
pub use alias::HeapAliases;
pub use alias::{InlineAliases, TopicAliases};
pub use error::{Error, RemoteError, UsageError};
pub use store::{MemoryStore, Outgoing, Store};

use core::num::{NonZeroU16, NonZeroU32};

use heapless::Deque;

use super::message::{DEFAULT_ALIAS_LEN, Message, Topic};
use super::packet::{
    self, Ack, Auth, ConnAck, Connect, DecodeOptions, Disconnect, Packet, PacketType, Publish,
    QosPid, SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use super::properties::{PropertiesBuilder, Property, PropertyId};
use super::{PacketId, Qos, ReasonCode, Version};
use crate::machine::{BufferTooSmall, Machine, Status};
use crate::time::{Duration, Instant};

/// The limits and capabilities a server announces in CONNACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Largest packet accepted, fixed header included (announced as Maximum Packet Size).
    pub max_packet_size: u32,
    /// Topic aliases accepted from the client, at most the session's `ALIASES`.
    pub topic_alias_maximum: u16,
    /// Longest keep-alive the server allows, seconds; a client asking for more (or for 0) is
    /// given this one in Server Keep Alive (MQTT 5.0 §3.2.2.3.14). `None`: the client decides.
    pub max_keep_alive: Option<NonZeroU16>,
    /// Time allowed between the start of the connection and CONNECT (and CONNECT's answer).
    pub connect_timeout: Duration,
    /// Highest QoS accepted in PUBLISH and wills.
    pub maximum_qos: Qos,
    /// Whether retained messages are supported.
    pub retain: Availability,
    /// Whether wildcard subscriptions are supported (announced; SUBACK codes are the caller's).
    pub wildcard_subscriptions: Availability,
    /// Whether subscription identifiers are supported.
    pub subscription_identifiers: Availability,
    /// Whether shared subscriptions are supported (announced; SUBACK codes are the caller's).
    pub shared_subscriptions: Availability,
    /// At most this many unacknowledged QoS 1 / QoS 2 publishes each way, the incoming bound
    /// announced as Receive Maximum (Mosquitto's `max_inflight_messages`); `None`: the
    /// session's `IN_FLIGHT` (and what its store holds).
    pub receive_maximum: Option<NonZeroU16>,
    /// [`Server::publish`] sends repeated topics as Topic Aliases, up to the client's Topic
    /// Alias Maximum and the session's `ALIASES` (MQTT 5.0 §3.3.2.3.4).
    pub outgoing_topic_aliases: bool,
}

impl Config {
    /// 64 KiB packets, no incoming topic aliases, outgoing ones as the client allows,
    /// keep-alive as the client asks, 10 s to connect, QoS 2, and every feature available.
    pub const fn new() -> Self {
        Config {
            max_packet_size: 64 * 1024,
            topic_alias_maximum: 0,
            max_keep_alive: None,
            connect_timeout: Duration::from_secs(10),
            maximum_qos: Qos::ExactlyOnce,
            retain: Availability::Available,
            wildcard_subscriptions: Availability::Available,
            subscription_identifiers: Availability::Available,
            shared_subscriptions: Availability::Available,
            receive_maximum: None,
            outgoing_topic_aliases: true,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether the server offers a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Availability {
    /// Offered.
    Available,
    /// Not offered (announced in CONNACK).
    NotAvailable,
}

impl Availability {
    const fn is_available(self) -> bool {
        matches!(self, Availability::Available)
    }
}

/// Something the client did that the caller acts on. Borrows the input only (a topic that
/// arrived as an alias is copied; `N` is the session's `ALIAS_LEN`), so the session is free for
/// commands while an event is held.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a, const N: usize = DEFAULT_ALIAS_LEN> {
    /// A valid CONNECT: answer with [`Server::accept`], [`Server::reject`] or [`Server::auth`].
    /// Keep the will (if any) now: the session only remembers whether there is one.
    Connect(Connect<'a>),
    /// AUTH from the client (continue, or re-authentication after CONNACK): answer with
    /// [`Server::auth`], or while connecting with [`Server::accept`] / [`Server::reject`].
    Auth(Auth<'a>),
    /// An application message. The topic is resolved from its alias; QoS 1 and 2 are
    /// acknowledged by the session.
    Publish(Message<'a, N>),
    /// SUBSCRIBE: answer with [`Server::sub_ack`].
    Subscribe(Subscribe<'a>),
    /// UNSUBSCRIBE: answer with [`Server::unsub_ack`].
    Unsubscribe(Unsubscribe<'a>),
    /// An outgoing QoS 1 / QoS 2 publish is complete (PUBACK, PUBCOMP, or PUBREC with an
    /// error): its packet identifier is free again.
    Acknowledged {
        /// The publish's packet identifier.
        packet_id: PacketId,
        /// The client's reason code.
        reason_code: ReasonCode,
    },
    /// The client's DISCONNECT; the session is closed (see [`Server::closed`]).
    Disconnect(Disconnect<'a>),
}

/// Who ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Initiator {
    /// The client sent DISCONNECT.
    Client,
    /// The server: a protocol fault, a timeout, a rejected CONNECT or [`Server::disconnect`].
    Server,
    /// The transport ended ([`Server::connection_lost`]).
    Transport,
}

/// What happens to the will when the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WillAction {
    /// The CONNECT had no will, or it was never accepted.
    NoWill,
    /// Publish it (after its Will Delay Interval) [MQTT-3.1.2-8].
    Publish,
    /// Discard it: the client disconnected normally [MQTT-3.1.2-10].
    Discard,
}

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Closed {
    /// Who ended it.
    pub initiator: Initiator,
    /// The reason code of the DISCONNECT (or CONNACK) either side sent;
    /// [`ReasonCode::UnspecifiedError`] when the transport ended.
    pub reason_code: ReasonCode,
    /// What to do with the will.
    pub will: WillAction,
}

/// An answer to CONNECT that accepts the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Accept<'a> {
    /// The server resumes a session it kept for this client [MQTT-3.2.2-2].
    pub session_present: bool,
    /// The Client Identifier the server assigned (MQTT 5.0, required when CONNECT had an empty
    /// one [MQTT-3.2.2-16]).
    pub assigned_client_id: Option<&'a str>,
    /// The CONNECT's Authentication Method, when it used enhanced authentication (§4.12).
    pub authentication_method: Option<&'a str>,
    /// Authentication Data for the final step of enhanced authentication.
    pub authentication_data: Option<&'a [u8]>,
}

/// A PUBLISH the server sent: its packet identifier and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sent {
    /// The identifier assigned (QoS 1 and 2).
    pub packet_id: Option<PacketId>,
    /// Bytes written.
    pub len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for CONNECT.
    AwaitConnect,
    /// CONNECT or AUTH reported; waiting for the caller's answer.
    Answering,
    /// AUTH sent; waiting for the client's AUTH.
    Authenticating,
    /// CONNACK sent.
    Connected,
    /// Closed: nothing more is read.
    Closed,
}

/// A packet the session owes the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    PubAck(PacketId, ReasonCode),
    PubRec(PacketId, ReasonCode),
    PubRel(PacketId, ReasonCode),
    PubComp(PacketId, ReasonCode),
    PingResp,
    ConnAck(ReasonCode),
    Disconnect(ReasonCode),
}

/// Bytes of the caller's strings (assigned identifier, authentication) one CONNACK may carry.
pub const ACCEPT_STRINGS: usize = 448;

/// Bytes of a PUBLISH property list that can also take a Topic Alias; longer lists go out
/// without one.
const ALIASED_PROPERTIES: usize = 512;

/// Packets the session may owe at once before `handle_input` waits for `poll_transmit`.
const OWED: usize = 16;

/// One client connection seen from the server.
///
/// `IN_FLIGHT` bounds unacknowledged QoS 1 / 2 publishes each way (announced as Receive
/// Maximum); `ALIASES` topic aliases of up to `ALIAS_LEN` bytes can be remembered; `S` is the
/// [`Store`] that keeps the session's QoS 1 / 2 state across connections; `AL` holds the topic
/// aliases ([`InlineAliases`] in place, or [`HeapAliases`] with `std`: empty until used).
#[derive(Debug, Clone)]
pub struct Server<
    const IN_FLIGHT: usize = 16,
    const ALIASES: usize = 8,
    const ALIAS_LEN: usize = DEFAULT_ALIAS_LEN,
    S: Store = MemoryStore<IN_FLIGHT>,
    AL: TopicAliases = InlineAliases<ALIASES, ALIAS_LEN>,
> {
    config: Config,
    phase: Phase,
    version: Version,
    started: Instant,
    last_rx: Instant,
    keep_alive: u16,
    auth_method: bool,
    /// A re-authentication the client started is in progress (MQTT 5.0 §4.12.1).
    reauthenticating: bool,
    will: bool,
    session_expiry_zero: bool,
    empty_client_id: bool,
    client_receive_max: u16,
    client_max_packet: u32,
    next_id: u16,
    store: S,
    /// Index of the next store entry whose PUBREL goes out again on a resumed session.
    resend: Option<u32>,
    unacked_qos1: u32,
    owed: Deque<Owed, OWED>,
    /// The topic aliases both ways: the client's, and those this side assigned to the topics
    /// it publishes.
    aliases: AL,
    /// The client's Topic Alias Maximum (0: none).
    client_alias_max: u16,
    closed: Option<Closed>,
}

impl<
    const IN_FLIGHT: usize,
    const ALIASES: usize,
    const ALIAS_LEN: usize,
    S: Store + Default,
    AL: TopicAliases,
> Server<IN_FLIGHT, ALIASES, ALIAS_LEN, S, AL>
{
    /// A connection that started at `now` (the transport, and the WebSocket handshake if any,
    /// are done), with an empty store. To resume a kept session, put its store in with
    /// [`Server::store_mut`] before [`Server::accept`].
    pub fn new(config: Config, now: Instant) -> Self {
        Self::with_store(S::default(), config, now)
    }
}

impl<
    const IN_FLIGHT: usize,
    const ALIASES: usize,
    const ALIAS_LEN: usize,
    S: Store,
    AL: TopicAliases,
> Server<IN_FLIGHT, ALIASES, ALIAS_LEN, S, AL>
{
    const CHECK: () = assert!(IN_FLIGHT >= 1 && IN_FLIGHT <= u16::MAX as usize);

    /// A connection that started at `now` over the session state in `store` (which
    /// [`Server::accept`] keeps when it says Session Present, and clears otherwise).
    pub fn with_store(store: S, config: Config, now: Instant) -> Self {
        let () = Self::CHECK;
        let mut config = config;
        config.topic_alias_maximum = config.topic_alias_maximum.min(ALIASES as u16);
        Server {
            config,
            phase: Phase::AwaitConnect,
            version: Version::V5,
            started: now,
            last_rx: now,
            keep_alive: 0,
            auth_method: false,
            reauthenticating: false,
            will: false,
            session_expiry_zero: true,
            empty_client_id: false,
            client_receive_max: u16::MAX,
            client_max_packet: u32::MAX,
            next_id: 1,
            store,
            resend: None,
            unacked_qos1: 0,
            owed: Deque::new(),
            aliases: AL::default(),
            client_alias_max: 0,
            closed: None,
        }
    }

    /// The configuration (with the Topic Alias Maximum capped at `ALIASES`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The protocol version of the client (MQTT 5.0 until CONNECT says otherwise).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The keep-alive in force, seconds (0: none).
    pub fn keep_alive(&self) -> u16 {
        self.keep_alive
    }

    /// Whether CONNACK was sent and the session is not closed.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// How the session ended, once it has.
    pub fn closed(&self) -> Option<Closed> {
        self.closed
    }

    /// Outgoing QoS 1 / QoS 2 publishes awaiting acknowledgement.
    pub fn in_flight(&self) -> usize {
        self.store.outgoing_len()
    }

    /// How many more QoS 1 / QoS 2 publishes [`Server::publish`] accepts now.
    pub fn send_quota(&self) -> usize {
        let limit = self.in_flight_bound().min(self.client_receive_max as usize);
        limit.saturating_sub(self.store.outgoing_len())
    }

    /// Unacknowledged QoS 1 / QoS 2 publishes allowed each way: `IN_FLIGHT`, or
    /// [`Config::receive_maximum`] if that is less.
    fn in_flight_bound(&self) -> usize {
        let configured = self.config.receive_maximum.map_or(usize::MAX, |m| usize::from(m.get()));
        IN_FLIGHT.min(configured)
    }

    /// The outgoing messages of the session still waiting for PUBACK or PUBREC, oldest first:
    /// after [`Server::accept`] with Session Present, send each again with
    /// [`Server::republish`] [MQTT-4.4.0-1] (the PUBRELs owed go out by themselves).
    pub fn to_resend(&self) -> impl Iterator<Item = PacketId> + '_ {
        (0..self.store.outgoing_len())
            .filter_map(|i| self.store.outgoing_at(i))
            .filter(|(_, state)| *state != Outgoing::PubComp)
            .map(|(id, _)| id)
    }

    /// The Receive Maximum announced in CONNACK: `IN_FLIGHT`, or [`Config::receive_maximum`]
    /// or what the store can hold if either is less.
    pub fn receive_maximum(&self) -> usize {
        self.in_flight_bound().min(self.store.awaiting_capacity()).max(1)
    }

    /// The session's store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The session's store, to put a kept session's store in before [`Server::accept`] (with
    /// `core::mem::replace`). Changing it while connected is the caller's responsibility.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives the store back once the connection is over, to keep the session for the next one.
    pub fn into_store(self) -> S {
        self.store
    }

    fn decode_options(&self) -> DecodeOptions {
        DecodeOptions::new(self.version).with_max_packet_size(self.config.max_packet_size)
    }

    /// Reads at most one packet from the front of `input`; the event borrows `input` only.
    ///
    /// [`Status::Blocked`]: a CONNECT or AUTH waits for its answer (`accept`, `reject`,
    /// `auth`), or the queue of packets owed to the client is full (drain
    /// [`Server::poll_transmit`]). [`Status::Closed`]: the session is closed.
    ///
    /// On `Err` the session is closed and owes the client its CONNACK or DISCONNECT (MQTT 5.0):
    /// drain [`Server::poll_transmit`], then close the transport.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a [u8],
    ) -> Result<Status<Option<Event<'a, ALIAS_LEN>>>, RemoteError> {
        match self.phase {
            Phase::Closed => return Ok(Status::Closed),
            Phase::Answering => return Ok(Status::Blocked),
            _ => {}
        }
        if self.owed.is_full() {
            return Ok(Status::Blocked);
        }
        if self.phase == Phase::AwaitConnect
            && input.first().is_some_and(|b| b >> 4 != PacketType::Connect as u8)
        {
            // [MQTT-3.1.0-1] the first packet must be CONNECT: refuse at its first byte rather
            // than buffering up to a whole packet of something else.
            self.close(Initiator::Server, ReasonCode::ProtocolError, None);
            return Err(RemoteError::FirstPacketNotConnect);
        }
        let options = self.decode_options();
        let (packet, consumed) = match packet::decode(input, &options) {
            Ok(status) => match status.into_progress() {
                Ok(packet) => packet,
                Err(waiting) => return Ok(waiting),
            },
            Err(e) => return Err(self.fail_decode(input, e)),
        };
        self.last_rx = now;
        match self.on_packet(packet) {
            Ok(event) => Ok(Status::Progress { consumed, event: event.map(|e| e.resolve(self)) }),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// A decode error: while waiting for CONNECT, answered in CONNACK when the client speaks
    /// MQTT 5.0 and otherwise by closing; afterwards in DISCONNECT.
    fn fail_decode(&mut self, input: &[u8], e: crate::mqtt::DecodeError) -> RemoteError {
        if self.phase == Phase::AwaitConnect {
            // `handle_input` refused anything but CONNECT at its first byte.
            if e == crate::mqtt::DecodeError::UnsupportedProtocolVersion {
                // [MQTT-3.1.2-2] (3.1.1): CONNACK return code 0x01, then close. MQTT 5.0 allows
                // the same for a level it does not support.
                self.version = Version::V3_1_1;
                self.close(
                    Initiator::Server,
                    ReasonCode::UnsupportedProtocolVersion,
                    Some(Owed::ConnAck(ReasonCode::UnsupportedProtocolVersion)),
                );
                return RemoteError::Decode(e);
            }
            // The version is that of the CONNECT: offset of the level byte after the fixed
            // header and the protocol name "MQTT" (2 + 4 bytes).
            let level = packet::FixedHeader::decode(input, &DecodeOptions::new(Version::V5))
                .ok()
                .and_then(|s| s.progress())
                .and_then(|(h, _)| input.get(h.header_len + 6).copied());
            self.version = if level == Some(5) { Version::V5 } else { Version::V3_1_1 };
        }
        self.fail(RemoteError::Decode(e))
    }

    /// Closes the session for a remote fault, queuing the CONNACK or DISCONNECT it calls for.
    fn fail(&mut self, e: RemoteError) -> RemoteError {
        let code = e.reason_code();
        warn!("mqtt server: closing, client fault {:?}", e);
        let owed = match (self.phase, self.version) {
            (Phase::Closed, _) => return e,
            (_, _) if e == RemoteError::FirstPacketNotConnect => None,
            (Phase::AwaitConnect | Phase::Answering | Phase::Authenticating, Version::V5) => {
                Some(Owed::ConnAck(code))
            }
            (Phase::AwaitConnect | Phase::Answering | Phase::Authenticating, Version::V3_1_1) => {
                // 3.1.1 has CONNACK return codes only for these; other faults just close.
                matches!(code, ReasonCode::ClientIdentifierNotValid).then_some(Owed::ConnAck(code))
            }
            (Phase::Connected, Version::V5) => Some(Owed::Disconnect(code)),
            (Phase::Connected, Version::V3_1_1) => None,
        };
        self.close(Initiator::Server, code, owed);
        e
    }

    fn close(&mut self, initiator: Initiator, reason_code: ReasonCode, owed: Option<Owed>) {
        if self.phase == Phase::Closed {
            return;
        }
        let will = if !self.will || self.phase != Phase::Connected {
            WillAction::NoWill
        } else if initiator == Initiator::Client
            && reason_code != ReasonCode::DisconnectWithWillMessage
        {
            WillAction::Discard
        } else {
            WillAction::Publish
        };
        self.phase = Phase::Closed;
        self.closed = Some(Closed { initiator, reason_code, will });
        self.aliases.clear();
        if let Some(owed) = owed {
            // Make room: a DISCONNECT or CONNACK is the last packet, and what it would displace
            // is moot once the connection ends.
            if self.owed.is_full() {
                self.owed.pop_back();
            }
            let _ = self.owed.push_back(owed);
        }
    }

    fn owe(&mut self, owed: Owed) {
        // `handle_input` only decodes with room for one more, and each packet owes at most one.
        if self.owed.push_back(owed).is_err() {
            error!("mqtt server: owed queue full");
        }
    }

    fn on_packet<'a>(
        &mut self,
        packet: Packet<'a>,
    ) -> Result<Option<Pending<'a, ALIAS_LEN>>, RemoteError> {
        let ty = packet.packet_type();
        match self.phase {
            Phase::AwaitConnect => {
                let Packet::Connect(c) = packet else {
                    return Err(RemoteError::FirstPacketNotConnect);
                };
                return self.on_connect(c).map(|c| Some(Pending::Ready(Event::Connect(c))));
            }
            Phase::Authenticating => {
                return match packet {
                    Packet::Auth(a) => {
                        // [MQTT-4.12.0-3] the client answers the server's AUTH with 0x18.
                        if a.reason_code != ReasonCode::ContinueAuthentication {
                            return Err(RemoteError::UnexpectedAuthReason(a.reason_code));
                        }
                        self.check_auth(&a)?;
                        self.phase = Phase::Answering;
                        Ok(Some(Pending::Ready(Event::Auth(a))))
                    }
                    Packet::Disconnect(d) => Ok(Some(Pending::Ready(self.on_disconnect(d)?))),
                    // [MQTT-4.12.0-4] only AUTH or DISCONNECT before CONNACK.
                    _ => Err(RemoteError::NotAuthDuringAuthentication(ty)),
                };
            }
            Phase::Answering | Phase::Closed | Phase::Connected => {}
        }
        let event = match packet {
            // [MQTT-3.1.0-2] a second CONNECT is a Protocol Error.
            Packet::Connect(_) => return Err(RemoteError::SecondConnect),
            Packet::Publish(p) => return self.on_publish(p),
            Packet::PubAck(a) => self.on_ack(a.packet_id, Outgoing::PubAck, a.reason_code),
            Packet::PubRec(a) => {
                match self.store.outgoing(a.packet_id) {
                    Some(Outgoing::PubRec) => {
                        if a.reason_code.is_error() {
                            // MQTT 5.0 §4.3.3: a PUBREC with an error ends the flow.
                            self.store.remove_outgoing(a.packet_id);
                            return Ok(Some(Pending::Ready(Event::Acknowledged {
                                packet_id: a.packet_id,
                                reason_code: a.reason_code,
                            })));
                        }
                        // Present, so updated in place: no room needed.
                        let _ = self.store.set_outgoing(a.packet_id, Outgoing::PubComp);
                        self.owe(Owed::PubRel(a.packet_id, ReasonCode::Success));
                    }
                    // A repeated PUBREC: PUBREL again (§4.3.3: a PUBREL answers each PUBREC).
                    Some(Outgoing::PubComp) => {
                        self.owe(Owed::PubRel(a.packet_id, ReasonCode::Success))
                    }
                    // §4.3.2: a QoS 1 publish is acknowledged with PUBACK, never PUBREC.
                    Some(Outgoing::PubAck) => {
                        return Err(RemoteError::AckMismatch(PacketType::PubRec));
                    }
                    // MQTT 5.0 §3.6.2.1: PUBREL 0x92 for an identifier not in flight.
                    None => {
                        self.owe(Owed::PubRel(a.packet_id, ReasonCode::PacketIdentifierNotFound))
                    }
                }
                None
            }
            Packet::PubRel(a) => {
                let code = if self.store.released(a.packet_id) {
                    ReasonCode::Success
                } else {
                    // MQTT 5.0 §3.7.2.1: PUBCOMP 0x92 for an identifier not awaiting PUBREL.
                    ReasonCode::PacketIdentifierNotFound
                };
                self.owe(Owed::PubComp(a.packet_id, code));
                None
            }
            Packet::PubComp(a) => self.on_ack(a.packet_id, Outgoing::PubComp, a.reason_code),
            Packet::Subscribe(s) => {
                // MQTT 5.0 §3.2.2.3.12: a Subscription Identifier the server does not support.
                if !self.config.subscription_identifiers.is_available()
                    && s.properties.contains(PropertyId::SubscriptionIdentifier)
                {
                    return Err(RemoteError::SubscriptionIdentifiersNotSupported);
                }
                Some(Event::Subscribe(s))
            }
            Packet::Unsubscribe(u) => Some(Event::Unsubscribe(u)),
            Packet::PingReq => {
                // [MQTT-3.12.4-1] answer with PINGRESP (one is enough while one is owed).
                if !self.owed.iter().any(|o| *o == Owed::PingResp) {
                    self.owe(Owed::PingResp);
                }
                None
            }
            Packet::Disconnect(d) => Some(self.on_disconnect(d)?),
            Packet::Auth(a) => {
                // Re-authentication (MQTT 5.0 §4.12.1) only when CONNECT used a method.
                if !self.auth_method {
                    return Err(RemoteError::UnexpectedPacket(PacketType::Auth));
                }
                match a.reason_code {
                    // [MQTT-4.12.1-1] the client starts it with 0x19.
                    ReasonCode::ReAuthenticate if !self.reauthenticating => {}
                    // [MQTT-4.12.0-3] and answers the server's AUTH with 0x18.
                    ReasonCode::ContinueAuthentication if self.reauthenticating => {}
                    code => return Err(RemoteError::UnexpectedAuthReason(code)),
                }
                self.check_auth(&a)?;
                self.reauthenticating = true;
                Some(Event::Auth(a))
            }
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                return Err(RemoteError::UnexpectedPacket(ty));
            }
        };
        Ok(event.map(Pending::Ready))
    }

    fn check_auth(&self, a: &Auth<'_>) -> Result<(), RemoteError> {
        if !self.auth_method {
            // [MQTT-4.12.0-1] AUTH only after a CONNECT with an Authentication Method.
            return Err(RemoteError::UnexpectedPacket(PacketType::Auth));
        }
        if a.properties.authentication_method().is_none() {
            // [MQTT-4.12.0-5] the same method throughout (a bare AUTH carries none).
            return Err(RemoteError::AuthenticationMethodChanged);
        }
        Ok(())
    }

    fn on_connect<'a>(&mut self, c: Connect<'a>) -> Result<Connect<'a>, RemoteError> {
        self.version = c.version;
        self.phase = Phase::Answering;
        if c.client_id.is_empty() {
            // [MQTT-3.1.3-8] (3.1.1): an empty identifier needs Clean Session 1.
            if c.version == Version::V3_1_1 && !c.clean_start {
                return Err(RemoteError::ClientIdentifierNotValid);
            }
            self.empty_client_id = true;
        }
        if let Some(will) = &c.will {
            if will.qos > self.config.maximum_qos {
                // [MQTT-3.2.2-12] a will QoS above Maximum QoS is refused with 0x9B.
                return Err(RemoteError::QosNotSupported);
            }
            if will.retain && !self.config.retain.is_available() {
                // [MQTT-3.2.2-13] Will Retain without retain support is refused with 0x9A.
                return Err(RemoteError::RetainNotSupported);
            }
            self.will = true;
        }
        let props = &c.properties;
        self.client_receive_max = props.receive_maximum().map_or(u16::MAX, NonZeroU16::get);
        self.client_max_packet = props.maximum_packet_size().map_or(u32::MAX, NonZeroU32::get);
        let alias_max = props.int(PropertyId::TopicAliasMaximum).unwrap_or(0);
        self.client_alias_max = u16::try_from(alias_max).unwrap_or(u16::MAX);
        self.session_expiry_zero = props.session_expiry_interval().unwrap_or(0) == 0;
        self.auth_method = props.authentication_method().is_some();
        self.keep_alive = match self.config.max_keep_alive {
            // 3.1.1 has no Server Keep Alive: the client's value stands.
            Some(max)
                if c.version == Version::V5 && (c.keep_alive == 0 || c.keep_alive > max.get()) =>
            {
                max.get()
            }
            _ => c.keep_alive,
        };
        Ok(c)
    }

    fn on_publish<'a>(
        &mut self,
        p: Publish<'a>,
    ) -> Result<Option<Pending<'a, ALIAS_LEN>>, RemoteError> {
        if p.qos_pid.qos() > self.config.maximum_qos {
            return Err(RemoteError::QosNotSupported); // [MQTT-3.2.2-11], 0x9B (§3.2.2.3.4)
        }
        if p.retain && !self.config.retain.is_available() {
            return Err(RemoteError::RetainNotSupported); // [MQTT-3.2.2-14], 0x9A (§3.2.2.3.5)
        }
        if p.properties.contains(PropertyId::SubscriptionIdentifier) {
            return Err(RemoteError::SubscriptionIdentifierFromClient); // [MQTT-3.3.4-6]
        }
        let alias = match p.properties.topic_alias() {
            Some(a) if a.get() > self.config.topic_alias_maximum => {
                return Err(RemoteError::TopicAliasInvalid); // [MQTT-3.3.2-9]
            }
            Some(a) => Some(a.get()),
            None => None,
        };
        // [MQTT-3.3.4-7] Receive Maximum: unacknowledged QoS 1 / 2 publishes; 0x93 (§3.3.4).
        let unacked = self.store.awaiting_release() + self.unacked_qos1 as usize;
        let report = match p.qos_pid {
            QosPid::AtMostOnce => true,
            QosPid::AtLeastOnce(id) => {
                if unacked >= IN_FLIGHT {
                    return Err(RemoteError::ReceiveMaximumExceeded);
                }
                self.unacked_qos1 += 1;
                self.owe(Owed::PubAck(id, ReasonCode::Success));
                true
            }
            QosPid::ExactlyOnce(id) => {
                // §4.3.3 method B: deliver once, on the first PUBLISH with this identifier; a
                // copy re-sent on this or a later connection of the session is only acknowledged.
                let duplicate = self.store.awaits_release(id);
                if duplicate {
                    self.owe(Owed::PubRec(id, ReasonCode::Success));
                } else if unacked >= self.receive_maximum() {
                    return Err(RemoteError::ReceiveMaximumExceeded);
                } else if self.store.await_release(id).is_ok() {
                    self.owe(Owed::PubRec(id, ReasonCode::Success));
                } else if self.version == Version::V5 {
                    // The store cannot hold one more: refused with Quota exceeded
                    // (§3.5.2.1), never delivered unrecorded (it could then arrive twice).
                    warn!("mqtt server: store full, QoS 2 message {} refused", id.get());
                    self.owe(Owed::PubRec(id, ReasonCode::QuotaExceeded));
                    return Ok(None);
                } else {
                    // 3.1.1 cannot refuse it: left unacknowledged for a later connection.
                    return Err(RemoteError::ReceiveMaximumExceeded);
                }
                !duplicate
            }
        };
        let pending = match alias {
            Some(a) if p.topic.is_empty() => {
                if self.aliases.inbound(a).is_none() {
                    return Err(RemoteError::UnknownTopicAlias); // §3.3.2.3.4
                }
                Pending::Alias(p, a)
            }
            Some(a) => {
                if p.topic.len() > ALIAS_LEN || !self.aliases.set_inbound(a, p.topic) {
                    return Err(RemoteError::AliasTopicTooLong);
                }
                Pending::Publish(p)
            }
            None => Pending::Publish(p),
        };
        Ok(report.then_some(pending))
    }

    fn on_ack(
        &mut self,
        packet_id: PacketId,
        expected: Outgoing,
        reason_code: ReasonCode,
    ) -> Option<Event<'static, ALIAS_LEN>> {
        match self.store.outgoing(packet_id) {
            Some(state) if state == expected => {
                self.store.remove_outgoing(packet_id);
                Some(Event::Acknowledged { packet_id, reason_code })
            }
            _ => {
                // An acknowledgement of nothing in flight is ignored (it may be a late
                // duplicate after a resend).
                debug!("mqtt server: ack for unknown packet id {}", packet_id.get());
                None
            }
        }
    }

    fn on_disconnect<'a>(
        &mut self,
        d: Disconnect<'a>,
    ) -> Result<Event<'a, ALIAS_LEN>, RemoteError> {
        // MQTT 5.0 §3.14.2.2.2: a Session Expiry Interval of 0 in CONNECT cannot be raised.
        if self.session_expiry_zero && d.properties.session_expiry_interval().is_some_and(|s| s > 0)
        {
            return Err(RemoteError::SessionExpiryAfterZero);
        }
        self.close(Initiator::Client, d.reason_code, None);
        Ok(Event::Disconnect(d))
    }

    fn take_answer(&mut self) -> Result<(), UsageError> {
        match self.phase {
            Phase::Answering => Ok(()),
            Phase::Closed => Err(UsageError::Closed),
            _ => Err(UsageError::NothingToAnswer),
        }
    }

    /// Accepts the CONNECT (after any enhanced authentication): writes CONNACK with the
    /// server's limits into `out` and returns its length. Send it before anything
    /// [`Server::poll_transmit`] writes afterwards.
    pub fn accept(
        &mut self,
        now: Instant,
        accept: &Accept<'_>,
        out: &mut [u8],
    ) -> Result<usize, UsageError> {
        self.take_answer()?;
        if self.empty_client_id
            && self.version == Version::V5
            && accept.assigned_client_id.is_none()
        {
            return Err(UsageError::ClientIdentifierRequired);
        }
        // The fixed properties take at most 40 bytes; the caller's strings are bounded so the
        // list fits a stack buffer.
        let variable = accept.assigned_client_id.map_or(0, str::len)
            + accept.authentication_method.map_or(0, str::len)
            + accept.authentication_data.map_or(0, <[u8]>::len);
        if variable > ACCEPT_STRINGS {
            return Err(UsageError::Encode(crate::mqtt::EncodeError::StringTooLong));
        }
        let mut props_buf = [0u8; ACCEPT_STRINGS + 64];
        let mut ack = ConnAck::new(ReasonCode::Success);
        // [MQTT-3.2.2-2] / [MQTT-3.2.2-3]: Session Present as the caller found the session.
        ack.session_present = accept.session_present;
        if self.version == Version::V5 {
            let mut b = PropertiesBuilder::new(&mut props_buf);
            b.push(Property::ReceiveMaximum(nonzero_u16(self.receive_maximum())))?;
            if let Some(max) = NonZeroU32::new(self.config.max_packet_size) {
                b.push(Property::MaximumPacketSize(max))?;
            }
            if self.config.topic_alias_maximum > 0 {
                b.push(Property::TopicAliasMaximum(self.config.topic_alias_maximum))?;
            }
            if self.config.max_keep_alive.is_some() {
                // [MQTT-3.2.2-21] the client uses this value instead of its own.
                b.push(Property::ServerKeepAlive(self.keep_alive))?;
            }
            if self.config.maximum_qos < Qos::ExactlyOnce {
                b.push(Property::MaximumQos(self.config.maximum_qos))?;
            }
            if !self.config.retain.is_available() {
                b.push(Property::RetainAvailable(false))?;
            }
            if !self.config.wildcard_subscriptions.is_available() {
                b.push(Property::WildcardSubscriptionAvailable(false))?;
            }
            if !self.config.subscription_identifiers.is_available() {
                b.push(Property::SubscriptionIdentifierAvailable(false))?;
            }
            if !self.config.shared_subscriptions.is_available() {
                b.push(Property::SharedSubscriptionAvailable(false))?;
            }
            if let Some(id) = accept.assigned_client_id {
                b.push(Property::AssignedClientIdentifier(id))?;
            }
            if let Some(m) = accept.authentication_method {
                b.push(Property::AuthenticationMethod(m))?;
            }
            if let Some(d) = accept.authentication_data {
                b.push(Property::AuthenticationData(d))?;
            }
            ack.properties = b.finish();
        }
        let n = Packet::ConnAck(ack).encode(self.version, out)?;
        self.phase = Phase::Connected;
        self.last_rx = now;
        if accept.session_present {
            // [MQTT-4.4.0-1] PUBREL again for every PUBREC received on an earlier connection;
            // the caller sends the unacknowledged PUBLISH packets again with `republish`.
            self.resend = Some(0);
        } else {
            // [MQTT-3.1.2-4] no session kept: a new one starts empty.
            self.store.clear();
        }
        Ok(n)
    }

    /// Refuses the CONNECT (or ends an authentication exchange) with an error `reason_code`:
    /// writes CONNACK into `out`, returns its length, and closes the session. In MQTT 3.1.1 a
    /// code without a 3.1.1 return code is sent as "not authorized".
    pub fn reject(&mut self, reason_code: ReasonCode, out: &mut [u8]) -> Result<usize, UsageError> {
        self.take_answer()?;
        if !reason_code.is_error() {
            return Err(UsageError::NotAnError(reason_code));
        }
        let code = match self.version {
            Version::V3_1_1 if reason_code.to_v3_connack().is_none() => ReasonCode::NotAuthorized,
            _ => reason_code,
        };
        let n = Packet::ConnAck(ConnAck::new(code)).encode(self.version, out)?;
        self.close(Initiator::Server, code, None);
        Ok(n)
    }

    /// Sends AUTH (MQTT 5.0 enhanced authentication, §4.12): `ContinueAuthentication` to ask
    /// the client for another step (while connecting or re-authenticating), `Success` to end a
    /// re-authentication. `method` must be the CONNECT's Authentication Method.
    pub fn auth(
        &mut self,
        reason_code: ReasonCode,
        method: &str,
        data: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize, UsageError> {
        let connecting = match self.phase {
            Phase::Answering if self.auth_method => true,
            Phase::Connected if self.auth_method => false,
            Phase::Closed => return Err(UsageError::Closed),
            _ => return Err(UsageError::NothingToAnswer),
        };
        if method.len() + data.map_or(0, <[u8]>::len) > ACCEPT_STRINGS {
            return Err(UsageError::Encode(crate::mqtt::EncodeError::StringTooLong));
        }
        let mut props_buf = [0u8; ACCEPT_STRINGS + 16];
        let mut b = PropertiesBuilder::new(&mut props_buf);
        b.push(Property::AuthenticationMethod(method))?;
        if let Some(d) = data {
            b.push(Property::AuthenticationData(d))?;
        }
        let auth = Auth { reason_code, properties: b.finish() };
        let n = Packet::Auth(auth).encode(self.version, out)?;
        if connecting {
            self.phase = Phase::Authenticating;
        } else if reason_code == ReasonCode::Success {
            self.reauthenticating = false;
        }
        Ok(n)
    }

    /// Sends an application message: assigns a packet identifier for QoS 1 / 2 (the
    /// `qos_pid`'s identifier is replaced) and writes the PUBLISH into `out`. A QoS 1 / 2
    /// publish stays in flight until [`Event::Acknowledged`]; keep its content until then to
    /// send it again with [`Server::republish`] on a resumed session.
    ///
    /// In MQTT 3.1.1 the properties are dropped (3.1.1 has none).
    pub fn publish(&mut self, publish: &Publish<'_>, out: &mut [u8]) -> Result<Sent, UsageError> {
        if self.phase != Phase::Connected {
            return Err(self.not_connected());
        }
        let qos = publish.qos_pid.qos();
        let packet_id = if qos == Qos::AtMostOnce {
            None
        } else {
            if self.send_quota() == 0 {
                return Err(UsageError::InFlightFull);
            }
            Some(self.free_id())
        };
        let len = match self.aliased(publish, packet_id, out) {
            Some(n) => n,
            None => self.encode_publish(publish, packet_id, false, out)?,
        };
        if let Some(id) = packet_id {
            let state = if qos == Qos::AtLeastOnce { Outgoing::PubAck } else { Outgoing::PubRec };
            self.store.set_outgoing(id, state).map_err(|_| UsageError::InFlightFull)?;
            self.next_id = id.get().wrapping_add(1).max(1);
        }
        Ok(Sent { packet_id, len })
    }

    /// Refuses the QoS 1 / QoS 2 PUBLISH `packet_id` just reported in [`Event::Publish`] (the
    /// client may not publish there, say): its PUBACK or PUBREC, not sent yet, carries the error
    /// `reason_code` instead of success (0x87 Not authorized, 0x90 Topic Name invalid, 0x97
    /// Quota exceeded, ...; MQTT 5.0 §3.4.2.1), which ends a QoS 2 flow (§4.3.3). Call it
    /// before the next [`Server::poll_transmit`]. MQTT 3.1.1 has no way to say it: the
    /// acknowledgement goes out as it was, and dropping the message is the caller's.
    pub fn refuse_publish(
        &mut self,
        packet_id: PacketId,
        reason_code: ReasonCode,
    ) -> Result<(), UsageError> {
        if !reason_code.is_error() {
            return Err(UsageError::NotAnError(reason_code));
        }
        let owed = self.owed.iter_mut().find(|o| {
            matches!(o, Owed::PubAck(id, ReasonCode::Success) | Owed::PubRec(id, ReasonCode::Success)
                if *id == packet_id)
        });
        match owed {
            Some(Owed::PubAck(_, code)) => *code = reason_code,
            Some(Owed::PubRec(_, code)) => {
                *code = reason_code;
                // An error PUBREC ends the flow: the identifier is free for a new message.
                self.store.released(packet_id);
            }
            _ => return Err(UsageError::UnknownPacketId),
        }
        Ok(())
    }

    /// Sends a QoS 1 / 2 message again with DUP set and the same `packet_id` (a resumed
    /// session: every store entry waiting for PUBACK or PUBREC, in store order [MQTT-4.4.0-1],
    /// [MQTT-4.6.0-1]); registers `packet_id` as in flight if it was not.
    pub fn republish(
        &mut self,
        packet_id: PacketId,
        publish: &Publish<'_>,
        out: &mut [u8],
    ) -> Result<usize, UsageError> {
        if self.phase != Phase::Connected {
            return Err(self.not_connected());
        }
        let qos = publish.qos_pid.qos();
        let state = match qos {
            Qos::AtMostOnce => return Err(UsageError::UnknownPacketId),
            Qos::AtLeastOnce => Outgoing::PubAck,
            Qos::ExactlyOnce => Outgoing::PubRec,
        };
        let known = self.store.outgoing(packet_id).is_some();
        if !known && self.send_quota() == 0 {
            return Err(UsageError::InFlightFull);
        }
        let len = self.encode_publish(publish, Some(packet_id), true, out)?;
        self.store.set_outgoing(packet_id, state).map_err(|_| UsageError::InFlightFull)?;
        Ok(len)
    }

    /// `publish` encoded with a Topic Alias (the topic left out once the client knows the
    /// alias), when aliases are on and one is free or assigned; `None`: send it as it is.
    fn aliased(
        &mut self,
        publish: &Publish<'_>,
        packet_id: Option<PacketId>,
        out: &mut [u8],
    ) -> Option<usize> {
        if !self.config.outgoing_topic_aliases
            || self.version != Version::V5
            || self.client_alias_max == 0
            || publish.properties.contains(PropertyId::TopicAlias)
        {
            return None;
        }
        let (alias, new) = self.assign_alias(publish.topic)?;
        let mut scratch = [0u8; ALIASED_PROPERTIES];
        let encoded = (|| {
            let mut b = PropertiesBuilder::starting_with(&mut scratch, &publish.properties).ok()?;
            b.push(Property::TopicAlias(alias)).ok()?;
            let topic = if new { publish.topic } else { "" };
            let p = Publish { topic, properties: b.finish(), ..*publish };
            self.encode_publish(&p, packet_id, false, out).ok()
        })();
        if encoded.is_none() && new {
            // Not sent with it (too long a property list, or too large): not assigned either.
            self.aliases.pop_outbound();
        }
        encoded
    }

    /// The outgoing alias for `topic` and whether it is newly assigned (the topic goes out once
    /// with it), within the client's Topic Alias Maximum, `ALIASES` and `ALIAS_LEN`; `None`:
    /// send the topic in full.
    fn assign_alias(&mut self, topic: &str) -> Option<(NonZeroU16, bool)> {
        let len = self.aliases.outbound_len();
        if let Some(i) = (0..len).find(|&i| self.aliases.outbound(i) == Some(topic)) {
            return NonZeroU16::new(u16::try_from(i + 1).ok()?).map(|a| (a, false));
        }
        if len >= usize::from(self.client_alias_max).min(ALIASES) || topic.len() > ALIAS_LEN {
            return None;
        }
        if !self.aliases.push_outbound(topic) {
            return None;
        }
        NonZeroU16::new(u16::try_from(len + 1).ok()?).map(|a| (a, true))
    }

    fn encode_publish(
        &self,
        publish: &Publish<'_>,
        packet_id: Option<PacketId>,
        dup: bool,
        out: &mut [u8],
    ) -> Result<usize, UsageError> {
        let mut p = *publish;
        p.dup = dup;
        p.qos_pid = match (publish.qos_pid.qos(), packet_id) {
            (Qos::AtLeastOnce, Some(id)) => QosPid::AtLeastOnce(id),
            (Qos::ExactlyOnce, Some(id)) => QosPid::ExactlyOnce(id),
            _ => QosPid::AtMostOnce,
        };
        if self.version == Version::V3_1_1 {
            p.properties = Default::default();
        }
        let packet = Packet::Publish(p);
        let size = packet.encoded_len(self.version)?;
        // [MQTT-3.1.2-24] never send more than the client's Maximum Packet Size.
        if size as u64 > u64::from(self.client_max_packet) {
            return Err(UsageError::PacketTooLarge { size, limit: self.client_max_packet });
        }
        Ok(packet.encode(self.version, out)?)
    }

    fn free_id(&self) -> PacketId {
        let mut id = self.next_id.max(1);
        // Fewer than IN_FLIGHT identifiers are taken (`send_quota` > 0), so one of the first
        // IN_FLIGHT candidates is free.
        for _ in 0..IN_FLIGHT {
            if let Some(pid) = PacketId::new(id)
                && self.store.outgoing(pid).is_none()
            {
                break;
            }
            id = id.wrapping_add(1).max(1);
        }
        PacketId(NonZeroU16::new(id).unwrap_or(NonZeroU16::MIN))
    }

    /// Answers SUBSCRIBE: one reason code per filter, in order [MQTT-3.8.4-6], written as
    /// SUBACK into `out`.
    pub fn sub_ack(
        &mut self,
        packet_id: PacketId,
        reason_codes: &[ReasonCode],
        out: &mut [u8],
    ) -> Result<usize, UsageError> {
        if self.phase != Phase::Connected {
            return Err(self.not_connected());
        }
        Ok(Packet::SubAck(SubAck::new(packet_id, reason_codes)).encode(self.version, out)?)
    }

    /// Answers UNSUBSCRIBE: one reason code per filter (ignored in MQTT 3.1.1), written as
    /// UNSUBACK into `out`.
    pub fn unsub_ack(
        &mut self,
        packet_id: PacketId,
        reason_codes: &[ReasonCode],
        out: &mut [u8],
    ) -> Result<usize, UsageError> {
        if self.phase != Phase::Connected {
            return Err(self.not_connected());
        }
        // A 3.1.1 UNSUBACK carries no reason codes (the encoder refuses them).
        let codes = if self.version == Version::V5 { reason_codes } else { &[] };
        Ok(Packet::UnsubAck(UnsubAck::new(packet_id, codes)).encode(self.version, out)?)
    }

    /// Ends the session from the server side with `reason_code` (for example
    /// [`ReasonCode::SessionTakenOver`] when the same Client Identifier connects again
    /// [MQTT-3.1.4-3], or [`ReasonCode::ServerShuttingDown`]). MQTT 5.0 owes a DISCONNECT; the
    /// will is published ([MQTT-3.1.2-8]: the client did not disconnect normally).
    pub fn disconnect(&mut self, reason_code: ReasonCode) -> Result<(), UsageError> {
        match self.phase {
            Phase::Closed => return Err(UsageError::Closed),
            Phase::Connected => {}
            _ => return Err(UsageError::NotConnected),
        }
        // [MQTT-3.14.2-1] 0x04 is for clients only.
        if reason_code == ReasonCode::DisconnectWithWillMessage {
            return Err(UsageError::Encode(crate::mqtt::EncodeError::ReasonCodeNotAllowed(
                reason_code,
            )));
        }
        let owed = (self.version == Version::V5).then_some(Owed::Disconnect(reason_code));
        self.close(Initiator::Server, reason_code, owed);
        Ok(())
    }

    /// The transport ended (EOF, reset, or the caller closes it without a DISCONNECT). Harmless
    /// after the session closed.
    pub fn connection_lost(&mut self) {
        self.close(Initiator::Transport, ReasonCode::UnspecifiedError, None);
        self.owed.clear();
        self.resend = None;
    }

    fn not_connected(&self) -> UsageError {
        if self.phase == Phase::Closed { UsageError::Closed } else { UsageError::NotConnected }
    }

    /// Writes the next packet owed to the client (acknowledgements, PINGRESP, DISCONNECT) into
    /// `out`; `Ok(None)` when nothing is owed. Call it until `None` after every input, command
    /// and timeout. On `BufferTooSmall` nothing changed.
    pub fn poll_transmit(
        &mut self,
        _now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        if let Some(n) = self.resend_release(out)? {
            return Ok(Some(n));
        }
        let Some(&owed) = self.owed.front() else { return Ok(None) };
        let v = self.version;
        let n = match owed {
            Owed::PubAck(id, code) => Packet::PubAck(ack(id, code, v)).encode(v, out),
            Owed::PubRec(id, code) => Packet::PubRec(ack(id, code, v)).encode(v, out),
            Owed::PubRel(id, code) => Packet::PubRel(ack(id, code, v)).encode(v, out),
            Owed::PubComp(id, code) => Packet::PubComp(ack(id, code, v)).encode(v, out),
            Owed::PingResp => Packet::PingResp.encode(v, out),
            Owed::ConnAck(code) => Packet::ConnAck(ConnAck::new(code)).encode(v, out),
            Owed::Disconnect(code) => Packet::Disconnect(Disconnect::new(code)).encode(v, out),
        }
        // The session builds these packets itself: only the buffer can be too small.
        .map_err(crate::mqtt::EncodeError::into_buffer_too_small)?;
        self.owed.pop_front();
        if let Owed::PubAck(..) = owed {
            self.unacked_qos1 = self.unacked_qos1.saturating_sub(1);
        }
        Ok(Some(n))
    }

    /// On a resumed session: the next PUBREL owed again for a PUBREC of an earlier connection.
    fn resend_release(&mut self, out: &mut [u8]) -> Result<Option<usize>, BufferTooSmall> {
        if self.phase != Phase::Connected {
            return Ok(None);
        }
        while let Some(i) = self.resend {
            let Some((id, state)) = self.store.outgoing_at(i as usize) else {
                self.resend = None;
                break;
            };
            if state != Outgoing::PubComp {
                self.resend = Some(i + 1);
                continue;
            }
            let n = Packet::PubRel(ack(id, ReasonCode::Success, self.version))
                .encode(self.version, out)
                .map_err(crate::mqtt::EncodeError::into_buffer_too_small)?;
            self.resend = Some(i + 1);
            return Ok(Some(n));
        }
        Ok(None)
    }

    /// When [`Server::handle_timeout`] must be called next: the CONNECT deadline, or one and a
    /// half keep-alive intervals after the last packet [MQTT-3.1.2-22]. `None` when closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::AwaitConnect | Phase::Answering | Phase::Authenticating => {
                Some(self.started + self.config.connect_timeout)
            }
            Phase::Connected if self.keep_alive == 0 => None,
            Phase::Connected => {
                Some(self.last_rx + Duration::from_millis(u64::from(self.keep_alive) * 1500))
            }
        }
    }

    /// Closes the session if a deadline passed: DISCONNECT with Keep Alive timeout (0x8D,
    /// MQTT 5.0) and the will published, or a silent close when CONNECT did not arrive in time.
    /// Idempotent; harmless when called early.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.poll_timeout() else { return };
        if now < deadline {
            return;
        }
        if self.phase == Phase::Connected {
            info!("mqtt server: keep-alive timeout");
            let owed = (self.version == Version::V5)
                .then_some(Owed::Disconnect(ReasonCode::KeepAliveTimeout));
            self.close(Initiator::Server, ReasonCode::KeepAliveTimeout, owed);
        } else {
            // §4.13 / [MQTT-3.1.0-1]: no CONNECT in time; close the network connection.
            self.close(Initiator::Server, ReasonCode::MaximumConnectTime, None);
        }
    }
}

fn ack(id: PacketId, code: ReasonCode, v: Version) -> Ack<'static> {
    let mut a = Ack::new(id);
    if v == Version::V5 {
        a.reason_code = code;
    }
    a
}

fn nonzero_u16(n: usize) -> NonZeroU16 {
    NonZeroU16::new(u16::try_from(n).unwrap_or(u16::MAX)).unwrap_or(NonZeroU16::MIN)
}

/// An event that may still need its topic: from the packet, or from the alias table.
enum Pending<'a, const L: usize> {
    Ready(Event<'a, L>),
    Publish(Publish<'a>),
    Alias(Publish<'a>, u16),
}

impl<'a, const L: usize> Pending<'a, L> {
    /// The event; a topic sent as an alias is copied out of the table, so the event borrows only
    /// the input.
    fn resolve<const I: usize, const A: usize, S: Store, AL: TopicAliases>(
        self,
        server: &Server<I, A, L, S, AL>,
    ) -> Event<'a, L> {
        match self {
            Pending::Ready(e) => e,
            Pending::Publish(p) => Event::Publish(Message::new(&p, Topic::new(p.topic), p.payload)),
            Pending::Alias(p, a) => {
                // Checked present in `on_publish`; a slot holds at most L bytes.
                let topic =
                    server.aliases.inbound(a).and_then(Topic::copied).unwrap_or(Topic::new(""));
                Event::Publish(Message::new(&p, topic, p.payload))
            }
        }
    }
}

impl<
    const IN_FLIGHT: usize,
    const ALIASES: usize,
    const ALIAS_LEN: usize,
    S: Store,
    AL: TopicAliases,
> Machine for Server<IN_FLIGHT, ALIASES, ALIAS_LEN, S, AL>
{
    type Event<'a> = Event<'a, ALIAS_LEN>;
    type Error = Error;

    fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Status<Option<Event<'a, ALIAS_LEN>>>, Error> {
        Server::handle_input(self, now, input).map_err(Error::Remote)
    }

    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        Server::poll_transmit(self, now, out)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Server::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        Server::handle_timeout(self, now);
        Ok(())
    }

    fn connection_lost(&mut self) {
        Server::connection_lost(self);
    }

    fn room_required(error: &Error) -> Option<usize> {
        match error {
            Error::Usage(UsageError::BufferTooSmall { required }) => Some(*required),
            _ => None,
        }
    }
}
