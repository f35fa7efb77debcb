//! Cooldowns shared through Redis: set by one backend, seen by another.

use std::time::Duration;

use tokio::time::Instant;
use volley_core::Key;
use volley_ratelimit::{Acquire, Backend};
use volley_ratelimit_redis::RedisBackend;
use volley_ratelimit_redis::redis::AsyncCommands;
use volley_ratelimit_redis::redis::aio::ConnectionManager;

use crate::common::{admin, backend, redis, resolve};

/// Waits (at most 1 s) until the background write of a cooldown reached Redis; its PTTL.
async fn shared_pttl(conn: &mut ConnectionManager, name: &str) -> i64 {
    for _ in 0..100 {
        let ttl: i64 = conn.pttl(name).await.unwrap();
        if ttl > 0 {
            return ttl;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the cooldown {name} never reached redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_set_by_one_backend_pauses_the_others_capped_and_never_shortened() {
    let Some(redis) = redis("a_cooldown_set_by_one_backend_pauses_the_others") else { return };
    let builder = RedisBackend::builder(100, Duration::from_secs(1)).burst(10);
    let a = backend(&redis, builder.clone().max_cooldown(Duration::from_secs(3))).await;
    let b = backend(&redis, builder).await;
    let (key, other) = (Key::new("https://api.example.com"), Key::new("https://other.example"));
    let mut conn = admin(&redis).await;

    a.cool_down(&key, Instant::now() + Duration::from_secs(2));
    // Here at once, without Redis.
    let left = a.cooldown_remaining(&key).unwrap();
    assert!(left > Duration::from_millis(1990), "{left:?}");
    let ttl = shared_pttl(&mut conn, &a.cooldown_key(&key)).await;
    assert!((1900..=2000).contains(&ttl), "{ttl}");

    // The other backend learns it from the script, and then remembers it.
    match resolve(&b, &key).await.unwrap() {
        Acquire::Wait(wait) => {
            assert!(
                wait > Duration::from_millis(1850) && wait <= Duration::from_secs(2),
                "{wait:?}"
            )
        }
        other => panic!("expected the cooldown, got {other:?}"),
    }
    assert!(b.cooldown_remaining(&key).is_some());
    assert!(matches!(resolve(&b, &other).await.unwrap(), Acquire::Ready));

    // A shorter cooldown does not shorten it; a longer one is cut to `max_cooldown` (3 s).
    a.cool_down(&key, Instant::now() + Duration::from_millis(500));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ttl: i64 = conn.pttl(a.cooldown_key(&key)).await.unwrap();
    assert!((1800..=2000).contains(&ttl), "{ttl}");
    a.cool_down(&key, Instant::now() + Duration::from_secs(3600));
    let left = a.cooldown_remaining(&key).unwrap();
    assert!(left <= Duration::from_secs(3) && left > Duration::from_millis(2990), "{left:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ttl: i64 = conn.pttl(a.cooldown_key(&key)).await.unwrap();
    assert!((2800..=3000).contains(&ttl), "{ttl}");
}
