//! The std layer (`mqtt_ws::net`) against a real Mosquitto: `MqttClient::connect` from an
//! `mqtt://` and a `ws://` URL, a retained QoS 2 message published and read back, every
//! acknowledgement seen as its event, a clean disconnect; and the typed errors of a refused
//! socket, a bad URL and a WebSocket URL pointed at a plain MQTT port; the client identifier
//! the broker assigned. The checks are shared with tests/net_inprocess.rs (the example broker).
//! Starts its own broker on free ports; run with
//! `cargo test --test net_mosquitto -- --include-ignored`.
#![cfg(all(feature = "std", feature = "mqtt", feature = "ws", feature = "tokio"))]

mod common_net;
mod common_ws;

use mqtt_ws::net::{Error, Options, UrlError};
use mqtt_ws::prelude::*;

#[test]
#[ignore = "needs mosquitto"]
fn connect_from_a_url_over_tcp_and_websocket() {
    let broker = common_ws::Mosquitto::start("net");
    let o = Options::default();
    common_net::retained_round_trip(
        &format!("mqtt://127.0.0.1:{}", broker.tcp_port),
        "net-tcp",
        &o,
    );
    common_net::retained_round_trip(
        &format!("ws://127.0.0.1:{}/mqtt", broker.ws_port),
        "net-ws",
        &o,
    );
    // Mosquitto accepts any path; without one the client asks for `/mqtt`.
    let user = format!("ws://user:pw@127.0.0.1:{}", broker.ws_port);
    common_net::retained_round_trip(&user, "net-ws-user", &o);
}

#[test]
#[ignore = "needs mosquitto"]
fn next_timeout_gives_up_and_the_connection_stays_open() {
    let broker = common_ws::Mosquitto::start("net-timeout");
    let url = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
    common_net::next_timeout_gives_up(&url, "net-timeout", &Options::default());
}

#[test]
#[ignore = "needs mosquitto"]
fn websocket_url_on_a_plain_mqtt_port_is_a_handshake_error() {
    let broker = common_ws::Mosquitto::start("net-wrong-port");
    let url = format!("ws://127.0.0.1:{}/mqtt", broker.tcp_port);
    let options =
        Options { connect_timeout: std::time::Duration::from_secs(2), ..Options::default() };
    let e = MqttClient::connect_with(&url, &ConnectOptions::new("x"), &options).unwrap_err();
    assert!(matches!(e, Error::Handshake(_) | Error::Io(_)), "{e:?}");
}

#[test]
fn typed_errors_without_a_broker() {
    let e = MqttClient::connect("http://127.0.0.1", &ConnectOptions::new("x")).unwrap_err();
    assert!(matches!(e, Error::Url(UrlError::Scheme)), "{e:?}");
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = MqttClient::connect(&format!("mqtt://127.0.0.1:{port}"), &ConnectOptions::new("x"));
    assert!(
        matches!(e, Err(Error::Io(ref io)) if io.kind() == std::io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
    #[cfg(not(feature = "tls"))]
    {
        let e = MqttClient::connect("mqtts://127.0.0.1:1", &ConnectOptions::new("x"));
        assert!(e.is_err());
    }
    // The error goes into `Box<dyn Error>` with `?`.
    let boxed: Box<dyn std::error::Error> = Error::Timeout.into();
    assert_eq!(boxed.to_string(), "no answer in time");
}

#[test]
#[ignore = "needs mosquitto"]
fn tokio_client_over_tcp_and_websocket() {
    let broker = common_ws::Mosquitto::start("net-tokio");
    let o = Options::default();
    common_net::tokio_round_trip(&format!("mqtt://127.0.0.1:{}", broker.tcp_port), "tokio-tcp", &o);
    common_net::tokio_round_trip(
        &format!("ws://127.0.0.1:{}/mqtt", broker.ws_port),
        "tokio-ws",
        &o,
    );
}

#[test]
#[ignore = "needs mosquitto"]
fn client_id_is_the_one_the_broker_assigned_or_the_one_given() {
    let broker = common_ws::Mosquitto::start("net-client-id");
    let url = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
    // Mosquitto's assigned identifiers begin with `auto-`.
    common_net::client_id_assigned_or_given(&url, |id| id.starts_with("auto-"));
}

#[test]
#[ignore = "needs mosquitto"]
fn publish_from_a_reader_over_tcp_and_websocket() {
    let broker = common_ws::Mosquitto::start("net-stream");
    let o = Options::default();
    let tcp = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
    common_net::publish_from_a_reader(&tcp, "stream-tcp", (1 << 20) + 17, &o);
    // Mosquitto sends a large message over WebSocket slowly (a 1 MiB one takes it 25 s): a
    // smaller one there, still many times the client's buffers.
    let ws = format!("ws://127.0.0.1:{}/mqtt", broker.ws_port);
    common_net::publish_from_a_reader(&ws, "stream-ws", 100_003, &o);
}

#[test]
#[ignore = "needs mosquitto"]
fn tokio_publish_from_a_reader() {
    let broker = common_ws::Mosquitto::start("net-tokio-stream");
    let url = format!("mqtt://127.0.0.1:{}", broker.tcp_port);
    common_net::tokio_publish_from_a_reader(&url, "tokio-stream", &Options::default());
}
