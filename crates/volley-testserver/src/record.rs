//! The record of request heads: [`SeenRequest`] and the bounded ring that keeps them.
//!
//! Hot-path cost while recording: one copy of the head (method, target and each header
//! value, copied so the record does not pin hyper's read buffers) and one short `Mutex`
//! hold; a second hold only for a request with a body, to note its length. With the
//! limit at 0 the cost is one relaxed atomic load.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use http::header::HeaderValue;
use http::request::Parts;
use http::{HeaderMap, Method, Version};

use crate::counters::lock;

/// How many requests the record keeps by default.
pub(crate) const DEFAULT_LIMIT: usize = 10_000;

/// One request head as it reached the server; see [`crate::TestServer::requests`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SeenRequest {
    /// The request method.
    pub method: Method,
    /// The HTTP version the request came in.
    pub version: Version,
    /// The path and query as sent, before percent-decoding (`"/get?a=1"`).
    pub path_and_query: String,
    /// Every request header, repeated ones included, in arrival order. HTTP/2's
    /// pseudo-headers are not headers: the authority is in `host` only when the client
    /// sent one.
    pub headers: HeaderMap,
    /// The request body's length in bytes, noted once the server has read the body
    /// (0 until then; for a body the server gave up on, what it had read).
    pub body_len: u64,
}

impl SeenRequest {
    /// The path without the query (`"/get"`).
    pub fn path(&self) -> &str {
        self.path_and_query.split_once('?').map_or(&self.path_and_query, |(path, _)| path)
    }

    /// Header `name` as a string, if present and visible ASCII (the first one if
    /// repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn from_parts(parts: &Parts) -> Self {
        let uri = &parts.uri;
        let path_and_query = uri.path_and_query().map_or_else(|| uri.path(), |p| p.as_str());
        let mut headers = HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            // A fresh copy: hyper's values share the connection's read buffer.
            if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
                copy.set_sensitive(value.is_sensitive());
                headers.append(name.clone(), copy);
            }
        }
        Self {
            method: parts.method.clone(),
            version: parts.version,
            path_and_query: path_and_query.to_owned(),
            headers,
            body_len: 0,
        }
    }
}

/// The last requests, oldest first, each with a sequence number.
#[derive(Debug, Default)]
struct Ring {
    /// The sequence number the next request gets.
    next: u64,
    items: VecDeque<SeenRequest>,
}

/// The bounded record of request heads.
#[derive(Debug)]
pub(crate) struct Recorder {
    limit: AtomicUsize,
    ring: Mutex<Ring>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self { limit: AtomicUsize::new(DEFAULT_LIMIT), ring: Mutex::default() }
    }
}

impl Recorder {
    /// Records a request head; the sequence number lets [`Self::body_len`] find it.
    pub(crate) fn record(&self, parts: &Parts) -> Option<u64> {
        let limit = self.limit.load(Relaxed);
        if limit == 0 {
            return None;
        }
        let seen = SeenRequest::from_parts(parts);
        let mut ring = lock(&self.ring);
        while ring.items.len() >= limit {
            ring.items.pop_front();
        }
        ring.items.push_back(seen);
        let seq = ring.next;
        ring.next += 1;
        Some(seq)
    }

    /// Notes the body length of request `seq`, if it is still kept.
    pub(crate) fn body_len(&self, seq: Option<u64>, len: u64) {
        let Some(seq) = seq else { return };
        let mut ring = lock(&self.ring);
        let first = ring.next - ring.items.len() as u64;
        let index = seq.checked_sub(first).and_then(|i| usize::try_from(i).ok());
        if let Some(seen) = index.and_then(|i| ring.items.get_mut(i)) {
            seen.body_len = len;
        }
    }

    /// Every kept request, oldest first, that `keep` accepts.
    pub(crate) fn matching(&self, keep: impl Fn(&SeenRequest) -> bool) -> Vec<SeenRequest> {
        lock(&self.ring).items.iter().filter(|seen| keep(seen)).cloned().collect()
    }

    /// The newest kept request that `keep` accepts.
    pub(crate) fn last(&self, keep: impl Fn(&SeenRequest) -> bool) -> Option<SeenRequest> {
        lock(&self.ring).items.iter().rev().find(|seen| keep(seen)).cloned()
    }

    /// Keeps at most `limit` requests from now on, dropping the oldest beyond it.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Relaxed);
        let mut ring = lock(&self.ring);
        while ring.items.len() > limit {
            ring.items.pop_front();
        }
    }

    /// Forgets every kept request.
    pub(crate) fn clear(&self) {
        // Sequence numbers keep counting, so a late `body_len` finds nothing.
        lock(&self.ring).items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Recorder;
    use http::Request;

    fn parts(path: &str) -> http::request::Parts {
        Request::get(path).header("x-n", path).body(()).map(|r| r.into_parts().0).unwrap()
    }

    #[test]
    fn keeps_the_newest_and_finds_bodies_by_sequence() {
        let recorder = Recorder::default();
        recorder.set_limit(2);
        let a = recorder.record(&parts("/a"));
        let b = recorder.record(&parts("/b?q=1"));
        let c = recorder.record(&parts("/c"));
        assert_eq!((a, b, c), (Some(0), Some(1), Some(2)));
        recorder.body_len(a, 5); // dropped: no effect
        recorder.body_len(b, 7);
        let kept = recorder.matching(|_| true);
        let paths: Vec<_> = kept.iter().map(|s| s.path_and_query.as_str()).collect();
        assert_eq!(paths, ["/b?q=1", "/c"]);
        assert_eq!(kept[0].body_len, 7);
        assert_eq!(kept[0].path(), "/b");
        assert_eq!(kept[1].header("x-n"), Some("/c"));

        recorder.set_limit(0);
        assert!(recorder.matching(|_| true).is_empty());
        assert_eq!(recorder.record(&parts("/d")), None);
    }
}
