//! One `RedisBackend` acquire against a loopback `redis-server`: latency (p50, p99) of
//! sequential acquires, and acquires per second with many concurrent keys.
//!
//! `cargo bench -p volley-ratelimit-redis --bench acquire` (needs `redis-server` on PATH).

#![allow(clippy::print_stdout, reason = "a bench reports its figures")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;
use volley_core::Key;
use volley_ratelimit::{Acquire, Backend};
use volley_ratelimit_redis::RedisBackend;
use volley_testserver::redis::RedisServer;

async fn acquire(backend: &RedisBackend, key: &Key) {
    let answer = match backend.acquire(key) {
        Acquire::Pending(answer) => answer.await,
        other => Ok(other),
    };
    assert!(matches!(answer, Ok(Acquire::Ready)), "{answer:?}");
}

fn main() {
    let Some(redis) = RedisServer::start_or_skip("bench acquire") else { return };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        // A quota no run reaches: every acquire takes a token and answers Ready.
        let backend = RedisBackend::builder(1_000_000, Duration::from_secs(1))
            .burst(1_000_000)
            .timeout(Duration::from_secs(1))
            .build(&redis.url())
            .unwrap();
        let key = Key::new("https://api.example.com");
        for _ in 0..2_000 {
            acquire(&backend, &key).await;
        }

        let mut latency = Histogram::<u64>::new(3).unwrap();
        for _ in 0..20_000 {
            let start = Instant::now();
            acquire(&backend, &key).await;
            latency.record(start.elapsed().as_nanos() as u64).unwrap();
        }
        let us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "one acquire, sequential, one key: p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs, max {:.0} µs",
            us(0.5),
            us(0.99),
            us(0.999),
            latency.max() as f64 / 1000.0
        );

        for concurrency in [16, 64, 256] {
            let keys: Arc<Vec<Key>> =
                Arc::new((0..10_000).map(|i| Key::new(format!("https://host-{i}.example"))).collect());
            let done = Arc::new(AtomicU64::new(0));
            let run = Duration::from_secs(3);
            let end = Instant::now() + run;
            let mut tasks = tokio::task::JoinSet::new();
            for task in 0..concurrency {
                let (backend, keys, done) = (backend.clone(), keys.clone(), done.clone());
                tasks.spawn(async move {
                    let mut i = task * 7919;
                    while Instant::now() < end {
                        i = (i + 1) % keys.len();
                        acquire(&backend, &keys[i]).await;
                        done.fetch_add(1, Relaxed);
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
            let per_second = done.load(Relaxed) as f64 / run.as_secs_f64();
            println!(
                "{concurrency} concurrent acquires over 10,000 keys: {per_second:.0} acquires/s"
            );
        }
    });
}
