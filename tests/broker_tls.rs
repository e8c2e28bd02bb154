//! The MQTT client against a real Mosquitto broker over TLS: `mqtts://` (MQTT over TLS) and
//! `wss://` (MQTT over WebSocket over TLS), and the refusals: a CA that did not sign the broker's
//! certificate, or a host name the certificate is not valid for, give a clear error and no
//! connection.
//!
//! `#[ignore]`d: run through `scripts/broker`, which makes the certificates, starts Mosquitto
//! with TLS listeners and passes `MQTT_TLS_PORT`, `MQTT_WSS_PORT`, `MQTT_CAFILE` and
//! `MQTT_OTHER_CAFILE`:
//! `scripts/broker cargo test --all-features --test broker_tls -- --ignored`.
#![cfg(all(feature = "mqtt", feature = "tls", feature = "ws"))]

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use embedded_io::{Read, Write};
use mqtt_ws::io::blocking::{self, Connection};
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::{Duration, Instant};
use mqtt_ws::tls::{TlsError, TlsStream, client_config, rustls};
use mqtt_ws::ws::connection::Config as WsConfig;
use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};
use mqtt_ws::ws::stream::Stream;

type Store = SliceStore<'static, 64, Vec<u8>>;
type Tls = TlsStream<TcpStream>;
type Keys = Box<dyn FnMut() -> [u8; 4] + Send>;
type Conn<T> = Connection<'static, T, Client<Store>, Vec<u8>>;

fn buf(n: usize) -> Vec<u8> {
    vec![0u8; n]
}

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run through scripts/broker"))
}

fn port(var: &str) -> u16 {
    env(var).parse().unwrap()
}

fn config(ca_var: &str) -> Arc<rustls::ClientConfig> {
    client_config(&std::fs::read(env(ca_var)).unwrap()).unwrap()
}

fn clock() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(StdInstant::now);
    Instant::from_millis(start.elapsed().as_millis() as u64)
}

fn tls(port_var: &str, ca_var: &str, name: &str) -> Result<Tls, TlsError> {
    let tcp = TcpStream::connect(("127.0.0.1", port(port_var))).expect("the broker listens");
    tcp.set_read_timeout(Some(StdDuration::from_millis(50))).unwrap();
    TlsStream::connect(config(ca_var), name, tcp)
}

/// `wss://`: the WebSocket opening handshake over an established TLS session.
fn wss(name: &str) -> Stream<'static, Tls, Keys, Vec<u8>> {
    let t = tls("MQTT_WSS_PORT", "MQTT_CAFILE", name).unwrap();
    let host = format!("{name}:{}", port("MQTT_WSS_PORT"));
    let hs = Handshake::new(ClientRequest::new(&host, "/mqtt").protocols(&["mqtt"]), [7; 16])
        .unwrap()
        .with_deadline(clock() + Duration::from_secs(5));
    let mut hs = blocking::Connection::with_buffers(t, hs, buf(8192), buf(8192));
    assert_eq!(hs.handshake(clock).unwrap(), Some("mqtt"));
    let mut key = 0x9e37_79b9u32;
    let keys: Keys = Box::new(move || {
        key = key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        key.to_le_bytes()
    });
    hs.upgrade(WsConfig::new(), keys).into_stream().unwrap()
}

/// Connects a client over `t` and waits for CONNACK.
fn open<T: Read + Write>(t: T, id: &str) -> Conn<T>
where
    T::Error: std::fmt::Debug,
{
    let client = Client::new(SliceStore::with_buffer(buf(64 * 1024)), Config::new(8192));
    let mut c = Connection::with_buffers(t, client, buf(8192), buf(8192));
    let mut o = ConnectOptions::new(id);
    o.keep_alive = 10;
    c.connect(clock(), &o).unwrap();
    let deadline = StdInstant::now() + StdDuration::from_secs(5);
    while StdInstant::now() < deadline {
        if let Some(Event::Connected(_)) = c.poll(clock()).unwrap() {
            return c;
        }
    }
    panic!("no CONNACK");
}

/// What the connection reported, owned: messages as (payload, QoS), acks as their reason.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Message(Vec<u8>, Qos),
    Published(ReasonCode),
    Subscribed(Vec<ReasonCode>),
}

