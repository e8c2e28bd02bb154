//! `-d`: a packet log on stderr in mosquitto's words (`Client ID sending CONNECT`, ...).
//!
//! It is written from what the program asks of the client and the events the client reports:
//! packets the session sends and answers by itself (PINGREQ and PINGRESP; PUBREL and PUBCOMP
//! of a received QoS 2 message) are not seen, and the PUBREC and PUBREL of a sent QoS 2
//! message are logged when its PUBCOMP arrives.

use std::collections::HashMap;
use std::fmt::Display;

use mqtt_ws::mqtt::{PacketId, ReasonCode};

/// The log, or nothing without `-d`.
pub(crate) struct Log {
    on: bool,
    /// The client id as mosquitto prints it: `(null)` until the broker assigns one.
    id: String,
    /// The last message id used: QoS 0 messages take the next one, as in mosquitto.
    last_mid: u16,
    /// The QoS of each message awaiting its acknowledgement, by packet identifier.
    in_flight: HashMap<u16, u8>,
}

impl Log {
    /// A log for the client `id` (empty: the broker assigns one); `on` is `-d`.
    pub(crate) fn new(on: bool, id: &str) -> Self {
        let id = if id.is_empty() { "(null)".into() } else { id.to_string() };
        Log { on, id, last_mid: 0, in_flight: HashMap::new() }
    }

    /// The client id from now on: the one the broker assigned (MQTT 5.0), once connected.
    pub(crate) fn name(&mut self, id: &str) {
        if !id.is_empty() {
            self.id = id.to_string();
        }
    }

    fn line(&self, what: impl Display) {
        if self.on {
            eprintln!("Client {} {what}", self.id);
        }
    }

    /// The message id of a command: its packet identifier, or the next number for QoS 0.
    fn mid(&mut self, packet_id: Option<PacketId>) -> u16 {
        self.last_mid = match packet_id {
            Some(id) => id.get(),
            None => self.last_mid.wrapping_add(1).max(1),
        };
        self.last_mid
    }

    pub(crate) fn connect(&self) {
        self.line("sending CONNECT");
    }

    /// CONNACK: 0, or the broker's refusal.
    pub(crate) fn connack(&mut self, code: u8) {
        self.last_mid = 0;
        self.in_flight.clear();
        self.line(format_args!("received CONNACK ({code})"));
    }

    /// SUBSCRIBE: a line per filter, as mosquitto_sub.
    pub(crate) fn subscribe(&mut self, packet_id: Option<PacketId>, filters: &[String], qos: u8) {
        let mid = self.mid(packet_id);
        for f in filters {
            self.line(format_args!(
                "sending SUBSCRIBE (Mid: {mid}, Topic: {f}, QoS: {qos}, Options: 0x00)"
            ));
        }
    }

    pub(crate) fn suback(&self) {
        self.line("received SUBACK");
    }

    pub(crate) fn unsubscribe(&mut self, packet_id: Option<PacketId>, filter: &str) {
        let mid = self.mid(packet_id);
        self.line(format_args!("sending UNSUBSCRIBE (Mid: {mid}, Topic: {filter})"));
    }

    pub(crate) fn unsuback(&self) {
        self.line("received UNSUBACK");
    }

    /// A PUBLISH sent; `packet_id` is what `publish` returned (QoS 1 and 2).
    pub(crate) fn publish(
        &mut self,
        packet_id: Option<PacketId>,
        (qos, retain): (u8, bool),
        topic: &str,
        len: usize,
    ) {
        let mid = self.mid(packet_id);
        if packet_id.is_some() {
            self.in_flight.insert(mid, qos);
        }
        let r = u8::from(retain);
        self.line(format_args!(
            "sending PUBLISH (d0, q{qos}, r{r}, m{mid}, '{topic}', ... ({len} bytes))"
        ));
    }

    /// The acknowledgement of a sent QoS 1 message (PUBACK) or QoS 2 message (PUBREC, and
    /// unless it refused the message, PUBREL and PUBCOMP).
    pub(crate) fn published(&mut self, packet_id: PacketId, reason: ReasonCode) {
        let mid = packet_id.get();
        let rc = reason.code();
        match self.in_flight.remove(&mid) {
            Some(2) => {
                self.line(format_args!("received PUBREC (Mid: {mid})"));
                if !reason.is_error() {
                    self.line(format_args!("sending PUBREL (m{mid})"));
                    self.line(format_args!("received PUBCOMP (Mid: {mid}, RC:{rc})"));
                }
            }
            _ => self.line(format_args!("received PUBACK (Mid: {mid}, RC:{rc})")),
        }
    }

    /// A PUBLISH received, and the acknowledgement the session sends for QoS 1 or 2.
    pub(crate) fn received(
        &self,
        (dup, qos, retain): (bool, u8, bool),
        mid: u16,
        topic: &str,
        len: usize,
    ) {
        let (d, r) = (u8::from(dup), u8::from(retain));
        self.line(format_args!(
            "received PUBLISH (d{d}, q{qos}, r{r}, m{mid}, '{topic}', ... ({len} bytes))"
        ));
        match qos {
            1 => self.line(format_args!("sending PUBACK (m{mid}, rc0)")),
            2 => self.line(format_args!("sending PUBREC (m{mid}, rc0)")),
            _ => {}
        }
    }

    pub(crate) fn disconnect(&self) {
        self.line("sending DISCONNECT");
    }

    /// DISCONNECT from the broker.
    pub(crate) fn disconnected(&self, reason: ReasonCode) {
        self.line(format_args!("received DISCONNECT ({})", reason.code()));
    }
}
