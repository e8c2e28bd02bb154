//! The std layer (`mqtt_ws::net`) against the example broker in this process, over `mqtt://`,
//! `ws://`, `mqtts://` and `wss://` (a certificate made for the test): the checks of
//! tests/net_mosquitto.rs (tests/common_net), an untrusted certificate, UNSUBSCRIBE and a
//! refused CONNECT, with nothing outside the process.
#![cfg(all(feature = "std", feature = "mqtt", feature = "ws", feature = "tokio", feature = "tls"))]

#[path = "../examples/broker/mod.rs"]
mod broker;
mod common_net;

use std::sync::Arc;

use mqtt_ws::net::tokio::MqttClient as TokioClient;
use mqtt_ws::net::{Error, Event, Options};
use mqtt_ws::prelude::*;
use mqtt_ws::tls::rustls;

/// The example broker on four listeners, and the client settings that trust its certificate.
struct Urls {
    tcp: String,
    ws: String,
    mqtts: String,
    wss: String,
    /// Trusts the broker's certificate (made for 127.0.0.1 by this test).
    settings: Options,
}

impl Urls {
    /// Every URL with a client identifier made of `id` and the scheme.
    fn each(&self, id: &str) -> [(String, String); 4] {
        [
            (self.tcp.clone(), format!("{id}-tcp")),
            (self.ws.clone(), format!("{id}-ws")),
            (self.mqtts.clone(), format!("{id}-mqtts")),
            (self.wss.clone(), format!("{id}-wss")),
        ]
    }
}

fn start() -> Urls {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key.into())
        .unwrap();
    let server = Arc::new(server);
    let listen = |websocket, tls: Option<&Arc<rustls::ServerConfig>>| broker::Listen {
        addr: "127.0.0.1:0".into(),
        websocket,
        max_connections: None,
        tls: tls.cloned(),
    };
    let listeners = [
        listen(false, None),
        listen(true, None),
        listen(false, Some(&server)),
        listen(true, Some(&server)),
    ];
    let b = broker::Broker::new(broker::Options::default());
    let a = b.start_listeners(&listeners).unwrap();
    let tls = mqtt_ws::tls::client_config(pem(made.cert.der()).as_bytes()).unwrap();
    Urls {
        tcp: format!("mqtt://{}", a[0]),
        ws: format!("ws://{}/mqtt", a[1]),
        mqtts: format!("mqtts://{}", a[2]),
        wss: format!("wss://{}/mqtt", a[3]),
        settings: Options { tls: Some(tls), ..Options::default() },
    }
}

/// A runtime for the tokio clients' checks.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A certificate in PEM, as a CA file holds it.
fn pem(der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(der);
    let lines: Vec<&str> =
        b64.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).unwrap()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

#[test]
fn retained_round_trip_on_every_scheme() {
    let urls = start();
    for (url, id) in urls.each("net") {
        common_net::retained_round_trip(&url, &id, &urls.settings);
    }
}

#[test]
fn next_timeout_gives_up_and_the_connection_stays_open() {
    let urls = start();
    common_net::next_timeout_gives_up(&urls.tcp, "net-timeout", &urls.settings);
    common_net::next_timeout_gives_up(&urls.wss, "net-timeout-wss", &urls.settings);
}

#[test]
fn tokio_client_on_every_scheme() {
    let urls = start();
    for (url, id) in urls.each("tokio") {
        common_net::tokio_round_trip(&url, &id, &urls.settings);
    }
}

#[test]
fn client_id_is_the_one_the_broker_assigned_or_the_one_given() {
    let urls = start();
    // The example broker's assigned identifiers: `auto-` and 32 random hex digits.
    common_net::client_id_assigned_or_given(&urls.tcp, |id| {
        id.strip_prefix("auto-").is_some_and(|hex| hex.len() >= 16)
    });
}

