//! `Origin` allow-lists: the defence against Cross-Site WebSocket Hijacking.
//!
//! Browsers send the page's origin with every WebSocket handshake and attach the user's cookies
//! to it, whatever site the page comes from. A server that authenticates by cookie must
//! therefore check `Origin` against the sites it trusts and answer `403` otherwise (RFC 6455
//! §4.2.2 item 4, §10.2). Non-browser clients usually send no `Origin`.

/// What to do with a request that carries no `Origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MissingOrigin {
    /// Allow it: non-browser clients (devices, MQTT bridges) send none.
    Allow,
    /// Refuse it.
    Refuse,
}

/// An allow-list of origins, compared ASCII case-insensitively and exactly (scheme, host and
/// port), e.g. `https://app.example.com` or `http://localhost:8080`.
///
/// The opaque origin `null` (sandboxed frames, `file:` pages) is allowed only when listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OriginPolicy<'a> {
    allowed: &'a [&'a str],
    missing: MissingOrigin,
}

impl<'a> OriginPolicy<'a> {
    /// Allows exactly these origins, and requests without `Origin`.
    pub const fn allow_list(allowed: &'a [&'a str]) -> Self {
        OriginPolicy { allowed, missing: MissingOrigin::Allow }
    }

    /// Sets what to do with requests that carry no `Origin`.
    pub const fn missing(mut self, missing: MissingOrigin) -> Self {
        self.missing = missing;
        self
    }

    /// Whether a request with this `Origin` value (or none) is allowed.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match origin {
            None => self.missing == MissingOrigin::Allow,
            Some(o) => self.allowed.iter().any(|a| a.eq_ignore_ascii_case(o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list() {
        let p = OriginPolicy::allow_list(&["https://app.example.com", "http://localhost:8080"]);
        assert!(p.allows(Some("https://app.example.com")));
        assert!(p.allows(Some("HTTPS://APP.example.com")));
        assert!(p.allows(Some("http://localhost:8080")));
        assert!(!p.allows(Some("http://localhost:8081")));
        assert!(!p.allows(Some("https://app.example.com.evil.net")));
        assert!(!p.allows(Some("https://evil.net")));
        assert!(!p.allows(Some("null")));
        assert!(p.allows(None));
        assert!(!p.missing(MissingOrigin::Refuse).allows(None));
        assert!(!OriginPolicy::allow_list(&[]).allows(Some("https://app.example.com")));
    }
}
