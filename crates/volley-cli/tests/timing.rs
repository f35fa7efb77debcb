//! The two runs that take seconds, in one file so that they run side by side: the rate
//! limit as the user sees it (wall clock), and the demo.

mod common;

use std::time::Duration;

use common::{finish, spawn, volley};
use tokio::time::Instant;
use volley_testserver::TestServer;

const RATE: f64 = 20.0;
const BURST: u64 = 1;
const URLS: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_20_per_second_with_burst_1_paces_100_urls_over_5_seconds() {
    let server = TestServer::start().await.unwrap();
    let input: String = (0..URLS).map(|i| server.url(&format!("/get?i={i}")) + "\n").collect();

    let started = Instant::now();
    let child = spawn(&["fetch", "--rate", "20/s", "--burst", "1", "--concurrency", "100", "-"]);
    // A server-side view, sampled while the client runs: (time, requests that arrived).
    let sampler = {
        let server_hits = move || server.total_hits();
        tokio::spawn(async move {
            let mut last_empty = None;
            let mut samples = Vec::new();
            loop {
                let before = Instant::now();
                let hits = server_hits();
                let after = Instant::now();
                if hits == 0 {
                    last_empty = Some(before);
                } else {
                    samples.push((after, hits));
                }
                // Bounded, so that a client that never finishes fails the test instead.
                if hits >= URLS || before.duration_since(started) > Duration::from_secs(30) {
                    return (last_empty, samples, server_hits());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let run = finish(child, &input).await;
    let wall = started.elapsed();
    let (last_empty, samples, total) = sampler.await.unwrap();

    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = run.records();
    assert_eq!(records.len() as u64, URLS);
    assert!(records.iter().all(|r| r["status"] == 200 && r["attempts"] == 1));
    assert_eq!(total, URLS);

    // What the user sees: the 100th request cannot start before 99 / 20 = 4.95 s.
    assert!(wall >= Duration::from_millis(4800), "took {wall:?}");

    // Client side, from the records: the k-th request to finish had started its attempt
    // (and the GCRA lets attempt k through no earlier than (k - burst) / rate after the
    // first, which started after the run's clock began), so it ended at or after that.
    let mut ends: Vec<f64> = records
        .iter()
        .map(|r| r["start_ms"].as_f64().unwrap() + r["elapsed_ms"].as_f64().unwrap())
        .collect();
    ends.sort_by(f64::total_cmp);
    for (k, end) in ends.iter().enumerate().map(|(i, end)| (i as u64 + 1, *end)) {
        let earliest = k.saturating_sub(BURST) as f64 / RATE * 1000.0;
        assert!(end + 0.01 >= earliest, "request {k} ended at {end} ms, before {earliest} ms");
    }

    // Server side: by time t after the last moment it had seen nothing, at most
    // burst + rate·t requests arrived, plus one for the first request's own latency (the
    // first attempt may have left the client up to that latency before the server's
    // count was last zero; on loopback that is far below one 50 ms token).
    let last_empty = last_empty.expect("the sampler saw the server before the first request");
    for (at, hits) in samples {
        let t = at.duration_since(last_empty).as_secs_f64();
        let allowed = BURST + (RATE * t).floor() as u64 + 1;
        assert!(hits <= allowed, "{hits} requests within {t:.3} s, more than {allowed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_completes_exits_0_and_shows_every_layer_at_work() {
    let started = Instant::now();
    let run = volley(&["demo", "--requests", "200"], "").await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!run.stderr.contains('\x1b'), "no progress bar when stderr is piped: {:?}", run.stderr);
    let row = |what: &str| -> u64 {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in\n{}", run.stdout));
        line.split_whitespace().last().unwrap().parse().unwrap()
    };
    assert!(run.stdout.starts_with("volley demo: 200 requests"), "{}", run.stdout);
    assert!(run.stdout.contains("200 requests in "), "{}", run.stdout);
    assert!(row("  retries") > 0);
    assert!(row("after waiting for Retry-After") >= 1);
    // Two requests hang at /delay/2000: each attempt there is cut by the attempt timeout.
    assert!(row("attempts at /delay/2000") >= 2);
    assert!(row("requests whose last attempt hit") + row("requests stopped at the") >= 2);
    // The server's view of the per-host limit of 8; exact only while no request is
    // abandoned mid-flight (the server goes on handling those), so the bound is tested
    // with `fetch --per-host` instead.
    assert!(row("most in flight at the api host") >= 1);
}
