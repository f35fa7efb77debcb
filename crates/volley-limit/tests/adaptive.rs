//! Adaptive per-key limits around a real hyper-util client, against volley-testserver's
//! queueing server (`/queue`: C workers, latency grows with what is queued beyond C) on
//! 127.0.0.1, under paused time.

#![allow(
    clippy::print_stdout,
    reason = "the settled limits are figures worth reading with --nocapture"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};
use volley_core::{Key, RequestHead};
use volley_limit::{Adaptive, ConcurrencyLimit, ConcurrencyLimitLayer, LimitState};
use volley_testserver::TestServer;

type Svc = ConcurrencyLimit<Client<HttpConnector, Empty<Bytes>>>;

fn limited(layer: &ConcurrencyLimitLayer) -> Svc {
    layer.layer(Client::builder(TokioExecutor::new()).build_http())
}

fn get(url: &str) -> Request<Empty<Bytes>> {
    Request::get(url).body(Empty::new()).unwrap()
}

fn key_of(server: &TestServer) -> Key {
    Key::from_uri(&server.url("/").parse().unwrap())
}

/// Bounds every wait, so a leaked permit fails a test instead of hanging it.
const GIVE_UP: Duration = Duration::from_secs(120);

/// One answered request: its status, the time it queued at the server, and the key's
/// limit right after it.
#[derive(Clone, Copy, Debug)]
struct Seen {
    status: u16,
    queued_ms: u64,
    limit: usize,
}

struct Run {
    seen: Vec<Seen>,
    elapsed: Duration,
}

impl Run {
    fn limits(&self) -> impl Iterator<Item = usize> + '_ {
        self.seen.iter().map(|seen| seen.limit)
    }

    /// The limits over the last `n` answers: (lowest, highest).
    fn tail_range(&self, n: usize) -> (usize, usize) {
        let tail = &self.seen[self.seen.len() - n..];
        let limits = tail.iter().map(|seen| seen.limit);
        (limits.clone().min().unwrap(), limits.max().unwrap())
    }

    fn tail_mean_queued_ms(&self, n: usize) -> f64 {
        let tail = &self.seen[self.seen.len() - n..];
        tail.iter().map(|seen| seen.queued_ms as f64).sum::<f64>() / n as f64
    }

    fn count(&self, status: u16) -> usize {
        self.seen.iter().filter(|seen| seen.status == status).count()
    }
}

/// `callers` tasks send `total` requests to `path`, one after another each, reading every
/// body, and note the key's limit after each answer.
async fn drive(
    svc: &Svc,
    state: &LimitState,
    key: &Key,
    url: String,
    callers: usize,
    total: usize,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (svc, state, key, url) = (svc.clone(), state.clone(), key.clone(), url.clone());
            let (next, seen) = (next.clone(), seen.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let res = svc.clone().oneshot(get(&url)).await.unwrap();
                    let status = res.status().as_u16();
                    let queued = res.headers().get("x-queue-wait-ms");
                    let queued_ms = queued.map_or(0, |v| v.to_str().unwrap().parse().unwrap());
                    res.into_body().collect().await.unwrap();
                    let limit = state.limit(&key).unwrap();
                    seen.lock().unwrap().push(Seen { status, queued_ms, limit });
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.len(), total);
    Run { seen, elapsed: start.elapsed() }
}

fn assert_idle(state: &LimitState) {
    assert_eq!((state.in_flight(), state.waiting(), state.tracked_keys()), (0, 0, 0));
    assert_eq!(state.available_global(), state.global_max());
}

const CAPACITY: usize = 20;
const QUEUE: &str = "/queue?capacity=20&service_ms=100";

