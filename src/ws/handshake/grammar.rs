//! The HTTP/1.1 grammar of the opening handshake, as nom parsers over complete lines and field
//! values: the request line and status line (RFC 9112 §3, §4), field lines (RFC 9112 §5),
//! comma-separated lists with quoted strings (RFC 9110 §5.6), and extension offers and
//! responses (RFC 6455 §9.1).
//!
//! Invariant: every parser here works on bytes the incremental line scanner (`head::Scanner`)
//! has already bounded and found complete, so none of them waits for more input (nom's
//! `complete` parsers) and none of them is run over the same bytes twice per head.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while_m_n, take_while1};
use nom::combinator::{all_consuming, opt, recognize};
use nom::multi::many0_count;
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// A parser result with no error detail: the callers map a failure to their own error.
type Parsed<'a, O> = IResult<&'a [u8], O, ()>;

/// RFC 9110 §5.6.2 `tchar`: `!#$%&'*+-.^_`|~`, digits and letters, as one bit per ASCII byte.
const TCHAR: u128 = {
    let mut set = 0u128;
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.')
            || matches!(c, b'^' | b'_' | b'`' | b'|' | b'~')
        {
            set |= 1 << b;
        }
        b += 1;
    }
    set
};

/// [`TCHAR`] as two 64-bit halves, so a test is one shift of a machine word.
const TCHAR_HALVES: [u64; 2] = [TCHAR as u64, (TCHAR >> 64) as u64];

/// RFC 9110 §5.6.2 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    let half = match b {
        0..64 => TCHAR_HALVES[0],
        64..128 => TCHAR_HALVES[1],
        _ => return false,
    };
    half >> (b & 63) & 1 == 1
}

/// RFC 9110 §5.6.2 `token`, for a whole value.
pub(crate) fn is_token(s: &[u8]) -> bool {
    all_consuming(token).parse(s).is_ok()
}

/// RFC 9110 §5.6.3 optional whitespace: SP or HTAB.
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 9110 §5.5 field-value octets: VCHAR, SP, HTAB and obs-text; no CTL.
fn is_field_byte(b: u8) -> bool {
    // Every byte from SP up but DEL, or HTAB (no short circuit: see `field_line`).
    (b >= b' ') & (b != 0x7f) | (b == b'\t')
}

/// A field value the crate sends or reads as text: visible ASCII, SP and HTAB only.
pub(crate) fn is_ascii_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| is_ows(b) || (0x21..=0x7e).contains(&b))
}

/// Removes optional whitespace around `s`. RFC 9110 §5.6.3.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}

/// `token` (RFC 9110 §5.6.2).
fn token(i: &[u8]) -> Parsed<'_, &[u8]> {
    take_while1(is_tchar).parse(i)
}

/// `OWS` (RFC 9110 §5.6.3).
fn ows(i: &[u8]) -> Parsed<'_, &[u8]> {
    take_while(is_ows).parse(i)
}

/// One `DIGIT`.
fn digit(i: &[u8]) -> Parsed<'_, &[u8]> {
    take_while_m_n(1, 1, |b: u8| b.is_ascii_digit()).parse(i)
}

/// `HTTP-version = HTTP-name "/" DIGIT "." DIGIT` (RFC 9112 §2.3).
fn http_version(i: &[u8]) -> Parsed<'_, &[u8]> {
    recognize((tag("HTTP/"), digit, tag("."), digit)).parse(i)
}

/// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE` (RFC 9110 §5.6.4), without
/// control bytes.
fn quoted_string(i: &[u8]) -> Parsed<'_, &[u8]> {
    let qdtext = take_while1(|b: u8| b != b'"' && b != b'\\' && is_field_byte(b));
    let quoted_pair = preceded(tag("\\"), take_while_m_n(1, 1, is_field_byte));
    recognize((tag("\""), many0_count(alt((qdtext, quoted_pair))), tag("\""))).parse(i)
}

/// A request line: `method SP request-target SP HTTP-version` (RFC 9112 §3), over a line
/// without its CRLF. Returns the method, the target (visible ASCII, at least one byte) and the
/// version, or `None` when the line does not have that form.
pub(crate) fn request_line(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let target = take_while1(|b: u8| (0x21..=0x7e).contains(&b));
    let parsed = all_consuming((token, tag(" "), target, tag(" "), http_version)).parse(line);
    let (_, (method, _, target, _, version)) = parsed.ok()?;
    Some((method, target, version))
}

