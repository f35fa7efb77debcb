//! The hedge layer around a real hyper-util client, against volley-testserver's `/tail`
//! (request k per key is slow when k is a multiple of `every`) on 127.0.0.1, under paused
//! time: every latency below is tokio's clock, so the numbers are exact.

use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};
use volley_core::{BoxError, Key, RequestHead};
use volley_hedge::{HedgeLayer, Hedged};
use volley_testserver::TestServer;

fn client<B>() -> Client<HttpConnector, B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends one request and reads the body to its end: the latency a caller sees, and the
/// hedge marker.
async fn timed<S, B, R>(svc: &S, req: Request<B>) -> (Duration, Option<Hedged>)
where
    S: Service<Request<B>, Response = Response<R>, Error = BoxError> + Clone,
    R: http_body::Body,
    R::Error: std::fmt::Debug,
{
    let start = Instant::now();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let hedged = res.extensions().get::<Hedged>().copied();
    res.into_body().collect().await.unwrap();
    (start.elapsed(), hedged)
}

fn get(url: String) -> Request<Empty<Bytes>> {
    Request::get(url).body(Empty::new()).unwrap()
}

/// The 99th percentile: the smallest latency with at least 99 % of them at or below it.
fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[(latencies.len() * 99).div_ceil(100) - 1]
}

/// Server requests a run of `n` sequential requests makes when each slow one (every
/// `every`-th server request) is hedged once and its hedge is the next server request.
fn expected_hedges(n: usize, every: u64) -> u64 {
    let (mut k, mut hedges) = (0u64, 0u64);
    for _ in 0..n {
        k += 1;
        if k % every == 0 {
            hedges += 1;
            k += 1;
        }
    }
    hedges
}

// Prints the figures docs/hedging.md quotes (run with `--nocapture`).
#[allow(clippy::print_stderr)]
#[tokio::test(start_paused = true)]
async fn percentile_hedging_cuts_p99_below_100ms_with_at_most_10_percent_extra_requests() {
    let server = TestServer::start().await.unwrap();
    let n = 1_000;

    // Without hedging: 5 % of requests take a second.
    let plain = client::<Empty<Bytes>>().map_err(BoxError::from);
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let url = server.url("/tail?every=20&slow_ms=1000&fast_ms=5&key=plain");
        latencies.push(timed(&plain, get(url)).await.0);
    }
    let plain_p99 = p99(latencies);
    assert!(plain_p99 >= Duration::from_secs(1), "p99 without hedging: {plain_p99:?}");
    assert_eq!(server.hits("/tail"), n as u64);

    // With the default layer: the 95th percentile of this host, within a 10 % budget.
    let layer = HedgeLayer::new();
    let stats = layer.stats();
    let hedged = layer.layer(client::<Empty<Bytes>>());
    let mut latencies = Vec::with_capacity(n);
    let mut won = 0;
    for _ in 0..n {
        let url = server.url("/tail?every=20&slow_ms=1000&fast_ms=5&key=hedged");
        let (latency, marker) = timed(&hedged, get(url)).await;
        latencies.push(latency);
        won += u64::from(marker.is_some_and(|m| m.won_by_hedge));
    }
    let hedged_p99 = p99(latencies.clone());
    let extra = server.hits("/tail") - 2 * n as u64;
    assert!(hedged_p99 < Duration::from_millis(100), "p99 with hedging: {hedged_p99:?}");
    assert!(extra * 10 <= n as u64, "{extra} extra requests for {n}");
    assert_eq!(stats.hedges_sent(), extra);
    assert_eq!(stats.hedges_won(), won);
    // Only the slow request met before the histogram had 20 samples went unhedged.
    let slow = latencies.iter().filter(|l| **l >= Duration::from_secs(1)).count();
    assert_eq!(slow, 1);
    // Every other slow request was hedged after about 5 ms (the p95 of this host, at the
    // top of its histogram bucket) and answered 5 ms later.
    assert!(won >= 45, "{won} requests won by a hedge");
    let worst_hedged = latencies.iter().filter(|l| **l < Duration::from_secs(1)).max().unwrap();
    assert!(*worst_hedged <= Duration::from_millis(11), "{worst_hedged:?}");
    eprintln!(
        "p99 {plain_p99:?} -> {hedged_p99:?}; {extra} hedges for {n} requests ({won} won), \
         delay now {:?}",
        stats.delay_for(&Key::new(format!("http://{}", server.addr())))
    );
}

