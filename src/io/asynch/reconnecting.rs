//! [`Reconnecting`]: the async client driver that reconnects by itself.

use embedded_io_async::{Read, Write};

use super::Connection;
use crate::io::redial::{Link, Redial};
use crate::io::{Backoff, DriverError, Step};
use crate::mqtt::Qos;
use crate::mqtt::client::{Client, ConnectOptions, Outgoing, Sent, State, Store, UsageError};
use crate::time::Instant;

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
#[derive(Debug)]
pub struct Reconnecting<'b, 'o, T, C, M: crate::Machine> {
    conn: Connection<'b, T, M>,
    options: ConnectOptions<'o>,
    connect: C,
    redial: Redial,
}

impl<'b, 'o, T, C, CE, S, const I: usize, const A: usize, const L: usize>
    Reconnecting<'b, 'o, T, C, Client<S, I, A, L>>
where
    T: Read + Write,
    C: AsyncFnMut() -> Result<T, CE>,
    S: Store,
{
    /// A driver over `conn` (a transport connected, no CONNECT sent yet), connecting with
    /// `options` (the first time as given, then with Clean Start 0), opening new transports with
    /// `connect` after `backoff`.
    ///
    /// For messages to survive a reconnect, the session must outlive the network connection:
    /// give `options` a Session Expiry Interval > 0 (MQTT 5.0) or Clean Start 0 (3.1.1).
    pub fn new(
        conn: Connection<'b, T, Client<S, I, A, L>>,
        options: ConnectOptions<'o>,
        connect: C,
        backoff: Backoff,
    ) -> Self {
        Self { conn, options, connect, redial: Redial::new(backoff) }
    }

    /// The driver of the current connection.
    pub fn connection(&self) -> &Connection<'b, T, Client<S, I, A, L>> {
        &self.conn
    }

    /// The driver of the current connection, for the other commands (`subscribe`, ...). A
    /// transport failure there shows up as [`Step::Lost`] on the next poll.
    pub fn connection_mut(&mut self) -> &mut Connection<'b, T, Client<S, I, A, L>> {
        &mut self.conn
    }

    /// The session.
    pub fn client(&self) -> &Client<S, I, A, L> {
        self.conn.machine()
    }

    /// `true` once CONNACK accepted the current connection: commands can be sent.
    pub fn is_connected(&self) -> bool {
        self.redial.is_up() && self.client().state() == State::Connected
    }

    /// CONNECT packets sent so far (the first connection and every reconnect).
    pub fn connects(&self) -> u32 {
        self.redial.connects()
    }

    /// Takes the driver apart.
    pub fn into_parts(self) -> (Connection<'b, T, Client<S, I, A, L>>, C) {
        (self.conn, self.connect)
    }

    async fn send_connect(
        &mut self,
        now: Instant,
    ) -> Option<DriverError<T::Error, crate::mqtt::client::Error>> {
        let result = self.conn.connect(now, &self.options).await;
        self.redial.connect_sent(result, &mut self.options)
    }

    /// One step: connect or reconnect when due, otherwise [`Connection::poll`]. Never fails:
    /// failures are [`Step::Lost`] and [`Step::ConnectFailed`], after which the driver waits
    /// ([`Step::Offline`]) and tries again.
    pub async fn poll(&mut self, now: Instant) -> Step<'_, T::Error, CE, L> {
        match self.redial.link() {
            Link::Fresh => match self.send_connect(now).await {
                None => Step::Idle,
                Some(error) => Step::Lost { error, retry_at: self.redial.schedule(now, false) },
            },
            Link::Down { retry_at, cleanup } => {
                if cleanup {
                    // Best effort: the DISCONNECT a broker fault owes [MQTT-4.13.1-1].
                    let _ = self.conn.flush(now).await;
                    self.redial.cleaned_up();
                }
                if now < retry_at {
                    return Step::Offline { until: retry_at };
                }
                match (self.connect)().await {
                    Err(error) => {
                        Step::ConnectFailed { error, retry_at: self.redial.schedule(now, false) }
                    }
                    Ok(t) => {
                        drop(self.conn.replace_transport(t));
                        match self.send_connect(now).await {
                            None => Step::Idle,
                            Some(error) => {
                                Step::Lost { error, retry_at: self.redial.schedule(now, false) }
                            }
                        }
                    }
                }
            }
            Link::Up => match self.conn.poll(now).await {
                Ok(None) => Step::Idle,
                Ok(Some(ev)) => {
                    self.redial.on_event(now, &ev);
                    Step::Event(ev)
                }
                Err(error) => Step::Lost { error, retry_at: self.redial.schedule(now, true) },
            },
        }
    }

    /// Publishes `msg` ([`Client::publish`]); offline: [`UsageError::NotConnected`].
    ///
    /// A QoS 1/2 message the session accepted is `Ok` even if the transport failed while
    /// sending it: it is in the store and goes out again after the reconnect.
    pub async fn publish(
        &mut self,
        now: Instant,
        msg: &Outgoing<'_>,
    ) -> super::Result<Sent, T, Client<S, I, A, L>> {
        if !self.is_connected() {
            return Err(DriverError::Machine(UsageError::NotConnected.into()));
        }
        let sent =
            match self.conn.queue(now, |c, tx| c.publish(now, msg, tx).map(|s| (s, s.len))).await {
                Ok(sent) => sent,
                Err(e @ DriverError::Machine(_)) => return Err(e),
                Err(e) => {
                    self.redial.schedule(now, false);
                    return Err(e);
                }
            };
        match self.conn.flush(now).await {
            Ok(()) => Ok(sent),
            Err(e) => {
                self.redial.schedule(now, false);
                if msg.qos == Qos::AtMostOnce { Err(e) } else { Ok(sent) }
            }
        }
    }
}
