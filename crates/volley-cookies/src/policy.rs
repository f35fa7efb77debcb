//! What the jar refuses before a cookie reaches `cookie_store`: oversized cookies, Secure
//! cookies from insecure origins, broken name prefixes and Domain attributes that name a
//! public suffix.

use std::borrow::Cow;

use cookie_store::RawCookie;
use url::{Host, Url};

/// The largest `Set-Cookie` value (name, value and attributes) the jar accepts, in bytes:
/// the minimum RFC 6265 §6.1 asks a user agent to support. Larger ones are ignored.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// What to do with a parsed cookie.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Store it as it is.
    Accept,
    /// Store it without its Domain attribute (a host-only cookie): the attribute named a
    /// public suffix that is the request host itself, as RFC 6265 §5.3 step 5 says.
    HostOnly,
    /// Ignore it.
    Refuse,
}

/// Parses one `Set-Cookie` value, refusing oversized or non-UTF-8 ones before any work.
pub(crate) fn parse(bytes: &[u8]) -> Option<RawCookie<'static>> {
    if bytes.len() > MAX_COOKIE_BYTES {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    RawCookie::parse(text).ok().map(RawCookie::into_owned)
}

/// Applies the rules `cookie_store` leaves out (RFC 6265bis §5.7 secure-only and prefix
/// rules, and the public suffix check of RFC 6265 §5.3 step 5).
pub(crate) fn check(cookie: &RawCookie<'_>, url: &Url) -> Verdict {
    let secure_origin = is_secure_origin(url);
    let secure = cookie.secure() == Some(true);
    if secure && !secure_origin {
        return Verdict::Refuse;
    }
    let name = cookie.name().as_bytes();
    if has_prefix(name, b"__secure-") && !secure {
        return Verdict::Refuse;
    }
    if has_prefix(name, b"__host-")
        && (!secure || cookie.domain().is_some() || cookie.path() != Some("/"))
    {
        return Verdict::Refuse;
    }
    match cookie.domain().map(str::trim) {
        None | Some("") => Verdict::Accept,
        Some(domain) => check_domain(domain, url),
    }
}

fn check_domain(domain: &str, url: &Url) -> Verdict {
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    let ascii: Cow<'_, str> = match Host::parse(domain) {
        Ok(Host::Domain(ascii)) => Cow::Owned(ascii),
        // An IP address only ever matches itself; cookie_store checks that.
        Ok(Host::Ipv4(_) | Host::Ipv6(_)) => return Verdict::Accept,
        Err(_) => return Verdict::Refuse,
    };
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    if !is_public_suffix(ascii) {
        return Verdict::Accept;
    }
    if url.host_str().is_some_and(|host| host.eq_ignore_ascii_case(ascii)) {
        Verdict::HostOnly
    } else {
        Verdict::Refuse
    }
}

/// Whether `domain` (lower-case ASCII) is a public suffix: a single label (`com`,
/// `localhost`, an unknown TLD) or a suffix listed in the bundled Public Suffix List
/// (`co.uk`, `github.io`).
pub(crate) fn is_public_suffix(domain: &str) -> bool {
    if !domain.contains('.') {
        return true;
    }
    psl::suffix(domain.as_bytes())
        .is_some_and(|suffix| suffix.is_known() && suffix.as_bytes() == domain.as_bytes())
}

/// The site a cookie domain belongs to, for the per-domain limit: its registrable domain
/// (`a.b.example.co.uk` → `example.co.uk`), or the domain itself for IP addresses, single
/// labels and public suffixes.
pub(crate) fn site_of(domain: &str) -> &str {
    if domain.starts_with('[') || domain.parse::<std::net::Ipv4Addr>().is_ok() {
        return domain;
    }
    psl::domain_str(domain).unwrap_or(domain)
}

/// Where Secure cookies may be set and sent: `https`, and, as in browsers (W3C Secure
/// Contexts) and `cookie_store`, `localhost` and loopback addresses over any scheme.
pub(crate) fn is_secure_origin(url: &Url) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(Host::Domain(domain)) => domain == "localhost",
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

fn has_prefix(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(set_cookie: &str, url: &str) -> Verdict {
        let cookie = parse(set_cookie.as_bytes()).unwrap();
        check(&cookie, &Url::parse(url).unwrap())
    }

    #[test]
    fn public_suffix_domains_are_refused_or_made_host_only() {
        let from = "https://a.example.com/";
        assert_eq!(verdict("a=1; Domain=com", from), Verdict::Refuse);
        assert_eq!(verdict("a=1; Domain=.COM", from), Verdict::Refuse);
        assert_eq!(verdict("a=1; Domain=example.com", from), Verdict::Accept);
        assert_eq!(verdict("a=1; Domain=co.uk", "https://x.co.uk/"), Verdict::Refuse);
        assert_eq!(verdict("a=1; Domain=github.io", "https://me.github.io/"), Verdict::Refuse);
        assert_eq!(verdict("a=1; Domain=me.github.io", "https://me.github.io/"), Verdict::Accept);
        // A single label is a suffix even when the list does not know it…
        assert_eq!(verdict("a=1; Domain=internal", "http://svc.internal/"), Verdict::Refuse);
        // …and naming the request host itself keeps the cookie, host-only.
        assert_eq!(verdict("a=1; Domain=localhost", "http://localhost/"), Verdict::HostOnly);
        assert_eq!(verdict("a=1; Domain=127.0.0.1", "http://127.0.0.1/"), Verdict::Accept);
    }

    #[test]
    fn secure_and_prefixed_cookies_need_a_secure_origin() {
        assert_eq!(verdict("s=1; Secure", "http://example.com/"), Verdict::Refuse);
        assert_eq!(verdict("s=1; Secure", "https://example.com/"), Verdict::Accept);
        assert_eq!(verdict("s=1; Secure", "http://127.0.0.1:8080/"), Verdict::Accept);
        assert_eq!(verdict("__Secure-s=1", "https://example.com/"), Verdict::Refuse);
        assert_eq!(verdict("__Host-s=1; Secure; Path=/", "https://example.com/"), Verdict::Accept);
        assert_eq!(verdict("__Host-s=1; Secure", "https://example.com/"), Verdict::Refuse);
        assert_eq!(
            verdict("__host-s=1; Secure; Path=/; Domain=example.com", "https://example.com/"),
            Verdict::Refuse
        );
    }

    #[test]
    fn oversized_and_non_utf8_values_are_not_parsed() {
        let at_limit = format!("a={}", "x".repeat(MAX_COOKIE_BYTES - 2));
        assert!(parse(at_limit.as_bytes()).is_some());
        let over = format!("a={}", "x".repeat(MAX_COOKIE_BYTES - 1));
        assert!(parse(over.as_bytes()).is_none());
        assert!(parse(b"a=\xff").is_none());
    }

    #[test]
    fn sites_group_subdomains_under_their_registrable_domain() {
        assert_eq!(site_of("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(site_of("example.com"), "example.com");
        assert_eq!(site_of("127.0.0.1"), "127.0.0.1");
        assert_eq!(site_of("[::1]"), "[::1]");
        assert_eq!(site_of("localhost"), "localhost");
    }
}
