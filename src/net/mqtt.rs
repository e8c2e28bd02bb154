//! An MQTT client connected from a URL, with its buffers, clock and randomness on std.

use super::transport::{Ending, Options, Reconnect, Transport};
use super::{Clock, Error, Url};
use crate::io::blocking::{Connection, reconnect_step};
use crate::io::{Backoff, DriverError, ElasticBuffer, Redial, Step};
use crate::mqtt::client::{self, Client, Config, ConnectOptions, SliceStore, State, UsageError};
use crate::mqtt::packet::Will;
use crate::mqtt::properties::{Properties, PropertyContext};
use crate::mqtt::{PacketId, Qos, ReasonCode, Version};
use crate::time::Instant;
use std::borrow::ToOwned;
use std::string::String;
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

/// How long `disconnect` waits for the broker to close its side after DISCONNECT.
pub(crate) const LINGER: core::time::Duration = core::time::Duration::from_secs(2);

/// The in-flight store of a std client: up to 64 messages in a buffer it owns.
pub type OwnedStore = SliceStore<'static, 64, Vec<u8>>;

/// The driver a [`MqttClient`] runs: the blocking driver over an opened [`Transport`], with
/// buffers it owns.
pub type Driver = Connection<'static, Transport, Client<OwnedStore>, ElasticBuffer>;

/// A received PUBLISH, owning its topic, payload and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name (a topic alias resolved).
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS it was delivered with.
    pub qos: Qos,
    /// Retain flag: a retained message the broker kept.
    pub retain: bool,
    /// DUP flag.
    pub dup: bool,
    properties: Vec<u8>,
}

impl Message {
    /// The PUBLISH properties (MQTT 5.0).
    pub fn properties(&self) -> Properties<'_> {
        Properties::parse(&self.properties, PropertyContext::Publish).unwrap_or_default()
    }

    /// The payload as text, if it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        core::str::from_utf8(&self.payload).ok()
    }
}

/// What the broker sent, owning its data, and what became of the connection. Acknowledgements
/// carry the packet identifier that [`MqttClient::publish`], [`MqttClient::subscribe`] or
/// [`MqttClient::unsubscribe`] returned.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// An application message.
    Message(Message),
    /// A message larger than the receive buffer was refused (`Packet Too Large`); nothing is
    /// dropped unseen.
    MessageSkipped {
        /// Its topic.
        topic: String,
        /// Its payload length.
        payload_len: usize,
    },
    /// A QoS 1 or 2 PUBLISH was acknowledged (PUBACK, or PUBCOMP).
    Published {
        /// The identifier `publish` returned.
        packet_id: PacketId,
        /// The broker's reason code (MQTT 5.0; success in 3.1.1).
        reason_code: ReasonCode,
    },
    /// SUBACK: one reason code per filter, the granted QoS or a refusal.
    Subscribed {
        /// The identifier `subscribe` returned.
        packet_id: PacketId,
        /// One per filter, in order.
        reason_codes: Vec<ReasonCode>,
    },
    /// UNSUBACK.
    Unsubscribed {
        /// The identifier `unsubscribe` returned.
        packet_id: PacketId,
        /// One per filter, in order.
        reason_codes: Vec<ReasonCode>,
    },
    /// AUTH from the broker (MQTT 5.0 enhanced authentication, §4.12): a challenge to answer
    /// with [`MqttClient::auth`] (`ContinueAuthentication`), or `Success` at the end of a
    /// re-authentication.
    Auth {
        /// `ContinueAuthentication`, or `Success`.
        reason_code: ReasonCode,
        /// The Authentication Method (the one CONNECT named).
        method: Option<String>,
        /// The Authentication Data, if any.
        data: Option<Vec<u8>>,
    },
    /// The broker sent DISCONNECT; the connection is over (a client that reconnects, see
    /// [`Options::reconnect`], connects again after a backoff delay and reports
    /// [`Reconnected`](Event::Reconnected)).
    Disconnected {
        /// Why.
        reason_code: ReasonCode,
    },
    /// The connection broke, or an attempt to connect again failed (only a client that
    /// reconnects, see [`Options::reconnect`]; one that does not returns the error from `next`).
    /// The client tries again after a backoff delay; until
    /// [`Reconnected`](Event::Reconnected), commands fail with
    /// [`UsageError::NotConnected`]. QoS 1 and 2 messages `publish` accepted stay in the store and
    /// go out again when the session resumes.
    ConnectionLost {
        /// Why: the socket's error, the end of the connection, a broker fault, a CONNACK
        /// refusal ([`Error::Refused`]), a missed CONNACK or PINGRESP.
        error: Arc<Error>,
    },
    /// Connected again after [`ConnectionLost`](Event::ConnectionLost) or
    /// [`Disconnected`](Event::Disconnected).
    Reconnected {
        /// The broker kept the session: its subscriptions hold, messages queued for it while
        /// offline arrive, unacknowledged messages are being re-sent. `false`: a new session
        /// (no Session Expiry Interval, or the broker lost it): subscribe again.
        session_present: bool,
        /// A QoS 1/2 message [`MqttClient::publish_from`] sent whose acknowledgement did not
        /// come before the connection broke: it is not re-sent by the session (its payload was
        /// never kept); publish it again.
        unsent_stream: Option<PacketId>,
    },
}