fn next<T: Read + Write>(c: &mut Conn<T>, limit: StdDuration) -> Option<Ev>
where
    T::Error: std::fmt::Debug,
{
    let deadline = StdInstant::now() + limit;
    while StdInstant::now() < deadline {
        match c.poll(clock()).unwrap() {
            Some(Event::Message(m)) => return Some(Ev::Message(m.payload.to_vec(), m.qos)),
            Some(Event::Published { reason_code: reason, .. }) => {
                return Some(Ev::Published(reason));
            }
            Some(Event::Subscribed { reason_codes, .. }) => {
                return Some(Ev::Subscribed(reason_codes.iter().collect()));
            }
            _ => {}
        }
    }
    None
}

/// Subscribes on `sub`, publishes at QoS 0, 1 and 2 on `publ`, and checks all three arrive.
fn exchange<P: Read + Write, S: Read + Write>(publ: &mut Conn<P>, sub: &mut Conn<S>, topic: &str)
where
    P::Error: std::fmt::Debug,
    S::Error: std::fmt::Debug,
{
    sub.subscribe(clock(), &[Subscription::new(topic, Qos::ExactlyOnce)], Properties::EMPTY)
        .unwrap();
    assert_eq!(
        next(sub, StdDuration::from_secs(5)),
        Some(Ev::Subscribed(vec![ReasonCode::GrantedQos2]))
    );
    let sent = [(Qos::AtMostOnce, "zero"), (Qos::AtLeastOnce, "one"), (Qos::ExactlyOnce, "two")];
    for (q, body) in sent {
        let s = publ.publish(clock(), &Outgoing::new(topic, body.as_bytes()).qos(q)).unwrap();
        if s.packet_id.is_some() {
            assert_eq!(
                next(publ, StdDuration::from_secs(5)),
                Some(Ev::Published(ReasonCode::Success))
            );
        }
    }
    let got: Vec<_> = (0..3).filter_map(|_| next(sub, StdDuration::from_secs(5))).collect();
    let want: Vec<_> = sent.iter().map(|(q, b)| Ev::Message(b.as_bytes().to_vec(), *q)).collect();
    assert_eq!(got, want);
}

