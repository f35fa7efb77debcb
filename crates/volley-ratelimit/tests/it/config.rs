//! Rates governor cannot hold are configuration errors, found before governor sees them.

use std::time::Duration;

use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::Key;
use volley_ratelimit::{Acquire, Backend, ConfigError, GovernorBackend, RateLimitLayer};

use crate::common::{Fake, get};

const NS: Duration = Duration::from_nanos(1);
const MINUTE: Duration = Duration::from_secs(60);
/// 2^63 ns.
const MAX_REFILL: Duration = GovernorBackend::MAX_REFILL;

fn refused(n: u32, per: Duration, burst: u32) -> String {
    match RateLimitLayer::try_new(n, per, burst) {
        Ok(_) => panic!("{n} per {per:?} with burst {burst} was accepted"),
        Err(err) => {
            // The backend constructors refuse the same inputs with the same error.
            let keyed = GovernorBackend::try_keyed(n, per, burst).err();
            let global = GovernorBackend::try_global(n, per, burst).err();
            assert_eq!((keyed.as_ref(), global.as_ref()), (Some(&err), Some(&err)));
            err.to_string()
        }
    }
}

#[test]
fn zero_rate_period_and_burst_are_refused() {
    let s1 = Duration::from_secs(1);
    assert_eq!(
        refused(0, s1, 1),
        "invalid rate limit of 0 per 1s with burst 1: the rate must be at least 1"
    );
    assert_eq!(
        refused(1, Duration::ZERO, 1),
        "invalid rate limit of 1 per 0ns with burst 1: the period must not be zero"
    );
    assert_eq!(
        refused(1, s1, 0),
        "invalid rate limit of 1 per 1s with burst 0: the burst must be at least 1"
    );
}

#[test]
fn faster_than_one_per_nanosecond_is_refused() {
    // governor clamped the interval of 0 ns to 1 ns: 10⁹/s, not the 2·10⁹/s asked for.
    assert_eq!(
        refused(2, NS, 1),
        "invalid rate limit of 2 per 1ns with burst 1: faster than one per nanosecond"
    );
    // `per_second` takes at most 10⁹.
    assert!(refused(1_000_000_001, Duration::from_secs(1), 1).ends_with("one per nanosecond"));
    assert!(RateLimitLayer::try_new(1_000_000_000, Duration::from_secs(1), 1).is_ok());
    assert!(RateLimitLayer::try_new(1, NS, 1).is_ok());
    assert!(RateLimitLayer::try_new(u32::MAX, Duration::from_secs(5), 1).is_ok());
}

#[test]
fn a_bucket_taking_more_than_2_pow_63_ns_to_refill_is_refused() {
    let reason = "an empty bucket would take more than 2^63 ns (292 years) to refill";
    assert_eq!(MAX_REFILL.as_nanos(), 1 << 63);
    // governor: "Duration is longer than 584 years".
    assert!(refused(1, Duration::MAX, 1).ends_with(reason));
    assert!(refused(1, Duration::from_nanos(u64::MAX), 1).ends_with(reason));
    // governor: `interval × (burst - 1)` overflows a u64 (a panic in debug builds, a wrong
    // limiter in release builds).
    assert_eq!(
        refused(1, MINUTE, u32::MAX),
        format!("invalid rate limit of 1 per 60s with burst 4294967295: {reason}")
    );
    // The boundary, to the nanosecond, through the interval and through the burst.
    assert!(RateLimitLayer::try_new(1, MAX_REFILL, 1).is_ok());
    assert!(refused(1, MAX_REFILL + NS, 1).ends_with(reason));
    let s4 = Duration::from_secs(4);
    let burst_at_max = u32::try_from(MAX_REFILL.as_nanos() / s4.as_nanos()).unwrap();
    assert!(RateLimitLayer::try_new(1, s4, burst_at_max).is_ok());
    assert!(refused(1, s4, burst_at_max + 1).ends_with(reason));
    // The interval is rounded up before it is multiplied: 3 per 10 ns is 4 ns a token.
    let ten = Duration::from_nanos(10);
    let max_burst = u32::try_from(MAX_REFILL.as_nanos() / 4).unwrap_or(u32::MAX);
    assert!(RateLimitLayer::try_new(3, ten, max_burst).is_ok());
}

