//! `volley demo`: the standard stack against the embedded test server, every layer busy.
//!
//! Five test servers run in-process: an "api" host with fast, slow, flaky and failing
//! endpoints, a "throttling" host that answers 429 with Retry-After and enforces a small
//! quota, a "hanging" host whose answers outlast the attempt timeout, a "down" host that
//! answers only 503 (the circuit breaker opens for it) and a "tail" host where one answer
//! in 25 is slow (the hedge wins those). Limits are per
//! host, so the throttling host's pauses do not hold the api host back (the rate
//! limiter's and the retry budget's keys are scheme://host:port). A closed port stands in
//! for a host that refuses connections.
//!
//! The hanging requests have a host of their own because a server keeps handling a request
//! the client abandoned: on the api host they would inflate the server's count of requests
//! in flight, which the demo shows as the concurrency limit at work.

use std::sync::Arc;
use std::time::Duration;

use volley::Client;
use volley::breaker::BreakerLayer;
use volley::hedge::HedgeLayer;
use volley_testserver::TestServer;

use crate::args::DemoArgs;
use crate::fetch::{Batch, run_batch};
use crate::input::Line;
use crate::item::Defaults;
use crate::progress::Progress;
use crate::signals::LayerCounts;
use crate::{Exit, Fatal, console, demo_table, summary};

/// The client's settings, chosen so that every layer acts and the run stays short.
pub(crate) const CONCURRENCY: usize = 64;
pub(crate) const PER_HOST: usize = 8;
pub(crate) const RATE: u32 = 150;
pub(crate) const BURST: u32 = 20;
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
pub(crate) const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);
/// The throttling host's quota, per second.
const QUOTA: u32 = 8;
/// Longer than the attempt timeout, so every attempt there times out.
pub(crate) const HANGING: &str = "/delay/2000";
/// Failures in a row that open a host's circuit: far more than the api host's mix of
/// successes and failures ever strings together, well within the down host's.
pub(crate) const BREAKER_FAILURES: u32 = 15;
/// The tail host: one request in 25 takes a second, the rest 5 ms.
pub(crate) const TAIL: &str = "/tail?every=25&slow_ms=1000&fast_ms=5&key=demo";

/// The kinds of request in the mix, with how many of every 1,000 they are.
const MIX: [(&str, usize); 12] = [
    ("fast", 385),
    ("tail", 80),
    ("down", 40),
    ("bytes", 150),
    ("slow", 100),
    ("flaky", 100),
    ("quota", 40),
    ("failing", 60),
    ("not found", 20),
    ("retry-after", 10),
    ("timing out", 10),
    ("refused", 5),
];

/// The servers the mix points at.
pub(crate) struct Hosts {
    pub(crate) api: TestServer,
    pub(crate) throttling: TestServer,
    pub(crate) hanging: TestServer,
    pub(crate) down: TestServer,
    pub(crate) tail: TestServer,
    closed_port: u16,
}

/// The URL for request `i` of `kind`.
fn url(hosts: &Hosts, kind: &str, i: usize) -> String {
    let (api, throttling) = (&hosts.api, &hosts.throttling);
    match kind {
        "bytes" => api.url("/bytes/2048"),
        "slow" => api.url(&format!("/delay/{}", 50 + (i * 37) % 250)),
        "flaky" => api.url(&format!("/flaky/2?key=demo-{i}")),
        "quota" => throttling.url(&format!("/ratelimit?limit={QUOTA}&window_ms=1000&key=demo")),
        "failing" => api.url("/status/500"),
        "not found" => api.url("/status/404"),
        "retry-after" => throttling.url(&format!("/retry-after/1?times=1&key=demo-{i}")),
        "timing out" => hosts.hanging.url(HANGING),
        "down" => hosts.down.url("/status/503"),
        "tail" => hosts.tail.url(TAIL),
        "refused" => format!("http://127.0.0.1:{}/get", hosts.closed_port),
        _ => api.url(&format!("/get?i={i}")),
    }
}

/// `n` requests in the proportions of [`MIX`] (the remainder fast), shuffled the same
/// way every run; with the count of each kind.
fn mix(n: usize, hosts: &Hosts) -> (Vec<Line>, Vec<(&'static str, usize)>) {
    let mut counts: Vec<(&str, usize)> =
        MIX.iter().map(|(kind, per_mille)| (*kind, n * per_mille / 1000)).collect();
    let assigned: usize = counts.iter().map(|(_, c)| c).sum();
    counts[0].1 += n - assigned;
    let mut kinds: Vec<&str> =
        counts.iter().flat_map(|(kind, c)| std::iter::repeat_n(*kind, *c)).collect();
    fastrand::Rng::with_seed(2024).shuffle(&mut kinds);
    let lines = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| Line { number: i + 1, text: url(hosts, kind, i) })
        .collect();
    (lines, counts)
}

