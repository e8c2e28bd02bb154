//! The server session against the crate's client session, wired in memory on a virtual clock:
//! both sans-IO state machines, bytes moved between them by the test. Keep-alive, QoS 1 and 2
//! both ways, topic aliases, flow control, session takeover and the will are deterministic.
#![cfg(feature = "mqtt")]

use std::num::NonZeroU16;

use mqtt_ws::Status;
use mqtt_ws::mqtt::client::{
    self, Client, ConnectOptions, Event as CEvent, Outgoing, SliceStore, UsageError as CUsage,
};
use mqtt_ws::mqtt::packet::{Publish, QosPid, Subscription, Will};
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::server::{Accept, Config, Event as SEvent, Initiator, Server, WillAction};
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode, Version};
use mqtt_ws::time::{Duration, Instant};

/// What either side reported, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    ServerConnect(String, bool),
    ServerPublish(String, Vec<u8>, Qos),
    ServerSubscribe(PacketId, Vec<String>),
    ServerAcked(PacketId),
    ServerDisconnect(ReasonCode),
    ClientConnected(bool),
    ClientMessage(String, Vec<u8>, Qos),
    ClientPublished(PacketId),
    ClientSubscribed,
    ClientDisconnected(ReasonCode),
    ClientPong,
}

struct Pair<'s> {
    now: Instant,
    client: Client<SliceStore<'s, 8>>,
    server: Server<4, 4, 64>,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    seen: Vec<Seen>,
    /// SUBACK codes the server answers with.
    grant: ReasonCode,
}

impl<'s> Pair<'s> {
    fn new(store: &'s mut [u8], config: Config) -> Self {
        Pair {
            now: Instant::from_secs(100),
            client: Client::new(SliceStore::new(store), client::Config::new(1024)),
            server: Server::new(config, Instant::from_secs(100)),
            to_server: Vec::new(),
            to_client: Vec::new(),
            seen: Vec::new(),
            grant: ReasonCode::GrantedQos2,
        }
    }

    fn connect(&mut self, options: &ConnectOptions<'_>) {
        let mut out = [0u8; 512];
        let n = self.client.connect(self.now, options, &mut out).unwrap();
        self.to_server.extend_from_slice(&out[..n]);
        self.run();
    }

