//! A Mosquitto ACL file (mosquitto.conf(5), `acl_file`) and the checks a broker makes with it:
//! may this client publish to a topic, receive a message on a topic, subscribe to a filter.
//!
//! # The file
//!
//! - `topic [read|write|readwrite|deny] FILTER`: a rule for anonymous clients when it comes
//!   before any `user` line, else for the user of the last `user` line. Without an access word
//!   the access is `readwrite`; the filter is the rest of the line and may hold blanks (so
//!   `topic read` alone is a `readwrite` rule for the topic `read`, as in Mosquitto).
//! - `user NAME`: the rules after it are that user's (the name is the rest of the line; a user
//!   may have several sections).
//! - `pattern [read|write|readwrite|deny] FILTER`: a rule for every client, wherever it stands,
//!   with `%c` replaced by the client identifier and `%u` by the user name (a pattern with
//!   `%u` does nothing for a client without one).
//! - A line whose first non-blank character is `#` is a comment; blank lines are skipped.
//!   Anything else, an unknown access word or an invalid filter is an [`Error`] naming the
//!   line.
//!
//! # The decision
//!
//! As Mosquitto 2.0 makes it (`mosquitto_acl_check_default`, `add__acl`, `add__acl_pattern` and
//! `acl__find_acls` in its `src/security_default.c`; `acl__check_dollar` in `src/security.c`):
//!
//! 1. Broker-wide: nobody publishes to `$SYS` topics (except `$SYS/broker/connection/+/state`,
//!    which bridges report on) nor to or from `$share` topics.
//! 2. The client's own rules: its user's sections if it has a user name (anonymous rules never
//!    apply to it), the rules before the first `user` line if it has none. A matching `deny`
//!    rule refuses, whatever its place in the file; otherwise the first matching rule that
//!    grants the access allows. A matching rule that grants other access (`read` for a publish)
//!    does not decide.
//! 3. If they do not decide: the patterns, in the same way. A client whose identifier or user
//!    name holds `+` or `#` is refused here (it could match other clients' topics). This module
//!    refuses too a client whose value holds `/` where a pattern would substitute it (`%c` for
//!    the identifier, `%u` for the user name): `clients/%c/#` must not give client `a/b` a part
//!    of client `a`'s levels. Mosquitto 2.0 substitutes it as it is.
//! 4. Otherwise the client is refused: with an ACL file, only what it grants is allowed.
//!
//! A rule matches a topic as an MQTT filter does ([`mqtt_ws::mqtt::topic::matches`]: a filter
//! starting with a wildcard does not match a `$` topic). So a `user` section's grant is not
//! overridden by a deny *pattern*, and a `deny` only refuses what it matches.
//!
//! # Subscriptions
//!
//! Mosquitto's ACL file checks every message on delivery, with [`Acl::can_receive`] (read
//! access; `subs__send` in `src/subs.c`, `retain.c` for retained messages), and lets every
//! SUBSCRIBE through (its check returns success for it: "FIXME - implement ACL subscription
//! strings"). [`Acl::can_subscribe`] checks the filter itself, as Mosquitto's dynamic security
//! plugin does with `mosquitto_sub_matches_acl` (its 2.1 development branch,
//! `libcommon/topic_common.c`): a rule matches a subscription when every topic the
//! subscription's filter matches is one the rule's filter matches, so `read sensors/#`
//! allows `sensors/+/temperature` and not `#`. A `deny` rule refuses the subscriptions it so
//! covers; a deny for a part of a granted filter (`deny sensors/secret` under `read
//! sensors/#`) cannot refuse the subscription `sensors/#`, so a broker keeps calling
//! [`Acl::can_receive`] on delivery, as Mosquitto does. A shared subscription is checked by
//! the filter after its ShareName.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::file_error::{FileError, LineProblem};

use mqtt_ws::mqtt::topic::{self, SharedSubscription, TopicError};

/// What a rule allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// `read`: receive messages, subscribe.
    Read,
    /// `write`: publish.
    Write,
    /// `readwrite`, and no access word.
    ReadWrite,
    /// `deny`: neither, whatever other rules grant.
    Deny,
}

