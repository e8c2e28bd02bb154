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
/// and `.await` for the latter).
#[cfg(feature = "mqtt")]
macro_rules! mqtt_commands {
    ($($async:tt $await:tt)?) => {
        /// Publishes `message`; returns its packet identifier for QoS 1 and 2 (the
        /// `Event::Published` that acknowledges it carries the same).
        pub $($async)? fn publish(&mut self, message: &$crate::mqtt::client::Outgoing<'_>) -> Result<Option<$crate::mqtt::PacketId>, $crate::net::Error> {
            Ok(self.conn.publish(self.clock.now(), message)$(.$await)??.packet_id)
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
            let sent = self.conn.subscribe(self.clock.now(), subscriptions, properties)$(.$await)??;
            sent.packet_id.ok_or($crate::net::Error::Closed)
        }

        /// Unsubscribes from one filter; returns the packet identifier `Event::Unsubscribed`
        /// carries.
        pub $($async)? fn unsubscribe(&mut self, filter: &str) -> Result<$crate::mqtt::PacketId, $crate::net::Error> {
            let sent =
                self.conn.unsubscribe(self.clock.now(), &[filter], $crate::mqtt::properties::Properties::EMPTY)$(.$await)??;
            sent.packet_id.ok_or($crate::net::Error::Closed)
        }

        /// The session (its state, the server's limits).
        pub fn client(&self) -> &Client<OwnedStore> {
            self.conn.machine()
        }

        /// The driver, for what the methods here do not cover (enhanced authentication,
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
                match self.conn.poll(now)$(.$await)? {
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

        /// Sends a text message.
        pub $($async)? fn send_text(&mut self, text: &str) -> Result<(), $crate::net::Error> {
            Ok(self.conn.send_text(self.clock.now(), text)$(.$await)??)
        }

        /// Sends a binary message.
        pub $($async)? fn send_binary(&mut self, data: &[u8]) -> Result<(), $crate::net::Error> {
            Ok(self.conn.send_binary(self.clock.now(), data)$(.$await)??)
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
                match self.conn.poll(self.clock.now())$(.$await)? {
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
