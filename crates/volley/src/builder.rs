use std::fmt;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;
use tower::Layer;
use tower_service::Service;
use volley_core::BoxError;
use volley_limit::ConcurrencyLimitLayer;
use volley_ratelimit::RateLimitLayer;
use volley_retry::RetryPolicy;

use crate::error::Kind;
use crate::stack::{self, Layers, Outer};
use crate::tls::{self, Roots};
use crate::{Body, Client, Error};

/// Configures a [`Client`]. Every layer of the standard stack can be tuned or switched off.
///
/// | setting | default |
/// |---|---|
/// | total timeout (whole request, retries and body included) | 30 s |
/// | attempt timeout (one attempt, head and body) | 10 s |
/// | connect timeout | 5 s |
/// | retries | 3, full jitter 500 ms → 8 s, Retry-After honoured up to 60 s, budget 20 % + 10/s per host |
/// | concurrency | 100 requests in flight in all, no per-host limit |
/// | rate limit | none |
/// | TLS | rustls (ring) with the Mozilla roots of `webpki-roots`; verification always on |
/// | HTTP versions | HTTP/1.1 and HTTP/2, negotiated by ALPN |
/// | connection pool | idle connections closed after 90 s |
/// | `User-Agent` | `volley/<version>` |
pub struct ClientBuilder {
    total_timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: RetryPolicy,
    concurrency: Option<usize>,
    per_host: Option<usize>,
    rate: Option<(u32, Duration, u32)>,
    default_headers: HeaderMap,
    extra_roots: Vec<CertificateDer<'static>>,
    native_roots: bool,
    webpki_roots: bool,
    pool_idle_timeout: Option<Duration>,
    user_layers: Vec<Box<dyn Fn(Outer) -> Outer + Send + Sync>>,
    error: Option<Error>,
}

impl ClientBuilder {
    /// The default configuration (see the table above).
    pub fn new() -> Self {
        Self {
            total_timeout: Some(Duration::from_secs(30)),
            attempt_timeout: Some(Duration::from_secs(10)),
            connect_timeout: Some(Duration::from_secs(5)),
            retry: RetryPolicy::new(),
            concurrency: Some(100),
            per_host: None,
            rate: None,
            default_headers: HeaderMap::new(),
            extra_roots: Vec::new(),
            native_roots: false,
            webpki_roots: true,
            pool_idle_timeout: Some(Duration::from_secs(90)),
            user_layers: Vec::new(),
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

    /// How long to wait for a connection (DNS, TCP, TLS); `None` for no limit. Defaults to
    /// 5 s.
    #[must_use]
    pub fn connect_timeout(mut self, connect: Option<Duration>) -> Self {
        self.connect_timeout = connect;
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

    /// Trusts one more root certificate (DER), such as a private CA or a test server's
    /// self-signed certificate. Verification itself cannot be turned off.
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(CertificateDer::from(der.into()));
        self
    }

    /// Also trusts the operating system's root store. Defaults to `false`.
    #[must_use]
    pub fn native_roots(mut self, enabled: bool) -> Self {
        self.native_roots = enabled;
        self
    }

    /// Trusts the Mozilla root store bundled by `webpki-roots`. Defaults to `true`; turn it
    /// off to trust only the roots you add.
    #[must_use]
    pub fn webpki_roots(mut self, enabled: bool) -> Self {
        self.webpki_roots = enabled;
        self
    }

    /// How long an idle pooled connection is kept; `None` keeps it forever. Defaults to
    /// 90 s.
    #[must_use]
    pub fn pool_idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.pool_idle_timeout = idle;
        self
    }

    /// Wraps a layer of your own (tower-http redirects, decompression, tracing…) around the
    /// retry layer, inside the total timeout: each redirect hop is retried on its own and
    /// paced by the limits, and the total timeout covers every hop. Layers added first are
    /// outermost.
    #[must_use]
    pub fn layer<L, B>(mut self, layer: L) -> Self
    where
        L: Layer<Outer> + Send + Sync + 'static,
        L::Service: Service<http::Request<Body>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<http::Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<http::Request<Body>>>::Error: Into<BoxError>,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.user_layers.push(Box::new(move |inner| stack::erase(layer.layer(inner))));
        self
    }

    fn fail(&mut self, kind: Kind, message: String) {
        self.error.get_or_insert(Error::with_kind(kind, message));
    }

    /// Builds the client, or explains which setting cannot work.
    pub fn build(self) -> Result<Client, Error> {
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
        let roots = Roots {
            webpki: self.webpki_roots,
            native: self.native_roots,
            extra: &self.extra_roots,
        };
        let connector = tls::connector(self.connect_timeout, &roots)?;
        let mut hyper = HyperClient::builder(TokioExecutor::new());
        hyper
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(self.pool_idle_timeout);
        let transport = hyper.build(connector);

        let concurrency = match (self.concurrency, self.per_host) {
            (Some(global), Some(host)) => Some(ConcurrencyLimitLayer::new(global).per_key(host)),
            (Some(global), None) => Some(ConcurrencyLimitLayer::new(global)),
            (None, Some(host)) => Some(ConcurrencyLimitLayer::per_key_only(host)),
            (None, None) => None,
        };
        let rate_limit = self.rate.map(|(n, per, burst)| RateLimitLayer::new(n, per).burst(burst));
        let layers = Layers {
            retry: self.retry,
            rate_limit,
            concurrency,
            attempt_timeout: self.attempt_timeout,
            user_layers: self.user_layers,
        };
        Ok(Client::from_parts(
            stack::assemble(transport, layers),
            self.total_timeout,
            self.default_headers,
        ))
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
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("concurrency", &self.concurrency)
            .field("per_host", &self.per_host)
            .field("rate", &self.rate)
            .field("default_headers", &self.default_headers)
            .field("extra_roots", &self.extra_roots.len())
            .field("native_roots", &self.native_roots)
            .field("user_layers", &self.user_layers.len())
            .finish_non_exhaustive()
    }
}