/// The gradient against a server of `capacity` workers of 100 ms, driven by ten times as
/// many callers; returns the lowest and highest limit over the second half of the run.
async fn gradient_against_capacity(capacity: usize, total: usize) -> (usize, usize) {
    let server = TestServer::start().await.unwrap();
    let key = key_of(&server);
    let layer =
        ConcurrencyLimitLayer::new(1000).adaptive(Adaptive::gradient()).acquire_timeout(GIVE_UP);
    let state = layer.state();
    assert_eq!(state.limit(&key), Some(20)); // the initial limit
    let svc = limited(&layer);

    let url = server.url(&format!("/queue?capacity={capacity}&service_ms=100"));
    let run = drive(&svc, &state, &key, url, 10 * capacity, total).await;
    assert_eq!((server.hits("/queue"), run.count(200)), (total as u64, total));
    assert!(run.limits().all(|limit| (1..=200).contains(&limit)));

    let (low, high) = run.tail_range(total / 2);
    // Requests barely queue at the server, where a fixed limit of 10 × C would queue each
    // one 900 ms: with `limit` in flight, Little's law gives (limit − C) / C × 100 ms.
    let queued = run.tail_mean_queued_ms(total / 2);
    let theory = 100.0 * (high - capacity) as f64 / capacity as f64;
    assert!(queued <= theory * 1.1 + 1.0, "mean server queue wait {queued} ms, theory {theory}");
    // And the server stays busy: at C per 100 ms the run takes total / C / 10 s at best.
    let best = Duration::from_millis(100 * (total / capacity) as u64);
    assert!(run.elapsed >= best && run.elapsed <= best.mul_f64(1.1), "{:?}", run.elapsed);
    println!(
        "gradient, C = {capacity}: last {} limits {low}..={high}, queue wait {queued:.1} ms, {:?}",
        total / 2,
        run.elapsed
    );

    assert_idle(&state);
    // The idle key's limit is remembered.
    assert_eq!(state.remembered_keys(), 1);
    assert_eq!(state.limit(&key), Some(run.seen.last().unwrap().limit));
    (low, high)
}

#[tokio::test(start_paused = true)]
async fn gradient_settles_within_a_quarter_of_the_capacity_of_a_queueing_server() {
    // limit = C + √limit: 25 for C = 20, at the edge of ±25 % (15..=25).
    let (low, high) = gradient_against_capacity(CAPACITY, 4000).await;
    assert!(low >= 15 && high <= 25, "limits in {low}..={high}");
}

#[tokio::test(start_paused = true)]
async fn gradient_headroom_shrinks_relative_to_a_larger_capacity() {
    // limit = C + √limit: about 57.5 for C = 50, +15 %.
    let (low, high) = gradient_against_capacity(50, 6000).await;
    assert!(low >= 50 && high <= 60, "limits in {low}..={high}");
}

#[tokio::test(start_paused = true)]
async fn aimd_saws_below_the_latency_threshold_of_a_queueing_server() {
    // AIMD only hears overload; the queueing server never fails, so its signal is latency
    // above a threshold of 1.5 × the service time. The server's workers start in lockstep
    // (paused time), so a request past the capacity waits a whole service time: 200 ms,
    // above the threshold. AIMD therefore cuts as soon as it passes C (plus the round trip
    // it takes to notice) and saws between 0.9 × (C + 2) and C + 2.
    let server = TestServer::start().await.unwrap();
    let key = key_of(&server);
    let aimd = Adaptive::aimd().latency_threshold(Duration::from_millis(150));
    let layer = ConcurrencyLimitLayer::new(1000).adaptive(aimd).acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = limited(&layer);

    let run = drive(&svc, &state, &key, server.url(QUEUE), 200, 4000).await;
    assert_eq!((server.hits("/queue"), run.count(200)), (4000, 4000));
    let (low, high) = run.tail_range(2000);
    assert!(low >= 18 && high <= 23, "last 2000 limits in {low}..={high}");
    let queued = run.tail_mean_queued_ms(2000);
    println!("aimd: last 2000 limits {low}..={high}, queue wait {queued:.1} ms, {:?}", run.elapsed);
    assert_idle(&state);
}

/// A 503 storm, then the queueing server again, through two services of one layer.
async fn storm_and_recovery(adaptive: Adaptive, min: usize) -> (Run, Run) {
    let server = TestServer::start().await.unwrap();
    let key = key_of(&server);
    let layer = ConcurrencyLimitLayer::new(1000).adaptive(adaptive).acquire_timeout(GIVE_UP);
    let state = layer.state();
    let first = limited(&layer);

    let storm = drive(&first, &state, &key, server.url("/status/503"), 50, 400).await;
    assert_eq!((server.hits("/status/503"), storm.count(503)), (400, 400));
    assert!(storm.limits().all(|limit| limit >= min));
    assert_eq!(state.limit(&key), Some(min), "the storm drives the limit to its minimum");
    assert_idle(&state);

    // Another service from a clone of the layer sees the same limit and moves it.
    let second = limited(&layer.clone());
    assert_eq!(second.state().limit(&key), Some(min));
    let recovery = drive(&second, &second.state(), &key, server.url(QUEUE), 200, 3000).await;
    assert_eq!(server.hits("/queue"), 3000);
    assert!(recovery.limits().all(|limit| limit >= min && limit <= 200));
    assert_eq!(state.limit(&key), Some(recovery.seen.last().unwrap().limit));
    assert_idle(&state);
    (storm, recovery)
}

