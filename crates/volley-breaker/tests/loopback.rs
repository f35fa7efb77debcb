//! The breaker around a real hyper-util client, against the loopback test server, under
//! paused time.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};
use volley_breaker::{
    Breaker, BreakerHandle, BreakerLayer, BreakerOpen, CircuitState, ConfigError,
};
use volley_core::{BoxError, Key, RequestHead, find_cause};
use volley_testserver::TestServer;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get(url: String) -> Request<Empty<Bytes>> {
    Request::get(url).body(Empty::new()).unwrap()
}

fn origin(server: &TestServer) -> Key {
    Key::new(format!("http://{}", server.addr()))
}

/// Sends one request; the status, or the breaker's refusal.
async fn send<S>(svc: &mut S, url: String) -> Result<u16, BreakerOpen>
where
    S: Service<Request<Empty<Bytes>>, Response = Response<hyper::body::Incoming>, Error = BoxError>,
{
    match svc.ready().await.unwrap().call(get(url)).await {
        Ok(res) => {
            let status = res.status().as_u16();
            res.into_body().collect().await.unwrap();
            Ok(status)
        }
        Err(err) => Err(find_cause::<BreakerOpen>(&*err)
            .cloned()
            .unwrap_or_else(|| panic!("not a refusal: {err}"))),
    }
}

fn breaker(layer: &BreakerLayer) -> Breaker<HttpClient> {
    layer.layer(client())
}

/// Trips `key`'s circuit with five 503s; asserts each reached the server.
async fn trip(svc: &mut Breaker<HttpClient>, server: &TestServer) {
    let before = server.hits("/status/503");
    for _ in 0..5 {
        assert_eq!(send(svc, server.url("/status/503")).await, Ok(503));
    }
    assert_eq!(server.hits("/status/503"), before + 5);
}

#[tokio::test(start_paused = true)]
async fn five_consecutive_503s_open_it_and_the_sixth_call_is_refused_unsent() {
    let server = TestServer::start().await.unwrap();
    let layer = BreakerLayer::new();
    let handle = layer.handle();
    let mut svc = breaker(&layer);
    for n in 1..=4 {
        assert_eq!(send(&mut svc, server.url("/status/503")).await, Ok(503));
        assert_eq!(handle.state(&origin(&server)), Some(CircuitState::Closed), "after {n}");
    }
    assert_eq!(send(&mut svc, server.url("/status/503")).await, Ok(503));
    let Some(CircuitState::Open { retry_in }) = handle.state(&origin(&server)) else {
        panic!("not open")
    };
    // 5 s ± 20 %.
    assert!((Duration::from_secs(4)..=Duration::from_secs(6)).contains(&retry_in), "{retry_in:?}");

    let started = Instant::now();
    let refused = send(&mut svc, server.url("/status/200")).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO); // failed fast
    assert_eq!(server.hits("/status/503"), 5);
    assert_eq!(server.hits("/status/200"), 0); // never sent
    assert_eq!(server.total_hits(), 5);
    assert_eq!(refused.key(), &origin(&server));
    assert_eq!(refused.retry_in(), retry_in);
    assert_eq!(
        refused.to_string(),
        format!(
            "circuit breaker open for http://{}; next probe in {:?}",
            server.addr(),
            Duration::from_millis((retry_in + Duration::from_micros(500)).as_millis() as u64)
        )
    );
    assert_eq!((handle.opened_total(), handle.refused_total()), (1, 1));
    assert_eq!(handle.times_opened(&origin(&server)), Some(1));
}

#[tokio::test(start_paused = true)]
async fn the_open_duration_stays_within_its_jitter_bounds() {
    // Jitter bounds over many openings (one key each): 5 s ± 20 %, and not all the same.
    let layer = BreakerLayer::new().key_fn(|head: RequestHead<'_>| Key::new(head.uri().path()));
    let handle = layer.handle();
    let down = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::builder().status(503).body(()).unwrap())
    });
    let mut svc = layer.layer(down);
    let mut seen = Vec::new();
    for host in 0..200 {
        let path = format!("/{host}");
        for _ in 0..5 {
            svc.ready()
                .await
                .unwrap()
                .call(Request::get(path.as_str()).body(()).unwrap())
                .await
                .unwrap();
        }
        let Some(CircuitState::Open { retry_in }) = handle.state(&Key::new(path)) else {
            panic!("not open")
        };
        seen.push(retry_in);
    }
    let (min, max) = (seen.iter().min().unwrap(), seen.iter().max().unwrap());
    assert!(*min >= Duration::from_secs(4) && *max <= Duration::from_secs(6), "{min:?}..{max:?}");
    assert!(*max - *min > Duration::from_secs(1), "jitter spread only {min:?}..{max:?}");
}

