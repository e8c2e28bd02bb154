//! The reconnect bookkeeping both `Reconnecting` drivers share: where the link is, the backoff
//! and the CONNECT count. The drivers add only the I/O (and their `.await`s) around it.
//!
//! Invariants: the link is `Up` only after a CONNECT went out on the current transport; every
//! way down (a failed connect, a transport or protocol error, a refusal or a DISCONNECT) goes
//! through [`Redial::schedule`], so each one waits out a backoff delay; after the first CONNECT
//! that went out, later ones resume the session (Clean Start 0) when it outlives the connection
//! (a Session Expiry Interval > 0 in MQTT 5.0, Clean Session 0 in 3.1.1): a 3.1.1 client that
//! asked for a clean session never leaves a session behind on the broker.
//!
//! The backoff resets only when a connection has proved useful: after its CONNACK, the first
//! sign of progress (a message, an acknowledgement, a PINGRESP). A CONNACK alone is not enough:
//! a broker that accepts and then drops or faults the connection at once (a takeover fight
//! between two clients with the same identifier, a broker bug) would otherwise get a reconnect
//! at the base delay forever.

use super::{Backoff, DriverError};
use crate::mqtt::Version;
use crate::mqtt::client::{self, ConnectOptions, Event};
use crate::mqtt::message::DEFAULT_ALIAS_LEN;
use crate::time::Instant;

/// What one step of a reconnecting client driver did (`blocking::Reconnecting::poll`,
/// `asynch::Reconnecting::poll`).
///
/// `E` is the transport's error, `CE` the error of the caller's connect function, `N` the
/// client's `ALIAS_LEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a, E, CE, const N: usize = DEFAULT_ALIAS_LEN> {
    /// An event of the session. [`Event::Refused`] and [`Event::Disconnected`] also schedule a
    /// reconnect.
    Event(Event<'a, N>),
    /// Nothing for the caller this time (a timeout, a partial packet, a CONNECT sent).
    Idle,
    /// The connection broke: a transport error, end of stream, a broker fault or a missed
    /// CONNACK / PINGRESP. In-flight messages stay in the store; the next attempt is at
    /// `retry_at`.
    Lost {
        /// Why.
        error: DriverError<E, client::Error>,
        /// When the next connect attempt is due.
        retry_at: Instant,
    },
    /// The caller's connect function failed; the next attempt is at `retry_at`.
    ConnectFailed {
        /// The connect function's error.
        error: CE,
        /// When the next connect attempt is due.
        retry_at: Instant,
    },
    /// Offline, waiting for the backoff: nothing to do before `until` (sleep until then).
    Offline {
        /// When the next connect attempt is due.
        until: Instant,
    },
}

/// Where a reconnecting driver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// A transport is there, CONNECT not sent yet.
    Fresh,
    /// CONNECT sent (and maybe CONNACK received).
    Up,
    /// Offline until `retry_at`; `cleanup`: the old connection still owes its goodbye.
    Down { retry_at: Instant, cleanup: bool },
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Redial {
    link: Link,
    backoff: Backoff,
    connects: u32,
    /// A CONNECT went out for a session that outlives the connection: later ones resume it.
    resume: bool,
    /// CONNACK accepted on this link, no progress seen yet.
    on_probation: bool,
}

impl Redial {
    pub(crate) fn new(backoff: Backoff) -> Self {
        Self { link: Link::Fresh, backoff, connects: 0, resume: false, on_probation: false }
    }

    pub(crate) fn link(&self) -> Link {
        self.link
    }

    pub(crate) fn is_up(&self) -> bool {
        self.link == Link::Up
    }

    /// CONNECT packets sent so far.
    pub(crate) fn connects(&self) -> u32 {
        self.connects
    }

    /// Goes offline until the next backoff delay has passed; returns when that is.
    pub(crate) fn schedule(&mut self, now: Instant, cleanup: bool) -> Instant {
        self.on_probation = false;
        let retry_at = now + self.backoff.next_delay();
        self.link = Link::Down { retry_at, cleanup };
        retry_at
    }

