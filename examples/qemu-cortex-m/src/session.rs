//! The session, written once for both drivers.
//!
//! [`Session`] is a small state machine in the crate's own sans-IO style: [`Session::next_step`]
//! says which driver call comes next ([`Step`]), [`Session::on_event`] checks what the broker
//! sent and prints the progress. [`drive!`] runs it on a driver. The blocking and the async
//! driver have the same methods, the async ones return futures; Rust cannot be generic over
//! that, so `drive!` is a macro that puts in the `.await` for the async driver.

use cortex_m_semihosting::hprintln;
use mqtt_ws::io::DriverError;
use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::{PacketId, Qos, ReasonCode};
use mqtt_ws::time::Duration;

use crate::{CLIENT_ID, DEADLINE_MS, KEEP_ALIVE_S, TOPIC, clock};

/// Size of each buffer: the driver's receive and transmit buffers, the client's in-flight store
/// and, with `ws`, the WebSocket layer's receive and transmit buffers.
pub const BUF: usize = 512;

/// The MQTT client of this firmware.
pub type MqttClient<'s> = Client<SliceStore<'s, 4>>;

/// The client, keeping its in-flight messages in `store`.
pub fn client(store: &mut [u8]) -> MqttClient<'_> {
    let mut config = Config::new(BUF);
    // PINGRESP may take longer than the short keep alive on a loaded host.
    config.ping_timeout = Some(Duration::from_secs(5));
    Client::new(SliceStore::new(store), config)
}

/// The three messages published, one at each QoS; each comes back with the QoS of its index.
const MESSAGES: [(Qos, &[u8]); 3] = [
    (Qos::AtMostOnce, b"qos0 from qemu"),
    (Qos::AtLeastOnce, b"qos1 from qemu"),
    (Qos::ExactlyOnce, b"qos2 from qemu"),
];

