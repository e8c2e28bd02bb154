//! The pump's rules through both shells, with a scripted machine over a scripted transport:
//! what is read when, what is written in which order, how faults, timers, answers and the end of
//! either side come out.

extern crate std;

use std::collections::VecDeque;
use std::vec::Vec;

use super::{DriverError, Pump, asynch, blocking};
use crate::machine::{BufferTooSmall, Machine, Status};
use crate::time::{Duration, Instant};

/// A fault of the scripted peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fault;

impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("fault")
    }
}

impl core::error::Error for Fault {}

/// A machine of length-prefixed frames: `[n, n bytes]` is a message (event: the bytes, owes the
/// ack `[b'A', n]`); `[0xFF]` closes (owes `[b'C']`); `[0xFE]` is a fault (owes `[b'X']`);
/// `[0xFD]` asks a question (blocks until [`Frames::answer`]). Its timer, when set, owes
/// `[b'T']` and is cleared.
#[derive(Debug, Default)]
struct Frames {
    owed: VecDeque<Vec<u8>>,
    closed: bool,
    asking: bool,
    timer: Option<Instant>,
    lost: bool,
    /// Empty inputs seen (probes).
    probes: usize,
    /// `poll_transmit` calls.
    transmits: usize,
}

impl Frames {
    fn answer(&mut self, out: &mut [u8]) -> Result<((), usize), Fault> {
        if !self.asking {
            return Err(Fault);
        }
        self.asking = false;
        let (dst, _) = out.split_first_mut().ok_or(Fault)?;
        *dst = b'!';
        Ok(((), 1))
    }
}

impl Machine for Frames {
    type Event<'a> = &'a [u8];
    type Error = Fault;

    fn handle_input<'a>(
        &mut self,
        _now: Instant,
        input: &'a mut [u8],
    ) -> Result<Status<Option<&'a [u8]>>, Fault> {
        if input.is_empty() {
            self.probes += 1;
        }
        if self.closed || self.lost {
            return Ok(Status::Closed);
        }
        if self.asking {
            return Ok(Status::Blocked);
        }
        let Some(&n) = input.first() else { return Ok(Status::NeedMore { needed: 1 }) };
        match n {
            0xFF => {
                self.closed = true;
                self.owed.push_back(std::vec![b'C']);
                Ok(Status::Progress { consumed: 1, event: None })
            }
            0xFE => {
                self.closed = true;
                self.owed.push_back(std::vec![b'X']);
                Err(Fault)
            }
            0xFD => {
                self.asking = true;
                Ok(Status::Progress { consumed: 1, event: None })
            }
            n => {
                let end = 1 + usize::from(n);
                let have = input.len();
                let Some(body) = input.get(1..end) else {
                    return Ok(Status::NeedMore { needed: end - have });
                };
                self.owed.push_back(std::vec![b'A', n]);
                Ok(Status::Progress { consumed: end, event: Some(body) })
            }
        }
    }

    fn poll_transmit(
        &mut self,
        _now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        self.transmits += 1;
        let Some(next) = self.owed.front() else { return Ok(None) };
        let dst = out.get_mut(..next.len()).ok_or(BufferTooSmall { required: next.len() })?;
        dst.copy_from_slice(next);
        let n = next.len();
        self.owed.pop_front();
        Ok(Some(n))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Fault> {
        if self.timer.is_some_and(|t| now >= t) {
            self.timer = None;
            self.owed.push_back(std::vec![b'T']);
        }
        Ok(())
    }

    fn connection_lost(&mut self) {
        self.lost = true;
    }
}

/// Reads hand out the script's chunks (an empty script times out; `None` is the end of the
/// stream); writes take at most `per_write` bytes (0: none).
#[derive(Debug)]
struct Script {
    reads: VecDeque<Option<Vec<u8>>>,
    read_calls: usize,
    written: Vec<u8>,
    per_write: usize,
    /// Writes fail with `TimedOut` (a stalled UART).
    write_stalls: bool,
    flushes: usize,
}

impl Script {
    fn new(reads: &[&[u8]]) -> Self {
        Script {
            reads: reads.iter().map(|r| Some(r.to_vec())).collect(),
            read_calls: 0,
            written: Vec::new(),
            per_write: usize::MAX,
            write_stalls: false,
            flushes: 0,
        }
    }

