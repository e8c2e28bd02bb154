//! `io::Pump` over a machine (the WebSocket server connection, or the MQTT client after its
//! CONNECT), driven by hand as an event loop does: the peer's bytes arrive in reads of arbitrary
//! sizes, the transport takes arbitrary short writes (and may take none), and commands (send,
//! ping or subscribe, close or DISCONNECT) come in between.
//!
//! Checks:
//! - the pump never panics, never stalls (every step reads, writes, consumes or ends), never
//!   asks for a read once the machine has ended, and asks for a flush only with nothing waiting;
//! - a payload piece an event hands out is the tail of the bytes that step consumed;
//! - every byte written is a byte the machine produced, in order: a second machine fed the same
//!   input directly (the run loop by hand, commands at the same points of the input) writes a
//!   stream the pump's output is a prefix of, and reports the same events; when the pump's run
//!   ends with the transport's end of input, the machine's end, a fault of the peer or a full
//!   receive buffer, the two agree exactly (same bytes, same events, same ending);
//! - a fault of the peer comes out only once what the machine owes about it is written, and a
//!   buffer reported too small is too small.
//!
//! Input: the `Input` structure below (through `arbitrary`).
#![no_main]

use std::cell::Cell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mqtt_ws::io::{DriverError, Io, Pump};
use mqtt_ws::mqtt::client::{self, Client, ConnectOptions, Outgoing, SliceStore};
use mqtt_ws::mqtt::packet::Subscription;
use mqtt_ws::mqtt::properties::Properties;
use mqtt_ws::mqtt::{Qos, ReasonCode};
use mqtt_ws::time::Instant;
use mqtt_ws::ws::close::CloseCode;
use mqtt_ws::ws::connection::{self as ws, MessageKind};
use mqtt_ws::ws::error::ProtocolError;
use mqtt_ws::{Machine, Status};

/// No timers in this target: both machines live at the same instant.
const NOW: Instant = Instant::ZERO;

/// Steps after which a run is a livelock: far more than the reads, writes and input steps the
/// largest input can cause.
const MAX_STEPS: usize = 200_000;

/// A command of the application. The WebSocket connection: a data frame, a ping, the closing
/// handshake. The MQTT client: a PUBLISH (QoS 1 for `text`, else QoS 2 for `last`, else 0), a
/// SUBSCRIBE, a DISCONNECT with the code's low byte as reason code.
#[derive(Debug, Arbitrary)]
enum Cmd {
    Data { text: bool, data: Vec<u8>, last: bool },
    Control(Vec<u8>),
    Close(u16, String),
}

/// A piece of the peer's bytes.
#[derive(Debug, Arbitrary)]
enum Piece {
    /// As they are.
    Raw(Vec<u8>),
    /// A frame or packet with a well-formed length: the WebSocket framing (masked, as a client
    /// sends) or the MQTT fixed header, with `first` as the first byte.
    Framed { first: u8, payload: Vec<u8> },
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// The MQTT client instead of the WebSocket server connection.
    mqtt: bool,
    /// MQTT: a CONNACK (success) arrives first.
    connack_first: bool,
    /// Receive and transmit buffer sizes, beyond 16 bytes (modulo 512).
    rx_len: u16,
    tx_len: u16,
    peer: Vec<Piece>,
    /// Read sizes, taken in turn (1 + the value modulo 2048); none: as much as fits.
    reads: Vec<u16>,
    /// Write sizes, taken in turn (1 + the value modulo 512); none: all that waits.
    writes: Vec<u16>,
    /// The write, counted from 0, that takes no bytes (the transport ended).
    zero_write: Option<u8>,
    /// Commands, each after this many pump steps.
    commands: Vec<(u8, Cmd)>,
}

/// What the machine reported, with payload pieces joined into whole messages.
#[derive(Debug, Default, PartialEq)]
struct Log {
    entries: Vec<String>,
    /// The pieces of a message not finished yet.
    partial: Vec<u8>,
}