impl Event {
    /// What a driver step means to a std client waiting for an event: `Some` to return it (an
    /// event, the end of the connection as `Ok(None)`, or a failure), `None` to go on waiting.
    pub(crate) fn settle(
        step: Result<Option<client::Event<'_>>, DriverError<std::io::Error, client::Error>>,
    ) -> Option<Result<Option<Event>, Error>> {
        match step {
            Ok(Some(event)) => Event::owned(event).map(|event| Ok(Some(event))),
            Ok(None) => None,
            Err(DriverError::Closed) => Some(Ok(None)),
            Err(e) => Some(Err(e.into())),
        }
    }

    /// What a reconnecting step means to a std client waiting for an event.
    pub(crate) fn next(step: Step<'_, std::io::Error, Error>) -> Next {
        let lost = |error: Error| Next::Event(Event::ConnectionLost { error: Arc::new(error) });
        match step {
            Step::Event(client::Event::Connected(c)) => Next::Event(Event::Reconnected {
                session_present: c.session_present,
                unsent_stream: c.unsent_stream,
            }),
            Step::Event(client::Event::Refused { reason_code, .. }) => {
                lost(Error::Refused(reason_code))
            }
            Step::Event(event) => Event::owned(event).map_or(Next::Again, Next::Event),
            Step::Idle => Next::Again,
            Step::Lost { error, .. } => lost(error.into()),
            Step::ConnectFailed { error, .. } => lost(error),
            Step::Offline { until } => Next::Sleep(until),
        }
    }

    /// A connection lost to a fault of the broker (a malformed packet, one not allowed in its
    /// state), which the session answered with DISCONNECT.
    pub(crate) fn is_broker_fault(&self) -> bool {
        match self {
            Event::ConnectionLost { error } => {
                matches!(**error, Error::Mqtt(client::Error::Remote(_)))
            }
            _ => false,
        }
    }

    /// The owned form of a session event; `None` for what the std client handles itself.
    fn owned(event: client::Event<'_>) -> Option<Event> {
        Some(match event {
            client::Event::Message(m) => Event::Message(Message {
                topic: m.topic.as_str().to_owned(),
                payload: m.payload.to_vec(),
                qos: m.qos,
                retain: m.retain,
                dup: m.dup,
                properties: m.properties.as_bytes().to_vec(),
            }),
            client::Event::MessageSkipped { message, payload_len } => {
                Event::MessageSkipped { topic: message.topic.as_str().to_owned(), payload_len }
            }
            client::Event::Published { packet_id, reason_code, .. } => {
                Event::Published { packet_id, reason_code }
            }
            client::Event::Subscribed { packet_id, reason_codes, .. } => {
                Event::Subscribed { packet_id, reason_codes: reason_codes.iter().collect() }
            }
            client::Event::Unsubscribed { packet_id, reason_codes, .. } => {
                Event::Unsubscribed { packet_id, reason_codes: reason_codes.iter().collect() }
            }
            client::Event::Disconnected { reason_code, .. } => Event::Disconnected { reason_code },
            client::Event::Auth { reason_code, properties } => Event::Auth {
                reason_code,
                method: properties.authentication_method().map(str::to_owned),
                data: properties.authentication_data().map(<[u8]>::to_vec),
            },
            _ => return None,
        })
    }
}

