//! The layer drives any `Backend`: synchronous waits, pending answers, errors, cooldowns.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::Key;
use volley_ratelimit::{Acquire, Backend, GovernorBackend, RateLimitLayer};

use crate::common::{Answer, Fake, get};

/// Answers from a script, records every question and every cooldown.
#[derive(Clone, Debug, Default)]
struct Scripted {
    log: Arc<Mutex<Log>>,
}

#[derive(Debug, Default)]
struct Log {
    answers: VecDeque<Step>,
    asked: Vec<(Key, Instant)>,
    cooldowns: Vec<(Key, Instant)>,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Wait(Duration),
    /// Pending for this long, then the answer `Ready`.
    Slow(Duration),
    /// Pending for this long, then an error.
    Fail(Duration),
}

impl Scripted {
    fn new(steps: &[Step]) -> Self {
        let backend = Scripted::default();
        backend.log.lock().unwrap().answers.extend(steps);
        backend
    }
}

impl Backend for Scripted {
    fn acquire(&self, key: &Key) -> Acquire {
        let mut log = self.log.lock().unwrap();
        log.asked.push((key.clone(), Instant::now()));
        match log.answers.pop_front() {
            None => Acquire::Ready,
            Some(Step::Wait(wait)) => Acquire::Wait(wait),
            Some(Step::Slow(after)) => Acquire::Pending(Box::pin(async move {
                tokio::time::sleep(after).await;
                Ok(Acquire::Ready)
            })),
            Some(Step::Fail(after)) => Acquire::Pending(Box::pin(async move {
                tokio::time::sleep(after).await;
                Err("redis is down".into())
            })),
        }
    }

    fn cool_down(&self, key: &Key, until: Instant) {
        self.log.lock().unwrap().cooldowns.push((key.clone(), until));
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_backend_that_says_wait_then_ready() {
    let backend = Scripted::new(&[Step::Wait(Duration::from_secs(1))]);
    let fake = Fake::default();
    let layer = RateLimitLayer::per_second(1).backend(backend.clone());
    let svc = ServiceBuilder::new().layer(layer).service(fake.service());
    let start = Instant::now();
    svc.clone().oneshot(get("http://api.example/")).await.unwrap();

    let asked: Vec<_> =
        backend.log.lock().unwrap().asked.iter().map(|(_, at)| *at - start).collect();
    assert_eq!(asked, [Duration::ZERO, Duration::from_secs(1)]);
    assert_eq!(fake.arrivals("http://api.example"), [start + Duration::from_secs(1)]);
    // The builder's rate is the default backend's: a custom backend replaces it.
    svc.clone().oneshot(get("http://api.example/")).await.unwrap();
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
    assert_eq!(fake.hits("http://api.example"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_pending_answer_is_awaited_and_may_say_wait_again() {
    let backend = Scripted::new(&[
        Step::Wait(Duration::from_millis(200)),
        Step::Slow(Duration::from_millis(300)),
    ]);
    let fake = Fake::default();
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(1).backend(backend.clone()))
        .service(fake.service());
    let start = Instant::now();
    svc.oneshot(get("http://api.example/")).await.unwrap();
    assert_eq!(fake.arrivals("http://api.example"), [start + Duration::from_millis(500)]);
    assert_eq!(backend.log.lock().unwrap().asked.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_backend_error_is_the_request_error_and_nothing_is_sent() {
    let backend = Scripted::new(&[Step::Fail(Duration::from_millis(50))]);
    let fake = Fake::default();
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(1).backend(backend))
        .service(fake.service());
    let err = svc.oneshot(get("http://api.example/")).await.unwrap_err();
    assert_eq!(err.to_string(), "redis is down");
    assert_eq!(fake.total(), 0);
}

#[tokio::test(start_paused = true)]
async fn cooldowns_are_reported_to_the_backend_with_the_key() {
    let backend = Scripted::default();
    let fake = Fake::scripted(&[Answer {
        status: 429,
        retry_after: Some(7),
        delay: Duration::from_millis(10),
    }]);
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(1).backend(backend.clone()))
        .service(fake.service());
    let start = Instant::now();
    svc.oneshot(get("https://API.example:443/x")).await.unwrap();
    let cooldowns = backend.log.lock().unwrap().cooldowns.clone();
    let expected = (Key::new("https://api.example"), start + Duration::from_millis(7010));
    assert_eq!(cooldowns, [expected]);
}

#[tokio::test(start_paused = true)]
async fn a_global_governor_backend_shares_the_rate_but_cools_per_host() {
    let fake =
        Fake::scripted(&[Answer { status: 429, retry_after: Some(4), delay: Duration::ZERO }]);
    let backend = GovernorBackend::global(10, Duration::from_secs(1), 1);
    let layer = RateLimitLayer::per_second(1).backend(backend);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    let start = Instant::now();
    svc.clone().oneshot(get("http://a.example/")).await.unwrap(); // 429: a cools for 4 s
    svc.clone().oneshot(get("http://b.example/")).await.unwrap(); // one shared bucket: 100 ms
    svc.clone().oneshot(get("http://b.example/")).await.unwrap();
    assert_eq!(
        fake.arrivals("http://b.example"),
        [start + Duration::from_millis(100), start + Duration::from_millis(200)]
    );
    assert!(layer.cooldown_remaining(&Key::new("http://a.example")).is_some());
    assert_eq!(layer.cooldown_remaining(&Key::new("http://b.example")), None);
    assert_eq!(layer.tracked_keys(), 1);
}
