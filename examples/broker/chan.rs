//! A connection's command channel: what other connections route to it. A bounded queue behind
//! a mutex with a `Notify`, about 100 bytes while empty, where tokio's `mpsc` channel allocates
//! a 32-slot block and its shared state (about 1 KiB) per connection up front.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    ready: Notify,
}

struct Queue<T> {
    items: VecDeque<T>,
    bound: usize,
    /// The receiver was dropped: sends fail.
    closed: bool,
}

/// Why a send failed; the value comes back.
#[derive(Debug)]
pub(crate) enum TrySendError<T> {
    /// The queue holds its bound.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// The sending side; clones send to the same receiver.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

/// The receiving side.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// A channel that holds at most `bound` values.
pub(crate) fn channel<T>(bound: usize) -> (Sender<T>, Receiver<T>) {
    let queue = Mutex::new(Queue { items: VecDeque::new(), bound, closed: false });
    let shared = Arc::new(Shared { queue, ready: Notify::new() });
    (Sender(shared.clone()), Receiver(shared))
}

fn lock<T>(s: &Shared<T>) -> MutexGuard<'_, Queue<T>> {
    s.queue.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Sender<T> {
    /// Queues `value` unless the queue is full or the receiver gone.
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.push(value, false)
    }

    /// Queues `value`, past the bound if need be (a takeover must get through); fails only
    /// when the receiver is gone.
    pub(crate) async fn send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.push(value, true)
    }

    fn push(&self, value: T, past_bound: bool) -> Result<(), TrySendError<T>> {
        let mut q = lock(&self.0);
        if q.closed {
            return Err(TrySendError::Closed(value));
        }
        if !past_bound && q.items.len() >= q.bound {
            return Err(TrySendError::Full(value));
        }
        q.items.push_back(value);
        drop(q);
        // A permit is stored when the receiver is not waiting: no wake-up is lost.
        self.0.ready.notify_one();
        Ok(())
    }
}

impl<T> Receiver<T> {
    /// The next value, waiting for one. Cancel-safe: a value is only taken when returned.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(v) = self.try_recv() {
                return Some(v);
            }
            self.0.ready.notified().await;
        }
    }

    /// The next value if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        let mut q = lock(&self.0);
        let v = q.items.pop_front();
        if q.items.is_empty() && q.items.capacity() > 64 {
            // A burst is over: its room goes back.
            q.items = VecDeque::new();
        }
        v
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        lock(&self.0).closed = true;
    }
}
