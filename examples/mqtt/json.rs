//! `mqtt sub -F %j` and `-F %J`: a message as one line of JSON, with the fields, order and
//! escaping mosquitto_sub prints (it writes with cJSON: strings end at a NUL byte, control
//! characters escaped, bytes above 0x7F as they are; numbers as C's `%1.15g`).

use jiff::Zoned;
use mqtt_ws::mqtt::properties::{PayloadFormat, Property};

use crate::output::Shown;

/// How deep arrays and objects of a `%J` payload may nest (cJSON's limit).
const NESTING_LIMIT: usize = 1000;

/// The message as mosquitto_sub's JSON object, received at `at`. `escaped` (`%j`): the payload
/// as a string; else (`%J`) the payload is JSON itself, and `None` when it is not.
pub(crate) fn message(m: &Shown<'_>, at: &Zoned, escaped: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    // As mosquitto_sub: microseconds, then a `Z` before the local offset.
    let micros = at.timestamp().subsec_microsecond();
    let tst = format!("{}.{micros:06}Z{}", at.strftime("%Y-%m-%dT%H:%M:%S"), at.strftime("%z"));
    out.extend_from_slice(b"{\"tst\":");
    string(&mut out, tst.as_bytes());
    out.extend_from_slice(b",\"topic\":");
    string(&mut out, m.topic.as_bytes());
    let head = format!(",\"qos\":{},\"retain\":{},", m.qos, u8::from(m.retain));
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(format!("\"payloadlen\":{}", m.payload.len()).as_bytes());
    if m.qos > 0 {
        out.extend_from_slice(format!(",\"mid\":{}", m.mid).as_bytes());
    }
    if !m.properties.is_empty() {
        out.extend_from_slice(b",\"properties\":");
        properties(&mut out, m);
    }
    out.extend_from_slice(b",\"payload\":");
    if m.payload.is_empty() {
        out.extend_from_slice(b"null");
    } else if escaped {
        string(&mut out, m.payload);
    } else {
        reprint(m.payload, &mut out)?;
    }
    out.push(b'}');
    Some(out)
}

/// The PUBLISH properties mosquitto_sub prints, in the order they came; the user properties
/// as one object where the first was.
fn properties(out: &mut Vec<u8>, m: &Shown<'_>) {
    out.push(b'{');
    let mut first = true;
    let mut users_done = false;
    for p in m.properties.iter() {
        let (name, value): (&str, Vec<u8>) = match p {
            Property::PayloadFormatIndicator(f) => {
                let n = if f == PayloadFormat::Unspecified { "0" } else { "1" };
                ("payload-format-indicator", n.into())
            }
            Property::MessageExpiryInterval(n) => ("message-expiry-interval", number(n.into())),
            Property::ContentType(s) => ("content-type", quoted(s.as_bytes())),
            Property::ResponseTopic(s) => ("response-topic", quoted(s.as_bytes())),
            Property::CorrelationData(d) => ("correlation-data", quoted(d)),
            Property::SubscriptionIdentifier(n) => {
                ("subscription-identifier", number(n.get().into()))
            }
            Property::TopicAlias(n) => ("topic-alias", number(n.get().into())),
            Property::UserProperty(..) if !users_done => {
                users_done = true;
                ("user-properties", user_properties(m))
            }
            _ => continue,
        };
        if !first {
            out.push(b',');
        }
        first = false;
        string(out, name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&value);
    }
    out.push(b'}');
}

/// Every user property, as one object (a name given twice is there twice).
fn user_properties(m: &Shown<'_>) -> Vec<u8> {
    let mut out = vec![b'{'];
    for (i, (k, v)) in m.properties.user_properties().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(&mut out, k.as_bytes());
        out.push(b':');
        string(&mut out, v.as_bytes());
    }
    out.push(b'}');
    out
}

fn quoted(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, s);
    out
}

/// A JSON string as cJSON writes a C string: up to the first NUL byte.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    let s = s.split(|&b| b == 0).next().unwrap_or_default();
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// A number as cJSON prints it: C's `%1.15g`, or `%1.17g` when that does not read back the same
/// (to within a rounding error: 0.30000000000000004 prints as 0.3); `null` for what JSON
/// cannot hold.
fn number(d: f64) -> Vec<u8> {
    if !d.is_finite() {
        return b"null".to_vec();
    }
    let short = general(d, 15);
    let same = |r: f64| (r - d).abs() <= r.abs().max(d.abs()) * f64::EPSILON;
    let s = if short.parse::<f64>().is_ok_and(same) { short } else { general(d, 17) };
    s.into_bytes()
}