#[tokio::test(start_paused = true)]
async fn gradient_drops_to_its_minimum_in_a_503_storm_and_recovers_after() {
    let (storm, recovery) = storm_and_recovery(Adaptive::gradient(), 1).await;
    // 20 × 0.9ⁿ < 2 after 22 cuts, one per round of newly admitted requests.
    let first_at_min = storm.seen.iter().position(|seen| seen.limit == 1).unwrap();
    assert!(first_at_min < 200, "reached the minimum after {first_at_min} answers");
    let back = recovery.seen.iter().position(|seen| seen.limit >= 15).unwrap();
    let (low, high) = recovery.tail_range(1000);
    assert!(low >= 15 && high <= 25, "last 1000 limits in {low}..={high}");
    println!(
        "gradient storm: min after {first_at_min} answers; back to 15 after {back}; then {low}..={high}"
    );
}

#[tokio::test(start_paused = true)]
async fn aimd_drops_to_its_minimum_in_a_503_storm_and_recovers_after() {
    let aimd = Adaptive::aimd().min(2).latency_threshold(Duration::from_millis(150));
    let (storm, recovery) = storm_and_recovery(aimd, 2).await;
    let first_at_min = storm.seen.iter().position(|seen| seen.limit == 2).unwrap();
    // +1 per round trip from 2: back at the capacity after ~18 rounds of ≤ 20 answers.
    let back = recovery.seen.iter().position(|seen| seen.limit >= CAPACITY).unwrap();
    assert!(back < 600, "back to {CAPACITY} after {back} answers");
    let (low, high) = recovery.tail_range(1000);
    assert!(low >= 18 && high <= 23, "last 1000 limits in {low}..={high}");
    println!(
        "aimd storm: min after {first_at_min} answers; back to {CAPACITY} after {back}; then {low}..={high}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_server_never_sees_more_than_the_adaptive_maximum() {
    let server = TestServer::start().await.unwrap();
    let key = key_of(&server);
    let layer = ConcurrencyLimitLayer::new(1000)
        .adaptive(Adaptive::gradient().max(12).initial(5))
        .acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = limited(&layer);
    let run = drive(&svc, &state, &key, server.url(QUEUE), 100, 1000).await;
    assert!(run.limits().all(|limit| (1..=12).contains(&limit)));
    assert_eq!(run.seen.last().unwrap().limit, 12);
    // The host could take 20 at no cost: the bound, not the algorithm, held it at 12, and
    // the permits enforce it at the server.
    assert_eq!(server.max_in_flight(), 12);
    assert_eq!(run.tail_mean_queued_ms(500), 0.0);
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn attempt_timeouts_cut_the_limit_and_cancelled_calls_do_not() {
    let server = TestServer::start().await.unwrap();
    let key = key_of(&server);
    let layer = ConcurrencyLimitLayer::new(1000)
        .adaptive(Adaptive::gradient().initial(10))
        .acquire_timeout(GIVE_UP);
    let state = layer.state();
    // An attempt timeout inside the limit, where the standard stack puts it.
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let svc = layer.layer(tower::timeout::Timeout::new(client, Duration::from_millis(500)));

    // Cancelled by the caller after 300 ms: no answer, no sample.
    let slow = server.url("/delay/2000");
    let cancelled =
        tokio::time::timeout(Duration::from_millis(300), svc.clone().oneshot(get(&slow)));
    assert!(cancelled.await.is_err());
    assert_eq!(state.limit(&key), Some(10));

    // Timed out by the attempt timeout: Retryable, an overload signal: 10 × 0.9.
    let err = svc.clone().oneshot(get(&slow)).await.unwrap_err();
    assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
    assert_eq!(state.limit(&key), Some(9));
    assert_eq!(server.hits("/delay/2000"), 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn idle_keys_are_remembered_up_to_max_keys() {
    let server = TestServer::start().await.unwrap();
    let layer = ConcurrencyLimitLayer::new(1000)
        .adaptive(Adaptive::aimd().max_keys(8).initial(4))
        .key_fn(|head: RequestHead<'_>| Key::new(head.uri().query().unwrap_or_default()))
        .acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = layer.layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    // Each key meets one 503: its limit goes from 4 to 3 and is remembered while idle.
    for i in 0..100 {
        let res = svc.clone().oneshot(get(&server.url(&format!("/status/503?k={i}")))).await;
        res.unwrap().into_body().collect().await.unwrap();
        assert!(state.remembered_keys() <= 8, "{} keys remembered", state.remembered_keys());
        assert_eq!(state.limit(&Key::new(format!("k={i}"))), Some(3));
    }
    assert_eq!(server.hits("/status/503"), 100);
    assert_idle(&state);
    // The most recent keys are kept, the oldest forgotten (back to the initial limit).
    assert_eq!(state.limit(&Key::new("k=99")), Some(3));
    assert_eq!(state.limit(&Key::new("k=0")), Some(4));
}

#[tokio::test(start_paused = true)]
async fn a_live_key_that_shrinks_and_grows_under_cancellation_keeps_its_permits_exact() {
    let server = TestServer::start().await.unwrap();
    let layer = ConcurrencyLimitLayer::new(1000)
        .adaptive(Adaptive::aimd().initial(8).max(16).latency_threshold(Duration::from_millis(50)))
        .key_fn(|head: RequestHead<'_>| Key::new(head.uri().query().unwrap_or_default()))
        .acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = layer.layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let k0 = Key::new("k=0");

    // One unread body keeps key k=0 live (its semaphore and debt) through the churn.
    let held = svc.clone().oneshot(get(&server.url("/bytes/1000?k=0"))).await.unwrap();
    assert_eq!(state.in_flight_for(&k0), 1);

    // 64 tasks, 2000 requests over 4 keys: 503s (cuts), slow answers (cuts), fast answers
    // (growth), and callers giving up at random moments, waiting or in flight.
    let next = Arc::new(AtomicUsize::new(0));
    // (last limit seen, decreases seen, lowest)
    let seen = Arc::new(Mutex::new((8, 0, 8)));
    let tasks: Vec<_> = (0..64u64)
        .map(|task| {
            let (svc, server_url, next) =
                (svc.clone(), format!("http://{}", server.addr()), next.clone());
            let (state, k0, seen) = (state.clone(), k0.clone(), seen.clone());
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(task);
                while next.fetch_add(1, Ordering::Relaxed) < 2000 {
                    let k = rng.usize(0..4);
                    let path = match rng.u8(0..10) {
                        0..=2 => "/status/503".to_owned(),
                        3 => "/delay/80".to_owned(),
                        _ => format!("/delay/{}", rng.u64(0..20)),
                    };
                    let req = svc.clone().oneshot(get(&format!("{server_url}{path}?k={k}")));
                    let patience = Duration::from_millis(rng.u64(0..200));
                    if let Ok(res) = tokio::time::timeout(patience, req).await {
                        let body = res.unwrap().into_body();
                        if rng.bool() {
                            body.collect().await.unwrap();
                        }
                    }
                    let limit = state.limit(&k0).unwrap();
                    let mut seen = seen.lock().unwrap();
                    seen.1 += usize::from(limit < seen.0);
                    seen.2 = seen.2.min(limit);
                    seen.0 = limit;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // Let the server finish what the cancelled callers left behind.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state.in_flight_for(&k0), 1);
    assert_eq!(state.tracked_keys(), 1);
    // The live key was cut, with permits out (debt), and grew again, many times.
    let (_, cuts, lowest) = *seen.lock().unwrap();
    assert!(cuts >= 10, "{cuts} cuts");

    // Exactly `limit` permits exist for k=0: limit − 1 more are admitted, the next waits.
    let limit = state.limit(&k0).unwrap();
    assert!((1..=16).contains(&limit), "{limit}");
    let stuck: Vec<_> = (0..limit)
        .map(|_| tokio::spawn(svc.clone().oneshot(get(&server.url("/delay/60000?k=0")))))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((state.in_flight_for(&k0), state.waiting_for(&k0)), (limit, 1));
    assert_eq!(server.hits("/delay/60000"), limit as u64 - 1);
    for task in &stuck {
        task.abort();
    }
    for task in stuck {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    drop(held);
    assert_idle(&state);
    assert!(state.remembered_keys() <= 4);
    println!("k=0: {cuts} cuts, lowest limit {lowest}, {limit} after the churn");
}