#[test]
fn publish_from_a_reader_on_every_scheme() {
    let urls = start();
    // The example broker's largest packet is 1 MiB.
    for (url, id) in urls.each("stream") {
        common_net::publish_from_a_reader(&url, &id, (1 << 19) + 17, &urls.settings);
    }
}

#[test]
fn tokio_publish_from_a_reader() {
    let urls = start();
    common_net::tokio_publish_from_a_reader(&urls.tcp, "tokio-stream", &urls.settings);
    common_net::tokio_publish_from_a_reader(&urls.wss, "tokio-stream-wss", &urls.settings);
}

#[test]
fn a_certificate_nobody_trusts_is_a_tls_error() {
    let urls = start();
    // The operating system's roots do not know the test's certificate.
    let plain = Options { tls: None, ..urls.settings.clone() };
    let rt = runtime();
    let untrusted = ConnectOptions::new("untrusted");
    for url in [&urls.mqtts, &urls.wss] {
        let e = MqttClient::connect_with(url, &untrusted, &plain);
        assert!(matches!(e, Err(Error::Tls(_))), "{url}: {e:?}");
        let e = rt.block_on(mqtt_ws::net::tokio::MqttClient::connect_with(url, &untrusted, &plain));
        assert!(matches!(e, Err(Error::Tls(_))), "{url}: {e:?}");
    }
}

#[test]
fn websocket_url_on_a_plain_mqtt_port_is_a_handshake_error() {
    let urls = start();
    let url = urls.tcp.replace("mqtt://", "ws://");
    let options =
        Options { connect_timeout: std::time::Duration::from_secs(2), ..urls.settings.clone() };
    let e = MqttClient::connect_with(&url, &ConnectOptions::new("x"), &options).unwrap_err();
    assert!(matches!(e, Error::Handshake(_) | Error::Io(_) | Error::Timeout), "{e:?}");
}

/// The next event, within 30 s; the connection must stay open.
fn next(mqtt: &mut MqttClient) -> Event {
    mqtt.next_timeout(std::time::Duration::from_secs(30))
        .unwrap()
        .expect("the connection stays open")
}

