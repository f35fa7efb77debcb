use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;
use volley_core::redact::SensitiveHeaders;

use crate::follow::Config;
use crate::{FollowRedirect, Policy};

/// Follows redirects (301, 302, 303, 307, 308) for the service it wraps, safely.
///
/// Each hop is a new call of the inner service, so layers inside (retry, rate and
/// concurrency limits) treat it as a request of its own to its own host; the request's
/// extensions (its [`Deadline`](volley_core::Deadline)) travel with every hop, so a total
/// timeout outside covers them all.
///
/// - **Methods.** 301 and 302 turn a POST into a GET without a body, 303 turns anything
///   but HEAD into a GET, 307 and 308 resend the method and the body (a body that is a
///   stream cannot be resent: the 3xx comes back as it is, see
///   [`NotFollowed`](crate::NotFollowed)).
/// - **Credentials.** On a hop to another origin (scheme, host or port), `Authorization`,
///   `Proxy-Authorization`, `Cookie`, every header of
///   [`SENSITIVE_HEADERS`](volley_core::redact::SENSITIVE_HEADERS) or
///   [`sensitive_header`](Self::sensitive_header), every header marked sensitive, and an
///   explicit `Host` are removed, for the rest of the chain. No `Referer` is ever added.
/// - **Downgrades.** A hop from https to http fails with a
///   [`RedirectError`](crate::RedirectError) unless
///   [`allow_https_to_http`](Self::allow_https_to_http).
/// - **Private networks.** With [`block_private_redirects`](Self::block_private_redirects),
///   a hop to a loopback, private or link-local address fails when the first target was
///   public.
/// - **History.** The response's extensions carry [`Redirects`](crate::Redirects) (hops,
///   final URL) whenever a redirect was followed or a 3xx was handed back.
///
/// The settings are shared by all clones (one `Arc`); nothing is counted across requests.
#[derive(Clone, Debug)]
pub struct RedirectLayer {
    config: Config,
}

impl RedirectLayer {
    /// Follows up to 10 redirects ([`Policy::default`]).
    pub fn new() -> Self {
        Self::with_policy(Policy::default())
    }

    /// Follows the redirects `policy` allows.
    pub fn with_policy(policy: Policy) -> Self {
        Self {
            config: Config {
                policy,
                sensitive: SensitiveHeaders::new(),
                allow_https_to_http: false,
                block_private: false,
            },
        }
    }

    /// Also removes `name` on a cross-origin hop. Defaults to
    /// [`SENSITIVE_HEADERS`](volley_core::redact::SENSITIVE_HEADERS) and headers marked
    /// sensitive.
    #[must_use]
    pub fn sensitive_header(mut self, name: HeaderName) -> Self {
        self.config.sensitive = self.config.sensitive.with(name);
        self
    }

    /// The credential headers to remove on a cross-origin hop, replacing the set. Defaults
    /// to [`SensitiveHeaders::new`].
    #[must_use]
    pub fn sensitive_headers(mut self, sensitive: SensitiveHeaders) -> Self {
        self.config.sensitive = sensitive;
        self
    }

    /// Follows redirects from https to plain http (credentials are removed anyway, as the
    /// origin changes). Defaults to `false`: such a redirect fails.
    #[must_use]
    pub fn allow_https_to_http(mut self, allow: bool) -> Self {
        self.config.allow_https_to_http = allow;
        self
    }

    /// Refuses hops to loopback, private (RFC 1918, unique-local), link-local (cloud
    /// metadata at 169.254.169.254), carrier-grade NAT and unspecified addresses when the
    /// first target was not one, resolving host names to check them. Names are resolved
    /// again when connecting, so a DNS server that changes its answer in between is not
    /// caught; pin addresses in the connector for that. Defaults to `false`.
    #[must_use]
    pub fn block_private_redirects(mut self, block: bool) -> Self {
        self.config.block_private = block;
        self
    }
}

impl Default for RedirectLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Config {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
            sensitive: self.sensitive.clone(),
            allow_https_to_http: self.allow_https_to_http,
            block_private: self.block_private,
        }
    }
}

impl<S: Clone> Layer<S> for RedirectLayer {
    type Service = FollowRedirect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FollowRedirect::new(inner, Arc::new(self.config.clone()))
    }
}
