//! The MQTT client as a device runs it: the blocking driver over an opaque transport (with the
//! `client-ws` feature, over `ws::Stream` after the client opening handshake), connect,
//! subscribe, publish at QoS 0, 1 and 2, unsubscribe, keep-alive timers, incoming messages and
//! acknowledgements, disconnect.

use core::convert::Infallible;
use core::hint::black_box;

use embedded_io::{ErrorType, Read, Write};
use mqtt_ws::io::blocking::Connection;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;

/// A transport whose received bytes and sent bytes the optimiser cannot see.
struct Opaque<'a> {
    input: &'a mut [u8],
}

impl ErrorType for Opaque<'_> {
    type Error = Infallible;
}

impl Read for Opaque<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = black_box(buf.len().min(self.input.len()));
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), self.input.get(..n)) {
            dst.copy_from_slice(src);
        }
        Ok(n)
    }
}

impl Write for Opaque<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        black_box(buf);
        Ok(black_box(buf.len()))
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

pub fn exercise(input: &mut [u8], _tx: &mut [u8]) {
    let transport = Opaque { input };
    #[cfg(not(feature = "client-ws"))]
    session(transport);
    #[cfg(feature = "client-ws")]
    over_websocket(transport);
}

#[cfg(feature = "client-ws")]
fn over_websocket(transport: Opaque<'_>) {
    use mqtt_ws::ws::connection::Config as WsConfig;
    use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};

    let (mut ws_rx, mut ws_tx) = ([0u8; 512], [0u8; 512]);
    let request = ClientRequest::new("broker.local", "/mqtt").protocols(&["mqtt"]);
    let Ok(handshake) = Handshake::new(request, black_box([7; 16])) else { return };
    let mut hs = Connection::new(transport, handshake, &mut ws_rx, &mut ws_tx);
    let now = || Instant::from_millis(black_box(0));
    if hs.handshake(now).is_err() {
        return;
    }
    let mut key = black_box(0u32);
    let keys = move || {
        key = key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        key.to_le_bytes()
    };
    if let Ok(stream) = hs.upgrade(WsConfig::new(), keys).into_stream() {
        session(stream);
    }
}

fn session<T: Read + Write>(transport: T) {
    let (mut rx, mut tx, mut store) = ([0u8; 512], [0u8; 512], [0u8; 512]);
    let client: Client<SliceStore<'_, 4>> =
        Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
    let mut conn = Connection::new(transport, client, &mut rx, &mut tx);
    let now = || Instant::from_millis(black_box(0));
    let mut options = ConnectOptions::new(black_box("size-probe"));
    options.keep_alive = black_box(30);
    if conn.connect(now(), &options).is_err() {
        return;
    }
    let topic = black_box("probe/t");
    for _ in 0..black_box(8) {
        match conn.poll(now()) {
            Ok(Some(Event::Connected(_))) => {
                let sub = [Subscription::new(topic, Qos::ExactlyOnce)];
                black_box(conn.subscribe(now(), &sub, Properties::EMPTY).ok());
            }
            Ok(Some(Event::Subscribed { .. })) => {
                for qos in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce] {
                    let msg = Outgoing::new(topic, black_box(b"x")).qos(qos);
                    black_box(conn.publish(now(), &msg).ok());
                }
            }
            Ok(Some(Event::Message(m))) => {
                black_box(m.payload);
                black_box(conn.unsubscribe(now(), &[topic], Properties::EMPTY).ok());
            }
            Ok(event) => {
                black_box(event);
            }
            Err(e) => {
                black_box(e);
                break;
            }
        }
    }
    black_box(conn.client().poll_timeout());
    black_box(conn.disconnect(now(), ReasonCode::NormalDisconnection, Properties::EMPTY).ok());
}
