//! Two clients, as two processes would be, keeping one quota through Redis.

use std::time::Duration;

use tokio::time::Instant;
use volley::Client;
use volley_ratelimit::RateLimitLayer;
use volley_ratelimit_redis::RedisBackend;
use volley_testserver::TestServer;
use volley_testserver::redis::RedisServer;

fn shared_limit(redis: &RedisServer, prefix: &str) -> RateLimitLayer {
    let backend = RedisBackend::builder(10, Duration::from_secs(1))
        .burst(2)
        .prefix(prefix)
        .build(&redis.url())
        .unwrap();
    RateLimitLayer::new(10, Duration::from_secs(1)).backend(backend)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_share_one_quota_through_redis() {
    let Some(redis) = RedisServer::start_or_skip("two_clients_share_one_quota_through_redis")
    else {
        return;
    };
    let server = TestServer::start().await.unwrap();
    let prefix = format!("volley-test-{}", std::process::id());
    let one = Client::builder().rate_limit_layer(shared_limit(&redis, &prefix)).build().unwrap();
    let two = Client::builder().rate_limit_layer(shared_limit(&redis, &prefix)).build().unwrap();

    // 12 requests, 6 from each client, against 10/s with a burst of 2 shared by both: the
    // last cannot start before (12 - 2) / 10 s = 1 s. Each client alone would be done
    // after (6 - 2) / 10 s = 0.4 s.
    let started = Instant::now();
    let calls = (0..12).map(|i| {
        let client = if i % 2 == 0 { one.clone() } else { two.clone() };
        let url = server.url("/get");
        async move { client.get(url).send().await.unwrap().bytes().await.unwrap() }
    });
    futures_util::future::join_all(calls).await;
    let elapsed = started.elapsed();
    assert_eq!(server.hits("/get"), 12);
    assert!(elapsed >= Duration::from_millis(950), "the quota was not shared: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}
