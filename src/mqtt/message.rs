//! A received application message, as both sessions report it: [`Message`] and its
//! [`Topic`].
//!
//! Invariant: a message borrows only the input it was decoded from. A topic that arrived as a
//! Topic Alias alone (§3.3.2.3.4) is copied out of the session's alias table into the
//! [`Topic`], so the session is free for commands (publish a reply, acknowledge) while the
//! message is held.

use core::num::NonZeroU32;

use super::packet::Publish;
use super::properties::{Properties, Property, PropertyId};
use super::{PacketId, Qos};

/// The longest topic an alias slot holds unless a session says otherwise (its `ALIAS_LEN`).
pub const DEFAULT_ALIAS_LEN: usize = 128;

/// A topic name as received: borrowed from the packet, or copied from the session's alias table
/// (at most `N` bytes) when the packet named it by its Topic Alias only.
///
/// Reads as a `str` ([`Topic::as_str`], `Deref`, `Display`, `==` with `&str`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Topic<'a, const N: usize = DEFAULT_ALIAS_LEN>(Repr<'a, N>);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr<'a, const N: usize> {
    Input(&'a str),
    Alias(heapless::String<N>),
}

impl<'a, const N: usize> Topic<'a, N> {
    /// A topic borrowed from the input.
    pub const fn new(topic: &'a str) -> Self {
        Topic(Repr::Input(topic))
    }

    /// A copy of an aliased topic; `None` if it is longer than `N` bytes.
    pub(crate) fn copied(topic: &str) -> Option<Self> {
        let mut s = heapless::String::new();
        s.push_str(topic).ok()?;
        Some(Topic(Repr::Alias(s)))
    }

    /// The topic name.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Input(s) => s,
            Repr::Alias(s) => s.as_str(),
        }
    }

    /// The topic borrowed from the input, if it was not copied from an alias.
    pub fn as_input(&self) -> Option<&'a str> {
        match self.0 {
            Repr::Input(s) => Some(s),
            Repr::Alias(_) => None,
        }
    }
}

impl<const N: usize> core::ops::Deref for Topic<'_, N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> AsRef<str> for Topic<'_, N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> core::fmt::Debug for Topic<'_, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> core::fmt::Display for Topic<'_, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> PartialEq<str> for Topic<'_, N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for Topic<'_, N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(feature = "std")]
impl<const N: usize> From<Topic<'_, N>> for std::string::String {
    fn from(t: Topic<'_, N>) -> Self {
        t.as_str().into()
    }
}

#[cfg(feature = "defmt")]
impl<const N: usize> defmt::Format for Topic<'_, N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

/// An application message from the peer (whole, or the head of one delivered in chunks).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message<'a, const N: usize = DEFAULT_ALIAS_LEN> {
    /// Topic name, topic alias resolved.
    pub topic: Topic<'a, N>,
    /// Payload (empty for the head of a chunked message: the chunks follow).
    pub payload: &'a [u8],
    /// QoS.
    pub qos: Qos,
    /// Retain flag.
    pub retain: bool,
    /// DUP flag.
    pub dup: bool,
    /// Packet identifier (QoS 1/2).
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (the Topic Alias among them, if one was used).
    pub properties: Properties<'a>,
}

impl<'a, const N: usize> Message<'a, N> {
    /// The message of PUBLISH `p` under `topic`, with `payload`.
    pub(crate) fn new(p: &Publish<'a>, topic: Topic<'a, N>, payload: &'a [u8]) -> Self {
        Message {
            topic,
            payload,
            qos: p.qos_pid.qos(),
            retain: p.retain,
            dup: p.dup,
            packet_id: p.qos_pid.packet_id(),
            properties: p.properties,
        }
    }

    /// The Response Topic of a request (§4.10).
    pub fn response_topic(&self) -> Option<&'a str> {
        match self.properties.get(PropertyId::ResponseTopic) {
            Some(Property::ResponseTopic(t)) => Some(t),
            _ => None,
        }
    }

    /// The Correlation Data of a request or response (§4.10).
    pub fn correlation_data(&self) -> Option<&'a [u8]> {
        match self.properties.get(PropertyId::CorrelationData) {
            Some(Property::CorrelationData(d)) => Some(d),
            _ => None,
        }
    }

    /// The Subscription Identifiers of the subscriptions that matched (§3.3.2.3.8).
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = NonZeroU32> + 'a {
        self.properties.subscription_identifiers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_reads_the_same_borrowed_or_copied() {
        let borrowed: Topic<'_, 8> = Topic::new("a/b");
        let copied: Topic<'_, 8> = Topic::copied("a/b").unwrap();
        assert_eq!(borrowed.as_str(), copied.as_str());
        assert_eq!(borrowed, "a/b");
        assert_eq!(copied.as_input(), None);
        assert_eq!(borrowed.as_input(), Some("a/b"));
        assert!(Topic::<'_, 2>::copied("a/b").is_none());
        extern crate std;
        assert_eq!(std::format!("{copied}"), "a/b");
        // Debug quotes it as a string; `Deref`, `AsRef` and both `==` read the same text.
        assert_eq!(std::format!("{copied:?}"), "\"a/b\"");
        assert_eq!(copied.len(), 3);
        assert_eq!(AsRef::<str>::as_ref(&copied), "a/b");
        assert!(copied == *"a/b" && copied == "a/b" && copied != "a/c");
        #[cfg(feature = "std")]
        assert_eq!(std::string::String::from(copied), "a/b");
    }

    #[test]
    fn request_and_response_properties_are_read_or_absent() {
        use crate::mqtt::properties::{PropertiesBuilder, Property, PropertyContext};
        let mut raw = [0u8; 64];
        let mut b = PropertiesBuilder::new(&mut raw);
        b.push(Property::ResponseTopic("reply/to")).unwrap();
        b.push(Property::CorrelationData(b"req-7")).unwrap();
        let n = b.len();
        let properties = Properties::parse(&raw[..n], PropertyContext::Publish).unwrap();
        let mut p = Publish::new("ask", b"?");
        p.properties = properties;
        let asked: Message<'_, 8> = Message::new(&p, Topic::new("ask"), b"?");
        assert_eq!(asked.response_topic(), Some("reply/to"));
        assert_eq!(asked.correlation_data(), Some(&b"req-7"[..]));
        assert_eq!(asked.subscription_identifiers().count(), 0);
        let plain = Publish::new("ask", b"?");
        let told: Message<'_, 8> = Message::new(&plain, Topic::new("ask"), b"?");
        assert_eq!((told.response_topic(), told.correlation_data()), (None, None));
    }
}