    /// Moves bytes both ways, answering the server's events, until both sides are quiet.
    fn run(&mut self) {
        let mut out = [0u8; 1024];
        for _ in 0..100 {
            let mut progress = false;
            while let Ok(Some(n)) = self.client.poll_transmit(self.now, &mut out) {
                self.to_server.extend_from_slice(&out[..n]);
            }
            // Server side.
            loop {
                let input = std::mem::take(&mut self.to_server);
                let (consumed, answer) = match self.server.handle_input(self.now, &input) {
                    Ok(Status::Progress { consumed, event }) => {
                        let answer = match event {
                            Some(SEvent::Connect(c)) => {
                                self.seen.push(Seen::ServerConnect(
                                    c.client_id.to_owned(),
                                    c.will.is_some(),
                                ));
                                Some(None)
                            }
                            Some(SEvent::Publish(p)) => {
                                self.seen.push(Seen::ServerPublish(
                                    p.topic.to_string(),
                                    p.payload.to_vec(),
                                    p.qos,
                                ));
                                None
                            }
                            Some(SEvent::Subscribe(s)) => {
                                let filters = s.filters.iter().map(|f| f.filter.to_owned());
                                self.seen
                                    .push(Seen::ServerSubscribe(s.packet_id, filters.collect()));
                                Some(Some(s.packet_id))
                            }
                            Some(SEvent::Acknowledged { packet_id, .. }) => {
                                self.seen.push(Seen::ServerAcked(packet_id));
                                None
                            }
                            Some(SEvent::Disconnect(d)) => {
                                self.seen.push(Seen::ServerDisconnect(d.reason_code));
                                None
                            }
                            _ => None,
                        };
                        (consumed, answer)
                    }
                    Ok(Status::Blocked) => (0, None),
                    Ok(_) => {
                        self.to_server = input;
                        break;
                    }
                    Err(e) => panic!("server: {e}"),
                };
                self.to_server = input[consumed..].to_vec();
                progress = true;
                match answer {
                    Some(None) => {
                        let accept = Accept { assigned_client_id: None, ..Accept::default() };
                        let n = self.server.accept(self.now, &accept, &mut out).unwrap();
                        self.to_client.extend_from_slice(&out[..n]);
                    }
                    Some(Some(id)) => {
                        let n = self.server.sub_ack(id, &[self.grant], &mut out).unwrap();
                        self.to_client.extend_from_slice(&out[..n]);
                    }
                    None => {}
                }
                while let Some(n) = self.server.poll_transmit(self.now, &mut out).unwrap() {
                    self.to_client.extend_from_slice(&out[..n]);
                }
            }
            while let Some(n) = self.server.poll_transmit(self.now, &mut out).unwrap() {
                self.to_client.extend_from_slice(&out[..n]);
            }
            // Client side.
            loop {
                let input = std::mem::take(&mut self.to_client);
                if input.is_empty() {
                    break;
                }
                let (event, consumed) = match self.client.handle_input(self.now, &input) {
                    Ok(Status::Progress { consumed, event }) => (event, consumed),
                    Ok(_) => {
                        self.to_client = input;
                        break;
                    }
                    Err(e) => panic!("client: {e:?}"),
                };
                let seen = match event {
                    Some(CEvent::Connected(c)) => Some(Seen::ClientConnected(c.session_present)),
                    Some(CEvent::Message(m)) => {
                        Some(Seen::ClientMessage(m.topic.to_string(), m.payload.to_vec(), m.qos))
                    }
                    Some(CEvent::Published { packet_id, .. }) => {
                        Some(Seen::ClientPublished(packet_id))
                    }
                    Some(CEvent::Subscribed { .. }) => Some(Seen::ClientSubscribed),
                    Some(CEvent::Disconnected { reason_code: reason, .. }) => {
                        Some(Seen::ClientDisconnected(reason))
                    }
                    Some(CEvent::Pong) => Some(Seen::ClientPong),
                    _ => None,
                };
                self.seen.extend(seen);
                self.to_client = input[consumed..].to_vec();
                progress = true;
                while let Ok(Some(n)) = self.client.poll_transmit(self.now, &mut out) {
                    self.to_server.extend_from_slice(&out[..n]);
                }
            }
            if !progress && self.to_server.is_empty() {
                return;
            }
        }
        panic!("no quiescence");
    }

    /// Advances the virtual clock to `t`, firing both sides' timers on the way.
    fn advance_to(&mut self, t: Instant) {
        loop {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|d| *d <= t)
                .min();
            let Some(next) = next else { break };
            self.now = next.max(self.now);
            let _ = self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
            self.run();
            if self.server.closed().is_some() {
                break;
            }
        }
        self.now = t.max(self.now);
    }

    fn client_publish(&mut self, topic: &str, payload: &[u8], qos: Qos) -> Result<(), CUsage> {
        let mut out = [0u8; 512];
        let msg = Outgoing::new(topic, payload).qos(qos);
        match self.client.publish(self.now, &msg, &mut out) {
            Ok(sent) => {
                self.to_server.extend_from_slice(&out[..sent.len]);
                Ok(())
            }
            Err(client::Error::Usage(u)) => Err(u),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn take(&mut self) -> Vec<Seen> {
        std::mem::take(&mut self.seen)
    }
}

fn config() -> Config {
    let mut c = Config::new();
    c.topic_alias_maximum = 4;
    c
}

fn options(id: &str) -> ConnectOptions<'_> {
    let mut o = ConnectOptions::new(id);
    o.keep_alive = 10;
    o
}

