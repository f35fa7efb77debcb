//! What the limiter reports: typed tracing events (always) and metrics (feature
//! `metrics`), captured in memory, against volley-testserver on paused time.

use std::time::Duration;

use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use tracing::Level;
#[cfg(feature = "metrics")]
use volley_core::Key;
#[cfg(feature = "metrics")]
use volley_core::telemetry::names;
use volley_ratelimit::RateLimitLayer;
use volley_testserver::TestServer;

use crate::common::{Fake, client, get, loopback, origin, rate_limited, send};
use crate::obs_support::{Events, run};

/// The `key` label of `key`: itself, unless the other tests of this binary (one process)
/// already used up the bound on label values; then "other" (the bound is tested in
/// volley-limit's `metrics_key_bound`). Only this test's thread records to its recorder.
#[cfg(feature = "metrics")]
fn label(key: &str) -> String {
    volley_core::telemetry::key_label(&Key::new(key)).to_string()
}

#[test]
fn a_throttled_request_reports_one_cooldown_and_the_next_its_wait() {
    let (events, _guard) = Events::capture("volley_ratelimit");
    let ((key, waited), _metrics) = run(|| async {
        let server = TestServer::start().await.unwrap();
        let layer = RateLimitLayer::per_second(100).burst(10);
        let svc = ServiceBuilder::new().layer(layer).service(client());
        let throttle = server.url("/retry-after/2?times=1&key=observe");
        assert_eq!(send(&svc, loopback(&throttle)).await, 429);
        let start = Instant::now();
        assert_eq!(send(&svc, loopback(&throttle)).await, 200);
        assert_eq!(server.hits("/retry-after/2"), 2);
        (origin(&server).to_string(), start.elapsed())
    });
    assert!(waited >= Duration::from_secs(2), "{waited:?}");

    let cooldowns = events.named("rate limit key cooling down");
    assert_eq!(cooldowns.len(), 1, "{cooldowns:?}");
    let cooldown = &cooldowns[0];
    assert_eq!(cooldown.level, Level::DEBUG);
    assert_eq!(cooldown.u64("cooldown_ms"), 2000);
    assert_eq!(cooldown.str("cooldown"), "2s", "the Debug text stays for older readers");
    assert!(cooldown.bool("throttled") && !cooldown.bool("quota_exhausted"));
    assert_eq!(cooldown.str("key"), key);

    let waits = events.named("rate limit wait");
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].level, Level::DEBUG);
    assert_eq!(waits[0].u64("wait_ms"), 2000);
    assert!(!waits[0].bool("paced"));

    #[cfg(feature = "metrics")]
    {
        let label = label(&key);
        let label = [("key", &*label)];
        assert_eq!(_metrics.counter(names::RATE_LIMIT_COOLDOWNS, &label), 1);
        let waits = _metrics.histogram(names::RATE_LIMIT_WAIT, &label);
        assert_eq!(waits.len(), 1, "one wait recorded, in seconds: {waits:?}");
        assert!((2.0..2.01).contains(&waits[0]), "{waits:?}");
        assert_eq!(_metrics.counter(names::RATE_LIMIT_REFUSALS, &label), 0);
    }
}

#[test]
fn paced_requests_report_their_wait_as_paced() {
    let (events, _guard) = Events::capture("volley_ratelimit");
    let ((key, elapsed), _metrics) = run(|| async {
        let server = TestServer::start().await.unwrap();
        let layer = RateLimitLayer::per_second(1_000_000).burst(64).pace_from_quota(true);
        let svc = ServiceBuilder::new().layer(layer).service(client());
        let quota = server.url("/ratelimit?limit=3&window_ms=8000&key=observe-pace");
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(send(&svc, loopback(&quota)).await, 200);
        }
        assert_eq!(server.hits("/ratelimit"), 3);
        (origin(&server).to_string(), start.elapsed())
    });
    let waits = events.named("rate limit wait");
    assert_eq!(waits.len(), 2, "the 2nd and 3rd requests are held: {waits:?}");
    assert!(waits.iter().all(|w| w.bool("paced") && w.level == Level::DEBUG));
    assert!(waits.iter().all(|w| w.str("key").contains(&key)));
    // The server says 2 left with a reset of 1 or 2 wall-clock seconds past 8 s of window:
    // each gap is a third of what remains of the window.
    let first = waits[0].u64("wait_ms");
    assert!((2000..3000).contains(&first), "{waits:?}");
    let total: u64 = waits.iter().map(|w| w.u64("wait_ms")).sum();
    assert!(elapsed >= Duration::from_millis(total), "{elapsed:?} < {total} ms");
    let held = events.named("rate limit paced");
    assert_eq!(held[0].u64("pace_ms"), first, "{held:?}");

    #[cfg(feature = "metrics")]
    {
        let waits = _metrics.histogram(names::RATE_LIMIT_WAIT, &[("key", &*label(&key))]);
        assert_eq!(waits.len(), 2, "{waits:?}");
        // The event truncates to whole ms, tokio's timer rounds a sleep up to the next ms.
        let off = waits[0] * 1000.0 - first as f64;
        assert!((0.0..2.0).contains(&off), "{waits:?} vs {first} ms");
        // Requests cost no virtual time on loopback: the sum can equal the elapsed time, up
        // to float rounding.
        let slept = waits.iter().sum::<f64>();
        assert!(slept <= elapsed.as_secs_f64() + 1e-6, "{slept} > {elapsed:?}");
    }
}

#[test]
fn a_refusal_reports_its_reason_and_the_wait_it_refused() {
    let (events, _guard) = Events::capture("volley_ratelimit");
    let fake = Fake::default();
    let (_, _metrics) = run(|| async {
        let layer = RateLimitLayer::per_second(1).burst(1).max_wait(Duration::from_millis(100));
        let svc = ServiceBuilder::new().layer(layer).service(fake.service());
        svc.clone().oneshot(get("http://a.example/")).await.unwrap();
        let err = svc.clone().oneshot(get("http://a.example/")).await.unwrap_err();
        assert_eq!(rate_limited(&err).wait(), Duration::from_secs(1));
    });
    assert_eq!(fake.total(), 1);
    let refused = events.named("rate limit refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].level, Level::DEBUG);
    assert_eq!(refused[0].str("reason"), "max_wait");
    assert_eq!(refused[0].u64("wait_ms"), 1000);
    assert!(events.named("rate limit wait").is_empty(), "a refused request never waits");

    #[cfg(feature = "metrics")]
    {
        let key = label("http://a.example");
        let labels = [("key", &*key), ("reason", "max_wait")];
        assert_eq!(_metrics.counter(names::RATE_LIMIT_REFUSALS, &labels), 1);
        assert!(_metrics.histogram(names::RATE_LIMIT_WAIT, &[("key", &*key)]).is_empty());
    }
}
