//! Topic names, topic filters, wildcard matching and shared subscriptions (MQTT 5.0 §4.7, §4.8).
//!
//! A topic name is a non-empty string without `+` or `#` [MQTT-4.7.3-1], [MQTT-3.3.2-2]. A topic
//! filter is non-empty; `#` stands alone as the last level [MQTT-4.7.1-1] and `+` stands alone in
//! its level [MQTT-4.7.1-2]. A shared subscription `$share/{ShareName}/{filter}` has a non-empty
//! ShareName without `/`, `+` or `#` [MQTT-4.8.2-1] followed by `/` and a topic filter
//! [MQTT-4.8.2-2]. Strings never contain U+0000 [MQTT-4.7.3-2].

/// Why a topic name or filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TopicError {
    /// Zero length [MQTT-4.7.3-1].
    Empty,
    /// Longer than 65,535 bytes [MQTT-4.7.3-3].
    TooLong,
    /// Contains U+0000 [MQTT-4.7.3-2].
    NullCharacter,
    /// A wildcard in a topic name [MQTT-3.3.2-2].
    WildcardInName,
    /// `#` not alone as the last level, or `+` not alone in its level [MQTT-4.7.1-1],
    /// [MQTT-4.7.1-2].
    MisplacedWildcard,
    /// A shared subscription with an empty or invalid ShareName [MQTT-4.8.2-1].
    InvalidShareName,
    /// A shared subscription without a topic filter after the ShareName [MQTT-4.8.2-2].
    MissingSharedFilter,
}

use super::wire::{found, scan};

const SHARE_PREFIX: &str = "$share/";

#[inline]
fn check_common(s: &str) -> Result<u8, TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > u16::MAX as usize {
        return Err(TopicError::TooLong);
    }
    let flags = scan(s.as_bytes());
    if flags & found::NUL != 0 {
        return Err(TopicError::NullCharacter);
    }
    Ok(flags)
}

/// Checks a topic name (PUBLISH, will topic).
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let flags = check_common(name)?;
    // [MQTT-3.3.2-2] The Topic Name MUST NOT contain wildcard characters.
    if flags & found::WILDCARD != 0 {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter's wildcard placement (without the shared-subscription rules).
#[inline]
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    validate_filter_scanned(filter, scan_filter(filter.as_bytes()))
}

/// [`validate_topic_filter`] for a filter whose [`scan_filter`] flags are known (decode and
/// encode scan strings once).
#[inline]
pub(crate) fn validate_filter_scanned(filter: &str, flags: u8) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    if filter.len() > u16::MAX as usize {
        return Err(TopicError::TooLong);
    }
    if flags & found::NUL != 0 {
        return Err(TopicError::NullCharacter);
    }
    if flags & MISPLACED != 0 {
        return Err(TopicError::MisplacedWildcard);
    }
    Ok(())
}

/// Flag of [`scan_filter`]: a wildcard that does not fill its whole level.
pub(crate) const MISPLACED: u8 = 0x80;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = LO * 0x80;
const LO7: u64 = LO * 0x7f;
const BIT3: u64 = LO * 0x08;
const PLUS: u64 = LO * b'+' as u64;

/// Whether the wildcard at `i` (if any) fills its whole level.
#[inline]
fn placed(bytes: &[u8], i: usize) -> bool {
    // The start of the filter behaves as if after a separator.
    let after_separator = i == 0 || bytes.get(i - 1) == Some(&b'/');
    match bytes.get(i) {
        // [MQTT-4.7.1-1] '#' alone in the last level.
        Some(b'#') => after_separator && i + 1 == bytes.len(),
        // [MQTT-4.7.1-2] '+' occupies an entire level.
        Some(b'+') => after_separator && matches!(bytes.get(i + 1), None | Some(b'/')),
        _ => true,
    }
}

/// Whether a wildcard in `w`, the eight bytes of `bytes` at `base`, is misplaced: finds them
/// exactly (`+` and `#` differ only in bit 3) and checks their neighbours.
#[inline]
fn misplaced_in(bytes: &[u8], base: usize, w: u64) -> bool {
    let x = (w | BIT3) ^ PLUS;
    let mut m = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
    while m != 0 {
        if !placed(bytes, base + (m.trailing_zeros() / 8) as usize) {
            return true;
        }
        m &= m - 1;
    }
    false
}