/// The driver call that comes next.
pub enum Step {
    /// `connect` with these options.
    Connect(ConnectOptions<'static>),
    /// Wait for the next event (`poll`), then [`Session::on_event`].
    Poll,
    /// `subscribe` to these.
    Subscribe([Subscription<'static>; 1]),
    /// `publish` message `.0` (its index in `MESSAGES`), then [`Session::published`].
    Publish(usize, Outgoing<'static>),
    /// `disconnect`.
    Disconnect,
    /// The session passed.
    Done,
}

#[derive(Clone, Copy)]
enum Phase {
    Connect,
    Subscribe,
    Publish(usize),
    Wait,
    Disconnect,
    Done,
}

/// Where the session stands.
pub struct Session {
    phase: Phase,
    ids: [Option<PacketId>; 3],
    acked: [bool; 3],
    received: [bool; 3],
    /// When the messages were all through and the idle phase began.
    idle_since: Option<u64>,
}

impl Session {
    pub fn new() -> Self {
        Session {
            phase: Phase::Connect,
            ids: [None; 3],
            acked: [false; 3],
            received: [false; 3],
            idle_since: None,
        }
    }

    /// The driver call to make now; fails once [`DEADLINE_MS`] passed.
    pub fn next_step(&mut self) -> Result<Step, &'static str> {
        let step = match self.phase {
            Phase::Connect => {
                self.phase = Phase::Wait;
                let mut options = ConnectOptions::new(CLIENT_ID);
                options.keep_alive = KEEP_ALIVE_S;
                Step::Connect(options)
            }
            Phase::Subscribe => {
                self.phase = Phase::Wait;
                Step::Subscribe([Subscription::new(TOPIC, Qos::ExactlyOnce)])
            }
            Phase::Publish(q) => {
                let (qos, payload) = MESSAGES[q];
                self.phase =
                    if q + 1 < MESSAGES.len() { Phase::Publish(q + 1) } else { Phase::Wait };
                Step::Publish(q, Outgoing::new(TOPIC, payload).qos(qos))
            }
            Phase::Wait if clock::now_ms() > DEADLINE_MS => return Err("deadline passed"),
            Phase::Wait => Step::Poll,
            Phase::Disconnect => {
                self.phase = Phase::Done;
                Step::Disconnect
            }
            Phase::Done => {
                hprintln!("DISCONNECT sent");
                Step::Done
            }
        };
        Ok(step)
    }

    /// Message `q` went out with `packet_id` (none at QoS 0, which has no acknowledgement).
    pub fn published(&mut self, q: usize, packet_id: Option<PacketId>) {
        self.ids[q] = packet_id;
        self.acked[q] = packet_id.is_none();
    }

    /// Checks what a `poll` returned and moves the session on.
    pub fn on_event(&mut self, event: Option<Event<'_>>) -> Result<(), &'static str> {
        match event {
            None => {}
            Some(Event::Connected(c)) => {
                hprintln!("CONNACK: session present {}", c.session_present);
                self.phase = Phase::Subscribe;
            }
            Some(Event::Subscribed { reason_codes, .. }) => {
                let granted = reason_codes.iter().next();
                hprintln!("SUBACK: {:?}", granted);
                if granted != Some(ReasonCode::GrantedQos2) {
                    return Err("subscription not granted at QoS 2");
                }
                self.phase = Phase::Publish(0);
            }
            Some(Event::Published { packet_id, reason_code: reason, .. }) => {
                let qos = self.ids.iter().position(|id| *id == Some(packet_id));
                hprintln!("ack of QoS {:?} publish: {:?}", qos, reason);
                if reason.is_error() {
                    return Err("publish refused");
                }
                match qos {
                    Some(q) => self.acked[q] = true,
                    None => return Err("ack for an unknown packet id"),
                }
            }
            Some(Event::Message(m)) => {
                hprintln!("message: {} {:?}", m.topic, m.qos);
                let q = MESSAGES.iter().position(|(_, payload)| *payload == m.payload);
                match q {
                    Some(q) if m.topic == TOPIC && m.qos as usize == q => self.received[q] = true,
                    _ => return Err("unexpected message"),
                }
            }
            Some(Event::Pong) => match self.idle_since {
                Some(idle_since) => {
                    hprintln!("PINGRESP after {} ms idle", clock::now_ms() - idle_since);
                    self.phase = Phase::Disconnect;
                }
                None => hprintln!("PINGRESP (before the idle phase)"),
            },
            Some(Event::Refused { reason_code: reason, .. }) => {
                hprintln!("CONNACK: {:?}", reason);
                return Err("connection refused");
            }
            Some(Event::Disconnected { reason_code: reason, .. }) => {
                hprintln!("DISCONNECT from broker: {:?}", reason);
                return Err("broker disconnected");
            }
            Some(_) => return Err("unexpected event"),
        }
        let all_through = self.acked.iter().chain(&self.received).all(|done| *done);
        if self.idle_since.is_none() && all_through {
            hprintln!(
                "all three messages acknowledged and received at {} ms; idle until keep-alive",
                clock::now_ms()
            );
            self.idle_since = Some(clock::now_ms());
        }
        Ok(())
    }
}

/// Runs a [`Session`] on `$conn`, a blocking or async driver (`io::blocking::Connection` or
/// `io::asynch::Connection`) of a [`MqttClient`]: `$poll` is how to wait for its next event, and
/// `await` after it makes every call `.await`. Evaluates to `Result<(), &'static str>`.
macro_rules! drive {
    ($conn:ident, $poll:expr $(, $await:tt)?) => {{
        use mqtt_ws::mqtt::ReasonCode;
        use mqtt_ws::mqtt::properties::Properties;
        use $crate::now;
        use $crate::session::{Session, Step, driver};
        let mut session = Session::new();
        loop {
            match session.next_step()? {
                Step::Connect(options) => {
                    $conn.connect(now(), &options)$(.$await)?.map_err(driver)?;
                }
                Step::Poll => session.on_event($poll$(.$await)?.map_err(driver)?)?,
                Step::Subscribe(filters) => {
                    $conn.subscribe(now(), &filters, Properties::EMPTY)$(.$await)?.map_err(driver)?;
                }
                Step::Publish(q, message) => {
                    let sent = $conn.publish(now(), &message)$(.$await)?.map_err(driver)?;
                    session.published(q, sent.packet_id);
                }
                Step::Disconnect => {
                    let reason = ReasonCode::NormalDisconnection;
                    $conn.disconnect(now(), reason, Properties::EMPTY)$(.$await)?.map_err(driver)?;
                }
                Step::Done => break Ok(()),
            }
        }
    }};
}
pub(crate) use drive;

/// Prints a driver error and names it for the failure message.
pub fn driver<T: core::fmt::Debug, M: core::fmt::Debug>(e: DriverError<T, M>) -> &'static str {
    hprintln!("driver error: {:?}", e);
    match e {
        DriverError::Machine(_) => "protocol error",
        DriverError::Transport(_) => "transport error",
        DriverError::Closed => "the connection was closed",
        DriverError::Eof => "the broker closed the connection",
        DriverError::ReceiveBufferTooSmall { .. } => "receive buffer too small",
        _ => "driver error",
    }
}

/// A xorshift32 generator. Stands in for a hardware RNG, which a real board must use instead.
#[cfg(feature = "ws")]
struct Xorshift(u32);

#[cfg(feature = "ws")]
impl Xorshift {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// The WebSocket opening handshake (subprotocol `mqtt`, [`DEADLINE_MS`] as its deadline) and
/// the source of the frames' mask keys, for [`ws_accepted`] after the driver ran it.
#[cfg(feature = "ws")]
pub fn ws_handshake()
-> Result<(mqtt_ws::ws::handshake::Client<'static>, impl FnMut() -> [u8; 4]), &'static str> {
    use mqtt_ws::time::Instant;
    use mqtt_ws::ws::handshake::{Client as Handshake, ClientRequest};

    let mut rng = Xorshift(0x2545_f491);
    let mut nonce = [0u8; 16];
    for chunk in nonce.chunks_mut(4) {
        chunk.copy_from_slice(&rng.next_u32().to_le_bytes());
    }
    let request = ClientRequest::new("127.0.0.1", "/mqtt").protocols(&["mqtt"]);
    let handshake = Handshake::new(request, nonce)
        .map_err(|_| "handshake request")?
        .with_deadline(Instant::from_millis(DEADLINE_MS));
    Ok((handshake, move || rng.next_u32().to_le_bytes()))
}

/// Checks the subprotocol the broker accepted in the handshake.
#[cfg(feature = "ws")]
pub fn ws_accepted(protocol: Option<&str>) -> Result<(), &'static str> {
    match protocol {
        Some("mqtt") => {
            hprintln!("websocket: open");
            Ok(())
        }
        _ => Err("broker did not accept the mqtt subprotocol"),
    }
}
