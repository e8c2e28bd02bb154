//! How `mqtt sub` prints a message: mosquitto_sub's plain, `-v`, `-N` and `-F` output.

use std::num::NonZeroU32;

use jiff::Zoned;
use mqtt_ws::mqtt::properties::{PayloadFormat, Properties};

use crate::json;

/// A received message as mosquitto_sub prints it.
pub(crate) struct Shown<'a> {
    pub(crate) topic: &'a str,
    pub(crate) payload: &'a [u8],
    pub(crate) qos: u8,
    pub(crate) retain: bool,
    pub(crate) mid: u16,
    pub(crate) properties: Properties<'a>,
}

impl<'a> Shown<'a> {
    /// `m` as printed.
    pub(crate) fn of(m: &'a mqtt_ws::mqtt::Message<'a>) -> Self {
        Shown {
            topic: m.topic.as_str(),
            payload: m.payload,
            qos: m.qos as u8,
            retain: m.retain,
            mid: m.packet_id.map_or(0, |p| p.get()),
            properties: m.properties,
        }
    }

    /// Writes the message as mosquitto_sub does with `-F format`, `-v`, or neither; `eol`
    /// false is `-N`. Returns the line mosquitto_sub prints on stderr for a `%J` payload that
    /// is not JSON (what the other codes print is written all the same).
    pub(crate) fn print(
        &self,
        out: &mut Vec<u8>,
        format: Option<&[u8]>,
        verbose: bool,
        eol: bool,
    ) -> Option<String> {
        let mut error = None;
        if let Some(format) = format {
            error = self.format(out, format);
            if eol {
                out.push(b'\n');
            }
        } else if self.payload.is_empty() {
            // mosquitto_sub prints `topic (null)` for an empty payload with -v, else nothing.
            if verbose && eol {
                out.extend_from_slice(self.topic.as_bytes());
                out.extend_from_slice(b" (null)\n");
            }
        } else {
            if verbose {
                out.extend_from_slice(self.topic.as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(self.payload);
            if eol {
                out.push(b'\n');
            }
        }
        error
    }

    /// `-F`: `%` codes with their optional `-`, `0`, width and precision, `@` time codes, and
    /// `\` escapes. The time, the local time zone's, is read at the first code that needs it.
    fn format(&self, out: &mut Vec<u8>, f: &[u8]) -> Option<String> {
        let mut now = None;
        let mut error = None;
        let mut i = 0;
        while let Some(&b) = f.get(i) {
            i += 1;
            match b {
                b'%' => {
                    let mut spec = Spec { left: false, zero: false, width: 0, precision: None };
                    if f.get(i) == Some(&b'-') {
                        spec.left = true;
                        i += 1;
                    }
                    if f.get(i) == Some(&b'0') {
                        spec.zero = true;
                        i += 1;
                    }
                    while let Some(d) = f.get(i).filter(|d| d.is_ascii_digit()) {
                        spec.width = spec.width * 10 + usize::from(d - b'0');
                        i += 1;
                    }
                    if f.get(i) == Some(&b'.') {
                        i += 1;
                        let mut p = 0;
                        while let Some(d) = f.get(i).filter(|d| d.is_ascii_digit()) {
                            p = p * 10 + usize::from(d - b'0');
                            i += 1;
                        }
                        spec.precision = Some(p);
                    }
                    if let Some(&code) = f.get(i) {
                        i += 1;
                        let now = now.get_or_insert_with(Zoned::now);
                        error = error.or(self.code(out, code, &spec, now));
                    }
                }
                b'@' => {
                    if let Some(&code) = f.get(i) {
                        i += 1;
                        time_code(out, code, || now.get_or_insert_with(Zoned::now).clone());
                    }
                }
                b'\\' => {
                    if let Some(&e) = f.get(i) {
                        i += 1;
                        match e {
                            b'\\' => out.push(b'\\'),
                            b'0' => out.push(0),
                            b'a' => out.push(0x07),
                            b'e' => out.push(0x1b),
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'v' => out.push(0x0b),
                            // Unknown escapes print nothing, as in mosquitto_sub.
                            _ => {}
                        }
                    }
                }
                b => out.push(b),
            }
        }
        error
    }

    /// One `%` code; `now`: the time the message is printed. Returns `%J`'s error line.
    fn code(&self, out: &mut Vec<u8>, code: u8, spec: &Spec, now: &Zoned) -> Option<String> {
        match code {
            b'%' => out.push(b'%'),
            b't' => spec.text(out, self.topic.as_bytes()),
            b'p' => spec.pad(out, self.payload),
            b'x' | b'X' => {
                // As mosquitto_sub: a width counts payload bytes first, then halves them.
                let bytes = if spec.width > 0 {
                    let n = self.payload.len().min(spec.width) / 2;
                    self.payload.get(..n).unwrap_or_default()
                } else {
                    self.payload
                };
                let hex: Vec<u8> = bytes
                    .iter()
                    .flat_map(|b| {
                        let s = if code == b'x' { format!("{b:02x}") } else { format!("{b:02X}") };
                        s.into_bytes()
                    })
                    .collect();
                spec.pad(out, &hex);
            }
            b'q' => out.push(b'0' + self.qos),
            b'r' => out.push(if self.retain { b'1' } else { b'0' }),
            b'l' => spec.int(out, self.payload.len()),
            b'm' => spec.int(out, usize::from(self.mid)),
            // MQTT 5.0 properties; missing, they print as mosquitto_sub prints them.
            b'A' => spec.int_or_blank(out, self.properties.topic_alias().map(|a| a.get().into())),
            b'C' => match self.properties.content_type() {
                Some(t) => spec.text(out, t.as_bytes()),
                None => spec.fill(out, 0, b' '),
            },
            b'D' => out.extend_from_slice(self.properties.correlation_data().unwrap_or_default()),
            b'E' => spec.int_or_blank(out, self.properties.message_expiry_interval()),
            b'F' => spec.int_or_blank(
                out,
                self.properties.payload_format_indicator().map(|f| match f {
                    PayloadFormat::Unspecified => 0,
                    _ => 1,
                }),
            ),
            b'P' => {
                for (n, (k, v)) in self.properties.user_properties().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(format!("{k}:{v}").as_bytes());
                }
            }
            b'R' => {
                if let Some(t) = self.properties.response_topic() {
                    spec.text(out, t.as_bytes());
                }
            }
            b'S' => spec.int_or_blank(
                out,
                self.properties.subscription_identifiers().next().map(NonZeroU32::get),
            ),
            b'I' => spec.text(out, now.strftime("%Y-%m-%dT%H:%M:%S%z").to_string().as_bytes()),
            b'U' => {
                let t = now.timestamp();
                out.extend_from_slice(
                    format!("{}.{:09}", t.as_second(), t.subsec_nanosecond()).as_bytes(),
                );
            }
            b'j' | b'J' => match json::message(self, now, code == b'j') {
                Some(json) => out.extend_from_slice(&json),
                None => {
                    return Some(format!(
                        "Error: Message payload is not valid JSON on topic {}.",
                        self.topic
                    ));
                }
            },
            // Unknown codes print nothing, as in mosquitto_sub.
            _ => {}
        }
        None
    }
}

/// An `@` code: `@@` an `@`, `@N` the nanoseconds of the second, any other letter strftime's
/// `%` code of that letter (`@Y`, `@m`, `@d`, `@H`, `@M`, `@S`, `@s`, `@z`, `@Z`, ...) in local
/// time and the C locale; one strftime does not know prints as it is (`%` and the letter).
fn time_code(out: &mut Vec<u8>, code: u8, now: impl FnOnce() -> Zoned) {
    match code {
        b'@' => out.push(b'@'),
        b'N' => out.extend_from_slice(format!("{:09}", now().subsec_nanosecond()).as_bytes()),
        c => {
            let spec = match c {
                // The C locale's forms.
                b'c' => "%a %b %e %H:%M:%S %Y".to_string(),
                b'x' => "%m/%d/%y".into(),
                b'X' => "%H:%M:%S".into(),
                b'r' => "%I:%M:%S %p".into(),
                c => format!("%{}", char::from(c)),
            };
            match jiff::fmt::strtime::format(spec.as_str(), &now()) {
                Ok(s) => out.extend_from_slice(s.as_bytes()),
                // As C's strftime: an unknown code as it is.
                Err(_) => out.extend_from_slice(format!("%{}", char::from(c)).as_bytes()),
            }
        }
    }
}

/// A `%` code's flags, as printf reads them.
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

impl Spec {
    fn fill(&self, out: &mut Vec<u8>, len: usize, pad: u8) {
        out.extend(std::iter::repeat_n(pad, self.width.saturating_sub(len)));
    }

