//! std conveniences over the sans-IO core (feature `std`): connect from a URL, buffers owned
//! and sized by [`Options`], the clock read by the client, randomness from the operating
//! system. What a device does by hand with the drivers, a program on std does in a line:
//!
//! ```no_run
//! use mqtt_ws::prelude::*;
//!
//! let mut mqtt = MqttClient::connect("mqtt://127.0.0.1:1883", &ConnectOptions::new("sensor-1"))?;
//! mqtt.publish(&Outgoing::new("sensors/temperature", b"21.5").qos(Qos::AtLeastOnce))?;
//! mqtt.disconnect()?;
//! # Ok::<(), mqtt_ws::net::Error>(())
//! ```

/// The commands of the MQTT clients, written once for the blocking and the tokio one (`async`
/// and `.await` for the latter): `payload` is the type `publish_from` reads the payload from,
/// `read` the function that reads some of it into a slice.
#[cfg(feature = "mqtt")]
macro_rules! mqtt_commands {
    ($($async:ident $await:ident)?; payload: $payload:ty, read: $read:path) => {
        /// Publishes `message`; returns its packet identifier for QoS 1 and 2 (the
        /// `Event::Published` that acknowledges it carries the same).
        ///
        /// A client that reconnects: offline, fails with `UsageError::NotConnected`; a QoS 1 or 2
        /// message is accepted even if the connection breaks while it is sent (it is in the
        /// store and goes out again when the session resumes), the loss reported by the next
        /// wait for an event.
        pub $($async)? fn publish(&mut self, message: &$crate::mqtt::client::Outgoing<'_>) -> Result<Option<$crate::mqtt::PacketId>, $crate::net::Error> {
            let now = self.clock.now();
            let Some(redial) = self.redial.as_deref_mut() else {
                return Ok(self.conn.publish(now, message)$(.$await)??.packet_id);
            };
            if !redial.is_connected(self.conn.machine()) {
                return Err($crate::net::mqtt::not_connected());
            }
            let queue = |c: &mut Client<OwnedStore>, tx: &mut [u8]| {
                c.publish(now, message, tx).map(|sent| (sent, sent.len))
            };
            let sent = self.conn.queue(now, queue)$(.$await)?.map_err(|e| redial.failed(now, e))?;
            match self.conn.flush(now)$(.$await)? {
                Ok(()) => Ok(sent.packet_id),
                Err(e) => {
                    let e = redial.failed(now, e);
                    if sent.packet_id.is_some() { Ok(sent.packet_id) } else { Err(e) }
                }
            }
        }

        /// Publishes `message` with a payload of `payload_len` bytes read from `payload`, in
        /// pieces: a file larger than any buffer goes out in the memory of the transmit buffer
        /// and a 16 KiB read buffer. `message.payload` must be empty. Returns the packet
        /// identifier for QoS 1 and 2, as `publish` does.
        ///
        /// The whole packet is checked against the broker's Maximum Packet Size before anything
        /// is sent [MQTT-3.1.2-24]. Exactly `payload_len` bytes are read; if `payload` ends (or
        /// fails) before, the packet cannot be completed: the connection is closed and the error
        /// returned (`UsageError::PayloadTooShort`, or the read's error).
        ///
        /// A failure before the whole packet is sent (the reader's, the connection's) is
        /// returned and the message forgotten. The payload is not kept for a retransmission: a
        /// QoS 1 or 2 message sent whole whose acknowledgement has not come when the connection
        /// breaks is named by `Event::Reconnected`'s `unsent_stream` (a client that
        /// reconnects); publish it again.
        ///
        /// The async one is not cancel safe: a PUBLISH dropped half-way leaves the connection
        /// unusable (the broker counts what comes next as its payload); drop the client then.
        pub $($async)? fn publish_from(
            &mut self,
            message: &$crate::mqtt::client::Outgoing<'_>,
            payload_len: usize,
            mut payload: $payload,
        ) -> Result<Option<$crate::mqtt::PacketId>, $crate::net::Error> {
            /// The read buffer's size.
            const CHUNK: usize = 16 * 1024;
            self.online()?;
            let now = self.clock.now();
            let sent = self.conn.publish_stream(now, message, payload_len)$(.$await)?;
            let sent = sent.map_err(|e| self.failed(now, e))?;
            let mut buf = std::vec![0u8; CHUNK.min(payload_len).max(1)];
            let mut left = payload_len;
            while left > 0 {
                let want = buf.get_mut(..left.min(CHUNK)).unwrap_or_default();
                let n = match $read(&mut payload, want)$(.$await)? {
                    Ok(0) => break,
                    Ok(n) => n.min(left),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.abort_stream(sent.packet_id)$(.$await)?;
                        return Err($crate::net::Error::Io(e));
                    }
                };
                let now = self.clock.now();
                let chunk = buf.get(..n).unwrap_or_default();
                if let Err(e) = self.conn.publish_chunk(now, chunk)$(.$await)? {
                    self.abort_stream(sent.packet_id)$(.$await)?;
                    return Err(self.failed(now, e));
                }
                left -= n;
            }
            let now = self.clock.now();
            match self.conn.publish_end(now)$(.$await)? {
                Ok(_) => Ok(sent.packet_id),
                Err($crate::io::DriverError::Machine(e)) => {
                    self.abort_stream(sent.packet_id)$(.$await)?;
                    Err($crate::net::Error::Mqtt(e))
                }
                Err(e) => {
                    self.abort_stream(sent.packet_id)$(.$await)?;
                    Err(self.failed(now, e))
                }
            }
        }

        /// A streamed PUBLISH that cannot be completed: the connection ends (the broker reads
        /// whatever comes next as its payload; a client that reconnects connects again), and
        /// the message (the caller gets the error) leaves the store.
        $($async)? fn abort_stream(&mut self, id: Option<$crate::mqtt::PacketId>) {
            let now = self.clock.now();
            if self.conn.machine().stream_remaining().is_some() {
                let end = $crate::net::transport::Ending::Normal;
                self.conn.transport().end(end, core::time::Duration::ZERO)$(.$await)?;
                self.conn.machine_mut().connection_lost();
                let _ = self.failed(now, $crate::io::DriverError::Eof);
            }
            if let Some(id) = id {
                self.conn.machine_mut().discard(id);
            }
        }

        /// Subscribes to one filter; returns the packet identifier `Event::Subscribed`
        /// carries.
        pub $($async)? fn subscribe(&mut self, filter: &str, qos: $crate::mqtt::Qos) -> Result<$crate::mqtt::PacketId, $crate::net::Error> {
            self.subscribe_many(&[$crate::mqtt::packet::Subscription::new(filter, qos)], $crate::mqtt::properties::Properties::EMPTY)$(.$await)?
        }

        /// Subscribes to several filters with their options, in one SUBSCRIBE.
        pub $($async)? fn subscribe_many(
            &mut self,
            subscriptions: &[$crate::mqtt::packet::Subscription<'_>],
            properties: $crate::mqtt::properties::Properties<'_>,
        ) -> Result<$crate::mqtt::PacketId, $crate::net::Error> {
            self.online()?;
            let now = self.clock.now();
            let sent = self.conn.subscribe(now, subscriptions, properties)$(.$await)?;
            let sent = sent.map_err(|e| self.failed(now, e))?;
            sent.packet_id.ok_or($crate::net::Error::Closed)
        }

        /// Unsubscribes from one filter; returns the packet identifier `Event::Unsubscribed`
        /// carries.
        pub $($async)? fn unsubscribe(&mut self, filter: &str) -> Result<$crate::mqtt::PacketId, $crate::net::Error> {
            self.online()?;
            let now = self.clock.now();
            let sent =
                self.conn.unsubscribe(now, &[filter], $crate::mqtt::properties::Properties::EMPTY)$(.$await)?;
            let sent = sent.map_err(|e| self.failed(now, e))?;
            sent.packet_id.ok_or($crate::net::Error::Closed)
        }

        /// Sends AUTH (MQTT 5.0 enhanced authentication, §4.12) with the Authentication Method
        /// CONNECT named (`ConnectOptions::auth_method`): `ContinueAuthentication` answers the
        /// broker's `Event::Auth` challenge, `ReAuthenticate` starts a re-authentication on a
        /// live connection. The broker's answers arrive as `Event::Auth`.
        ///
        /// ```no_run
        /// # use mqtt_ws::prelude::*;
        /// # fn answer(challenge: &[u8]) -> Vec<u8> { challenge.to_vec() }
        /// # fn run(mut mqtt: MqttClient) -> Result<(), mqtt_ws::net::Error> {
        /// mqtt.auth(ReasonCode::ReAuthenticate, "SCRAM-SHA-256", Some(b"client-first"))?;
        /// while let Some(event) = mqtt.next()? {
        ///     match event {
        ///         MqttEvent::Auth { reason_code: ReasonCode::ContinueAuthentication, method, data } => {
        ///             let response = answer(data.as_deref().unwrap_or_default());
        ///             let method = method.unwrap_or_default();
        ///             mqtt.auth(ReasonCode::ContinueAuthentication, &method, Some(&response))?;
        ///         }
        ///         MqttEvent::Auth { reason_code: ReasonCode::Success, .. } => break,
        ///         _ => {}
        ///     }
        /// }
        /// # Ok(()) }
        /// ```
        pub $($async)? fn auth(
            &mut self,
            reason_code: $crate::mqtt::ReasonCode,
            method: &str,
            data: Option<&[u8]>,
        ) -> Result<(), $crate::net::Error> {
            use $crate::mqtt::properties::{PropertiesBuilder, Property};
            let mut buf = std::vec![0u8; method.len() + data.map_or(0, <[u8]>::len) + 16];
            let mut properties = PropertiesBuilder::new(&mut buf);
            let encode = |e| $crate::net::Error::Mqtt($crate::mqtt::client::Error::from(e));
            properties.push(Property::AuthenticationMethod(method)).map_err(encode)?;
            if let Some(data) = data {
                properties.push(Property::AuthenticationData(data)).map_err(encode)?;
            }
            let now = self.clock.now();
            let sent = self.conn.auth(now, reason_code, properties.finish())$(.$await)?;
            sent.map_err(|e| self.failed(now, e))
        }

        /// `true` when commands can be sent: CONNACK accepted the current connection (a client
        /// that reconnects is offline between `Event::ConnectionLost` and `Event::Reconnected`).
        pub fn is_connected(&self) -> bool {
            match &self.redial {
                Some(r) => r.is_connected(self.conn.machine()),
                None => self.conn.machine().state() == $crate::mqtt::client::State::Connected,
            }
        }

        /// `Err(NotConnected)` while a client that reconnects is offline.
        fn online(&self) -> Result<(), $crate::net::Error> {
            match &self.redial {
                Some(r) if !r.is_connected(self.conn.machine()) => Err($crate::net::mqtt::not_connected()),
                _ => Ok(()),
            }
        }

        /// A command's failure as the client reports it (see `Redialer::failed`).
        fn failed(&mut self, now: $crate::time::Instant, e: $crate::io::DriverError<std::io::Error, $crate::mqtt::client::Error>) -> $crate::net::Error {
            match self.redial.as_deref_mut() {
                Some(r) => r.failed(now, e),
                None => e.into(),
            }
        }

        /// The client identifier of the session: the Assigned Client Identifier CONNACK
        /// carried when CONNECT's was empty (MQTT 5.0 §3.2.2.3.7), otherwise the one
        /// `ConnectOptions::client_id` gave. A client that reconnects connects again with it,
        /// so a session that outlives the connection resumes.
        pub fn client_id(&self) -> &str {
            &self.client_id
        }

        /// The session (its state, the server's limits).
        pub fn client(&self) -> &Client<OwnedStore> {
            self.conn.machine()
        }

        /// The driver, for what the methods here do not cover (DISCONNECT with a reason code,
        /// request and response, a borrowed event per `poll`); time from
        /// [`now`](Self::now).
        pub fn driver(&mut self) -> &mut Driver {
            &mut self.conn
        }

        /// The client's clock, as the driver's commands take it.
        pub fn now(&self) -> $crate::time::Instant {
            self.clock.now()
        }
    };
}