impl Log {
    fn piece(&mut self, data: &[u8], last: bool, what: &str) {
        self.partial.extend_from_slice(data);
        if last {
            let message = std::mem::take(&mut self.partial);
            self.entries.push(format!("{what} {message:02x?}"));
        }
    }
}

/// A machine under test, with what the target needs to know about it.
trait Subject: Machine + Sized {
    /// Adds what `event` says to `log`.
    fn record(event: &Self::Event<'_>, log: &mut Log);
    /// The payload piece `event` hands out, which must be the tail of the consumed bytes.
    fn piece<'e>(event: &'e Self::Event<'_>) -> Option<&'e [u8]>;
    /// What the machine sends first (CONNECT), written into `out`.
    fn start(&mut self, out: &mut [u8]) -> Result<usize, Self::Error>;
    /// Runs `cmd`, writing into `out`; returns the length written.
    fn run(&mut self, cmd: &Cmd, out: &mut [u8]) -> Result<usize, Self::Error>;
    /// Whether `e` is a fault of the peer (the machine has ended), not the caller's misuse.
    fn is_fault(e: &Self::Error) -> bool;
    /// `e` as compared between the two runs.
    fn key(e: &Self::Error) -> String;
    /// Frames `payload` as the peer would.
    fn frame(first: u8, payload: &[u8], out: &mut Vec<u8>);
}

impl Subject for ws::Connection {
    fn record(event: &ws::Event<'_>, log: &mut Log) {
        match *event {
            ws::Event::Data { kind, data, last } => log.piece(data, last, &format!("{kind:?}")),
            other => log.entries.push(format!("{other:?}")),
        }
    }

    fn piece<'e>(event: &'e ws::Event<'_>) -> Option<&'e [u8]> {
        match event {
            ws::Event::Data { data, .. } => Some(data),
            _ => None,
        }
    }

    fn start(&mut self, _out: &mut [u8]) -> Result<usize, mqtt_ws::ws::Error> {
        Ok(0)
    }

    fn run(&mut self, cmd: &Cmd, out: &mut [u8]) -> Result<usize, mqtt_ws::ws::Error> {
        Ok(match cmd {
            Cmd::Data { text, data, last } => {
                let kind = if *text { MessageKind::Text } else { MessageKind::Binary };
                self.encode_data(out, kind, data, *last)?
            }
            Cmd::Control(payload) => self.encode_ping(out, payload)?,
            Cmd::Close(code, reason) => {
                self.close(CloseCode::from_u16(*code), reason)?;
                0
            }
        })
    }

    fn is_fault(e: &mqtt_ws::ws::Error) -> bool {
        matches!(e, mqtt_ws::ws::Error::Protocol(_))
    }

    fn key(e: &mqtt_ws::ws::Error) -> String {
        match e {
            // The position is relative to the piece checked, which depends on the reads.
            mqtt_ws::ws::Error::Protocol(ProtocolError::InvalidUtf8(_)) => "InvalidUtf8".into(),
            e => format!("{e:?}"),
        }
    }

    fn frame(first: u8, payload: &[u8], out: &mut Vec<u8>) {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        out.push(first);
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    }
}

type MqttClient<'s> = Client<SliceStore<'s, 4>, 4, 2, 16>;

impl Subject for MqttClient<'_> {
    fn record(event: &client::Event<'_, 16>, log: &mut Log) {
        match event {
            client::Event::MessageChunk { data, last, .. } => log.piece(data, *last, "chunks"),
            other => log.entries.push(format!("{other:?}")),
        }
    }

    fn piece<'e>(event: &'e client::Event<'_, 16>) -> Option<&'e [u8]> {
        match event {
            client::Event::MessageChunk { data, .. } => Some(data),
            client::Event::Message(m) => Some(m.payload),
            _ => None,
        }
    }

    fn start(&mut self, out: &mut [u8]) -> Result<usize, client::Error> {
        let mut options = ConnectOptions::new("pump");
        options.keep_alive = 0;
        self.connect(NOW, &options, out)
    }

