use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use http::HeaderValue;
use url::Url;

use crate::store::{Limits, State};
use crate::{CookieProvider, StoredCookie, policy};

/// A thread-safe cookie jar: RFC 6265 domain, path, Secure and expiry rules (from
/// [`cookie_store`]), public-suffix safety, and limits against hostile servers.
///
/// Share it as an `Arc<Jar>` between a [`CookieLayer`](crate::CookieLayer) and your own
/// code to inspect or seed it. All clones of the layer use the one jar they were given.
///
/// What it accepts, and the limits (see the crate docs for why):
///
/// - a `Set-Cookie` value over [`MAX_COOKIE_BYTES`](crate::MAX_COOKIE_BYTES) (4096) bytes,
///   or not UTF-8, is ignored;
/// - a Domain attribute that is a public suffix (`com`, `co.uk`, `github.io`, any single
///   label) is refused, unless it names the request host itself, in which case the cookie is
///   kept as host-only;
/// - a Secure or `__Secure-`/`__Host-` cookie is only accepted from a secure origin
///   (`https`, `localhost` or a loopback address), and only sent to one;
/// - at most [`max_cookies_per_domain`](Self::max_cookies_per_domain) (50) cookies per
///   registrable domain (`example.com` with all its subdomains) and
///   [`max_cookies`](Self::max_cookies) (3000) in all; past either, expired cookies are
///   dropped, then the oldest cookie of that domain (or of the jar) is evicted, as browsers
///   do;
/// - `Max-Age` and `Expires` are read against the system clock (paused Tokio time does not
///   move it); `Max-Age=0` or a past `Expires` deletes the cookie.
///
/// Its `Debug` shows the number of cookies and the limits, never a value.
///
/// # Example
///
/// ```
/// use url::Url;
/// use volley_cookies::Jar;
///
/// let jar = Jar::new();
/// let url = Url::parse("https://api.example.com/v1/login").unwrap();
/// assert!(jar.add_cookie_str("session=abc; Path=/; HttpOnly", &url));
/// assert!(jar.add_cookie_str("theme=dark; Path=/v1", &url));
/// assert!(!jar.add_cookie_str("evil=1; Domain=com", &url)); // a public suffix
///
/// let v1 = Url::parse("https://api.example.com/v1/items").unwrap();
/// assert_eq!(jar.cookies(&v1).unwrap(), "theme=dark; session=abc"); // longest path first
/// let other = Url::parse("https://other.example.com/").unwrap();
/// assert!(jar.cookies(&other).is_none()); // host-only cookies
/// assert_eq!(jar.len(), 2);
/// assert!(!format!("{jar:?}").contains("abc"));
/// ```
pub struct Jar {
    state: RwLock<State>,
    limits: Limits,
}

impl Jar {
    /// An empty jar with the default limits.
    pub fn new() -> Self {
        Self {
            state: RwLock::new(State::default()),
            limits: Limits { max_cookies: 3000, max_per_site: 50 },
        }
    }

    /// The most cookies the jar holds. Defaults to 3000 (RFC 6265 §6.1 asks for at least
    /// 3000).
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    #[must_use]
    pub fn max_cookies(mut self, max: usize) -> Self {
        assert!(max > 0, "Jar::max_cookies: the limit must not be zero");
        self.limits.max_cookies = max;
        self
    }

    /// The most cookies the jar holds for one registrable domain (`example.com` and all its
    /// subdomains; an IP address or single-label host counts on its own). Defaults to 50
    /// (RFC 6265 §6.1 asks for at least 50).
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    #[must_use]
    pub fn max_cookies_per_domain(mut self, max: usize) -> Self {
        assert!(max > 0, "Jar::max_cookies_per_domain: the limit must not be zero");
        self.limits.max_per_site = max;
        self
    }

    /// Stores one cookie, in `Set-Cookie` syntax, as if a response from `url` had set it;
    /// whether it was accepted (a deleting cookie, with `Max-Age=0` or a past `Expires`,
    /// counts as accepted when it deleted one). The rules are the same as for responses.
    pub fn add_cookie_str(&self, cookie: &str, url: &Url) -> bool {
        let Some(raw) = policy::parse(cookie.as_bytes()) else {
            return false;
        };
        self.write().insert(raw, url, self.limits)
    }

    /// The `Cookie` header that would be sent with a request for `url`: matching, unexpired
    /// cookies, longest path first, then oldest first; `None` when none match. The value is
    /// marked sensitive.
    pub fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        let state = self.read();
        let mut header = String::new();
        for cookie in state.matches(url) {
            if !header.is_empty() {
                header.push_str("; ");
            }
            let (name, value) = cookie.name_value();
            header.push_str(name);
            header.push('=');
            header.push_str(value);
        }
        if header.is_empty() {
            return None;
        }
        let mut value = HeaderValue::from_bytes(header.as_bytes()).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// A copy of every unexpired cookie, oldest first.
    pub fn snapshot(&self) -> Vec<StoredCookie> {
        self.read().unexpired().map(StoredCookie::from_cookie).collect()
    }

    /// How many unexpired cookies the jar holds.
    pub fn len(&self) -> usize {
        self.read().unexpired().count()
    }

    /// Whether the jar holds no unexpired cookie.
    pub fn is_empty(&self) -> bool {
        self.read().unexpired().next().is_none()
    }

    /// Removes every cookie.
    pub fn clear(&self) {
        self.write().clear();
    }

    // A panic elsewhere while holding the lock leaves the cookies consistent (every update
    // is a few map operations), so a poisoned lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Jar {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Jar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jar")
            .field("cookies", &self.len())
            .field("max_cookies", &self.limits.max_cookies)
            .field("max_cookies_per_domain", &self.limits.max_per_site)
            .finish()
    }
}

impl CookieProvider for Jar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        let mut state = None;
        for header in headers {
            // The lock is taken once, at the first cookie worth storing.
            let Some(raw) = policy::parse(header.as_bytes()) else {
                continue;
            };
            state.get_or_insert_with(|| self.write()).insert(raw, url, self.limits);
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        Jar::cookies(self, url)
    }
}
