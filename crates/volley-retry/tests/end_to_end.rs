//! Retries against the test server over loopback: what reached the server, and when.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::ServiceExt;
use volley_classify::{Classify, HintSource, HttpClassifier};
use volley_core::{Deadline, find_cause};
use volley_retry::{Backoff, RetryError, RetryInfo, RetryPolicy, StopReason};
use volley_testserver::TestServer;

use common::{get, retrying};

fn info(res: &http::Response<hyper::body::Incoming>) -> RetryInfo {
    *res.extensions().get::<RetryInfo>().expect("retry info")
}

#[tokio::test(start_paused = true)]
async fn flaky_succeeds_on_the_third_attempt() {
    let server = TestServer::start().await.unwrap();
    let svc = retrying(RetryPolicy::new());
    let res = svc.oneshot(get(server.url("/flaky/2"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(info(&res), RetryInfo { attempts: 3, stopped: None });
    assert_eq!(server.hits("/flaky/2"), 3);
}

/// Sends a request that is throttled once and returns how long the retry waited.
async fn throttled_once(path: &str) -> Duration {
    let server = TestServer::start().await.unwrap();
    let svc = retrying(RetryPolicy::new());
    let started = Instant::now();
    let res = svc.oneshot(get(server.url(path))).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    assert_eq!(info(&res).attempts, 2, "{path}");
    assert_eq!(server.endpoint_hits("retry-after"), 2, "{path}");
    waited
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_a_floor_with_bounded_jitter() {
    let waited = throttled_once("/retry-after/2?times=1").await;
    // At least the hint, at most the hint plus a tenth of it.
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    assert!(waited <= Duration::from_millis(2200), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_ms_is_a_floor_with_bounded_jitter() {
    let waited = throttled_once("/retry-after/1.5?form=ms&times=1").await;
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    assert!(waited <= Duration::from_millis(1650), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_is_a_floor_with_bounded_jitter() {
    // An HTTP-date has whole seconds: "2 s ahead" is read back as between 1 and 2 s,
    // depending on where in its second the server's clock was. The wait never goes below
    // what the date says (checked against the classifier's own reading) nor above 2.2 s.
    let server = TestServer::start().await.unwrap();
    let probe = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let res = probe.oneshot(get(server.url("/retry-after/2?form=date"))).await.unwrap();
    let hint = HttpClassifier::new().classify(&Method::GET, Ok(&res)).hint().unwrap();
    assert_eq!(hint.source(), HintSource::RetryAfter);
    assert!(hint.delay() >= Duration::from_millis(900) && hint.delay() <= Duration::from_secs(2));

    let waited = throttled_once("/retry-after/2?form=date&times=1").await;
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited <= Duration::from_millis(2200), "{waited:?}");
}

#[tokio::test]
async fn a_hint_above_the_cap_returns_the_429_at_once() {
    let server = TestServer::start().await.unwrap();
    let svc = retrying(RetryPolicy::new());
    let started = std::time::SystemTime::now();
    let res = svc.oneshot(get(server.url("/retry-after/3600"))).await.unwrap();
    assert!(started.elapsed().unwrap() < Duration::from_millis(100));
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(server.hits("/retry-after/3600"), 1);
    let RetryInfo { attempts, stopped: Some(StopReason::HintAboveCap { hint, cap }) } = info(&res)
    else {
        panic!("expected a refusal for the hint, got {:?}", info(&res));
    };
    assert_eq!(
        (attempts, hint.delay(), cap),
        (1, Duration::from_secs(3600), Duration::from_secs(60))
    );
    assert_eq!(res.headers()["retry-after"], "3600");
}

#[tokio::test(start_paused = true)]
async fn post_is_retried_only_with_an_idempotency_key() {
    let server = TestServer::start().await.unwrap();
    let svc = retrying(RetryPolicy::new());
    let post = |key: Option<&str>| {
        let mut req =
            Request::post(server.url("/status/503")).body(Full::new(Bytes::from("{}"))).unwrap();
        if let Some(key) = key {
            req.headers_mut().insert("idempotency-key", key.parse().unwrap());
        }
        req
    };

    let res = svc.clone().oneshot(post(None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(info(&res), RetryInfo { attempts: 1, stopped: Some(StopReason::NotIdempotent) });
    assert_eq!(server.hits("/status/503"), 1);

    let res = svc.oneshot(post(Some("order-42"))).await.unwrap();
    assert_eq!(info(&res), RetryInfo { attempts: 4, stopped: Some(StopReason::MaxRetries(3)) });
    assert_eq!(server.hits("/status/503"), 1 + 4);
}

#[tokio::test(start_paused = true)]
async fn post_to_a_closed_port_is_retried_because_it_was_never_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let svc = retrying(RetryPolicy::new());
    let req =
        Request::post(format!("http://{addr}/post")).body(Full::new(Bytes::from("{}"))).unwrap();
    let err = svc.oneshot(req).await.unwrap_err();
    let retry = find_cause::<RetryError>(&*err).expect("a RetryError");
    assert_eq!((retry.attempts(), retry.reason()), (4, StopReason::MaxRetries(3)));
    assert_eq!(err.to_string(), "not retried after 4 attempts: all 3 retries were used");
    let transport = find_cause::<hyper_util::client::legacy::Error>(&*err).unwrap();
    assert!(transport.is_connect());
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_deadline_with_the_last_response() {
    let server = TestServer::start().await.unwrap();
    let svc = retrying(RetryPolicy::new().backoff(Backoff::constant(Duration::from_secs(5))));
    let mut req = get(server.url("/status/503"));
    Deadline::after(Duration::from_secs(1)).insert_into(&mut req);
    let started = Instant::now();
    let res = svc.oneshot(req).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let Some(StopReason::Deadline { delay, remaining }) = info(&res).stopped else {
        panic!("{:?}", info(&res))
    };
    assert_eq!(delay, Duration::from_secs(5));
    assert!(remaining <= Duration::from_secs(1));
    assert_eq!(server.hits("/status/503"), 1);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_outcomes_pass_through_untouched() {
    let server = TestServer::start().await.unwrap();
    let svc = retrying(RetryPolicy::new());
    let res = svc.clone().oneshot(get(server.url("/status/404"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.extensions().get::<RetryInfo>().is_none());
    let res = svc.oneshot(get(server.url("/bytes/1000"))).await.unwrap();
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes().len(), 1000);
    assert_eq!(server.total_hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn tower_retry_with_our_policy() {
    let server = TestServer::start().await.unwrap();
    let layer = volley_retry::RetryLayer::new(RetryPolicy::new());
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let svc = tower::ServiceBuilder::new()
        .layer(tower::retry::RetryLayer::new(layer.tower_policy()))
        .service(client);
    let res = svc.clone().oneshot(get(server.url("/flaky/2"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(server.hits("/flaky/2"), 3);
    // A POST without a key is not retried through tower's layer either.
    let post = Request::post(server.url("/status/502")).body(Full::new(Bytes::from("x"))).unwrap();
    let res = svc.oneshot(post).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(server.hits("/status/502"), 1);
    assert_eq!(layer.tracked_budgets(), 1);
}
