//! The services the benches measure, grouped as they are reported, in one list that both
//! the criterion bench and the profiling driver walk.

use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower::{Layer, Service, ServiceBuilder};
use volley_breaker::BreakerLayer;
use volley_core::SingleKey;
use volley_hedge::HedgeLayer;
use volley_limit::ConcurrencyLimitLayer;
use volley_ratelimit::RateLimitLayer;
use volley_retry::{RetryLayer, RetryPolicy};
use volley_timeout::{AttemptTimeoutLayer, TotalTimeoutLayer};

use crate::client::ClientCase;
use crate::{NeverRetry, noop};

/// A rate no bench comes near: one token per nanosecond, a second's worth at once.
pub const UNLIMITED: u32 = 1_000_000_000;

/// The key `ByAuthority` gives [`URI`](crate::URI), for the cases with a stored key.
const ORIGIN: &str = "http://example.com";

/// Receives every case of [`all`]: a group, a name within it, and a way to make the
/// service (called once per measurement, inside the runtime's context, so that tower's
/// timers find their runtime). Services made by one case share their layer's state.
pub trait Visit {
    /// One case, reported as `group/name`.
    fn case<S, B>(&mut self, group: &'static str, name: &'static str, make: impl FnMut() -> S)
    where
        S: Service<Request<Full<Bytes>>, Response = Response<B>>,
        S::Error: Debug,
        B: Body,
        B::Error: Debug;
}

/// Every case, in report order: `baseline`, `timeout`, `concurrency`, `rate_limit`,
/// `retry`, `classify`, `breaker`, `hedge`, `full_stack`, `client`. Every limit is set so
/// that it never binds.
pub fn all(v: &mut impl Visit) {
    v.case("baseline", "noop", noop);
    timeout(v);
    concurrency(v);
    rate_limit(v);
    retry(v);
    classify(v);
    breaker(v);
    hedge(v);
    full_stack(v);
    client(v);
}

fn timeout(v: &mut impl Visit) {
    let tower = tower::timeout::TimeoutLayer::new(Duration::from_secs(10));
    v.case("timeout", "tower_timeout", || tower.layer(noop()));
    let attempt = AttemptTimeoutLayer::new(Duration::from_secs(10));
    v.case("timeout", "volley_attempt", || attempt.layer(noop()));
    let total = TotalTimeoutLayer::new(Duration::from_secs(30));
    v.case("timeout", "volley_total", || total.layer(noop()));
}

fn concurrency(v: &mut impl Visit) {
    let tower = tower::limit::ConcurrencyLimitLayer::new(1000);
    v.case("concurrency", "tower_concurrency_limit", || tower.layer(noop()));
    let global = ConcurrencyLimitLayer::new(1000);
    v.case("concurrency", "volley_global", || global.layer(noop()));
    let per_key = ConcurrencyLimitLayer::new(1000).per_key(100);
    v.case("concurrency", "volley_global_per_key", || per_key.layer(noop()));
}

fn rate_limit(v: &mut impl Visit) {
    // Not Clone: one instance per measurement, called directly, with no Buffer in front.
    let tower = tower::limit::RateLimitLayer::new(u64::MAX, Duration::from_secs(1));
    v.case("rate_limit", "tower_rate_limit", || tower.layer(noop()));
    let unlimited = RateLimitLayer::new(UNLIMITED, Duration::from_secs(1)).burst(UNLIMITED);
    let keyed = unlimited.clone();
    v.case("rate_limit", "volley_keyed", || keyed.layer(noop()));
    let quiet = unlimited.clone().no_feedback();
    v.case("rate_limit", "volley_keyed_no_feedback", || quiet.layer(noop()));
    // Keyed state, but a key function that hands out a stored key: the limiter without the
    // cost of building the request's key.
    let single = unlimited.clone().key_fn(SingleKey::new(ORIGIN));
    v.case("rate_limit", "volley_single_key", || single.layer(noop()));
    let global = unlimited.global();
    v.case("rate_limit", "volley_global", || global.layer(noop()));
}

fn retry(v: &mut impl Visit) {
    let tower = tower::retry::RetryLayer::new(NeverRetry);
    v.case("retry", "tower_retry", || tower.layer(noop()));
    let budget = RetryLayer::new(RetryPolicy::new());
    v.case("retry", "volley_budget", || budget.layer(noop()));
    let no_budget = RetryLayer::new(RetryPolicy::new().no_budget());
    v.case("retry", "volley_no_budget", || no_budget.layer(noop()));
}

