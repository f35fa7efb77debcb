use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use volley_classify::{Classify, HintParser, HttpClassifier};
use volley_core::{ByAuthority, Key, KeyFn};

use crate::RateLimit;
use crate::shared::{Config, Rate, Shared};

/// Applies a keyed GCRA rate limit to every attempt: `n` per `per` sustained, `burst` at
/// once, per host by default, slowed down by the server's 429s. See the [crate docs](crate).
///
/// The limiter state is created with the layer: every clone of the layer, and every service
/// it makes, shares it. Each builder method returns a layer with fresh state (a custom
/// [`backend`](Self::backend) is the caller's, and is kept as it is).
///
/// # Panics
///
/// Zero rates, periods and bursts are refused with a panic when the layer is built
/// ([`per_second`](Self::per_second), [`new`](Self::new), [`burst`](Self::burst)), like
/// `tower::limit::RateLimitLayer`: they are programming errors, not runtime conditions.
#[derive(Clone)]
pub struct RateLimitLayer<C = HttpClassifier> {
    shared: Arc<Shared<C>>,
}

impl RateLimitLayer {
    /// `n` requests per second per key, one at a time (burst 1).
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn per_second(n: u32) -> Self {
        Self::new(n, Duration::from_secs(1))
    }

    /// `n` requests per `per` per key, evenly spaced (burst 1): never more than `n` in any
    /// window of length `per`.
    ///
    /// # Panics
    ///
    /// If `n` is zero or `per` is zero.
    pub fn new(n: u32, per: Duration) -> Self {
        assert!(n > 0, "rate limit of 0 per {per:?}: the rate must be at least 1");
        assert!(!per.is_zero(), "rate limit of {n} per 0s: the period must not be zero");
        let config = Config {
            custom: None,
            rate: Rate { n, per, burst: 1 },
            key_fn: Some(Arc::new(ByAuthority)),
            global_key: Key::new("*"),
            max_wait: None,
            classifier: HttpClassifier::new(),
            hints: HintParser::new(),
            feedback: true,
        };
        Self { shared: config.build() }
    }
}

impl<C: Classify> RateLimitLayer<C> {
    fn with(&self, change: impl FnOnce(&mut Config<C>)) -> Self {
        let mut config = self.shared.config.clone();
        change(&mut config);
        Self { shared: config.build() }
    }

    /// How many requests may go at once after a quiet period. With burst `b` and rate `n`
    /// per `per`, a window of length `per` sees at most `b + n - 1` requests; the default of
    /// 1 keeps every window at `n` or fewer, which is what a server counting `n` per window
    /// accepts whatever its window alignment. Raise it to let idle clients catch up.
    ///
    /// Defaults to 1.
    ///
    /// # Panics
    ///
    /// If `burst` is zero.
    #[must_use]
    pub fn burst(self, burst: u32) -> Self {
        assert!(burst > 0, "rate limit burst of 0: the burst must be at least 1");
        self.with(|s| s.rate.burst = burst)
    }

    /// Partitions requests with `key_fn`: one bucket and one cooldown per key (per tenant,
    /// per API token…).
    ///
    /// Defaults to [`ByAuthority`] (scheme, host and port of the request URI).
    #[must_use]
    pub fn key_fn(self, key_fn: impl KeyFn) -> Self {
        self.with(|s| s.key_fn = Some(Arc::new(key_fn)))
    }

    /// One bucket and one cooldown for all requests, whatever their host. No key is computed
    /// per request (a 429 from any host pauses every request). For one shared rate with
    /// per-host cooldowns, use [`GovernorBackend::global`](crate::GovernorBackend::global)
    /// as the [`backend`](Self::backend) instead.
    ///
    /// Defaults to per key ([`key_fn`](Self::key_fn)).
    #[must_use]
    pub fn global(self) -> Self {
        self.with(|s| s.key_fn = None)
    }

    /// The longest a request waits for its token or a cooldown; a longer wait fails at once
    /// with [`RateLimited`](crate::RateLimited). `Duration::ZERO` never waits. The request's
    /// [`Deadline`](volley_core::Deadline), if any, always bounds the wait too.
    ///
    /// Defaults to no limit but the deadline.
    #[must_use]
    pub fn max_wait(self, max_wait: Duration) -> Self {
        self.with(|s| s.max_wait = Some(max_wait))
    }

    /// Classifies responses for feedback: an [`Outcome::Throttled`] with a hint cools the
    /// key down for the hinted delay.
    ///
    /// Defaults to [`HttpClassifier`] (429, and 503 with a hint, are throttled).
    ///
    /// [`Outcome::Throttled`]: volley_classify::Outcome::Throttled
    #[must_use]
    pub fn classifier<C2: Classify>(self, classifier: C2) -> RateLimitLayer<C2> {
        let s = self.shared.config.clone();
        let config = Config {
            custom: s.custom,
            rate: s.rate,
            key_fn: s.key_fn,
            global_key: s.global_key,
            max_wait: s.max_wait,
            classifier,
            hints: s.hints,
            feedback: s.feedback,
        };
        RateLimitLayer { shared: config.build() }
    }

    /// Reads quota headers (`RateLimit`, `X-RateLimit-*`) with this parser: a response
    /// reporting 0 remaining with a reset cools the key down until the reset.
    ///
    /// Defaults to [`HintParser::new`].
    #[must_use]
    pub fn hint_parser(self, hints: HintParser) -> Self {
        self.with(|s| s.hints = hints)
    }

    /// Ignores what responses say: no cooldowns, only the configured rate.
    ///
    /// Defaults to feedback on.
    #[must_use]
    pub fn no_feedback(self) -> Self {
        self.with(|s| s.feedback = false)
    }

    /// Keeps the limiter state in `backend` instead of this process's
    /// [`GovernorBackend`](crate::GovernorBackend); the rate and burst of this builder then
    /// do not apply (the backend has its own).
    ///
    /// Defaults to a [`GovernorBackend`](crate::GovernorBackend) of this rate and burst,
    /// keyed or global as configured.
    #[must_use]
    pub fn backend(self, backend: impl crate::Backend) -> Self {
        self.with(|s| s.custom = Some(Arc::new(backend)))
    }

    /// How many keys the backend holds state for (1 in global mode).
    pub fn tracked_keys(&self) -> usize {
        self.shared.backend.tracked_keys()
    }

    /// The time left of `key`'s cooldown, if the server asked to slow down for it (in
    /// global mode `key` is ignored: there is one cooldown).
    pub fn cooldown_remaining(&self, key: &Key) -> Option<Duration> {
        self.shared.backend.cooldown_remaining(self.shared.lookup_key(key))
    }
}

impl<S, C> Layer<S> for RateLimitLayer<C> {
    type Service = RateLimit<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.shared.clone())
    }
}

impl<C: fmt::Debug> fmt::Debug for RateLimitLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer").field("shared", &self.shared).finish()
    }
}
