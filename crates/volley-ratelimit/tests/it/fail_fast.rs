//! A wait that passes the deadline or `max_wait` fails at once, carrying the wait.

use std::time::Duration;

use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::{Deadline, Key};
use volley_ratelimit::{RateLimitLayer, WaitBound};

use crate::common::{Answer, Fake, get, get_before, rate_limited};

const HOST: &str = "http://api.example/items";

#[tokio::test(start_paused = true)]
async fn a_wait_past_the_deadline_fails_without_sleeping() {
    let fake = Fake::default();
    let svc = ServiceBuilder::new().layer(RateLimitLayer::per_second(1)).service(fake.service());
    svc.clone().oneshot(get(HOST)).await.unwrap();

    let before = Instant::now();
    let deadline = Deadline::after(Duration::from_millis(500));
    let err = svc.clone().oneshot(get_before(HOST, deadline)).await.unwrap_err();
    assert_eq!(Instant::now(), before, "virtual time advanced: the layer slept");
    let limited = rate_limited(&err);
    assert_eq!(limited.wait(), Duration::from_secs(1));
    assert_eq!(limited.bound(), WaitBound::Deadline { remaining: Duration::from_millis(500) });
    assert_eq!(limited.key(), &Key::new("http://api.example"));
    assert!(!limited.is_cooldown());
    assert_eq!(
        err.to_string(),
        "rate limit wait of 1s for http://api.example exceeds deadline in 500ms"
    );

    // A wait that fits is slept exactly, then the request goes through.
    let deadline = Deadline::after(Duration::from_millis(1001));
    svc.clone().oneshot(get_before(HOST, deadline)).await.unwrap();
    assert_eq!(Instant::now() - before, Duration::from_secs(1));
    assert_eq!(fake.hits("http://api.example"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_wait_ending_exactly_at_the_deadline_is_refused() {
    let fake = Fake::default();
    let svc = ServiceBuilder::new().layer(RateLimitLayer::per_second(1)).service(fake.service());
    svc.clone().oneshot(get(HOST)).await.unwrap();
    let deadline = Deadline::after(Duration::from_secs(1));
    let err = svc.clone().oneshot(get_before(HOST, deadline)).await.unwrap_err();
    assert_eq!(rate_limited(&err).wait(), Duration::from_secs(1));
    assert_eq!(fake.hits("http://api.example"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_wait_over_max_wait_fails_without_sleeping() {
    let fake = Fake::default();
    let layer = RateLimitLayer::new(2, Duration::from_secs(1)).max_wait(Duration::from_millis(400));
    let svc = ServiceBuilder::new().layer(layer).service(fake.service());
    svc.clone().oneshot(get(HOST)).await.unwrap();

    let before = Instant::now();
    let err = svc.clone().oneshot(get(HOST)).await.unwrap_err();
    assert_eq!(Instant::now(), before);
    let limited = rate_limited(&err);
    assert_eq!(limited.wait(), Duration::from_millis(500));
    assert_eq!(limited.bound(), WaitBound::MaxWait { max: Duration::from_millis(400) });
    assert_eq!(
        err.to_string(),
        "rate limit wait of 500ms for http://api.example exceeds max wait of 400ms"
    );

    // Both bounds exceeded: the sooner one is reported.
    let err =
        svc.clone().oneshot(get_before(HOST, Deadline::after(Duration::from_millis(300)))).await;
    let limited = rate_limited(&err.unwrap_err());
    assert_eq!(limited.bound(), WaitBound::Deadline { remaining: Duration::from_millis(300) });

    // Within max_wait: slept, then sent.
    tokio::time::advance(Duration::from_millis(200)).await;
    svc.clone().oneshot(get(HOST)).await.unwrap();
    assert_eq!(Instant::now() - before, Duration::from_millis(500));
    assert_eq!(fake.hits("http://api.example"), 2);
}

#[tokio::test(start_paused = true)]
async fn max_wait_zero_never_waits() {
    let fake = Fake::default();
    let layer = RateLimitLayer::per_second(10).burst(3).max_wait(Duration::ZERO);
    let svc = ServiceBuilder::new().layer(layer).service(fake.service());
    let mut results = Vec::new();
    for _ in 0..5 {
        results.push(svc.clone().oneshot(get(HOST)).await.is_ok());
    }
    assert_eq!(results, [true, true, true, false, false]);
    assert_eq!(fake.hits("http://api.example"), 3);
}

#[tokio::test(start_paused = true)]
async fn a_cooldown_past_the_deadline_fails_fast_and_says_so() {
    let throttled = Answer { status: 429, retry_after: Some(5), delay: Duration::ZERO };
    let fake = Fake::scripted(&[throttled]);
    let layer = RateLimitLayer::per_second(100);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    let res = svc.clone().oneshot(get(HOST)).await.unwrap();
    assert_eq!(res.status(), 429);

    let before = Instant::now();
    let err = svc.clone().oneshot(get_before(HOST, Deadline::after(Duration::from_secs(3)))).await;
    let limited = rate_limited(&err.unwrap_err());
    assert_eq!(Instant::now(), before);
    assert_eq!(limited.wait(), Duration::from_secs(5));
    assert!(limited.is_cooldown());
    assert_eq!(
        limited.to_string(),
        "rate limit wait of 5s for http://api.example (cooling down at the server's request) \
         exceeds deadline in 3s"
    );
    assert_eq!(fake.hits("http://api.example"), 1);
}
