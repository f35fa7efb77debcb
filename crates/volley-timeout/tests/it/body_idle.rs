//! body_idle_timeout: the longest wait for the next body frame.

use http::{Request, Response};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::BoxError;
use volley_testserver::TestServer;
use volley_timeout::{AttemptTimeoutLayer, TimeoutKind, TimeoutPhase, TotalTimeoutLayer};

use crate::common::{client, elapsed_ms, frames_at, get, ms, read_to_end, timed_out};

#[tokio::test(start_paused = true)]
async fn a_gap_between_frames_longer_than_allowed_fails_as_body_idle() {
    let inner = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, BoxError>(Response::new(frames_at(&[100, 400, 800, 1500, 1600])))
    });
    let svc = ServiceBuilder::new()
        .layer(AttemptTimeoutLayer::new(ms(10_000)).body_idle_timeout(ms(500)))
        .service(inner);
    let start = Instant::now();

    let res = svc.oneshot(Request::new(())).await.unwrap();
    let (received, err) = read_to_end(res.into_body()).await;
    let err = err.expect("the 700 ms gap must fail");
    assert_eq!(received, 3);
    assert_eq!(elapsed_ms(start), 1300, "500 ms after the frame at 800 ms");
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::BodyIdle, ms(500), TimeoutPhase::Body)
    );
    assert_eq!(err.to_string(), "response body stalled: no data for 500ms");
}

#[tokio::test(start_paused = true)]
async fn the_wait_for_the_first_frame_counts_as_a_gap() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(10_000)).body_idle_timeout(ms(1500)))
        .service(client());
    let start = Instant::now();

    // The first of 2 bytes over 4 s leaves 2 s after the headers.
    let res = svc.oneshot(get(&server, "/drip?numbytes=2&duration_ms=4000")).await.unwrap();
    assert_eq!(elapsed_ms(start), 0);
    let (received, err) = read_to_end(res.into_body()).await;
    assert_eq!(received, 0);
    assert_eq!(elapsed_ms(start), 1500);
    assert_eq!(timed_out(&err.unwrap()).kind(), TimeoutKind::BodyIdle);
}

#[tokio::test(start_paused = true)]
async fn a_steady_slow_drip_with_shorter_gaps_completes() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(10_000)))
        .layer(AttemptTimeoutLayer::new(ms(5000)).body_idle_timeout(ms(300)))
        .service(client());
    let start = Instant::now();

    // One byte every 200 ms for 2 s: always within the 300 ms allowed, never within 2 s.
    let res = svc.oneshot(get(&server, "/drip?numbytes=10&duration_ms=2000")).await.unwrap();
    let (received, err) = read_to_end(res.into_body()).await;
    assert!(err.is_none(), "unexpected error: {err:?}");
    assert_eq!(received, 10);
    assert_eq!(elapsed_ms(start), 2000);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_still_applies_when_the_idle_limit_is_longer() {
    let inner = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, BoxError>(Response::new(frames_at(&[400, 800, 1200, 1600])))
    });
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(1000)).body_idle_timeout(ms(600)))
        .service(inner);
    let start = Instant::now();

    let res = svc.oneshot(Request::new(())).await.unwrap();
    let (received, err) = read_to_end(res.into_body()).await;
    assert_eq!(received, 2);
    assert_eq!(elapsed_ms(start), 1000);
    let timed_out = timed_out(&err.unwrap());
    assert_eq!((timed_out.kind(), timed_out.after()), (TimeoutKind::Total, ms(1000)));
}
