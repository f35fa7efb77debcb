//! Pacing from quota headers: the requests a server says remain, spread over its reset,
//! against volley-testserver's `/ratelimit` quota on paused time.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};
use volley_core::Deadline;
use volley_ratelimit::RateLimitLayer;
use volley_testserver::TestServer;

use crate::common::{LoopbackClient, client, loopback, origin, rate_limited, send};

/// 100 requests per 10 s fixed window: 300 requests need three windows, 30 s evenly spread.
const QUOTA: &str = "/ratelimit?limit=100&window_ms=10000&key=pace";
const REQUESTS: usize = 300;
const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

type Svc = volley_ratelimit::RateLimit<LoopbackClient>;

/// A local rate that never binds (a million a second, 64 at once): what is measured is the
/// pace alone, and without it concurrent callers really are concurrent.
fn layer(pace: bool) -> RateLimitLayer {
    RateLimitLayer::per_second(1_000_000).burst(64).pace_from_quota(pace)
}

/// Sends `REQUESTS` to `uri` from `callers` tasks sharing one client; returns the elapsed
/// virtual time once the last response body is read.
async fn run(svc: &Svc, uri: &str, callers: usize) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let (svc, uri) = (svc.clone(), uri.to_owned());
            let share = REQUESTS / callers + usize::from(caller < REQUESTS % callers);
            tokio::spawn(async move {
                for _ in 0..share {
                    send(&svc, loopback(&uri)).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

async fn paced_run(callers: usize) -> (TestServer, Duration) {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(layer(true)).service(client());
    let elapsed = run(&svc, &server.url(QUOTA), callers).await;
    (server, elapsed)
}

fn assert_within_the_quota(server: &TestServer, elapsed: Duration) {
    assert_eq!(server.hits(QUOTA), REQUESTS as u64);
    assert_eq!(server.throttled(), 0, "429s at the server after {elapsed:?}");
    let (low, high) = (28_500 * S / 1000, 31_500 * S / 1000);
    assert!(elapsed >= low && elapsed <= high, "{REQUESTS} requests took {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn three_hundred_requests_from_six_callers_meet_no_429_and_take_the_quota_time() {
    let (server, elapsed) = paced_run(6).await;
    assert_within_the_quota(&server, elapsed);
}

#[tokio::test(start_paused = true)]
async fn three_hundred_sequential_requests_meet_no_429_and_take_the_quota_time() {
    let (server, elapsed) = paced_run(1).await;
    assert_within_the_quota(&server, elapsed);
}

#[tokio::test(start_paused = true)]
async fn without_pacing_the_same_run_meets_429s_or_bursts() {
    // Concurrent callers spend each window at once, and those in flight when it runs out
    // get 429s (the cooldown at "0 remaining" comes too late for them).
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(layer(false)).service(client());
    run(&svc, &server.url(QUOTA), 6).await;
    assert_eq!(server.hits(QUOTA), REQUESTS as u64);
    assert!(server.throttled() > 0, "no 429 without pacing");

    // A sequential caller meets no 429 (the cooldown catches "0 remaining"), but bursts
    // each window at its start and finishes the third window early.
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(layer(false)).service(client());
    let elapsed = run(&svc, &server.url(QUOTA), 1).await;
    assert_eq!(server.throttled(), 0);
    assert!(elapsed < 25 * S, "{elapsed:?}: not bursty");
}

#[tokio::test(start_paused = true)]
async fn the_pace_is_the_reset_over_remaining_plus_one_and_ends_at_the_reset() {
    let server = TestServer::start().await.unwrap();
    let layer = layer(true);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(client());
    let path = "/ratelimit?limit=5&window_ms=10000&key=ends";
    let quota = server.url(path);
    let key = origin(&server);

    let start = Instant::now();
    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    // 4 left, reset in 10 s (the epoch `X-RateLimit-Reset` may read up to 1 s longer):
    // one request every 10 s / 5.
    let interval = layer.pace_interval(&key).unwrap();
    assert!(interval >= 2 * S && interval < 2200 * S / 1000, "{interval:?}");
    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    // Paused time wakes timers on the millisecond.
    let waited = start.elapsed();
    assert!(waited >= interval && waited <= interval + MS, "{waited:?} for {interval:?}");
    for _ in 0..3 {
        assert_eq!(send(&svc, loopback(&quota)).await, 200);
    }
    // The fifth request of five went before the reset: the next waits for the window.
    assert!(start.elapsed() < 10 * S, "{:?}", start.elapsed());
    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    let reset_at = start.elapsed();
    assert!(reset_at >= 10 * S && reset_at < 11 * S, "{reset_at:?}");
    assert_eq!((server.hits(path), server.throttled()), (6, 0));

    // After the reset of that new window, with no request since, the pace is over and the
    // next request goes at once (and starts a new pace).
    tokio::time::sleep(11 * S).await;
    assert_eq!(layer.pace_interval(&key), None);
    let before = Instant::now();
    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    assert_eq!(before.elapsed(), Duration::ZERO);
    assert!(layer.pace_interval(&key).is_some());
    assert_eq!(layer.tracked_paces(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_paced_key_does_not_slow_another() {
    let (a, b) = (TestServer::start().await.unwrap(), TestServer::start().await.unwrap());
    let layer = layer(true);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(client());
    let path = "/ratelimit?limit=2&window_ms=10000&key=a";
    let quota = a.url(path);
    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    assert!(layer.pace_interval(&origin(&a)).unwrap() >= 5 * S, "1 left for 10 s");

    // A's next request waits for its pace; B's go at once meanwhile.
    let paced = tokio::spawn({
        let (svc, quota) = (svc.clone(), quota.clone());
        async move { send(&svc, loopback(&quota)).await }
    });
    let start = Instant::now();
    for _ in 0..20 {
        assert_eq!(send(&svc, loopback(&b.url("/get"))).await, 200);
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "B waited");
    assert_eq!((b.hits("/get"), a.hits(path)), (20, 1));
    assert_eq!(layer.pace_interval(&origin(&b)), None);
    assert_eq!(paced.await.unwrap(), 200);
    assert!(start.elapsed() >= 5 * S);
    assert_eq!((a.hits(path), a.throttled()), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_paced_wait_past_the_deadline_fails_fast() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(layer(true)).service(client());
    let path = "/ratelimit?limit=3&window_ms=8000&key=deadline";
    let quota = server.url(path);
    assert_eq!(send(&svc, loopback(&quota)).await, 200); // 2 left for 8 s: one per 8/3 s

    let start = Instant::now();
    let mut req = loopback(&quota);
    Deadline::after(S).insert_into(&mut req);
    let err = svc.clone().oneshot(req).await.unwrap_err();
    let limited = rate_limited(&err);
    assert!(limited.is_paced() && !limited.is_cooldown(), "{limited}");
    assert!(limited.wait() >= 2666 * S / 1000, "{limited}");
    assert!(err.to_string().contains("paced to the server's remaining quota"), "{err}");
    assert_eq!((start.elapsed(), server.hits(path)), (Duration::ZERO, 1));
}

#[tokio::test(start_paused = true)]
async fn a_hostile_reset_is_capped_at_max_cooldown() {
    let server = TestServer::start().await.unwrap();
    let layer = layer(true);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(client());
    let key = origin(&server);

    // One left, for ten years (the parser clamps it to one: still a half-year gap): the
    // next request waits max_cooldown (60 s), not months.
    let one_left = "/response-headers?x-ratelimit-remaining=1&x-ratelimit-reset=315360000";
    assert_eq!(send(&svc, loopback(&server.url(one_left))).await, 200);
    assert_eq!(layer.pace_interval(&key), Some(60 * S));
    let start = Instant::now();
    assert_eq!(send(&svc, loopback(&server.url("/get"))).await, 200);
    assert_eq!(start.elapsed(), 60 * S);

    // Nothing left for ten years: one request a minute (cooldown and pace both capped).
    let none_left = "/response-headers?x-ratelimit-remaining=0&x-ratelimit-reset=315360000";
    assert_eq!(send(&svc, loopback(&server.url(none_left))).await, 200);
    let start = Instant::now();
    for minute in 1..=3 {
        assert_eq!(send(&svc, loopback(&server.url("/get"))).await, 200);
        assert_eq!(start.elapsed(), minute * 60 * S);
    }
    assert_eq!(server.hits("/get"), 4);

    // The server recovers: a reading of a new window (reset far earlier) replaces it.
    let fresh = "/response-headers?x-ratelimit-remaining=99&x-ratelimit-reset=10";
    assert_eq!(send(&svc, loopback(&server.url(fresh))).await, 200);
    assert_eq!(layer.pace_interval(&key), Some(100 * S / 1000));
}

#[tokio::test(start_paused = true)]
async fn a_pace_burst_goes_at_once_and_the_local_rate_still_binds() {
    // 99 left for 10 s after the first request: with a burst of 10, ten more go at once and
    // the twelfth waits for the pace.
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(layer(true).pace_burst(10)).service(client());
    let quota = server.url("/ratelimit?limit=100&window_ms=10000&key=burst");
    let start = Instant::now();
    for _ in 0..11 {
        assert_eq!(send(&svc, loopback(&quota)).await, 200);
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(send(&svc, loopback(&quota)).await, 200);
    assert!(start.elapsed() >= 100 * MS, "{:?}", start.elapsed());

    // The strictest wins: 2 per second locally is slower than the server's pace (100 ms).
    let server = TestServer::start().await.unwrap();
    let layer = RateLimitLayer::per_second(2).pace_from_quota(true);
    let svc = ServiceBuilder::new().layer(layer).service(client());
    let quota = server.url("/ratelimit?limit=100&window_ms=10000&key=gcra");
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(send(&svc, loopback(&quota)).await, 200);
    }
    assert_eq!(start.elapsed(), 2 * S);
}

/// An event's level and fields, as `Debug` text.
type Recorded = (Level, HashMap<String, String>);

/// The pacing events emitted while it is the default subscriber.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        if fields.get("message").is_some_and(|m| m.starts_with("rate limit pac")) {
            self.0.lock().unwrap().push((*event.metadata().level(), fields));
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(start_paused = true)]
async fn pacing_reports_its_start_at_info_and_each_held_request_at_debug() {
    let events = Events::default();
    let _guard = tracing::subscriber::set_default(events.clone());
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(layer(true)).service(client());
    let quota = server.url("/ratelimit?limit=3&window_ms=8000&key=events");
    for _ in 0..3 {
        assert_eq!(send(&svc, loopback(&quota)).await, 200);
    }
    let events = events.0.lock().unwrap().clone();
    let levels: Vec<Level> = events.iter().map(|(level, _)| *level).collect();
    assert_eq!(levels, [Level::INFO, Level::DEBUG, Level::DEBUG], "{events:?}");
    let key = origin(&server).to_string();
    let (_, started) = &events[0];
    assert_eq!((&started["key"], &started["remaining"]), (&key, &"2".to_owned()));
    assert!(started.contains_key("reset") && started.contains_key("interval"));
    let (_, held) = &events[1];
    assert_eq!((&held["key"], &held["remaining"]), (&key, &"2".to_owned()));
    assert!(held["wait"].starts_with("2.") && held.contains_key("reset"), "{held:?}");
    assert_eq!(events[2].1["remaining"], "1");
}