    fn run(&mut self, cmd: &Cmd, out: &mut [u8]) -> Result<usize, client::Error> {
        match cmd {
            Cmd::Data { text, data, last } => {
                let qos = match (text, last) {
                    (true, _) => Qos::AtLeastOnce,
                    (false, true) => Qos::ExactlyOnce,
                    (false, false) => Qos::AtMostOnce,
                };
                Ok(self.publish(NOW, &Outgoing::new("t/x", data).qos(qos), out)?.len)
            }
            Cmd::Control(filter) => {
                let filter = std::str::from_utf8(filter).unwrap_or("t/#");
                let subscriptions = [Subscription::new(filter, Qos::AtLeastOnce)];
                Ok(self.subscribe(NOW, &subscriptions, Properties::EMPTY, out)?.len)
            }
            Cmd::Close(code, _) => {
                let reason = ReasonCode::from_u8(*code as u8).unwrap_or(ReasonCode::Success);
                self.disconnect(NOW, reason, Properties::EMPTY, out)
            }
        }
    }

    fn is_fault(e: &client::Error) -> bool {
        !matches!(e, client::Error::Usage(_))
    }

    fn key(e: &client::Error) -> String {
        format!("{e:?}")
    }

    fn frame(first: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(first);
        let mut len = payload.len();
        loop {
            let byte = (len % 128) as u8;
            len /= 128;
            out.push(if len > 0 { byte | 0x80 } else { byte });
            if len == 0 {
                break;
            }
        }
        out.extend_from_slice(payload);
    }
}

/// A command the pump ran on a machine that had not ended, for the second machine to run at
/// the same point.
struct Done<'c> {
    /// Bytes of input the machine had consumed.
    at: usize,
    /// `None`: [`Subject::start`].
    cmd: Option<&'c Cmd>,
    /// The room the command was given.
    room: usize,
    ok: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
enum End {
    /// The pump: a read returned 0 (no more input). The direct run: the machine needs more.
    NeedMore,
    /// The machine ended.
    Closed,
    /// A fault of the peer.
    Fault(String),
    /// The receive buffer is full and the machine needs more.
    Stall,
    /// The pump: the transport took no bytes, or the transmit buffer was too small (the run is
    /// only a prefix of the direct one).
    Cut,
}

/// Whether the machine has ended: an empty input changes nothing and says so.
fn ended<M: Machine>(m: &mut M) -> bool {
    matches!(m.handle_input(NOW, &mut []), Ok(Status::Closed))
}

/// The pump's run.
struct PumpRun<'c> {
    written: Vec<u8>,
    log: Log,
    end: End,
    done: Vec<Done<'c>>,
}

/// The scripted transport: read and write sizes.
struct Transport<'i> {
    peer: &'i [u8],
    delivered: usize,
    reads: &'i [u16],
    read_count: usize,
    writes: &'i [u16],
    write_count: usize,
    zero_write: Option<usize>,
    /// A write took no bytes: the run ends there, whatever the pump reports.
    cut: bool,
}

impl Transport<'_> {
    fn read_size(&mut self) -> usize {
        let size = match self.reads.get(self.read_count % self.reads.len().max(1)) {
            Some(r) => 1 + usize::from(r % 2048),
            None => usize::MAX,
        };
        self.read_count += 1;
        size.min(self.peer.len() - self.delivered)
    }

    fn write_size(&mut self, waiting: usize) -> usize {
        let size = match self.writes.get(self.write_count % self.writes.len().max(1)) {
            _ if self.zero_write == Some(self.write_count) => 0,
            Some(w) => 1 + usize::from(w % 512),
            None => waiting,
        };
        self.write_count += 1;
        self.cut |= size == 0;
        size.min(waiting)
    }
}

