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

mod error;
#[cfg(feature = "mqtt")]
mod mqtt;
mod random;
#[cfg(all(feature = "tokio", feature = "mqtt"))]
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
        Instant::from_millis(transport::millis(self.start.elapsed()))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