    fn then_eof(mut self) -> Self {
        self.reads.push_back(None);
        self
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, embedded_io::ErrorKind> {
        self.read_calls += 1;
        match self.reads.front_mut() {
            None => Err(embedded_io::ErrorKind::TimedOut),
            Some(None) => Ok(0),
            Some(Some(chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                chunk.drain(..n);
                if chunk.is_empty() {
                    self.reads.pop_front();
                }
                Ok(n)
            }
        }
    }

    fn write_some(&mut self, buf: &[u8]) -> Result<usize, embedded_io::ErrorKind> {
        if self.write_stalls {
            return Err(embedded_io::ErrorKind::TimedOut);
        }
        let n = buf.len().min(self.per_write);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl embedded_io::ErrorType for Script {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.read_some(buf)
    }
}

impl embedded_io::Write for Script {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.write_some(buf)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.flushes += 1;
        Ok(())
    }
}

impl embedded_io_async::Read for Script {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.read_some(buf)
    }
}

impl embedded_io_async::Write for Script {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.write_some(buf)
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.flushes += 1;
        Ok(())
    }
}

/// Runs a future that never waits (the script is always ready).
fn block_on<F: core::future::Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

type Error = DriverError<embedded_io::ErrorKind, Fault>;

/// What one poll gave, owned.
#[derive(Debug, PartialEq, Eq)]
enum Polled {
    Event(Vec<u8>),
    Nothing,
    Failed(Error),
}

fn polled(r: Result<Option<&[u8]>, Error>) -> Polled {
    match r {
        Ok(Some(e)) => Polled::Event(e.to_vec()),
        Ok(None) => Polled::Nothing,
        Err(e) => Polled::Failed(e),
    }
}

/// Polls the blocking and the async driver over the same script and checks they agree; returns
/// what was polled, the bytes written and the read calls made.
fn both(
    script: impl Fn() -> Script,
    rx_len: usize,
    tx_len: usize,
    polls: usize,
) -> (Vec<Polled>, Vec<u8>, usize) {
    let (mut rx, mut tx) = (std::vec![0u8; rx_len], std::vec![0u8; tx_len]);
    let mut b = blocking::Connection::new(script(), Frames::default(), &mut rx, &mut tx);
    let got_b: Vec<Polled> = (0..polls).map(|_| polled(b.poll(Instant::ZERO))).collect();
    let (mut rx, mut tx) = (std::vec![0u8; rx_len], std::vec![0u8; tx_len]);
    let mut a = asynch::Connection::new(script(), Frames::default(), &mut rx, &mut tx);
    let got_a: Vec<Polled> = (0..polls).map(|_| polled(block_on(a.poll(Instant::ZERO)))).collect();
    assert_eq!(got_b, got_a, "the blocking and async shells disagree");
    assert_eq!(b.transport().written, a.transport().written);
    assert_eq!(b.transport().read_calls, a.transport().read_calls);
    let (t, _) = b.into_parts();
    (got_b, t.written, t.read_calls)
}