/// What to do after a reconnecting step.
pub(crate) enum Next {
    /// Return this event.
    Event(Event),
    /// Offline: nothing to do before this instant.
    Sleep(Instant),
    /// Step again.
    Again,
}

/// What a client that reconnects keeps: the bookkeeping, and what it connects with, owned.
/// Its `Debug` output leaves out the password (the options' and the URL's).
pub(crate) struct Redialer {
    pub(crate) redial: Redial,
    pub(crate) options: OwnedOptions,
    /// Shared with each attempt's future (an `Arc` clone per attempt, nothing copied).
    pub(crate) url: Arc<str>,
    pub(crate) settings: Arc<Options>,
    /// A loss a command saw, for the next wait to report.
    pub(crate) lost: Option<Error>,
}

impl core::fmt::Debug for Redialer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The password `Url` finds in `user:password@`, replaced.
        let url = match Url::parse(&self.url).ok().and_then(|u| u.password) {
            Some(password) => self.url.replacen(&std::format!(":{password}@"), ":..@", 1),
            None => String::from(&*self.url),
        };
        f.debug_struct("Redialer")
            .field("redial", &self.redial)
            .field("options", &self.options)
            .field("url", &url)
            .field("settings", &self.settings)
            .field("lost", &self.lost)
            .finish()
    }
}

impl Redialer {
    /// After the first CONNACK (`connected`, the event): reconnects as `reconnect` says.
    pub(crate) fn new(
        reconnect: &Reconnect,
        options: &ConnectOptions<'_>,
        url: &str,
        settings: &Options,
        connected: &client::Event<'_>,
    ) -> Result<Self, Error> {
        let seed = u32::from_le_bytes(super::random()?);
        let mut redial =
            Redial::new(Backoff::new(reconnect.initial_delay, reconnect.max_delay, seed));
        redial.connect_sent::<()>(Ok(()), options);
        redial.on_event(Instant::ZERO, connected);
        let mut owned = OwnedOptions::new(options);
        // The CONNECTs of a reconnect name the session the broker assigned, so one that
        // outlives the connection resumes (MQTT 5.0 §3.2.2.3.7).
        owned.client_id = session_id(options, connected);
        Ok(Redialer {
            redial,
            options: owned,
            url: url.into(),
            settings: Arc::new(settings.clone()),
            lost: None,
        })
    }

    /// `true` when commands can be sent: CONNACK accepted the current connection.
    pub(crate) fn is_connected(&self, client: &Client<OwnedStore>) -> bool {
        self.redial.is_up() && client.state() == State::Connected
    }

    /// What a command's failure means: a usage error as it is; a broken connection is
    /// remembered for the next wait to report, the next attempt scheduled, and the command
    /// fails with [`UsageError::NotConnected`].
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        e: DriverError<std::io::Error, client::Error>,
    ) -> Error {
        match e {
            DriverError::Transport(_) | DriverError::Eof | DriverError::Closed => {
                self.lost.get_or_insert(e.into());
                if self.redial.is_up() {
                    self.redial.schedule(now, false);
                }
                not_connected()
            }
            e => e.into(),
        }
    }
}

/// The error of a command sent while a reconnecting client is offline.
pub(crate) fn not_connected() -> Error {
    Error::Mqtt(UsageError::NotConnected.into())
}

/// A [`Will`] owned.
#[derive(Debug, Clone)]
struct OwnedWill {
    qos: Qos,
    retain: bool,
    properties: Vec<u8>,
    topic: String,
    payload: Vec<u8>,
}

