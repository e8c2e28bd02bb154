//! [`Reconnecting`]: the async client driver that reconnects by itself.

use embedded_io_async::{Read, Write};

use super::Connection;
use crate::io::redial::{Link, Redial, reconnecting};
use crate::io::{Backoff, DriverError, Step};
use crate::mqtt::Qos;
use crate::mqtt::client::{Client, ConnectOptions, Outgoing, Sent, State, Store, UsageError};
use crate::time::Instant;

reconnecting! {
    /// A client [`Connection`] that reconnects by itself: on any connection failure it waits with
    /// exponential [`Backoff`], opens a new transport with the caller's `connect` function and
    /// resumes the session with Clean Start 0, so unacknowledged QoS 1/2 messages are re-sent with
    /// DUP and owed PUBRELs go out again [MQTT-4.4.0-1].
    ///
    /// The session state machine knows nothing of this: the driver swaps the transport (the
    /// session hears [`Client::connection_lost`]) and calls [`Client::connect`] again. Every failure
    /// is reported as a [`Step`] and never ends the driver; a broker that stalls is detected by the
    /// keep alive (use a keep alive > 0: the bound is keep alive + PINGRESP timeout) and a missing
    /// CONNACK by `Config::connect_timeout`.
    ///
    /// The async twin of [`blocking::Reconnecting`](crate::io::blocking::Reconnecting) (see its
    /// example): `connect` is an async closure opening a transport; on [`Step::Offline`] sleep with
    /// your executor's timer until the instant given, and race [`Reconnecting::poll`] against a
    /// timer at [`Connection::poll_timeout`] as for [`Connection::poll`].
    Read, Write, AsyncFnMut, async await
}