/// A status line: `HTTP-version SP status-code SP [ reason-phrase ]` (RFC 9112 §4), over a line
/// without its CRLF; the SP before an empty reason may be left out, as some servers do. Returns
/// the version and the code (100 to 599, RFC 9110 §15).
pub(crate) fn status_line(line: &[u8]) -> Option<(&[u8], u16)> {
    let code = take_while_m_n(3, 3, |b: u8| b.is_ascii_digit());
    let reason = opt(preceded(tag(" "), take_while(is_field_byte)));
    let parsed = all_consuming((http_version, tag(" "), code, reason)).parse(line);
    let (_, (version, _, digits, _)) = parsed.ok()?;
    let code = digits.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    (100..=599).contains(&code).then_some((version, code))
}

/// A field line: `field-name ":" OWS field-value OWS` (RFC 9112 §5), over a line without its
/// CRLF. Returns the name and the value without surrounding whitespace. Whitespace before the
/// colon and obs-fold continuation lines do not parse (RFC 9112 §5.1, §5.2).
pub(crate) fn field_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let (value, (name, _, _)) = (token, tag(":"), ows).parse(line).ok()?;
    // The value is the rest of the line: its octets checked in one pass without an early exit,
    // which the compiler turns into vector code (values such as User-Agent are long).
    let valid = value.iter().fold(true, |ok, &b| ok & is_field_byte(b));
    valid.then(|| (name, trim_ows(value)))
}

/// The bytes of one list element (RFC 9110 §5.6.1) up to the comma that ends it: commas inside
/// a quoted string do not end it, and a quote left open runs to the end of the value.
fn list_element(i: &[u8]) -> Parsed<'_, &[u8]> {
    let plain = take_while1(|b: u8| b != b',' && b != b'"');
    let open_quote = recognize((tag("\""), take_while(|_| true)));
    recognize(many0_count(alt((plain, quoted_string, open_quote)))).parse(i)
}

/// Splits `value` into its first list element (untrimmed, possibly empty) and the rest after
/// the comma that ends it.
pub(crate) fn split_element(value: &[u8]) -> (&[u8], &[u8]) {
    match list_element(value) {
        Ok((rest, element)) => (element, rest.get(1..).unwrap_or(&[])),
        Err(_) => (value, &[]),
    }
}

/// `extension-param = token [ "=" ( token / quoted-string ) ]` (RFC 6455 §9.1), with optional
/// whitespace around `=`.
fn extension_param(i: &[u8]) -> Parsed<'_, &[u8]> {
    let value = opt((ows, tag("="), ows, alt((token, quoted_string))));
    recognize((token, value)).parse(i)
}

/// `extension = extension-token *( ";" extension-param )` (RFC 6455 §9.1), with optional
/// whitespace around `;`. Returns the name.
fn extension(i: &[u8]) -> Parsed<'_, &[u8]> {
    let params = many0_count((ows, tag(";"), ows, extension_param));
    (token, params).map(|(name, _)| name).parse(i)
}

/// Whether `element` (a list element, trimmed) is one extension offer or response in the
/// grammar of RFC 6455 §9.1, in ASCII.
pub(crate) fn is_extension(element: &[u8]) -> bool {
    is_ascii_field_value(element) && all_consuming(extension).parse(element).is_ok()
}

