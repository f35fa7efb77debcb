use std::fmt;
use std::sync::Arc;

use http::{Extensions, HeaderMap, Method, Uri};

/// The partition a request belongs to for per-key state (per-host limits, rate-limit
/// buckets, cooldowns, retry budgets).
///
/// Cheap to clone (one reference count). The default key, made by [`ByAuthority`], is the
/// request's origin — scheme, lowercase host and port, with the scheme's default port left
/// out — so `HTTP://Example.COM:80/a` and `http://example.com/b` share a key while
/// `https://example.com` does not. Credentials in the URI never become part of a key.
///
/// # Example
///
/// ```
/// use volley_core::Key;
///
/// let uri: http::Uri = "HTTPS://Api.Example.com:443/v1/items?page=2".parse().unwrap();
/// assert_eq!(Key::from_uri(&uri).as_str(), "https://api.example.com");
/// assert_eq!(Key::new("tenant-42").as_str(), "tenant-42");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<str>);

impl Key {
    /// A key with the given text, for partitions of your own (per tenant, per API token).
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        Self(key.into())
    }

    /// The origin of an absolute URI: `scheme://host[:port]`, normalised. A URI without an
    /// authority (a relative request such as `/get`) gives the empty key.
    pub fn from_uri(uri: &Uri) -> Self {
        match uri.authority() {
            Some(authority) => {
                Self::origin(uri.scheme_str(), authority.host(), authority.port_u16())
            }
            None => Self::new(""),
        }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn origin(scheme: Option<&str>, host: &str, port: Option<u16>) -> Self {
        // Requests without a scheme are sent as plain HTTP by every client we know.
        let scheme = scheme.unwrap_or("http").to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        };
        let host = host.to_ascii_lowercase();
        match port {
            Some(port) if Some(port) != default_port => {
                Self::new(format!("{scheme}://{host}:{port}"))
            }
            _ => Self::new(format!("{scheme}://{host}")),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Key {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl From<String> for Key {
    fn from(key: String) -> Self {
        Self::new(key)
    }
}

/// A borrowed view of a request's head, given to key functions so they work for any body
/// type.
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> RequestHead<'a> {
    /// The head of `req`.
    pub fn new<B>(req: &'a http::Request<B>) -> Self {
        Self {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }

    /// The head of a request taken apart with `into_parts`.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }

    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request URI.
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The request extensions.
    pub fn extensions(&self) -> &'a Extensions {
        self.extensions
    }
}

/// Chooses the [`Key`] a request is counted under.
///
/// Implemented for [`ByAuthority`] (the default everywhere), [`SingleKey`], and any
/// `Fn(RequestHead<'_>) -> Key + Send + Sync + 'static`, so a closure partitions by tenant:
///
/// ```
/// use volley_core::{Key, KeyFn, RequestHead};
///
/// let by_tenant = |head: RequestHead<'_>| {
///     let tenant = head.headers().get("x-tenant").and_then(|v| v.to_str().ok());
///     Key::new(tenant.unwrap_or("anonymous"))
/// };
/// let req = http::Request::get("https://api.example.com/").header("x-tenant", "acme").body(()).unwrap();
/// assert_eq!(by_tenant.key(RequestHead::new(&req)).as_str(), "acme");
/// ```
pub trait KeyFn: Send + Sync + 'static {
    /// The key for this request.
    fn key(&self, head: RequestHead<'_>) -> Key;
}

impl<F> KeyFn for F
where
    F: Fn(RequestHead<'_>) -> Key + Send + Sync + 'static,
{
    fn key(&self, head: RequestHead<'_>) -> Key {
        self(head)
    }
}

/// The default key function: the request's origin (see [`Key::from_uri`]). A relative URI
/// falls back to the `Host` header, read as an `http` origin.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByAuthority;

impl KeyFn for ByAuthority {
    fn key(&self, head: RequestHead<'_>) -> Key {
        if head.uri().authority().is_some() {
            return Key::from_uri(head.uri());
        }
        let host = head.headers().get(http::header::HOST);
        match host
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<http::uri::Authority>().ok())
        {
            Some(authority) => Key::origin(None, authority.host(), authority.port_u16()),
            None => Key::new(""),
        }
    }
}

/// A key function that puts every request under one key: per-key state becomes global.
#[derive(Clone, Debug)]
pub struct SingleKey(Key);

impl SingleKey {
    /// Every request gets `key`.
    pub fn new(key: impl Into<Key>) -> Self {
        Self(key.into())
    }
}

impl Default for SingleKey {
    fn default() -> Self {
        Self(Key::new("*"))
    }
}

impl KeyFn for SingleKey {
    fn key(&self, _head: RequestHead<'_>) -> Key {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(uri: &str) -> String {
        let req = http::Request::get(uri).body(()).unwrap();
        ByAuthority.key(RequestHead::new(&req)).as_str().to_owned()
    }

    #[test]
    fn origins_are_normalised() {
        let cases = [
            ("http://example.com/a", "http://example.com"),
            ("HTTP://EXAMPLE.com:80/b?x=1", "http://example.com"),
            ("http://example.com:8080/", "http://example.com:8080"),
            ("https://example.com:443/", "https://example.com"),
            ("https://example.com:80/", "https://example.com:80"),
            ("http://user:secret@example.com/", "http://example.com"),
            ("http://[::1]:3000/", "http://[::1]:3000"),
            ("http://127.0.0.1:80/", "http://127.0.0.1"),
            ("ftp://files.example.com:21/", "ftp://files.example.com:21"),
            ("example.com:8080", "http://example.com:8080"),
            ("/relative/only", ""),
        ];
        for (uri, want) in cases {
            assert_eq!(key_of(uri), want, "uri {uri}");
        }
    }

    #[test]
    fn relative_requests_fall_back_to_the_host_header() {
        let req = http::Request::get("/get").header("host", "LocalHost:80").body(()).unwrap();
        assert_eq!(ByAuthority.key(RequestHead::new(&req)).as_str(), "http://localhost");
        let bad = http::Request::get("/get").header("host", "not a host").body(()).unwrap();
        assert_eq!(ByAuthority.key(RequestHead::new(&bad)).as_str(), "");
    }

    #[test]
    fn single_key_and_closures() {
        let req = http::Request::get("http://a.example/").body(()).unwrap();
        assert_eq!(SingleKey::default().key(RequestHead::new(&req)).as_str(), "*");
        let by_method = |head: RequestHead<'_>| Key::new(head.method().as_str());
        assert_eq!(by_method.key(RequestHead::new(&req)).as_str(), "GET");
        assert_eq!(format!("{:?}", Key::new("k")), "\"k\"");
    }
}
