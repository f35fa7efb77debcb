//! The opt-in resilience stages through the `Client`: circuit breaker, adaptive
//! concurrency, hedging and pacing from quota headers, over loopback.

use std::time::Duration;

use tokio::time::Instant;
use volley::breaker::{BreakerLayer, CircuitState};
use volley::hedge::HedgeLayer;
use volley::limit::Adaptive;
use volley::{Client, Kind};
use volley_core::Key;
use volley_testserver::TestServer;

fn origin(server: &TestServer) -> Key {
    Key::new(format!("http://{}", server.addr()))
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_without_reaching_the_host() {
    let server = TestServer::start().await.unwrap();
    let breaker = BreakerLayer::new().consecutive_failures(3).jitter(0.0);
    let client = Client::builder().retries(0).circuit_breaker(breaker).build().unwrap();
    let down = server.url("/status/503");
    for _ in 0..3 {
        assert_eq!(client.get(&down).send().await.unwrap().status(), 503);
    }
    let refused_at = Instant::now();
    let err = client.get(&down).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::BreakerOpen, "{err}");
    assert_eq!(Instant::now(), refused_at, "refused at once");
    assert_eq!(server.hits("/status/503"), 3, "the refused request was not sent");
    let limits = client.limits();
    let circuits = limits.circuit_breaker().unwrap();
    assert_eq!(
        circuits.state(&origin(&server)),
        Some(CircuitState::Open { retry_in: Duration::from_secs(5) })
    );
    assert_eq!(circuits.refused_total(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_wait_for_the_probe_only_when_it_comes_before_the_deadline() {
    let server = TestServer::start().await.unwrap();
    let breaker = BreakerLayer::new().consecutive_failures(2).jitter(0.0); // open 5 s
    let client = Client::builder()
        .retries(3)
        .timeout(Some(Duration::from_secs(30)))
        .circuit_breaker(breaker)
        .build()
        .unwrap();
    // Two failures open the circuit, the retry waits the 5 s for the probe, which succeeds.
    let flaky = server.url("/flaky/2?key=b");
    let start = Instant::now();
    let res = client.get(&flaky).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(start.elapsed() >= Duration::from_secs(5), "{:?}", start.elapsed());
    assert_eq!(server.hits("/flaky/2"), 3, "two failures and the probe");

    // A deadline shorter than the open time: the refusal comes back at once.
    let other = TestServer::start().await.unwrap();
    for _ in 0..2 {
        let _ = client.get(other.url("/status/503")).send().await;
    }
    let hits = other.hits("/status/503");
    let start = Instant::now();
    let err = client.get(other.url("/status/503")).timeout(Duration::from_secs(2)).send().await;
    assert_eq!(err.unwrap_err().kind(), Kind::BreakerOpen);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(other.hits("/status/503"), hits);
}

#[tokio::test(start_paused = true)]
async fn an_adaptive_limit_drops_to_its_minimum_in_a_503_storm() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder()
        .retries(0)
        .adaptive_concurrency(Adaptive::aimd().min(2).max(50).initial(20))
        .build()
        .unwrap();
    let key = origin(&server);
    let limits = client.limits();
    let state = limits.concurrency().unwrap();
    assert_eq!(state.limit(&key), Some(20), "the initial limit");
    for _ in 0..40 {
        client.get(server.url("/status/503")).send().await.unwrap();
    }
    assert_eq!(state.limit(&key), Some(2));
    assert_eq!((state.in_flight(), state.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_slow_request_is_hedged_and_the_fast_copy_wins() {
    let server = TestServer::start().await.unwrap();
    let hedge = HedgeLayer::after(Duration::from_millis(50));
    let client = Client::builder().hedge(hedge).build().unwrap();
    // Request 12 of the key is slow (1 s); its hedge is request 13, fast. The first eleven
    // earn the budget (10 % of a hedge each).
    let url = server.url("/tail?every=12&slow_ms=1000&key=h");
    for _ in 0..11 {
        client.get(&url).send().await.unwrap();
    }
    let start = Instant::now();
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(50) && took < Duration::from_millis(100), "{took:?}");
    assert_eq!(server.hits("/tail"), 13);
    drop(res);
    let limits = client.limits();
    let stats = limits.hedge().unwrap();
    assert_eq!((stats.hedges_sent(), stats.hedges_won()), (1, 1));
    // A POST is never hedged.
    client.post(server.url("/tail?every=1&slow_ms=300&key=p")).send().await.unwrap();
    assert_eq!(server.hits("/tail"), 14);
    assert_eq!(stats.hedges_sent(), 1);
    let concurrency = limits.concurrency().unwrap();
    assert_eq!(concurrency.in_flight(), 0, "every permit released");
}

#[tokio::test(start_paused = true)]
async fn pacing_spreads_a_quota_without_a_rate_limit_of_its_own() {
    let server = TestServer::start().await.unwrap();
    let url = server.url("/ratelimit?limit=10&window_ms=2000&key=p");
    let paced = Client::builder().pace_from_quota(true).retries(0).build().unwrap();
    let start = Instant::now();
    for _ in 0..30 {
        assert_eq!(paced.get(&url).send().await.unwrap().status(), 200);
    }
    let took = start.elapsed();
    assert_eq!(server.throttled(), 0);
    // 30 requests of a 10-per-2 s quota need three windows (at least 4 s); spread over each
    // window, with resets announced in whole seconds, they take about 6-7 s.
    assert!(took >= Duration::from_secs(4) && took < Duration::from_secs(8), "{took:?}");
    assert!(paced.limits().rate_limit().unwrap().tracked_paces() <= 1);

    // The same run unpaced meets the quota.
    let server = TestServer::start().await.unwrap();
    let url = server.url("/ratelimit?limit=10&window_ms=2000&key=p");
    let unpaced = Client::builder()
        .rate_limit_layer(volley_ratelimit::RateLimitLayer::unlimited().no_feedback())
        .retries(0)
        .build()
        .unwrap();
    for _ in 0..30 {
        unpaced.get(&url).send().await.unwrap();
    }
    assert!(server.throttled() > 0);
}