/// The name of an extension offer or response element: its leading token (empty when it has
/// none).
pub(crate) fn extension_name(element: &[u8]) -> &[u8] {
    match token(trim_ows(element)) {
        Ok((_, name)) => name,
        Err(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_is_the_rfc_9110_set() {
        for b in 0..=255u8 {
            let listed = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), listed, "{b:#x}");
        }
    }

    #[test]
    fn request_lines() {
        let line = request_line(b"GET /mqtt?x=1 HTTP/1.1");
        assert_eq!(line, Some((&b"GET"[..], &b"/mqtt?x=1"[..], &b"HTTP/1.1"[..])));
        assert_eq!(request_line(b"get / HTTP/1.0").map(|l| l.2), Some(&b"HTTP/1.0"[..]));
        for bad in [
            &b"GET /"[..],
            b"GET / HTTP/1.1 x",
            b"GET  / HTTP/1.1",
            b"GET / HTTP/1.1 ",
            b"GET / HTTP/11",
            b"GET / http/1.1",
            b"G(T / HTTP/1.1",
            b"GET /\x7f HTTP/1.1",
            b"",
        ] {
            assert_eq!(request_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_line(b"HTTP/1.1 101 Switching Protocols"), Some((&b"HTTP/1.1"[..], 101)));
        assert_eq!(status_line(b"HTTP/1.1 101"), Some((&b"HTTP/1.1"[..], 101)));
        assert_eq!(status_line(b"HTTP/1.1 404 "), Some((&b"HTTP/1.1"[..], 404)));
        assert_eq!(status_line(b"HTTP/1.0 200 OK").map(|s| s.0), Some(&b"HTTP/1.0"[..]));
        for bad in [
            &b"HTTP/1.1 99 x"[..],
            b"HTTP/1.1 600 x",
            b"HTTP/1.1 1011",
            b"HTTP/1.1  101",
            b"HTTP/1.1 10a",
            b"HTTP/1.1 101 a\rb",
            b"HTTP/1.1",
            b"HTTPS/1.1 101",
        ] {
            assert_eq!(status_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn field_lines() {
        assert_eq!(
            field_line(b"Upgrade:  websocket \t"),
            Some((&b"Upgrade"[..], &b"websocket"[..]))
        );
        assert_eq!(field_line(b"X:"), Some((&b"X"[..], &b""[..])));
        assert_eq!(field_line(b"X: \xc3\xa9 a"), Some((&b"X"[..], &b"\xc3\xa9 a"[..])));
        for bad in [&b"Upgrade : websocket"[..], b" folded", b"X: a\rb", b": empty", b"no colon"] {
            assert_eq!(field_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn field_values_take_every_octet_but_ctl() {
        // RFC 9110 §5.5: VCHAR, obs-text, SP and HTAB inside a value; any other CTL (and DEL)
        // refuses the line, wherever it sits in a long value.
        for b in 0..=255u8 {
            let allowed = b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80;
            for at in [0, 7, 40] {
                let mut line = b"X-Long: ".to_vec();
                line.extend(core::iter::repeat_n(b'v', 48));
                line[8 + at] = b;
                assert_eq!(field_line(&line).is_some(), allowed, "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn list_elements_end_at_commas_outside_quotes() {
        assert_eq!(split_element(b"a, b"), (&b"a"[..], &b" b"[..]));
        assert_eq!(split_element(b"x=\"1,2\" ,c"), (&b"x=\"1,2\" "[..], &b"c"[..]));
        assert_eq!(split_element(b"x=\"a\\\",b\",c"), (&b"x=\"a\\\",b\""[..], &b"c"[..]));
        assert_eq!(split_element(b"x=\"open, c"), (&b"x=\"open, c"[..], &b""[..]));
        assert_eq!(split_element(b",c"), (&b""[..], &b"c"[..]));
        assert_eq!(split_element(b""), (&b""[..], &b""[..]));
    }

    #[test]
    fn extensions_follow_rfc6455_section_9_1() {
        for good in [
            &b"permessage-deflate"[..],
            b"permessage-deflate; client_max_window_bits",
            b"permessage-deflate;client_max_window_bits=10 ; server_no_context_takeover",
            b"x; a = \"quoted value\"",
            b"x; a=\"esc\\\"aped\"",
        ] {
            assert!(is_extension(good), "{good:?}");
        }
        for bad in [
            &b""[..],
            b"; x",
            b"x;",
            b"x; =1",
            b"x; a=",
            b"x; a=b c",
            b"x; a=\"open",
            b"x y",
            b"x; a=\"\xc3\xa9\"",
        ] {
            assert!(!is_extension(bad), "{bad:?}");
        }
        assert_eq!(extension_name(b" permessage-deflate ; x"), b"permessage-deflate");
        assert_eq!(extension_name(b"; x"), b"");
    }
}
