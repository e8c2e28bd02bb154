//! The one contract every sans-IO state machine of the crate follows: [`Status`] for what an
//! input step did, [`Machine`] for the four verbs, [`BufferTooSmall`] for an output buffer that
//! cannot take the next bytes.
//!
//! The MQTT client and server sessions, the WebSocket connection and both roles of the WebSocket
//! opening handshake implement [`Machine`], so one [`Pump`](crate::io::Pump) and the blocking
//! and async drivers over it serve all of them. The packet decoder answers with the same
//! [`Status`].

use crate::time::Instant;

/// What one input step did. The same shape for every decoder and state machine of the crate.
///
/// - [`NeedMore`](Status::NeedMore): nothing was consumed; append more bytes from the peer and
///   call again with the whole unconsumed input.
/// - [`Progress`](Status::Progress): `consumed` bytes from the front of the input were used;
///   drop them (after using `event`, which may borrow them) and call again with the rest.
/// - [`Blocked`](Status::Blocked): nothing was consumed; the machine waits for the caller: send
///   what `poll_transmit` writes, or answer the event it reported, then call again.
/// - [`Closed`](Status::Closed): nothing was consumed and nothing more will be; the machine has
///   ended (send what `poll_transmit` still writes, then close the transport).
///
/// For a state machine `T` is `Option<Event>`: a step may use bytes without anything to report
/// (an acknowledgement handled, a frame header read). For the packet decoder `T` is the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum Status<T> {
    /// Nothing consumed: at least `needed` more bytes are required (exactly `needed` where the
    /// length is known, such as after an MQTT fixed header or a WebSocket frame header).
    NeedMore {
        /// Bytes still missing, at least 1.
        needed: usize,
    },
    /// `consumed` bytes from the front of the input were used.
    Progress {
        /// Bytes used from the start of the input.
        consumed: usize,
        /// What they meant.
        event: T,
    },
    /// Nothing consumed: drain `poll_transmit`, or answer the last event, then call again.
    Blocked,
    /// Nothing consumed: the machine has ended and reads nothing more.
    Closed,
}

impl<T> Status<T> {
    /// The event and the bytes consumed, if the step made progress.
    pub fn progress(self) -> Option<(T, usize)> {
        self.into_progress::<()>().ok()
    }

    /// The event and the bytes consumed of a [`Status::Progress`]; any other status as `Err`,
    /// unchanged (it carries no event, so it is a status of any event type): a layer passes on
    /// what the layer below waits for with `Err(status) => return Ok(status)`.
    pub fn into_progress<U>(self) -> Result<(T, usize), Status<U>> {
        match self {
            Status::Progress { consumed, event } => Ok((event, consumed)),
            Status::NeedMore { needed } => Err(Status::NeedMore { needed }),
            Status::Blocked => Err(Status::Blocked),
            Status::Closed => Err(Status::Closed),
        }
    }

    /// Applies `f` to the event of a [`Status::Progress`].
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Status::NeedMore { needed } => Status::NeedMore { needed },
            Status::Progress { consumed, event } => Status::Progress { consumed, event: f(event) },
            Status::Blocked => Status::Blocked,
            Status::Closed => Status::Closed,
        }
    }
}

/// An output buffer too small for the next bytes; nothing was written and nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall {
    /// Bytes the operation needs.
    pub required: usize,
}

impl core::fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "buffer too small: {} bytes required", self.required)
    }
}

impl core::error::Error for BufferTooSmall {}

/// A sans-IO state machine: bytes in, events out, bytes to send out, time passed in.
///
/// The run loop, the same for every machine (the [`Pump`](crate::io::Pump) and the drivers do
/// it for you):
///
/// 1. Drain: call [`poll_transmit`](Machine::poll_transmit) until it returns `Ok(None)` and send
///    what it wrote, in order. Do this after **every** input, command and timeout.
/// 2. Wait for bytes from the peer, or until [`poll_timeout`](Machine::poll_timeout).
/// 3. On bytes: append them to the unconsumed input and call
///    [`handle_input`](Machine::handle_input) until it says [`Status::NeedMore`]; each call
///    consumes at most one packet, frame or head (or one piece of a large one) and may report
///    one event, which borrows the input only: the machine is free for commands while you
///    hold it.
/// 4. On the deadline: [`handle_timeout`](Machine::handle_timeout) (harmless when early).
/// 5. When the transport ends or fails: [`connection_lost`](Machine::connection_lost).
///
/// Commands (publish, subscribe, send a message, answer a request ...) are inherent methods of
/// each machine; they write into a caller buffer and are all or nothing.
pub trait Machine {
    /// What an input step reports; borrows the input only.
    type Event<'a>;
    /// What goes wrong in `handle_input` and `handle_timeout` (and in the machine's commands):
    /// faults of the peer, with the code the machine sends about them, apart from the caller's.
    type Error: core::error::Error;

    /// Consumes at most one unit (packet, frame, head, or a piece of a large one) from the front
    /// of `input`. See [`Status`]. An empty `input` changes nothing: the answer tells what the
    /// machine waits for ([`Status::NeedMore`], [`Status::Blocked`] or [`Status::Closed`]).
    fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Status<Option<Self::Event<'a>>>, Self::Error>;

    /// Writes the next bytes owed to the peer into `out` and returns their length; `Ok(None)`
    /// when nothing is owed. Call it after every other call until it returns `Ok(None)`. All or
    /// nothing: on [`BufferTooSmall`] nothing changed.
    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall>;

    /// When [`handle_timeout`](Machine::handle_timeout) must be called next; `None`: no timer.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Runs the timers due at `now`. Idempotent, and harmless when called early.
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error>;

    /// The transport ended or failed: nothing more arrives and nothing owed will be sent.
    fn connection_lost(&mut self);

    /// The bytes of room a command needed when `error` says its output buffer was too small;
    /// `None` for every other error (the default). A [`Pump`](crate::io::Pump) whose transmit
    /// buffer grows on demand grows it that far and runs the command again.
    fn room_required(error: &Self::Error) -> Option<usize> {
        let _ = error;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn into_progress_splits_progress_from_what_is_passed_on_unchanged() {
        assert_eq!(
            Status::Progress { consumed: 3, event: 'x' }.into_progress::<u8>(),
            Ok(('x', 3))
        );
        for waiting in [Status::NeedMore { needed: 7 }, Status::Blocked, Status::Closed] {
            assert_eq!(waiting.into_progress::<u8>(), Err(waiting.map(|_: char| 0u8)));
        }
        assert_eq!(Status::<char>::Closed.progress(), None);
    }
}