impl Access {
    /// Whether it grants `want` (never for `Deny`).
    fn grants(self, want: Want) -> bool {
        matches!(
            (self, want),
            (Access::ReadWrite, _) | (Access::Read, Want::Read) | (Access::Write, Want::Write)
        )
    }
}

/// The access a check asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Receive or subscribe.
    Read,
    /// Publish.
    Write,
}

/// One `topic` or `pattern` line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    access: Access,
    filter: String,
}

/// The rules of one section, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Rules(Vec<Rule>);

impl Rules {
    /// `Some(false)` if a `deny` rule matches, else `Some(true)` if a rule that grants `want`
    /// matches, else `None` (undecided).
    fn decide(&self, want: Want, matches: impl Fn(&Rule) -> bool) -> Option<bool> {
        // Mosquitto puts deny rules first (`add__acl`, `add__acl_pattern`).
        if self.0.iter().any(|r| r.access == Access::Deny && matches(r)) {
            return Some(false);
        }
        self.0.iter().any(|r| r.access.grants(want) && matches(r)).then_some(true)
    }
}

/// A parsed ACL file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    /// The rules before the first `user` line: clients without a user name.
    anonymous: Rules,
    /// Each user's rules.
    users: HashMap<String, Rules>,
    /// The `pattern` rules: every client.
    patterns: Rules,
}

impl Acl {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::parse(&text)
    }

    /// Parses the text of an ACL file.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut acl = Acl::default();
        let mut user: Option<String> = None;
        for (i, line) in text.lines().enumerate() {
            let number = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |problem| Error::Line { number, line: line.to_owned(), problem };
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match keyword {
                "topic" | "pattern" => {
                    let rule = rule(rest).map_err(fail)?;
                    let rules = match (keyword, &user) {
                        ("pattern", _) => &mut acl.patterns,
                        (_, None) => &mut acl.anonymous,
                        (_, Some(u)) => acl.users.entry(u.clone()).or_default(),
                    };
                    rules.0.push(rule);
                }
                "user" if rest.is_empty() => return Err(fail(Problem::MissingArgument)),
                "user" => user = Some(rest.to_owned()),
                _ => return Err(fail(Problem::UnknownKeyword)),
            }
        }
        Ok(acl)
    }

    /// Whether the client may publish to topic name `topic`.
    pub fn can_publish(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        if topic::validate_topic_name(topic).is_err() || topic.starts_with("$share") {
            return false;
        }
        // Mosquitto's `acl__check_dollar`: only bridges report on `$SYS`.
        if topic.starts_with("$SYS") && !topic::matches("$SYS/broker/connection/+/state", topic) {
            return false;
        }
        self.check(client_id, username, Want::Write, |filter| rule_matches(filter, topic))
    }

    /// Whether a message on topic name `topic` may be delivered to the client: read access,
    /// what Mosquitto checks for every message it sends, retained ones included.
    pub fn can_receive(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        if topic::validate_topic_name(topic).is_err() || topic.starts_with("$share") {
            return false;
        }
        self.check(client_id, username, Want::Read, |filter| rule_matches(filter, topic))
    }

    /// Whether the client may subscribe to `filter` (a shared subscription by the filter after
    /// its ShareName): some rule granting read access covers every topic it matches, and no
    /// `deny` rule does (see the module documentation).
    pub fn can_subscribe(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool {
        let filter = match SharedSubscription::parse(filter) {
            Ok(Some(shared)) => shared.filter,
            Ok(None) if topic::validate_topic_filter(filter).is_ok() => filter,
            _ => return false,
        };
        self.check(client_id, username, Want::Read, |rule| covers(rule, filter))
    }

    /// Steps 2 to 4 of the decision (module documentation), with `matches` telling whether a
    /// rule's filter (substituted for a pattern) matches what is asked.
    fn check(
        &self,
        client_id: &str,
        username: Option<&str>,
        want: Want,
        matches: impl Fn(&str) -> bool,
    ) -> bool {
        // `acl__find_acls`: the user's sections, or the anonymous one.
        let own = match username {
            Some(u) => self.users.get(u),
            None => Some(&self.anonymous),
        };
        if let Some(decision) = own.and_then(|rules| rules.decide(want, |r| matches(&r.filter))) {
            return decision;
        }
        if self.patterns.0.is_empty() {
            return false;
        }
        // `mosquitto_acl_check_default`: "dangerous" identifiers and user names.
        let dangerous = |value: &str| value.contains(['+', '#']);
        if dangerous(client_id) || username.is_some_and(dangerous) {
            return false;
        }
        // Ours: a substituted value must stay within one level.
        let substituted = |key: &str| self.patterns.0.iter().any(|r| r.filter.contains(key));
        if (client_id.contains('/') && substituted("%c"))
            || (username.is_some_and(|u| u.contains('/')) && substituted("%u"))
        {
            return false;
        }
        let decision = self.patterns.decide(want, |r| {
            substitute(&r.filter, client_id, username).is_some_and(|filter| matches(&filter))
        });
        decision.unwrap_or(false)
    }
}

