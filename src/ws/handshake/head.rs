//! The HTTP/1.1 message head: finding its end incrementally, walking its lines and header
//! fields, and the elements of comma-separated lists. The grammar of each line is in
//! [`grammar`](super::grammar).
//!
//! Invariants: [`Scanner`] looks at every byte at most once across calls (no re-scan from zero
//! as the buffer grows), and never looks past [`Limits::max_head_len`]. A [`Head`] is only built
//! over a head whose every header line was checked by [`field_line`], so its iterators never
//! fail and never panic.

use core::str;

use super::grammar::{field_line, split_element, trim_ows};

/// Bounds on an HTTP/1.1 head received from the peer.
///
/// A peer that sends more is refused (`431 Request Header Fields Too Large` on the server side)
/// before the bytes are parsed any further, so a slow or hostile peer cannot make a parser work
/// or wait forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// The most bytes the head may take, from the first byte up to and including the blank line
    /// that ends it.
    pub max_head_len: usize,
    /// The most header field lines the head may hold (the request or status line not counted).
    pub max_headers: usize,
}

impl Limits {
    /// 4 KiB of head and 32 header lines: room for a browser's handshake with cookies.
    pub const DEFAULT: Limits = Limits { max_head_len: 4096, max_headers: 32 };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why [`Scanner::scan`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanError {
    TooLarge,
    TooManyHeaders,
}

/// Finds the blank line that ends a head in a buffer that grows between calls.
///
/// It remembers the offset up to which it has looked and how many lines it has seen, so each
/// call only looks at the new bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Scanner {
    /// Bytes `..scanned` hold no end of head.
    scanned: usize,
    /// Complete lines (ending in CRLF) in `..scanned`.
    lines: usize,
    /// The length of the head once found.
    end: Option<usize>,
}

impl Scanner {
    pub(crate) const fn new() -> Self {
        Scanner { scanned: 0, lines: 0, end: None }
    }

    /// Complete lines seen so far.
    pub(crate) fn lines(&self) -> usize {
        self.lines
    }

    /// Returns the length of the head (up to and including `\r\n\r\n`) once `buf` holds it.
    ///
    /// `buf` must start with the bytes of the previous calls; if it is shorter than what was
    /// already scanned, the caller gave another buffer and scanning starts again from zero.
    pub(crate) fn scan(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, ScanError> {
        if buf.len() < self.scanned || self.end.is_some_and(|end| buf.len() < end) {
            *self = Scanner::new();
        }
        if let Some(end) = self.end {
            return Ok(Some(end));
        }
        let limit = buf.len().min(limits.max_head_len);
        let mut i = self.scanned;
        while let Some(lf) = buf.get(i..limit).and_then(find_lf) {
            let at = i + lf;
            i = at + 1;
            if at == 0 || buf.get(at - 1) != Some(&b'\r') {
                continue;
            }
            if at >= 3 && buf.get(at - 3..at - 1) == Some(b"\r\n") {
                self.end = Some(i);
                self.scanned = i;
                return Ok(Some(i));
            }
            self.lines += 1;
            // The first line is the request or status line.
            if self.lines > limits.max_headers.saturating_add(1) {
                self.scanned = i;
                return Err(ScanError::TooManyHeaders);
            }
        }
        self.scanned = limit;
        if buf.len() >= limits.max_head_len {
            return Err(ScanError::TooLarge);
        }
        Ok(None)
    }
}

/// The position of the first LF in `bytes`: `memchr`'s word-at-a-time search on 64-bit
/// targets, a byte loop on smaller ones, where it takes less flash.
fn find_lf(bytes: &[u8]) -> Option<usize> {
    if cfg!(target_pointer_width = "64") {
        memchr::memchr(b'\n', bytes)
    } else {
        bytes.iter().position(|&b| b == b'\n')
    }
}

/// Splits `head` (without its final blank line) into lines at each CRLF.
#[derive(Debug, Clone)]
pub(crate) struct Lines<'b> {
    rest: Option<&'b [u8]>,
}

impl<'b> Lines<'b> {
    /// Lines of a complete head, `head` ending in `\r\n\r\n`.
    pub(crate) fn new(head: &'b [u8]) -> Self {
        let body = head.strip_suffix(b"\r\n\r\n").unwrap_or(head);
        Lines { rest: Some(body) }
    }
}

impl<'b> Iterator for Lines<'b> {
    type Item = &'b [u8];
    fn next(&mut self) -> Option<&'b [u8]> {
        let rest = self.rest?;
        // Look for LF (`find_lf`, as in `Scanner`) and accept it only after CR; a bare
        // LF stays inside the line, where field parsing refuses it.
        let mut from = 0;
        while let Some(lf) = rest.get(from..).and_then(find_lf) {
            let at = from + lf;
            if at >= 1 && rest.get(at - 1) == Some(&b'\r') {
                self.rest = rest.get(at + 1..);
                return rest.get(..at - 1);
            }
            from = at + 1;
        }
        self.rest = None;
        Some(rest)
    }
}