#[test]
fn connect_subscribe_and_qos_both_ways() {
    let mut store = [0u8; 2048];
    let mut p = Pair::new(&mut store, config());
    p.connect(&options("dev"));
    assert_eq!(p.take(), [Seen::ServerConnect("dev".into(), false), Seen::ClientConnected(false)]);

    let mut out = [0u8; 256];
    let subs = [Subscription::new("cmd/#", Qos::ExactlyOnce)];
    let sent = p.client.subscribe(p.now, &subs, Properties::EMPTY, &mut out).unwrap();
    p.to_server.extend_from_slice(&out[..sent.len]);
    p.run();
    assert!(
        matches!(&p.take()[..], [Seen::ServerSubscribe(_, f), Seen::ClientSubscribed] if f == &["cmd/#"])
    );

    // Client to server, every QoS; QoS 2 reported once.
    for qos in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce] {
        p.client_publish("dev/data", &[qos.as_u8()], qos).unwrap();
        p.run();
    }
    let seen = p.take();
    let published: Vec<_> =
        seen.iter().filter(|s| matches!(s, Seen::ServerPublish(..))).cloned().collect();
    assert_eq!(
        published,
        [
            Seen::ServerPublish("dev/data".into(), vec![0], Qos::AtMostOnce),
            Seen::ServerPublish("dev/data".into(), vec![1], Qos::AtLeastOnce),
            Seen::ServerPublish("dev/data".into(), vec![2], Qos::ExactlyOnce),
        ]
    );
    assert_eq!(seen.iter().filter(|s| matches!(s, Seen::ClientPublished(_))).count(), 2);

    // Server to client, QoS 1 and 2: delivered, then acknowledged back.
    let one = PacketId::new(1).unwrap();
    for (qos, pid) in
        [(Qos::AtLeastOnce, QosPid::AtLeastOnce(one)), (Qos::ExactlyOnce, QosPid::ExactlyOnce(one))]
    {
        let mut publish = Publish::new("cmd/light", b"ON");
        publish.qos_pid = pid;
        let sent = p.server.publish(&publish, &mut out).unwrap();
        p.to_client.extend_from_slice(&out[..sent.len]);
        p.run();
        assert_eq!(
            p.take(),
            [
                Seen::ClientMessage("cmd/light".into(), b"ON".to_vec(), qos),
                Seen::ServerAcked(sent.packet_id.unwrap())
            ]
        );
    }
    assert_eq!(p.server.in_flight(), 0);
}

#[test]
fn keep_alive_pings_keep_the_session_and_silence_ends_it_at_one_and_a_half() {
    let mut store = [0u8; 2048];
    let mut p = Pair::new(&mut store, config());
    let mut o = options("dev");
    o.will = Some(Will {
        qos: Qos::AtLeastOnce,
        retain: false,
        properties: Properties::EMPTY,
        topic: "dev/status",
        payload: b"offline",
    });
    p.connect(&o);
    p.take();
    // The client pings every 10 s: a minute later the session is alive.
    p.advance_to(Instant::from_secs(160));
    assert!(p.server.is_connected());
    assert!(p.take().iter().filter(|s| **s == Seen::ClientPong).count() >= 5);
    // The client stops talking (its timers no longer run): the server gives up 15 s after the
    // last packet.
    let last = p.now;
    let deadline = p.server.poll_timeout().unwrap();
    assert!(deadline <= last + Duration::from_secs(15));
    p.now = deadline;
    p.server.handle_timeout(p.now);
    p.run();
    assert_eq!(p.take(), [Seen::ClientDisconnected(ReasonCode::KeepAliveTimeout)]);
    let closed = p.server.closed().unwrap();
    assert_eq!((closed.initiator, closed.will), (Initiator::Server, WillAction::Publish));
}

#[test]
fn client_topic_aliases_are_resolved_by_the_server() {
    let mut store = [0u8; 2048];
    let mut p = Pair::new(&mut store, config());
    p.connect(&options("dev"));
    p.take();
    for i in 0..3u8 {
        p.client_publish("sensors/garden/temperature", &[i], Qos::AtMostOnce).unwrap();
        p.run();
    }
    let topics: Vec<_> = p
        .take()
        .into_iter()
        .filter_map(|s| match s {
            Seen::ServerPublish(t, payload, _) => Some((t, payload)),
            _ => None,
        })
        .collect();
    let t = "sensors/garden/temperature".to_owned();
    assert_eq!(topics, [(t.clone(), vec![0]), (t.clone(), vec![1]), (t, vec![2])]);
}

