//! Configuration: zero is refused, huge durations are fine, layers and services clone.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::{BoxError, Deadline};
use volley_timeout::{AttemptTimeout, AttemptTimeoutLayer, TotalTimeout, TotalTimeoutLayer};

use crate::common::{frames_at, ms};

#[test]
#[should_panic(expected = "TotalTimeoutLayer::new: the timeout must not be zero")]
fn a_zero_total_timeout_panics() {
    let _ = TotalTimeoutLayer::new(Duration::ZERO);
}

#[test]
#[should_panic(expected = "AttemptTimeoutLayer::new: the timeout must not be zero")]
fn a_zero_attempt_timeout_panics() {
    let _ = AttemptTimeoutLayer::new(Duration::ZERO);
}

#[test]
#[should_panic(expected = "body_idle_timeout: the gap must not be zero")]
fn a_zero_body_idle_timeout_panics() {
    let _ = AttemptTimeoutLayer::new(ms(1)).body_idle_timeout(Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn huge_durations_mean_no_limit_and_do_not_panic() {
    let inner = tower::service_fn(|req: Request<()>| async move {
        let deadline = Deadline::from_request(&req).unwrap();
        assert!(deadline.remaining() > Duration::from_secs(29 * 365 * 24 * 3600));
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<_, BoxError>(Response::new(frames_at(&[1000, 7_200_000])))
    });
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(Duration::MAX).body_idle_timeout(Duration::MAX))
        .layer(AttemptTimeoutLayer::new(Duration::MAX).body_idle_timeout(Duration::MAX))
        .service(inner);
    let start = Instant::now();

    let res = svc.oneshot(Request::new(())).await.unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes, "**");
    assert_eq!(start.elapsed(), Duration::from_secs(3600 + 7200));
}

#[test]
fn layers_and_services_are_clone_and_debug() {
    fn clone_and_debug<T: Clone + std::fmt::Debug>(_: &T) {}
    let total = TotalTimeoutLayer::new(ms(1500)).body_idle_timeout(ms(100));
    let attempt = AttemptTimeoutLayer::new(ms(500));
    assert_eq!(format!("{total:?}"), "TotalTimeoutLayer { timeout: 1.5s, body_idle: Some(100ms) }");
    assert_eq!(format!("{attempt:?}"), "AttemptTimeoutLayer { timeout: 500ms, body_idle: None }");
    let inner = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, BoxError>(Response::new(Full::<Bytes>::from("ok")))
    });
    let svc: TotalTimeout<AttemptTimeout<_>> =
        ServiceBuilder::new().layer(total).layer(attempt).service(inner);
    clone_and_debug(&total);
    clone_and_debug(&attempt);
    let _clone = svc.clone();
}

#[test]
fn bodies_and_futures_keep_the_auto_traits_of_what_they_wrap() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    fn send<T: Send>() {}
    send_sync_unpin::<volley_timeout::ResponseBody<hyper::body::Incoming>>();
    send_sync_unpin::<volley_timeout::ResponseBody<Full<Bytes>>>();
    send::<volley_timeout::future::ResponseFuture<hyper_util::client::legacy::ResponseFuture>>();
}
