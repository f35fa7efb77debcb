//! One hop: from a 3xx response and what was kept of the request, the next request (or why
//! there is none). RFC 9110 §15.4 for the methods, RFC 3986 §5 for `Location`.

use std::sync::Arc;

use http::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, TRANSFER_ENCODING,
};
use http::{Extensions, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use volley_core::Deadline;
use volley_core::redact::SensitiveHeaders;

use crate::guard::{self, Verdict};
use crate::policy::{Attempt, Decision};
use crate::{
    Hop, NotFollowed, Policy, RedirectError, RedirectErrorKind, Redirects, ReplayableBody,
};

/// A `Location` longer than this is not followed.
const MAX_LOCATION_LEN: usize = 8 * 1024;

/// The layer's settings, shared by every clone.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) policy: Policy,
    pub(crate) sensitive: SensitiveHeaders,
    pub(crate) allow_https_to_http: bool,
    pub(crate) block_private: bool,
}

/// What was kept of the request to build the next hop.
#[derive(Debug)]
pub(crate) struct Next<B> {
    pub(crate) config: Arc<Config>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: KeptExtensions,
    /// A copy of the body to resend on 307/308; `None` when it is a stream.
    body: Option<B>,
    hops: Vec<Hop>,
    /// Whether the private-address guard applies (the first target was public); known
    /// once the first redirect asks.
    guard_applies: Option<bool>,
}

/// The request's extensions, kept for the next hop. Most requests carry nothing but their
/// `Deadline`, and a `Deadline` is a copy, where a clone of `Extensions` is a map and a box
/// to make now and free later; a request that is never redirected pays for neither.
#[derive(Debug)]
enum KeptExtensions {
    Deadline(Option<Deadline>),
    All(Extensions),
}

impl KeptExtensions {
    fn keep(extensions: &Extensions) -> Self {
        let deadline = extensions.get::<Deadline>().copied();
        match (extensions.len(), deadline) {
            (0, _) | (1, Some(_)) => Self::Deadline(deadline),
            _ => Self::All(extensions.clone()),
        }
    }

    fn deadline(&self) -> Option<Deadline> {
        match self {
            Self::Deadline(deadline) => *deadline,
            Self::All(extensions) => extensions.get::<Deadline>().copied(),
        }
    }

    fn to_extensions(&self) -> Extensions {
        match self {
            Self::Deadline(deadline) => {
                let mut extensions = Extensions::new();
                if let Some(deadline) = deadline {
                    extensions.insert(*deadline);
                }
                extensions
            }
            Self::All(extensions) => extensions.clone(),
        }
    }
}

pub(crate) enum Plan<B> {
    Return(Option<NotFollowed>),
    Follow(Request<B>),
    Fail(RedirectError),
}

pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

impl<B: ReplayableBody + Default> Next<B> {
    pub(crate) fn keep(req: &Request<B>, config: Arc<Config>) -> Self {
        Self {
            config,
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers: req.headers().clone(),
            extensions: KeptExtensions::keep(req.extensions()),
            body: req.body().try_clone(),
            hops: Vec::new(),
            guard_applies: None,
        }
    }

    /// The request for the redirect in `res`, or why it is not followed.
    pub(crate) fn plan<R>(&mut self, res: &Response<R>) -> Plan<B> {
        let status = res.status();
        let Some(location) = location(res.headers(), &self.uri) else {
            return Plan::Return(Some(NotFollowed::InvalidLocation));
        };
        let (method, body) = match status.as_u16() {
            // Browsers, curl -L and reqwest turn a POST into a GET on 301 and 302.
            301 | 302 if self.method == Method::POST => (Method::GET, Some(B::default())),
            303 if self.method == Method::HEAD => (Method::HEAD, Some(B::default())),
            303 => (Method::GET, Some(B::default())),
            _ => (self.method.clone(), self.body.as_ref().and_then(B::try_clone)),
        };
        let Some(body) = body else { return Plan::Return(Some(NotFollowed::BodyNotReplayable)) };
        let attempt = Attempt { status, next: &location, previous: &self.hops };
        let refused = match self.config.policy.decide(attempt).0 {
            Decision::Follow => None,
            Decision::Stop => return Plan::Return(Some(NotFollowed::Policy)),
            Decision::Error(err) => Some(RedirectErrorKind::Policy(err)),
            Decision::TooMany(limit) => Some(RedirectErrorKind::TooManyRedirects { limit }),
        };
        let downgrade =
            self.uri.scheme_str() == Some("https") && location.scheme_str() == Some("http");
        let refused = refused.or((downgrade && !self.config.allow_https_to_http)
            .then_some(RedirectErrorKind::InsecureRedirect));
        self.hops.push(Hop { url: self.uri.clone(), status });
        if let Some(kind) = refused {
            return Plan::Fail(RedirectError::new(kind, self.hops.clone(), location));
        }
        if method != self.method {
            for payload in [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING, TRANSFER_ENCODING] {
                self.headers.remove(payload);
            }
            self.method = method;
            self.body = Some(B::default());
        }
        if !same_origin(&self.uri, &location) {
            // Stripped for good: a later hop back to the first origin does not get them back.
            self.config.sensitive.strip(&mut self.headers);
            self.headers.remove(HOST);
        }
        self.uri = location;
        let mut req = Request::new(body);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers.clone();
        *req.extensions_mut() = self.extensions.to_extensions();
        Plan::Follow(req)
    }