#[tokio::test(start_paused = true)]
async fn after_the_open_time_one_probe_reaches_the_server_and_recovery_closes_it() {
    let server = TestServer::start().await.unwrap();
    let layer = BreakerLayer::new().jitter(0.0);
    let handle = layer.handle();
    let mut svc = breaker(&layer);
    // `/flaky/5` fails 5 times, then answers 200.
    for _ in 0..5 {
        assert_eq!(send(&mut svc, server.url("/flaky/5")).await, Ok(503));
    }
    tokio::time::advance(Duration::from_millis(4_999)).await;
    let refused = send(&mut svc, server.url("/flaky/5")).await.unwrap_err();
    assert_eq!(refused.retry_in(), Duration::from_millis(1));
    assert_eq!(server.hits("/flaky/5"), 5);

    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::HalfOpen));
    assert_eq!(send(&mut svc, server.url("/flaky/5")).await, Ok(200)); // the probe
    assert_eq!(server.hits("/flaky/5"), 6);
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::Closed));
    for _ in 0..3 {
        assert_eq!(send(&mut svc, server.url("/flaky/5")).await, Ok(200));
    }
    assert_eq!(server.hits("/flaky/5"), 9);
    assert_eq!((handle.opened_total(), handle.refused_total()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_doubles_the_open_time_up_to_the_cap_and_closing_resets_it() {
    let server = TestServer::start().await.unwrap();
    let layer =
        BreakerLayer::new().jitter(0.0).open_for(Duration::from_secs(5), Duration::from_secs(12));
    let handle = layer.handle();
    let key = origin(&server);
    let mut svc = breaker(&layer);
    // Fails 8 times: 5 to open, then 3 probes, then answers.
    for _ in 0..5 {
        assert_eq!(send(&mut svc, server.url("/flaky/8")).await, Ok(503));
    }
    for (n, open_for) in [(6, 5), (7, 10), (8, 12)] {
        assert_eq!(
            handle.state(&key),
            Some(CircuitState::Open { retry_in: Duration::from_secs(open_for) })
        );
        tokio::time::advance(Duration::from_secs(open_for) - Duration::from_millis(1)).await;
        assert!(send(&mut svc, server.url("/flaky/8")).await.is_err());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(send(&mut svc, server.url("/flaky/8")).await, Ok(503)); // a failed probe
        assert_eq!(server.hits("/flaky/8"), n);
    }
    // 5 s, 10 s, then 20 s capped at 12 s, and 12 s again.
    assert_eq!(handle.state(&key), Some(CircuitState::Open { retry_in: Duration::from_secs(12) }));
    tokio::time::advance(Duration::from_secs(12)).await;
    assert_eq!(send(&mut svc, server.url("/flaky/8")).await, Ok(200));
    assert_eq!(handle.state(&key), Some(CircuitState::Closed));
    assert_eq!(handle.times_opened(&key), Some(4));

    // Tripped again later: back to the base duration.
    trip(&mut svc, &server).await;
    assert_eq!(handle.state(&key), Some(CircuitState::Open { retry_in: Duration::from_secs(5) }));
    assert_eq!(handle.opened_total(), 5);
}

#[tokio::test(start_paused = true)]
async fn the_failure_rate_trips_only_above_the_minimum_throughput() {
    let server = TestServer::start().await.unwrap();
    // Consecutive failures off, to see the rate alone.
    let layer = BreakerLayer::new().consecutive_failures(0);
    let handle = layer.handle();
    let key = origin(&server);
    let mut svc = breaker(&layer);
    // 19 failures in a row: 100 %, but below the 20 calls needed.
    for _ in 0..19 {
        assert_eq!(send(&mut svc, server.url("/status/503")).await, Ok(503));
    }
    assert_eq!(handle.state(&key), Some(CircuitState::Closed));
    // They slide out of the 10 s window; one more failure is then 1 call of 1.
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(send(&mut svc, server.url("/status/503")).await, Ok(503));
    assert_eq!(handle.state(&key), Some(CircuitState::Closed));
    tokio::time::advance(Duration::from_secs(11)).await;

    // Alternating success and failure: 50 % of 20 calls trips it on the 20th.
    for n in 1..=19 {
        let path = if n % 2 == 1 { "/status/200" } else { "/status/503" };
        assert!(send(&mut svc, server.url(path)).await.is_ok());
    }
    assert_eq!(handle.state(&key), Some(CircuitState::Closed)); // 9 of 19
    assert_eq!(send(&mut svc, server.url("/status/503")).await, Ok(503)); // 10 of 20
    assert!(matches!(handle.state(&key), Some(CircuitState::Open { .. })));
    assert!(send(&mut svc, server.url("/status/200")).await.is_err());
    assert_eq!(server.hits("/status/200"), 10);
    assert_eq!(server.hits("/status/503"), 19 + 1 + 10);
}

#[tokio::test(start_paused = true)]
async fn a_lower_rate_does_not_trip() {
    let server = TestServer::start().await.unwrap();
    let layer = BreakerLayer::new().consecutive_failures(0);
    let handle = layer.handle();
    let mut svc = breaker(&layer);
    // One failure in three, 60 calls: 33 % stays under 50 %.
    for n in 0..60 {
        let path = if n % 3 == 0 { "/status/500" } else { "/status/200" };
        assert!(send(&mut svc, server.url(path)).await.is_ok());
    }
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::Closed));
    assert_eq!(server.total_hits(), 60);
}

