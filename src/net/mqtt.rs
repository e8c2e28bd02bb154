//! An MQTT client connected from a URL, with its buffers, clock and randomness on std.

use super::transport::{Options, Transport};
use super::{Clock, Error, Url};
use crate::io::DriverError;
use crate::io::blocking::Connection;
use crate::mqtt::client::{self, Client, Config, ConnectOptions, SliceStore};
use crate::mqtt::properties::{Properties, PropertyContext};
use crate::mqtt::{PacketId, Qos, ReasonCode};
use crate::time::Instant;
use std::borrow::ToOwned;
use std::string::String;
use std::vec;
use std::vec::Vec;

/// The in-flight store of a std client: up to 64 messages in a buffer it owns.
pub type OwnedStore = SliceStore<'static, 64, Vec<u8>>;

/// The driver a [`MqttClient`] runs: the blocking driver over an opened [`Transport`], with
/// buffers it owns.
pub type Driver = Connection<'static, Transport, Client<OwnedStore>, Vec<u8>>;

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

/// What the broker sent, owning its data. Acknowledgements carry the packet identifier that
/// [`MqttClient::publish`], [`MqttClient::subscribe`] or [`MqttClient::unsubscribe`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The broker sent DISCONNECT; the connection is over.
    Disconnected {
        /// Why.
        reason_code: ReasonCode,
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
            _ => return None,
        })
    }
}

/// A new session with its in-flight store, and receive and transmit buffers, sized by
/// `settings`.
pub(crate) fn session(settings: &Options) -> (Client<OwnedStore>, Vec<u8>, Vec<u8>) {
    let store = SliceStore::with_buffer(vec![0u8; settings.store_len]);
    let client = Client::new(store, Config::new(settings.buffer_len));
    (client, vec![0u8; settings.buffer_len], vec![0u8; settings.buffer_len])
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
/// ```no_run
/// use mqtt_ws::prelude::*;
///
/// let mut mqtt = MqttClient::connect("ws://127.0.0.1:8083/mqtt", &ConnectOptions::new("lamp"))?;
/// mqtt.subscribe("home/lamp/set", Qos::AtLeastOnce)?;
/// while let Some(event) = mqtt.next()? {
///     if let MqttEvent::Message(m) = event {
///         mqtt.publish(&Outgoing::new("home/lamp/state", &m.payload).retain(true))?;
///     }
/// }
/// # Ok::<(), mqtt_ws::net::Error>(())
/// ```
#[derive(Debug)]
pub struct MqttClient {
    conn: Driver,
    clock: Clock,
}

impl MqttClient {
    /// Connects to `url` (`mqtt://`, `mqtts://`, `ws://`, `wss://`) with the default
    /// [`Options`] and waits for CONNACK. A user name and password in the URL are sent unless
    /// `options` has its own.
    pub fn connect(url: &str, options: &ConnectOptions<'_>) -> Result<Self, Error> {
        Self::connect_with(url, options, &Options::default())
    }

    /// [`connect`](Self::connect) with buffer sizes, timeout and TLS settings.
    pub fn connect_with(
        url: &str,
        options: &ConnectOptions<'_>,
        settings: &Options,
    ) -> Result<Self, Error> {
        let url = Url::parse(url)?;
        let clock = Clock::new();
        let deadline = clock.now() + settings.connect_timeout;
        let transport = Transport::connect(&url, settings, "mqtt")?;
        let (client, rx, tx) = session(settings);
        let mut conn = Connection::with_buffers(transport, client, rx, tx);
        conn.connect(clock.now(), &with_credentials(options, &url))?;
        loop {
            match conn.poll(clock.now())? {
                Some(client::Event::Connected(_)) => return Ok(MqttClient { conn, clock }),
                Some(client::Event::Refused { reason_code, .. }) => {
                    return Err(Error::Refused(reason_code));
                }
                _ if clock.now() >= deadline => return Err(Error::Timeout),
                _ => {}
            }
        }
    }

    /// Waits for the next event, running the keep-alive meanwhile. `Ok(None)` once the
    /// connection has closed.
    // An iterator-like method that can fail: not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Event>, Error> {
        self.wait(None)
    }

    /// [`next`](Self::next), giving up after `timeout` with [`Error::Timeout`] (the
    /// connection stays open): for a program that also does something on a timer, such as a
    /// sensor publishing a reading every minute. The wait may end up to 200 ms late.
    pub fn next_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<Event>, Error> {
        let deadline = self.clock.now() + timeout;
        self.wait(Some(deadline))
    }

    fn wait(&mut self, deadline: Option<Instant>) -> Result<Option<Event>, Error> {
        loop {
            if let Some(done) = Event::settle(self.conn.poll(self.clock.now())) {
                return done;
            }
            if deadline.is_some_and(|d| self.clock.now() >= d) {
                return Err(Error::Timeout);
            }
        }
    }

    /// Sends DISCONNECT (normal disconnection: the will is not published) and closes.
    pub fn disconnect(mut self) -> Result<(), Error> {
        let now = self.clock.now();
        self.conn.disconnect(now, ReasonCode::NormalDisconnection, Properties::EMPTY)?;
        #[cfg(feature = "ws")]
        if let Transport::WebSocket(ws) = self.conn.transport() {
            // The closing handshake; a peer that just drops the TCP connection ends it too.
            let _ = ws.close(crate::ws::close::CloseCode::Normal);
        }
        Ok(())
    }

    mqtt_commands!();
}