/// [`scan`] for a topic filter, in the same single pass: the `found` flags, plus [`MISPLACED`]
/// when a wildcard does not fill its level. Words without a wildcard cost what [`scan`] costs.
#[inline(always)]
pub(crate) fn scan_filter(bytes: &[u8]) -> u8 {
    let (mut nul, mut wild, mut misplaced) = (0u64, 0u64, false);
    let mut word = |base: usize, w: u64| {
        nul |= w.wrapping_sub(LO) & !w;
        let x = (w | BIT3) ^ PLUS;
        let here = x.wrapping_sub(LO) & !x & HI;
        wild |= here;
        if here != 0 {
            misplaced |= misplaced_in(bytes, base, w);
        }
    };
    let (words, rest) = bytes.as_chunks::<8>();
    for (k, &c) in words.iter().enumerate() {
        word(8 * k, u64::from_le_bytes(c));
    }
    if !rest.is_empty() {
        // The last eight bytes again when there are that many (a second look changes nothing),
        // else the tail padded with a byte that matches nothing.
        match bytes.len().checked_sub(8).and_then(|start| Some((start, bytes.get(start..)?))) {
            Some((start, &[a, b, c, d, e, f, g, h])) => {
                word(start, u64::from_le_bytes([a, b, c, d, e, f, g, h]))
            }
            _ => {
                word(0, rest.iter().rev().fold(LO * u64::from(b'a'), |w, &b| w << 8 | u64::from(b)))
            }
        }
    }
    (if nul & HI != 0 { found::NUL } else { 0 })
        | (if wild != 0 { found::WILDCARD } else { 0 })
        | (if misplaced { MISPLACED } else { 0 })
}

/// Checks a topic filter with the MQTT 5.0 shared-subscription rules applied when it starts with
/// `$share/`.
pub fn validate_subscription_filter(filter: &str) -> Result<(), TopicError> {
    match SharedSubscription::parse(filter)? {
        Some(_) => Ok(()),
        None => validate_topic_filter(filter),
    }
}

/// A shared subscription `$share/{group}/{filter}` (MQTT 5.0 §4.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SharedSubscription<'a> {
    /// The ShareName.
    pub group: &'a str,
    /// The topic filter after the ShareName.
    pub filter: &'a str,
}

impl<'a> SharedSubscription<'a> {
    /// `Ok(None)` if `filter` is not a shared subscription, the validated parts if it is.
    pub fn parse(filter: &'a str) -> Result<Option<Self>, TopicError> {
        let Some(rest) = filter.strip_prefix(SHARE_PREFIX) else { return Ok(None) };
        let has_wildcard = |s: &str| s.bytes().any(|b| b == b'+' || b == b'#');
        let Some(slash) = rest.bytes().position(|b| b == b'/') else {
            // "$share/group" with nothing after: no filter [MQTT-4.8.2-2].
            return Err(if rest.is_empty() || has_wildcard(rest) {
                TopicError::InvalidShareName
            } else {
                TopicError::MissingSharedFilter
            });
        };
        // '/' is ASCII, so both sides are on character boundaries.
        let (group, inner) = (rest.get(..slash).unwrap_or(""), rest.get(slash + 1..).unwrap_or(""));
        // [MQTT-4.8.2-1] at least one character, no '/', '+' or '#'.
        if group.is_empty() || has_wildcard(group) {
            return Err(TopicError::InvalidShareName);
        }
        // [MQTT-4.8.2-2] followed by a Topic Filter.
        if inner.is_empty() {
            return Err(TopicError::MissingSharedFilter);
        }
        validate_topic_filter(inner)?;
        Ok(Some(SharedSubscription { group, filter: inner }))
    }
}