fn classify(v: &mut impl Visit) {
    let layer = volley_classify::ClassifyLayer::new();
    v.case("classify", "volley_classify", || layer.layer(noop()));
}

fn breaker(v: &mut impl Visit) {
    // Always closed around a service that always succeeds: what is measured is the key,
    // the admission and the classified outcome counted in the window, under one lock.
    let breaker = BreakerLayer::new();
    v.case("breaker", "volley_breaker", || breaker.layer(noop()));
}

fn hedge(v: &mut impl Visit) {
    // No hedge ever fires around an instant service: what is measured is the per-call
    // bookkeeping (method check, budget deposit, key, histogram lookup and record, a copy
    // of the request once the key has 20 samples).
    let percentile = HedgeLayer::new();
    v.case("hedge", "volley_percentile", || percentile.layer(noop()));
    let fixed = HedgeLayer::after(Duration::from_secs(1));
    v.case("hedge", "volley_fixed", || fixed.layer(noop()));
}

fn full_stack(v: &mut impl Visit) {
    let tower = ServiceBuilder::new()
        .timeout(Duration::from_secs(30))
        .retry(NeverRetry)
        .concurrency_limit(1000)
        .timeout(Duration::from_secs(10));
    v.case("full_stack", "tower", || tower.service(noop()));

    // The standard stack of DESIGN.md, outer to inner.
    let rate = RateLimitLayer::new(UNLIMITED, Duration::from_secs(1)).burst(UNLIMITED);
    let volley = |concurrency: ConcurrencyLimitLayer| {
        ServiceBuilder::new()
            .layer(TotalTimeoutLayer::new(Duration::from_secs(30)))
            .layer(RetryLayer::new(RetryPolicy::new()))
            .layer(rate.clone())
            .layer(concurrency)
            .layer(AttemptTimeoutLayer::new(Duration::from_secs(10)))
    };
    let global = volley(ConcurrencyLimitLayer::new(1000));
    v.case("full_stack", "volley", || global.service(noop()));
    let per_host = volley(ConcurrencyLimitLayer::new(1000).per_key(100));
    v.case("full_stack", "volley_per_host", || per_host.service(noop()));

    // The same stack with stored keys for the retry budget and the rate limiter: what the
    // stack costs without building the request's key twice per call.
    let single = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(Duration::from_secs(30)))
        .layer(RetryLayer::new(RetryPolicy::new().key_fn(SingleKey::new(ORIGIN))))
        .layer(rate.clone().key_fn(SingleKey::new(ORIGIN)))
        .layer(ConcurrencyLimitLayer::new(1000))
        .layer(AttemptTimeoutLayer::new(Duration::from_secs(10)));
    v.case("full_stack", "volley_single_key", || single.service(noop()));
}

fn client(v: &mut impl Visit) {
    // The facade with its default stack (total timeout, redirects, retry, a global
    // concurrency limit of 100, attempt timeout, decompression; no rate limit), each
    // request built from the URL string.
    v.case("client", "volley_defaults", ClientCase::defaults);
    v.case("client", "volley_plain", ClientCase::plain);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{run, runtime};

    /// Makes every case's service and sends it a few requests, as the benches will.
    struct Smoke {
        rt: tokio::runtime::Runtime,
        seen: Vec<String>,
    }

    impl Visit for Smoke {
        fn case<S, B>(
            &mut self,
            group: &'static str,
            name: &'static str,
            mut make: impl FnMut() -> S,
        ) where
            S: Service<Request<Full<Bytes>>, Response = Response<B>>,
            S::Error: Debug,
            B: Body,
            B::Error: Debug,
        {
            let _context = self.rt.enter();
            let mut svc = make();
            self.rt.block_on(run(&mut svc, 3));
            self.seen.push(format!("{group}/{name}"));
        }
    }

    #[test]
    fn every_case_answers_and_names_are_unique() {
        let mut smoke = Smoke { rt: runtime(), seen: Vec::new() };
        all(&mut smoke);
        assert_eq!(smoke.seen.len(), 25, "{:?}", smoke.seen);
        assert_eq!(smoke.seen[0], "baseline/noop");
        let mut unique = smoke.seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), smoke.seen.len());
    }
}