/// C's `%1.<precision>g`.
fn general(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let scientific = format!("{:.*e}", precision - 1, d);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.unsigned_abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim_zeros(&format!("{d:.decimals$}")).to_string()
    }
}

/// Without the trailing zeros of a fraction, nor a point left alone.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

/// `%J`: the payload read as JSON and written again as cJSON writes it (no white space, strings
/// and numbers in its form); `None` if it is not JSON.
fn reprint(payload: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut r = Reader { s: payload, at: 0 };
    r.value(out, 0)?;
    r.space();
    (r.at == payload.len()).then_some(())
}

/// A JSON reader as lenient as cJSON's.
struct Reader<'a> {
    s: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    /// Skips white space: every byte up to 0x20, as cJSON (a NUL ends the payload for it).
    fn space(&mut self) {
        while self.peek().is_some_and(|b| (1..=b' ').contains(&b)) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Option<()> {
        self.s.get(self.at..)?.starts_with(word).then_some(())?;
        self.at += word.len();
        out.extend_from_slice(word);
        Some(())
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        if depth > NESTING_LIMIT {
            return None;
        }
        self.space();
        match self.peek()? {
            b'n' => self.literal(b"null", out),
            b't' => self.literal(b"true", out),
            b'f' => self.literal(b"false", out),
            b'"' => {
                let s = self.string()?;
                string(out, &s);
                Some(())
            }
            b'-' | b'0'..=b'9' => {
                let d = self.number()?;
                out.extend_from_slice(&number(d));
                Some(())
            }
            b'[' => self.array(out, depth),
            b'{' => self.object(out, depth),
            _ => None,
        }
    }

    /// A number as strtod reads it: the longest prefix of number characters that is one.
    fn number(&mut self) -> Option<f64> {
        let run = self
            .s
            .get(self.at..)?
            .iter()
            .take_while(|b| b.is_ascii_digit() || b"+-eE.".contains(b))
            .count();
        let chars = std::str::from_utf8(self.s.get(self.at..self.at + run)?).ok()?;
        let (len, d) = (1..=chars.len())
            .rev()
            .find_map(|n| chars.get(..n)?.parse::<f64>().ok().map(|d| (n, d)))?;
        self.at += len;
        Some(d)
    }

    /// A string's bytes, its escapes undone (`\u` escapes, surrogate pairs included, as UTF-8).
    fn string(&mut self) -> Option<Vec<u8>> {
        self.at += 1;
        let mut s = Vec::new();
        loop {
            let b = self.peek()?;
            self.at += 1;
            match b {
                b'"' => return Some(s),
                b'\\' => {
                    let e = self.peek()?;
                    self.at += 1;
                    match e {
                        b'b' => s.push(0x08),
                        b'f' => s.push(0x0C),
                        b'n' => s.push(b'\n'),
                        b'r' => s.push(b'\r'),
                        b't' => s.push(b'\t'),
                        b'"' | b'\\' | b'/' => s.push(e),
                        b'u' => {
                            let c = self.unicode()?;
                            s.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return None,
                    }
                }
                b => s.push(b),
            }
        }
    }

    /// After `\u`: four hex digits, and a low surrogate's after a high one.
    fn unicode(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            self.s.get(self.at..)?.starts_with(b"\\u").then_some(())?;
            self.at += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
        } else {
            char::from_u32(first)
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = std::str::from_utf8(self.s.get(self.at..self.at + 4)?).ok()?;
        let n = u32::from_str_radix(digits, 16).ok()?;
        self.at += 4;
        Some(n)
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.at += 1;
        out.push(b'[');
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            out.push(b']');
            return Some(());
        }
        loop {
            self.value(out, depth + 1)?;
            self.space();
            match self.peek()? {
                b',' => out.push(b','),
                b']' => break,
                _ => return None,
            }
            self.at += 1;
        }
        self.at += 1;
        out.push(b']');
        Some(())
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.at += 1;
        out.push(b'{');
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
            out.push(b'}');
            return Some(());
        }
        loop {
            self.space();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            string(out, &key);
            self.space();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            out.push(b':');
            self.value(out, depth + 1)?;
            self.space();
            match self.peek()? {
                b',' => out.push(b','),
                b'}' => break,
                _ => return None,
            }
            self.at += 1;
        }
        self.at += 1;
        out.push(b'}');
        Some(())
    }
}
