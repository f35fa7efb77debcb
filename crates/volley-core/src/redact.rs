//! Keeping credentials out of output: which headers are secrets, and URLs printed without
//! their userinfo or secret query values.
//!
//! Every `Debug`, `Display`, error message, CLI record and trace in volley goes through
//! these, so a token given once never shows up in a log.

use std::fmt;

use http::Uri;
use http::header::{HeaderMap, HeaderName};

/// Header names whose values are credentials, in lower case. Requests, default headers and
/// responses mark them sensitive ([`http::HeaderValue::set_sensitive`]) and redirects strip
/// them on a cross-origin hop.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "private-token",
    "x-amz-security-token",
    "x-goog-api-key",
    "x-csrf-token",
];

/// Query parameter names (compared without case) whose values are redacted when a URL is
/// printed.
pub const SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "api-key",
    "key",
    "token",
    "auth",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
];

/// What replaces a secret in output.
pub const REDACTED: &str = "[redacted]";

/// A set of header names treated as credentials: [`SENSITIVE_HEADERS`] plus any a user
/// adds (`X-My-Service-Key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensitiveHeaders {
    extra: Vec<HeaderName>,
}

impl SensitiveHeaders {
    /// The well-known credential headers ([`SENSITIVE_HEADERS`]).
    pub fn new() -> Self {
        Self { extra: Vec::new() }
    }

    /// Also treats `name` as a credential.
    #[must_use]
    pub fn with(mut self, name: HeaderName) -> Self {
        if !self.contains(&name) {
            self.extra.push(name);
        }
        self
    }

    /// Whether `name` is a credential header.
    pub fn contains(&self, name: &HeaderName) -> bool {
        is_well_known_sensitive(name) || self.extra.contains(name)
    }

    /// Marks every credential header in `headers` sensitive, so `Debug` prints it as
    /// `Sensitive` and HTTP/2's HPACK never indexes it.
    pub fn mark(&self, headers: &mut HeaderMap) {
        for (name, value) in headers.iter_mut() {
            if self.contains(name) {
                value.set_sensitive(true);
            }
        }
    }

    /// Removes every credential header and every header already marked sensitive from
    /// `headers`; returns how many values were removed.
    pub fn strip(&self, headers: &mut HeaderMap) -> usize {
        let doomed: Vec<HeaderName> = headers
            .iter()
            .filter(|(name, value)| value.is_sensitive() || self.contains(name))
            .map(|(name, _)| name.clone())
            .collect();
        let mut removed = 0;
        for name in doomed {
            if let http::header::Entry::Occupied(entry) = headers.entry(name) {
                removed += entry.remove_entry_mult().1.count();
            }
        }
        removed
    }
}

impl Default for SensitiveHeaders {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `name` is one of [`SENSITIVE_HEADERS`].
pub fn is_well_known_sensitive(name: &HeaderName) -> bool {
    SENSITIVE_HEADERS.contains(&name.as_str())
}

/// Headers for `Debug`: names in order, the values of sensitive or credential headers
/// ([`SENSITIVE_HEADERS`]) replaced by [`REDACTED`].
pub struct RedactedHeaders<'a>(pub &'a HeaderMap);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_headers(f, self.0, &SensitiveHeaders::new())
    }
}

/// Headers for `Debug` with a user's own credential headers redacted too; made by
/// [`SensitiveHeaders::redact`].
pub struct RedactedWith<'a> {
    headers: &'a HeaderMap,
    sensitive: &'a SensitiveHeaders,
}

impl fmt::Debug for RedactedWith<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_headers(f, self.headers, self.sensitive)
    }
}

impl SensitiveHeaders {
    /// `headers` for `Debug`, with the values of every header in this set, and of every
    /// header marked sensitive, replaced by [`REDACTED`].
    pub fn redact<'a>(&'a self, headers: &'a HeaderMap) -> RedactedWith<'a> {
        RedactedWith { headers, sensitive: self }
    }
}

fn debug_headers(
    f: &mut fmt::Formatter<'_>,
    headers: &HeaderMap,
    sensitive: &SensitiveHeaders,
) -> fmt::Result {
    let mut map = f.debug_map();
    for (name, value) in headers {
        if value.is_sensitive() || sensitive.contains(name) {
            map.entry(&name.as_str(), &REDACTED);
        } else {
            map.entry(&name.as_str(), value);
        }
    }
    map.finish()
}

