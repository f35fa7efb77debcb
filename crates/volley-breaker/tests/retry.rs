//! The breaker inside volley-retry's layer, over loopback: a refusal is not retried into an
//! open host, and is waited out only when the next probe comes before the deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};
use volley_breaker::{BreakerLayer, BreakerOpen, CircuitState};
use volley_core::{BoxError, Deadline, Key, find_cause};
use volley_retry::{ReplayBody, RetryError, RetryLayer, RetryPolicy, StopReason};
use volley_testserver::TestServer;

/// Retry → (a counter of calls into the breaker) → Breaker → hyper-util client.
fn stack(
    breaker: &BreakerLayer,
) -> (
    impl Service<
        Request<Empty<Bytes>>,
        Response = http::Response<hyper::body::Incoming>,
        Error = BoxError,
    > + Clone,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let client = Client::builder(TokioExecutor::new()).build_http::<ReplayBody<Empty<Bytes>>>();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new().max_retries(3)))
        .map_request(move |req| {
            counted.fetch_add(1, Ordering::SeqCst);
            req
        })
        .layer(breaker.clone())
        .service(client);
    (svc, calls)
}

/// Opens the server's circuit with five 503s sent straight through the breaker.
async fn trip(breaker: &BreakerLayer, server: &TestServer) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut direct = ServiceBuilder::new().layer(breaker.clone()).service(client);
    for _ in 0..5 {
        let req = Request::get(server.url("/status/503")).body(Empty::new()).unwrap();
        let res = direct.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(res.status(), 503);
    }
    assert_eq!(server.hits("/status/503"), 5);
}

fn get_with_deadline(url: String, deadline: Duration) -> Request<Empty<Bytes>> {
    let mut req = Request::get(url).body(Empty::new()).unwrap();
    Deadline::after(deadline).insert_into(&mut req);
    req
}

#[tokio::test(start_paused = true)]
async fn a_probe_later_than_the_deadline_returns_the_refusal_at_once() {
    let server = TestServer::start().await.unwrap();
    let breaker = BreakerLayer::new().jitter(0.0); // open for exactly 5 s
    trip(&breaker, &server).await;
    let (svc, calls) = stack(&breaker);

    let started = Instant::now();
    let err = svc
        .oneshot(get_with_deadline(server.url("/get"), Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO); // no sleep at all
    assert_eq!(calls.load(Ordering::SeqCst), 1); // one call into the breaker
    assert_eq!(server.hits("/get"), 0); // nothing reached the server
    assert_eq!(server.total_hits(), 5);
    let open = find_cause::<BreakerOpen>(&*err).unwrap();
    assert_eq!(open.retry_in(), Duration::from_secs(5));
    let retry = find_cause::<RetryError>(&*err).unwrap();
    assert!(
        matches!(retry.reason(), StopReason::Deadline { delay, .. } if delay == Duration::from_secs(5))
    );
    assert_eq!(retry.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_probe_before_the_deadline_is_waited_for_exactly() {
    let server = TestServer::start().await.unwrap();
    let breaker = BreakerLayer::new().jitter(0.0);
    let handle = breaker.handle();
    trip(&breaker, &server).await;
    tokio::time::advance(Duration::from_millis(1_800)).await;
    let (svc, calls) = stack(&breaker);

    let started = Instant::now();
    let res =
        svc.oneshot(get_with_deadline(server.url("/get"), Duration::from_secs(30))).await.unwrap();
    // Refused with 3.2 s to go, slept exactly that, then sent as the probe.
    assert_eq!(started.elapsed(), Duration::from_millis(3_200));
    assert_eq!(res.status(), 200);
    res.into_body().collect().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.hits("/get"), 1);
    let key = Key::new(format!("http://{}", server.addr()));
    assert_eq!(handle.state(&key), Some(CircuitState::Closed));
    assert_eq!(handle.refused_total(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_do_not_hammer_an_open_host() {
    // A host that fails throughout: the retry layer's retries of the request that trips the
    // breaker are refused, not sent, and the wait for the probe is above the deadline.
    let server = TestServer::start().await.unwrap();
    let breaker = BreakerLayer::new().jitter(0.0).consecutive_failures(2);
    let (svc, calls) = stack(&breaker);
    let req = get_with_deadline(server.url("/status/503"), Duration::from_secs(4));
    let res = svc.clone().oneshot(req).await;
    // Two attempts sent (503, 503: open), the third refused; waiting 5 s would pass the deadline.
    let err = res.unwrap_err();
    assert!(find_cause::<BreakerOpen>(&*err).is_some(), "{err}");
    assert_eq!(server.hits("/status/503"), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