/// The end a driver error means; `fault` is a fault a command reported before.
fn end_of<M: Subject>(
    e: DriverError<(), M::Error>,
    rx: usize,
    tx: usize,
    fault: &mut Option<String>,
) -> End {
    match e {
        DriverError::Machine(e) => {
            assert!(M::is_fault(&e), "the pump reported the caller's error {e:?} as the end");
            End::Fault(M::key(&e))
        }
        DriverError::Closed => match fault.take() {
            Some(f) => End::Fault(f),
            None => End::Closed,
        },
        DriverError::Eof => End::Cut,
        DriverError::ReceiveBufferTooSmall { required } => {
            assert!(required > rx, "receive buffer of {rx} called too small for {required}");
            End::Stall
        }
        DriverError::TransmitBufferTooSmall { required } => {
            assert!(required > tx, "transmit buffer of {tx} called too small for {required}");
            End::Cut
        }
        other => panic!("unexpected end of a pump run: {other:?}"),
    }
}

/// Writes once what waits in the pump's transmit buffer; `Err` when the transport took none.
fn write_once<M: Subject>(
    pump: &mut Pump<'_, M>,
    t: &mut Transport<'_>,
    written: &mut Vec<u8>,
) -> Result<(), DriverError<(), M::Error>> {
    let waiting = pump.transmit();
    assert!(!waiting.is_empty(), "the pump asks for a write with nothing to write");
    let n = t.write_size(waiting.len());
    written.extend_from_slice(&waiting[..n]);
    pump.sent(n)
}

