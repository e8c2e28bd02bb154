//! The std clients (`net::MqttClient`, blocking and tokio) reconnect by themselves: a proxy the
//! test owns sits between the client and a real Mosquitto, swallows what the client sends, then
//! cuts the connection and refuses new ones for a while. The client reports the loss, reconnects
//! when the proxy lets it, resumes its persistent session (Session Present), re-sends the QoS 1
//! message it published while the connection was already dead, and receives, without
//! subscribing again, the message another client published while it was away. A client the
//! broker named (an empty client id) reconnects under that name and finds its session. Starts
//! its own broker on free ports; run with `cargo test --test net_reconnect -- --include-ignored`.
#![cfg(all(feature = "std", feature = "mqtt", feature = "ws", feature = "tokio"))]

#[path = "../examples/broker/mod.rs"]
mod broker;
mod common_ws;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqtt_ws::mqtt::PacketId;
use mqtt_ws::mqtt::client::{self, UsageError};
use mqtt_ws::mqtt::packet::Will;
use mqtt_ws::mqtt::properties::{PropertiesBuilder, Property};
use mqtt_ws::net::{Error, Event, Reconnect};
use mqtt_ws::prelude::*;

/// The example broker in this process (its TCP listener), for the runs that need nothing
/// outside the process.
struct ExampleBroker {
    port: u16,
}

fn example_broker() -> ExampleBroker {
    let b = broker::Broker::new(broker::Options::default());
    let running = b.start(Some("127.0.0.1:0"), None).unwrap();
    ExampleBroker { port: running.tcp.unwrap().port() }
}

/// Upper bound of every wait for an event.
const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bytes flow both ways.
    Forward,
    /// What the client sends is dropped; the broker's bytes still flow.
    Swallow,
    /// Connections are closed as they are accepted.
    Refuse,
}

#[derive(Default)]
struct State {
    mode: Option<Mode>,
    /// Both ends of every live connection, to cut them.
    open: Vec<(TcpStream, TcpStream)>,
}