#[test]
fn unsubscribe_is_acknowledged_and_stops_delivery() {
    let urls = start();
    for (url, id) in urls.each("unsub") {
        let mut mqtt =
            MqttClient::connect_with(&url, &ConnectOptions::new(&id), &urls.settings).unwrap();
        let (gone, marker) = (format!("net/{id}/gone"), format!("net/{id}/marker"));
        for filter in [&gone, &marker] {
            let sub = mqtt.subscribe(filter, Qos::AtLeastOnce).unwrap();
            assert!(
                matches!(next(&mut mqtt), Event::Subscribed { packet_id, .. } if packet_id == sub)
            );
        }
        let unsub = mqtt.unsubscribe(&gone).unwrap();
        match next(&mut mqtt) {
            Event::Unsubscribed { packet_id, reason_codes } => {
                assert_eq!(
                    (packet_id, reason_codes.as_slice()),
                    (unsub, &[ReasonCode::Success][..])
                );
            }
            other => panic!("expected the UNSUBACK, got {other:?}"),
        }
        // A filter it does not hold: MQTT 5.0 §3.11.3, No subscription existed.
        let again = mqtt.unsubscribe(&gone).unwrap();
        match next(&mut mqtt) {
            Event::Unsubscribed { packet_id, reason_codes } => {
                assert_eq!(packet_id, again);
                assert_eq!(reason_codes, [ReasonCode::NoSubscriptionExisted]);
            }
            other => panic!("expected the UNSUBACK, got {other:?}"),
        }
        // From one publisher at one QoS, messages keep their order (§4.6): the marker comes
        // after where the unsubscribed topic's message would have been.
        for topic in [&gone, &marker] {
            mqtt.publish(&Outgoing::new(topic, b"x").qos(Qos::AtLeastOnce)).unwrap();
        }
        loop {
            match next(&mut mqtt) {
                Event::Message(m) => {
                    assert_eq!(m.topic, marker, "a message after the UNSUBACK");
                    break;
                }
                Event::Published { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        mqtt.disconnect().unwrap();
    }
}

#[test]
fn a_refused_connect_is_the_reason_code_of_the_refusal() {
    let security = broker::Security { allow_anonymous: false, passwords: None, acl: None };
    let options = broker::Options { security: Some(Arc::new(security)), ..Default::default() };
    let b = broker::Broker::new(options);
    let running = b.start(Some("127.0.0.1:0"), Some("127.0.0.1:0")).unwrap();
    let rt = runtime();
    let tcp = format!("mqtt://{}", running.tcp.unwrap());
    let ws = format!("ws://{}/mqtt", running.ws.unwrap());
    for url in [&tcp, &ws] {
        let anonymous = ConnectOptions::new("nobody");
        let e = MqttClient::connect(url, &anonymous).unwrap_err();
        assert!(matches!(e, Error::Refused(ReasonCode::NotAuthorized)), "{url}: {e:?}");
        let e = rt.block_on(TokioClient::connect(url, &anonymous)).unwrap_err();
        assert!(matches!(e, Error::Refused(ReasonCode::NotAuthorized)), "{url}: {e:?}");
    }
}

/// A reader that gives `good` bytes, then fails.
struct Failing {
    good: usize,
}

impl std::io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.good == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let n = buf.len().min(self.good);
        buf[..n].fill(b'x');
        self.good -= n;
        Ok(n)
    }
}

impl tokio::io::AsyncRead for Failing {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let mut chunk = vec![0u8; buf.remaining()];
        let n = std::io::Read::read(&mut *self, &mut chunk)?;
        buf.put_slice(&chunk[..n]);
        std::task::Poll::Ready(Ok(()))
    }
}

/// A reader that fails mid-message: the error is the caller's, the half-sent PUBLISH ends the
/// connection (the broker never sees it whole) and the client reconnects without the message.
#[test]
fn a_reader_that_fails_mid_message_is_the_callers_error() {
    let urls = start();
    let msg = Outgoing::new("net/failing/file", &[]).qos(Qos::AtLeastOnce);
    let mut mqtt =
        MqttClient::connect_with(&urls.tcp, &ConnectOptions::new("failing"), &urls.settings)
            .unwrap();
    let e = mqtt.publish_from(&msg, 100_000, Failing { good: 70_000 }).unwrap_err();
    assert!(matches!(e, Error::Io(ref io) if io.to_string() == "the disk went away"), "{e:?}");
    assert!(matches!(next(&mut mqtt), Event::ConnectionLost { .. }));
    assert!(matches!(next(&mut mqtt), Event::Reconnected { unsent_stream: None, .. }));
    assert_eq!(mqtt.client().in_flight(), 0);
    mqtt.disconnect().unwrap();

    let rt = runtime();
    rt.block_on(async {
        let opts = ConnectOptions::new("failing-tokio");
        let mut mqtt = TokioClient::connect_with(&urls.tcp, &opts, &urls.settings).await.unwrap();
        let e = mqtt.publish_from(&msg, 100_000, Failing { good: 70_000 }).await.unwrap_err();
        assert!(matches!(e, Error::Io(ref io) if io.to_string() == "the disk went away"), "{e:?}");
        let lost = mqtt.next().await.unwrap();
        assert!(matches!(lost, Some(Event::ConnectionLost { .. })), "{lost:?}");
        let back = mqtt.next().await.unwrap();
        assert!(matches!(back, Some(Event::Reconnected { unsent_stream: None, .. })), "{back:?}");
        mqtt.disconnect().await.unwrap();
    });
}

