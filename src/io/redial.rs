//! The reconnect bookkeeping both `Reconnecting` drivers share: where the link is, the backoff
//! and the CONNECT count. The drivers add only the I/O (and their `.await`s) around it.
//!
//! Invariants: the link is `Up` only after a CONNECT went out on the current transport; every
//! way down (a failed connect, a transport or protocol error, a refusal or a DISCONNECT) goes
//! through [`Redial::schedule`], so each one waits out a backoff delay; after the first CONNECT
//! that went out, later ones resume the session (Clean Start 0).
//!
//! The backoff resets only when a connection has proved useful: after its CONNACK, the first
//! sign of progress (a message, an acknowledgement, a PINGRESP). A CONNACK alone is not enough:
//! a broker that accepts and then drops or faults the connection at once (a takeover fight
//! between two clients with the same identifier, a broker bug) would otherwise get a reconnect
//! at the base delay forever.

use super::{Backoff, DriverError};
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
    /// CONNACK accepted on this link, no progress seen yet.
    on_probation: bool,
}

impl Redial {
    pub(crate) fn new(backoff: Backoff) -> Self {
        Self { link: Link::Fresh, backoff, connects: 0, on_probation: false }
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

    /// Counts a CONNECT attempt with its `result`; once one went out the link is up and later
    /// CONNECTs resume the session [MQTT-4.4.0-1], so nothing in flight is lost.
    pub(crate) fn connect_sent<E>(
        &mut self,
        result: Result<(), E>,
        options: &mut ConnectOptions<'_>,
    ) -> Option<E> {
        self.connects = self.connects.saturating_add(1);
        match result {
            Ok(()) => {
                self.link = Link::Up;
                options.clean_start = false;
                None
            }
            Err(e) => Some(e),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::client::Connected;
    use crate::mqtt::properties::Properties;
    use crate::time::Duration;

    fn connected() -> Event<'static> {
        Event::Connected(Connected { session_present: false, properties: Properties::EMPTY })
    }

    fn redial() -> (Redial, ConnectOptions<'static>) {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(10), 1);
        (Redial::new(backoff), ConnectOptions::new("id"))
    }

    /// Up with CONNACK, then `faults` drops with nothing in between: the delay must grow.
    #[test]
    fn a_connack_alone_does_not_reset_the_backoff() {
        let (mut r, mut options) = redial();
        let mut now = Instant::ZERO;
        let mut delays = heapless::Vec::<u64, 8>::new();
        for _ in 0..6 {
            assert_eq!(r.connect_sent::<()>(Ok(()), &mut options), None);
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
            let (mut r, mut options) = redial();
            for _ in 0..3 {
                r.schedule(Instant::ZERO, false);
            }
            assert_eq!(r.attempts(), 3);
            // Progress before any CONNACK on this link counts for nothing.
            r.on_event(Instant::ZERO, &progress);
            assert_eq!(r.attempts(), 3);
            r.connect_sent::<()>(Ok(()), &mut options);
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
