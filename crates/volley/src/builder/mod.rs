use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use volley_breaker::BreakerLayer;
use volley_cookies::{CookieLayer, CookieProvider, Jar};
use volley_hedge::HedgeLayer;
use volley_limit::{Adaptive, ConcurrencyLimitLayer};
use volley_ratelimit::RateLimitLayer;
use volley_redirect::{Policy, RedirectLayer};
use volley_retry::{RetryLayer, RetryPolicy};

use volley_core::BoxError;
use volley_core::redact::SensitiveHeaders;

use crate::client::Settings;
use crate::error::Kind;
use crate::stack::{self, AttemptLayer, Layers, UserLayer};
use crate::uri;
use crate::{Client, Error, Limits};

mod hooks;
mod resilience;
mod transport;

pub use hooks::{AttemptBody, StackLayer};

use transport::TransportSettings;

/// The default for [`ClientBuilder::max_response_body`]: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 64 * 1024 * 1024;

/// Configures a [`Client`]. Every layer of the standard stack can be tuned or switched off.
///
/// | setting | default |
/// |---|---|
/// | total timeout (whole request, retries and body included) | 30 s |
/// | attempt timeout (one attempt, head and body) | 10 s |
/// | connect timeout (DNS, TCP and TLS together) | 5 s |
/// | response body read by `bytes`, `text`, `json` | at most 64 MiB (decoded bytes) |
/// | redirects | followed, at most 10; credentials removed across origins; https → http refused |
/// | decompression | gzip, deflate, br and zstd, with `Accept-Encoding` sent |
/// | retries | 3, full jitter 500 ms → 8 s, Retry-After honoured up to 60 s, budget 20 % + 10/s per host |
/// | concurrency | 100 requests in flight in all, no per-host limit |
/// | rate limit | none; pacing from quota headers off |
/// | circuit breaker, adaptive concurrency, hedging | off |
/// | TLS | rustls (ring) with the Mozilla roots of `webpki-roots`; verification always on |
/// | HTTP versions | HTTP/1.1 and HTTP/2, negotiated by ALPN |
/// | connection pool | idle connections closed after 90 s |
/// | dead connections | HTTP/2 ping every 30 s (also while idle), dead after 10 s without an answer; TCP keepalive probes after 30 s idle, every 10 s |
/// | credential headers | `Authorization`, `Cookie` and the rest of [`SENSITIVE_HEADERS`](volley_core::redact::SENSITIVE_HEADERS) marked sensitive and never printed |
/// | `User-Agent` | `volley/<version>` |
pub struct ClientBuilder {
    total_timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    retry: RetryPolicy,
    concurrency: Option<usize>,
    per_host: Option<usize>,
    rate: Option<(u32, Duration, u32)>,
    rate_limit_layer: Option<RateLimitLayer>,
    default_headers: HeaderMap,
    max_response_body: Option<u64>,
    transport: TransportSettings,
    sensitive: SensitiveHeaders,
    redirect: Policy,
    base_url: Option<url::Url>,
    allow_https_to_http: bool,
    block_private_redirects: bool,
    decompress: bool,
    cookies: Option<CookieLayer>,
    breaker: Option<BreakerLayer>,
    adaptive: Option<Adaptive>,
    hedge: Option<HedgeLayer>,
    pace_from_quota: bool,
    user_layers: Vec<UserLayer>,
    attempt_layers: Vec<AttemptLayer>,
    error: Option<Error>,
}

impl ClientBuilder {
    /// The default configuration (see the table above).
    pub fn new() -> Self {
        Self {
            total_timeout: Some(Duration::from_secs(30)),
            attempt_timeout: Some(Duration::from_secs(10)),
            retry: RetryPolicy::new(),
            concurrency: Some(100),
            per_host: None,
            rate: None,
            rate_limit_layer: None,
            default_headers: HeaderMap::new(),
            max_response_body: Some(DEFAULT_MAX_RESPONSE_BODY),
            transport: TransportSettings::default(),
            sensitive: SensitiveHeaders::new(),
            redirect: Policy::default(),
            base_url: None,
            allow_https_to_http: false,
            block_private_redirects: false,
            decompress: true,
            cookies: None,
            breaker: None,
            adaptive: None,
            hedge: None,
            pace_from_quota: false,
            user_layers: Vec::new(),
            attempt_layers: Vec::new(),
            error: None,
        }
    }

    /// The budget for a whole request — every attempt, the sleeps between them, and the
    /// response body; `None` for no limit. A request's own `.timeout(..)` replaces it.
    /// Defaults to 30 s.
    #[must_use]
    pub fn timeout(mut self, total: Option<Duration>) -> Self {
        self.total_timeout = total;
        self
    }

