//! [`Reassembler`]: whole messages in a caller buffer, for applications that want them whole
//! rather than as the pieces [`Connection`](super::connection::Connection) hands out.
//!
//! Set the connection's [`Config::max_message_size`](super::connection::Config) to at most the
//! buffer length: the connection then refuses larger messages with 1009 when their header
//! arrives, and [`Reassembler::push`] never overflows.

use super::connection::{Event, MessageKind};
use crate::BufferTooSmall;

/// Collects the pieces of one data message at a time into a caller buffer.
#[derive(Debug)]
pub struct Reassembler<'b> {
    buf: &'b mut [u8],
    len: usize,
    kind: Option<MessageKind>,
    complete: bool,
}

impl<'b> Reassembler<'b> {
    /// A reassembler holding messages of up to `buf.len()` bytes.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Reassembler { buf, len: 0, kind: None, complete: false }
    }

    /// Adds a piece of a data message. Returns the whole message once its last piece is in
    /// (valid until the next call). Pieces after a completed message start the next one.
    ///
    /// On `BufferTooSmall` (the message would exceed the buffer) the message so far is dropped.
    pub fn push(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<Option<(MessageKind, &[u8])>, BufferTooSmall> {
        if self.complete {
            self.reset();
        }
        let end = self.len.saturating_add(data.len());
        let Some(dst) = self.buf.get_mut(self.len..end) else {
            let required = end;
            self.reset();
            return Err(BufferTooSmall { required });
        };
        dst.copy_from_slice(data);
        self.len = end;
        self.kind = Some(kind);
        if !last {
            return Ok(None);
        }
        self.complete = true;
        Ok(Some((kind, self.buf.get(..self.len).unwrap_or(&[]))))
    }

    /// Adds the piece an [`Event::Data`] carries; other events are ignored (`Ok(None)`).
    pub fn push_event(
        &mut self,
        event: &Event<'_>,
    ) -> Result<Option<(MessageKind, &[u8])>, BufferTooSmall> {
        match *event {
            Event::Data { kind, data, last } => self.push(kind, data, last),
            _ => Ok(None),
        }
    }

    /// The type of the message being collected, if a piece of it arrived.
    pub fn kind(&self) -> Option<MessageKind> {
        self.kind
    }

    /// Bytes collected so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is collected.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops what was collected.
    pub fn reset(&mut self) {
        self.len = 0;
        self.kind = None;
        self.complete = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use crate::time::Instant;
    use crate::ws::connection::{Config, Connection};

    #[test]
    fn whole_messages_from_pieces() {
        // A fragmented text message and a binary one through a small window, reassembled.
        let mut sender = Connection::client(Config::new(), || [1, 2, 3, 4]);
        let mut wire = [0u8; 64];
        let mut n = sender.encode_data(&mut wire, MessageKind::Text, b"Hello, ", false).unwrap();
        n += sender.encode_data(&mut wire[n..], MessageKind::Text, b"world", true).unwrap();
        n += sender.encode_binary(&mut wire[n..], &[1, 2, 3]).unwrap();
        let mut receiver = Connection::server(Config { max_message_size: 16, ..Config::new() });
        let mut storage = [0u8; 16];
        let mut r = Reassembler::new(&mut storage);
        let mut messages = [[0u8; 16]; 2];
        let mut lens = [0usize; 2];
        let mut count = 0;
        let mut pos = 0;
        while pos < n {
            // A 6-byte window: the longest header here, and payloads arrive in pieces.
            let end = (pos + 6).min(n);
            let mut window = [0u8; 6];
            window[..end - pos].copy_from_slice(&wire[pos..end]);
            match receiver.handle_input(Instant::ZERO, &mut window[..end - pos]).unwrap() {
                Status::Progress { consumed, event } => {
                    if let Some(e) = event
                        && let Some((_, m)) = r.push_event(&e).unwrap()
                    {
                        messages[count][..m.len()].copy_from_slice(m);
                        lens[count] = m.len();
                        count += 1;
                    }
                    pos += consumed;
                }
                s => panic!("{s:?}"),
            }
        }
        assert_eq!(count, 2);
        assert_eq!(&messages[0][..lens[0]], b"Hello, world");
        assert_eq!(&messages[1][..lens[1]], &[1, 2, 3]);
    }

    #[test]
    fn overflow_drops_the_message() {
        let mut storage = [0u8; 4];
        let mut r = Reassembler::new(&mut storage);
        assert_eq!(r.push(MessageKind::Binary, b"abc", false), Ok(None));
        assert_eq!(r.len(), 3);
        assert_eq!(r.push(MessageKind::Binary, b"de", true), Err(BufferTooSmall { required: 5 }));
        assert!(r.is_empty());
        assert_eq!(
            r.push(MessageKind::Text, b"ok", true),
            Ok(Some((MessageKind::Text, &b"ok"[..])))
        );
        assert_eq!(
            r.push(MessageKind::Text, b"next", true),
            Ok(Some((MessageKind::Text, &b"next"[..])))
        );
    }
}