#[tokio::test(start_paused = true)]
async fn fixed_delay_sends_exactly_one_extra_request_per_slow_request() {
    let server = TestServer::start().await.unwrap();
    let layer = HedgeLayer::after(Duration::from_millis(50)).budget(1.0).unwrap();
    let stats = layer.stats();
    let svc = layer.layer(client::<Empty<Bytes>>());
    let n = 100;
    let mut hedged = 0;
    for _ in 0..n {
        let url = server.url("/tail?every=20&slow_ms=1000&fast_ms=5&key=fixed");
        let (latency, marker) = timed(&svc, get(url)).await;
        if let Some(marker) = marker {
            assert_eq!(marker, Hedged { hedges: 1, won_by_hedge: true });
            assert_eq!(latency, Duration::from_millis(55)); // the delay, then a fast answer
            hedged += 1;
        } else {
            assert_eq!(latency, Duration::from_millis(5));
        }
    }
    assert_eq!(hedged, expected_hedges(n, 20));
    assert_eq!(hedged, 5);
    assert_eq!(server.hits("/tail"), n as u64 + hedged);
    assert_eq!((stats.hedges_sent(), stats.hedges_won(), stats.budget_refusals()), (5, 5, 0));
}

#[tokio::test(start_paused = true)]
async fn post_is_never_hedged_unless_a_rule_says_so() {
    let server = TestServer::start().await.unwrap();
    let layer = HedgeLayer::after(Duration::from_millis(10)).budget(1.0).unwrap();
    let stats = layer.stats();
    let svc = layer.layer(client::<Full<Bytes>>());
    let post = |url: String| Request::post(url).body(Full::from("order")).unwrap();
    let mut slow = 0;
    for _ in 0..40 {
        let url = server.url("/tail?every=20&slow_ms=1000&key=post");
        let (latency, marker) = timed(&svc, post(url)).await;
        assert_eq!(marker, None);
        slow += u32::from(latency >= Duration::from_secs(1));
    }
    assert_eq!((server.hits("/tail"), slow, stats.hedges_sent()), (40, 2, 0));

    // A POST the caller knows to be safe (it carries an idempotency key) may be hedged.
    let layer = HedgeLayer::after(Duration::from_millis(10)).budget(1.0).unwrap().hedge_if(
        |head: RequestHead<'_>| {
            head.method() == Method::GET || head.headers().contains_key("idempotency-key")
        },
    );
    let svc = layer.layer(client::<Full<Bytes>>());
    let mut hedged = 0;
    for _ in 0..40 {
        let url = server.url("/tail?every=20&slow_ms=1000&key=keyed-post");
        let req = Request::post(url).header("idempotency-key", "k1").body(Full::from("order"));
        let (latency, marker) = timed(&svc, req.unwrap()).await;
        assert!(latency < Duration::from_secs(1));
        hedged += u64::from(marker.is_some());
    }
    assert_eq!(hedged, expected_hedges(40, 20));
    assert_eq!(server.hits("/tail"), 40 + 40 + hedged);
}

