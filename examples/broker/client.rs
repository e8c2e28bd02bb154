//! A small blocking MQTT client for the demo and the broker tests: the crate's client session in
//! its blocking driver over a [`Transport`] (TCP or WebSocket) on this thread. Each call waits
//! for its acknowledgement; messages that arrive meanwhile are kept for [`MiniClient::recv`].

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant as StdInstant};

use mqtt_ws::io::{DriverError, ElasticBuffer, blocking};
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions as Options, Event, Outgoing, SliceStore,
};
use mqtt_ws::mqtt::packet::{Subscription, Will};
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};
use mqtt_ws::time::Instant;

use super::transport::Transport;

/// The session's store: up to 64 messages in flight each way, in a buffer of its own.
type Store = SliceStore<'static, 64, Vec<u8>>;
/// Bytes of PUBLISH packets the store keeps.
const STORE: usize = 1 << 20;

fn err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

/// A message the client received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: Qos,
    pub retain: bool,
    /// The Message Expiry Interval it came with (MQTT 5.0).
    pub expiry: Option<u32>,
}

/// CONNECT options.
#[derive(Clone, Debug)]
pub struct ConnectOptions<'a> {
    pub version: Version,
    pub keep_alive: u16,
    pub clean_start: bool,
    /// Session Expiry Interval in seconds (MQTT 5.0; 0: the session ends with the connection).
    pub session_expiry: u32,
    /// Topic, payload, QoS, retain.
    pub will: Option<(&'a str, &'a [u8], Qos, bool)>,
}

impl Default for ConnectOptions<'_> {
    fn default() -> Self {
        ConnectOptions {
            version: Version::V5,
            keep_alive: 30,
            clean_start: true,
            session_expiry: 0,
            will: None,
        }
    }
}

/// What an event said, owned so the event's borrow can end.
enum Seen {
    Connected(bool),
    Refused(ReasonCode),
    Published(PacketId, ReasonCode),
    Subscribed(PacketId, Option<ReasonCode>),
    Disconnected(ReasonCode),
    Message,
    Other,
}

/// The largest packet either way: the broker's.
const RX: usize = super::MAX_PACKET as usize;

/// A connected client.
pub struct MiniClient {
    conn: blocking::Connection<'static, Transport, Client<Store>, ElasticBuffer>,
    epoch: StdInstant,
    received: VecDeque<Received>,
    /// Whether the CONNACK said Session Present.
    pub session_present: bool,
}

