//! A small blocking MQTT client for the demo and the broker tests: the crate's sans-IO
//! [`mqtt_ws::mqtt::client::Client`] pumped over a [`Link`] (TCP or WebSocket) on this thread.
//! Each call waits for its acknowledgement; messages that arrive meanwhile are kept for
//! [`MiniClient::recv`].

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant as StdInstant};

use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions as Options, Event, Outgoing, Store, StoreFull, Stored,
};
use mqtt_ws::mqtt::packet::{Subscription, Will};
use mqtt_ws::Status;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};
use mqtt_ws::time::Instant;

use super::link::Link;

fn err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

/// In-flight outgoing messages kept in a `Vec` (the client's [`Store`]).
#[derive(Debug, Default)]
pub struct VecStore {
    entries: Vec<(PacketId, Option<Vec<u8>>)>,
}

impl Store for VecStore {
    fn insert(&mut self, id: PacketId, packet: &[u8]) -> Result<(), StoreFull> {
        if self.entries.len() >= 64 || self.entries.iter().any(|(i, _)| *i == id) {
            return Err(StoreFull);
        }
        self.entries.push((id, Some(packet.to_vec())));
        Ok(())
    }
    fn release(&mut self, id: PacketId) -> bool {
        self.entries.iter_mut().find(|(i, _)| *i == id).map(|e| e.1 = None).is_some()
    }
    fn remove(&mut self, id: PacketId) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(i, _)| *i != id);
        self.entries.len() < before
    }
    fn get(&self, index: usize) -> Option<Stored<'_>> {
        self.entries.get(index).map(|(id, p)| match p {
            Some(packet) => Stored::Publish { id: *id, packet },
            None => Stored::Released { id: *id },
        })
    }
    fn len(&self) -> usize {
        self.entries.len()
    }
    fn clear(&mut self) {
        self.entries.clear();
    }
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

const RX: usize = 64 * 1024;

/// A connected client.
pub struct MiniClient {
    link: Link,
    client: Client<VecStore>,
    input: Vec<u8>,
    tx: Vec<u8>,
    epoch: StdInstant,
    received: VecDeque<Received>,
    /// Whether the CONNACK said Session Present.
    pub session_present: bool,
}

impl MiniClient {
    /// Connects to `url` (`mqtt://host:port` or `ws://host:port/mqtt`) as `client_id`.
    pub fn connect(url: &str, client_id: &str, options: ConnectOptions<'_>) -> io::Result<Self> {
        let (link, input) = Link::connect(url)?;
        let mut c = MiniClient {
            link,
            client: Client::new(VecStore::default(), Config::new(RX)),
            input,
            tx: vec![0u8; RX],
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
        let n = c.client.connect(now, &o, &mut c.tx).map_err(err)?;
        c.send(n)?;
        c.session_present = c.wait(Duration::from_secs(5), |s| match s {
            Seen::Connected(present) => Some(Ok(*present)),
            Seen::Refused(code) => Some(Err(err(format!("connection refused: {code:?}")))),
            _ => None,
        })??;
        Ok(c)
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    fn send(&mut self, n: usize) -> io::Result<()> {
        let bytes = self.tx[..n].to_vec();
        self.link.send(&bytes)
    }

    /// The drain rule: everything the client owes goes out.
    fn flush(&mut self) -> io::Result<()> {
        let now = self.now();
        while let Some(n) = self.client.poll_transmit(now, &mut self.tx).map_err(err)? {
            self.send(n)?;
        }
        Ok(())
    }

    /// Runs the client until `want` picks an event, or `timeout` passes.
    fn wait<T>(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&Seen) -> Option<T>,
    ) -> io::Result<T> {
        let deadline = StdInstant::now() + timeout;
        loop {
            self.flush()?;
            // Everything already buffered first, one packet per call.
            loop {
                let now = self.now();
                let input = std::mem::take(&mut self.input);
                let step = self.client.handle_input(now, &input).map_err(err);
                let (consumed, seen) = match step {
                    Ok(Status::NeedMore { .. }) => {
                        self.input = input;
                        break;
                    }
                    Ok(Status::Complete(r)) => (r.consumed, see(&mut self.received, r.event)),
                    Err(e) => {
                        self.input = input;
                        return Err(e);
                    }
                };
                self.input = input;
                self.input.drain(..consumed);
                self.flush()?;
                if let Seen::Disconnected(code) = seen {
                    return Err(err(format!("the broker disconnected: {code:?}")));
                }
                if let Some(t) = want(&seen) {
                    return Ok(t);
                }
            }
            let left = deadline.saturating_duration_since(StdInstant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.link.tcp().set_read_timeout(Some(left.min(Duration::from_millis(200))))?;
            let mut buf = [0u8; 8192];
            match self.link.read_raw(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    let mut mqtt = std::mem::take(&mut self.input);
                    let open = self.link.feed(&buf[..n], &mut mqtt)?;
                    self.input = mqtt;
                    if !open && self.input.is_empty() {
                        return Err(io::ErrorKind::ConnectionAborted.into());
                    }
                }
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
            let now = self.now();
            self.client.handle_timeout(now).map_err(err)?;
        }
    }
}

/// Keeps messages in `received`; returns what the event said.
fn see(received: &mut VecDeque<Received>, event: Option<Event<'_>>) -> Seen {
    match event {
        Some(Event::Connected(c)) => Seen::Connected(c.session_present),
        Some(Event::Refused { reason_code: reason, .. }) => Seen::Refused(reason),
        Some(Event::Message(m)) => {
            received.push_back(Received {
                topic: m.topic.to_owned(),
                payload: m.payload.to_vec(),
                qos: m.qos,
                retain: m.retain,
                expiry: m.properties.message_expiry_interval(),
            });
            Seen::Message
        }
        Some(Event::Published { packet_id, reason_code: reason, .. }) => Seen::Published(packet_id, reason),
        Some(Event::Subscribed { packet_id, reason_codes, .. }) => {
            Seen::Subscribed(packet_id, reason_codes.iter().next())
        }
        Some(Event::Disconnected { reason_code: reason, .. }) => Seen::Disconnected(reason),
        _ => Seen::Other,
    }
}

impl MiniClient {
    /// Subscribes and waits for SUBACK; returns the granted code.
    pub fn subscribe(&mut self, filter: &str, qos: Qos) -> io::Result<ReasonCode> {
        let subs = [Subscription::new(filter, qos)];
        let now = self.now();
        let sent =
            self.client.subscribe(now, &subs, Properties::EMPTY, &mut self.tx).map_err(err)?;
        self.send(sent.len)?;
        let id = sent.packet_id;
        self.wait(Duration::from_secs(5), |s| match s {
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
        let sent = self.client.publish(now, &msg, &mut self.tx).map_err(err)?;
        self.send(sent.len)?;
        let Some(id) = sent.packet_id else { return self.flush() };
        let code = self.wait(Duration::from_secs(5), |s| match s {
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
        let n = self
            .client
            .disconnect(now, ReasonCode::NormalDisconnection, Properties::EMPTY, &mut self.tx)
            .map_err(err)?;
        self.send(n)?;
        self.flush()?;
        self.link.close();
        Ok(())
    }

    /// Drops the connection without DISCONNECT, as a device losing power would.
    pub fn drop_connection(self) {
        let _ = self.link.tcp().shutdown(std::net::Shutdown::Both);
    }
}