/// A TCP proxy on 127.0.0.1 in front of the broker, switched between [`Mode`]s.
struct Proxy {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State { mode: Some(Mode::Forward), open: Vec::new() }));
        let st = state.clone();
        std::thread::spawn(move || {
            for down in listener.incoming() {
                let Ok(down) = down else { continue };
                if st.lock().unwrap().mode == Some(Mode::Refuse) {
                    let _ = down.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let pair = (down.try_clone().unwrap(), up.try_clone().unwrap());
                st.lock().unwrap().open.push(pair);
                let (down2, up2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
                let swallow = st.clone();
                std::thread::spawn(move || copy(down, up, Some(swallow)));
                std::thread::spawn(move || copy(up2, down2, None));
            }
        });
        Proxy { port, state }
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: Mode) {
        let mut st = self.state.lock().unwrap();
        st.mode = Some(mode);
        if mode == Mode::Refuse {
            for (a, b) in st.open.drain(..) {
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to` until either ends; with `swallow`, drops the bytes while the proxy is in
/// [`Mode::Swallow`].
fn copy(mut from: TcpStream, mut to: TcpStream, swallow: Option<Arc<Mutex<State>>>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let dropped =
            swallow.as_ref().is_some_and(|st| st.lock().unwrap().mode == Some(Mode::Swallow));
        if !dropped && to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Reconnects fast: 50 ms doubling up to 400 ms.
fn settings() -> Options {
    let reconnect = Reconnect {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
    };
    Options { reconnect: Some(reconnect), ..Options::default() }
}

fn persistent(id: &str) -> ConnectOptions<'_> {
    let mut options = ConnectOptions::new(id);
    options.session_expiry = 300;
    options
}

/// What the client under test saw after the proxy let it back, until everything arrived.
#[derive(Debug, Default)]
struct Back {
    session_present: Option<bool>,
    acked: bool,
    queued: bool,
    own: usize,
}

impl Back {
    /// Takes one event after the reconnect; `true` once everything is there.
    fn see(&mut self, event: Event, published: PacketId, topic: &str) -> bool {
        match event {
            Event::Reconnected { session_present, .. } => {
                self.session_present = Some(session_present)
            }
            Event::Published { packet_id, reason_code } if packet_id == published => {
                assert_eq!(reason_code, ReasonCode::Success);
                self.acked = true;
            }
            Event::Message(m) if m.topic == format!("{topic}/other") => {
                assert_eq!(m.payload, b"queued while away");
                self.queued = true;
            }
            Event::Message(m) if m.topic == format!("{topic}/own") => {
                assert_eq!(m.payload, b"sent into the void");
                self.own += 1;
            }
            Event::ConnectionLost { .. } => {
                assert!(self.session_present.is_none(), "lost again after the reconnect");
            }
            other => panic!("unexpected {other:?}"),
        }
        self.session_present.is_some() && self.acked && self.queued && self.own >= 1
    }
}

fn not_connected(e: &Error) -> bool {
    matches!(e, Error::Mqtt(client::Error::Usage(UsageError::NotConnected)))
}

#[test]
#[ignore = "needs mosquitto"]
fn blocking_client_reconnects_and_resumes_its_session() {
    let broker = common_ws::Mosquitto::start("net-reconnect");
    blocking_client_reconnects_and_resumes_its_session_via(broker.tcp_port);
}

#[test]
fn blocking_client_reconnects_and_resumes_its_session_with_the_example_broker() {
    let broker = example_broker();
    blocking_client_reconnects_and_resumes_its_session_via(broker.port);
}

/// [`blocking_client_reconnects_and_resumes_its_session`] through the broker at `tcp_port`.
fn blocking_client_reconnects_and_resumes_its_session_via(tcp_port: u16) {
    let proxy = Proxy::start(tcp_port);
    let topic = "net/reconnect/blocking";
    let next = |c: &mut MqttClient| {
        c.next_timeout(LIMIT).unwrap().expect("reconnecting clients do not end")
    };

    let mut mqtt =
        MqttClient::connect_with(&proxy.url(), &persistent("net-re-b"), &settings()).unwrap();
    let sub = mqtt.subscribe(&format!("{topic}/#"), Qos::AtLeastOnce).unwrap();
    assert!(matches!(next(&mut mqtt), Event::Subscribed { packet_id, .. } if packet_id == sub));
    let direct = format!("mqtt://127.0.0.1:{}", tcp_port);
    let other_options = Options { reconnect: None, ..Options::default() };
    let mut other =
        MqttClient::connect_with(&direct, &ConnectOptions::new("net-re-b-other"), &other_options)
            .unwrap();

    // The connection dies unnoticed: the PUBLISH goes nowhere, yet the session accepted it.
    proxy.set(Mode::Swallow);
    let msg = Outgoing::new("net/reconnect/blocking/own", b"sent into the void");
    let published = mqtt.publish(&msg.qos(Qos::AtLeastOnce)).unwrap().expect("QoS 1 has an id");
    proxy.set(Mode::Refuse);
    match next(&mut mqtt) {
        Event::ConnectionLost { error } => assert!(!matches!(*error, Error::Timeout), "{error}"),
        other => panic!("expected the loss, got {other:?}"),
    }
    assert!(!mqtt.is_connected());
    let offline = Outgoing::new("net/reconnect/blocking/own", b"x").qos(Qos::AtLeastOnce);
    assert!(not_connected(&mqtt.publish(&offline).unwrap_err()));
    assert!(not_connected(&mqtt.subscribe("x", Qos::AtMostOnce).unwrap_err()));

    // Another client publishes while it is away: the broker queues it in the session.
    let queued = Outgoing::new("net/reconnect/blocking/other", b"queued while away");
    let id = other.publish(&queued.qos(Qos::AtLeastOnce)).unwrap().unwrap();
    match other.next_timeout(LIMIT).unwrap() {
        Some(Event::Published { packet_id, .. }) => assert_eq!(packet_id, id),
        other => panic!("expected the PUBACK, got {other:?}"),
    }

    proxy.set(Mode::Forward);
    let start = Instant::now();
    let mut back = Back::default();
    while !back.see(next(&mut mqtt), published, topic) {
        assert!(start.elapsed() < LIMIT, "{back:?}");
    }
    assert_eq!(back.session_present, Some(true));
    assert!(mqtt.is_connected());
    mqtt.disconnect().unwrap();
    other.disconnect().unwrap();
}

#[test]
#[ignore = "needs mosquitto"]
fn tokio_client_reconnects_and_resumes_its_session() {
    let broker = common_ws::Mosquitto::start("net-reconnect-tokio");
    tokio_client_reconnects_and_resumes_its_session_via(broker.tcp_port);
}

#[test]
fn tokio_client_reconnects_and_resumes_its_session_with_the_example_broker() {
    let broker = example_broker();
    tokio_client_reconnects_and_resumes_its_session_via(broker.port);
}

/// [`tokio_client_reconnects_and_resumes_its_session`] through the broker at `tcp_port`.
fn tokio_client_reconnects_and_resumes_its_session_via(tcp_port: u16) {
    use mqtt_ws::net::tokio::MqttClient;
    let proxy = Proxy::start(tcp_port);
    let topic = "net/reconnect/tokio";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        async fn next(c: &mut MqttClient) -> Event {
            let event = tokio::time::timeout(LIMIT, c.next()).await.expect("an event in time");
            event.unwrap().expect("reconnecting clients do not end")
        }
        let url = proxy.url();
        let mut mqtt =
            MqttClient::connect_with(&url, &persistent("net-re-t"), &settings()).await.unwrap();
        let sub = mqtt.subscribe(&format!("{topic}/#"), Qos::AtLeastOnce).await.unwrap();
        assert!(
            matches!(next(&mut mqtt).await, Event::Subscribed { packet_id, .. } if packet_id == sub)
        );
        let direct = format!("mqtt://127.0.0.1:{}", tcp_port);
        let other_options = Options { reconnect: None, ..Options::default() };
        let mut other = MqttClient::connect_with(
            &direct,
            &ConnectOptions::new("net-re-t-other"),
            &other_options,
        )
        .await
        .unwrap();

        proxy.set(Mode::Swallow);
        let msg = Outgoing::new("net/reconnect/tokio/own", b"sent into the void");
        let published = mqtt.publish(&msg.qos(Qos::AtLeastOnce)).await.unwrap().unwrap();
        proxy.set(Mode::Refuse);
        assert!(matches!(next(&mut mqtt).await, Event::ConnectionLost { .. }));
        assert!(!mqtt.is_connected());
        let offline = Outgoing::new("net/reconnect/tokio/own", b"x").qos(Qos::AtLeastOnce);
        assert!(not_connected(&mqtt.publish(&offline).await.unwrap_err()));

        let queued = Outgoing::new("net/reconnect/tokio/other", b"queued while away");
        let id = other.publish(&queued.qos(Qos::AtLeastOnce)).await.unwrap().unwrap();
        match next(&mut other).await {
            Event::Published { packet_id, .. } => assert_eq!(packet_id, id),
            other => panic!("expected the PUBACK, got {other:?}"),
        }

        proxy.set(Mode::Forward);
        let start = Instant::now();
        let mut back = Back::default();
        while !back.see(next(&mut mqtt).await, published, topic) {
            assert!(start.elapsed() < LIMIT, "{back:?}");
        }
        assert_eq!(back.session_present, Some(true));

        // Cut again, and stop while offline: nothing to send, no reconnect after.
        proxy.set(Mode::Refuse);
        assert!(matches!(next(&mut mqtt).await, Event::ConnectionLost { .. }));
        mqtt.disconnect().await.unwrap();
        other.disconnect().await.unwrap();
    });
}

#[test]
#[ignore = "needs mosquitto"]
fn without_reconnect_a_lost_connection_ends_the_client() {
    let broker = common_ws::Mosquitto::start("net-no-reconnect");
    without_reconnect_a_lost_connection_ends_the_client_via(broker.tcp_port);
}

#[test]
fn without_reconnect_a_lost_connection_ends_the_client_with_the_example_broker() {
    let broker = example_broker();
    without_reconnect_a_lost_connection_ends_the_client_via(broker.port);
}

/// [`without_reconnect_a_lost_connection_ends_the_client`] through the broker at `tcp_port`.
fn without_reconnect_a_lost_connection_ends_the_client_via(tcp_port: u16) {
    let proxy = Proxy::start(tcp_port);
    let settings = Options { reconnect: None, ..Options::default() };
    let mut mqtt =
        MqttClient::connect_with(&proxy.url(), &persistent("net-re-off"), &settings).unwrap();
    proxy.set(Mode::Refuse);
    let e = mqtt.next_timeout(LIMIT).unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
}

#[test]
#[ignore = "needs mosquitto"]
fn a_client_the_broker_named_resumes_its_session_under_that_name() {
    let broker = common_ws::Mosquitto::start("net-reconnect-assigned");
    a_client_the_broker_named_resumes_its_session_under_that_name_via(broker.tcp_port);
}

#[test]
fn a_client_the_broker_named_resumes_its_session_under_that_name_with_the_example_broker() {
    let broker = example_broker();
    a_client_the_broker_named_resumes_its_session_under_that_name_via(broker.port);
}

/// [`a_client_the_broker_named_resumes_its_session_under_that_name`] through the broker at `tcp_port`.
fn a_client_the_broker_named_resumes_its_session_under_that_name_via(tcp_port: u16) {
    let proxy = Proxy::start(tcp_port);
    let next = |c: &mut MqttClient| {
        c.next_timeout(LIMIT).unwrap().expect("reconnecting clients do not end")
    };
    // No client id: the broker assigns one (MQTT 5.0 §3.2.2.3.7).
    let mut mqtt = MqttClient::connect_with(&proxy.url(), &persistent(""), &settings()).unwrap();
    let assigned = mqtt.client_id().to_string();
    assert!(assigned.starts_with("auto-"), "{assigned:?}");
    proxy.set(Mode::Refuse);
    assert!(matches!(next(&mut mqtt), Event::ConnectionLost { .. }));
    proxy.set(Mode::Forward);
    // Connecting again under the assigned id, the client finds its session.
    loop {
        match next(&mut mqtt) {
            Event::Reconnected { session_present, .. } => {
                assert!(session_present, "a new session: the id was not reused");
                break;
            }
            Event::ConnectionLost { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(mqtt.client_id(), assigned);
    mqtt.disconnect().unwrap();
}

#[test]
fn a_reconnecting_clients_will_goes_out_at_every_loss_with_the_example_broker() {
    let broker = example_broker();
    let proxy = Proxy::start(broker.port);
    let direct = format!("mqtt://127.0.0.1:{}", broker.port);
    let once = Options { reconnect: None, ..Options::default() };
    let mut watcher =
        MqttClient::connect_with(&direct, &ConnectOptions::new("net-will-w"), &once).unwrap();
    let sub = watcher.subscribe("net/will/#", Qos::AtLeastOnce).unwrap();
    let next = |c: &mut MqttClient| c.next_timeout(LIMIT).unwrap().expect("an event");
    assert!(matches!(next(&mut watcher), Event::Subscribed { packet_id, .. } if packet_id == sub));

    let mut props = [0u8; 32];
    let mut builder = PropertiesBuilder::new(&mut props);
    builder.push(Property::ContentType("text/plain")).unwrap();
    let mut options = persistent("net-will");
    options.will = Some(Will {
        qos: Qos::AtLeastOnce,
        retain: false,
        properties: builder.finish(),
        topic: "net/will/gone",
        payload: b"gone",
    });
    let mut mqtt = MqttClient::connect_with(&proxy.url(), &options, &settings()).unwrap();
    // Twice: the will goes with the CONNECT of every connection, the reconnect's too.
    for round in 0..2 {
        proxy.set(Mode::Refuse);
        assert!(matches!(next(&mut mqtt), Event::ConnectionLost { .. }));
        let m = match next(&mut watcher) {
            Event::Message(m) => m,
            other => panic!("round {round}: expected the will, got {other:?}"),
        };
        assert_eq!((m.topic.as_str(), m.payload.as_slice()), ("net/will/gone", &b"gone"[..]));
        assert_eq!(m.properties().content_type(), Some("text/plain"));
        if round == 0 {
            proxy.set(Mode::Forward);
            loop {
                match next(&mut mqtt) {
                    Event::Reconnected { .. } => break,
                    Event::ConnectionLost { .. } => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    // Offline, a disconnect has nothing to tell the broker.
    assert!(!mqtt.is_connected());
    mqtt.disconnect().unwrap();
    watcher.disconnect().unwrap();
}