/// The message loop of the WebSocket helpers, written once for the blocking and the tokio one
/// (`async` and `.await` for the latter).
#[cfg(feature = "ws")]
macro_rules! websocket_commands {
    ($($async:tt $await:tt)?) => {
        /// The subprotocol agreed in the opening handshake, if any.
        pub fn protocol(&self) -> Option<&str> {
            self.protocol.as_deref()
        }

        /// Waits for the next whole message; pings are answered meanwhile. `Ok(None)` once the
        /// closing handshake is done (the peer's, or one [`close`](Self::close) started).
        pub $($async)? fn recv(&mut self) -> Result<Option<$crate::net::WsMessage>, $crate::net::Error> {
            loop {
                let now = self.clock.now();
                let step = (match self.inflater.as_mut() {
                    #[cfg(feature = "deflate")]
                    Some(inflater) => self.conn.poll_inflate(now, inflater)$(.$await)?,
                    #[cfg(not(feature = "deflate"))]
                    Some(never) => match *never {},
                    None => self.conn.poll(now)$(.$await)?,
                });
                match step {
                    Ok(Some($crate::ws::connection::Event::Data { kind, data, last })) => {
                        match self.message.push(kind, data, last) {
                            Ok(Some(message)) => return Ok(Some(message)),
                            Ok(None) => {}
                            Err(required) => {
                                self.conn.close(now, $crate::ws::close::CloseCode::MessageTooBig, "")$(.$await)??;
                                return Err($crate::net::Error::BufferTooSmall { required });
                            }
                        }
                    }
                    Ok(_) => {}
                    Err($crate::io::DriverError::Closed) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            }
        }

        /// Sends a whole message.
        pub $($async)? fn send(&mut self, message: &$crate::net::WsMessage) -> Result<(), $crate::net::Error> {
            match message {
                $crate::net::WsMessage::Text(t) => self.send_text(t)$(.$await)?,
                $crate::net::WsMessage::Binary(b) => self.send_binary(b)$(.$await)?,
            }
        }

        /// Sends a text message (compressed when permessage-deflate was agreed).
        pub $($async)? fn send_text(&mut self, text: &str) -> Result<(), $crate::net::Error> {
            self.send_kind($crate::ws::connection::MessageKind::Text, text.as_bytes())$(.$await)?
        }

        /// Sends a binary message (compressed when permessage-deflate was agreed).
        pub $($async)? fn send_binary(&mut self, data: &[u8]) -> Result<(), $crate::net::Error> {
            self.send_kind($crate::ws::connection::MessageKind::Binary, data)$(.$await)?
        }

        $($async)? fn send_kind(
            &mut self,
            kind: $crate::ws::connection::MessageKind,
            data: &[u8],
        ) -> Result<(), $crate::net::Error> {
            let now = self.clock.now();
            Ok(match self.compressor.as_mut() {
                #[cfg(feature = "deflate")]
                Some(compressor) => self.conn.send_compressed(now, kind, compressor, data)$(.$await)??,
                #[cfg(not(feature = "deflate"))]
                Some(never) => match *never {},
                None => self.conn.send(now, kind, data)$(.$await)??,
            })
        }

        /// Sends a ping (the peer's pong is not reported).
        pub $($async)? fn ping(&mut self, payload: &[u8]) -> Result<(), $crate::net::Error> {
            Ok(self.conn.ping(self.clock.now(), payload)$(.$await)??)
        }

        /// Runs the closing handshake: sends a close frame with `code`, then reads (dropping
        /// messages) until the peer's close frame arrives or the connection ends.
        pub $($async)? fn close(&mut self, code: $crate::ws::close::CloseCode, reason: &str) -> Result<(), $crate::net::Error> {
            self.conn.close(self.clock.now(), code, reason)$(.$await)??;
            loop {
                let now = self.clock.now();
                let step = (match self.inflater.as_mut() {
                    #[cfg(feature = "deflate")]
                    Some(inflater) => self.conn.poll_inflate(now, inflater)$(.$await)?,
                    #[cfg(not(feature = "deflate"))]
                    Some(never) => match *never {},
                    None => self.conn.poll(now)$(.$await)?,
                });
                match step {
                    Ok(_) => {}
                    Err($crate::io::DriverError::Closed | $crate::io::DriverError::Eof) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
        }

        /// The driver, for what the methods here do not cover (pieces of a message as they
        /// arrive); time from [`now`](Self::now).
        pub fn driver(&mut self) -> &mut WsDriver<K> {
            &mut self.conn
        }

        /// The connection's clock, as the driver's commands take it.
        pub fn now(&self) -> $crate::time::Instant {
            self.clock.now()
        }
    };
}

mod error;
#[cfg(feature = "mqtt")]
mod mqtt;
mod random;
#[cfg(feature = "tokio")]
pub mod tokio;
mod transport;
mod url;
#[cfg(feature = "ws")]
mod websocket;

pub use error::Error;
#[cfg(feature = "mqtt")]
pub use mqtt::{Driver, Event, Message, MqttClient, OwnedStore};
pub use random::{OsRandom, random};
#[cfg(feature = "mqtt")]
pub use transport::Reconnect;
#[cfg(feature = "ws")]
pub use transport::WsStream;
pub use transport::{Options, Socket, Transport};
pub use url::{Scheme, Url, UrlError};
#[cfg(feature = "ws")]
pub use websocket::{AcceptOptions, WebSocket, WsDriver, WsMessage};

use crate::time::Instant;

/// A monotonic clock as the state machines read it: milliseconds since it was made.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Clock { start: std::time::Instant::now() }
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        Instant::ZERO + self.start.elapsed()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// What a receive or transmit buffer keeps while the connection waits.
const BUFFER_FLOOR: usize = 4096;

/// A receive or transmit buffer: small while the connection waits, growing to `len` bytes (the
/// largest packet or frame) when one comes.
pub(crate) fn buffer(len: usize) -> crate::io::ElasticBuffer {
    crate::io::ElasticBuffer::new(BUFFER_FLOOR.min(len), len)
}
