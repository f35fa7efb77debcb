use std::fmt;
use std::time::{Duration, SystemTime};

use cookie_store::{Cookie, CookieDomain, CookieExpiration};
use volley_core::redact::REDACTED;

/// A copy of one cookie in a [`Jar`](crate::Jar), as [`Jar::snapshot`](crate::Jar::snapshot)
/// returns it.
///
/// Its `Debug` shows everything but the value, which is a credential as often as not.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCookie {
    name: String,
    value: String,
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    http_only: bool,
    expires: Option<SystemTime>,
}

impl StoredCookie {
    pub(crate) fn from_cookie(cookie: &Cookie<'_>) -> Self {
        let expires = match cookie.expires {
            CookieExpiration::AtUtc(at) => Some(system_time(at.unix_timestamp())),
            CookieExpiration::SessionEnd => None,
        };
        Self {
            name: cookie.name().to_owned(),
            value: cookie.value().to_owned(),
            domain: String::from(&cookie.domain),
            host_only: matches!(cookie.domain, CookieDomain::HostOnly(_)),
            path: String::from(&cookie.path),
            secure: cookie.secure() == Some(true),
            http_only: cookie.http_only() == Some(true),
            expires,
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value, exactly as the server sent it (quotes included, not decoded).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The host (for a host-only cookie) or the domain the cookie is sent to, in lower-case
    /// ASCII, without a leading dot.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether the cookie goes to [`domain`](Self::domain) only (the server sent no Domain
    /// attribute), rather than to its subdomains too.
    pub fn host_only(&self) -> bool {
        self.host_only
    }

    /// The path the cookie is sent under (from its Path attribute, or the default path of
    /// the URL that set it).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the cookie is sent over secure origins only (`https`, or loopback).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether the server marked the cookie HttpOnly. A client sends it like any other: the
    /// flag only hides cookies from browser scripts. Kept for inspection.
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// When the cookie expires (from Max-Age, which wins, or Expires); `None` for a session
    /// cookie, which lives as long as the jar.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

impl fmt::Debug for StoredCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCookie")
            .field("name", &self.name)
            .field("value", &REDACTED)
            .field("domain", &self.domain)
            .field("host_only", &self.host_only)
            .field("path", &self.path)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("expires", &self.expires)
            .finish()
    }
}

fn system_time(unix_seconds: i64) -> SystemTime {
    let offset = Duration::from_secs(unix_seconds.unsigned_abs());
    let at = if unix_seconds >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(offset)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(offset)
    };
    at.unwrap_or(SystemTime::UNIX_EPOCH)
}
