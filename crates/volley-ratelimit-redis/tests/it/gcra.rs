//! The script's arithmetic, against a real Redis (its clock is real time, so the waits
//! are checked against the interval with the few milliseconds a round trip can take).

use std::time::Duration;

use volley_core::Key;
use volley_ratelimit::Acquire;
use volley_ratelimit_redis::RedisBackend;
use volley_ratelimit_redis::redis::{self, AsyncCommands};

use crate::common::{admin, backend, redis, resolve};

/// A round trip on loopback and the script, with room for a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(15);

fn wait_of(answer: &Acquire) -> Duration {
    match answer {
        Acquire::Wait(wait) => *wait,
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bucket_gives_the_burst_then_one_token_per_interval() {
    let Some(redis) = redis("a_full_bucket_gives_the_burst_then_one_token_per_interval") else {
        return;
    };
    // 10 per second: one token every 100 ms, 5 at once.
    let backend = backend(&redis, RedisBackend::builder(10, Duration::from_secs(1)).burst(5)).await;
    let key = Key::new("https://api.example.com");
    for i in 0..5 {
        assert!(matches!(resolve(&backend, &key).await.unwrap(), Acquire::Ready), "token {i}");
    }
    // The sixth is due one interval after the first, less the time the five took.
    let wait = wait_of(&resolve(&backend, &key).await.unwrap());
    assert!(
        wait <= Duration::from_millis(100) && wait >= Duration::from_millis(100) - SLACK,
        "{wait:?}"
    );
    // A refusal takes nothing: asking again gives (almost) the same wait.
    let again = wait_of(&resolve(&backend, &key).await.unwrap());
    assert!(again <= wait && again >= wait - SLACK, "{again:?} after {wait:?}");

    tokio::time::sleep(wait).await;
    assert!(matches!(resolve(&backend, &key).await.unwrap(), Acquire::Ready));
    let wait = wait_of(&resolve(&backend, &key).await.unwrap());
    assert!(
        wait <= Duration::from_millis(100) && wait >= Duration::from_millis(100) - SLACK,
        "{wait:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_can_cost_several_tokens() {
    let Some(redis) = redis("a_request_can_cost_several_tokens") else { return };
    // 100 per second (10 ms a token), burst 6, 3 tokens a request: 2 at once, then one
    // request every 30 ms.
    let builder = RedisBackend::builder(100, Duration::from_secs(1)).burst(6).cost(3);
    let backend = backend(&redis, builder).await;
    let key = Key::new("batch");
    assert!(matches!(resolve(&backend, &key).await.unwrap(), Acquire::Ready));
    assert!(matches!(resolve(&backend, &key).await.unwrap(), Acquire::Ready));
    let wait = wait_of(&resolve(&backend, &key).await.unwrap());
    assert!(
        wait <= Duration::from_millis(30) && wait >= Duration::from_millis(30) - SLACK,
        "{wait:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_namespaced_and_expire_when_the_bucket_is_full_again() {
    let Some(redis) = redis("keys_are_namespaced_and_expire_when_the_bucket_is_full_again") else {
        return;
    };
    let builder = RedisBackend::builder(1, Duration::from_secs(2)).burst(3).prefix("tenant-a");
    let backend = backend(&redis, builder).await;
    let key = Key::new("https://api.example.com");
    assert_eq!(backend.bucket_key(&key), "tenant-a:{https://api.example.com}:tat");
    assert_eq!(backend.cooldown_key(&key), "tenant-a:{https://api.example.com}:cd");
    resolve(&backend, &key).await.unwrap();
    let mut conn = admin(&redis).await;
    // One token of three taken: full again in one interval (2 s), and the key goes then.
    let ttl: i64 = conn.pttl(backend.bucket_key(&key)).await.unwrap();
    assert!((2000 - 50..=2000).contains(&ttl), "{ttl}");
    resolve(&backend, &key).await.unwrap();
    let ttl: i64 = conn.pttl(backend.bucket_key(&key)).await.unwrap();
    assert!((4000 - 50..=4000).contains(&ttl), "{ttl}");
    // The bucket's value is the theoretical arrival time, microseconds on Redis's clock.
    let tat: u64 = conn.get(backend.bucket_key(&key)).await.unwrap();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let now = secs * 1_000_000 + micros;
    assert!(tat > now + 3_900_000 && tat <= now + 4_000_000, "tat {tat}, now {now}");

    // Another prefix is another quota.
    let other = crate::common::backend(
        &redis,
        RedisBackend::builder(1, Duration::from_secs(2)).burst(1).prefix("tenant-b"),
    )
    .await;
    assert!(matches!(resolve(&other, &key).await.unwrap(), Acquire::Ready));
    let keys: Vec<String> = conn.keys("tenant-*").await.unwrap();
    assert_eq!(keys.len(), 4, "{keys:?}"); // each prefix: the key and `warm-up`
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_backends_on_two_connections_share_one_bucket() {
    let Some(redis) = redis("two_backends_on_two_connections_share_one_bucket") else { return };
    let builder = RedisBackend::builder(1, Duration::from_secs(60)).burst(4);
    let (a, b) = (backend(&redis, builder.clone()).await, backend(&redis, builder).await);
    let key = Key::new("https://shared.example");
    let mut ready = [0, 0];
    for _ in 0..5 {
        for (i, backend) in [&a, &b].into_iter().enumerate() {
            if matches!(resolve(backend, &key).await.unwrap(), Acquire::Ready) {
                ready[i] += 1;
            }
        }
    }
    // Four tokens in all, taken in turns: the fifth and later wait for the next minute.
    assert_eq!(ready, [2, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_script_gets_it_by_eval_once() {
    let Some(redis) = redis("a_server_without_the_script_gets_it_by_eval_once") else { return };
    let backend =
        backend(&redis, RedisBackend::builder(1000, Duration::from_secs(1)).burst(10)).await;
    let mut conn = admin(&redis).await;
    let () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
    let () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut conn).await.unwrap();
    let key = Key::new("k");
    for _ in 0..3 {
        assert!(matches!(resolve(&backend, &key).await.unwrap(), Acquire::Ready));
    }
    let stats: String =
        redis::cmd("INFO").arg("commandstats").query_async(&mut conn).await.unwrap();
    let calls = |command: &str| -> (u64, u64) {
        let line = stats.lines().find(|l| l.starts_with(&format!("cmdstat_{command}:")));
        let field = |name: &str| {
            line.and_then(|l| l.split([':', ',']).find_map(|f| f.strip_prefix(name)))
                .map_or(0, |v| v.parse().unwrap())
        };
        (field("calls="), field("failed_calls="))
    };
    // Three EVALSHAs, the first refused with NOSCRIPT; one EVAL, which cached the script.
    assert_eq!(calls("evalsha"), (3, 1), "{stats}");
    assert_eq!(calls("eval"), (1, 0), "{stats}");
}