/// [`ConnectOptions`] owned, for the CONNECTs of a reconnect. Its `Debug` output leaves the
/// password and the authentication data out.
#[derive(Clone)]
pub(crate) struct OwnedOptions {
    version: Version,
    client_id: String,
    clean_start: bool,
    keep_alive: u16,
    session_expiry: u32,
    will: Option<OwnedWill>,
    username: Option<String>,
    password: Option<Vec<u8>>,
    auth_method: Option<String>,
    auth_data: Option<Vec<u8>>,
    request_response_information: bool,
    request_problem_information: bool,
    user_properties: Vec<(String, String)>,
}

impl core::fmt::Debug for OwnedOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let hidden = |set: bool| if set { "Some(..)" } else { "None" };
        f.debug_struct("OwnedOptions")
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("session_expiry", &self.session_expiry)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &format_args!("{}", hidden(self.password.is_some())))
            .field("auth_method", &self.auth_method)
            .field("auth_data", &format_args!("{}", hidden(self.auth_data.is_some())))
            .field("user_properties", &self.user_properties)
            .finish_non_exhaustive()
    }
}

impl OwnedOptions {
    fn new(o: &ConnectOptions<'_>) -> Self {
        OwnedOptions {
            version: o.version,
            client_id: o.client_id.to_owned(),
            clean_start: o.clean_start,
            keep_alive: o.keep_alive,
            session_expiry: o.session_expiry,
            will: o.will.map(|w| OwnedWill {
                qos: w.qos,
                retain: w.retain,
                properties: w.properties.as_bytes().to_vec(),
                topic: w.topic.to_owned(),
                payload: w.payload.to_vec(),
            }),
            username: o.username.map(str::to_owned),
            password: o.password.map(<[u8]>::to_vec),
            auth_method: o.auth_method.map(str::to_owned),
            auth_data: o.auth_data.map(<[u8]>::to_vec),
            request_response_information: o.request_response_information,
            request_problem_information: o.request_problem_information,
            user_properties: o.user_properties.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// The user properties as the options borrow them.
    pub(crate) fn user_properties(&self) -> Vec<(&str, &str)> {
        self.user_properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    /// The options, borrowing `self` and `user_properties` (from
    /// [`user_properties`](Self::user_properties)).
    pub(crate) fn get<'a>(
        &'a self,
        user_properties: &'a [(&'a str, &'a str)],
    ) -> ConnectOptions<'a> {
        let will = self.will.as_ref().map(|w| Will {
            qos: w.qos,
            retain: w.retain,
            properties: Properties::parse(&w.properties, PropertyContext::Will).unwrap_or_default(),
            topic: &w.topic,
            payload: &w.payload,
        });
        ConnectOptions {
            version: self.version,
            client_id: &self.client_id,
            clean_start: self.clean_start,
            keep_alive: self.keep_alive,
            session_expiry: self.session_expiry,
            will,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
            auth_method: self.auth_method.as_deref(),
            auth_data: self.auth_data.as_deref(),
            request_response_information: self.request_response_information,
            request_problem_information: self.request_problem_information,
            user_properties,
        }
    }
}

/// A new session with its in-flight store, and receive and transmit buffers, sized by
/// `settings`.
pub(crate) fn session(settings: &Options) -> (Client<OwnedStore>, ElasticBuffer, ElasticBuffer) {
    let store = SliceStore::with_buffer(vec![0u8; settings.store_len]);
    let mut config = Config::new(settings.buffer_len);
    config.stream_large_payloads = settings.stream_large_payloads;
    let client = Client::new(store, config);
    (client, super::buffer(settings.buffer_len), super::buffer(settings.buffer_len))
}

/// The client identifier of the session CONNACK (`connected`) accepted: its Assigned Client
/// Identifier when CONNECT's was empty (MQTT 5.0 §3.2.2.3.7), otherwise the one connected with.
pub(crate) fn session_id(options: &ConnectOptions<'_>, connected: &client::Event<'_>) -> String {
    let assigned = match connected {
        client::Event::Connected(c) => c.assigned_client_id(),
        _ => None,
    };
    assigned.unwrap_or(options.client_id).to_owned()
}

/// `options` with the URL's user name and password, unless it has its own.
pub(crate) fn with_credentials<'a>(
    options: &ConnectOptions<'a>,
    url: &Url<'a>,
) -> ConnectOptions<'a> {
    let mut options = *options;
    if options.username.is_none() {
        options.username = url.user;
        options.password = options.password.or(url.password.map(str::as_bytes));
    }
    options
}