/// Runs `cmd` (`None`: the start) through the pump as a driver's command does: what waits is
/// written first when the command does not fit behind it.
fn command<'c, M: Subject>(
    pump: &mut Pump<'_, M>,
    t: &mut Transport<'_>,
    run: &mut PumpRun<'c>,
    fault: &mut Option<String>,
    at: usize,
    cmd: Option<&'c Cmd>,
) -> Result<(), DriverError<(), M::Error>> {
    // Before its CONNECT the MQTT client reads nothing either: the start is no command on an
    // ended machine.
    let was_ended = cmd.is_some() && ended(pump.machine_mut());
    let room = Cell::new(None);
    let mut f = |m: &mut M, out: &mut [u8]| {
        room.set(Some(out.len()));
        match cmd {
            Some(cmd) => m.run(cmd, out),
            None => m.start(out),
        }
        .map(|n| ((), n))
    };
    let ok = loop {
        match pump.command::<(), ()>(NOW, &mut f) {
            Ok(Some(())) => break true,
            // Only a flush waits: the answer to a peer's fault, before the fault is reported.
            Ok(None) if pump.transmit().is_empty() => pump.flushed(),
            Ok(None) => write_once(pump, t, &mut run.written)?,
            Err(DriverError::Machine(e)) if !M::is_fault(&e) => break false,
            Err(DriverError::Machine(e)) => {
                // A fault of the peer reported by the command: a driver's user stops here, so
                // what the machine owes about it must be out already.
                assert!(
                    matches!(pump.next_write::<()>(NOW), Ok(None)),
                    "a fault ({e:?}) is reported before the answer the machine owes is written and flushed"
                );
                *fault = Some(M::key(&e));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    };
    if was_ended {
        assert!(!ok, "a command succeeded on a machine that has ended");
    } else {
        let room = room.get().expect("the command ran");
        run.done.push(Done { at, cmd, room, ok });
    }
    Ok(())
}

/// Drives `machine` through a pump over the scripted transport.
fn drive<'c, M: Subject>(
    machine: M,
    input: &'c Input,
    peer: &[u8],
    rx_len: usize,
    tx_len: usize,
) -> PumpRun<'c> {
    let (mut rx, mut tx) = (vec![0u8; rx_len], vec![0u8; tx_len]);
    let mut pump = Pump::new(machine, &mut rx, &mut tx);
    let mut t = Transport {
        peer,
        delivered: 0,
        reads: &input.reads,
        read_count: 0,
        writes: &input.writes,
        write_count: 0,
        zero_write: input.zero_write.map(usize::from),
        cut: false,
    };
    let mut run =
        PumpRun { written: Vec::new(), log: Log::default(), end: End::Cut, done: Vec::new() };
    let mut fault = None;
    let mut commands = input.commands.iter();
    let mut next_command = commands.next();
    let mut wait = next_command.map_or(0, |(w, _)| usize::from(*w));
    let mut result = command(&mut pump, &mut t, &mut run, &mut fault, 0, None);
    if run.done.first().is_some_and(|d| !d.ok) {
        // CONNECT did not fit the transmit buffer: a driver's `connect` fails, nothing to run.
        return run;
    }
    let mut steps = 0;
    while result.is_ok() {
        steps += 1;
        assert!(steps < MAX_STEPS, "the pump makes no progress");
        if let Some((_, cmd)) = next_command.filter(|_| wait == 0) {
            let at = t.delivered - pump.buffered();
            result = command(&mut pump, &mut t, &mut run, &mut fault, at, Some(cmd));
            next_command = commands.next();
            wait = next_command.map_or(0, |(w, _)| usize::from(*w));
            continue;
        }
        wait = wait.saturating_sub(1);
        result = match pump.next::<()>(NOW) {
            Ok(Io::Write) => write_once(&mut pump, &mut t, &mut run.written),
            Ok(Io::Flush) => {
                assert!(pump.transmit().is_empty(), "a flush with bytes waiting");
                pump.flushed();
                Ok(())
            }
            Ok(Io::Read) => {
                assert!(!ended(pump.machine_mut()), "the pump reads for a machine that has ended");
                let n = t.read_size();
                let buf = pump.receive_buffer();
                assert!(!buf.is_empty(), "a read into no room");
                let n = n.min(buf.len());
                buf[..n].copy_from_slice(&peer[t.delivered..t.delivered + n]);
                t.delivered += n;
                pump.received(n)
            }
            Ok(Io::Input) => {
                assert!(pump.has_input());
                let before = pump.buffered();
                let piece = match pump.input::<()>(NOW) {
                    Ok(Some(event)) => {
                        M::record(&event, &mut run.log);
                        M::piece(&event).map(<[u8]>::to_vec)
                    }
                    Ok(None) => None,
                    Err(e) => panic!("an input step failed: {e:?}"),
                };
                assert!(pump.buffered() <= before);
                if let Some(piece) = piece {
                    assert!(
                        pump.last_input().ends_with(&piece),
                        "a piece is not the consumed tail"
                    );
                }
                Ok(())
            }
            Err(e) => Err(e),
        };
    }
    if let Err(e) = result {
        run.end = end_of::<M>(e, rx_len, tx_len, &mut fault);
    }
    if t.cut {
        run.end = End::Cut;
    }
    run
}