/// Reads the arguments of a `topic` or `pattern` line: `[ACCESS] FILTER`.
fn rule(rest: &str) -> Result<Rule, Problem> {
    if rest.is_empty() {
        return Err(Problem::MissingArgument);
    }
    // The access word is there only if a filter follows it (Mosquitto's `aclfile__parse`).
    let (access, filter) = match rest.split_once(char::is_whitespace) {
        Some((word, filter)) => {
            let access = match word {
                "read" => Access::Read,
                "write" => Access::Write,
                "readwrite" => Access::ReadWrite,
                "deny" => Access::Deny,
                _ => return Err(Problem::InvalidAccess),
            };
            (access, filter.trim())
        }
        None => (Access::ReadWrite, rest),
    };
    topic::validate_topic_filter(filter).map_err(Problem::InvalidFilter)?;
    Ok(Rule { access, filter: filter.to_owned() })
}

/// Whether a rule's filter matches topic name `topic`. A rule written as a shared subscription
/// is only text: it matches no topic.
fn rule_matches(filter: &str, topic: &str) -> bool {
    !filter.starts_with("$share/") && topic::matches(filter, topic)
}

/// Whether every topic that filter `sub` matches is matched by filter `rule` (Mosquitto's
/// `mosquitto_sub_matches_acl`): level by level, `#` in the rule covers the rest (and the
/// parent level), `+` covers any one level but `#`, and a literal level covers only itself.
fn covers(rule: &str, sub: &str) -> bool {
    // [MQTT-4.7.2-1]: `$` topics and the rest are apart.
    if rule.starts_with('$') != sub.starts_with('$') {
        return false;
    }
    let (mut r, mut s) = (rule.split('/'), sub.split('/'));
    loop {
        match (r.next(), s.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(a), Some(b)) if a == b && a != "+" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A pattern's filter with `%c` replaced by the client identifier and `%u` by the user name,
/// each occurrence once (an identifier holding `%u` stays as it is); `None` if it has `%u` and
/// the client no user name (Mosquitto skips such a pattern).
fn substitute(filter: &str, client_id: &str, username: Option<&str>) -> Option<String> {
    let mut out = String::with_capacity(filter.len() + client_id.len());
    let mut rest = filter;
    while let Some((before, after)) = rest.split_once('%') {
        out.push_str(before);
        rest = if let Some(after) = after.strip_prefix('c') {
            out.push_str(client_id);
            after
        } else if let Some(after) = after.strip_prefix('u') {
            out.push_str(username?);
            after
        } else {
            out.push('%');
            after
        };
    }
    out.push_str(rest);
    Some(out)
}

/// Why an ACL file was refused.
pub type Error = FileError<Problem>;

/// What is wrong with a line of an ACL file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Not `topic`, `pattern`, `user` or a comment.
    UnknownKeyword,
    /// `topic`, `pattern` or `user` without its argument.
    MissingArgument,
    /// An access other than `read`, `write`, `readwrite` and `deny`.
    InvalidAccess,
    /// The filter is not a valid MQTT topic filter.
    InvalidFilter(TopicError),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownKeyword => f.write_str("expected topic, pattern or user"),
            Problem::MissingArgument => f.write_str("missing argument"),
            Problem::InvalidAccess => {
                f.write_str("invalid access (expected read, write, readwrite or deny)")
            }
            Problem::InvalidFilter(e) => write!(f, "{e}"),
        }
    }
}

