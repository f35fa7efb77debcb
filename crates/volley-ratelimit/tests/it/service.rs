//! The service contract: ready without touching inner, inner driven after the token.

use std::time::Duration;

use http::{Request, Response};
use std::future::poll_fn;
use std::task::Poll;
use tokio::time::Instant;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_test::mock;
use volley_ratelimit::RateLimitLayer;

#[tokio::test(start_paused = true)]
async fn poll_ready_is_ready_while_inner_is_not_and_the_future_drives_inner() {
    let (inner, mut handle) = mock::pair::<Request<()>, Response<&'static str>>();
    handle.allow(0);
    let mut svc = RateLimitLayer::per_second(1).layer(inner);

    // Ready at once, although the inner service is not.
    poll_fn(|cx| match tower::Service::poll_ready(&mut svc, cx) {
        Poll::Ready(result) => Poll::Ready(result),
        Poll::Pending => panic!("the layer's poll_ready waited"),
    })
    .await
    .unwrap();
    let first = tokio::spawn(tower::Service::call(&mut svc, Request::new(())));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!first.is_finished(), "sent although the inner service is not ready");

    handle.allow(1);
    let (_, reply) = handle.next_request().await.unwrap();
    reply.send_response(Response::new("ok"));
    assert_eq!(first.await.unwrap().unwrap().into_body(), "ok");
}

#[tokio::test(start_paused = true)]
async fn a_request_waiting_for_its_token_holds_no_permit_below() {
    // One concurrency permit below the rate limit, taken in tower's `poll_ready`.
    let fake = crate::common::Fake::default();
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(1))
        .layer(tower::limit::ConcurrencyLimitLayer::new(1))
        .service(fake.service());
    let start = Instant::now();
    svc.clone().oneshot(crate::common::get("http://a.example/")).await.unwrap();

    // The second request for host a waits 1 s for its token…
    let waiting = tokio::spawn(svc.clone().oneshot(crate::common::get("http://a.example/")));
    tokio::task::yield_now().await;
    // …without holding the permit: host b goes through at once.
    svc.clone().oneshot(crate::common::get("http://b.example/")).await.unwrap();
    assert_eq!(fake.arrivals("http://b.example"), [start]);
    waiting.await.unwrap().unwrap();
    assert_eq!(fake.arrivals("http://a.example"), [start, start + Duration::from_secs(1)]);
}

#[tokio::test(start_paused = true)]
async fn a_request_with_its_token_waits_for_a_busy_inner_service() {
    // Burst 3: tokens are no obstacle; the single concurrency permit below is.
    let fake = crate::common::Fake::scripted(&[crate::common::Answer {
        status: 200,
        retry_after: None,
        delay: Duration::from_millis(100),
    }]);
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(1).burst(3))
        .layer(tower::limit::ConcurrencyLimitLayer::new(1))
        .service(fake.service());
    let start = Instant::now();
    let first = tokio::spawn(svc.clone().oneshot(crate::common::get("http://a.example/1")));
    tokio::task::yield_now().await;
    // The permit is busy for 100 ms: this one has its token but must wait for the permit,
    // and is woken when the first response releases it.
    svc.clone().oneshot(crate::common::get("http://a.example/2")).await.unwrap();
    first.await.unwrap().unwrap();
    // And the service is not left holding anything: a third request goes at once.
    svc.clone().oneshot(crate::common::get("http://a.example/3")).await.unwrap();
    let ms = Duration::from_millis;
    assert_eq!(fake.arrivals("http://a.example"), [start, start + ms(100), start + ms(100)]);
}

#[tokio::test(start_paused = true)]
async fn an_inner_poll_ready_error_is_returned() {
    let (inner, mut handle) = mock::pair::<Request<()>, Response<()>>();
    handle.send_error(std::io::Error::other("inner is dead"));
    let svc = ServiceBuilder::new().layer(RateLimitLayer::per_second(1)).service(inner);
    let err = svc.oneshot(Request::new(())).await.unwrap_err();
    assert_eq!(err.to_string(), "inner is dead");
    let sent = tokio::time::timeout(Duration::from_secs(1), handle.next_request()).await;
    assert!(!matches!(sent, Ok(Some(_))), "the request was sent");
}

#[tokio::test(start_paused = true)]
async fn an_inner_error_comes_back_boxed() {
    let (inner, mut handle) = mock::pair::<Request<()>, Response<()>>();
    handle.allow(1);
    let svc = ServiceBuilder::new().layer(RateLimitLayer::per_second(1)).service(inner);
    let call = tokio::spawn(svc.oneshot(Request::new(())));
    let (_, reply) = handle.next_request().await.unwrap();
    reply.send_error(std::io::Error::other("boom"));
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "boom");
}

#[test]
fn the_layer_is_built_outside_a_runtime() {
    let layer = RateLimitLayer::per_second(5).burst(2);
    assert_eq!(layer.tracked_keys(), 0);
    let debug = format!("{layer:?}");
    assert!(
        debug.contains(r#"GovernorBackend { mode: "keyed", interval: 200ms, burst: 2"#),
        "{debug}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let fake = crate::common::Fake::default();
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    rt.block_on(async {
        for _ in 0..3 {
            svc.clone().oneshot(crate::common::get("http://api.example/")).await.unwrap();
        }
    });
    assert_eq!(fake.hits("http://api.example"), 3);
    assert_eq!(layer.tracked_keys(), 1);
}

#[test]
#[should_panic(expected = "the rate must be at least 1")]
fn a_zero_rate_panics() {
    let _ = RateLimitLayer::per_second(0);
}

#[test]
#[should_panic(expected = "the burst must be at least 1")]
fn a_zero_burst_panics() {
    let _ = RateLimitLayer::per_second(1).burst(0);
}

#[test]
#[should_panic(expected = "the period must not be zero")]
fn a_zero_period_panics() {
    let _ = RateLimitLayer::new(1, Duration::ZERO);
}
