//! `--summary-json`, `-v` and `--fail-fast`, against a test server in this process.

mod common;

use common::{scratch_dir, volley};
use serde_json::{Value, json};
use volley_testserver::TestServer;

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_json_counts_what_the_server_saw() {
    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("summary-json");
    let file = dir.join("summary.json");
    let input = [
        server.url("/get?n=1"),
        server.url("/get?n=2"),
        server.url("/get?n=3"),
        server.url("/status/500?n=1"),
        server.url("/status/500?n=2"),
        server.url("/flaky/2?key=summary-json"),
    ]
    .join("\n");
    let args = ["fetch", "-q", "--retries", "2", "--summary-json", file.to_str().unwrap()];
    let run = volley(&args, &input).await;
    assert_eq!((run.code, run.stderr.as_str()), (1, ""), "--quiet: nothing on stderr");
    let summary = read_json(&file);

    // 3 × 1 + 2 × (1 + 2 retries) + 3 (two 503s, then 200).
    assert_eq!(server.total_hits(), 12);
    let numbers = |keys: &[&str]| keys.iter().map(|k| summary[*k].clone()).collect::<Vec<_>>();
    assert_eq!(
        numbers(&["requests", "sent", "attempts", "retries", "redirects"]),
        [json!(6), json!(6), json!(12), json!(6), json!(0)]
    );
    let bytes: u64 = run.records().iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    assert_eq!(summary["bytes"], bytes);
    assert_eq!(
        summary["outcomes"],
        json!({"ok": 4, "http_4xx": 0, "http_5xx": 2, "throttled": 0, "timeout": 0,
               "overloaded": 0, "connect": 0, "redirect": 0, "breaker_open": 0, "other": 0,
               "bad_input": 0})
    );
    assert_eq!(summary["throttled"], json!({"status_429": 0, "rate_limiter": 0}));
    assert_eq!(summary["timeouts"], json!({"attempt": 0, "total": 0}));
    // Every retry waited for backoff (no Retry-After on these answers).
    assert_eq!(summary["waits"]["backoff"]["count"], 6);
    assert_eq!(summary["waits"]["retry_after"], json!({"count": 0, "ms": 0}));
    assert_eq!(summary["waits"]["host_pauses"], 0);
    assert_eq!(summary["refused"]["max_retries"], 2);
    assert_eq!(summary["refused"]["budget"], 0);
    let latency = &summary["latency_ms"];
    let at = |q: &str| latency[q].as_f64().unwrap();
    assert!(at("p50") > 0.0 && at("p50") <= at("p90"), "{latency}");
    assert!(at("p90") <= at("p99") && at("p99") <= at("max"), "{latency}");
    let slowest =
        run.records().iter().map(|r| r["elapsed_ms"].as_f64().unwrap()).fold(0.0, f64::max);
    // hdrhistogram keeps three significant figures.
    assert!((at("max") - slowest).abs() <= slowest / 500.0, "{} vs {slowest}", at("max"));
    assert!(summary["wall_ms"].as_f64().unwrap() >= slowest, "{summary}");
    assert_eq!(summary["stopped"], Value::Null);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_starts_nothing_after_the_first_failure() {
    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("fail-fast");
    let file = dir.join("summary.json");
    let mut lines = vec![server.url("/get"), server.url("/status/500")];
    lines.extend((0..8).map(|i| server.url(&format!("/get?after={i}"))));
    let args = [
        "fetch",
        "--fail-fast",
        "--retries",
        "0",
        "--concurrency",
        "1",
        "--summary-json",
        file.to_str().unwrap(),
    ];
    let run = volley(&args, &lines.join("\n")).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let records: Vec<u64> = run.records().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(records, [1, 2]);
    assert_eq!((server.hits("/get"), server.hits("/status/500")), (1, 1));
    assert_eq!(server.total_hits(), 2, "of {} lines", lines.len());
    let summary = read_json(&file);
    assert_eq!((&summary["requests"], &summary["outcomes"]["http_5xx"]), (&json!(2), &json!(1)));
    assert_eq!(summary["stopped"], json!({"line": 2, "cancelled": 0}));
    assert!(
        run.stderr.contains(
            "stopped   --fail-fast: line 2 failed; 0 in flight cancelled, no new request started"
        ),
        "{}",
        run.stderr
    );

    // A request in flight when another fails is dropped: no record, counted as cancelled.
    server.reset_counters();
    let mut lines = vec![server.url("/delay/5000"), server.url("/status/503")];
    lines.extend((0..8).map(|i| server.url(&format!("/get?after={i}"))));
    let args = ["fetch", "-q", "--fail-fast", "--retries", "0", "--concurrency", "2"];
    let args = [&args[..], &["--summary-json", file.to_str().unwrap()]].concat();
    let run = volley(&args, &lines.join("\n")).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!((records[0]["line"].as_u64(), records[0]["status"].as_u64()), (Some(2), Some(503)));
    assert_eq!((server.hits("/get"), server.hits("/status/503")), (0, 1));
    let summary = read_json(&file);
    assert_eq!(summary["stopped"], json!({"line": 2, "cancelled": 1}));
    assert_eq!(summary["requests"], 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_lines_show_each_request_without_credentials() {
    let server = TestServer::start().await.unwrap();
    let port = server.addr().port();
    let input = [
        format!("http://user:secret@127.0.0.1:{port}/get?token=t0k3n"),
        server.url("/flaky/2?key=verbose"),
        server.url("/status/404"),
    ]
    .join("\n");
    let args = ["fetch", "-v", "-H", "Authorization: Bearer h34d3r", "--unordered", "-"];
    let run = volley(&args, &input).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    for secret in ["secret", "t0k3n", "h34d3r"] {
        assert!(!run.stdout.contains(secret), "{secret} on stdout: {}", run.stdout);
        assert!(!run.stderr.contains(secret), "{secret} on stderr: {}", run.stderr);
    }
    let line = |n: u32| {
        let prefix = format!("#{n} ");
        run.stderr.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| {
            panic!("no line for #{n}: {}", run.stderr);
        })
    };
    let first = format!(
        "#1 GET http://[redacted]@127.0.0.1:{port}/get?token=[redacted] → 200 after 1 attempt in "
    );
    assert!(line(1).starts_with(&first), "{}", line(1));
    // `key` is on volley_core::redact's list of secret query parameters.
    let flaky = format!(
        "#2 GET http://127.0.0.1:{port}/flaky/2?key=[redacted] → 200 after 3 attempts (backoff 2 \
         waits "
    );
    assert!(line(2).starts_with(&flaky), "{}", line(2));
    assert!(line(3).ends_with(": HTTP 404 Not Found"), "{}", line(3));
    // One line per request, then the summary.
    assert_eq!(run.stderr.lines().filter(|l| l.starts_with('#')).count(), 3);
    assert_eq!(server.hits("/flaky/2"), 3);
}

/// The waits, pauses and refusals come from the layers' metrics: a 429 with a one-second
/// Retry-After pauses the host in the rate limiter and makes the retry wait for the hint;
/// a 503 answered twice uses up the one retry after a backoff wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_refused_requests_are_counted_by_cause() {
    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("summary-json-throttled");
    let file = dir.join("summary.json");
    let input =
        [server.url("/retry-after/1?times=1&key=throttled"), server.url("/status/503")].join("\n");
    let args = ["fetch", "-v", "--retries", "1", "--rate", "1000", "--summary-json"];
    let args = [&args[..], &[file.to_str().unwrap(), "-"]].concat();
    let run = volley(&args, &input).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!((server.hits("/retry-after/1"), server.hits("/status/503")), (2, 2));
    let summary = read_json(&file);
    assert_eq!((&summary["attempts"], &summary["retries"]), (&json!(4), &json!(2)), "{summary}");
    let waits = &summary["waits"];
    assert_eq!(waits["retry_after"]["count"], 1, "{summary}");
    let hint_ms = waits["retry_after"]["ms"].as_u64().unwrap();
    assert!((1000..=1100).contains(&hint_ms), "{summary}");
    assert_eq!(waits["backoff"]["count"], 1, "{summary}");
    assert_eq!((&waits["host_pauses"], &waits["host_pauses_on_quota"]), (&json!(1), &json!(0)));
    let longest = waits["longest_host_pause_ms"].as_f64().unwrap();
    assert!((1000.0..=1100.0).contains(&longest), "{summary}");
    assert_eq!(summary["refused"]["max_retries"], 1, "{summary}");
    assert_eq!(summary["refused"]["budget"], 0);
    // Per request, for -v: the same signals, found through the request's task.
    assert!(run.stderr.contains("after 2 attempts (Retry-After 1 wait"), "{}", run.stderr);
    assert!(run.stderr.contains("→ 503 after 2 attempts (backoff 1 wait"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(dir);
}