fn events(p: &[Polled]) -> Vec<Vec<u8>> {
    p.iter()
        .filter_map(|p| match p {
            Polled::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn frames_across_reads_one_step_per_poll_and_acks_in_order() {
    // Two frames, the second split across reads, then a read timeout.
    let (got, written, reads) =
        both(|| Script::new(&[&[2, b'h', b'i', 3, b'a'], b"bc"]), 16, 16, 6);
    assert_eq!(events(&got), [b"hi".to_vec(), b"abc".to_vec()]);
    assert_eq!(written, b"A\x02A\x03");
    // The second read comes only after the machine said the first one's tail was short; the
    // three polls after the second frame each read once and time out.
    assert_eq!(reads, 5);
    assert!(got.iter().all(|p| !matches!(p, Polled::Failed(_))));
}

#[test]
fn a_frame_longer_than_the_receive_buffer_is_an_error_not_a_stall() {
    let (got, _, _) = both(|| Script::new(&[&[9, 1, 2, 3, 4, 5]]), 6, 16, 3);
    assert!(got.contains(&Polled::Failed(DriverError::ReceiveBufferTooSmall { required: 10 })));
}

#[test]
fn an_ended_machine_is_not_read_for_and_what_it_owes_goes_out_first() {
    // A message, then the close: the close reply is written, then Closed; never a read after.
    let (got, written, reads) = both(|| Script::new(&[&[1, b'x', 0xFF]]), 16, 16, 5);
    assert_eq!(got[0], Polled::Event(b"x".to_vec()));
    assert_eq!(written, b"A\x01C");
    assert_eq!(got.last(), Some(&Polled::Failed(DriverError::Closed)));
    assert_eq!(reads, 1);
}

#[test]
fn a_peer_fault_is_reported_after_its_answer_is_written() {
    let (got, written, _) = both(|| Script::new(&[&[0xFE]]), 16, 16, 4);
    assert_eq!(written, b"X");
    assert!(got.contains(&Polled::Failed(DriverError::Machine(Fault))));
    assert_eq!(got.last(), Some(&Polled::Failed(DriverError::Closed)));
}

#[test]
fn end_of_stream_is_eof_and_the_machine_hears_it() {
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let script = Script::new(&[&[1, b'x']]).then_eof();
    let mut c = blocking::Connection::new(script, Frames::default(), &mut rx, &mut tx);
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Event(b"x".to_vec()));
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Failed(DriverError::Eof));
    assert!(c.machine().lost);
    // A write that takes nothing is the same end.
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let script = Script { per_write: 0, ..Script::new(&[&[1, b'x']]) };
    let mut c = blocking::Connection::new(script, Frames::default(), &mut rx, &mut tx);
    let _ = c.poll(Instant::ZERO);
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Failed(DriverError::Eof));
    assert!(c.machine().lost);
}

#[test]
fn short_writes_are_resumed_and_the_transport_is_flushed_once_written() {
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let script = Script { per_write: 1, ..Script::new(&[&[1, b'x', 1, b'y']]) };
    let mut c = blocking::Connection::new(script, Frames::default(), &mut rx, &mut tx);
    for _ in 0..4 {
        let _ = c.poll(Instant::ZERO);
    }
    assert_eq!(c.transport().written, b"A\x01A\x01");
    assert!(c.transport().flushes >= 1);
}

#[test]
fn a_question_blocks_until_answered_and_the_answer_follows_what_was_owed() {
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let script = Script::new(&[&[1, b'q', 0xFD, 1, b'r']]);
    let mut c = blocking::Connection::new(script, Frames::default(), &mut rx, &mut tx);
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Event(b"q".to_vec()));
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Nothing); // the question
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Nothing); // the machine says it waits
    // Polling again without answering is the caller's mistake.
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Failed(DriverError::Blocked));
    c.command(Instant::ZERO, Frames::answer).unwrap();
    assert_eq!(c.transport().written, b"A\x01!");
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Event(b"r".to_vec()));
    // A command the machine refuses changes nothing and is reported as its error.
    assert_eq!(c.command(Instant::ZERO, Frames::answer), Err(DriverError::Machine(Fault)));
}

#[test]
fn a_command_waits_behind_owed_bytes_that_fill_the_transmit_buffer() {
    // Three acks owed (6 bytes) with a 4-byte transmit buffer: the command's byte goes last.
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 4]);
    let script = Script::new(&[&[1, b'a', 1, b'b', 1, b'c', 0xFD]]);
    let mut c = blocking::Connection::new(script, Frames::default(), &mut rx, &mut tx);
    let mut seen = 0;
    while !c.machine().asking {
        if let Ok(Some(_)) = c.poll(Instant::ZERO) {
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
    c.command(Instant::ZERO, Frames::answer).unwrap();
    assert_eq!(c.transport().written, b"A\x01A\x01A\x01!");
}

#[test]
fn owed_bytes_too_large_for_the_transmit_buffer_are_an_error() {
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 1]);
    let mut c =
        blocking::Connection::new(Script::new(&[&[1, b'a']]), Frames::default(), &mut rx, &mut tx);
    let _ = c.poll(Instant::ZERO);
    assert_eq!(
        polled(c.poll(Instant::ZERO)),
        Polled::Failed(DriverError::TransmitBufferTooSmall { required: 2 })
    );
}

