//! `--breaker`, `--hedge`, `--adaptive` and `--pace-quota`, against a test server in this
//! process (wall-clock time: these runs are short and assert counts, not durations).

mod common;

use common::{assert_one_line_usage_error, volley};
use volley_testserver::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_stops_sending_to_a_down_host() {
    let server = TestServer::start().await.unwrap();
    let input = vec![server.url("/status/503"); 8].join("\n");
    let args = ["fetch", "--breaker", "failures=3,open=1m", "--retries", "0", "--concurrency", "1"];
    let run = volley(&args, &input).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(server.hits("/status/503"), 3, "three failures open the circuit");
    let kinds: Vec<String> = run
        .records()
        .iter()
        .map(|r| r["error"]["kind"].as_str().unwrap_or("-").to_owned())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "breaker_open").count(), 5, "{kinds:?}");
    assert!(run.stderr.contains("breaker open 5"), "{}", run.stderr);
    assert!(run.stderr.contains("breaker   opened 1 times · refused 5 requests"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_hedge_races_the_slow_answer() {
    let server = TestServer::start().await.unwrap();
    // Every second request of the key takes 3 s; its hedge, 200 ms later, is fast.
    let url = server.url("/tail?every=2&slow_ms=3000&key=cli");
    let input = vec![url; 12].join("\n");
    let args = ["fetch", "--hedge", "200ms,budget=100%", "--concurrency", "1"];
    let run = volley(&args, &input).await;
    assert_eq!(run.code, 0, "{run:?}");
    let slowest =
        run.records().iter().map(|r| r["elapsed_ms"].as_f64().unwrap()).fold(0.0, f64::max);
    assert!(slowest < 2500.0, "no request waited for a slow answer: {slowest} ms");
    let hedges = server.hits("/tail") - 12;
    assert!(hedges >= 5, "{hedges} hedges");
    assert!(run.stderr.contains("hedging   "), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{hedges} hedges sent for 12 requests")),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn specs_are_checked_and_bare_flags_work() {
    let run = volley(&["fetch", "--adaptive", "min=9,max=3"], "").await;
    assert_one_line_usage_error(&run, "min=9 is above max=3");
    let run = volley(&["fetch", "--hedge", "p100"], "").await;
    assert_one_line_usage_error(&run, "p100");

    let server = TestServer::start().await.unwrap();
    let input = vec![server.url("/ratelimit?limit=100&window_ms=60000&key=bare"); 5].join("\n");
    let args = ["fetch", "-q", "--breaker", "--adaptive", "--hedge", "--pace-quota"];
    let run = volley(&args, &input).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.records().len(), 5);
    assert_eq!(server.throttled(), 0);
}