#[test]
#[should_panic(
    expected = "invalid rate limit of 1 per 18446744073709551615.999999999s with burst 1"
)]
fn the_panicking_constructor_panics_with_the_config_error() {
    // Before: governor's "Duration is longer than 584 years", from deep inside `new`.
    let _ = RateLimitLayer::new(1, Duration::MAX);
}

#[test]
#[should_panic(expected = "with burst 4294967295: an empty bucket would take more than")]
fn a_burst_out_of_range_panics_with_the_config_error() {
    // Before: "attempt to multiply with overflow" inside governor (debug builds).
    let _ = RateLimitLayer::new(1, MINUTE).burst(u32::MAX);
}

#[test]
fn the_error_is_an_error() {
    let err: ConfigError = RateLimitLayer::try_new(0, MINUTE, 1).map(drop).unwrap_err();
    let err: Box<dyn std::error::Error> = Box::new(err);
    assert!(err.source().is_none());
    assert!(err.to_string().starts_with("invalid rate limit of 0 per 60s with burst 1"), "{err}");
}

/// The extremes that are accepted build limiters that work: nothing overflows on the first
/// requests, and the waits are the configured interval.
#[tokio::test(start_paused = true)]
async fn accepted_extremes_work() {
    let key = Key::new("k");
    let cases = [
        (1, MAX_REFILL, 1, MAX_REFILL),
        (
            1,
            Duration::from_secs(4),
            (MAX_REFILL.as_nanos() / 4_000_000_000) as u32,
            Duration::from_secs(4),
        ),
        (1, NS, 1, NS),
        (1_000_000_000, Duration::from_secs(1), 1, NS),
        (u32::MAX, Duration::from_secs(5), 1, Duration::from_nanos(2)),
    ];
    for (n, per, burst, interval) in cases {
        let backend = GovernorBackend::try_keyed(n, per, burst).unwrap();
        for _ in 0..burst.min(3) {
            assert!(matches!(backend.acquire(&key), Acquire::Ready), "{n} per {per:?}");
        }
        if burst <= 3 {
            let wait = match backend.acquire(&key) {
                Acquire::Wait(wait) => wait,
                other => panic!("{n} per {per:?}: {other:?}"),
            };
            // The burst went at once; the next token is one interval later.
            assert_eq!(wait, interval, "{n} per {per:?} burst {burst}");
        }
    }
    // And a layer with the longest interval lets its first request through.
    let fake = Fake::default();
    let layer = RateLimitLayer::try_new(1, MAX_REFILL, 1).unwrap().max_wait(Duration::ZERO);
    let svc = ServiceBuilder::new().layer(layer).service(fake.service());
    svc.clone().oneshot(get("http://a.example/")).await.unwrap();
    assert!(svc.clone().oneshot(get("http://a.example/")).await.is_err());
    assert_eq!(fake.total(), 1);
}

/// `n` tokens never come faster than `per`: 3 per second is one every 333,333,334 ns
/// (rounded down, three intervals were 999,999,999 ns and a window of 1 s could see 4).
#[tokio::test(start_paused = true)]
async fn the_interval_is_rounded_up() {
    let key = Key::new("k");
    let start = Instant::now();
    let backend = GovernorBackend::keyed(3, Duration::from_secs(1), 1);
    assert!(matches!(backend.acquire(&key), Acquire::Ready));
    match backend.acquire(&key) {
        Acquire::Wait(wait) => assert_eq!(wait, Duration::from_nanos(333_333_334)),
        other => panic!("{other:?}"),
    }
    assert_eq!(Instant::now(), start);
}
