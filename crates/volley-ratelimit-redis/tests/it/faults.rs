//! Redis killed, restarted and slow: every answer within the timeout, the failure policy
//! applied, and shared limiting back without a restart.

use std::time::Duration;

use tokio::time::Instant;
use volley_core::Key;
use volley_ratelimit::Acquire;
use volley_ratelimit_redis::redis;
use volley_ratelimit_redis::{FailurePolicy, RedisBackend, RedisUnavailable};

use crate::common::{admin, backend, drive, redis, resolve};

const TIMEOUT: Duration = Duration::from_millis(50);
/// What a loaded 2-core machine may add to a timer firing on time.
const LATE: Duration = Duration::from_millis(30);

fn builder(policy: FailurePolicy) -> volley_ratelimit_redis::RedisBackendBuilder {
    // 100 per second shared, burst 4; alone, half: 50 per second, burst 2.
    RedisBackend::builder(100, Duration::from_secs(1))
        .burst(4)
        .timeout(TIMEOUT)
        .probe_interval(Duration::from_millis(200))
        .failure_policy(policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_fails_open_at_the_local_share_and_resumes_when_restarted() {
    let Some(mut redis) = redis("killed_redis_fails_open_at_the_local_share") else { return };
    let backend = backend(&redis, builder(FailurePolicy::FailOpen { share: 0.5 })).await;
    let key = Key::new("https://api.example.com");

    // Shared: 4 at once, then 100 per second.
    let up = drive(&backend, &key, Duration::from_millis(500)).await;
    assert!((52..=55).contains(&up.ready), "{up:?}"); // 4 + 50, less the odd late wake-up
    assert!(up.slowest < TIMEOUT, "{up:?}");

    redis.kill();
    let down = drive(&backend, &key, Duration::from_secs(1)).await;
    // Alone: the local bucket, 2 at once then 50 per second: 52 in the second, less up to
    // 2.5 tokens (50 ms) while the first request found out about the outage.
    assert!((49..=52).contains(&down.ready), "{down:?}");
    assert!(down.slowest <= TIMEOUT + LATE, "{down:?}");
    assert_eq!(down.unavailable, 0);
    assert!(backend.is_down());
    assert_eq!(backend.outages(), 1);

    redis.restart().unwrap();
    let restarted = Instant::now();
    while backend.is_down() {
        assert!(restarted.elapsed() < Duration::from_secs(3), "still down after 3s");
        resolve(&backend, &key).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Shared again: a second backend and this one draw on one bucket (the restarted
    // Redis is empty: a full bucket of 4).
    let other = crate::common::backend(&redis, builder(FailurePolicy::FailClosed)).await;
    let fresh = Key::new("https://fresh.example");
    let mut ready = 0;
    for _ in 0..4 {
        for backend in [&backend, &other] {
            ready += u32::from(matches!(resolve(backend, &fresh).await.unwrap(), Acquire::Ready));
        }
    }
    assert_eq!(ready, 4);
    assert_eq!(backend.outages(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_fails_closed_with_typed_errors_on_time() {
    let Some(mut redis) = redis("killed_redis_fails_closed_with_typed_errors_on_time") else {
        return;
    };
    let backend = backend(&redis, builder(FailurePolicy::FailClosed)).await;
    let key = Key::new("https://api.example.com");
    redis.kill();

    let asked = Instant::now();
    let err = resolve(&backend, &key).await.unwrap_err();
    assert!(asked.elapsed() <= TIMEOUT + LATE, "{:?}", asked.elapsed());
    assert!(volley_core::find_cause::<volley_core::NotSent>(&*err).is_some(), "marked not sent");
    let unavailable = volley_core::find_cause::<RedisUnavailable>(&*err).unwrap();
    assert_eq!(unavailable.key(), &key);
    assert!(!unavailable.is_known_outage());
    let outcome = volley_ratelimit_redis::classify_error(&http::Method::POST, &*err);
    assert_eq!(outcome, Some(volley_classify::Outcome::NotSent));

    let down = drive(&backend, &key, Duration::from_millis(500)).await;
    assert_eq!(down.ready, 0, "{down:?}");
    assert!(down.unavailable >= 50, "{down:?}"); // one every 5 ms, give or take timers
    // No request asked Redis: the outage was known, pings run in the background.
    assert_eq!(down.unavailable, down.known_outage, "{down:?}");
    assert!(down.slowest <= TIMEOUT + LATE, "{down:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_fails_open_or_closed_within_the_timeout() {
    let Some(redis) = redis("a_slow_redis_fails_open_or_closed_within_the_timeout") else {
        return;
    };
    let open = backend(&redis, builder(FailurePolicy::FailOpen { share: 0.5 })).await;
    let closed = backend(&redis, builder(FailurePolicy::FailClosed)).await;
    let key = Key::new("https://api.example.com");

    // Redis answers nothing for 400 ms.
    let mut conn = admin(&redis).await;
    let sleeper = tokio::spawn(async move {
        redis::cmd("DEBUG").arg("SLEEP").arg(0.4).query_async::<()>(&mut conn).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let asked = Instant::now();
    let err = resolve(&closed, &key).await.unwrap_err();
    let took = asked.elapsed();
    assert!(took >= TIMEOUT && took <= TIMEOUT + LATE, "{took:?}");
    assert!(volley_core::find_cause::<RedisUnavailable>(&*err).unwrap().is_timeout(), "{err}");

    let asked = Instant::now();
    let answer = resolve(&open, &key).await.unwrap();
    let took = asked.elapsed();
    assert!(matches!(answer, Acquire::Ready), "{answer:?}");
    assert!(took >= TIMEOUT && took <= TIMEOUT + LATE, "{took:?}");
    // During the outage no request waits for Redis.
    let asked = Instant::now();
    assert!(matches!(resolve(&open, &key).await.unwrap(), Acquire::Ready));
    assert!(asked.elapsed() < Duration::from_millis(5), "{:?}", asked.elapsed());

    sleeper.await.unwrap().unwrap();
    // Awake again: the next probe ends the outage.
    let woke = Instant::now();
    while open.is_down() {
        assert!(woke.elapsed() < Duration::from_secs(2), "still down after 2s");
        resolve(&open, &key).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((open.outages(), closed.outages()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn with_redis_unreachable_fail_open_paces_at_the_share_on_paused_time() {
    // Nothing listens on port 1: every probe fails, so the local bucket paces alone.
    // 100 per second, burst 8, share 1/4: 25 per second (one per 40 ms), burst 2.
    let backend = RedisBackend::builder(100, Duration::from_secs(1))
        .burst(8)
        .failure_policy(FailurePolicy::FailOpen { share: 0.25 })
        .build("redis://127.0.0.1:1/0")
        .unwrap();
    // The first request finds out (within the timeout) and goes on the local bucket.
    assert!(matches!(resolve(&backend, &Key::new("first")).await.unwrap(), Acquire::Ready));
    assert!(backend.is_down());
    let seen = drive(&backend, &Key::new("k"), Duration::from_secs(10)).await;
    // In [0, 10 s): 2 at once, then one at each 40 ms up to 9.96 s.
    assert_eq!(seen.ready, 2 + 249, "{seen:?}");
    assert_eq!(seen.slowest, Duration::ZERO, "{seen:?}");
    assert_eq!(backend.outages(), 1);
}