/// A URL for output: userinfo replaced by [`REDACTED`] and the values of
/// [`SENSITIVE_QUERY_PARAMS`] too. Works on `Uri`s and on any URL-shaped string.
///
/// ```
/// use volley_core::redact::RedactedUrl;
/// let shown = RedactedUrl("https://bob:hunter2@api.example.com/v1?token=abc&page=2").to_string();
/// assert_eq!(shown, "https://[redacted]@api.example.com/v1?token=[redacted]&page=2");
/// ```
pub struct RedactedUrl<'a>(pub &'a str);

impl RedactedUrl<'_> {
    /// The redacted form of `uri`, as a `String`.
    pub fn uri(uri: &Uri) -> String {
        RedactedUrl(&uri.to_string()).to_string()
    }
}

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Userinfo first, before looking for `?` and `#`: a password may hold either.
        let rest = write_without_userinfo(f, self.0)?;
        let (before_fragment, fragment) = match rest.split_once('#') {
            Some((head, fragment)) => (head, Some(fragment)),
            None => (rest, None),
        };
        let (path, query) = match before_fragment.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (before_fragment, None),
        };
        f.write_str(path)?;
        if let Some(query) = query {
            f.write_str("?")?;
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    f.write_str("&")?;
                }
                match pair.split_once('=') {
                    Some((name, _)) if is_sensitive_param(name) => write!(f, "{name}={REDACTED}")?,
                    _ => f.write_str(pair)?,
                }
            }
        }
        if let Some(fragment) = fragment {
            write!(f, "#{fragment}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Writes the scheme and the host of `url`, its userinfo replaced; returns what follows the
/// host. The authority ends at the first `/` after the scheme, and userinfo at the last `@`
/// before it, so `?`, `#` and `@` inside a password are covered.
fn write_without_userinfo<'u>(
    f: &mut fmt::Formatter<'_>,
    url: &'u str,
) -> Result<&'u str, fmt::Error> {
    let Some((scheme, rest)) = url.split_once("://") else { return Ok(url) };
    write!(f, "{scheme}://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            write!(f, "{REDACTED}@")?;
            let host_and_more = &rest[at + 1..];
            let host_end = host_and_more.find(['/', '?', '#']).unwrap_or(host_and_more.len());
            f.write_str(&host_and_more[..host_end])?;
            Ok(&host_and_more[host_end..])
        }
        None => {
            let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            f.write_str(&rest[..host_end])?;
            Ok(&rest[host_end..])
        }
    }
}

fn is_sensitive_param(name: &str) -> bool {
    SENSITIVE_QUERY_PARAMS.iter().any(|secret| secret.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn userinfo_and_secret_params_are_redacted() {
        let shown = RedactedUrl("http://u:p@h:8080/a/b?x=1&API_KEY=zz&sig=q#frag").to_string();
        assert_eq!(
            shown,
            "http://[redacted]@h:8080/a/b?x=1&API_KEY=[redacted]&sig=[redacted]#frag"
        );
        assert_eq!(RedactedUrl("http://h/p?a=b").to_string(), "http://h/p?a=b");
        // An `@` in the path is not userinfo.
        assert_eq!(RedactedUrl("http://h/users/@me").to_string(), "http://h/users/@me");
        assert_eq!(RedactedUrl("/rel?token=1").to_string(), "/rel?token=[redacted]");
        // `?`, `#` and `@` in a password.
        assert_eq!(RedactedUrl("https://bob:pa?ss@h/x").to_string(), "https://[redacted]@h/x");
        assert_eq!(RedactedUrl("https://bob:p#w@h?q=1").to_string(), "https://[redacted]@h?q=1");
        assert_eq!(RedactedUrl("https://bob:p@w@h").to_string(), "https://[redacted]@h");
    }

    #[test]
    fn credential_headers_are_marked_stripped_and_hidden() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer secret-token"));
        headers.append("cookie", HeaderValue::from_static("a=1"));
        headers.append("cookie", HeaderValue::from_static("b=2"));
        headers.insert("x-custom-key", HeaderValue::from_static("custom-secret"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        let sensitive = SensitiveHeaders::new().with(HeaderName::from_static("x-custom-key"));
        sensitive.mark(&mut headers);
        assert!(headers["authorization"].is_sensitive());
        assert!(headers["x-custom-key"].is_sensitive());
        assert!(!headers["accept"].is_sensitive());

        let shown = format!("{:?}", RedactedHeaders(&headers));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("*/*"), "{shown}");

        assert_eq!(sensitive.strip(&mut headers), 4);
        assert_eq!(headers.len(), 1);
    }
}
