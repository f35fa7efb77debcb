//! Helpers: a Redis per test, backends on it, and a loop that acts like the layer.

use std::time::Duration;

use tokio::time::Instant;
use volley_core::{BoxError, Key};
use volley_ratelimit::{Acquire, Backend};
use volley_ratelimit_redis::redis::aio::ConnectionManager;
use volley_ratelimit_redis::{RedisBackend, RedisBackendBuilder, RedisUnavailable};
use volley_testserver::redis::RedisServer;

/// A fresh `redis-server`, or `None` (the test returns) outside CI without one.
pub(crate) fn redis(test: &str) -> Option<RedisServer> {
    RedisServer::start_or_skip(test)
}

/// A plain connection for looking at (and breaking) the server from the test.
pub(crate) async fn admin(redis: &RedisServer) -> ConnectionManager {
    let client = volley_ratelimit_redis::redis::Client::open(redis.url()).unwrap();
    ConnectionManager::new(client).await.unwrap()
}

/// A backend on `redis` with `prefix`; connected, scripts loaded.
pub(crate) async fn backend(redis: &RedisServer, builder: RedisBackendBuilder) -> RedisBackend {
    let backend = builder.build(&redis.url()).unwrap();
    // The first answer proves the connection is up (the warm-up may still be connecting).
    for _ in 0..100 {
        let answer = resolve(&backend, &Key::new("warm-up")).await;
        if let Ok(Acquire::Ready | Acquire::Wait(_)) = answer
            && !backend.is_down()
        {
            return backend;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the backend never reached redis at {}", redis.url());
}

/// `acquire`, with a pending answer awaited.
pub(crate) async fn resolve(backend: &RedisBackend, key: &Key) -> Result<Acquire, BoxError> {
    match backend.acquire(key) {
        Acquire::Pending(answer) => answer.await,
        other => Ok(other),
    }
}

/// What [`drive`] saw.
#[derive(Debug, Default)]
pub(crate) struct Drive {
    /// Tokens taken.
    pub(crate) ready: u64,
    /// `RedisUnavailable` errors (fail-closed).
    pub(crate) unavailable: u64,
    /// Known-outage errors among them (Redis not even asked).
    pub(crate) known_outage: u64,
    /// The longest one `acquire` took to answer (not counting sleeps for tokens).
    pub(crate) slowest: Duration,
}

/// Acquires `key` for `run` as one eager client would: sleeps when told to wait, and
/// 5 ms after an error.
pub(crate) async fn drive(backend: &RedisBackend, key: &Key, run: Duration) -> Drive {
    let mut seen = Drive::default();
    let end = Instant::now() + run;
    while Instant::now() < end {
        let asked = Instant::now();
        let answer = resolve(backend, key).await;
        seen.slowest = seen.slowest.max(asked.elapsed());
        match answer {
            Ok(Acquire::Ready) => seen.ready += 1,
            Ok(Acquire::Wait(wait)) => {
                tokio::time::sleep(wait.min(end.saturating_duration_since(Instant::now()))).await;
            }
            Ok(Acquire::Pending(_)) => panic!("a resolved answer is never pending"),
            Err(err) => {
                let Some(unavailable) = volley_core::find_cause::<RedisUnavailable>(&*err) else {
                    panic!("unexpected error: {err}");
                };
                seen.unavailable += 1;
                seen.known_outage += u64::from(unavailable.is_known_outage());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    seen
}
