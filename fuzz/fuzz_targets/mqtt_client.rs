//! The MQTT client fed arbitrary broker bytes after CONNECT / CONNACK, in arbitrary pieces,
//! with timers and commands mixed in: it never panics, never reports more bytes used than it was
//! given, always ends in a defined state, and everything it sends decodes as a valid packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::mqtt::client::{
    Client, Config, ConnectOptions, Error, Event, Outgoing, SliceStore, State,
};
use mqtt_ws::mqtt::packet::{self, DecodeOptions};
use mqtt_ws::mqtt::{Qos, Version};
use mqtt_ws::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let version = if mode & 1 == 0 { Version::V5 } else { Version::V3_1_1 };
    let rx_len = if mode & 2 == 0 { 64 } else { 1024 };
    let config = Config { stream_large_payloads: mode & 4 != 0, ..Config::new(rx_len) };
    let mut store = [0u8; 512];
    let mut client: Client<SliceStore<'_, 4>, 4, 2, 16> =
        Client::new(SliceStore::new(&mut store), config);
    let mut out = [0u8; 2048];
    let mut now = Instant::from_secs(1);
    let mut opts = ConnectOptions::new("fuzz");
    opts.version = version;
    opts.keep_alive = 5;
    client.connect(now, &opts, &mut out).unwrap();
    let connack: &[u8] = if version == Version::V5 {
        &[0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x02]
    } else {
        &[0x20, 0x02, 0x00, 0x00]
    };
    assert!(matches!(
        client.handle_input(now, connack),
        Ok(Status::Progress { event: Some(Event::Connected(_)), .. })
    ));
    let check_sent = |bytes: &[u8]| {
        let opts = DecodeOptions::new(version);
        match packet::decode(bytes, &opts) {
            Ok(Status::Progress { consumed, .. }) => assert_eq!(consumed, bytes.len()),
            other => panic!("the client sent an invalid packet: {other:?} {bytes:?}"),
        }
    };
    let mut rx = [0u8; 1024];
    let mut rx_used = 0;
    let mut input = rest;
    while !input.is_empty() {
        // The first byte of each round: piece size and an action.
        let (&ctl, tail) = input.split_first().unwrap();
        let take = usize::from(ctl & 0x3f).min(tail.len()).min(rx_len - rx_used);
        rx[rx_used..rx_used + take].copy_from_slice(&tail[..take]);
        rx_used += take;
        input = &tail[take..];
        match ctl >> 6 {
            1 => {
                now = now + Duration::from_secs(3);
                let _ = client.handle_timeout(now);
            }
            2 => {
                let msg = Outgoing::new("f/t", b"x").qos(Qos::AtLeastOnce);
                let _ = client.publish(now, &msg, &mut out);
            }
            _ => {}
        }
        loop {
            match client.handle_input(now, &rx[..rx_used]) {
                Ok(Status::Progress { consumed, event: _ }) => {
                    assert!(consumed > 0 && consumed <= rx_used);
                    rx.copy_within(consumed..rx_used, 0);
                    rx_used -= consumed;
                }
                Ok(Status::NeedMore { needed }) => {
                    assert!(needed > 0);
                    break;
                }
                Ok(Status::Blocked) => {
                    // Its queue of owed packets is full: draining it unblocks the client.
                    let mut drained = 0;
                    while let Ok(Some(n)) = client.poll_transmit(now, &mut out) {
                        check_sent(&out[..n]);
                        drained += 1;
                    }
                    assert!(drained > 0, "blocked with nothing to transmit");
                }
                Ok(Status::Closed) => {
                    assert!(matches!(client.state(), State::Closing | State::Disconnected));
                    break;
                }
                Err(Error::Remote(_)) => {
                    assert!(matches!(client.state(), State::Closing | State::Disconnected));
                    break;
                }
                Err(_) => break,
            }
        }
        while let Ok(Some(n)) = client.poll_transmit(now, &mut out) {
            check_sent(&out[..n]);
        }
        if matches!(client.state(), State::Disconnected) {
            return;
        }
        if rx_used == rx_len {
            // A full buffer the client could not use: only possible with a fault reported.
            return;
        }
    }
    assert!(matches!(client.state(), State::Connected | State::Disconnected | State::Closing));
});