/// A port on 127.0.0.1 with nothing listening: bound, then let go.
async fn closed_port() -> Result<u16, Fatal> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|err| Fatal::Usage(format!("cannot find a free port: {err}")))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|err| Fatal::Usage(format!("cannot find a free port: {err}")))
}

/// Runs the demo; exits 0 when the run completed, whatever the requests came to.
pub(crate) async fn demo(args: DemoArgs, counts: Arc<LayerCounts>) -> Result<Exit, Fatal> {
    let start = |err: std::io::Error| Fatal::Usage(format!("cannot start the test server: {err}"));
    let hosts = Hosts {
        api: TestServer::start().await.map_err(start)?,
        throttling: TestServer::start().await.map_err(start)?,
        hanging: TestServer::start().await.map_err(start)?,
        down: TestServer::start().await.map_err(start)?,
        tail: TestServer::start().await.map_err(start)?,
        closed_port: closed_port().await?,
    };
    let (lines, kinds) = mix(args.requests, &hosts);
    let client = Client::builder()
        .concurrency(Some(CONCURRENCY))
        .per_host(PER_HOST)
        .rate_limit(RATE, Duration::from_secs(1), BURST)
        .attempt_timeout(Some(ATTEMPT_TIMEOUT))
        .timeout(Some(TOTAL_TIMEOUT))
        .connect_timeout(Some(Duration::from_secs(1)))
        .circuit_breaker(
            BreakerLayer::new().consecutive_failures(BREAKER_FAILURES).no_failure_rate(),
        )
        .hedge(HedgeLayer::new())
        .build()
        .map_err(|err| Fatal::Usage(format!("cannot build the client: {err}")))?;

    let kinds: Vec<String> = kinds.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    let head = format!(
        "volley demo: {} requests through the standard stack
  api host         http://{}  fast, slow, flaky and failing endpoints
  hanging host     http://{}  answers after 2 s, past the attempt timeout
  throttling host  http://{}  429 + Retry-After, and a quota of {QUOTA}/s
  down host        http://{}  answers 503, always
  tail host        http://{}  one answer in 25 takes 1 s
  refusing host    http://127.0.0.1:{}  nothing listens
  client           {CONCURRENCY} in flight, {PER_HOST} per host, {RATE}/s per host (burst {BURST}), attempt timeout {}, total {}, 3 retries,
                   circuit breaker ({BREAKER_FAILURES} failures in a row), hedging (after the host's p95, 10 % budget)
  mix              {}

",
        lines.len(),
        hosts.api.addr(),
        hosts.hanging.addr(),
        hosts.throttling.addr(),
        hosts.down.addr(),
        hosts.tail.addr(),
        hosts.closed_port,
        summary::human(ATTEMPT_TIMEOUT),
        summary::human(TOTAL_TIMEOUT),
        kinds.join(" · "),
    );
    // `volley demo | head`: the reader has seen what it wanted.
    let closed = |err: std::io::Error| Fatal::writing(&err, Exit::Ok);
    console::print(&head).map_err(closed)?;

    let limits = client.limits();
    let progress =
        Progress::new(Some(lines.len()), counts.clone(), limits.concurrency().cloned(), true);
    let batch = Batch {
        client,
        concurrency: CONCURRENCY,
        defaults: Defaults::default(),
        save_dir: None,
        verbose: false,
        fail_fast: false,
    };
    let lines = futures_util::stream::iter(lines.into_iter().map(Ok));
    let report = run_batch(batch, lines, &progress, |_, _| Ok(0)).await?;
    let snapshot = counts.snapshot();
    let servers = demo_table::Servers::of(&hosts, &limits);
    console::print(&format!(
        "{}\n{}",
        summary::render(&report.stats, &snapshot, report.wall),
        demo_table::render(&report.stats, &snapshot, &servers)
    ))
    .map_err(closed)?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::MIX;

    #[test]
    fn the_mix_adds_up_to_a_thousand() {
        assert_eq!(MIX.iter().map(|(_, n)| n).sum::<usize>(), 1000);
    }
}