#[test]
fn timers_run_when_due_and_not_before() {
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut c = blocking::Connection::new(Script::new(&[]), Frames::default(), &mut rx, &mut tx);
    c.machine_mut().timer = Some(Instant::from_secs(5));
    assert_eq!(c.poll_timeout(), Some(Instant::from_secs(5)));
    let _ = c.poll(Instant::from_secs(4));
    assert!(c.transport().written.is_empty());
    let _ = c.poll(Instant::from_secs(5));
    assert_eq!(c.transport().written, b"T");
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn compaction_keeps_the_unconsumed_tail_and_last_input_is_the_consumed_bytes() {
    let mut rx = [0u8; 8];
    let mut tx = [0u8; 16];
    let mut p = Pump::new(Frames::default(), &mut rx, &mut tx);
    // Seven bytes: a 3-byte frame and the start of a 5-byte one.
    p.receive_buffer()[..7].copy_from_slice(&[2, b'h', b'i', 4, b'a', b'b', b'c']);
    p.received::<()>(7).unwrap();
    assert!(p.has_input());
    assert_eq!(p.input::<()>(Instant::ZERO).unwrap(), Some(&b"hi"[..]));
    assert_eq!(p.last_input(), [2, b'h', b'i']);
    assert_eq!(p.buffered(), 4);
    assert_eq!(p.input::<()>(Instant::ZERO).unwrap(), None); // short
    assert!(!p.has_input());
    // Writes first (the ack), then the read: the tail moved to the front.
    assert_eq!(p.next::<()>(Instant::ZERO), Ok(super::Io::Write));
    let n = p.transmit().len();
    p.sent::<()>(n).unwrap();
    assert_eq!(p.next::<()>(Instant::ZERO), Ok(super::Io::Flush));
    p.flushed();
    assert_eq!(p.next::<()>(Instant::ZERO), Ok(super::Io::Read));
    assert_eq!(p.receive_buffer().len(), 4);
    p.receive_buffer()[0] = b'd';
    p.received::<()>(1).unwrap();
    assert_eq!(p.input::<()>(Instant::ZERO).unwrap(), Some(&b"abcd"[..]));
}

#[test]
fn the_machine_is_asked_once_when_nothing_is_buffered() {
    // A poll after a consumed frame asks the machine with an empty input before reading.
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut c =
        blocking::Connection::new(Script::new(&[&[1, b'x']]), Frames::default(), &mut rx, &mut tx);
    let _ = c.poll(Instant::ZERO);
    assert_eq!(c.machine().probes, 1);
    let _ = c.poll(Instant::ZERO);
    assert_eq!(c.machine().probes, 2);
    // Reads timed out since: no more probes.
    let _ = c.poll(Instant::ZERO + Duration::from_secs(1));
    assert_eq!(c.machine().probes, 2);
}

#[test]
fn a_machine_that_has_ended_before_the_first_read_is_not_read_for() {
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let machine = Frames { closed: true, ..Frames::default() };
    let mut c = blocking::Connection::new(Script::new(&[&[1, b'x']]), machine, &mut rx, &mut tx);
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Failed(DriverError::Closed));
    assert_eq!(c.transport().read_calls, 0);
}

#[test]
fn a_fault_found_by_a_poll_is_reported_by_the_next_command_once_its_answer_is_out() {
    // The poll's input step finds the fault; the command after it must not report it before
    // the answer the machine owes (`X`) is written and flushed: a caller stops at that error.
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut b =
        blocking::Connection::new(Script::new(&[&[0xFE]]), Frames::default(), &mut rx, &mut tx);
    assert_eq!(polled(b.poll(Instant::ZERO)), Polled::Nothing);
    assert_eq!(b.command(Instant::ZERO, Frames::answer), Err(DriverError::Machine(Fault)));
    let t = b.transport();
    assert_eq!((t.written.as_slice(), t.flushes), (&b"X"[..], 1));
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut a =
        asynch::Connection::new(Script::new(&[&[0xFE]]), Frames::default(), &mut rx, &mut tx);
    assert_eq!(polled(block_on(a.poll(Instant::ZERO))), Polled::Nothing);
    assert_eq!(
        block_on(a.command(Instant::ZERO, Frames::answer)),
        Err(DriverError::Machine(Fault))
    );
    let t = a.transport();
    assert_eq!((t.written.as_slice(), t.flushes), (&b"X"[..], 1));
}