/// A field that may appear at most once, or a list field read from one line in the common
/// case: where it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum Once<'b> {
    Absent,
    Present(&'b [u8]),
    Repeated,
}

impl<'b> Once<'b> {
    pub(crate) fn see(&mut self, value: &'b [u8]) {
        *self = match self {
            Once::Absent => Once::Present(value),
            _ => Once::Repeated,
        };
    }
}

/// Whether any element of the comma-separated `value` equals `token` ASCII
/// case-insensitively.
pub(crate) fn list_has_ci(value: &[u8], token: &str) -> bool {
    List::new(value).any(|item| eq_ci(item, token))
}

/// One header field line of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header<'b> {
    /// The field name as sent (compare it ASCII case-insensitively).
    pub name: &'b str,
    /// The field value without leading and trailing whitespace. It may hold bytes above 0x7F
    /// (obs-text), so it is bytes, not `str`.
    pub value: &'b [u8],
}

/// Parses one header line; `None` when it is not a field line (RFC 9112 §5).
pub(crate) fn parse_field(line: &[u8]) -> Option<Header<'_>> {
    let (name, value) = field_line(line)?;
    Some(Header { name: str::from_utf8(name).ok()?, value })
}

/// ASCII case-insensitive equality of a header name or token.
pub(crate) fn eq_ci(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// The index of the first of `names` that `name` equals, case-insensitively (field names,
/// RFC 9110 §5.1); `names.len()` when none does.
pub(crate) fn field_index(name: &[u8], names: &[&str]) -> usize {
    names.iter().position(|n| eq_ci(name, n)).unwrap_or(names.len())
}

/// A validated head: the start line, then header lines that all parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head<'b> {
    /// The whole head including the final blank line.
    pub(crate) bytes: &'b [u8],
}

#[cfg(feature = "defmt")]
impl defmt::Format for Head<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Head({=usize} bytes)", self.bytes.len())
    }
}

impl<'b> Head<'b> {
    pub(crate) fn headers(&self) -> Headers<'b> {
        let mut lines = Lines::new(self.bytes);
        lines.next();
        Headers { lines }
    }

    /// Every element of the comma-separated lists in all fields named `name`, where `seen`
    /// says what validation found: the head is walked again only when the field was repeated.
    pub(crate) fn list(&self, name: &'static str, seen: Once<'b>) -> ListValues<'b> {
        let (current, headers) = match seen {
            Once::Absent => (List::new(b""), None),
            Once::Present(value) => (List::new(value), None),
            Once::Repeated => (List::new(b""), Some(self.headers())),
        };
        ListValues { headers, name, current }
    }
}

/// The header fields of a head, in order. Produced by `Request::headers` and
/// `Accepted::headers`.
#[derive(Debug, Clone)]
pub struct Headers<'b> {
    lines: Lines<'b>,
}

impl<'b> Iterator for Headers<'b> {
    type Item = Header<'b>;
    fn next(&mut self) -> Option<Header<'b>> {
        // Every line was checked when the head was validated; a line that does not parse
        // cannot occur, and is skipped rather than trusted.
        self.lines.by_ref().find_map(parse_field)
    }
}

/// The elements of one comma-separated field value (RFC 9110 §5.6.1), whitespace trimmed,
/// empty elements skipped, commas inside quoted strings kept.
#[derive(Debug, Clone)]
pub(crate) struct List<'b> {
    rest: &'b [u8],
}

impl<'b> List<'b> {
    pub(crate) fn new(value: &'b [u8]) -> Self {
        List { rest: value }
    }
}

impl<'b> Iterator for List<'b> {
    type Item = &'b [u8];
    fn next(&mut self) -> Option<&'b [u8]> {
        while !self.rest.is_empty() {
            let (element, rest) = split_element(self.rest);
            self.rest = rest;
            let element = trim_ows(element);
            if !element.is_empty() {
                return Some(element);
            }
        }
        None
    }
}

/// The list elements of every field of one name, as `&str`. Fields the crate reads as lists
/// were checked to be ASCII when the head was validated.
#[derive(Debug, Clone)]
pub struct ListValues<'b> {
    /// The fields still to read, when the field was repeated.
    headers: Option<Headers<'b>>,
    name: &'static str,
    current: List<'b>,
}

