//! Feedback: a server that says "slow down" pauses that key, and only that key.

use std::time::Duration;

use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_classify::HttpClassifier;
use volley_core::Key;
use volley_ratelimit::RateLimitLayer;
use volley_testserver::TestServer;

use crate::common::{Answer, Fake, client, get, loopback, origin, send};

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_that_host_and_spares_the_other() {
    let (a, b) = (TestServer::start().await.unwrap(), TestServer::start().await.unwrap());
    let layer = RateLimitLayer::per_second(100).burst(10);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(client());
    let throttle = a.url("/retry-after/2?times=1&key=cooldown");

    assert_eq!(send(&svc, loopback(&throttle)).await, 429);
    let throttled_at = Instant::now();
    assert_eq!(layer.cooldown_remaining(&origin(&a)), Some(Duration::from_secs(2)));

    // Another host (another key) goes through at once, while A is still cooling down.
    assert_eq!(send(&svc, loopback(&b.url("/get"))).await, 200);
    assert_eq!(b.hits("/get"), 1);
    assert_eq!(layer.cooldown_remaining(&origin(&b)), None);
    assert!(layer.cooldown_remaining(&origin(&a)).is_some(), "B waited for A's cooldown");

    // The next request for A waits in the layer until the cooldown ends.
    let next = tokio::spawn({
        let svc = svc.clone();
        let throttle = throttle.clone();
        async move { send(&svc, loopback(&throttle)).await }
    });
    tokio::time::sleep_until(throttled_at + Duration::from_millis(1999)).await;
    assert_eq!(a.hits("/retry-after/2"), 1, "reached the server during the cooldown");
    assert_eq!(next.await.unwrap(), 200);
    assert!(Instant::now() - throttled_at >= Duration::from_secs(2));
    assert_eq!(a.hits("/retry-after/2"), 2);
    assert_eq!(layer.cooldown_remaining(&origin(&a)), None);
}

#[tokio::test(start_paused = true)]
async fn a_quota_reporting_nothing_left_pauses_until_the_reset() {
    let server = TestServer::start().await.unwrap();
    let layer = RateLimitLayer::per_second(100).burst(10);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(client());
    let quota = server.url("/ratelimit?limit=2&key=q");

    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    assert_eq!(layer.cooldown_remaining(&origin(&server)), None, "1 of 2 left: no cooldown");
    let start = Instant::now();
    assert_eq!(send(&svc, loopback(&quota)).await, 200); // RateLimit: "default";r=0;t=1
    // The window resets in 1 s (`t=1`); `X-RateLimit-Reset` is a whole epoch second on the
    // wall clock, so the most restrictive reading is between 1 and 2 s.
    let cooldown = layer.cooldown_remaining(&origin(&server)).unwrap();
    assert!(
        cooldown >= Duration::from_secs(1) && cooldown <= Duration::from_secs(2),
        "{cooldown:?}"
    );

    // The third request waits for the reset instead of hammering into a 429.
    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    // Slept for the cooldown (timers fire on whole milliseconds).
    let slept = Instant::now() - start;
    assert!(slept >= cooldown && slept < cooldown + Duration::from_millis(1), "{slept:?}");
    assert_eq!(server.hits("/ratelimit"), 3);
    assert_eq!(server.throttled(), 0);
}

#[tokio::test(start_paused = true)]
async fn requests_already_waiting_wait_for_the_cooldown_too() {
    let fake = Fake::scripted(&[Answer {
        status: 429,
        retry_after: Some(5),
        delay: Duration::from_millis(100),
    }]);
    let layer = RateLimitLayer::per_second(1);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    let start = Instant::now();

    let first = tokio::spawn(svc.clone().oneshot(get("http://api.example/a")));
    tokio::task::yield_now().await;
    // Waits for the token at 1 s; by then the first response (at 100 ms) asked for 5 s.
    let second = tokio::spawn(svc.clone().oneshot(get("http://api.example/b")));
    assert_eq!(first.await.unwrap().unwrap().status(), 429);
    assert_eq!(second.await.unwrap().unwrap().status(), 200);

    let arrivals = fake.arrivals("http://api.example");
    let offsets: Vec<_> = arrivals.iter().map(|at| *at - start).collect();
    assert_eq!(offsets, [Duration::ZERO, Duration::from_millis(5100)]);
}

#[tokio::test(start_paused = true)]
async fn throttled_without_a_hint_or_without_feedback_sets_no_cooldown() {
    let bare_429 = Answer { status: 429, retry_after: None, delay: Duration::ZERO };
    let hinted_429 = Answer { status: 429, retry_after: Some(30), delay: Duration::ZERO };
    let key = Key::new("http://api.example");

    let fake = Fake::scripted(&[bare_429]);
    let layer = RateLimitLayer::per_second(10);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    assert_eq!(svc.clone().oneshot(get("http://api.example/")).await.unwrap().status(), 429);
    assert_eq!(layer.cooldown_remaining(&key), None);
    let start = Instant::now();
    svc.clone().oneshot(get("http://api.example/")).await.unwrap();
    assert_eq!(Instant::now() - start, Duration::from_millis(100), "paced by the rate only");

    let fake = Fake::scripted(&[hinted_429]);
    let layer = RateLimitLayer::per_second(10).no_feedback();
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    svc.clone().oneshot(get("http://api.example/")).await.unwrap();
    assert_eq!(layer.cooldown_remaining(&key), None);

    // A 503 with Retry-After is throttling too; a classifier can make 503 always so.
    let fake =
        Fake::scripted(&[Answer { status: 503, retry_after: Some(3), delay: Duration::ZERO }]);
    let layer = RateLimitLayer::per_second(10)
        .classifier(HttpClassifier::new().throttle_on(http::StatusCode::SERVICE_UNAVAILABLE));
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    svc.clone().oneshot(get("http://api.example/")).await.unwrap();
    assert_eq!(layer.cooldown_remaining(&key), Some(Duration::from_secs(3)));
}

#[tokio::test(start_paused = true)]
async fn global_mode_has_one_cooldown_for_every_host() {
    let fake =
        Fake::scripted(&[Answer { status: 429, retry_after: Some(2), delay: Duration::ZERO }]);
    let layer = RateLimitLayer::per_second(100).global();
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    let start = Instant::now();
    svc.clone().oneshot(get("http://a.example/")).await.unwrap();
    assert_eq!(layer.cooldown_remaining(&Key::new("anything")), Some(Duration::from_secs(2)));
    svc.clone().oneshot(get("http://b.example/")).await.unwrap();
    assert_eq!(fake.arrivals("http://b.example")[0] - start, Duration::from_secs(2));
}
