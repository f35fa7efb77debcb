//! Separate OS processes sharing one quota through Redis, judged by what reached the server.
//!
//! The parent test starts Redis and a `TestServer`, then runs this test binary again as
//! child processes (`hammer_child_process`, with the job in `VOLLEY_HAMMER`). Each child
//! builds a `RateLimitLayer` with a `RedisBackend` around a hyper-util client and sends
//! as fast as the limit lets it; the parent samples the server's hit counter every 5 ms.

#![allow(clippy::print_stdout, reason = "children report their counts to the parent on stdout")]

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::{Deadline, find_cause};
use volley_ratelimit::{RateLimitLayer, RateLimited};
use volley_ratelimit_redis::{FailurePolicy, RedisBackend};
use volley_testserver::TestServer;
use volley_testserver::redis::RedisServer;

/// One multi-process run at a time: they measure rates on a 2-core machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a child is asked to do.
struct Job {
    redis: String,
    url: String,
    prefix: String,
    rate: u32,
    burst: u32,
    /// Wall-clock start, milliseconds since the Unix epoch: all children start together.
    start_ms: u64,
    run_ms: u64,
    loops: u32,
}

impl Job {
    fn encode(&self) -> String {
        let Job { redis, url, prefix, rate, burst, start_ms, run_ms, loops } = self;
        format!("{redis} {url} {prefix} {rate} {burst} {start_ms} {run_ms} {loops}")
    }

    fn decode(text: &str) -> Option<Self> {
        let mut f = text.split(' ');
        Some(Job {
            redis: f.next()?.to_owned(),
            url: f.next()?.to_owned(),
            prefix: f.next()?.to_owned(),
            rate: f.next()?.parse().ok()?,
            burst: f.next()?.parse().ok()?,
            start_ms: f.next()?.parse().ok()?,
            run_ms: f.next()?.parse().ok()?,
            loops: f.next()?.parse().ok()?,
        })
    }
}

fn epoch_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// What a child counted: requests answered 2xx, answered 429, and failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Report {
    ok: u64,
    throttled: u64,
    errors: u64,
}

#[test]
#[ignore = "a child process of the multi-process tests, started by them with VOLLEY_HAMMER"]
fn hammer_child_process() {
    let job = std::env::var("VOLLEY_HAMMER").expect("run by the multi-process tests only");
    let job = Job::decode(&job).expect("a well-formed VOLLEY_HAMMER");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = runtime.block_on(hammer(job));
    println!("HAMMER {} {} {}", report.ok, report.throttled, report.errors);
}

async fn hammer(job: Job) -> Report {
    let backend = RedisBackend::builder(job.rate, Duration::from_secs(1))
        .burst(job.burst)
        .prefix(job.prefix)
        .failure_policy(FailurePolicy::FailClosed)
        .build(&job.redis)
        .unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(job.rate).backend(backend))
        .service(client);
    // Connected and warm before the start.
    let wait_ms = job.start_ms.saturating_sub(epoch_ms());
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    let end = Instant::now() + Duration::from_millis(job.run_ms);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..job.loops {
        let (svc, url) = (svc.clone(), job.url.clone());
        tasks.spawn(async move {
            let mut report = Report::default();
            while Instant::now() < end {
                let mut req = http::Request::get(&url).body(Empty::new()).unwrap();
                // A token due at or after the end is refused, not taken.
                Deadline::at(end).insert_into(&mut req);
                match svc.clone().oneshot(req).await {
                    Ok(res) => {
                        let status = res.status();
                        let _ = res.into_body().collect().await;
                        match status.as_u16() {
                            200..=299 => report.ok += 1,
                            429 => report.throttled += 1,
                            _ => report.errors += 1,
                        }
                    }
                    Err(err) if find_cause::<RateLimited>(&*err).is_some() => break,
                    Err(_) => report.errors += 1,
                }
            }
            report
        });
    }
    let mut total = Report::default();
    while let Some(report) = tasks.join_next().await {
        let report = report.unwrap();
        total.ok += report.ok;
        total.throttled += report.throttled;
        total.errors += report.errors;
    }
    total
}

