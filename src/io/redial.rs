//! The reconnect bookkeeping both `Reconnecting` drivers share: where the link is, the backoff
//! and the CONNECT count. The drivers add only the I/O (and their `.await`s) around it.
//!
//! Invariants: the link is `Up` only after a CONNECT went out on the current transport; every
//! way down (a failed connect, a transport or protocol error, a refusal or a DISCONNECT) goes
//! through [`Redial::schedule`], so each one waits out a backoff delay; after the first CONNECT
//! that went out, later ones resume the session (Clean Start 0).

use super::Backoff;
use crate::mqtt::client::{ConnectOptions, Event};
use crate::time::Instant;

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
}

impl Redial {
    pub(crate) fn new(backoff: Backoff) -> Self {
        Self { link: Link::Fresh, backoff, connects: 0 }
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

    /// Follows an event of the session: CONNACK accepted resets the backoff; a refusal or a
    /// DISCONNECT takes the link down (the old connection still owes its goodbye).
    pub(crate) fn on_event(&mut self, now: Instant, event: &Event<'_>) {
        match event {
            Event::Connected(_) => self.backoff.reset(),
            Event::Refused { .. } | Event::Disconnected { .. } => {
                self.schedule(now, true);
            }
            _ => {}
        }
    }
}
