//! The MQTT server session fed arbitrary client bytes in arbitrary chunks, on a clock that moves
//! forward, with the caller's answers (accept, reject, SUBACK, publishes, takeover) interleaved,
//! and new connections resuming the session over the store the last one left: it never panics,
//! consumes at most what it is given, keeps its in-flight bounds, and once closed reads nothing
//! more.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mqtt_ws::Status;
use mqtt_ws::mqtt::packet::{Publish, QosPid};
use mqtt_ws::mqtt::server::{Accept, Config, Event, Server};
use mqtt_ws::mqtt::{AwaitingRelease, PacketId, ReasonCode};
use mqtt_ws::time::Instant;

#[derive(Debug, Arbitrary)]
enum Step {
    /// The client's bytes arrive.
    Receive(Vec<u8>),
    /// Time passes (milliseconds).
    Wait(u16),
    /// The application publishes to the client with this QoS (0-2, others 0).
    Publish(u8, Vec<u8>),
    /// The broker takes the session over.
    Takeover,
    /// The transport ends.
    Lost,
    /// A new connection of the same client (CONNECT again) over the session's store,
    /// accepted with Session Present or not.
    Resume(bool),
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Prefix a valid CONNECT so the connected state is reached often.
    connect_first: bool,
    reject: bool,
    max_packet: u16,
    alias_max: u8,
    steps: Vec<Step>,
}

const CONNECT: &[u8] =
    &[0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 5, 0, 0, 3, b'f', b'u', b'z'];

fuzz_target!(|input: Input| {
    let mut config = Config::new();
    config.max_packet_size = u32::from(input.max_packet).max(32);
    config.topic_alias_maximum = u16::from(input.alias_max);
    let mut now = Instant::ZERO;
    let mut server: Server<4, 4, 32> = Server::new(config, now);
    let mut buf: Vec<u8> = if input.connect_first { CONNECT.to_vec() } else { Vec::new() };
    let mut out = vec![0u8; 256];
    let mut session_present = false;
    let mut steps = input.steps.into_iter();
    loop {
        // Read everything buffered, one packet per call.
        loop {
            let len = buf.len();
            let (consumed, answer) = match server.handle_input(now, &buf) {
                Ok(Status::Progress { consumed, event }) => {
                    assert!(consumed > 0 && consumed <= len);
                    let answer = match event {
                        Some(Event::Connect(_)) => Some(None),
                        Some(Event::Subscribe(s)) => Some(Some(s.packet_id)),
                        _ => None,
                    };
                    (consumed, answer)
                }
                Ok(Status::NeedMore { needed }) => {
                    assert!(needed > 0);
                    break;
                }
                Ok(Status::Blocked) => {
                    // Either the queue of owed packets is full (draining it unblocks the
                    // session) or a CONNECT / AUTH waits for its answer (nothing to drain).
                    let mut drained = false;
                    while let Ok(Some(n)) = server.poll_transmit(now, &mut out) {
                        assert!(n <= out.len());
                        drained = true;
                    }
                    if !drained {
                        break;
                    }
                    continue;
                }
                Ok(Status::Closed) => break,
                Err(_) => {
                    assert!(server.closed().is_some());
                    break;
                }
            };
            buf.drain(..consumed);
            match answer {
                Some(None) if input.reject => {
                    let _ = server.reject(ReasonCode::NotAuthorized, &mut out);
                }
                Some(None) => {
                    let accept =
                        Accept { assigned_client_id: Some("a"), session_present, ..Accept::default() };
                    if server.accept(now, &accept, &mut out).is_ok() && session_present {
                        // The caller's part of a resumed session: the unacknowledged again.
                        let again: Vec<PacketId> = server.to_resend().collect();
                        for id in again {
                            let mut p = Publish::new("t/x", b"again");
                            p.qos_pid = QosPid::AtLeastOnce(id);
                            let _ = server.republish(id, &p, &mut out);
                        }
                    }
                }
                Some(Some(id)) => {
                    let _ = server.sub_ack(id, &[ReasonCode::GrantedQos1], &mut out);
                }
                None => {}
            }
            while let Ok(Some(n)) = server.poll_transmit(now, &mut out) {
                assert!(n <= out.len());
            }
        }
        assert!(server.in_flight() <= 4);
        assert!(server.store().awaiting_release() <= 4);
        if server.closed().is_some() {
            assert_eq!(server.handle_input(now, CONNECT), Ok(Status::Closed));
            assert_eq!(server.poll_timeout(), None);
        }
        let Some(step) = steps.next() else { break };
        match step {
            Step::Receive(bytes) => buf.extend_from_slice(&bytes),
            Step::Wait(ms) => {
                now = now + core::time::Duration::from_millis(u64::from(ms) * 10);
                server.handle_timeout(now);
            }
            Step::Publish(qos, payload) => {
                let mut p = Publish::new("t/x", &payload);
                let id = PacketId::new(1).unwrap();
                p.qos_pid = match qos {
                    1 => QosPid::AtLeastOnce(id),
                    2 => QosPid::ExactlyOnce(id),
                    _ => QosPid::AtMostOnce,
                };
                let _ = server.publish(&p, &mut out);
            }
            Step::Takeover => {
                let _ = server.disconnect(ReasonCode::SessionTakenOver);
            }
            Step::Lost => server.connection_lost(),
            Step::Resume(present) => {
                server.connection_lost();
                let store = core::mem::take(server.store_mut());
                server = Server::with_store(store, config, now);
                session_present = present;
                buf = CONNECT.to_vec();
            }
        }
        while let Ok(Some(_)) = server.poll_transmit(now, &mut out) {}
    }
});