#[tokio::test(start_paused = true)]
async fn a_budget_of_zero_sends_no_hedge_and_a_small_one_caps_them() {
    let server = TestServer::start().await.unwrap();
    let layer = HedgeLayer::after(Duration::from_millis(10)).budget(0.0).unwrap();
    let stats = layer.stats();
    let svc = layer.layer(client::<Empty<Bytes>>());
    let mut slow = 0;
    for _ in 0..100 {
        let url = server.url("/tail?every=20&slow_ms=1000&key=zero");
        slow += u32::from(timed(&svc, get(url)).await.0 >= Duration::from_secs(1));
    }
    assert_eq!((server.hits("/tail"), slow, stats.hedges_sent()), (100, 5, 0));

    // Half the requests slow, 10 % budget: 100 requests earn 10 hedges, no more.
    let layer = HedgeLayer::after(Duration::from_millis(10));
    let stats = layer.stats();
    let svc = layer.layer(client::<Empty<Bytes>>());
    for _ in 0..100 {
        let url = server.url("/tail?every=2&slow_ms=1000&key=half");
        timed(&svc, get(url)).await;
    }
    let sent = stats.hedges_sent();
    // 100 requests earn 10 hedges; the tokens earned by the last few are left unspent.
    assert!((9..=10).contains(&sent), "{sent} hedges");
    assert!(stats.budget_refusals() >= 30, "{} refusals", stats.budget_refusals());
    assert_eq!(server.hits("/tail"), 100 + 100 + sent);
}

#[tokio::test(start_paused = true)]
async fn the_loser_is_cancelled_and_gives_its_concurrency_permit_back() {
    let server = TestServer::start().await.unwrap();
    let limit = volley_limit::ConcurrencyLimitLayer::new(4);
    let permits = limit.state();
    let layer = HedgeLayer::after(Duration::from_millis(50)).budget(1.0).unwrap();
    let stats = layer.stats();
    let svc =
        tower::ServiceBuilder::new().layer(layer).layer(limit).service(client::<Empty<Bytes>>());
    let url = || server.url("/tail?every=2&slow_ms=1000&fast_ms=5&key=cancel");

    timed(&svc, get(url())).await; // request 1: fast
    let mut slow = pin!(svc.clone().oneshot(get(url()))); // request 2: slow
    tokio::select! {
        _ = slow.as_mut() => panic!("answered before the hedge"),
        _ = tokio::time::sleep(Duration::from_millis(30)) => {}
    }
    assert_eq!((permits.in_flight(), stats.hedges_sent()), (1, 0));
    tokio::select! {
        _ = slow.as_mut() => panic!("answered before the hedge"),
        _ = tokio::time::sleep(Duration::from_millis(21)) => {}
    }
    // The hedge (request 3, fast) holds a second permit while both race.
    assert_eq!((permits.in_flight(), stats.hedges_sent()), (2, 1));
    let res = slow.await.unwrap();
    assert_eq!(res.extensions().get::<Hedged>(), Some(&Hedged { hedges: 1, won_by_hedge: true }));
    // The loser was dropped with its permit; the winner's lasts until its body ends.
    assert_eq!(permits.in_flight(), 1);
    res.into_body().collect().await.unwrap();
    assert_eq!(permits.in_flight(), 0);
    assert_eq!(permits.available_global(), Some(4));
    assert_eq!(server.hits("/tail"), 3);
}

#[tokio::test(start_paused = true)]
async fn clones_and_services_of_one_layer_share_histograms_and_budget() {
    let server = TestServer::start().await.unwrap();
    let layer = HedgeLayer::new();
    let stats = layer.stats();
    let a = layer.layer(client::<Empty<Bytes>>());
    let b = layer.clone().layer(client::<Empty<Bytes>>());
    let key = Key::new(format!("http://{}", server.addr()));
    let url = || server.url("/tail?every=20&slow_ms=1000&fast_ms=5&key=shared");
    for i in 0..19 {
        let svc = if i % 2 == 0 { &a } else { &b };
        assert_eq!(timed(svc, get(url())).await.1, None);
    }
    assert_eq!(stats.delay_for(&key), None); // 19 samples: not trusted yet
    // Request 20 is slow and not hedged; its second counts as the 20th sample.
    assert!(timed(&a, get(url())).await.0 >= Duration::from_secs(1));
    assert_eq!(stats.delay_for(&key), Some(Duration::from_micros(5_119)));
    for _ in 20..39 {
        timed(&a, get(url())).await;
    }
    // Request 40, slow, through the other service: hedged from the shared histogram and
    // paid from the shared budget (40 requests earned 4 hedges).
    let (latency, marker) = timed(&b.clone(), get(url())).await;
    assert_eq!(marker, Some(Hedged { hedges: 1, won_by_hedge: true }));
    // tokio's timers fire on whole milliseconds: hedged at 6 ms, answered at 11 ms.
    assert_eq!(latency, Duration::from_millis(11));
    assert_eq!((stats.requests(), stats.budget_available(), stats.tracked_keys()), (40, 3, 1));
}

