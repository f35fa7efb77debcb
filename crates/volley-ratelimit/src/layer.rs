use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use volley_classify::{Classify, HintParser, HttpClassifier};
use volley_core::{ByAuthority, Key, KeyFn};

use crate::shared::{Config, DEFAULT_MAX_COOLDOWN, Rate, Shared};
use crate::{ConfigError, RateLimit};

/// Applies a keyed GCRA rate limit to every attempt: `n` per `per` sustained, `burst` at
/// once, per host by default, slowed down by the server's 429s. See the [crate docs](crate).
///
/// The limiter state is created with the layer: every clone of the layer, and every service
/// it makes, shares it. Each builder method returns a layer with fresh state (a custom
/// [`backend`](Self::backend) is the caller's, and is kept as it is).
///
/// # Panics
///
/// A rate, period and burst that cannot make a limiter (see [`try_new`](Self::try_new))
/// panic when the layer is built ([`per_second`](Self::per_second), [`new`](Self::new),
/// [`burst`](Self::burst)), like `tower::limit::RateLimitLayer`. Use
/// [`try_new`](Self::try_new) for a rate that comes from configuration.
#[derive(Clone)]
pub struct RateLimitLayer<C = HttpClassifier> {
    shared: Arc<Shared<C>>,
}

impl RateLimitLayer {
    /// `n` requests per second per key, one at a time (burst 1).
    ///
    /// # Panics
    ///
    /// If `n` is zero or above 10⁹ (see [`try_new`](Self::try_new)).
    pub fn per_second(n: u32) -> Self {
        Self::new(n, Duration::from_secs(1))
    }

    /// `n` requests per `per` per key, evenly spaced (burst 1): never more than `n` in any
    /// window of length `per`.
    ///
    /// # Panics
    ///
    /// Where [`try_new`](Self::try_new) with a burst of 1 returns an error.
    pub fn new(n: u32, per: Duration) -> Self {
        Self::try_new(n, per, 1).unwrap_or_else(|err| panic!("{err}"))
    }

    /// `n` requests per `per` per key, `burst` at once (see [`burst`](Self::burst)), or why
    /// these cannot make a limiter. For a rate read from configuration: nothing panics.
    ///
    /// One token comes every `ceil(per / n)` (rounded up to the nanosecond, so that `n`
    /// tokens never come faster than `per`). Refused, with a [`ConfigError`] saying why:
    ///
    /// - `n == 0`, `per == 0` or `burst == 0`;
    /// - a rate faster than one per nanosecond (`per` shorter than `n` ns), which governor
    ///   would silently clamp to one per nanosecond;
    /// - `ceil(per / n) × burst`, the time an empty bucket takes to refill, above
    ///   [`GovernorBackend::MAX_REFILL`](crate::GovernorBackend::MAX_REFILL) (2⁶³ ns, about
    ///   292 years): beyond it governor panics ("Duration is longer than 584 years", an
    ///   overflowing multiplication) or, in release builds, wraps around. For example
    ///   `(1, Duration::MAX, 1)`, or `(1, 1 min, u32::MAX)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use volley_ratelimit::RateLimitLayer;
    ///
    /// let layer = RateLimitLayer::try_new(100, Duration::from_secs(60), 5).unwrap();
    /// # drop(layer);
    /// let err = RateLimitLayer::try_new(1, Duration::from_secs(60), u32::MAX).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid rate limit of 1 per 60s with burst 4294967295: an empty bucket would take \
    ///      more than 2^63 ns (292 years) to refill"
    /// );
    /// ```
    pub fn try_new(n: u32, per: Duration, burst: u32) -> Result<Self, ConfigError> {
        let config = Config {
            custom: None,
            rate: Rate { n, per, burst },
            key_fn: Some(Arc::new(ByAuthority)),
            global_key: Key::new("*"),
            max_wait: None,
            max_cooldown: DEFAULT_MAX_COOLDOWN,
            classifier: HttpClassifier::new(),
            hints: HintParser::new(),
            feedback: true,
            pace: false,
            pace_burst: 0,
        };
        Ok(Self { shared: config.try_build()? })
    }