#[test]
fn a_write_that_times_out_is_an_error_a_read_that_times_out_is_not() {
    let script = || Script::new(&[&[1, b'x']]);
    let (got, _, _) = both(script, 16, 16, 3);
    assert_eq!(got, [Polled::Event(b"x".to_vec()), Polled::Nothing, Polled::Nothing]);
    // The ack cannot be written: the stalled write is the transport's error, the end.
    let stalled = || Script { write_stalls: true, ..script() };
    let (got, _, _) = both(stalled, 16, 16, 3);
    assert_eq!(got[0], Polled::Event(b"x".to_vec()));
    assert_eq!(got[1], Polled::Failed(DriverError::Transport(embedded_io::ErrorKind::TimedOut)));
    assert_eq!(got[2], Polled::Failed(DriverError::Closed));
}

#[test]
fn a_drained_machine_is_asked_for_bytes_again_only_after_it_was_touched() {
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut c =
        blocking::Connection::new(Script::new(&[&[1, b'x']]), Frames::default(), &mut rx, &mut tx);
    let _ = c.poll(Instant::ZERO);
    c.flush(Instant::ZERO).unwrap();
    let asked = c.machine().transmits;
    c.flush(Instant::ZERO).unwrap();
    let _ = c.poll(Instant::ZERO); // a read that times out
    assert_eq!(c.machine().transmits, asked);
    // A change through `machine_mut` is seen.
    c.machine_mut().owed.push_back(std::vec![b'Z']);
    c.flush(Instant::ZERO).unwrap();
    assert_eq!(c.transport().written, b"A\x01Z");
}

#[test]
fn commands_after_a_written_command_get_the_whole_transmit_buffer() {
    // Each command needs all 16 bytes: the buffer must be free again once written, with the
    // machine drained in between.
    let whole = |_: &mut Frames, out: &mut [u8]| {
        let dst = out.get_mut(..16).ok_or(Fault)?;
        dst.fill(b'w');
        Ok(((), 16))
    };
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut b = blocking::Connection::new(Script::new(&[]), Frames::default(), &mut rx, &mut tx);
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut a = asynch::Connection::new(Script::new(&[]), Frames::default(), &mut rx, &mut tx);
    for _ in 0..3 {
        b.command(Instant::ZERO, whole).unwrap();
        block_on(a.command(Instant::ZERO, whole)).unwrap();
    }
    assert_eq!(b.transport().written.len(), 48);
    assert_eq!(a.transport().written.len(), 48);
}

#[test]
fn a_command_after_the_transport_ended_is_not_run() {
    // The machine was drained before the end: the command must still see the transport is gone,
    // and the machine must not take a command whose bytes cannot go out.
    let mut runs = 0;
    let mut one = |_: &mut Frames, out: &mut [u8]| {
        runs += 1;
        *out.first_mut().ok_or(Fault)? = b'w';
        Ok(((), 1))
    };
    let script = || Script::new(&[]).then_eof();
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut b = blocking::Connection::new(script(), Frames::default(), &mut rx, &mut tx);
    b.flush(Instant::ZERO).unwrap();
    assert_eq!(polled(b.poll(Instant::ZERO)), Polled::Failed(DriverError::Eof));
    assert_eq!(b.command(Instant::ZERO, &mut one), Err(DriverError::Closed));
    assert!(b.transport().written.is_empty());
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut a = asynch::Connection::new(script(), Frames::default(), &mut rx, &mut tx);
    block_on(a.flush(Instant::ZERO)).unwrap();
    assert_eq!(polled(block_on(a.poll(Instant::ZERO))), Polled::Failed(DriverError::Eof));
    assert_eq!(block_on(a.command(Instant::ZERO, &mut one)), Err(DriverError::Closed));
    assert!(a.transport().written.is_empty());
    assert_eq!(runs, 0);
}