fn topic(what: &str) -> String {
    format!("mqttws-tls-{}-{what}", std::process::id())
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn mqtts_publish_subscribe() {
    let t = topic("mqtts");
    let mut sub =
        open(tls("MQTT_TLS_PORT", "MQTT_CAFILE", "localhost").unwrap(), &format!("{t}-s"));
    // The certificate names 127.0.0.1 too.
    let mut publ =
        open(tls("MQTT_TLS_PORT", "MQTT_CAFILE", "127.0.0.1").unwrap(), &format!("{t}-p"));
    exchange(&mut publ, &mut sub, &t);
    publ.disconnect(clock(), ReasonCode::NormalDisconnection, Properties::EMPTY).unwrap();
    sub.disconnect(clock(), ReasonCode::NormalDisconnection, Properties::EMPTY).unwrap();
    let (mut sock, _) = sub.into_parts();
    sock.close().unwrap();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn wss_publish_subscribe() {
    let t = topic("wss");
    let mut sub = open(wss("localhost"), &format!("{t}-s"));
    let mut publ = open(wss("localhost"), &format!("{t}-p"));
    exchange(&mut publ, &mut sub, &t);
    publ.disconnect(clock(), ReasonCode::NormalDisconnection, Properties::EMPTY).unwrap();
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn mqtts_to_wss() {
    let t = topic("cross");
    let mut sub = open(wss("127.0.0.1"), &format!("{t}-s"));
    let mut publ =
        open(tls("MQTT_TLS_PORT", "MQTT_CAFILE", "localhost").unwrap(), &format!("{t}-p"));
    exchange(&mut publ, &mut sub, &t);
}

fn assert_certificate_error(r: Result<Tls, TlsError>, want: &str) {
    match r {
        Err(e @ TlsError::Handshake(rustls::Error::InvalidCertificate(_))) => {
            let text = e.to_string();
            assert!(text.contains(want), "{text}");
        }
        Err(e) => panic!("wrong error: {e:?}"),
        Ok(_) => panic!("connected despite a certificate that must be refused"),
    }
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn wrong_ca_is_refused() {
    for port in ["MQTT_TLS_PORT", "MQTT_WSS_PORT"] {
        assert_certificate_error(tls(port, "MQTT_OTHER_CAFILE", "localhost"), "UnknownIssuer");
    }
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn wrong_host_name_is_refused() {
    for port in ["MQTT_TLS_PORT", "MQTT_WSS_PORT"] {
        assert_certificate_error(tls(port, "MQTT_CAFILE", "broker.example"), "not valid for name");
        assert_certificate_error(tls(port, "MQTT_CAFILE", "127.0.0.2"), "not valid for name");
    }
}

#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn plain_tcp_port_is_not_tls() {
    let tcp = TcpStream::connect(("127.0.0.1", port("MQTT_TCP_PORT"))).unwrap();
    tcp.set_read_timeout(Some(StdDuration::from_millis(50))).unwrap();
    match TlsStream::connect(config("MQTT_CAFILE"), "localhost", tcp) {
        Err(TlsError::Closed) => {}
        other => panic!("{other:?}"),
    }
}

/// `net::MqttClient` from `mqtts://` and `wss://` URLs, with the test CA in the options.
#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn net_client_over_mqtts_and_wss() {
    use mqtt_ws::net::{Event, MqttClient, Options};
    let options = Options { tls: Some(config("MQTT_CAFILE")), ..Options::default() };
    for (url, id) in [
        (format!("mqtts://localhost:{}", port("MQTT_TLS_PORT")), "net-mqtts"),
        (format!("wss://localhost:{}/mqtt", port("MQTT_WSS_PORT")), "net-wss"),
    ] {
        let t = topic(id);
        let mut mqtt = MqttClient::connect_with(
            &url,
            &mqtt_ws::mqtt::client::ConnectOptions::new(id),
            &options,
        )
        .unwrap();
        mqtt.subscribe(&t, Qos::AtLeastOnce).unwrap();
        mqtt.publish(&mqtt_ws::mqtt::client::Outgoing::new(&t, b"over TLS").qos(Qos::AtLeastOnce))
            .unwrap();
        loop {
            match mqtt.next().unwrap().expect("open") {
                Event::Message(m) => {
                    assert_eq!(m.payload, b"over TLS");
                    break;
                }
                Event::Subscribed { .. } | Event::Published { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        mqtt.disconnect().unwrap();
    }
    // Without a CA in the options, the operating system's roots are used: they do not know the
    // test CA, so the broker's certificate is refused.
    let url = format!("mqtts://localhost:{}", port("MQTT_TLS_PORT"));
    let e = MqttClient::connect(&url, &ConnectOptions::new("x")).unwrap_err();
    assert!(matches!(e, mqtt_ws::net::Error::Tls(TlsError::Handshake(_))), "{e:?}");
}

/// `net::tokio::MqttClient` from `mqtts://` and `wss://` URLs (feature `tokio-tls`), and a
/// certificate from another CA refused as a TLS error.
#[cfg(feature = "tokio-tls")]
#[test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
fn tokio_client_over_mqtts_and_wss() {
    use mqtt_ws::net::tokio::MqttClient;
    use mqtt_ws::net::{Error as NetError, Event, Options};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let options = Options { tls: Some(config("MQTT_CAFILE")), ..Options::default() };
    rt.block_on(async {
        for (url, id) in [
            (format!("mqtts://localhost:{}", port("MQTT_TLS_PORT")), "tokio-mqtts"),
            (format!("wss://127.0.0.1:{}/mqtt", port("MQTT_WSS_PORT")), "tokio-wss"),
        ] {
            let t = topic(id);
            let mut mqtt =
                MqttClient::connect_with(&url, &ConnectOptions::new(id), &options).await.unwrap();
            mqtt.subscribe(&t, Qos::AtLeastOnce).await.unwrap();
            mqtt.publish(&Outgoing::new(&t, b"over TLS").qos(Qos::AtLeastOnce)).await.unwrap();
            loop {
                match mqtt.next().await.unwrap().expect("open") {
                    Event::Message(m) => {
                        assert_eq!(m.payload, b"over TLS");
                        break;
                    }
                    Event::Subscribed { .. } | Event::Published { .. } => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            mqtt.disconnect().await.unwrap();
        }
        let other = Options { tls: Some(config("MQTT_OTHER_CAFILE")), ..Options::default() };
        let url = format!("mqtts://localhost:{}", port("MQTT_TLS_PORT"));
        let e =
            MqttClient::connect_with(&url, &ConnectOptions::new("x"), &other).await.unwrap_err();
        assert!(matches!(e, NetError::Tls(TlsError::Handshake(_))), "{e:?}");
    });
}