    /// A limiter with no rate of its own that still listens to servers: cooldowns after a
    /// 429 or `Retry-After`, and [pacing](Self::pace_from_quota) when turned on. Its rate
    /// (a billion a second, with a burst as large) never binds.
    pub fn unlimited() -> Self {
        const FASTEST: u32 = 1_000_000_000;
        // One per nanosecond is the fastest rate a bucket can hold; a burst of as many
        // refills within a second, far inside the 292-year bound `try_new` checks.
        Self::try_new(FASTEST, Duration::from_secs(1), FASTEST)
            .unwrap_or_else(|_| unreachable!("a rate of 1/ns with a 1 s burst is valid"))
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
    /// If `burst` is zero, or the rate with this burst is refused by
    /// [`try_new`](Self::try_new) (an empty bucket taking more than 292 years to refill).
    #[must_use]
    pub fn burst(self, burst: u32) -> Self {
        self.with(|s| s.rate.burst = burst)
    }

    /// Partitions requests with `key_fn`: one bucket and one cooldown per key (per tenant,
    /// per API token…). A cooldown belongs to the key of the request whose response asked
    /// for it, not to the host: with a per-tenant key, one host's 429 pauses that tenant's
    /// requests to every host, and no other tenant's requests, to that host included.
    ///
    /// Defaults to [`ByAuthority`] (scheme, host and port of the request URI).
    #[must_use]
    pub fn key_fn(self, key_fn: impl KeyFn) -> Self {
        self.with(|s| s.key_fn = Some(Arc::new(key_fn)))
    }

    /// One bucket and one cooldown for all requests, whatever their host. No key is computed
    /// per request, so a 429 with a hint (or an exhausted quota) from any one host pauses
    /// every request through this layer, to every host, for the hint capped at
    /// [`max_cooldown`](Self::max_cooldown). For one shared rate with per-host cooldowns,
    /// use [`GovernorBackend::global`](crate::GovernorBackend::global) as the
    /// [`backend`](Self::backend) instead.
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

    /// The longest one response can pause a key for. A server asking for longer (a
    /// `Retry-After` of a day, a quota reset next month) pauses the key for `max_cooldown`
    /// only, and the layer reports it with a `tracing` event at info level carrying the
    /// `key`, the `cooldown` set and the `requested` delay (`capped = true`). The next
    /// request after the pause reaches the server, which may pause the key again. This is
    /// the retry layer's `max_retry_after` default: a hint that retry refuses to sleep for
    /// does not stall the host here for longer either. `Duration::ZERO` sets no cooldowns
    /// at all.
    ///
    /// Defaults to 60 s.
    #[must_use]
    pub fn max_cooldown(self, max_cooldown: Duration) -> Self {
        self.with(|s| s.max_cooldown = max_cooldown)
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
            max_cooldown: s.max_cooldown,
            classifier,
            hints: s.hints,
            feedback: s.feedback,
            pace: s.pace,
            pace_burst: s.pace_burst,
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

    /// Spreads the requests a server says remain over the time until its quota resets,
    /// instead of spending them at once and meeting a 429.
    ///
    /// When a response's quota headers (`RateLimit`, `RateLimit-Remaining` +
    /// `RateLimit-Reset`, `X-RateLimit-Remaining` + `X-RateLimit-Reset`, read by the
    /// [`hint_parser`](Self::hint_parser); the most restrictive quota) say `N` requests
    /// remain for `T`, the key's next request starts no earlier than `T / (N + 1)` after the
    /// last one let through: the `N` go evenly, the last one a gap before the reset. Every
    /// response updates the pace; readings of one window only tighten it (least remaining,
    /// earliest reset), so late answers to concurrent requests cannot loosen it. The pace
    /// ends when the reset passes. A paced wait is a wait like the token's: bounded by the
    /// request's [`Deadline`](volley_core::Deadline) and [`max_wait`](Self::max_wait)
    /// (failing fast with [`RateLimited`](crate::RateLimited), with
    /// [`is_paced`](crate::RateLimited::is_paced)), and no single gap longer than
    /// [`max_cooldown`](Self::max_cooldown). It comes on top of the rate and of cooldowns:
    /// the strictest wins. Pacing state is per process and per key, bounded like the
    /// cooldowns; [`no_feedback`](Self::no_feedback) turns it off too.
    ///
    /// Off by default: a client that sends a few requests against a large quota (5,000 an
    /// hour) would otherwise wait 0.72 s before each. Turn it on for batch work that
    /// spends a quota. See [`pace_burst`](Self::pace_burst) for a head start.
    ///
    /// Defaults to `false`.
    #[must_use]
    pub fn pace_from_quota(self, pace: bool) -> Self {
        self.with(|s| s.pace = pace)
    }

    /// How many requests of each quota window go unpaced before pacing spreads the rest
    /// (see [`pace_from_quota`](Self::pace_from_quota)): a small batch against a large quota
    /// goes at once, a long one is still spread. Never more than the server says remain.
    ///
    /// Defaults to 0.
    #[must_use]
    pub fn pace_burst(self, burst: u32) -> Self {
        self.with(|s| s.pace_burst = burst)
    }

    /// Ignores what responses say: no cooldowns, no pacing, only the configured rate.
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

    /// The gap `key`'s requests are spread by now, while the server's quota headers pace it
    /// (see [`pace_from_quota`](Self::pace_from_quota)); `None` when it is not paced (in
    /// global mode `key` is ignored: there is one pace).
    pub fn pace_interval(&self, key: &Key) -> Option<Duration> {
        let pacing = self.shared.pacing.as_ref()?;
        pacing.interval(self.shared.lookup_key(key))
    }

    /// How many keys are paced, ended windows not yet dropped included; at most
    /// [`GovernorBackend::MAX_COOLDOWNS`](crate::GovernorBackend::MAX_COOLDOWNS).
    pub fn tracked_paces(&self) -> usize {
        self.shared.pacing.as_ref().map_or(0, |pacing| pacing.len())
    }

    /// How many cooldowns the backend holds, expired ones not yet dropped included; at most
    /// [`GovernorBackend::MAX_COOLDOWNS`](crate::GovernorBackend::MAX_COOLDOWNS) for the
    /// default backend.
    pub fn tracked_cooldowns(&self) -> usize {
        self.shared.backend.tracked_cooldowns()
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
