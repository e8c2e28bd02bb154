//! The async driver over tokio through `embedded-io-adapters`: an in-memory broker on a duplex
//! pipe (with `poll` cancelled by timeouts while bytes trickle in), and a real Mosquitto broker
//! (`#[ignore]`d; run through `scripts/broker`).
#![cfg(all(feature = "mqtt", feature = "std"))]

use std::time::{Duration as StdDuration, Instant as StdInstant};

use embedded_io_adapters::tokio_1::FromTokio;
use mqtt_ws::io::asynch::Connection;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn clock() -> Instant {
    static START: std::sync::OnceLock<StdInstant> = std::sync::OnceLock::new();
    Instant::from_millis(START.get_or_init(StdInstant::now).elapsed().as_millis() as u64)
}

/// Reads one whole MQTT packet from the broker side of the pipe.
async fn read_packet(r: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut p = vec![r.read_u8().await.unwrap()];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = r.read_u8().await.unwrap();
        p.push(b);
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let start = p.len();
    p.resize(start + len, 0);
    r.read_exact(&mut p[start..]).await.unwrap();
    p
}

#[tokio::test]
async fn async_driver_over_a_pipe_with_cancelled_polls() {
    let (client_io, mut broker) = tokio::io::duplex(64);
    let broker_task = tokio::spawn(async move {
        let connect = read_packet(&mut broker).await;
        assert_eq!(connect[0], 0x10);
        broker.write_all(&[0x20, 0x03, 0x00, 0x00, 0x00]).await.unwrap();
        let sub = read_packet(&mut broker).await;
        assert_eq!(sub[0], 0x82);
        let id = [sub[2], sub[3]];
        broker.write_all(&[0x90, 0x04, id[0], id[1], 0x00, 0x01]).await.unwrap();
        // A QoS 1 PUBLISH, one byte at a time with pauses: the client's polls time out between.
        let publish = [0x32, 0x0a, 0, 3, b'a', b'/', b'b', 0, 9, 0, b'h', b'i'];
        for b in publish {
            broker.write_all(&[b]).await.unwrap();
            tokio::time::sleep(StdDuration::from_millis(3)).await;
        }
        assert_eq!(read_packet(&mut broker).await, [0x40, 0x02, 0, 9], "PUBACK");
        assert_eq!(read_packet(&mut broker).await, [0xe0, 0x00], "DISCONNECT");
    });
    let (mut rx, mut tx, mut store) = ([0u8; 256], [0u8; 256], [0u8; 256]);
    let client: Client<SliceStore<'_, 4>> =
        Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
    let mut conn = Connection::new(FromTokio::new(client_io), client, &mut rx, &mut tx);
    conn.connect(clock(), &ConnectOptions::new("async")).await.unwrap();
    let mut cancelled = 0;
    let mut got = None;
    while got.is_none() {
        match tokio::time::timeout(StdDuration::from_millis(1), conn.poll(clock())).await {
            Err(_) => cancelled += 1,
            Ok(r) => match r.unwrap() {
                Some(Event::Connected(_)) => {
                    let sub = [Subscription::new("a/#", Qos::AtLeastOnce)];
                    conn.subscribe(clock(), &sub, Properties::EMPTY).await.unwrap();
                }
                Some(Event::Message(m)) => got = Some((m.topic.to_string(), m.payload.to_vec())),
                _ => {}
            },
        }
    }
    assert!(cancelled > 0, "some polls were cancelled mid-read");
    assert_eq!(got, Some(("a/b".to_string(), b"hi".to_vec())));
    conn.flush(clock()).await.unwrap();
    conn.disconnect(clock(), ReasonCode::NormalDisconnection, Properties::EMPTY).await.unwrap();
    broker_task.await.unwrap();
}

#[tokio::test]
#[ignore = "needs Mosquitto: run through scripts/broker"]
async fn async_driver_with_mosquitto() {
    let port: u16 =
        std::env::var("MQTT_TCP_PORT").expect("run through scripts/broker").parse().unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut rx, mut tx, mut store) = ([0u8; 1024], [0u8; 1024], [0u8; 4096]);
    let client: Client<SliceStore<'_, 16>> =
        Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
    let mut conn = Connection::new(FromTokio::new(tcp), client, &mut rx, &mut tx);
    let id = format!("async-{}", std::process::id());
    let topic = format!("mqttws-async-{}", std::process::id());
    conn.connect(clock(), &ConnectOptions::new(&id)).await.unwrap();
    let deadline = StdInstant::now() + StdDuration::from_secs(10);
    let mut received = Vec::new();
    while received.len() < 3 {
        assert!(StdInstant::now() < deadline, "timed out; got {received:?}");
        let ev = tokio::time::timeout(StdDuration::from_millis(100), conn.poll(clock())).await;
        let Ok(ev) = ev else { continue };
        match ev.unwrap() {
            Some(Event::Connected(_)) => {
                let sub = [Subscription::new(&topic, Qos::ExactlyOnce)];
                conn.subscribe(clock(), &sub, Properties::EMPTY).await.unwrap();
            }
            Some(Event::Subscribed { .. }) => {
                for q in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce] {
                    let body = [q.as_u8()];
                    conn.publish(clock(), &Outgoing::new(&topic, &body).qos(q)).await.unwrap();
                }
            }
            Some(Event::Message(m)) => received.push((m.payload.to_vec(), m.qos)),
            _ => {}
        }
    }
    assert_eq!(
        received,
        [(vec![0], Qos::AtMostOnce), (vec![1], Qos::AtLeastOnce), (vec![2], Qos::ExactlyOnce)]
    );
    conn.disconnect(clock(), ReasonCode::NormalDisconnection, Properties::EMPTY).await.unwrap();
}