impl LineProblem for Problem {
    const FILE: &'static str = "ACL file";

    fn cause(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Problem::InvalidFilter(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(text: &str) -> Acl {
        Acl::parse(text).unwrap()
    }

    const ANON: Option<&str> = None;

    #[test]
    fn rules_before_any_user_are_for_anonymous_clients_only() {
        let a = acl("topic read public/#\nuser alice\ntopic readwrite alice/#\n");
        assert!(a.can_receive("c", ANON, "public/news"));
        assert!(a.can_subscribe("c", ANON, "public/#"));
        assert!(!a.can_publish("c", ANON, "public/news"));
        assert!(!a.can_receive("c", ANON, "alice/x"));
        // acl__find_acls: a client with a user name gets its user's rules, not the anonymous ones.
        assert!(!a.can_receive("c", Some("alice"), "public/news"));
        assert!(a.can_publish("c", Some("alice"), "alice/x"));
        assert!(a.can_receive("c", Some("alice"), "alice/x/y"));
        // A user without a section gets nothing (no patterns here).
        assert!(!a.can_receive("c", Some("bob"), "public/news"));
        assert!(!a.can_receive("c", Some("bob"), "alice/x"));
    }

    #[test]
    fn access_words() {
        let a = acl("topic read r/#\ntopic write w/#\ntopic readwrite rw/#\ntopic both/#\n");
        assert!(a.can_receive("c", ANON, "r/1") && !a.can_publish("c", ANON, "r/1"));
        assert!(!a.can_receive("c", ANON, "w/1") && a.can_publish("c", ANON, "w/1"));
        assert!(!a.can_subscribe("c", ANON, "w/1"));
        assert!(a.can_receive("c", ANON, "rw/1") && a.can_publish("c", ANON, "rw/1"));
        assert!(a.can_receive("c", ANON, "both/1") && a.can_publish("c", ANON, "both/1"));
        assert!(!a.can_publish("c", ANON, "other"));
        // "topic read" alone is the topic `read`, read and write (Mosquitto's aclfile__parse).
        let a = acl("topic read\n");
        assert!(a.can_publish("c", ANON, "read") && a.can_receive("c", ANON, "read"));
        // A filter may hold blanks.
        let a = acl("topic write my topic/  x\n");
        assert!(a.can_publish("c", ANON, "my topic/  x"));
    }

    #[test]
    fn a_matching_rule_without_the_access_does_not_decide() {
        // The read rule matches first but grants no write; the next rule does.
        let a = acl("topic read a/#\ntopic write a/b\n");
        assert!(a.can_publish("c", ANON, "a/b"));
        assert!(!a.can_publish("c", ANON, "a/c"));
    }

    #[test]
    fn deny_takes_precedence_within_a_section_wherever_it_stands() {
        for text in [
            "topic readwrite house/#\ntopic deny house/secret\n",
            "topic deny house/secret\ntopic readwrite house/#\n",
        ] {
            let a = acl(text);
            assert!(a.can_publish("c", ANON, "house/door"), "{text}");
            assert!(!a.can_publish("c", ANON, "house/secret"), "{text}");
            assert!(!a.can_receive("c", ANON, "house/secret"), "{text}");
        }
        let a = acl("pattern readwrite %c/#\npattern deny %c/admin/#\n");
        assert!(a.can_publish("d1", ANON, "d1/data"));
        assert!(!a.can_publish("d1", ANON, "d1/admin"));
        assert!(!a.can_publish("d1", ANON, "d1/admin/reset"));
    }

    #[test]
    fn own_rules_decide_before_patterns() {
        // security_default.c checks the user's rules first: a grant there is not undone by a
        // deny pattern, and a deny there is not undone by a grant pattern.
        let a = acl("pattern deny users/%u/locked\npattern read users/%u/#\n\
                     user admin\ntopic readwrite users/#\ntopic deny users/admin/x\n");
        assert!(a.can_publish("c", Some("admin"), "users/admin/locked"));
        assert!(!a.can_receive("c", Some("admin"), "users/admin/x"));
        assert!(a.can_receive("c", Some("eve"), "users/eve/inbox"));
        assert!(!a.can_receive("c", Some("eve"), "users/eve/locked"));
        assert!(!a.can_publish("c", Some("eve"), "users/eve/inbox"));
        // Patterns are for everyone, wherever they stand, anonymous clients included.
        assert!(acl("user x\npattern read %c/#\n").can_receive("d1", ANON, "d1/a"));
    }

    #[test]
    fn pattern_substitution() {
        let a = acl("pattern readwrite clients/%c/#\npattern write sensor/%u/data\n\
                     pattern read dev-%c-%u\n");
        assert!(a.can_publish("d1", ANON, "clients/d1/x"));
        assert!(!a.can_publish("d1", ANON, "clients/d2/x"));
        assert!(!a.can_publish("d1", ANON, "clients/%c/x"));
        assert!(a.can_publish("d1", Some("ann"), "sensor/ann/data"));
        assert!(!a.can_publish("d1", Some("ann"), "sensor/bob/data"));
        // A pattern with %u does nothing for a client without a user name.
        assert!(!a.can_publish("d1", ANON, "sensor//data"));
        assert!(!a.can_publish("d1", ANON, "sensor/%u/data"));
        // Within a level too, as Mosquitto 2.0 substitutes.
        assert!(a.can_receive("d1", Some("ann"), "dev-d1-ann"));
        // An identifier holding `%u` is not substituted again.
        assert!(a.can_publish("%u", Some("ann"), "clients/%u/x"));
        assert!(!a.can_publish("%u", Some("ann"), "clients/ann/x"));
        // A `%` that is not a pattern stays.
        let a = acl("pattern read 100%/%c\n");
        assert!(a.can_receive("d1", ANON, "100%/d1"));
        assert_eq!(substitute("%x%c%", "id", None), Some("%xid%".into()));
        assert_eq!(substitute("a/%u", "id", None), None);
    }

    #[test]
    fn wildcards_in_client_ids_and_user_names_do_not_widen_access() {
        let a = acl("pattern readwrite clients/%c/#\npattern read users/%u/#\n");
        for id in ["+", "#", "a+", "x#"] {
            assert!(!a.can_publish(id, ANON, "clients/other/x"), "{id}");
            assert!(!a.can_receive(id, ANON, "clients/anything/x"), "{id}");
            assert!(!a.can_subscribe(id, ANON, "clients/#"), "{id}");
        }
        for user in ["+", "#", "a+b"] {
            assert!(!a.can_receive("d1", Some(user), "users/other/x"), "{user}");
            // Refused outright, as in Mosquitto, even for the client's own levels.
            assert!(!a.can_receive("d1", Some(user), "clients/d1/x"), "{user}");
        }
        // `/` would reach into another client's levels: client "a/b" is not given clients/a/b/#.
        assert!(a.can_publish("a", ANON, "clients/a/b/x"));
        assert!(!a.can_publish("a/b", ANON, "clients/a/b/x"));
        assert!(!a.can_receive("d1", Some("a/b"), "users/a/b/x"));
        // Refused outright, like `+` and `#`, when some pattern substitutes the value...
        assert!(!a.can_publish("d1", Some("a/b"), "clients/d1/x"));
        // ...and harmless where none does.
        let only_c = acl("pattern read %c/#\n");
        assert!(only_c.can_receive("d1", Some("x/y"), "d1/z"));
        // A user's own section is not affected: it does not use the patterns.
        let a = acl("user u+\ntopic read t\npattern read %u/#\n");
        assert!(a.can_receive("c", Some("u+"), "t"));
        assert!(!a.can_receive("c", Some("u+"), "u+/x"));
    }

    #[test]
    fn dollar_topics() {
        let a = acl("topic readwrite #\ntopic readwrite $SYS/#\ntopic readwrite $share/#\n");
        // A filter starting with a wildcard does not match `$` topics [MQTT-4.7.2-1].
        let b = acl("topic readwrite #\n");
        assert!(!b.can_receive("c", ANON, "$SYS/broker/uptime"));
        assert!(!b.can_subscribe("c", ANON, "$SYS/#"));
        assert!(a.can_receive("c", ANON, "$SYS/broker/uptime"));
        assert!(a.can_subscribe("c", ANON, "$SYS/#"));
        // acl__check_dollar: no publishing to $SYS, bar bridge state; nothing on $share.
        assert!(!a.can_publish("c", ANON, "$SYS/broker/uptime"));
        assert!(a.can_publish("c", ANON, "$SYS/broker/connection/b1/state"));
        assert!(!a.can_publish("c", ANON, "$share/g/t"));
        assert!(!a.can_receive("c", ANON, "$share/g/t"));
    }

    #[test]
    fn invalid_topics_and_filters_are_refused() {
        let a = acl("topic readwrite #\n");
        assert!(!a.can_publish("c", ANON, "a/+"));
        assert!(!a.can_publish("c", ANON, ""));
        assert!(!a.can_receive("c", ANON, "a/#"));
        assert!(!a.can_subscribe("c", ANON, "a/#/b"));
        assert!(!a.can_subscribe("c", ANON, ""));
        assert!(!a.can_subscribe("c", ANON, "$share/g"));
    }

    #[test]
    fn an_empty_file_grants_nothing() {
        let a = acl("# nothing\n\n");
        assert!(!a.can_publish("c", ANON, "t"));
        assert!(!a.can_receive("c", Some("u"), "t"));
        assert!(!a.can_subscribe("c", ANON, "t"));
    }

    #[test]
    fn subscriptions_are_checked_filter_against_filter() {
        let a = acl("topic read sensors/#\ntopic read rooms/+/temp\ntopic read exact/topic\n\
                     topic deny sensors/secret/#\n");
        for ok in [
            "sensors/#",
            "sensors",
            "sensors/+",
            "sensors/+/temperature",
            "sensors/a/b/c",
            "rooms/+/temp",
            "rooms/kitchen/temp",
            "exact/topic",
        ] {
            assert!(a.can_subscribe("c", ANON, ok), "{ok}");
        }
        for refused in [
            "#",
            "+/#",
            "sensors/secret/#",
            "sensors/secret/x",
            "rooms/#",
            "rooms/+/+",
            "rooms/+/temp/#",
            "rooms/kitchen",
            "exact/+",
            "exact/#",
            "exact",
            "other",
        ] {
            assert!(!a.can_subscribe("c", ANON, refused), "{refused}");
        }
        // A deny for a part of a granted filter is enforced on delivery.
        let a = acl("topic read house/#\ntopic deny house/secret\n");
        assert!(a.can_subscribe("c", ANON, "house/#"));
        assert!(!a.can_subscribe("c", ANON, "house/secret"));
        assert!(a.can_receive("c", ANON, "house/door"));
        assert!(!a.can_receive("c", ANON, "house/secret"));
    }

    #[test]
    fn subscriptions_with_patterns_and_shares() {
        let a = acl("pattern read devices/%c/#\n");
        assert!(a.can_subscribe("d1", ANON, "devices/d1/#"));
        assert!(a.can_subscribe("d1", ANON, "devices/d1/+/status"));
        assert!(!a.can_subscribe("d1", ANON, "devices/+/status"));
        assert!(!a.can_subscribe("d1", ANON, "devices/#"));
        assert!(a.can_subscribe("d1", ANON, "$share/g/devices/d1/x"));
        assert!(!a.can_subscribe("d1", ANON, "$share/g/devices/d2/x"));
        // A rule written as a shared subscription matches no topic.
        let a = acl("topic read $share/g/t\n");
        assert!(!a.can_receive("c", ANON, "t"));
        assert!(!a.can_subscribe("c", ANON, "$share/g/t"));
    }

    #[test]
    fn covering() {
        // Cases from the comments of Mosquitto's sub_matches_acl and its header.
        assert!(covers("$SYS/#", "$SYS/broker/#"));
        assert!(!covers("$SYS/broker/uptime", "$SYS/broker/#"));
        assert!(covers("foo/#", "foo"));
        assert!(covers("foo/+/#", "foo/bar"));
        assert!(!covers("foo/+", "foo"));
        assert!(!covers("+", "#"));
        assert!(covers("+", "+"));
        assert!(covers("#", "#"));
        assert!(covers("#", "a/+/b/#"));
        assert!(!covers("#", "$SYS/x"));
        assert!(!covers("a/+/#", "a/#"));
        assert!(covers("a/+/#", "a/+/#"));
        assert!(!covers("a/b", "a/+"));
        assert!(covers("a/+", "a/b"));
        assert!(covers("/+", "/x"));
        assert!(!covers("/+", "+"));
    }

    #[test]
    fn bad_lines_name_their_number() {
        let cases: &[(&str, Problem)] = &[
            ("topic", Problem::MissingArgument),
            ("pattern   ", Problem::MissingArgument),
            ("user", Problem::MissingArgument),
            ("topic reed a/b", Problem::InvalidAccess),
            ("topic read a/#/b", Problem::InvalidFilter(TopicError::MisplacedWildcard)),
            ("pattern write a+/%c", Problem::InvalidFilter(TopicError::MisplacedWildcard)),
            ("topics read a", Problem::UnknownKeyword),
            ("read a", Problem::UnknownKeyword),
        ];
        for (line, problem) in cases {
            let text = format!("# header\ntopic read ok\n\n{line}\n");
            match Acl::parse(&text) {
                Err(Error::Line { number, problem: p, line: l }) => {
                    assert_eq!((number, &p, l.as_str()), (4, problem, line.trim()), "{line}")
                }
                other => panic!("{line}: {other:?}"),
            }
        }
        let e = Acl::parse("user bob\ntopic reed x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ACL file line 2: invalid access (expected read, write, readwrite or deny): topic reed x"
        );
        let e = Acl::load(Path::new("/nonexistent/acl")).unwrap_err();
        assert!(matches!(e, Error::Read { .. }) && e.to_string().contains("/nonexistent/acl"));
    }

    #[test]
    fn load_a_file_with_comments_and_several_sections() {
        let dir = std::env::temp_dir().join(format!("broker-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("acl");
        std::fs::write(
            &file,
            "# The example from mosquitto.conf(5)\r\n\
             topic read $SYS/#\r\n\
             \r\n\
             user roger\r\n\
             topic foo/bar\r\n\
             \x20 # indented comment\r\n\
             user sam\r\n\
             topic read foo/#\r\n\
             user roger\r\n\
             topic write roger/out\r\n\
             pattern write $SYS/broker/connection/%c/state\r\n",
        )
        .unwrap();
        let a = Acl::load(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(a.can_subscribe("c", ANON, "$SYS/broker/#"));
        assert!(a.can_publish("c", Some("roger"), "foo/bar"));
        // A user may have several sections; they add up.
        assert!(a.can_publish("c", Some("roger"), "roger/out"));
        assert!(!a.can_receive("c", Some("roger"), "roger/out"));
        assert!(a.can_receive("c", Some("sam"), "foo/bar"));
        assert!(!a.can_publish("c", Some("sam"), "foo/bar"));
        assert!(a.can_publish("b1", Some("sam"), "$SYS/broker/connection/b1/state"));
        assert!(!a.can_publish("b1", Some("sam"), "$SYS/broker/connection/b2/state"));
    }
}