/// A broker that accepts one connection (CONNACK, MQTT 5.0), reads `keep` bytes of what
/// follows, then resets it: a message being streamed to it cannot be completed.
fn broker_that_resets_after(keep: usize) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // The CONNECT: its fixed header, then its Remaining Length (small: one byte).
        let mut head = [0u8; 2];
        s.read_exact(&mut head).unwrap();
        let mut rest = vec![0u8; usize::from(head[1])];
        s.read_exact(&mut rest).unwrap();
        s.write_all(&[0x20, 0x03, 0x00, 0x00, 0x00]).unwrap();
        let mut kept = vec![0u8; keep];
        let _ = s.read_exact(&mut kept);
        // Dropped with unread bytes: a reset.
    });
    url
}

/// The connection fails while a message streams from a reader: the connection's error, and
/// the message is not left in the session.
#[test]
fn a_connection_that_fails_mid_message_is_an_error() {
    let msg = Outgoing::new("net/cut/file", &[]).qos(Qos::AtLeastOnce);
    let len = 8 << 20;
    let once = Options { reconnect: None, ..Options::default() };
    let url = broker_that_resets_after(64 << 10);
    let mut mqtt = MqttClient::connect_with(&url, &ConnectOptions::new("cut"), &once).unwrap();
    let payload = std::io::Read::take(std::io::repeat(b'x'), len as u64);
    let e = mqtt.publish_from(&msg, len, payload).unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert_eq!(mqtt.client().in_flight(), 0);

    let url = broker_that_resets_after(64 << 10);
    let rt = runtime();
    rt.block_on(async {
        let opts = ConnectOptions::new("cut-tokio");
        let mut mqtt = TokioClient::connect_with(&url, &opts, &once).await.unwrap();
        let payload = tokio::io::AsyncReadExt::take(tokio::io::repeat(b'x'), len as u64);
        let e = mqtt.publish_from(&msg, len, payload).await.unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
        assert_eq!(mqtt.client().in_flight(), 0);
    });
}

/// An idle client keeps its connection: with a keep-alive of 1 s, the broker would close a
/// silent one after 1.5 s (MQTT 5.0 §3.1.2.10); after 2.5 s without traffic a message still
/// makes the round trip. The tokio client, with and without reconnecting.
#[test]
fn an_idle_tokio_client_keeps_its_connection_alive() {
    let urls = start();
    let rt = runtime();
    let idle = |id: &'static str, reconnect: bool| {
        let mut settings = urls.settings.clone();
        if !reconnect {
            settings.reconnect = None;
        }
        let url = urls.tcp.clone();
        async move {
            let mut opts = ConnectOptions::new(id);
            opts.keep_alive = 1;
            let mut mqtt = TokioClient::connect_with(&url, &opts, &settings).await.unwrap();
            let quiet = tokio::time::timeout(std::time::Duration::from_millis(2500), mqtt.next());
            assert!(quiet.await.is_err(), "{id}: an event while idle");
            let topic = format!("net/idle/{id}");
            mqtt.subscribe(&topic, Qos::AtLeastOnce).await.unwrap();
            mqtt.publish(&Outgoing::new(&topic, b"still here").qos(Qos::AtLeastOnce))
                .await
                .unwrap();
            loop {
                match mqtt.next().await.unwrap().expect("connected") {
                    Event::Message(m) => break assert_eq!(m.payload, b"still here"),
                    Event::Subscribed { .. } | Event::Published { .. } => {}
                    other => panic!("{id}: {other:?}"),
                }
            }
            mqtt.disconnect().await.unwrap();
        }
    };
    rt.block_on(async { tokio::join!(idle("idle-once", false), idle("idle-redial", true)) });
}

/// A WebSocket server that speaks no subprotocol, for `count` connections: MQTT over it is
/// refused before a CONNECT is sent.
fn websocket_without_subprotocol(count: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/mqtt", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(count) {
            let ws = mqtt_ws::net::WebSocket::accept(tcp.unwrap()).unwrap();
            assert_eq!(ws.protocol(), None);
        }
    });
    url
}

