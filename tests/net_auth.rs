//! MQTT 5.0 enhanced authentication through the std clients (`net::MqttClient`, blocking and
//! tokio): a re-authentication with one challenge, against an in-process server built on
//! `mqtt::server::Server` and driven by `io::blocking::Connection` over a loopback TCP socket
//! (Mosquitto does enhanced authentication only with a plugin). The client sees every AUTH as
//! an `Event::Auth` with its reason code, method and data, and answers with `auth`.
#![cfg(all(feature = "std", feature = "mqtt", feature = "tokio"))]

use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use mqtt_ws::io::{StdIo, blocking};
use mqtt_ws::mqtt::server::{self, Accept, Server};
use mqtt_ws::net::Event;
use mqtt_ws::prelude::*;

const METHOD: &str = "test-challenge";

/// What the server received: each AUTH's reason code and data.
type Seen = Vec<(ReasonCode, Option<Vec<u8>>)>;

/// A server for one client on 127.0.0.1: accepts a CONNECT naming [`METHOD`], answers a
/// re-authentication with a challenge, the answer with Success; returns what it received once
/// the client disconnects.
fn server() -> (String, JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let start = std::time::Instant::now();
        let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
        let session: Server = Server::new(server::Config::new(), now());
        let mut conn =
            blocking::Connection::with_buffers(StdIo(tcp), session, vec![0; 4096], vec![0; 4096]);
        let mut seen = Seen::new();
        loop {
            assert!(start.elapsed() < Duration::from_secs(20), "the client went quiet");
            let (reason, data) = match conn.poll(now()) {
                Ok(Some(server::Event::Connect(c))) => {
                    assert_eq!(c.properties.authentication_method(), Some(METHOD));
                    let accept =
                        Accept { authentication_method: Some(METHOD), ..Accept::default() };
                    conn.accept(now(), &accept).unwrap();
                    continue;
                }
                Ok(Some(server::Event::Auth(a))) => {
                    assert_eq!(a.properties.authentication_method(), Some(METHOD));
                    (a.reason_code, a.properties.authentication_data().map(<[u8]>::to_vec))
                }
                Ok(Some(server::Event::Disconnect(_))) | Err(_) => return seen,
                Ok(_) => continue,
            };
            seen.push((reason, data));
            match reason {
                ReasonCode::ReAuthenticate => conn
                    .auth(now(), ReasonCode::ContinueAuthentication, METHOD, Some(b"challenge"))
                    .unwrap(),
                _ => conn.auth(now(), ReasonCode::Success, METHOD, None).unwrap(),
            }
        }
    });
    (url, handle)
}

fn options() -> ConnectOptions<'static> {
    let mut options = ConnectOptions::new("auth-client");
    options.auth_method = Some(METHOD);
    options
}

fn expected() -> Seen {
    vec![
        (ReasonCode::ReAuthenticate, Some(b"first".to_vec())),
        (ReasonCode::ContinueAuthentication, Some(b"response".to_vec())),
    ]
}

fn check_challenge(event: Event) {
    match event {
        Event::Auth { reason_code, method, data } => {
            assert_eq!(reason_code, ReasonCode::ContinueAuthentication);
            assert_eq!(method.as_deref(), Some(METHOD));
            assert_eq!(data.as_deref(), Some(&b"challenge"[..]));
        }
        other => panic!("expected the challenge, got {other:?}"),
    }
}

fn check_success(event: Event) {
    match event {
        Event::Auth { reason_code, method, data } => {
            assert_eq!(reason_code, ReasonCode::Success);
            assert_eq!(method.as_deref(), Some(METHOD));
            assert_eq!(data, None);
        }
        other => panic!("expected Success, got {other:?}"),
    }
}

#[test]
fn blocking_client_reauthenticates_with_a_challenge() {
    let (url, server) = server();
    let mut mqtt = MqttClient::connect(&url, &options()).unwrap();
    let limit = Duration::from_secs(10);
    mqtt.auth(ReasonCode::ReAuthenticate, METHOD, Some(b"first")).unwrap();
    check_challenge(mqtt.next_timeout(limit).unwrap().unwrap());
    mqtt.auth(ReasonCode::ContinueAuthentication, METHOD, Some(b"response")).unwrap();
    check_success(mqtt.next_timeout(limit).unwrap().unwrap());
    mqtt.disconnect().unwrap();
    assert_eq!(server.join().unwrap(), expected());
}

#[test]
fn tokio_client_reauthenticates_with_a_challenge() {
    use mqtt_ws::net::tokio::MqttClient;
    let (url, server) = server();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let limit = Duration::from_secs(10);
        let mut mqtt = MqttClient::connect(&url, &options()).await.unwrap();
        mqtt.auth(ReasonCode::ReAuthenticate, METHOD, Some(b"first")).await.unwrap();
        let event = tokio::time::timeout(limit, mqtt.next()).await.unwrap();
        check_challenge(event.unwrap().unwrap());
        mqtt.auth(ReasonCode::ContinueAuthentication, METHOD, Some(b"response")).await.unwrap();
        let event = tokio::time::timeout(limit, mqtt.next()).await.unwrap();
        check_success(event.unwrap().unwrap());
        mqtt.disconnect().await.unwrap();
    });
    assert_eq!(server.join().unwrap(), expected());
}
