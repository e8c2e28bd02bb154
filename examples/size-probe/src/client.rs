//! The MQTT client session: connect, read whatever the broker sent (every packet a client can
//! receive), publish at each QoS, subscribe, unsubscribe, keep-alive timers, disconnect; the
//! in-flight store is a caller slice.

use core::hint::black_box;

use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::{Status, Subscription};
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;

pub fn exercise(input: &[u8], tx: &mut [u8]) {
    let mut store = [0u8; 1024];
    let mut client: Client<SliceStore<'_, 8>, 4, 4, 64> =
        Client::new(SliceStore::new(&mut store), Config::new(512));
    let now = Instant::from_millis(black_box(1));
    black_box(client.connect(now, &ConnectOptions::new("size-probe"), tx).ok());
    let mut start = 0;
    while let Some(rest) = input.get(start..) {
        match client.handle_input(now, rest) {
            Ok(Status::Complete(r)) => {
                start += r.consumed;
                black_box(&r.event);
                if r.consumed == 0 {
                    break;
                }
            }
            _ => break,
        }
    }
    while let Ok(Some(n)) = client.poll_transmit(now, tx) {
        black_box(n);
    }
    let qos = Qos::from_u8(black_box(1)).unwrap_or(Qos::AtMostOnce);
    let msg = Outgoing::new("probe/out", b"42").qos(qos);
    black_box(client.publish(now, &msg, tx).ok());
    let subs = [Subscription::new("probe/in/#", qos)];
    black_box(client.subscribe(now, &subs, Properties::EMPTY, tx).ok());
    black_box(client.unsubscribe(now, &["probe/in/#"], Properties::EMPTY, tx).ok());
    black_box(client.poll_timeout());
    black_box(client.handle_timeout(Instant::from_millis(black_box(60_000))).ok());
    black_box(client.disconnect(now, ReasonCode::Success, Properties::EMPTY, tx).ok());
}