/// An MQTT client connected from a URL: the socket opened (TCP, TLS, WebSocket with
/// subprotocol `mqtt`), randomness from the operating system, buffers owned and sized by
/// [`Options`], the clock read by the client, CONNACK awaited.
///
/// A lost connection is reconnected by itself, as [`Options::reconnect`] says (by default after
/// 1 s, doubling up to 30 s): `next` reports [`Event::ConnectionLost`] and
/// [`Event::Reconnected`], and the loop goes on. [`disconnect`](Self::disconnect) ends it.
///
/// ```no_run
/// use mqtt_ws::prelude::*;
///
/// let mut mqtt = MqttClient::connect("ws://127.0.0.1:8083/mqtt", &ConnectOptions::new("lamp"))?;
/// mqtt.subscribe("home/lamp/set", Qos::AtLeastOnce)?;
/// while let Some(event) = mqtt.next()? {
///     match event {
///         MqttEvent::Message(m) => {
///             mqtt.publish(&Outgoing::new("home/lamp/state", &m.payload).retain(true))?;
///         }
///         // A new session after a reconnect (no Session Expiry Interval): subscribe again.
///         MqttEvent::Reconnected { session_present: false, .. } => {
///             mqtt.subscribe("home/lamp/set", Qos::AtLeastOnce)?;
///         }
///         MqttEvent::ConnectionLost { error } => eprintln!("connection lost: {error}"),
///         _ => {}
///     }
/// }
/// # Ok::<(), mqtt_ws::net::Error>(())
/// ```
#[derive(Debug)]
pub struct MqttClient {
    conn: Driver,
    clock: Clock,
    redial: Option<std::boxed::Box<Redialer>>,
    /// See [`client_id`](Self::client_id).
    client_id: String,
}

impl MqttClient {
    /// Connects to `url` (`mqtt://`, `mqtts://`, `ws://`, `wss://`) with the default
    /// [`Options`] and waits for CONNACK. A user name and password in the URL are sent unless
    /// `options` has its own. The first connection is not retried: a wrong URL, an unreachable
    /// broker or a refusal is the error returned here.
    pub fn connect(url: &str, options: &ConnectOptions<'_>) -> Result<Self, Error> {
        Self::connect_with(url, options, &Options::default())
    }

    /// [`connect`](Self::connect) with buffer sizes, timeout, TLS and reconnect settings.
    pub fn connect_with(
        url: &str,
        options: &ConnectOptions<'_>,
        settings: &Options,
    ) -> Result<Self, Error> {
        let parsed = Url::parse(url)?;
        let clock = Clock::new();
        let deadline = clock.now() + settings.connect_timeout;
        let transport = Transport::connect(&parsed, settings, "mqtt")?;
        let (client, rx, tx) = session(settings);
        let mut conn = Connection::with_buffers(transport, client, rx, tx);
        let options = with_credentials(options, &parsed);
        conn.connect(clock.now(), &options)?;
        loop {
            match conn.poll(clock.now())? {
                Some(connected @ client::Event::Connected(_)) => {
                    let redial = match &settings.reconnect {
                        Some(r) => {
                            let r = Redialer::new(r, &options, url, settings, &connected)?;
                            Some(std::boxed::Box::new(r))
                        }
                        None => None,
                    };
                    let client_id = session_id(&options, &connected);
                    return Ok(MqttClient { conn, clock, redial, client_id });
                }
                Some(client::Event::Refused { reason_code, .. }) => {
                    return Err(Error::Refused(reason_code));
                }
                _ if clock.now() >= deadline => return Err(Error::Timeout),
                _ => {}
            }
        }
    }