#[test]
fn client_respects_the_servers_receive_maximum() {
    let mut store = [0u8; 2048];
    let mut p = Pair::new(&mut store, config());
    p.connect(&options("dev"));
    // Four QoS 2 publishes fill the server's Receive Maximum (4) until their flows complete.
    for i in 0..4u8 {
        p.client_publish("t", &[i], Qos::ExactlyOnce).unwrap();
    }
    assert_eq!(p.client_publish("t", b"x", Qos::ExactlyOnce), Err(CUsage::ReceiveMaximumReached));
    p.run();
    assert!(p.server.is_connected());
    p.client_publish("t", b"x", Qos::ExactlyOnce).unwrap();
    p.run();
    assert_eq!(p.take().iter().filter(|s| matches!(s, Seen::ServerPublish(..))).count(), 5);
}

#[test]
fn server_flow_control_follows_the_clients_capacity() {
    let mut store = [0u8; 2048];
    let mut p = Pair::new(&mut store, config());
    p.connect(&options("dev"));
    let mut out = [0u8; 64];
    let mut publish = Publish::new("x", b"1");
    publish.qos_pid = QosPid::AtLeastOnce(PacketId::new(1).unwrap());
    // The session holds at most 4 in flight; the 5th waits for an acknowledgement.
    let mut wire = Vec::new();
    for _ in 0..4 {
        let sent = p.server.publish(&publish, &mut out).unwrap();
        wire.extend_from_slice(&out[..sent.len]);
    }
    assert_eq!(p.server.send_quota(), 0);
    assert!(p.server.publish(&publish, &mut out).is_err());
    p.to_client.extend_from_slice(&wire);
    p.run();
    assert_eq!(p.server.send_quota(), 4);
}

#[test]
fn session_takeover_tells_the_client() {
    let mut store = [0u8; 2048];
    let mut p = Pair::new(&mut store, config());
    p.connect(&options("dev"));
    p.take();
    p.server.disconnect(ReasonCode::SessionTakenOver).unwrap();
    p.run();
    assert_eq!(p.take(), [Seen::ClientDisconnected(ReasonCode::SessionTakenOver)]);
}

#[test]
fn normal_disconnect_discards_the_will() {
    let mut store = [0u8; 2048];
    let mut p = Pair::new(&mut store, config());
    let mut o = options("dev");
    o.will = Some(Will {
        qos: Qos::AtMostOnce,
        retain: false,
        properties: Properties::EMPTY,
        topic: "w",
        payload: b"x",
    });
    p.connect(&o);
    let mut out = [0u8; 64];
    let n = p
        .client
        .disconnect(p.now, ReasonCode::NormalDisconnection, Properties::EMPTY, &mut out)
        .unwrap();
    p.to_server.extend_from_slice(&out[..n]);
    p.run();
    assert!(p.take().contains(&Seen::ServerDisconnect(ReasonCode::NormalDisconnection)));
    let closed = p.server.closed().unwrap();
    assert_eq!((closed.initiator, closed.will), (Initiator::Client, WillAction::Discard));
}

#[test]
fn mqtt_3_1_1_client_session() {
    let mut store = [0u8; 2048];
    let mut config = config();
    config.max_keep_alive = NonZeroU16::new(5); // not applicable to 3.1.1: the client's stands
    let mut p = Pair::new(&mut store, config);
    let mut o = options("old");
    o.version = Version::V3_1_1;
    p.connect(&o);
    assert_eq!(p.take(), [Seen::ServerConnect("old".into(), false), Seen::ClientConnected(false)]);
    assert_eq!(p.server.keep_alive(), 10);
    p.client_publish("t", b"q2", Qos::ExactlyOnce).unwrap();
    p.run();
    assert!(p.take().contains(&Seen::ServerPublish("t".into(), b"q2".to_vec(), Qos::ExactlyOnce)));
}
