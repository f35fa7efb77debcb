use http::{Extensions, HeaderMap, Method, Uri};

use super::Key;

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
            ("http://example.com:65535/", "http://example.com:65535"),
            ("http://example.com:1/", "http://example.com:1"),
            ("HTTPS://XN--BCHER-KVA.EXAMPLE/", "https://xn--bcher-kva.example"),
            ("example.com:8080", "http://example.com:8080"),
            ("/relative/only", ""),
        ];
        for (uri, want) in cases {
            assert_eq!(key_of(uri), want, "uri {uri}");
        }
    }

    #[test]
    fn the_last_origin_cache_never_mixes_hosts() {
        // Same authority text, other scheme; same host, other port; then back again.
        for (uri, want) in [
            ("http://a.example:8080/x", "http://a.example:8080"),
            ("https://a.example:8080/x", "https://a.example:8080"),
            ("https://a.example:8081/y", "https://a.example:8081"),
            ("https://A.example:8081/z", "https://a.example:8081"),
            ("http://a.example:8080/x", "http://a.example:8080"),
            ("http://a.example:8080/again", "http://a.example:8080"),
        ] {
            assert_eq!(key_of(uri), want, "uri {uri}");
        }
    }

    #[test]
    fn long_hosts_spill_to_the_heap_intact() {
        let host = format!("{}.example.com", "Sub".repeat(60));
        let key = key_of(&format!("https://{host}:8443/x"));
        assert_eq!(key, format!("https://{}:8443", host.to_ascii_lowercase()));
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