    /// The old connection's goodbye has been attempted.
    pub(crate) fn cleaned_up(&mut self) {
        if let Link::Down { retry_at, .. } = self.link {
            self.link = Link::Down { retry_at, cleanup: false };
        }
    }

    /// Counts a CONNECT attempt with `options` and its `result`; once one went out the link is
    /// up and later CONNECTs resume the session [MQTT-4.4.0-1] if it outlives the connection,
    /// so nothing in flight is lost.
    pub(crate) fn connect_sent<E>(
        &mut self,
        result: Result<(), E>,
        options: &ConnectOptions<'_>,
    ) -> Option<E> {
        self.connects = self.connects.saturating_add(1);
        match result {
            Ok(()) => {
                self.link = Link::Up;
                self.resume = match options.version {
                    Version::V5 => options.session_expiry > 0,
                    Version::V3_1_1 => !options.clean_start,
                };
                None
            }
            Err(e) => Some(e),
        }
    }

    /// The options for the next CONNECT: `options`, with Clean Start 0 once there is a session
    /// to resume.
    pub(crate) fn options<'o>(&self, options: &ConnectOptions<'o>) -> ConnectOptions<'o> {
        ConnectOptions { clean_start: options.clean_start && !self.resume, ..*options }
    }

    /// Follows an event of the session: the first progress after an accepted CONNACK resets
    /// the backoff (see the [module docs](self)); a refusal or a DISCONNECT takes the link down
    /// (the old connection still owes its goodbye).
    pub(crate) fn on_event<const N: usize>(&mut self, now: Instant, event: &Event<'_, N>) {
        match event {
            Event::Connected(_) => self.on_probation = true,
            Event::Refused { .. } | Event::Disconnected { .. } => {
                self.schedule(now, true);
            }
            Event::Message(_)
            | Event::MessageStart { .. }
            | Event::MessageSkipped { .. }
            | Event::Published { .. }
            | Event::Subscribed { .. }
            | Event::Unsubscribed { .. }
            | Event::Pong
                if core::mem::take(&mut self.on_probation) =>
            {
                self.backoff.reset();
            }
            _ => {}
        }
    }

    /// The backoff's failed attempts since it was last reset.
    #[cfg(test)]
    fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }
}