    /// The budget for one attempt, head and body, never beyond the total; `None` for no
    /// limit. Defaults to 10 s.
    #[must_use]
    pub fn attempt_timeout(mut self, attempt: Option<Duration>) -> Self {
        self.attempt_timeout = attempt;
        self
    }

    /// How many times to retry a failed attempt; 0 turns retrying off. Defaults to 3.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retry = self.retry.max_retries(retries);
        self
    }

    /// The whole retry policy (backoff, `max_retry_after`, budget, idempotency rules…).
    /// Defaults to [`RetryPolicy::new`].
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// At most this many requests in flight in all, counted until each response body
    /// ends; `None` for no global limit. Defaults to 100.
    #[must_use]
    pub fn concurrency(mut self, max: Option<usize>) -> Self {
        self.concurrency = max;
        self
    }

    /// At most this many requests in flight per host (scheme, host and port). Defaults to
    /// no per-host limit.
    #[must_use]
    pub fn per_host(mut self, max: usize) -> Self {
        self.per_host = Some(max);
        self
    }

    /// At most `n` attempts started per `per` for each host, with `burst` allowed at once
    /// (GCRA). A 429 or a `Retry-After` pauses that host. Defaults to no rate limit.
    #[must_use]
    pub fn rate_limit(mut self, n: u32, per: Duration, burst: u32) -> Self {
        self.rate = Some((n, per, burst));
        self.rate_limit_layer = None;
        self
    }

    /// A rate limiter configured in full, in place of [`rate_limit`](Self::rate_limit): a
    /// custom key, `max_wait`, `max_cooldown`, or a shared [`Backend`](volley_ratelimit::Backend)
    /// such as `volley_ratelimit_redis::RedisBackend`, so that many processes keep one quota:
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use volley_ratelimit::RateLimitLayer;
    /// use volley_ratelimit_redis::RedisBackend;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // GitHub's 5,000 requests an hour, shared by every worker of the fleet.
    /// let redis = RedisBackend::builder(5000, Duration::from_secs(3600))
    ///     .burst(50)
    ///     .build("redis://127.0.0.1:6379/0")?;
    /// let client = volley::Client::builder()
    ///     .rate_limit_layer(RateLimitLayer::new(5000, Duration::from_secs(3600)).backend(redis))
    ///     .build()?;
    /// # drop(client); Ok(()) }
    /// ```
    #[must_use]
    pub fn rate_limit_layer(mut self, layer: RateLimitLayer) -> Self {
        self.rate_limit_layer = Some(layer);
        self.rate = None;
        self
    }

    /// A header sent with every request that does not set it itself.
    #[must_use]
    pub fn default_header<V>(mut self, name: HeaderName, value: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<BoxError>,
    {
        match value.try_into() {
            Ok(value) => {
                self.default_headers.insert(name, value);
            }
            Err(err) => {
                self.fail(Kind::Request, format!("invalid value for header {name}: {}", err.into()))
            }
        }
        self
    }

    /// The `User-Agent` header. Defaults to `volley/<version>`.
    #[must_use]
    pub fn user_agent(self, agent: impl AsRef<str>) -> Self {
        let agent = agent.as_ref().to_owned();
        self.default_header(USER_AGENT, agent)
    }

    /// The most bytes [`Response::bytes`](crate::Response::bytes), `text` and `json` read
    /// into memory; `None` for no limit. A response that declares a larger
    /// `Content-Length` is refused before its body is read, and one that grows past the
    /// limit stops there; both fail with an error of kind
    /// [`Kind::BodyTooLarge`](crate::Kind::BodyTooLarge) that names the limit. Streaming
    /// reads (`chunk`, `bytes_stream`) are not limited. A request can set its own with
    /// [`RequestBuilder::max_response_body`](crate::RequestBuilder::max_response_body).
    /// Defaults to 64 MiB.
    #[must_use]
    pub fn max_response_body(mut self, limit: Option<u64>) -> Self {
        self.max_response_body = limit;
        self
    }

    /// A URL that relative request URLs are joined to, as aiohttp's `base_url`: with
    /// `https://api.example.com/v1`, `client.get("users/1")` asks for
    /// `https://api.example.com/v1/users/1` (a `/` is added to the base's path), while
    /// `"/health"` replaces the path and an absolute URL ignores the base. Defaults to none:
    /// request URLs must be absolute.
    #[must_use]
    pub fn base_url(mut self, base: impl AsRef<str>) -> Self {
        match uri::base_url(base.as_ref()) {
            Ok(url) => self.base_url = Some(url),
            Err(err) => self.keep_error(err),
        }
        self
    }

    /// Which redirects to follow ([`volley::redirect::Policy`](Policy)):
    /// [`Policy::limited(n)`](Policy::limited),
    /// [`Policy::none()`](Policy::none) (a 3xx comes back as it is), or
    /// [`Policy::custom`]. Whatever the policy, credentials never cross to another origin
    /// (see [`volley_redirect::RedirectLayer`]). Defaults to following at most 10.
    #[must_use]
    pub fn redirect(mut self, policy: Policy) -> Self {
        self.redirect = policy;
        self
    }

    /// Follows redirects from `https` to plain `http`. Defaults to `false`: such a redirect
    /// fails with an error of kind [`Kind::Redirect`](crate::Kind::Redirect).
    #[must_use]
    pub fn allow_https_to_http(mut self, allow: bool) -> Self {
        self.allow_https_to_http = allow;
        self
    }

    /// Refuses redirects from a public target to loopback, private and link-local
    /// addresses (cloud metadata services, admin ports), resolving names to check: for
    /// servers that fetch URLs their users give them. Defaults to `false`.
    #[must_use]
    pub fn block_private_redirects(mut self, block: bool) -> Self {
        self.block_private_redirects = block;
        self
    }

    /// Decodes gzip, deflate, br and zstd response bodies, asking for them with
    /// `Accept-Encoding` unless a request sets its own; `Content-Encoding` and
    /// `Content-Length` are removed from decoded responses. The response-body limit counts
    /// decoded bytes, so a decompression bomb stops there. Defaults to `true`.
    #[must_use]
    pub fn decompress(mut self, enabled: bool) -> Self {
        self.decompress = enabled;
        self
    }

    /// Keeps cookies in a jar of the client's own: `Set-Cookie` from every response
    /// (redirects included) is stored and sent back where it matches (RFC 6265 domain, path,
    /// Secure, expiry), as an aiohttp `ClientSession` does. Every clone of the client shares
    /// the jar, so use one client per user session; a client that serves many users should
    /// give each its own jar ([`cookie_provider`](Self::cookie_provider)) or none. Defaults
    /// to `false`: no cookies are kept.
    #[must_use]
    pub fn cookie_store(mut self, enabled: bool) -> Self {
        self.cookies = enabled.then(|| CookieLayer::new(Arc::new(Jar::new())));
        self
    }

    /// Keeps cookies in `jar` (a [`volley::cookies::Jar`](Jar) you can share, seed and
    /// inspect, or any [`CookieProvider`]). Defaults to none.
    #[must_use]
    pub fn cookie_provider<P: CookieProvider>(mut self, jar: Arc<P>) -> Self {
        self.cookies = Some(CookieLayer::new(jar));
        self
    }

    /// Treats one more header as a credential, like `Authorization`: its values are marked
    /// sensitive on every request and never printed by `Debug`, errors or the CLI.
    /// Defaults to [`SENSITIVE_HEADERS`](volley_core::redact::SENSITIVE_HEADERS) alone.
    #[must_use]
    pub fn sensitive_header(mut self, name: HeaderName) -> Self {
        self.sensitive = self.sensitive.with(name);
        self
    }

    fn fail(&mut self, kind: Kind, message: String) {
        self.keep_error(Error::with_kind(kind, message));
    }

    /// Keeps the first mistake, for [`build`](Self::build) to report.
    fn keep_error(&mut self, err: Error) {
        self.error.get_or_insert(err);
    }

    /// Builds the client, or explains which setting cannot work.
    pub fn build(self) -> Result<Client, Error> {
        let (layers, settings, transport) = self.into_parts()?;
        let proxies = transport.proxies()?;
        let connector = transport.connector(proxies.clone())?;
        let mut hyper = HyperClient::builder(TokioExecutor::new());
        hyper
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(transport.pool_idle_timeout)
            .pool_max_idle_per_host(transport.pool_max_idle_per_host)
            .http2_only(transport.http2_prior_knowledge);
        if let Some((interval, timeout)) = transport.http2_keep_alive {
            hyper
                .http2_keep_alive_interval(interval)
                .http2_keep_alive_timeout(timeout)
                .http2_keep_alive_while_idle(true);
        }
        let client = tower::ServiceExt::map_err(
            stack::hyper_transport(hyper.build(connector), proxies),
            BoxError::from,
        );
        Ok(Client::from_parts(stack::assemble(client, &layers), settings))
    }

    /// The layers and settings this builder describes, checked; the transport settings
    /// apart, for [`build`](Self::build).
    fn into_parts(self) -> Result<(Layers, Settings, TransportSettings), Error> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let config = |message: &str| Err(Error::with_kind(Kind::Config, message.to_owned()));
        if self.total_timeout.is_some_and(|d| d.is_zero()) {
            return config("the total timeout must not be zero (use None for no limit)");
        }
        if self.attempt_timeout.is_some_and(|d| d.is_zero()) {
            return config("the attempt timeout must not be zero (use None for no limit)");
        }
        if self.concurrency == Some(0) || self.per_host == Some(0) {
            return config("a concurrency limit of 0 would admit nothing; use at least 1");
        }
        if let Some((n, per, burst)) = self.rate
            && (n == 0 || per.is_zero() || burst == 0)
        {
            return config("a rate limit needs a rate, a period and a burst of at least 1");
        }
        let concurrency = match (self.concurrency, self.per_host) {
            (Some(global), Some(host)) => Some(ConcurrencyLimitLayer::new(global).per_key(host)),
            (Some(global), None) => Some(ConcurrencyLimitLayer::new(global)),
            (None, Some(host)) => Some(ConcurrencyLimitLayer::per_key_only(host)),
            (None, None) => None,
        };
        let concurrency = match self.adaptive {
            // The adaptive limit replaces the fixed per-host one (the 1 is never used).
            Some(adaptive) => Some(
                concurrency
                    .unwrap_or_else(|| ConcurrencyLimitLayer::per_key_only(1))
                    .adaptive(adaptive),
            ),
            None => concurrency,
        };
        let rate_limit = match self.rate {
            _ if self.rate_limit_layer.is_some() => self.rate_limit_layer,
            Some((n, per, burst)) => Some(
                RateLimitLayer::try_new(n, per, burst)
                    .map_err(|err| Error::with_kind(Kind::Config, err))?,
            ),
            // Pacing needs a limiter to wait in: one whose own rate never binds.
            None if self.pace_from_quota => Some(RateLimitLayer::unlimited()),
            None => None,
        };
        let rate_limit = match rate_limit {
            Some(layer) if self.pace_from_quota => Some(layer.pace_from_quota(true)),
            other => other,
        };
        let layers = Layers {
            retry: RetryLayer::new(self.retry),
            rate_limit,
            concurrency,
            attempt_timeout: self.attempt_timeout,
            redirect: (!self.redirect.is_none()).then(|| {
                RedirectLayer::with_policy(self.redirect.clone())
                    .sensitive_headers(self.sensitive.clone())
                    .allow_https_to_http(self.allow_https_to_http)
                    .block_private_redirects(self.block_private_redirects)
            }),
            decompress: self.decompress,
            cookies: self.cookies,
            breaker: self.breaker,
            hedge: self.hedge,
            user_layers: self.user_layers.into(),
            attempt_layers: self.attempt_layers.into(),
        };
        let mut default_headers = self.default_headers;
        self.sensitive.mark(&mut default_headers);
        let settings = Settings {
            total_timeout: self.total_timeout,
            default_headers,
            max_response_body: self.max_response_body,
            sensitive: self.sensitive,
            base_url: self.base_url,
            limits: Limits::of(&layers),
        };
        Ok((layers, settings, self.transport))
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("total_timeout", &self.total_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("connect_timeout", &self.transport.connect_timeout)
            .field("retry", &self.retry)
            .field("concurrency", &self.concurrency)
            .field("per_host", &self.per_host)
            .field("rate", &self.rate)
            .field("rate_limit_layer", &self.rate_limit_layer.is_some())
            .field("default_headers", &self.sensitive.redact(&self.default_headers))
            .field("max_response_body", &self.max_response_body)
            .field("http2_keep_alive", &self.transport.http2_keep_alive)
            .field("tcp_keepalive", &self.transport.tcp_keepalive)
            .field("proxy", &self.transport.proxy)
            .field("redirect", &self.redirect)
            .field("decompress", &self.decompress)
            .field("cookies", &self.cookies.is_some())
            .field("circuit_breaker", &self.breaker)
            .field("adaptive_concurrency", &self.adaptive)
            .field("hedge", &self.hedge)
            .field("pace_from_quota", &self.pace_from_quota)
            .field("extra_roots", &self.transport.tls.extra.len())
            .field("native_roots", &self.transport.tls.native)
            .field("identity", &self.transport.tls.identity)
            .field("min_tls_version", &self.transport.tls.min_version)
            .field("user_layers", &self.user_layers.len())
            .field("attempt_layers", &self.attempt_layers.len())
            .finish_non_exhaustive()
    }
}
