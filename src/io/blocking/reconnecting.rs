//! [`Reconnecting`]: the blocking client driver that reconnects by itself.

use embedded_io::{Read, Write};

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
    /// ```no_run
    /// # #[cfg(feature = "std")] {
    /// use mqtt_ws::io::{Backoff, StdIo, Step, blocking::{Connection, Reconnecting}};
    /// use mqtt_ws::mqtt::client::{Client, Config, ConnectOptions, Event, SliceStore};
    /// use mqtt_ws::time::{Duration, Instant};
    /// let open = || -> std::io::Result<StdIo<std::net::TcpStream>> {
    ///     let tcp = std::net::TcpStream::connect("127.0.0.1:1883")?;
    ///     tcp.set_read_timeout(Some(std::time::Duration::from_millis(500)))?;
    ///     Ok(StdIo(tcp))
    /// };
    /// let start = std::time::Instant::now();
    /// let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    /// let (mut rx, mut tx, mut store) = ([0u8; 1024], [0u8; 1024], [0u8; 4096]);
    /// let client: Client<SliceStore<'_, 16>> =
    ///     Client::new(SliceStore::new(&mut store), Config::new(rx.len()));
    /// let conn = Connection::new(open().unwrap(), client, &mut rx, &mut tx);
    /// let mut options = ConnectOptions::new("light-1");
    /// options.clean_start = false;
    /// options.session_expiry = 3600;
    /// options.keep_alive = 30;
    /// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30), 7);
    /// let mut link = Reconnecting::new(conn, options, open, backoff);
    /// loop {
    ///     match link.poll(now()) {
    ///         Step::Event(Event::Message(m)) => println!("{}: {:?}", m.topic, m.payload),
    ///         Step::Offline { until } => {
    ///             let ms = until.saturating_duration_since(now());
    ///             std::thread::sleep(ms);
    ///         }
    ///         Step::Lost { error, .. } => eprintln!("connection lost: {error}"),
    ///         _ => {}
    ///     }
    /// }
    /// # }
    /// ```
    Read, Write, FnMut
}