/// Whether `filter` matches topic name `name` (MQTT 5.0 §4.7).
///
/// A shared subscription filter matches through the filter after its ShareName. Filters starting
/// with a wildcard do not match names starting with `$` [MQTT-4.7.2-1]. Both arguments are assumed
/// valid; invalid ones simply match nothing useful.
pub fn matches(filter: &str, name: &str) -> bool {
    let filter = match SharedSubscription::parse(filter) {
        Ok(Some(s)) => s.filter,
        _ => filter,
    };
    // [MQTT-4.7.2-1]
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            // '#' also matches the parent level ("sport/#" matches "sport").
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_multi_level_examples() {
        // §4.7.1.2
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
        assert!(matches("sport/#", "sport"));
        assert!(validate_topic_filter("#").is_ok());
        assert!(validate_topic_filter("sport/tennis/#").is_ok());
        assert_eq!(validate_topic_filter("sport/tennis#"), Err(TopicError::MisplacedWildcard));
        assert_eq!(
            validate_topic_filter("sport/tennis/#/ranking"),
            Err(TopicError::MisplacedWildcard)
        );
    }

    #[test]
    fn spec_single_level_examples() {
        // §4.7.1.3
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        for ok in ["+", "+/tennis/#", "sport/+/player1", "/+", "+/+"] {
            assert!(validate_topic_filter(ok).is_ok(), "{ok}");
        }
        assert_eq!(validate_topic_filter("sport+"), Err(TopicError::MisplacedWildcard));
        assert!(matches("/+", "/finance"));
        assert!(matches("+/+", "/finance"));
        assert!(!matches("+", "/finance"));
    }

    /// The placement rules level by level, as the specification states them.
    fn placed_by_levels(filter: &str) -> bool {
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            let last = levels.peek().is_none();
            if level.contains('#') && (level != "#" || !last) {
                return false;
            }
            if level.contains('+') && level != "+" {
                return false;
            }
        }
        true
    }

    #[test]
    fn wildcard_placement_agrees_with_levels() {
        // Every filter of up to 7 characters over {a, /, +, #}, and longer ones built from
        // them so that wildcards sit at every position around the eight-byte word edges.
        let alphabet = [b'a', b'/', b'+', b'#'];
        let mut buf = [0u8; 24];
        for len in 1..=7usize {
            for mut n in 0..4usize.pow(len as u32) {
                for b in buf.iter_mut().take(len) {
                    *b = alphabet[n % 4];
                    n /= 4;
                }
                for pad in [0usize, 1, 7, 8, 9, 15, 16] {
                    let mut long = [b'x'; 24];
                    long[pad..pad + len].copy_from_slice(&buf[..len]);
                    for f in [&buf[..len], &long[..pad + len], &long[..]] {
                        let f = core::str::from_utf8(f).unwrap();
                        assert_eq!(validate_topic_filter(f).is_ok(), placed_by_levels(f), "{f:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn wildcard_placement_table() {
        for ok in [
            "#",
            "/#",
            "+",
            "/+",
            "+/",
            "//+//",
            "a/+/b/#",
            "+/+/+",
            "+/#",
            "a b/+/#",
            "abcdefg/+",
            "abcdefgh/+/#",
            "abcdefg/#",
        ] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
        for bad in [
            "##",
            "#/",
            "#/a",
            "++",
            "+#",
            "#+",
            "a+",
            "+a",
            "a/+b/c",
            "a/b+/",
            "/a#",
            "abcdefg+",
            "abcdefgh+",
            "abcdefg/+a",
            "abcdefg/#/",
            "*+,\"#$",
        ] {
            assert_eq!(validate_topic_filter(bad), Err(TopicError::MisplacedWildcard), "{bad}");
        }
    }

    #[test]
    fn dollar_topics() {
        // §4.7.2
        assert!(!matches("#", "$SYS/monitor/Clients"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }

    #[test]
    fn names() {
        assert!(validate_topic_name("a/b").is_ok());
        assert!(validate_topic_name("/").is_ok());
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a\0"), Err(TopicError::NullCharacter));
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
    }

    #[test]
    fn shared() {
        assert_eq!(
            SharedSubscription::parse("$share/consumer1/sport/tennis/+"),
            Ok(Some(SharedSubscription { group: "consumer1", filter: "sport/tennis/+" }))
        );
        assert_eq!(SharedSubscription::parse("sport/#"), Ok(None));
        assert_eq!(SharedSubscription::parse("$share//a"), Err(TopicError::InvalidShareName));
        assert_eq!(SharedSubscription::parse("$share/g+/a"), Err(TopicError::InvalidShareName));
        assert_eq!(SharedSubscription::parse("$share/g#/a"), Err(TopicError::InvalidShareName));
        assert_eq!(SharedSubscription::parse("$share/g"), Err(TopicError::MissingSharedFilter));
        assert_eq!(SharedSubscription::parse("$share/g/"), Err(TopicError::MissingSharedFilter));
        assert_eq!(SharedSubscription::parse("$share/g/a#"), Err(TopicError::MisplacedWildcard));
        assert!(matches("$share/g/sport/#", "sport/tennis"));
        assert!(validate_subscription_filter("$share/g/#").is_ok());
        assert!(validate_subscription_filter("$share/g").is_err());
    }
}
