//! The names most programs use, without clashes: `use mqtt_ws::prelude::*;`.
//!
//! Where the MQTT and WebSocket layers have a type of the same name (`Connection`, `Config`,
//! `Client`, `Event`, `Error`), the prelude names them apart: `MqttEvent`, `MqttConfig`,
//! `WsConnection`, `WsConfig`, and so on.

pub use crate::time::{Duration, Instant};
pub use crate::{BufferTooSmall, Machine, Status};

#[cfg(feature = "mqtt")]
pub use crate::mqtt::client::{
    Client as MqttSession, Config as MqttConfig, ConnectOptions, Outgoing, SliceStore,
};
#[cfg(feature = "mqtt")]
pub use crate::mqtt::packet::Subscription;
#[cfg(feature = "mqtt")]
pub use crate::mqtt::properties::Properties;
#[cfg(feature = "mqtt")]
pub use crate::mqtt::{Qos, ReasonCode};

#[cfg(feature = "ws")]
pub use crate::ws::close::CloseCode;
#[cfg(feature = "ws")]
pub use crate::ws::connection::{
    Config as WsConfig, Connection as WsConnection, Event as WsEvent, MessageKind,
};

#[cfg(all(feature = "std", any(feature = "mqtt", feature = "ws")))]
pub use crate::io::StdIo;
#[cfg(all(feature = "std", feature = "ws"))]
pub use crate::net::{AcceptOptions, WebSocket, WsMessage};
#[cfg(all(feature = "std", any(feature = "mqtt", feature = "ws")))]
pub use crate::net::{Error, Options, Url};
#[cfg(all(feature = "std", feature = "mqtt"))]
pub use crate::net::{Event as MqttEvent, Message as MqttMessage, MqttClient};