    /// A string: cut to the precision, padded with spaces to the width.
    fn text(&self, out: &mut Vec<u8>, s: &[u8]) {
        let s = self.precision.map_or(s, |p| s.get(..p).unwrap_or(s));
        if !self.left {
            self.fill(out, s.len(), b' ');
        }
        out.extend_from_slice(s);
        if self.left {
            self.fill(out, s.len(), b' ');
        }
    }

    /// The payload: cut to the width, padded with the pad character.
    fn pad(&self, out: &mut Vec<u8>, s: &[u8]) {
        let s = if self.width > 0 { s.get(..self.width).unwrap_or(s) } else { s };
        let pad = if self.zero { b'0' } else { b' ' };
        if !self.left {
            self.fill(out, s.len(), pad);
        }
        out.extend_from_slice(s);
        if self.left {
            self.fill(out, s.len(), b' ');
        }
    }

    /// A number, or without one the pad character repeated to the width.
    fn int_or_blank(&self, out: &mut Vec<u8>, n: Option<u32>) {
        match n {
            Some(n) => self.int(out, n as usize),
            None => self.fill(out, 0, if self.zero { b'0' } else { b' ' }),
        }
    }

    /// A number: padded with spaces, or zeros, to the width.
    fn int(&self, out: &mut Vec<u8>, n: usize) {
        let s = n.to_string();
        let pad = if self.zero && !self.left { b'0' } else { b' ' };
        if !self.left {
            self.fill(out, s.len(), pad);
        }
        out.extend_from_slice(s.as_bytes());
        if self.left {
            self.fill(out, s.len(), b' ');
        }
    }
}