    /// The guard's verdict on the request about to be sent, when the guard is on.
    pub(crate) async fn check_guard(&mut self) -> Result<(), RedirectError> {
        if !self.config.block_private {
            return Ok(());
        }
        let deadline = self.extensions.deadline();
        let applies = match self.guard_applies {
            Some(applies) => applies,
            None => {
                let first = self.hops.first().map_or(&self.uri, |hop| &hop.url);
                // A first target that is private may redirect within private networks.
                let applies = !matches!(guard::judge(first, deadline).await, Verdict::Private(_));
                *self.guard_applies.insert(applies)
            }
        };
        if !applies {
            return Ok(());
        }
        let kind = match guard::judge(&self.uri, deadline).await {
            Verdict::Public => return Ok(()),
            Verdict::Private(addr) => RedirectErrorKind::PrivateAddress { addr },
            // Fail closed: a name the guard cannot resolve is not followed.
            Verdict::Unresolved => RedirectErrorKind::Unresolved,
        };
        Err(RedirectError::new(kind, self.hops.clone(), self.uri.clone()))
    }

    /// `res` with the history in its extensions, when there is any to tell.
    pub(crate) fn finish<R>(
        self,
        mut res: Response<R>,
        not_followed: Option<NotFollowed>,
    ) -> Response<R> {
        if !self.hops.is_empty() || not_followed.is_some() {
            res.extensions_mut().insert(Redirects { hops: self.hops, url: self.uri, not_followed });
        }
        res
    }
}

/// `Location` resolved against the URL that answered, if it is a usable http(s) URL.
fn location(headers: &HeaderMap, base: &Uri) -> Option<Uri> {
    let value = headers.get(LOCATION)?;
    if value.len() > MAX_LOCATION_LEN {
        return None;
    }
    let value = std::str::from_utf8(value.as_bytes()).ok()?;
    let base = url::Url::parse(&base.to_string()).ok()?;
    let next = base.join(value.trim()).ok()?;
    if !matches!(next.scheme(), "http" | "https") || next.host_str().is_none() {
        return None;
    }
    // Userinfo in a Location would hand credentials to whoever the server names.
    if !next.username().is_empty() || next.password().is_some() {
        return None;
    }
    let mut next = next;
    next.set_fragment(None);
    next.as_str().parse().ok()
}

/// Same scheme, host and port (the port the scheme implies when none is written).
fn same_origin(a: &Uri, b: &Uri) -> bool {
    fn port(uri: &Uri) -> Option<u16> {
        uri.port_u16().or(match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        })
    }
    a.scheme() == b.scheme()
        && a.host().map(str::to_ascii_lowercase) == b.host().map(str::to_ascii_lowercase)
        && port(a) == port(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn resolve(location: &str, base: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, HeaderValue::from_str(location).unwrap());
        super::location(&headers, &base.parse().unwrap()).map(|uri| uri.to_string())
    }

    #[test]
    fn locations_resolve_against_the_url_that_answered() {
        let base = "http://a.test:8080/x/y?q=1";
        assert_eq!(resolve("/z", base).as_deref(), Some("http://a.test:8080/z"));
        assert_eq!(resolve("z?k=v", base).as_deref(), Some("http://a.test:8080/x/z?k=v"));
        assert_eq!(resolve("//b.test/p", base).as_deref(), Some("http://b.test/p"));
        assert_eq!(
            resolve("https://c.test/a b#frag", base).as_deref(),
            Some("https://c.test/a%20b")
        );
        assert_eq!(resolve("ftp://c.test/", base), None);
        assert_eq!(resolve("http://user:pw@c.test/", base), None);
        assert_eq!(resolve(&format!("/{}", "a".repeat(MAX_LOCATION_LEN)), base), None);
    }

    #[test]
    fn origins() {
        let same = |a: &str, b: &str| same_origin(&a.parse().unwrap(), &b.parse().unwrap());
        assert!(same("http://h/a", "http://H:80/b"));
        assert!(!same("http://h/", "https://h/"));
        assert!(!same("http://h:1/", "http://h:2/"));
        assert!(!same("http://h/", "http://g/"));
    }
}
