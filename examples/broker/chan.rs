//! A connection's command channel: what other connections route to it. A bounded queue behind
//! a mutex with the receiver's waker, about 80 bytes while empty, where tokio's `mpsc` channel
//! allocates a 32-slot block and its shared state (about 1 KiB) per connection up front; the
//! receiver's wait is a pointer in its task, where a `Notify` waiter is 88 bytes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct Shared<T> {
    queue: Mutex<Queue<T>>,
}

struct Queue<T> {
    items: VecDeque<T>,
    bound: usize,
    /// The receiver was dropped: sends fail.
    closed: bool,
    /// The receiver waits for a value: woken by the next send.
    waiting: Option<Waker>,
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

/// A channel that holds at most `bound` values: its receiver, which gives out senders
/// ([`Receiver::sender`]).
pub(crate) fn channel<T>(bound: usize) -> Receiver<T> {
    let queue = Mutex::new(Queue { items: VecDeque::new(), bound, closed: false, waiting: None });
    Receiver(Arc::new(Shared { queue }))
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
        // The waker is taken under the lock the receiver registers it under: no wake-up is lost.
        let waiting = q.waiting.take();
        drop(q);
        if let Some(w) = waiting {
            w.wake();
        }
        Ok(())
    }
}

impl<T> Receiver<T> {
    /// The next value, waiting for one. Cancel-safe: a value is only taken when returned.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next value, or `Pending` with the waker of `cx` woken by the next send.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut q = lock(&self.0);
        match q.items.pop_front() {
            Some(v) => {
                Self::shrink(&mut q);
                Poll::Ready(Some(v))
            }
            None => {
                if !q.waiting.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    q.waiting = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// A sender to this receiver.
    pub(crate) fn sender(&self) -> Sender<T> {
        Sender(self.0.clone())
    }

    /// The next value if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        let mut q = lock(&self.0);
        let v = q.items.pop_front();
        Self::shrink(&mut q);
        v
    }

    fn shrink(q: &mut Queue<T>) {
        if q.items.is_empty() && q.items.capacity() > 64 {
            // A burst is over: its room goes back.
            q.items = VecDeque::new();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        lock(&self.0).closed = true;
    }
}