#[tokio::test(start_paused = true)]
async fn the_key_bound_holds_under_many_keys() {
    let server = TestServer::start().await.unwrap();
    server.set_record_limit(0);
    // One key per request: a crawler's worth of hosts, through a key function.
    let layer = HedgeLayer::new()
        .key_fn(|head: RequestHead<'_>| Key::new(head.uri().query().unwrap_or_default()));
    let stats = layer.stats();
    let svc = layer.layer(client::<Empty<Bytes>>());
    for i in 0..1_100 {
        timed(&svc, get(server.url(&format!("/get?host={i}")))).await;
    }
    assert_eq!(stats.tracked_keys(), 1_024);
    // The newest keys are kept.
    assert_eq!(stats.delay_for(&Key::new("host=1099")), None); // kept, 1 sample < 20
    let bounded = HedgeLayer::new()
        .max_keys(8)
        .key_fn(|head: RequestHead<'_>| Key::new(head.uri().query().unwrap_or_default()));
    let stats = bounded.stats();
    let svc = bounded.layer(client::<Empty<Bytes>>());
    for i in 0..50 {
        timed(&svc, get(server.url(&format!("/get?host={i}")))).await;
    }
    assert_eq!(stats.tracked_keys(), 8);
}

#[tokio::test(start_paused = true)]
async fn an_error_before_the_delay_is_returned_at_once_without_a_hedge() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener); // nothing listens: connection refused
    let layer = HedgeLayer::after(Duration::from_millis(50)).budget(1.0).unwrap();
    let stats = layer.stats();
    let svc = layer.layer(client::<Empty<Bytes>>());
    let start = Instant::now();
    let err = svc.oneshot(get(format!("http://{addr}/get"))).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_millis(50), "{:?}", start.elapsed());
    assert!(err.downcast_ref::<hyper_util::client::legacy::Error>().is_some(), "{err}");
    assert_eq!(stats.hedges_sent(), 0);
}

#[tokio::test(start_paused = true)]
async fn replay_bodies_from_the_retry_layer_are_sent_whole_by_both_attempts() {
    let server = TestServer::start().await.unwrap();
    let layer = HedgeLayer::after(Duration::from_millis(50)).budget(1.0).unwrap();
    let stats = layer.stats();
    let svc = tower::ServiceBuilder::new()
        .layer(volley_retry::RetryLayer::new(volley_retry::RetryPolicy::new()))
        .layer(layer)
        .service(client());
    let put = || {
        let url = server.url("/tail?every=2&slow_ms=1000&fast_ms=5&key=put");
        Request::put(url).body(Full::<Bytes>::from("hello, hedge")).unwrap()
    };
    timed(&svc, put()).await; // request 1: fast
    let (latency, marker) = timed(&svc, put()).await; // request 2 slow, hedge 3 fast
    assert_eq!(marker, Some(Hedged { hedges: 1, won_by_hedge: true }));
    assert_eq!(latency, Duration::from_millis(55));
    let seen = server.requests_to("/tail");
    let lengths: Vec<u64> = seen.iter().map(|r| r.body_len).collect();
    assert_eq!(lengths, [12, 12, 12]);
    assert_eq!(stats.hedges_sent(), 1);

    // Without retries the retry layer keeps nothing of the body: the PUT is sent once.
    let svc = tower::ServiceBuilder::new()
        .layer(volley_retry::RetryLayer::new(volley_retry::RetryPolicy::new().max_retries(0)))
        .layer(HedgeLayer::after(Duration::from_millis(50)).budget(1.0).unwrap())
        .service(client());
    timed(&svc, put()).await; // request 4: slow, not hedged
    assert_eq!(server.hits("/tail"), 4);
}
