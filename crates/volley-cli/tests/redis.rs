//! `--redis`: several `volley fetch` processes share one `--rate` through Redis, and the
//! flags' usage errors never show the URL's password.
//!
//! The two-process test needs `redis-server`: without it the test is skipped with a note on
//! stderr, except in CI (`CI` set), where it fails.

mod common;

use std::time::Duration;

use common::{Run, assert_one_line_usage_error, finish, spawn, volley};
use tokio::time::Instant;
use volley_testserver::TestServer;
use volley_testserver::redis::RedisServer;

/// Lines per process, and the rate and burst the processes share.
const LINES: usize = 10;
const RATE: &str = "10/s";
const BURST: &str = "2";

/// Starts two `volley fetch` processes at once, each with [`LINES`] lines of `/get` at
/// `--rate 10/s --burst 2` in Redis under its own `--redis-prefix`, and waits for both.
/// Returns their runs, and when the later one ended, from just before both were spawned.
async fn two_processes(
    server: &TestServer,
    redis: &str,
    prefixes: [&str; 2],
) -> ([Run; 2], Duration) {
    let input: String = (0..LINES).map(|i| server.url(&format!("/get?i={i}")) + "\n").collect();
    let args = |prefix| {
        [
            "fetch",
            "-q",
            "--concurrency",
            "10",
            "--rate",
            RATE,
            "--burst",
            BURST,
            "--redis",
            redis,
            "--redis-prefix",
            prefix,
            // A generous timeout, and failing closed: a Redis that does not answer makes
            // requests fail loudly instead of quietly going faster on a local bucket.
            "--redis-timeout",
            "2s",
            "--redis-fail",
            "closed",
            "-",
        ]
    };
    let (args_a, args_b) = (args(prefixes[0]), args(prefixes[1]));
    let started = Instant::now();
    let (a, b) = (spawn(&args_a), spawn(&args_b));
    let timed = |child| {
        let input = input.clone();
        async move {
            let run = finish(child, &input).await;
            (run, started.elapsed())
        }
    };
    let ((run_a, ended_a), (run_b, ended_b)) = tokio::join!(timed(a), timed(b));
    ([run_a, run_b], ended_a.max(ended_b))
}