/// `Reconnecting` for one driver, invoked in the driver's `reconnecting` module (its
/// `Connection`, `Result` and the names the body uses in scope): `$Read`/`$Write` are its
/// transport traits, `$Connect` the caller's connect closure (`FnMut` or `AsyncFnMut`), and
/// `async`/`await` make the async one. Written once: the two drivers differ only in these.
macro_rules! reconnecting {
    (
        $(#[$doc:meta])*
        $Read:path, $Write:path, $Connect:ident $(, $async:tt $await:tt)?
    ) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct Reconnecting<
            'b,
            'o,
            T,
            C,
            M: $crate::Machine,
            B: $crate::io::Buffer = &'b mut [u8],
        > {
            conn: Connection<'b, T, M, B>,
            options: ConnectOptions<'o>,
            connect: C,
            redial: Redial,
        }

        impl<'b, 'o, T, C, CE, S, B, const I: usize, const A: usize, const L: usize>
            Reconnecting<'b, 'o, T, C, Client<S, I, A, L>, B>
        where
            T: $Read + $Write,
            C: $Connect() -> Result<T, CE>,
            S: Store,
            B: $crate::io::Buffer,
        {
            /// A driver over `conn` (a transport connected, no CONNECT sent yet), connecting with
            /// `options`, opening new transports with `connect` after `backoff`.
            ///
            /// For messages to survive a reconnect, the session must outlive the network connection:
            /// give `options` a Session Expiry Interval > 0 (MQTT 5.0) or Clean Start 0 (3.1.1).
            /// Reconnects then resume it (Clean Start 0); otherwise they connect with `options` as
            /// given, so a 3.1.1 clean session stays clean.
            pub fn new(
                conn: Connection<'b, T, Client<S, I, A, L>, B>,
                options: ConnectOptions<'o>,
                connect: C,
                backoff: Backoff,
            ) -> Self {
                Self { conn, options, connect, redial: Redial::new(backoff) }
            }

            /// The driver of the current connection.
            pub fn connection(&self) -> &Connection<'b, T, Client<S, I, A, L>, B> {
                &self.conn
            }

            /// The driver of the current connection, for the other commands (`subscribe`, ...). A
            /// transport failure there shows up as [`Step::Lost`] on the next poll.
            pub fn connection_mut(&mut self) -> &mut Connection<'b, T, Client<S, I, A, L>, B> {
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
            pub fn into_parts(self) -> (Connection<'b, T, Client<S, I, A, L>, B>, C) {
                (self.conn, self.connect)
            }

            /// One step: connect or reconnect when due, otherwise [`Connection::poll`]. Never fails:
            /// failures are [`Step::Lost`] and [`Step::ConnectFailed`], after which the driver waits
            /// ([`Step::Offline`]) and tries again.
            pub $($async)? fn poll(&mut self, now: Instant) -> Step<'_, T::Error, CE, L> {
                step(&mut self.conn, &mut self.redial, &self.options, &mut self.connect, now)$(.$await)?
            }

            /// Publishes `msg` ([`Client::publish`]); offline: [`UsageError::NotConnected`].
            ///
            /// A QoS 1/2 message the session accepted is `Ok` even if the transport failed while
            /// sending it: it is in the store and goes out again after the reconnect.
            pub $($async)? fn publish(
                &mut self,
                now: Instant,
                msg: &Outgoing<'_>,
            ) -> super::Result<Sent, T, Client<S, I, A, L>> {
                if !self.is_connected() {
                    return Err(DriverError::Machine(UsageError::NotConnected.into()));
                }
                let sent =
                    match self.conn.queue(now, |c, tx| c.publish(now, msg, tx).map(|s| (s, s.len)))$(.$await)? {
                        Ok(sent) => sent,
                        Err(e @ DriverError::Machine(_)) => return Err(e),
                        Err(e) => {
                            self.redial.schedule(now, false);
                            return Err(e);
                        }
                    };
                match self.conn.flush(now)$(.$await)? {
                    Ok(()) => Ok(sent),
                    Err(e) => {
                        self.redial.schedule(now, false);
                        if msg.qos == Qos::AtMostOnce { Err(e) } else { Ok(sent) }
                    }
                }
            }
        }

        /// Sends CONNECT (resuming the session when there is one) and counts it.
        $($async)? fn send_connect<T, S, B, const I: usize, const A: usize, const L: usize>(
            conn: &mut Connection<'_, T, Client<S, I, A, L>, B>,
            redial: &mut Redial,
            options: &ConnectOptions<'_>,
            now: Instant,
        ) -> Option<DriverError<T::Error, $crate::mqtt::client::Error>>
        where
            T: $Read + $Write,
            S: Store,
            B: $crate::io::Buffer,
        {
            let result = conn.connect(now, &redial.options(options))$(.$await)?;
            redial.connect_sent(result, options)
        }

        /// [`Reconnecting::poll`] over the parts of a reconnecting driver: the connection, its
        /// bookkeeping, the options and the function opening a transport. For a client that
        /// owns its options (the std clients).
        pub(crate) $($async)? fn step<'c, T, C, CE, S, B, const I: usize, const A: usize, const L: usize>(
            conn: &'c mut Connection<'_, T, Client<S, I, A, L>, B>,
            redial: &mut Redial,
            options: &ConnectOptions<'_>,
            connect: &mut C,
            now: Instant,
        ) -> Step<'c, T::Error, CE, L>
        where
            T: $Read + $Write,
            C: $Connect() -> Result<T, CE>,
            S: Store,
            B: $crate::io::Buffer,
        {
            match redial.link() {
                Link::Fresh => match send_connect(conn, redial, options, now)$(.$await)? {
                    None => Step::Idle,
                    Some(error) => Step::Lost { error, retry_at: redial.schedule(now, false) },
                },
                Link::Down { retry_at, cleanup } => {
                    if cleanup {
                        // Best effort: the DISCONNECT a broker fault owes [MQTT-4.13.1-1].
                        let _ = conn.flush(now)$(.$await)?;
                        redial.cleaned_up();
                    }
                    if now < retry_at {
                        return Step::Offline { until: retry_at };
                    }
                    match connect()$(.$await)? {
                        Err(error) => Step::ConnectFailed { error, retry_at: redial.schedule(now, false) },
                        Ok(t) => {
                            drop(conn.replace_transport(t));
                            match send_connect(conn, redial, options, now)$(.$await)? {
                                None => Step::Idle,
                                Some(error) => Step::Lost { error, retry_at: redial.schedule(now, false) },
                            }
                        }
                    }
                }
                Link::Up => match conn.poll(now)$(.$await)? {
                    Ok(None) => Step::Idle,
                    Ok(Some(ev)) => {
                        redial.on_event(now, &ev);
                        Step::Event(ev)
                    }
                    Err(error) => Step::Lost { error, retry_at: redial.schedule(now, true) },
                },
            }
        }
    };
}