#[tokio::test(start_paused = true)]
async fn circuits_are_per_host() {
    let (down, up) = (TestServer::start().await.unwrap(), TestServer::start().await.unwrap());
    let layer = BreakerLayer::new();
    let handle = layer.handle();
    let mut svc = breaker(&layer);
    trip(&mut svc, &down).await;
    assert!(send(&mut svc, down.url("/get")).await.is_err());
    for _ in 0..10 {
        assert_eq!(send(&mut svc, up.url("/get")).await, Ok(200));
    }
    assert_eq!((down.hits("/get"), up.hits("/get")), (0, 10));
    assert!(matches!(handle.state(&origin(&down)), Some(CircuitState::Open { .. })));
    assert_eq!(handle.state(&origin(&up)), Some(CircuitState::Closed));
    assert_eq!(handle.tracked_keys(), 2);
}

#[tokio::test(start_paused = true)]
async fn not_found_proves_the_host_up_and_never_trips() {
    let server = TestServer::start().await.unwrap();
    let layer = BreakerLayer::new();
    let handle = layer.handle();
    let mut svc = breaker(&layer);
    for _ in 0..30 {
        assert_eq!(send(&mut svc, server.url("/status/404")).await, Ok(404));
    }
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::Closed));
    // A 404 between failures resets the count: 4 + 4 failures never make 5 in a row.
    for path in ["/status/503"; 4].into_iter().chain(["/status/404"]).chain(["/status/503"; 4]) {
        assert!(send(&mut svc, server.url(path)).await.is_ok());
    }
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::Closed));
    assert_eq!(server.total_hits(), 39);
    assert_eq!(handle.opened_total(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_counts_as_a_failure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let layer = BreakerLayer::new();
    let handle = layer.handle();
    let mut svc = breaker(&layer);
    for _ in 0..5 {
        let err =
            svc.ready().await.unwrap().call(get(format!("http://{addr}/get"))).await.unwrap_err();
        assert!(find_cause::<BreakerOpen>(&*err).is_none(), "{err}");
    }
    let err = svc.ready().await.unwrap().call(get(format!("http://{addr}/get"))).await.unwrap_err();
    assert!(find_cause::<BreakerOpen>(&*err).is_some(), "{err}");
    assert!(matches!(
        handle.state(&Key::new(format!("http://{addr}"))),
        Some(CircuitState::Open { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn half_open_lets_exactly_the_configured_probes_through_at_once() {
    let server = TestServer::start().await.unwrap();
    let layer = BreakerLayer::new().jitter(0.0).half_open_probes(2);
    let handle = layer.handle();
    let svc = breaker(&layer);
    trip(&mut svc.clone(), &server).await;
    tokio::time::advance(Duration::from_secs(5)).await;

    // Ten callers at once, each with its own clone; the probes take 1 s at the server.
    let calls = (0..10).map(|_| {
        let mut svc = svc.clone();
        let url = server.url("/delay/1000");
        async move { send(&mut svc, url).await }
    });
    let results = futures_util::future::join_all(calls).await;
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(results.iter().filter(|r| **r == Ok(200)).count(), 2);
    assert_eq!(refused.len(), 8);
    // While probes are out, a refusal cannot know when they answer: it names the base.
    assert!(refused.iter().all(|r| r.retry_in() == Duration::from_secs(5)));
    assert_eq!(server.hits("/delay/1000"), 2);
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::Closed));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_counts_as_nothing_and_frees_its_slot() {
    let server = TestServer::start().await.unwrap();
    let layer = BreakerLayer::new().jitter(0.0);
    let handle = layer.handle();
    let mut svc = breaker(&layer);
    trip(&mut svc, &server).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    // The probe is cancelled after 100 ms of its 10 s.
    let probe = svc.ready().await.unwrap().call(get(server.url("/delay/10000")));
    assert!(tokio::time::timeout(Duration::from_millis(100), probe).await.is_err());
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::HalfOpen));
    assert_eq!(handle.opened_total(), 1);
    // The slot is free again: the next call is a probe, and it closes the circuit.
    assert_eq!(send(&mut svc, server.url("/get")).await, Ok(200));
    assert_eq!(handle.state(&origin(&server)), Some(CircuitState::Closed));
    assert_eq!(handle.refused_total(), 0);
}

#[tokio::test(start_paused = true)]
async fn clones_of_services_and_layers_share_the_circuits() {
    let server = TestServer::start().await.unwrap();
    let layer = BreakerLayer::new();
    let mut first = breaker(&layer);
    let mut other = layer.clone().layer(client());
    let mut cloned = first.clone();
    trip(&mut first, &server).await;
    assert!(send(&mut other, server.url("/get")).await.is_err());
    assert!(send(&mut cloned, server.url("/get")).await.is_err());
    assert_eq!(server.hits("/get"), 0);
    assert_eq!(other.handle().refused_total(), 2);
    // A new layer has circuits of its own.
    assert_eq!(send(&mut breaker(&BreakerLayer::new()), server.url("/get")).await, Ok(200));
}

#[tokio::test(start_paused = true)]
async fn the_key_map_is_bounded_and_keeps_what_matters() {
    let server = TestServer::start().await.unwrap();
    let tenant = |head: RequestHead<'_>| {
        Key::new(head.headers().get("x-tenant").and_then(|v| v.to_str().ok()).unwrap_or("-"))
    };
    let layer = BreakerLayer::new().max_keys(4).key_fn(tenant);
    let handle = layer.handle();
    let mut svc = layer.layer(client());
    let mut call = async |tenant: &str, path: &str| {
        let req =
            Request::get(server.url(path)).header("x-tenant", tenant).body(Empty::new()).unwrap();
        svc.ready().await.unwrap().call(req).await.map(|res| res.status().as_u16())
    };
    // t0 open; t1..t3 with one recent failure each: nothing can be dropped.
    for _ in 0..5 {
        call("t0", "/status/503").await.unwrap();
    }
    for t in ["t1", "t2", "t3"] {
        call(t, "/status/503").await.unwrap();
    }
    assert_eq!(handle.tracked_keys(), 4);
    // A fifth tenant goes through untracked.
    for _ in 0..6 {
        assert_eq!(call("t4", "/status/503").await.unwrap(), 503);
    }
    assert_eq!(handle.tracked_keys(), 4);
    assert_eq!(handle.state(&Key::new("t4")), None);
    assert_eq!(server.hits("/status/503"), 5 + 3 + 6);
    // Once the failures slide out of the window, idle circuits make room; the open one stays.
    tokio::time::advance(Duration::from_secs(11)).await;
    call("t5", "/status/200").await.unwrap();
    assert_eq!(handle.tracked_keys(), 2);
    assert!(handle.state(&Key::new("t0")).is_some());
    assert_eq!(handle.state(&Key::new("t5")), Some(CircuitState::Closed));
    assert_eq!(handle.state(&Key::new("t1")), None);
    // An open circuit nobody has called for a whole window after its time was up goes too.
    tokio::time::advance(Duration::from_secs(10)).await;
    for t in ["t6", "t7", "t8"] {
        call(t, "/status/200").await.unwrap();
    }
    // The map was full at t8: every idle circuit went, t0 with them.
    assert_eq!(handle.state(&Key::new("t0")), None);
    assert_eq!(handle.tracked_keys(), 1);
    assert_eq!(handle.state(&Key::new("t8")), Some(CircuitState::Closed));
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_failing_hosts_stays_within_the_default_bound() {
    let layer = BreakerLayer::new().key_fn(|head: RequestHead<'_>| Key::new(head.uri().path()));
    let handle = layer.handle();
    let down = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::builder().status(502).body(()).unwrap())
    });
    let mut svc = layer.layer(down);
    for round in 0..2 {
        for host in 0..10_000 {
            let req = Request::get(format!("/{round}/{host}")).body(()).unwrap();
            assert_eq!(svc.ready().await.unwrap().call(req).await.unwrap().status(), 502);
        }
        assert_eq!(handle.tracked_keys(), 4096);
        tokio::time::advance(Duration::from_secs(11)).await;
    }
    // The second round found room only once the first round's failures had aged out.
    assert_eq!(handle.state(&Key::new("/1/0")), Some(CircuitState::Closed));
    assert_eq!(handle.state(&Key::new("/0/0")), None);
}

#[test]
fn nonsense_settings_are_refused_with_a_typed_error() {
    let err = |r: Result<BreakerLayer, ConfigError>| r.unwrap_err();
    assert_eq!(err(BreakerLayer::new().try_half_open_probes(0)), ConfigError::ZeroProbes);
    assert_eq!(
        err(BreakerLayer::new().try_success_threshold(0)),
        ConfigError::ZeroSuccessThreshold
    );
    assert_eq!(
        err(BreakerLayer::new().try_failure_rate(1.5, Duration::from_secs(1), 1)),
        ConfigError::Ratio(1.5)
    );
    assert_eq!(
        err(BreakerLayer::new().try_failure_rate(0.0, Duration::from_secs(1), 1)),
        ConfigError::Ratio(0.0)
    );
    assert!(
        matches!(err(BreakerLayer::new().try_failure_rate(f64::NAN, Duration::from_secs(1), 1)), ConfigError::Ratio(r) if r.is_nan())
    );
    assert_eq!(
        err(BreakerLayer::new().try_failure_rate(0.5, Duration::ZERO, 1)),
        ConfigError::ZeroWindow
    );
    assert_eq!(
        err(BreakerLayer::new().try_failure_rate(0.5, Duration::from_secs(1), 0)),
        ConfigError::ZeroMinCalls
    );
    let (five, one) = (Duration::from_secs(5), Duration::from_secs(1));
    assert_eq!(
        err(BreakerLayer::new().try_open_for(five, one)),
        ConfigError::OpenFor { base: five, max: one }
    );
    assert_eq!(
        err(BreakerLayer::new().try_open_for(Duration::ZERO, one)),
        ConfigError::OpenFor { base: Duration::ZERO, max: one }
    );
    assert_eq!(err(BreakerLayer::new().try_jitter(1.0)), ConfigError::Jitter(1.0));
    assert_eq!(err(BreakerLayer::new().try_max_keys(0)), ConfigError::ZeroMaxKeys);
    assert_eq!(
        ConfigError::ZeroProbes.to_string(),
        "invalid circuit breaker configuration: zero half-open probes: the circuit could never close"
    );
    assert!(BreakerLayer::new().try_failure_rate(1.0, one, 1).is_ok());
    let panicked = std::panic::catch_unwind(|| BreakerLayer::new().half_open_probes(0));
    assert!(panicked.is_err());
}

#[allow(dead_code)]
fn handle_is_send_sync_clone(h: BreakerHandle) -> impl Send + Sync + Clone {
    h
}
