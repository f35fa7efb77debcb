use std::cell::RefCell;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Arc;
use std::sync::OnceLock;

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
///
/// A key carries a hash of its text computed once, when it is made (with keys random per
/// process, so hosts cannot be chosen to collide), and hashing a key writes only that: maps
/// keyed by [`Key`] built with [`KeyHashBuilder`] cost no string hashing per request.
#[derive(Clone)]
pub struct Key {
    text: Arc<str>,
    hash: u64,
}

impl Key {
    /// A key with the given text, for partitions of your own (per tenant, per API token).
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        let text = key.into();
        let hash = key_hasher().hash_one(&*text);
        Self { text, hash }
    }

    /// The origin of an absolute URI: `scheme://host[:port]`, normalised. A URI without an
    /// authority (a relative request such as `/get`) gives the empty key.
    pub fn from_uri(uri: &Uri) -> Self {
        let Some(authority) = uri.authority() else { return Self::new("") };
        let scheme = uri.scheme_str().unwrap_or("");
        LAST_ORIGIN.with(|last| {
            let mut last = last.borrow_mut();
            let hit = last.as_ref().filter(|l| {
                l.scheme.as_ref() == scheme && l.authority.as_ref() == authority.as_str()
            });
            if let Some(hit) = hit {
                return hit.key.clone();
            }
            let key = Self::origin(uri.scheme_str(), authority.host(), authority.port_u16());
            *last = Some(LastOrigin {
                scheme: scheme.into(),
                authority: authority.as_str().into(),
                key: key.clone(),
            });
            key
        })
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn origin(scheme: Option<&str>, host: &str, port: Option<u16>) -> Self {
        // Requests without a scheme are sent as plain HTTP by every client we know.
        let scheme = scheme.unwrap_or("http");
        let default_port =
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
                Some(80)
            } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
                Some(443)
            } else {
                None
            };
        let port = port.filter(|&port| Some(port) != default_port);
        // Every request of a keyed layer builds its key: write it once, on the stack, and
        // allocate only the shared string.
        let mut buf = OriginBuf::new();
        buf.push_lowercase(scheme);
        buf.push_lowercase("://");
        buf.push_lowercase(host);
        if let Some(port) = port {
            buf.push_port(port);
        }
        Self::new(buf.into_arc())
    }
}

/// The origin most recently keyed on a thread, as written in the URI.
struct LastOrigin {
    scheme: Box<str>,
    authority: Box<str>,
    key: Key,
}

thread_local! {
    // Every request through a keyed layer builds its key, and a client mostly talks to a few
    // hosts: remembering the last one turns a parse and an allocation into a comparison and
    // a reference count.
    static LAST_ORIGIN: RefCell<Option<LastOrigin>> = const { RefCell::new(None) };
}

/// A stack buffer for the origin text, spilling to the heap for (rare) long hosts.
struct OriginBuf {
    stack: [u8; 128],
    len: usize,
    heap: Option<String>,
}

impl OriginBuf {
    fn new() -> Self {
        Self { stack: [0; 128], len: 0, heap: None }
    }

    fn push_lowercase(&mut self, text: &str) {
        if let Some(heap) = &mut self.heap {
            heap.extend(text.chars().map(|c| c.to_ascii_lowercase()));
            return;
        }
        let end = self.len + text.len();
        if end > self.stack.len() {
            let mut heap = String::with_capacity(end + 8);
            heap.push_str(self.as_str());
            heap.extend(text.chars().map(|c| c.to_ascii_lowercase()));
            self.heap = Some(heap);
            return;
        }
        for (slot, byte) in self.stack[self.len..end].iter_mut().zip(text.bytes()) {
            *slot = byte.to_ascii_lowercase();
        }
        self.len = end;
    }

    fn push_port(&mut self, port: u16) {
        let mut digits = [0u8; 5];
        let mut start = digits.len();
        let mut rest = port;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.push_lowercase(":");
        // Only ASCII digits were written.
        self.push_lowercase(std::str::from_utf8(&digits[start..]).unwrap_or_default());
    }

    fn as_str(&self) -> &str {
        // The buffer only ever receives whole UTF-8 sequences (ASCII lowercasing keeps them).
        std::str::from_utf8(&self.stack[..self.len]).unwrap_or_default()
    }

    fn into_arc(self) -> Arc<str> {
        match &self.heap {
            Some(heap) => Arc::from(heap.as_str()),
            None => Arc::from(self.as_str()),
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.text, &other.text) || (self.hash == other.hash && self.text == other.text)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

/// The per-process hasher for key text.
fn key_hasher() -> &'static RandomState {
    static HASHER: OnceLock<RandomState> = OnceLock::new();
    HASHER.get_or_init(RandomState::new)
}

/// A [`BuildHasher`] for maps keyed by [`Key`]: it passes the key's precomputed hash
/// through instead of hashing the text again.
///
/// Other types hashed with it are mixed with FNV-1a, so it stays correct (if not
/// DoS-resistant) for them.
///
/// ```
/// use std::collections::HashMap;
/// use volley_core::{Key, KeyHashBuilder};
///
/// let mut map: HashMap<Key, u32, KeyHashBuilder> = HashMap::default();
/// map.insert(Key::new("https://api.example.com"), 1);
/// assert_eq!(map.get(&Key::new("https://api.example.com")), Some(&1));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyHashBuilder;

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0xcbf2_9ce4_8422_2325)
    }
}

/// The hasher made by [`KeyHashBuilder`].
#[derive(Clone, Copy, Debug)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        // A key's hash is already well mixed: keep it as it is.
        self.0 ^= hash;
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
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
