//! AttemptTimeoutLayer: its own limit, the Deadline that cuts it short, and how the total
//! layer reports a deadline that an attempt layer noticed first.

use std::time::Duration;

use http::{Request, Response};
use http_body_util::Full;
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};
use volley_core::{BoxError, Deadline};
use volley_testserver::TestServer;
use volley_timeout::{AttemptTimeoutLayer, TimeoutKind, TimeoutPhase, TotalTimeoutLayer};

use crate::common::{client, elapsed_ms, get, ms, read_to_end, timed_out};

#[tokio::test(start_paused = true)]
async fn a_long_attempt_under_a_short_deadline_fails_at_the_deadline_as_total() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(1000)))
        .layer(AttemptTimeoutLayer::new(ms(10_000)))
        .service(client());
    let start = Instant::now();

    let err = svc.oneshot(get(&server, "/delay/5000")).await.unwrap_err();
    assert_eq!(elapsed_ms(start), 1000);
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::Total, ms(1000), TimeoutPhase::Headers)
    );
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_attempt_layer_alone_honours_a_deadline_set_by_the_caller() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(AttemptTimeoutLayer::new(ms(10_000))).service(client());
    let start = Instant::now();
    let mut req = get(&server, "/delay/5000");
    Deadline::after(ms(1000)).insert_into(&mut req);

    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(elapsed_ms(start), 1000);
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::Total, ms(1000), TimeoutPhase::Headers)
    );
    assert_eq!(err.to_string(), "request timed out after 1s waiting for headers");
}

#[tokio::test(start_paused = true)]
async fn a_short_attempt_under_a_long_deadline_fails_as_attempt() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(10_000)))
        .layer(AttemptTimeoutLayer::new(ms(1000)))
        .service(client());
    let start = Instant::now();

    let err = svc.oneshot(get(&server, "/delay/5000")).await.unwrap_err();
    assert_eq!(elapsed_ms(start), 1000);
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::Attempt, ms(1000), TimeoutPhase::Headers)
    );
    assert_eq!(err.to_string(), "attempt timed out after 1s waiting for headers");
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_attempt_timer_covers_the_body() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(10_000)))
        .layer(AttemptTimeoutLayer::new(ms(1000)))
        .service(client());
    let start = Instant::now();

    // One byte every 300 ms: 3 arrive within the attempt's second.
    let res = svc.oneshot(get(&server, "/drip?numbytes=10&duration_ms=3000")).await.unwrap();
    let (received, err) = read_to_end(res.into_body()).await;
    let err = err.expect("the body must fail");
    assert_eq!(received, 3);
    assert_eq!(elapsed_ms(start), 1000);
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::Attempt, ms(1000), TimeoutPhase::Body)
    );
    assert_eq!(err.to_string(), "attempt timed out after 1s reading the body");
}

#[tokio::test(start_paused = true)]
async fn the_attempt_layer_puts_no_deadline_on_the_request() {
    let inner = tower::service_fn(|req: Request<()>| async move {
        assert_eq!(Deadline::from_request(&req), None);
        Ok::<_, BoxError>(Response::new(Full::<bytes::Bytes>::from("ok")))
    });
    let svc = ServiceBuilder::new().layer(AttemptTimeoutLayer::new(ms(1000))).service(inner);
    let res = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(res.status(), 200);
}

/// A fake client that answers after `secs` seconds.
fn slow(
    secs: u64,
) -> impl Service<Request<()>, Response = Response<Full<bytes::Bytes>>, Error = BoxError> + Clone {
    tower::service_fn(move |_req: Request<()>| async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        Ok::<_, BoxError>(Response::new(Full::from("late")))
    })
}

#[tokio::test(start_paused = true)]
async fn a_deadline_noticed_by_a_later_attempt_is_reported_with_the_whole_budget() {
    // What a retry layer between the two does: a first attempt times out, a backoff sleep,
    // then a second attempt that the deadline cuts short.
    let attempt = ServiceBuilder::new().layer(AttemptTimeoutLayer::new(ms(1500))).service(slow(60));
    let retrying = tower::service_fn(move |req: Request<()>| {
        let attempt = attempt.clone();
        async move {
            let (parts, ()) = req.into_parts();
            let first = Request::from_parts(parts.clone(), ());
            let err = attempt.clone().oneshot(first).await.unwrap_err();
            assert_eq!(timed_out(&err).kind(), TimeoutKind::Attempt);
            tokio::time::sleep(ms(100)).await;
            let err = attempt.oneshot(Request::from_parts(parts, ())).await.unwrap_err();
            // The second attempt, started at 1.6 s, had 400 ms left of the 2 s.
            assert_eq!(timed_out(&err).after(), ms(400));
            assert_eq!(timed_out(&err).kind(), TimeoutKind::Total);
            Err::<Response<Full<bytes::Bytes>>, BoxError>(err)
        }
    });
    let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(ms(2000))).service(retrying);
    let start = Instant::now();

    let err = svc.oneshot(Request::new(())).await.unwrap_err();
    assert_eq!(elapsed_ms(start), 2000);
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::Total, ms(2000), TimeoutPhase::Headers)
    );
}

/// An attempt's clock starts when the attempt is first polled, not at `call`: a future
/// polled late still gets its whole limit. The request's deadline, a fixed instant, binds
/// as before.
#[tokio::test(start_paused = true)]
async fn the_attempt_clock_starts_at_the_first_poll_and_the_deadline_does_not_move() {
    let server = TestServer::start().await.unwrap();
    let mut svc = ServiceBuilder::new().layer(AttemptTimeoutLayer::new(ms(1000))).service(client());

    let pending = svc.ready().await.unwrap().call(get(&server, "/delay/800"));
    tokio::time::advance(ms(5000)).await;
    let start = Instant::now();
    let res = pending.await.unwrap();
    let (bytes, error) = read_to_end(res).await;
    assert!(error.is_none(), "{error:?}");
    assert!(bytes > 0);
    assert_eq!(elapsed_ms(start), 800, "the whole second was available");

    let mut req = get(&server, "/delay/800");
    Deadline::after(ms(3000)).insert_into(&mut req);
    let pending = svc.ready().await.unwrap().call(req);
    tokio::time::advance(ms(2500)).await;
    let start = Instant::now();
    let err = pending.await.unwrap_err();
    assert_eq!(elapsed_ms(start), 500, "the deadline, set before the call, still binds");
    let timed_out = timed_out(&err);
    assert_eq!((timed_out.kind(), timed_out.after()), (TimeoutKind::Total, ms(500)));
    assert_eq!(server.total_hits(), 2);
}
