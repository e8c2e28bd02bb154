//! `mqtt://`, `mqtts://`, `ws://` and `wss://` URLs: what a connect helper needs of them.

use core::fmt;
use std::format;
use std::string::String;

/// The transport a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// MQTT over TCP (`mqtt://`, `tcp://`), port 1883 by default.
    Mqtt,
    /// MQTT over TLS (`mqtts://`, `ssl://`), port 8883 by default.
    Mqtts,
    /// WebSocket (`ws://`), port 80 by default.
    Ws,
    /// WebSocket over TLS (`wss://`), port 443 by default.
    Wss,
}

impl Scheme {
    /// The port used when the URL names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// Whether the transport runs over TLS.
    pub const fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    /// Whether the transport is a WebSocket.
    pub const fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is missing or not one of `mqtt`, `mqtts`, `tcp`, `ssl`, `ws`, `wss`.
    Scheme,
    /// The host is empty, or an IPv6 literal is not closed by `]`.
    Host,
    /// The port is not a number from 1 to 65535.
    Port,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "the URL must start with mqtt://, mqtts://, ws:// or wss://",
            UrlError::Host => "the URL has no valid host",
            UrlError::Port => "the URL's port is not a number from 1 to 65535",
        })
    }
}

impl core::error::Error for UrlError {}

/// A broker or WebSocket URL: `scheme://[user[:password]@]host[:port][/path][?query]`.
///
/// ```
/// use mqtt_ws::net::{Scheme, Url};
/// let url = Url::parse("wss://alice:secret@broker.example:8084/mqtt?x=1")?;
/// assert_eq!(url.scheme, Scheme::Wss);
/// assert_eq!((url.host, url.port, url.path), ("broker.example", 8084, "/mqtt?x=1"));
/// assert_eq!((url.user, url.password), (Some("alice"), Some("secret")));
/// assert_eq!(Url::parse("mqtt://[::1]")?.authority(), "[::1]:1883");
/// # Ok::<(), mqtt_ws::net::UrlError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// The transport.
    pub scheme: Scheme,
    /// The host name or IP address (an IPv6 address without its brackets).
    pub host: &'a str,
    /// The port (the scheme's default when the URL names none).
    pub port: u16,
    /// The path and query as written (empty when the URL has none).
    pub path: &'a str,
    /// The user name before `@`, as written.
    pub user: Option<&'a str>,
    /// The password after `user:`, as written.
    pub password: Option<&'a str>,
}

impl<'a> Url<'a> {
    /// Parses `url`; a fragment (`#...`) is dropped.
    pub fn parse(url: &'a str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        let scheme = [
            ("mqtt", Scheme::Mqtt),
            ("tcp", Scheme::Mqtt),
            ("mqtts", Scheme::Mqtts),
            ("ssl", Scheme::Mqtts),
            ("ws", Scheme::Ws),
            ("wss", Scheme::Wss),
        ]
        .into_iter()
        .find_map(|(name, s)| name.eq_ignore_ascii_case(scheme).then_some(s))
        .ok_or(UrlError::Scheme)?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo.map(|u| u.split_once(':')) {
            Some(Some((u, p))) => (Some(u), Some(p)),
            Some(None) => (userinfo, None),
            None => (None, None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(UrlError::Host)?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or(UrlError::Port)?)),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::Host);
        }
        let port = match port {
            None => scheme.default_port(),
            Some(p) => p.parse().ok().filter(|&p| p != 0).ok_or(UrlError::Port)?,
        };
        Ok(Url { scheme, host, port, path, user, password })
    }

    /// `host:port` (an IPv6 address in brackets), for connecting and for the `Host` field.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form() {
        let u = Url::parse("mqtt://localhost").unwrap();
        assert_eq!((u.scheme, u.host, u.port, u.path), (Scheme::Mqtt, "localhost", 1883, ""));
        let u = Url::parse("MQTTS://h:1").unwrap();
        assert_eq!((u.scheme, u.port), (Scheme::Mqtts, 1));
        let u = Url::parse("ws://h/mqtt#frag").unwrap();
        assert_eq!((u.port, u.path), (80, "/mqtt"));
        let u = Url::parse("wss://u@h?q").unwrap();
        assert_eq!((u.port, u.path, u.user, u.password), (443, "?q", Some("u"), None));
        let u = Url::parse("tcp://u:p:q@[fe80::1]:99/x").unwrap();
        assert_eq!((u.host, u.port, u.password), ("fe80::1", 99, Some("p:q")));
        assert_eq!(u.authority(), "[fe80::1]:99");
        assert_eq!(Url::parse("http://h"), Err(UrlError::Scheme));
        assert_eq!(Url::parse("h:1883"), Err(UrlError::Scheme));
        assert_eq!(Url::parse("mqtt://:1883"), Err(UrlError::Host));
        assert_eq!(Url::parse("mqtt://[::1"), Err(UrlError::Host));
        assert_eq!(Url::parse("mqtt://h:0"), Err(UrlError::Port));
        assert_eq!(Url::parse("mqtt://h:x"), Err(UrlError::Port));
        assert_eq!(Url::parse("mqtt://[::1]x"), Err(UrlError::Port));
        assert_eq!(Url::parse("mqtt://h:65536"), Err(UrlError::Port));
    }
}
