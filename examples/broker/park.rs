//! Idle connections without a task. A plain TCP connection that has gone quiet is parked: its
//! driver, state and channel are kept in one small allocation, and its waker (that allocation)
//! is left with the three things that can wake it: the socket's readiness, its channel, and the
//! broker's one timer for parked connections. The first to wake it spawns its task again. An
//! idle connection so holds no task (a tokio task is 512 bytes with its cell's alignment) and no
//! timer of its own, as an event loop over sockets holds none (Mosquitto's).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant as StdInstant;

use tokio::runtime::Handle;
use tokio::sync::Notify;

use super::chan::Receiver;
use super::conn::{Conn, Driver, Woke};
use super::listen::{Counted, Link, Spawn};
use super::{Broker, Cmd, Stamp};

/// A connection's session, out of its task.
pub(crate) struct Parked<T: Link> {
    pub(crate) conn: Box<Driver<T>>,
    pub(crate) c: Box<Conn>,
    pub(crate) rx: Receiver<Cmd>,
    pub(crate) counted: Counted,
}

/// A parked connection and when its timer is due; empty once woken.
struct Park<T: Link> {
    slot: Mutex<Option<(Parked<T>, Option<Stamp>)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Parks `p` until its socket is readable, a message is routed to it, or `wake` has come; or
/// spawns its task again at once if one of them already has.
pub(crate) fn park<T: Spawn>(mut p: Parked<T>, wake: Option<StdInstant>)
where
    Parked<T>: Send,
{
    let park = Arc::new(Park { slot: Mutex::new(None) });
    let waker = Waker::from(park.clone());
    let mut cx = Context::from_waker(&waker);
    // The waker is handed out under the lock: a wake-up meanwhile waits for it, then finds the
    // connection in its place.
    let mut slot = lock(&park.slot);
    let woke = if p.conn.transport().poll_readable(&mut cx).is_ready() {
        Some(Woke::Readable)
    } else if let Poll::Ready(Some(cmd)) = p.rx.poll_recv(&mut cx) {
        Some(Woke::Routed(cmd))
    } else {
        None
    };
    if let Some(woke) = woke {
        drop(slot);
        return T::resume(p, woke);
    }
    let broker = p.c.broker();
    let at = wake.map(|at| broker.stamp_at(at));
    if let Some(at) = at {
        broker.timers.add(at, p.c.id(), waker.clone());
    }
    *slot = Some((p, at));
}

impl<T: Spawn> Wake for Park<T>
where
    Parked<T>: Send,
{
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // The first wake-up takes the connection; the wakers left with the others are stale.
        let Some((mut p, at)) = lock(&self.slot).take() else { return };
        let broker = p.c.broker();
        let due = at.is_some_and(|at| broker.stamp() >= at);
        if let Some(at) = at {
            broker.timers.cancel(at, p.c.id());
        }
        let woke = match p.rx.try_recv() {
            Some(cmd) => Woke::Routed(cmd),
            None if due => Woke::Timer,
            None => Woke::Readable,
        };
        T::resume(p, woke);
    }
}

/// The timer of every parked connection: one sleep, until the earliest is due
/// ([`Broker::run_timers`]).
#[derive(Default)]
pub(crate) struct Timers {
    /// By time and connection.
    due: Mutex<BTreeMap<(Stamp, u64), Waker>>,
    /// An earlier time than the one slept until was added.
    earlier: Notify,
    /// Where woken connections' tasks are spawned (a wake-up may come from any thread).
    runtime: OnceLock<Handle>,
}

impl Timers {
    /// Wakes `waker` at `at` (`id` tells it apart from others due then).
    fn add(&self, at: Stamp, id: u64, waker: Waker) {
        let mut due = lock(&self.due);
        let earliest = due.first_key_value().is_none_or(|(first, _)| first.0 > at);
        due.insert((at, id), waker);
        drop(due);
        if earliest {
            self.earlier.notify_one();
        }
    }

    /// Forgets the timer [`Timers::add`] set.
    fn cancel(&self, at: Stamp, id: u64) {
        lock(&self.due).remove(&(at, id));
    }

    /// Parked connections resume on the runtime this is called on (the first call's).
    pub(crate) fn start(&self) {
        self.runtime.get_or_init(Handle::current);
    }

    /// The runtime parked connections resume on ([`Timers::start`]), else the caller's.
    pub(crate) fn runtime(&self) -> Handle {
        self.runtime.get().cloned().unwrap_or_else(Handle::current)
    }
}

impl Broker {
    /// Wakes parked connections as their times come.
    pub(crate) async fn run_timers(&self) {
        let timers = &self.timers;
        loop {
            let now = self.stamp();
            let mut fired = Vec::new();
            let next = {
                let mut due = lock(&timers.due);
                while let Some(e) = due.first_entry().filter(|e| e.key().0 <= now) {
                    fired.push(e.remove());
                }
                due.first_key_value().map(|(k, _)| k.0)
            };
            // Woken without the lock: a waking connection cancels its timer.
            fired.into_iter().for_each(Waker::wake);
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(self.stamp_instant(at).into()) => {}
                        () = timers.earlier.notified() => {}
                    }
                }
                None => timers.earlier.notified().await,
            }
        }
    }
}
