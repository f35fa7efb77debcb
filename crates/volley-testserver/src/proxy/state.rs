//! What the proxy saw and carried: counters, the record of request heads, and the
//! credentials it asks for.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Method};

use crate::counters::lock;

/// How many request heads the record keeps (the newest).
const RECORD_LIMIT: usize = 10_000;

/// How a request reached the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyKind {
    /// An HTTP request in absolute form (`GET http://host:port/path HTTP/1.1`).
    Forward,
    /// An HTTP `CONNECT host:port` request.
    Connect,
    /// A SOCKS5 `CONNECT` request.
    Socks5,
}

/// One request as it reached the proxy; see [`ProxyServer::seen`](super::ProxyServer::seen).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxySeen {
    /// How the request came.
    pub kind: ProxyKind,
    /// The HTTP method; `CONNECT` for [`ProxyKind::Socks5`].
    pub method: Method,
    /// The target as sent: the absolute URI of a forwarded request
    /// (`http://127.0.0.1:8080/get`), `host:port` for `CONNECT` and SOCKS5
    /// (`example.test:443`, `[::1]:80`).
    pub target: String,
    /// The target's host as the client sent it, without IPv6 brackets: a name here
    /// for SOCKS5 means the client left the lookup to the proxy (`socks5h`).
    pub host: String,
    /// The target's port (80 when an absolute URI has none).
    pub port: u16,
    /// Every request header, in arrival order; empty for SOCKS5.
    pub headers: HeaderMap,
    /// The user name the client offered: from `Proxy-Authorization: Basic`, or from
    /// SOCKS5 username/password authentication. Recorded whether or not it was right.
    pub user: Option<String>,
}

impl ProxySeen {
    /// Header `name` as a string, if present and visible ASCII (the first one if
    /// repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// The user name and password the proxy requires.
#[derive(Debug)]
pub(crate) struct Credentials {
    user: String,
    pass: String,
}

impl Credentials {
    pub(crate) fn new(user: &str, pass: &str) -> Self {
        Self { user: user.to_owned(), pass: pass.to_owned() }
    }

    pub(crate) fn matches(&self, user: &[u8], pass: &[u8]) -> bool {
        self.user.as_bytes() == user && self.pass.as_bytes() == pass
    }
}

/// The user and password of a `Proxy-Authorization: Basic …` value.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::PROXY_AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// Everything the proxy's connections share.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) auth: Option<Credentials>,
    pub(crate) connections: AtomicU64,
    pub(crate) forwarded: AtomicU64,
    pub(crate) tunnels: AtomicU64,
    pub(crate) socks: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) upstream_connects: AtomicU64,
    pub(crate) upstream_errors: AtomicU64,
    seen: Mutex<VecDeque<ProxySeen>>,
}

impl State {
    pub(crate) fn new(auth: Option<Credentials>) -> Self {
        Self { auth, ..Self::default() }
    }

    /// Whether `headers` carry the credentials the proxy requires (always, if none).
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(auth) = &self.auth else { return true };
        basic_credentials(headers)
            .is_some_and(|(user, pass)| auth.matches(user.as_bytes(), pass.as_bytes()))
    }

    pub(crate) fn record(&self, seen: ProxySeen) {
        let mut record = lock(&self.seen);
        if record.len() >= RECORD_LIMIT {
            record.pop_front();
        }
        record.push_back(seen);
    }

    pub(crate) fn seen(&self) -> Vec<ProxySeen> {
        lock(&self.seen).iter().cloned().collect()
    }

    pub(crate) fn reset(&self) {
        for counter in [
            &self.connections,
            &self.forwarded,
            &self.tunnels,
            &self.socks,
            &self.refused,
            &self.auth_failures,
            &self.upstream_connects,
            &self.upstream_errors,
        ] {
            counter.store(0, Relaxed);
        }
        lock(&self.seen).clear();
    }
}

/// Adds one to `counter`.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}