pub(crate) use reconnecting;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::client::Connected;
    use crate::mqtt::properties::Properties;
    use crate::time::Duration;

    fn connected() -> Event<'static> {
        Event::Connected(Connected {
            session_present: false,
            properties: Properties::EMPTY,
            unsent_stream: None,
        })
    }

    fn redial() -> (Redial, ConnectOptions<'static>) {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(10), 1);
        (Redial::new(backoff), ConnectOptions::new("id"))
    }

    /// Up with CONNACK, then `faults` drops with nothing in between: the delay must grow.
    #[test]
    fn a_connack_alone_does_not_reset_the_backoff() {
        let (mut r, options) = redial();
        let mut now = Instant::ZERO;
        let mut delays = heapless::Vec::<u64, 8>::new();
        for _ in 0..6 {
            assert_eq!(r.connect_sent::<()>(Ok(()), &options), None);
            r.on_event(now, &connected());
            let retry_at = r.schedule(now, true);
            delays.push((retry_at - now).as_millis() as u64).unwrap();
            now = retry_at;
        }
        assert_eq!(r.attempts(), 6);
        // Equal jitter: the n-th delay is in [d/2, d] for d = 10 ms * 2^n.
        for (n, d) in delays.iter().enumerate() {
            let full = 10u64 << n;
            assert!(*d >= full / 2 && *d <= full, "delay {n} = {d} ms, full {full}");
        }
    }

    #[test]
    fn reconnects_resume_only_a_session_that_outlives_the_connection() {
        let cases = [
            (Version::V5, true, 0, true),
            (Version::V5, true, 60, false),
            (Version::V5, false, 0, false),
            (Version::V3_1_1, true, 60, true),
            (Version::V3_1_1, false, 0, false),
        ];
        for (version, clean_start, session_expiry, again) in cases {
            let (mut r, options) = redial();
            let options = ConnectOptions { version, clean_start, session_expiry, ..options };
            // The first CONNECT as given.
            assert_eq!(r.options(&options).clean_start, clean_start);
            r.connect_sent::<()>(Ok(()), &options);
            let next = r.options(&options).clean_start;
            assert_eq!(next, again, "{version:?} clean {clean_start} expiry {session_expiry}");
        }
    }

    #[test]
    fn progress_after_connack_resets_the_backoff_once() {
        let progress: [Event<'static>; 2] = [
            Event::Pong,
            Event::Published {
                packet_id: crate::mqtt::PacketId::new(1).unwrap(),
                reason_code: crate::mqtt::ReasonCode::Success,
                properties: Properties::EMPTY,
            },
        ];
        for progress in progress {
            let (mut r, options) = redial();
            for _ in 0..3 {
                r.schedule(Instant::ZERO, false);
            }
            assert_eq!(r.attempts(), 3);
            // Progress before any CONNACK on this link counts for nothing.
            r.on_event(Instant::ZERO, &progress);
            assert_eq!(r.attempts(), 3);
            r.connect_sent::<()>(Ok(()), &options);
            r.on_event(Instant::ZERO, &connected());
            assert_eq!(r.attempts(), 3);
            r.on_event(Instant::ZERO, &progress);
            assert_eq!(r.attempts(), 0);
            // A later drop starts again from the base delay.
            let retry_at = r.schedule(Instant::ZERO, true);
            assert!(retry_at - Instant::ZERO <= Duration::from_millis(10));
        }
    }
}