/// Checks that every line got a 200 in one attempt, and returns the process's own span:
/// from its first request's start to its last response's end, as its records tell.
fn span_of(run: &Run) -> Duration {
    assert_eq!(run.code, 0, "{run:?}");
    let records = run.records();
    assert_eq!(records.len(), LINES, "{run:?}");
    assert!(records.iter().all(|r| r["status"] == 200 && r["attempts"] == 1), "{run:?}");
    let starts = records.iter().map(|r| r["start_ms"].as_f64().unwrap());
    let ends =
        records.iter().map(|r| r["start_ms"].as_f64().unwrap() + r["elapsed_ms"].as_f64().unwrap());
    let first = starts.fold(f64::INFINITY, f64::min);
    let last = ends.fold(0.0, f64::max);
    Duration::from_secs_f64((last - first).max(0.0) / 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_with_one_redis_prefix_share_one_rate() {
    let Some(redis) =
        RedisServer::start_or_skip("two_processes_with_one_redis_prefix_share_one_rate")
    else {
        return;
    };
    let server = TestServer::start().await.unwrap();
    let unique = format!("volley-cli-test-{}", std::process::id());

    // The control: with a prefix each, every process has its own 10/s. Alone, 10 requests
    // with a burst of 2 need (10 - 2) / 10 = 0.8 s.
    let (own_a, own_b) = (format!("{unique}-a"), format!("{unique}-b"));
    let (runs, wall) = two_processes(&server, &redis.url(), [&own_a, &own_b]).await;
    for run in &runs {
        let span = span_of(run);
        assert!(span >= Duration::from_millis(750), "alone, 10 requests took {span:?}");
        assert!(span < Duration::from_millis(1500), "alone, 10 requests took {span:?}");
    }
    assert!(wall < Duration::from_secs(15), "the control took {wall:?}");
    assert_eq!(server.total_hits(), 2 * LINES as u64);

    // One prefix: 20 requests through one bucket of 10/s with a burst of 2. The 20th cannot
    // start before (20 - 2) / 10 = 1.8 s after the first (on Redis's clock), and the first
    // started after both processes were spawned.
    let shared = format!("{unique}-shared");
    let (runs, wall) = two_processes(&server, &redis.url(), [&shared, &shared]).await;
    for run in &runs {
        span_of(run);
    }
    assert_eq!(server.total_hits(), 4 * LINES as u64);
    assert!(wall >= Duration::from_millis(1700), "20 shared requests ended after {wall:?}");
    assert!(wall < Duration::from_secs(15), "20 shared requests took {wall:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flags_are_refused_in_one_line_without_the_password() {
    let secret = "redis://:s3cr3t@127.0.0.1:1/";
    let cases: [(&[&str], &str); 9] = [
        (&["fetch", "--redis", "redis://127.0.0.1:1/", "-"], "--rate"),
        (&["fetch", "--redis", secret, "-"], "--rate"),
        (&["fetch", "--rate", "5/s", "--redis", "not-a-url", "-"], "cannot use --redis not-a-url"),
        (
            &["fetch", "--rate", "5/s", "--redis", "redis://:s3cr3t@127.0.0.1:1/db", "-"],
            "cannot use --redis redis://[redacted]@127.0.0.1:1/db: ",
        ),
        (&["fetch", "--rate", "5/s", "--redis", "redis//:s3cr3t@h", "-"], "URL not shown"),
        (&["fetch", "--rate", "5/s", "--redis-prefix", "p", "-"], "--redis"),
        (
            &[
                "fetch",
                "--rate",
                "5/s",
                "--redis",
                secret,
                "--redis-fail",
                "closed",
                "--redis-share",
                "0.5",
                "-",
            ],
            "--redis-share applies only with --redis-fail open",
        ),
        (&["fetch", "--rate", "5/s", "--redis", secret, "--redis-share", "2", "-"], "at most 1"),
        // Redis's clock counts microseconds.
        (
            &["fetch", "--rate", "1000000000/s", "--redis", secret, "-"],
            "faster than one per microsecond",
        ),
    ];
    for (args, mentions) in cases {
        let run = volley(args, "").await;
        assert_one_line_usage_error(&run, mentions);
        assert!(!run.stderr.contains("s3cr3t"), "{args:?}: {}", run.stderr);
    }
}

/// Nothing listens on port 1: fail-open goes on at the local share and says so once, at the
/// end; fail-closed refuses the requests unsent. Neither shows the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_open_or_closed_and_says_so() {
    let server = TestServer::start().await.unwrap();
    let input: String = (0..3).map(|i| server.url(&format!("/get?i={i}")) + "\n").collect();
    let redis = "redis://:s3cr3t@127.0.0.1:1/0";

    let open = ["fetch", "-q", "--rate", "100/s", "--burst", "3", "--redis", redis, "-"];
    let run = volley(&open, &input).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.records().iter().all(|r| r["status"] == 200), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "volley: the rate limit store at --redis redis://[redacted]@127.0.0.1:1/0 stopped \
             answering"
        ) && run.stderr.contains("went on alone at 1 of --rate (--redis-fail open)"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("s3cr3t"), "{run:?}");
    assert_eq!(server.total_hits(), 3);

    let closed = [&open[..8], &["--redis-fail", "closed", "--retries", "0", "-"]].concat();
    let run = volley(&closed, &input).await;
    assert_eq!(run.code, 1, "{run:?}");
    for record in run.records() {
        assert!(record["status"].is_null(), "{record}");
        let message = record["error"]["message"].as_str().unwrap();
        assert!(message.contains("rate limit store unavailable"), "{message}");
    }
    assert!(run.stderr.contains("refused without being sent (--redis-fail closed)"), "{run:?}");
    assert!(!run.stdout.contains("s3cr3t") && !run.stderr.contains("s3cr3t"), "{run:?}");
    assert_eq!(server.total_hits(), 3, "nothing was sent");
}
