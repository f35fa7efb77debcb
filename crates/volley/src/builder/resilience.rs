//! The opt-in resilience stages: circuit breaker, adaptive concurrency, hedging and pacing
//! from quota headers.

use volley_breaker::BreakerLayer;
use volley_hedge::HedgeLayer;
use volley_limit::Adaptive;

use super::ClientBuilder;

impl ClientBuilder {
    /// Fails fast while a host is down: a circuit breaker per host, inside the retry layer
    /// ([`volley::breaker`](crate::breaker)). A request refused by an open breaker is never
    /// sent; it fails with an error of kind [`Kind::BreakerOpen`](crate::Kind::BreakerOpen)
    /// unless the breaker lets a probe through before the request's deadline, in which case
    /// the retry layer waits for it. `BreakerLayer::new()` trips after 5 failures in a row
    /// or ≥ 50 % of at least 20 calls in 10 s, and stays open 5 s, doubling while probes
    /// fail, up to 60 s. Keep a [`BreakerLayer::handle`] to read the circuits' states.
    /// Defaults to none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use volley::breaker::BreakerLayer;
    ///
    /// let breaker = BreakerLayer::new().consecutive_failures(3);
    /// let circuits = breaker.handle();
    /// let client = volley::Client::builder().circuit_breaker(breaker).build()?;
    /// assert_eq!(circuits.tracked_keys(), 0);
    /// # drop(client); Ok::<(), volley::Error>(())
    /// ```
    #[must_use]
    pub fn circuit_breaker(mut self, breaker: BreakerLayer) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Lets each host's concurrency limit find the host's capacity by itself
    /// ([`volley::limit::Adaptive`](crate::limit::Adaptive), AIMD or gradient), replacing
    /// [`per_host`](Self::per_host); the global [`concurrency`](Self::concurrency) limit
    /// stays fixed. Defaults to none (fixed limits).
    ///
    /// ```
    /// use volley::limit::Adaptive;
    ///
    /// let client = volley::Client::builder()
    ///     .adaptive_concurrency(Adaptive::gradient().min(2).max(64))
    ///     .build()?;
    /// # drop(client); Ok::<(), volley::Error>(())
    /// ```
    #[must_use]
    pub fn adaptive_concurrency(mut self, adaptive: Adaptive) -> Self {
        self.adaptive = Some(adaptive);
        self
    }

    /// Sends one more attempt of an idempotent request that is slower than usual, and takes
    /// whichever answers first ([`volley::hedge`](crate::hedge)). The hedge sits inside the
    /// concurrency limit and outside the attempt timeout, so a hedged request holds one
    /// permit and each attempt has its own timeout. `HedgeLayer::new()` hedges after the
    /// host's 95th-percentile latency, within 10 % extra requests. Defaults to none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use volley::hedge::HedgeLayer;
    ///
    /// let hedge = HedgeLayer::after(Duration::from_millis(200));
    /// let stats = hedge.stats();
    /// let client = volley::Client::builder().hedge(hedge).build()?;
    /// assert_eq!(stats.hedges_sent(), 0);
    /// # drop(client); Ok::<(), volley::Error>(())
    /// ```
    #[must_use]
    pub fn hedge(mut self, hedge: HedgeLayer) -> Self {
        self.hedge = Some(hedge);
        self
    }

    /// Spreads the requests a server's quota headers say remain (`RateLimit`,
    /// `RateLimit-Remaining`/`-Reset`, `X-RateLimit-*`) over the time until the quota resets,
    /// instead of spending them at once and meeting a 429
    /// ([`RateLimitLayer::pace_from_quota`](volley_ratelimit::RateLimitLayer::pace_from_quota)).
    /// Applies to the rate limiter of [`rate_limit`](Self::rate_limit) or
    /// [`rate_limit_layer`](Self::rate_limit_layer); without one, the client adds a
    /// limiter that only listens to the server. Defaults to `false`.
    #[must_use]
    pub fn pace_from_quota(mut self, pace: bool) -> Self {
        self.pace_from_quota = pace;
        self
    }
}
