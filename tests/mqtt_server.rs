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

/// Both sides of one session whose link can be cut after any packet: the client keeps its
/// session in its store, the server in its own, as a broker keeps it between connections.
struct Resumable {
    now: Instant,
    client: Client<SliceStore<'static, 8, Vec<u8>>>,
    server: Server<4, 4, 64>,
    /// Packets on their way, one per entry: client to server, server to client.
    up: std::collections::VecDeque<Vec<u8>>,
    down: std::collections::VecDeque<Vec<u8>>,
    /// The server's copy of what it sent, to send again on a resumed session.
    down_message: (&'static str, &'static [u8]),
    /// QoS 2 messages delivered, and flows completed, at each end.
    delivered_to_server: usize,
    delivered_to_client: usize,
    completed_by_client: usize,
    completed_by_server: usize,
}

impl Resumable {
    fn new() -> Self {
        let store = SliceStore::with_buffer(vec![0u8; 1024]);
        Resumable {
            now: Instant::from_secs(1),
            client: Client::new(store, client::Config::new(1024)),
            server: Server::new(config(), Instant::from_secs(1)),
            up: Default::default(),
            down: Default::default(),
            down_message: ("cmd/x", b"down"),
            delivered_to_server: 0,
            delivered_to_client: 0,
            completed_by_client: 0,
            completed_by_server: 0,
        }
    }

    /// CONNECT (Clean Start only the first time) and CONNACK, Session Present when resumed,
    /// then what the caller of each side sends again.
    fn connect(&mut self, resume: bool) {
        let mut out = [0u8; 512];
        let mut o = options("dev");
        o.clean_start = !resume;
        o.session_expiry = 600;
        let n = self.client.connect(self.now, &o, &mut out).unwrap();
        let Status::Progress { event: Some(SEvent::Connect(_)), .. } =
            self.server.handle_input(self.now, &out[..n]).unwrap()
        else {
            panic!("CONNECT")
        };
        let accept = Accept { session_present: resume, ..Accept::default() };
        let n = self.server.accept(self.now, &accept, &mut out).unwrap();
        let Status::Progress { event: Some(CEvent::Connected(c)), .. } =
            self.client.handle_input(self.now, &out[..n]).unwrap()
        else {
            panic!("CONNACK")
        };
        assert_eq!(c.session_present, resume);
        // The broker's part of [MQTT-4.4.0-1]: every message still waiting for PUBACK or
        // PUBREC goes out again, from the broker's copy.
        let again: Vec<PacketId> = self.server.to_resend().collect();
        for id in again {
            let mut p = Publish::new(self.down_message.0, self.down_message.1);
            p.qos_pid = QosPid::ExactlyOnce(id);
            let n = self.server.republish(id, &p, &mut out).unwrap();
            self.down.push_back(out[..n].to_vec());
        }
        self.drain();
    }

    /// Everything both sides owe, one packet per entry.
    fn drain(&mut self) {
        let mut out = [0u8; 512];
        while let Some(n) = self.client.poll_transmit(self.now, &mut out).unwrap() {
            self.up.push_back(out[..n].to_vec());
        }
        while let Some(n) = self.server.poll_transmit(self.now, &mut out).unwrap() {
            self.down.push_back(out[..n].to_vec());
        }
    }

    /// Moves one packet (client to server first); `false` when none is on its way.
    fn step(&mut self) -> bool {
        if let Some(packet) = self.up.pop_front() {
            match self.server.handle_input(self.now, &packet).unwrap() {
                Status::Progress { event: Some(SEvent::Publish(_)), .. } => {
                    self.delivered_to_server += 1
                }
                Status::Progress { event: Some(SEvent::Acknowledged { .. }), .. } => {
                    self.completed_by_server += 1
                }
                Status::Progress { .. } => {}
                other => panic!("server: {other:?}"),
            }
        } else if let Some(packet) = self.down.pop_front() {
            match self.client.handle_input(self.now, &packet).unwrap() {
                Status::Progress { event: Some(CEvent::Message(_)), .. } => {
                    self.delivered_to_client += 1
                }
                Status::Progress { event: Some(CEvent::Published { .. }), .. } => {
                    self.completed_by_client += 1
                }
                Status::Progress { .. } => {}
                other => panic!("client: {other:?}"),
            }
        } else {
            return false;
        }
        self.drain();
        true
    }

    /// The link breaks: what was on its way is lost; both sessions keep their stores.
    fn cut(&mut self, reboot_client: bool) {
        self.up.clear();
        self.down.clear();
        self.client.connection_lost();
        self.server.connection_lost();
        let store = std::mem::replace(&mut self.server, Server::new(config(), self.now));
        self.server = Server::with_store(store.into_store(), config(), self.now);
        if reboot_client {
            // A device restarting over the same (flash) store.
            let client = std::mem::replace(
                &mut self.client,
                Client::new(SliceStore::with_buffer(Vec::new()), client::Config::new(1024)),
            );
            self.client = Client::new(client.into_store(), client::Config::new(1024));
        }
    }
}

#[test]
fn qos2_both_ways_is_exactly_once_wherever_the_link_breaks() {
    // Each way: PUBLISH, PUBREC, PUBREL, PUBCOMP; cut after 0 to 8 packets moved, the client
    // reconnecting on the same session or rebooting over its store.
    for cut in 0..=8 {
        for reboot_client in [false, true] {
            let mut s = Resumable::new();
            s.connect(false);
            let mut out = [0u8; 512];
            let msg = Outgoing::new("dev/x", b"up").qos(Qos::ExactlyOnce);
            let n = s.client.publish(s.now, &msg, &mut out).unwrap().len;
            s.up.push_back(out[..n].to_vec());
            let mut p = Publish::new(s.down_message.0, s.down_message.1);
            p.qos_pid = QosPid::ExactlyOnce(PacketId::new(1).unwrap());
            let n = s.server.publish(&p, &mut out).unwrap().len;
            s.down.push_back(out[..n].to_vec());
            for _ in 0..cut {
                s.step();
            }
            s.cut(reboot_client);
            s.connect(true);
            while s.step() {}
            let case = format!("cut after {cut} packets, client rebooted: {reboot_client}");
            assert_eq!((s.delivered_to_server, s.delivered_to_client), (1, 1), "{case}");
            assert_eq!((s.completed_by_client, s.completed_by_server), (1, 1), "{case}");
            assert_eq!((s.client.in_flight(), s.server.in_flight()), (0, 0), "{case}");
            use mqtt_ws::mqtt::AwaitingRelease;
            assert_eq!(s.client.store().awaiting_release(), 0, "{case}");
            assert_eq!(s.server.store().awaiting_release(), 0, "{case}");
        }
    }
}