impl<'b> Iterator for ListValues<'b> {
    type Item = &'b str;
    fn next(&mut self) -> Option<&'b str> {
        loop {
            if let Some(item) = self.current.next() {
                match str::from_utf8(item) {
                    Ok(s) => return Some(s),
                    Err(_) => continue,
                }
            }
            let name = self.name;
            let h = self.headers.as_mut()?.find(|h| eq_ci(h.name.as_bytes(), name))?;
            self.current = List::new(h.value);
        }
    }
}

/// A byte sink that either counts or writes; encoders run once to count, once to write.
pub(crate) trait Put {
    fn put(&mut self, bytes: &[u8]);
    fn put_str(&mut self, s: &str) {
        self.put(s.as_bytes());
    }
}

/// Counts bytes.
pub(crate) struct Count(pub(crate) usize);

impl Put for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
}

/// Writes into a slice known to be large enough.
pub(crate) struct Write<'o> {
    pub(crate) out: &'o mut [u8],
    pub(crate) pos: usize,
}

impl Put for Write<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.out.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// Runs `emit` to count, checks `out`, then runs it again to write. Writes nothing when `out`
/// is too small.
pub(crate) fn encode_with(
    out: &mut [u8],
    emit: impl Fn(&mut dyn Put),
) -> Result<usize, super::EncodeError> {
    let mut count = Count(0);
    emit(&mut count);
    let required = count.0;
    if out.len() < required {
        return Err(super::EncodeError::BufferTooSmall { required });
    }
    let mut w = Write { out, pos: 0 };
    emit(&mut w);
    Ok(required)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_finds_end_once_across_chunks() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nXY";
        let limits = Limits::DEFAULT;
        for split in 0..head.len() {
            let mut s = Scanner::new();
            let first = s.scan(&head[..split], &limits).unwrap();
            let end = match first {
                Some(end) => end,
                None => s.scan(head, &limits).unwrap().unwrap(),
            };
            assert_eq!(end, head.len() - 2, "split {split}");
        }
    }

    #[test]
    fn scanner_resumes_where_it_stopped() {
        let mut s = Scanner::new();
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n";
        assert_eq!(s.scan(head, &Limits::DEFAULT), Ok(None));
        assert_eq!(s.scanned, head.len());
        assert_eq!(s.lines, 2);
    }

    #[test]
    fn scanner_bounds_size_and_lines() {
        let limits = Limits { max_head_len: 16, max_headers: 1 };
        let mut s = Scanner::new();
        assert_eq!(s.scan(b"GET /aaaaaaaaaaaaaaaaaaa", &limits), Err(ScanError::TooLarge));
        let mut s = Scanner::new();
        assert_eq!(s.scan(b"G\r\nA:1\r\nB:2\r\n", &limits), Err(ScanError::TooManyHeaders));
        let mut s = Scanner::new();
        assert_eq!(s.scan(b"G\r\nA:1\r\n\r\n", &limits), Ok(Some(10)));
    }

    #[test]
    fn scanner_starts_over_on_a_shorter_buffer() {
        // A buffer shorter than what was scanned is another buffer: its head is found from its
        // first byte, not from where the previous one stopped.
        let mut s = Scanner::new();
        assert_eq!(s.scan(&[b'a'; 64], &Limits::DEFAULT), Ok(None));
        assert_eq!(s.scan(b"G\r\nA:1\r\n\r\n", &Limits::DEFAULT), Ok(Some(10)));
    }

    #[test]
    fn scanner_counts_lines_at_crlf_only() {
        // A bare LF ends no line (RFC 9112 §2.2 lets a recipient accept it; this one does not),
        // so it counts towards no limit and `\r\nX\n` is no blank line.
        let mut s = Scanner::new();
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\nA: 1\nB\n", &Limits::DEFAULT), Ok(None));
        assert_eq!(s.lines, 1);
        let mut s = Scanner::new();
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\nB\n", &Limits::DEFAULT), Ok(None));
    }

    #[test]
    fn lists_split_on_commas_outside_quotes() {
        let items: heapless::Vec<&[u8], 8> = List::new(b" a , ,b;x=\"1,2\" ,, c\t").collect();
        assert_eq!(items.as_slice(), &[&b"a"[..], b"b;x=\"1,2\"", b"c"]);
        assert_eq!(List::new(b" , ").next(), None);
    }

    #[test]
    fn lines_end_at_crlf_only() {
        let lines: heapless::Vec<&[u8], 4> = Lines::new(b"A\r\nB\nC\r\n\r\n").collect();
        assert_eq!(lines.as_slice(), &[&b"A"[..], b"B\nC"]);
    }
}
