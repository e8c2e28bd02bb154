//! A small blocking MQTT client for the demo and the broker tests, written on the packet codec
//! (`mqtt_ws::mqtt::packet`) over a [`Link`] (TCP or WebSocket). It waits for each
//! acknowledgement in turn; messages that arrive meanwhile are kept for [`MiniClient::recv`].

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use mqtt_ws::mqtt::packet::{
    self, Ack, ConnAck, Connect, DecodeOptions, Disconnect, Packet, Publish, QosPid, Subscribe,
    Subscription, Will,
};
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};

use super::link::Link;

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
}

/// CONNECT options.
#[derive(Clone, Debug)]
pub struct ConnectOptions<'a> {
    pub version: Version,
    pub keep_alive: u16,
    pub clean_start: bool,
    /// Topic, payload, QoS, retain.
    pub will: Option<(&'a str, &'a [u8], Qos, bool)>,
}

impl Default for ConnectOptions<'_> {
    fn default() -> Self {
        ConnectOptions { version: Version::V5, keep_alive: 30, clean_start: true, will: None }
    }
}

/// A connected client.
pub struct MiniClient {
    link: Link,
    version: Version,
    input: Vec<u8>,
    next_id: u16,
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
            version: options.version,
            input,
            next_id: 1,
            received: VecDeque::new(),
            session_present: false,
        };
        let mut connect = Connect::new(options.version, client_id);
        connect.keep_alive = options.keep_alive;
        connect.clean_start = options.clean_start;
        connect.will = options.will.map(|(topic, payload, qos, retain)| Will {
            qos,
            retain,
            properties: Properties::default(),
            topic,
            payload,
        });
        c.send(Packet::Connect(connect))?;
        let ack = c.wait(Duration::from_secs(5), |p| match p {
            Packet::ConnAck(ConnAck { reason_code, session_present, .. }) => {
                Some((*reason_code, *session_present))
            }
            _ => None,
        })?;
        if ack.0 != ReasonCode::Success {
            return Err(err(format!("connection refused: {:?}", ack.0)));
        }
        c.session_present = ack.1;
        Ok(c)
    }

    fn send(&mut self, p: Packet<'_>) -> io::Result<()> {
        let mut buf = vec![0u8; p.encoded_len(self.version).map_err(err)?];
        let n = p.encode(self.version, &mut buf).map_err(err)?;
        self.link.send(&buf[..n])
    }

    fn id(&mut self) -> PacketId {
        let id = PacketId::new(self.next_id).expect("never 0");
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Reads and handles packets until `want` picks one, or `timeout` passes.
    fn wait<T>(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&Packet<'_>) -> Option<T>,
    ) -> io::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            // Everything already buffered first.
            loop {
                let options = DecodeOptions::new(self.version);
                let input = std::mem::take(&mut self.input);
                let (found, used, reply) = match packet::decode(&input, &options).map_err(err)? {
                    packet::Status::Partial { .. } => {
                        self.input = input;
                        break;
                    }
                    packet::Status::Complete((p, used)) => {
                        let found = want(&p);
                        let reply = self.handle(&p);
                        (found, used, reply)
                    }
                };
                self.input = input;
                self.input.drain(..used);
                if let Some(r) = reply {
                    self.send_owned(r)?;
                }
                if let Some(t) = found {
                    return Ok(t);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
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
        }
    }

    /// Keeps messages and acknowledgements; returns the acknowledgement a packet calls for.
    fn handle(&mut self, p: &Packet<'_>) -> Option<Owned> {
        match p {
            Packet::Publish(p) => {
                let reply = match p.qos_pid {
                    QosPid::AtMostOnce => None,
                    QosPid::AtLeastOnce(id) => Some(Owned::Ack(id)),
                    QosPid::ExactlyOnce(id) => Some(Owned::Rec(id)),
                };
                self.received.push_back(Received {
                    topic: p.topic.to_owned(),
                    payload: p.payload.to_vec(),
                    qos: p.qos_pid.qos(),
                    retain: p.retain,
                });
                reply
            }
            Packet::PubRel(a) => Some(Owned::Comp(a.packet_id)),
            Packet::PubRec(a) if !a.reason_code.is_error() => Some(Owned::Rel(a.packet_id)),
            _ => None,
        }
    }

    fn send_owned(&mut self, o: Owned) -> io::Result<()> {
        match o {
            Owned::Ack(id) => self.send(Packet::PubAck(Ack::new(id))),
            Owned::Rec(id) => self.send(Packet::PubRec(Ack::new(id))),
            Owned::Rel(id) => self.send(Packet::PubRel(Ack::new(id))),
            Owned::Comp(id) => self.send(Packet::PubComp(Ack::new(id))),
        }
    }

    /// Subscribes and waits for SUBACK; returns the granted code.
    pub fn subscribe(&mut self, filter: &str, qos: Qos) -> io::Result<ReasonCode> {
        let id = self.id();
        let subs = [Subscription::new(filter, qos)];
        self.send(Packet::Subscribe(Subscribe::new(id, &subs)))?;
        self.wait(Duration::from_secs(5), |p| match p {
            Packet::SubAck(s) if s.packet_id == id => s.reason_codes.iter().next(),
            _ => None,
        })
    }

    /// Publishes and, for QoS 1 / 2, waits until the flow completes (PUBACK / PUBCOMP).
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: Qos,
        retain: bool,
    ) -> io::Result<()> {
        let mut p = Publish::new(topic, payload);
        p.retain = retain;
        let id = self.id();
        p.qos_pid = match qos {
            Qos::AtMostOnce => QosPid::AtMostOnce,
            Qos::AtLeastOnce => QosPid::AtLeastOnce(id),
            Qos::ExactlyOnce => QosPid::ExactlyOnce(id),
        };
        self.send(Packet::Publish(p))?;
        let done = match qos {
            Qos::AtMostOnce => return Ok(()),
            Qos::AtLeastOnce => packet::PacketType::PubAck,
            Qos::ExactlyOnce => packet::PacketType::PubComp,
        };
        let code = self.wait(Duration::from_secs(5), |p| match p {
            Packet::PubAck(a) | Packet::PubComp(a)
                if p.packet_type() == done && a.packet_id == id =>
            {
                Some(a.reason_code)
            }
            Packet::PubRec(a) if a.packet_id == id && a.reason_code.is_error() => {
                Some(a.reason_code)
            }
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
        let before = self.received.len();
        match self.wait(timeout, |p| matches!(p, Packet::Publish(_)).then_some(())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(None),
            Err(e) => return Err(e),
        }
        debug_assert!(self.received.len() > before);
        Ok(self.received.pop_front())
    }

    /// Sends DISCONNECT (normal: the will is discarded) and closes.
    pub fn disconnect(mut self) -> io::Result<()> {
        self.send(Packet::Disconnect(Disconnect::new(ReasonCode::Success)))?;
        self.link.close();
        Ok(())
    }

    /// Drops the connection without DISCONNECT, as a device losing power would.
    pub fn drop_connection(self) {
        let _ = self.link.tcp().shutdown(std::net::Shutdown::Both);
    }
}

/// An acknowledgement owed to the broker.
enum Owned {
    Ack(PacketId),
    Rec(PacketId),
    Rel(PacketId),
    Comp(PacketId),
}
