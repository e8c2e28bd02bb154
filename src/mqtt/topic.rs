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
#[non_exhaustive]
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

use super::wire::{found, scan, scan_all, scan_filter};

const SHARE_PREFIX: &str = "$share/";

/// Checks a topic name (PUBLISH, will topic).
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    // [MQTT-3.3.2-2] The Topic Name MUST NOT contain wildcard characters.
    if scan_topic(name, scan)? & found::WILDCARD != 0 {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter's wildcard placement (without the shared-subscription rules).
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_filter(filter, false).map(drop)
}

/// Checks a topic filter with the MQTT 5.0 shared-subscription rules applied when it starts with
/// `$share/`.
pub fn validate_subscription_filter(filter: &str) -> Result<(), TopicError> {
    check_filter(filter, true).map(drop)
}

/// The rules for every topic name and filter: length and U+0000, then the flags of `scan`
/// ([`scan`] for a name, [`scan_all`] or [`scan_filter`] for a filter, which often holds
/// wildcards).
#[inline]
fn scan_topic(s: &str, scan: impl FnOnce(&[u8]) -> u8) -> Result<u8, TopicError> {
    // [MQTT-4.7.3-1] at least one character.
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    // [MQTT-4.7.3-3] at most 65,535 bytes.
    if s.len() > u16::MAX as usize {
        return Err(TopicError::TooLong);
    }
    let flags = scan(s.as_bytes());
    // [MQTT-4.7.3-2] no U+0000 (in a ShareName either).
    if flags & found::NUL != 0 {
        return Err(TopicError::NullCharacter);
    }
    Ok(flags)
}

/// The one topic filter check behind every filter validator, with the shared-subscription rules
/// when `shared` is set (MQTT 5.0), in one [`scan_filter`] of the whole string. Returns where the
/// topic filter starts: after `$share/{ShareName}/` for a shared subscription, else 0.
///
/// `#[inline]` is a hint that an optimised build takes (the SUBSCRIBE decoder saves a call per
/// filter) and a size-optimised one leaves (one copy in a firmware).
#[inline]
pub(crate) fn check_filter(filter: &str, shared: bool) -> Result<usize, TopicError> {
    check_filter_with(filter, shared, scan_all)
}

/// [`check_filter`] with the scan inlined where the optimiser takes the hint: the check of the
/// filters a caller sends, which is otherwise a call per filter.
#[inline]
pub(crate) fn check_filter_inline(filter: &str, shared: bool) -> Result<usize, TopicError> {
    check_filter_with(filter, shared, scan_filter)
}

/// The body of [`check_filter`] and [`check_filter_inline`].
#[inline]
fn check_filter_with(
    filter: &str,
    shared: bool,
    scan: impl FnOnce(&[u8]) -> u8,
) -> Result<usize, TopicError> {
    let flags = scan_topic(filter, scan)?;
    let mut start = 0;
    let b = filter.as_bytes();
    // The first byte alone tells most filters apart from `$share/`.
    if shared
        && b.first() == Some(&b'$')
        && let Some(rest) = b.strip_prefix(SHARE_PREFIX.as_bytes())
    {
        let slash = rest.iter().position(|&c| c == b'/');
        let group = rest.get(..slash.unwrap_or(rest.len())).unwrap_or_default();
        // [MQTT-4.8.2-1] at least one character, no '/', '+' or '#'.
        if group.is_empty() || group.iter().any(|&c| c == b'+' || c == b'#') {
            return Err(TopicError::InvalidShareName);
        }
        // [MQTT-4.8.2-2] followed by '/' and a Topic Filter.
        start = SHARE_PREFIX.len() + group.len() + 1;
        if slash.is_none() || start == b.len() {
            return Err(TopicError::MissingSharedFilter);
        }
    }
    // [MQTT-4.7.1-1], [MQTT-4.7.1-2]; the filter after a ShareName follows a '/', so its first
    // level is checked as a first level.
    if flags & found::MISPLACED != 0 {
        return Err(TopicError::MisplacedWildcard);
    }
    Ok(start)
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
        if !filter.starts_with(SHARE_PREFIX) {
            return Ok(None);
        }
        let start = check_filter(filter, true)?;
        // Both ends are next to an ASCII '/', so on character boundaries.
        let group = filter.get(SHARE_PREFIX.len()..start - 1).unwrap_or_default();
        Ok(Some(SharedSubscription { group, filter: filter.get(start..).unwrap_or_default() }))
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

impl core::fmt::Display for TopicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid MQTT topic: {self:?}")
    }
}

