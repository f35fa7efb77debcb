use std::cell::RefCell;
use std::sync::Arc;

use http::Uri;

use super::Key;

impl Key {
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

    pub(super) fn origin(scheme: Option<&str>, host: &str, port: Option<u16>) -> Self {
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