#[test]
fn a_websocket_server_that_does_not_speak_mqtt_is_refused() {
    let url = websocket_without_subprotocol(2);
    let e = MqttClient::connect(&url, &ConnectOptions::new("no-mqtt")).unwrap_err();
    assert!(matches!(e, Error::Subprotocol), "{e:?}");
    let rt = runtime();
    let e = rt.block_on(TokioClient::connect(&url, &ConnectOptions::new("no-mqtt"))).unwrap_err();
    assert!(matches!(e, Error::Subprotocol), "{e:?}");
}

/// A WebSocket needs a WebSocket URL; a client and a connection print what they are without
/// their buffers' bytes or the password.
#[test]
fn tokio_websocket_urls_and_debug_output() {
    use mqtt_ws::net::UrlError;
    use mqtt_ws::net::tokio::WebSocket as TokioWebSocket;
    let urls = start();
    let rt = runtime();
    rt.block_on(async {
        let e = TokioWebSocket::connect(&urls.tcp).await.unwrap_err();
        assert!(matches!(e, Error::Url(UrlError::Scheme)), "{e:?}");
        let mut options = ConnectOptions::new("debug");
        options.username = Some("someone");
        options.password = Some(b"s3cret");
        let mqtt = TokioClient::connect(&urls.ws, &options).await.unwrap();
        let shown = format!("{mqtt:?}");
        assert!(shown.starts_with("MqttClient"), "{shown}");
        assert!(shown.contains("someone") && !shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("115, 51, 99"), "the password's bytes: {shown}");
        assert!(shown.len() < 4000, "{shown}");
        // The password in the URL, as mosquitto's `-L` takes it.
        let url = urls.tcp.replace("mqtt://", "mqtt://someone:s3cret@");
        let blocking = MqttClient::connect(&url, &options).unwrap();
        let shown = format!("{blocking:?}");
        assert!(shown.starts_with("MqttClient"), "{shown}");
        assert!(shown.contains("someone") && !shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("115, 51, 99"), "the password's bytes: {shown}");
        assert!(shown.len() < 4000, "{shown}");
        let ws = TokioWebSocket::connect(&urls.ws).await.unwrap();
        let shown = format!("{ws:?}");
        assert!(shown.starts_with("WebSocket"), "{shown}");
        mqtt.disconnect().await.unwrap();
    });
}

/// The driver under a client takes the commands the client's methods leave out, with the
/// client's clock: a QoS 0 PUBLISH queued through it arrives.
#[test]
fn the_driver_underneath_takes_commands_too() {
    let urls = start();
    let topic = "net/driver";
    let msg = Outgoing::new(topic, b"through the driver");
    let mut mqtt = MqttClient::connect(&urls.tcp, &ConnectOptions::new("driver-b")).unwrap();
    mqtt.subscribe(topic, Qos::AtMostOnce).unwrap();
    assert!(matches!(next(&mut mqtt), Event::Subscribed { .. }));
    let now = mqtt.now();
    mqtt.driver().publish(now, &msg).unwrap();
    assert!(matches!(next(&mut mqtt), Event::Message(m) if m.payload == b"through the driver"));
    mqtt.disconnect().unwrap();

    let rt = runtime();
    rt.block_on(async {
        let mut mqtt =
            TokioClient::connect(&urls.ws, &ConnectOptions::new("driver-t")).await.unwrap();
        mqtt.subscribe(topic, Qos::AtMostOnce).await.unwrap();
        assert!(matches!(mqtt.next().await.unwrap(), Some(Event::Subscribed { .. })));
        let now = mqtt.now();
        mqtt.driver().publish(now, &msg).await.unwrap();
        let got = mqtt.next().await.unwrap();
        assert!(matches!(got, Some(Event::Message(ref m)) if m.payload == b"through the driver"));
        mqtt.disconnect().await.unwrap();
    });
}