/// Feeds `peer` to `m` directly, running the pump's commands at the same points; returns what it
/// wrote, what it reported and how it ended.
fn direct<M: Subject>(
    mut m: M,
    peer: &[u8],
    rx_len: usize,
    done: &[Done<'_>],
) -> (Vec<u8>, Log, End) {
    let mut input = peer.to_vec();
    let total = input.len();
    let (mut written, mut log) = (Vec::new(), Log::default());
    let drain = |m: &mut M, written: &mut Vec<u8>| {
        let mut out = vec![0u8; 1 << 16];
        let mut count = 0;
        while let Some(n) = m.poll_transmit(NOW, &mut out).expect("64 KiB are enough") {
            written.extend_from_slice(&out[..n]);
            count += 1;
        }
        count
    };
    let (mut pos, mut next) = (0, 0);
    let end = loop {
        while let Some(d) = done.get(next).filter(|d| d.at == pos) {
            let mut out = vec![0u8; d.room];
            let result = match d.cmd {
                Some(cmd) => m.run(cmd, &mut out),
                None => m.start(&mut out),
            };
            assert_eq!(result.is_ok(), d.ok, "a command's outcome differs: {result:?}");
            if let Ok(n) = result {
                written.extend_from_slice(&out[..n]);
            }
            drain(&mut m, &mut written);
            next += 1;
        }
        let limit = done.get(next).map_or(total, |d| d.at);
        assert!(limit >= pos, "a command before the input consumed so far");
        // The pump never offers more than its receive buffer holds.
        let window = limit.min(pos + rx_len);
        let step = m.handle_input(NOW, &mut input[pos..window]);
        match step {
            Ok(Status::Progress { consumed, event }) => {
                assert!(consumed <= window - pos);
                if let Some(event) = event {
                    M::record(&event, &mut log);
                }
                pos += consumed;
            }
            Ok(Status::NeedMore { needed }) => {
                assert!(needed > 0);
                // A full receive buffer the machine calls too short is the pump's stall, be
                // the input at its end or not.
                if window - pos == rx_len {
                    break End::Stall;
                }
                assert_eq!(limit, total, "the pump's machine consumed bytes this one cannot");
                break End::NeedMore;
            }
            Ok(Status::Blocked) => {
                if drain(&mut m, &mut written) == 0 {
                    panic!("blocked with nothing to transmit");
                }
            }
            Ok(Status::Closed) => break End::Closed,
            Err(e) => {
                assert!(M::is_fault(&e));
                drain(&mut m, &mut written);
                break End::Fault(M::key(&e));
            }
        }
        drain(&mut m, &mut written);
    };
    drain(&mut m, &mut written);
    (written, log, end)
}

/// Runs `pumped` through the pump and `alone` directly, and compares.
fn check<M: Subject>(
    pumped: M,
    alone: M,
    input: &Input,
    peer: &[u8],
    rx_len: usize,
    tx_len: usize,
) {
    let run = drive(pumped, input, peer, rx_len, tx_len);
    let (written, log, end) = direct(alone, peer, rx_len, &run.done);
    assert!(
        written.starts_with(&run.written),
        "the pump wrote {:02x?}, the machine made {written:02x?}",
        run.written
    );
    assert!(
        log.entries.starts_with(&run.log.entries),
        "the pump reported {:?}, the machine {:?}",
        run.log.entries,
        log.entries
    );
    if run.end != End::Cut {
        assert_eq!(run.end, end, "the runs end differently");
        assert_eq!(run.written, written, "the pump did not write everything");
        assert_eq!(run.log.entries, log.entries, "the pump did not report everything");
        // Pieces of a message reported before a fault depend on the reads (a bad UTF-8 byte
        // fails the piece it is in); otherwise the unfinished message is the same so far.
        if !matches!(end, End::Fault(_)) {
            assert_eq!(run.log.partial, log.partial, "the pump did not report everything");
        }
    }
}

fuzz_target!(|input: Input| {
    let rx_len = 16 + usize::from(input.rx_len % 512);
    let tx_len = 16 + usize::from(input.tx_len % 512);
    let mut peer = Vec::new();
    if input.mqtt && input.connack_first {
        peer.extend_from_slice(&[0x20, 0x03, 0x00, 0x00, 0x00]);
    }
    for piece in &input.peer {
        match piece {
            Piece::Raw(bytes) => peer.extend_from_slice(bytes),
            Piece::Framed { first, payload } if input.mqtt => {
                <MqttClient<'_> as Subject>::frame(*first, payload, &mut peer)
            }
            Piece::Framed { first, payload } => {
                <ws::Connection as Subject>::frame(*first, payload, &mut peer)
            }
        }
    }
    if input.mqtt {
        let (mut a, mut b) = ([0u8; 1024], [0u8; 1024]);
        let config = client::Config::new(rx_len);
        let pumped = MqttClient::new(SliceStore::new(&mut a), config);
        let alone = MqttClient::new(SliceStore::new(&mut b), config);
        check(pumped, alone, &input, &peer, rx_len, tx_len);
    } else {
        let config = ws::Config::new();
        check(
            ws::Connection::server(config),
            ws::Connection::server(config),
            &input,
            &peer,
            rx_len,
            tx_len,
        );
    }
});