impl core::error::Error for TopicError {}

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
        // Levels other than wildcards match only themselves.
        assert!(!matches("sport/tennis/+", "sport/golf/player1"));
        assert!(!matches("sport/tennis", "sport/golf"));
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
    fn inlined_filter_check_agrees() {
        // The check of filters to send (scan inlined) against the one behind decode and the
        // public validators, and against the rules level by level: wildcards at every position
        // around the word edges, next to multi-byte UTF-8 and U+0000.
        let pieces = ["+", "#", "/", "a", "é", "€", "😀", "\0", "$share/", "g"];
        let mut filters = std::vec::Vec::new();
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for pad in ["", "x", "xxxxxxx", "xxxxxxxx", "xxxxxxxxx", "xxxxxxxxxxxxxxx"] {
                        filters.push(std::format!("{pad}{a}{b}{c}"));
                        filters.push(std::format!("{a}{pad}{b}{c}"));
                        filters.push(std::format!("{a}{b}{pad}/{c}"));
                        filters.push(std::format!("{a}/{b}/{c}{pad}"));
                    }
                }
            }
        }
        for f in &filters {
            for shared in [false, true] {
                assert_eq!(check_filter_inline(f, shared), check_filter(f, shared), "{f:?}");
            }
            let expected = if f.is_empty() {
                Err(TopicError::Empty)
            } else if f.contains('\0') {
                Err(TopicError::NullCharacter)
            } else if !placed_by_levels(f) {
                Err(TopicError::MisplacedWildcard)
            } else {
                Ok(0)
            };
            assert_eq!(check_filter_inline(f, false), expected, "{f:?}");
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
        // [MQTT-4.7.3-3] up to 65,535 bytes.
        let long = [b'a'; 65_536];
        let text = |n| core::str::from_utf8(&long[..n]).unwrap();
        assert!(validate_topic_name(text(65_535)).is_ok());
        assert!(validate_topic_filter(text(65_535)).is_ok());
        assert_eq!(validate_topic_name(text(65_536)), Err(TopicError::TooLong));
        assert_eq!(validate_topic_filter(text(65_536)), Err(TopicError::TooLong));
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
        // [MQTT-4.7.3-2] no U+0000 anywhere, the ShareName included.
        assert_eq!(SharedSubscription::parse("$share/g\0/a"), Err(TopicError::NullCharacter));
        assert_eq!(validate_subscription_filter("$share/g/a\0"), Err(TopicError::NullCharacter));
        // A ShareName of wildcards is refused even where it would fill a level.
        assert_eq!(SharedSubscription::parse("$share/+/a"), Err(TopicError::InvalidShareName));
        assert_eq!(SharedSubscription::parse("$share/#"), Err(TopicError::InvalidShareName));
        assert_eq!(SharedSubscription::parse("$share/"), Err(TopicError::InvalidShareName));
        // In a plain filter check, `$share/` is an ordinary first level.
        assert_eq!(validate_topic_filter("$share/g"), Ok(()));
        assert!(matches("$share/g/sport/#", "sport/tennis"));
        assert!(validate_subscription_filter("$share/g/#").is_ok());
        assert!(validate_subscription_filter("$share/g").is_err());
    }
}