    /// Waits for the next event, running the keep-alive meanwhile, and reconnecting when the
    /// client does (see [`Options::reconnect`]). `Ok(None)` once the connection has closed (a
    /// client that reconnects: never); an error ends a client that does not reconnect.
    // An iterator-like method that can fail: not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Event>, Error> {
        self.wait(None)
    }

    /// [`next`](Self::next), giving up after `timeout` with [`Error::Timeout`] (the
    /// connection stays open): for a program that also does something on a timer, such as a
    /// sensor publishing a reading every minute. The wait may end up to 200 ms late (and up to
    /// a connect timeout late while a reconnect attempt runs).
    pub fn next_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<Event>, Error> {
        let deadline = self.clock.now() + timeout;
        self.wait(Some(deadline))
    }

    fn wait(&mut self, deadline: Option<Instant>) -> Result<Option<Event>, Error> {
        loop {
            let now = self.clock.now();
            let next = match self.redial.as_deref_mut() {
                None => match Event::settle(self.poll()) {
                    Some(done) => return done,
                    None => Next::Again,
                },
                Some(r) => match r.lost.take() {
                    Some(error) => Next::Event(Event::ConnectionLost { error: Arc::new(error) }),
                    None => {
                        let Redialer { redial, options, url, settings, .. } = r;
                        let mut connect =
                            || Transport::connect(&Url::parse(url)?, settings, "mqtt");
                        let user_properties = options.user_properties();
                        let options = options.get(&user_properties);
                        let step =
                            reconnect_step(&mut self.conn, redial, &options, &mut connect, now);
                        Event::next(step)
                    }
                },
            };
            let wake = match next {
                Next::Event(event) => {
                    if event.is_broker_fault() {
                        // As without reconnecting (see `poll`): the DISCONNECT is written, a
                        // close frame 1002 follows, the connection ends in order; the next
                        // attempt follows.
                        self.conn.transport().end(Ending::ProtocolError, LINGER);
                    }
                    return Ok(Some(event));
                }
                Next::Again => None,
                Next::Sleep(until) => Some(until),
            };
            if deadline.is_some_and(|d| self.clock.now() >= d) {
                return Err(Error::Timeout);
            }
            if let Some(until) = wake.map(|u| deadline.map_or(u, |d| d.min(u))) {
                std::thread::sleep(until.saturating_duration_since(self.clock.now()));
            }
        }
    }

    /// Sends DISCONNECT (normal disconnection: the will is not published) and closes; no
    /// reconnect follows. Offline, there is nothing to send: `Ok`.
    ///
    /// The connection ends in order: over WebSocket the closing handshake, then TLS
    /// `close_notify`, our side of TCP shut, and the broker's last bytes read until it closes
    /// (at most 2 s), so that the DISCONNECT is not lost to a reset.
    pub fn disconnect(mut self) -> Result<(), Error> {
        if self.redial.is_some() && !self.is_connected() {
            return Ok(());
        }
        let now = self.clock.now();
        self.conn.disconnect(now, ReasonCode::NormalDisconnection, Properties::EMPTY)?;
        self.conn.transport().end(Ending::Normal, LINGER);
        Ok(())
    }

    /// One step of the driver on the client's clock, the event borrowing the client until the
    /// next call: what [`driver`](Self::driver)`().poll(now)` gives, for a program that
    /// handles the borrowed events itself (no reconnect happens here: see [`next`](Self::next)).
    /// `Ok(None)`: nothing came within a read tick (200 ms); call again.
    ///
    /// A broker fault (`client::Error::Remote`: a malformed packet, a packet not allowed in
    /// that state, ...) ends the connection before it is returned: the DISCONNECT with its
    /// reason code that the session queued is written (MQTT 5.0 §4.13.1; none in 3.1.1), over
    /// WebSocket a close frame 1002 Protocol Error follows (RFC 6455 §7.4.1), then the
    /// connection ends in order as [`disconnect`](Self::disconnect) ends it.
    pub fn poll(
        &mut self,
    ) -> Result<Option<client::Event<'_>>, DriverError<std::io::Error, client::Error>> {
        let now = self.clock.now();
        let (transport, pump) = self.conn.parts();
        let step = crate::io::blocking::step(transport, pump, now, crate::io::Timeout::Quiet);
        if let Err(DriverError::Machine(client::Error::Remote(_))) = &step {
            transport.end(Ending::ProtocolError, LINGER);
        }
        step
    }

    mqtt_commands!(; payload: impl std::io::Read, read: std::io::Read::read);
}