#[test]
fn elastic_buffers_grow_for_an_announced_frame_and_owed_bytes_and_shrink_while_waiting() {
    use super::ElasticBuffer;
    // A 200-byte frame into a receive buffer of 8 bytes, its ack into an empty transmit buffer.
    let mut frame = std::vec![200u8];
    frame.extend((0..200).map(|i| i as u8));
    let script = Script::new(&[&frame, &[1, b'x']]);
    let (rx, tx) = (ElasticBuffer::new(8, 1024), ElasticBuffer::new(0, 64));
    let mut c = blocking::Connection::with_buffers(script, Frames::default(), rx, tx);
    let next_event = |c: &mut blocking::Connection<'_, Script, Frames, ElasticBuffer>| {
        (0..8).map(|_| polled(c.poll(Instant::ZERO))).find(|p| *p != Polled::Nothing)
    };
    assert_eq!(next_event(&mut c), Some(Polled::Event(frame[1..].to_vec())));
    // It grew to hold the frame the machine announced, and no further than needed.
    assert_eq!(c.pump().capacities().0, 201);
    assert_eq!(next_event(&mut c), Some(Polled::Event(b"x".to_vec())));
    // Both acks went out through a transmit buffer that grew for them.
    c.flush(Instant::ZERO).unwrap();
    assert_eq!(c.transport().written, b"A\xc8A\x01");
    // Waiting for input again: both are back at their floor.
    assert_eq!(polled(c.poll(Instant::ZERO)), Polled::Nothing);
    assert_eq!(c.pump().capacities(), (8, 0));
}

#[test]
fn release_gives_an_idle_connections_buffers_back_and_keeps_buffered_bytes() {
    use super::ElasticBuffer;
    // Two frames in one read, then a third.
    let script = Script::new(&[&[1, b'a', 1, b'b'], &[1, b'c']]);
    let (rx, tx) = (ElasticBuffer::new(16, 64), ElasticBuffer::new(16, 64));
    let mut c = blocking::Connection::with_buffers(script, Frames::default(), rx, tx);
    let next_event = |c: &mut blocking::Connection<'_, Script, Frames, ElasticBuffer>| {
        (0..8).map(|_| polled(c.poll(Instant::ZERO))).find(|p| *p != Polled::Nothing)
    };
    assert_eq!(next_event(&mut c), Some(Polled::Event(b"a".to_vec())));
    c.release_buffers();
    assert_eq!(c.pump().capacities().0, 16, "the second frame is still buffered");
    assert_eq!(next_event(&mut c), Some(Polled::Event(b"b".to_vec())));
    c.flush(Instant::ZERO).unwrap();
    c.release_buffers();
    assert_eq!(c.pump().capacities(), (0, 0), "nothing buffered either way: no memory");
    // The next read asks for the floor again.
    assert_eq!(next_event(&mut c), Some(Polled::Event(b"c".to_vec())));
    assert_eq!(c.pump().capacities().0, 16);
    c.flush(Instant::ZERO).unwrap();
    assert_eq!(c.transport().written, b"A\x01A\x01A\x01");
}

#[test]
fn an_elastic_receive_buffer_grows_while_the_peer_fills_it_and_not_past_its_ceiling() {
    use super::ElasticBuffer;
    // Sixteen 3-byte frames arrive at once: every read fills the buffer, so it doubles.
    let burst: Vec<u8> = (0..16).flat_map(|i| [2, b'a', i]).collect();
    let (rx, tx) = (ElasticBuffer::new(4, 16), ElasticBuffer::new(64, 64));
    let mut c =
        blocking::Connection::with_buffers(Script::new(&[&burst]), Frames::default(), rx, tx);
    let mut seen = 0;
    let mut largest = 0;
    while seen < 16 {
        if let Ok(Some(_)) = c.poll(Instant::ZERO) {
            seen += 1;
        }
        largest = largest.max(c.pump().capacities().0);
    }
    assert_eq!(largest, 16);
    // A frame larger than the ceiling is still an error, never a stall.
    let (rx, tx) = (ElasticBuffer::new(4, 16), ElasticBuffer::new(64, 64));
    let script = Script::new(&[&[40; 41]]);
    let mut c = blocking::Connection::with_buffers(script, Frames::default(), rx, tx);
    let got: Vec<Polled> = (0..4).map(|_| polled(c.poll(Instant::ZERO))).collect();
    assert!(got.contains(&Polled::Failed(DriverError::ReceiveBufferTooSmall { required: 41 })));
}