impl MiniClient {
    /// Connects to `url` (`mqtt://host:port` or `ws://host:port/mqtt`) as `client_id`.
    pub fn connect(url: &str, client_id: &str, options: ConnectOptions<'_>) -> io::Result<Self> {
        let mut transport = Transport::connect(url)?;
        transport.tcp().set_read_timeout(Some(Duration::from_millis(100)))?;
        let client = Client::new(SliceStore::with_buffer(vec![0; STORE]), Config::new(RX));
        let mut c = MiniClient {
            conn: blocking::Connection::with_buffers(
                transport,
                client,
                ElasticBuffer::new(4096, RX),
                ElasticBuffer::new(4096, RX),
            ),
            epoch: StdInstant::now(),
            received: VecDeque::new(),
            session_present: false,
        };
        let mut o = Options::new(client_id);
        o.version = options.version;
        o.keep_alive = options.keep_alive;
        o.clean_start = options.clean_start;
        o.session_expiry = options.session_expiry;
        o.will = options.will.map(|(topic, payload, qos, retain)| Will {
            qos,
            retain,
            properties: Properties::EMPTY,
            topic,
            payload,
        });
        let now = c.now();
        c.conn.connect(now, &o).map_err(err)?;
        c.session_present = c.wait(Duration::from_secs(30), |s| match s {
            Seen::Connected(present) => Some(Ok(*present)),
            Seen::Refused(code) => Some(Err(err(format!("connection refused: {code:?}")))),
            _ => None,
        })??;
        Ok(c)
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    /// Runs the client until `want` picks an event, or `timeout` passes.
    fn wait<T>(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&Seen) -> Option<T>,
    ) -> io::Result<T> {
        let deadline = StdInstant::now() + timeout;
        while StdInstant::now() < deadline {
            let now = self.now();
            let seen = match self.conn.poll(now) {
                Ok(event) => see(&mut self.received, event),
                Err(DriverError::Eof | DriverError::Closed) => {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Err(e) => return Err(err(e)),
            };
            if let Seen::Disconnected(code) = seen {
                return Err(err(format!("the broker disconnected: {code:?}")));
            }
            if let Some(t) = want(&seen) {
                return Ok(t);
            }
        }
        Err(io::ErrorKind::TimedOut.into())
    }
}

/// Keeps messages in `received`; returns what the event said.
fn see(received: &mut VecDeque<Received>, event: Option<Event<'_>>) -> Seen {
    match event {
        None => Seen::Other,
        Some(Event::Connected(c)) => Seen::Connected(c.session_present),
        Some(Event::Refused { reason_code, .. }) => Seen::Refused(reason_code),
        Some(Event::Message(m)) => {
            received.push_back(Received {
                topic: m.topic.to_string(),
                payload: m.payload.to_vec(),
                qos: m.qos,
                retain: m.retain,
                expiry: m.properties.message_expiry_interval(),
            });
            Seen::Message
        }
        Some(Event::Published { packet_id, reason_code, .. }) => {
            Seen::Published(packet_id, reason_code)
        }
        Some(Event::Subscribed { packet_id, reason_codes, .. }) => {
            Seen::Subscribed(packet_id, reason_codes.iter().next())
        }
        Some(Event::Disconnected { reason_code, .. }) => Seen::Disconnected(reason_code),
        _ => Seen::Other,
    }
}

impl MiniClient {
    /// Subscribes and waits for SUBACK; returns the granted code.
    pub fn subscribe(&mut self, filter: &str, qos: Qos) -> io::Result<ReasonCode> {
        let subs = [Subscription::new(filter, qos)];
        let now = self.now();
        let sent = self.conn.subscribe(now, &subs, Properties::EMPTY).map_err(err)?;
        let id = sent.packet_id;
        self.wait(Duration::from_secs(30), |s| match s {
            Seen::Subscribed(p, code) if Some(*p) == id => Some(code.ok_or_else(|| err("no code"))),
            _ => None,
        })?
    }

    /// Publishes and, for QoS 1 / 2, waits until the flow completes (PUBACK / PUBCOMP).
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: Qos,
        retain: bool,
    ) -> io::Result<()> {
        self.publish_message(Outgoing::new(topic, payload).qos(qos).retain(retain))
    }

    /// Publishes `msg` (with its properties) like [`MiniClient::publish`].
    pub fn publish_message(&mut self, msg: Outgoing<'_>) -> io::Result<()> {
        let now = self.now();
        let sent = self.conn.publish(now, &msg).map_err(err)?;
        let Some(id) = sent.packet_id else { return Ok(()) };
        let code = self.wait(Duration::from_secs(30), |s| match s {
            Seen::Published(p, code) if *p == id => Some(*code),
            _ => None,
        })?;
        if code.is_error() {
            return Err(err(format!("publish refused: {code:?}")));
        }
        Ok(())
    }

    /// The next message, waiting up to `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        if let Some(m) = self.received.pop_front() {
            return Ok(Some(m));
        }
        let got = self.wait(timeout, |s| matches!(s, Seen::Message).then_some(()));
        match got {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(e) if self.received.is_empty() => return Err(e),
            _ => {}
        }
        Ok(self.received.pop_front())
    }

    /// Sends DISCONNECT (normal: the will is discarded) and closes.
    pub fn disconnect(mut self) -> io::Result<()> {
        let now = self.now();
        self.conn
            .disconnect(now, ReasonCode::NormalDisconnection, Properties::EMPTY)
            .map_err(err)?;
        self.conn.transport().close();
        Ok(())
    }

    /// Drops the connection without DISCONNECT, as a device losing power would.
    pub fn drop_connection(mut self) {
        let _ = self.conn.transport().tcp().shutdown(std::net::Shutdown::Both);
    }
}