/// Runs `n` children on `job` while sampling `server`'s hits every 5 ms; returns their
/// reports and the samples (time, total hits).
async fn run_children(
    n: usize,
    job: &Job,
    server: &TestServer,
) -> (Vec<Report>, Vec<(Instant, u64)>) {
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(&exe)
                .args(["hammer_child_process", "--exact", "--ignored", "--nocapture"])
                .args(["--test-threads", "1"])
                .env("VOLLEY_HAMMER", job.encode())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let stop = epoch_ms() + (job.start_ms - epoch_ms()) + job.run_ms + 500;
    while epoch_ms() < stop {
        tick.tick().await;
        samples.push((Instant::now(), server.total_hits()));
    }
    let mut reports = Vec::new();
    for child in children.drain(..) {
        let output =
            tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        assert!(output.status.success(), "a child failed: {:?}", output.status);
        let text = String::from_utf8_lossy(&output.stdout);
        // libtest may print "test hammer_child_process ... " on the same line first.
        let line = text.lines().find_map(|l| l.split_once("HAMMER ").map(|(_, r)| r));
        let line = line.unwrap_or_else(|| panic!("no report from a child: {text}"));
        let n: Vec<u64> = line.split(' ').take(3).map(|v| v.parse().unwrap()).collect();
        reports.push(Report { ok: n[0], throttled: n[1], errors: n[2] });
    }
    (reports, samples)
}

/// The most hits between two samples at most `window` apart.
fn busiest(samples: &[(Instant, u64)], window: Duration) -> u64 {
    let mut most = 0;
    let mut j = 0;
    for (i, &(start, before)) in samples.iter().enumerate() {
        j = j.max(i);
        while j + 1 < samples.len() && samples[j + 1].0 - start <= window {
            j += 1;
        }
        most = most.max(samples[j].1 - before);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_share_one_quota_within_two_percent() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = RedisServer::start_or_skip("four_processes_share_one_quota") else { return };
    let server = TestServer::start().await.unwrap();
    let (rate, burst, run) = (50u32, 5u32, Duration::from_secs(10));
    let job = Job {
        redis: redis.url(),
        url: server.url("/get"),
        prefix: "accuracy".to_owned(),
        rate,
        burst,
        start_ms: epoch_ms() + 2000,
        run_ms: u64::try_from(run.as_millis()).unwrap(),
        loops: 4,
    };
    let (reports, samples) = run_children(4, &job, &server).await;

    let expected = f64::from(burst) + f64::from(rate) * run.as_secs_f64(); // 505
    let total = server.total_hits();
    let sent: u64 = reports.iter().map(|r| r.ok).sum();
    assert_eq!(sent, total, "{reports:?}");
    assert!(reports.iter().all(|r| r.ok > 0 && r.errors == 0 && r.throttled == 0), "{reports:?}");
    let off = (total as f64 - expected).abs() / expected;
    assert!(
        off <= 0.02,
        "{total} requests reached the server, {expected} expected: {:.1}% off",
        off * 100.0
    );
    // Without sharing, each process would send its own 505: four times as many.
    let most = busiest(&samples, Duration::from_secs(1));
    println!(
        "4 processes, {rate}/s burst {burst} for {run:?}: {total} requests reached the server \
         ({expected} expected, {:+.2}%), busiest 1 s window {most}, per process {:?}",
        (total as f64 - expected) / expected * 100.0,
        reports.iter().map(|r| r.ok).collect::<Vec<_>>()
    );
    assert!(
        most <= u64::from(rate + burst),
        "{most} requests in one second (limit {})",
        rate + burst
    );
    assert!(
        most >= u64::from(rate) - 2,
        "{most}: the limit was not reached, the test proves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_in_one_process_pauses_the_host_in_every_process() {
    let _serial = SERIAL.lock().await;
    let Some(redis) = RedisServer::start_or_skip("a_429_in_one_process_pauses_the_host") else {
        return;
    };
    let server = TestServer::start().await.unwrap();
    // The first request to this URL is answered 429 with `Retry-After: 2`, later ones 200.
    let job = Job {
        redis: redis.url(),
        url: server.url("/retry-after/2?times=1&key=shared"),
        prefix: "cooldown".to_owned(),
        rate: 20,
        burst: 1,
        start_ms: epoch_ms() + 2000,
        run_ms: 4000,
        loops: 2,
    };
    let (reports, samples) = run_children(3, &job, &server).await;

    assert_eq!(reports.iter().map(|r| r.throttled).sum::<u64>(), 1, "{reports:?}");
    assert!(reports.iter().all(|r| r.errors == 0), "{reports:?}");
    let first = samples.iter().find(|(_, hits)| *hits >= 1).unwrap().0;
    // Nothing but the 429 reaches the server for the 2 s the server asked for (sampled
    // every 5 ms; the last 50 ms left for the cooldown's end and one token interval).
    let paused: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= first && *at - first <= Duration::from_millis(1950))
        .map(|(_, hits)| *hits)
        .collect();
    assert!(paused.len() > 300, "{} samples", paused.len());
    assert!(paused.iter().all(|hits| *hits == 1), "hits during the cooldown: {:?}", paused.last());
    // Then 20 per second again, from every process, for the remaining ~2 s.
    let after = server.total_hits() - 1;
    assert!((30..=42).contains(&after), "{after} after the cooldown, {reports:?}");
    let resumed = reports.iter().filter(|r| r.ok > 0).count();
    assert!(resumed >= 2, "{reports:?}");
}