/// The room a command of [`Roomy`] needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Room(usize);

impl core::fmt::Display for Room {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} bytes of room needed", self.0)
    }
}

impl core::error::Error for Room {}

/// [`Frames`] whose commands say how much room they needed ([`Machine::room_required`]).
#[derive(Debug, Default)]
struct Roomy(Frames);

impl Machine for Roomy {
    type Event<'a> = &'a [u8];
    type Error = Room;

    fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Status<Option<&'a [u8]>>, Room> {
        self.0.handle_input(now, input).map_err(|_| Room(0))
    }

    fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Result<Option<usize>, BufferTooSmall> {
        self.0.poll_transmit(now, out)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Room> {
        self.0.handle_timeout(now).map_err(|_| Room(0))
    }

    fn connection_lost(&mut self) {
        self.0.connection_lost();
    }

    fn room_required(error: &Room) -> Option<usize> {
        Some(error.0).filter(|&n| n > 0)
    }
}

#[test]
fn a_command_too_large_for_an_elastic_transmit_buffer_grows_it_up_to_its_ceiling() {
    use super::ElasticBuffer;
    let runs = core::cell::Cell::new(0);
    let mut hundred = |_: &mut Roomy, out: &mut [u8]| {
        runs.set(runs.get() + 1);
        out.get_mut(..100).ok_or(Room(100))?.fill(b'w');
        Ok(((), 100))
    };
    let (rx, tx) = (ElasticBuffer::new(16, 16), ElasticBuffer::new(16, 256));
    let mut c = blocking::Connection::with_buffers(Script::new(&[]), Roomy::default(), rx, tx);
    c.command(Instant::ZERO, &mut hundred).unwrap();
    assert_eq!((c.transport().written.len(), runs.get()), (100, 2));
    // Past the ceiling: the machine's error, nothing written.
    let (rx, tx) = (ElasticBuffer::new(16, 16), ElasticBuffer::new(16, 64));
    let mut c = blocking::Connection::with_buffers(Script::new(&[]), Roomy::default(), rx, tx);
    assert_eq!(c.command(Instant::ZERO, &mut hundred), Err(DriverError::Machine(Room(100))));
    assert!(c.transport().written.is_empty());
    // Fixed memory is never asked to grow: the same error at once.
    runs.set(0);
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 16]);
    let mut c = blocking::Connection::new(Script::new(&[]), Roomy::default(), &mut rx, &mut tx);
    assert_eq!(c.command(Instant::ZERO, &mut hundred), Err(DriverError::Machine(Room(100))));
    assert_eq!(runs.get(), 1);
}

/// What each driver error says, and the I/O error kind it is when a driver is the transport of
/// another layer (a read timeout below keeps its kind).
#[test]
fn driver_errors_say_what_failed_and_keep_the_transport_kind() {
    use embedded_io::{Error as _, ErrorKind};
    type E = DriverError<ErrorKind, BufferTooSmall>;
    let cases: [(E, &str, ErrorKind); 7] = [
        (
            DriverError::Machine(BufferTooSmall { required: 3 }),
            "buffer too small: 3 bytes required",
            ErrorKind::InvalidData,
        ),
        (
            DriverError::Transport(ErrorKind::TimedOut),
            "transport error: TimedOut",
            ErrorKind::TimedOut,
        ),
        (DriverError::Closed, "the connection is closed", ErrorKind::BrokenPipe),
        (DriverError::Eof, "the transport ended", ErrorKind::ConnectionReset),
        (DriverError::Blocked, "the state machine waits for an answer", ErrorKind::Other),
        (
            DriverError::ReceiveBufferTooSmall { required: 70 },
            "receive buffer too small: 70 bytes required",
            ErrorKind::OutOfMemory,
        ),
        (
            DriverError::TransmitBufferTooSmall { required: 80 },
            "transmit buffer too small: 80 bytes required",
            ErrorKind::OutOfMemory,
        ),
    ];
    for (e, text, kind) in cases {
        assert_eq!(std::format!("{e}"), text);
        assert_eq!(e.kind(), kind, "{e:?}");
    }
}
