//! TotalTimeoutLayer: headers and body against the deadline, and the Deadline it sets.

use std::sync::{Arc, Mutex};

use http::{Request, Response};
use http_body_util::Full;
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::{BoxError, Deadline};
use volley_testserver::TestServer;
use volley_timeout::{TimeoutKind, TimeoutPhase, TotalTimeoutLayer};

use crate::common::{client, elapsed_ms, get, ms, read_to_end, timed_out};

#[tokio::test(start_paused = true)]
async fn a_body_dripping_past_the_deadline_ends_with_a_total_body_timeout() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(ms(1000))).service(client());
    let start = Instant::now();

    // 20 bytes over 4.5 s: one every 225 ms, so 4 arrive before the deadline at 1 s.
    let res = svc.oneshot(get(&server, "/drip?numbytes=20&duration_ms=4500")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(elapsed_ms(start), 0, "the headers came at once");
    assert_eq!(http_body::Body::size_hint(res.body()).exact(), Some(20));

    let (received, err) = read_to_end(res.into_body()).await;
    let err = err.expect("the body must fail");
    assert_eq!(received, 4);
    assert_eq!(elapsed_ms(start), 1000);
    let timed_out = timed_out(&err);
    assert_eq!(timed_out.kind(), TimeoutKind::Total);
    assert_eq!(timed_out.after(), ms(1000));
    assert_eq!(timed_out.phase(), TimeoutPhase::Body);
    assert_eq!(err.to_string(), "request timed out after 1s reading the body");
    assert_eq!(server.hits("/drip"), 1);
}

#[tokio::test(start_paused = true)]
async fn headers_arriving_after_the_deadline_fail_with_a_total_headers_timeout() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(ms(1000))).service(client());
    let start = Instant::now();

    let err = svc.oneshot(get(&server, "/delay/5000")).await.unwrap_err();
    assert_eq!(elapsed_ms(start), 1000);
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::Total, ms(1000), TimeoutPhase::Headers)
    );
    assert_eq!(err.to_string(), "request timed out after 1s waiting for headers");
    assert_eq!(server.hits("/delay/5000"), 1);
    assert_eq!(server.total_hits(), 1);
}

/// The deadline a fake client was given.
type Seen = Arc<Mutex<Option<Deadline>>>;

/// A fake client that records the deadline it was given, then answers after `delay`.
fn recording(
    delay: std::time::Duration,
) -> (
    Seen,
    impl tower::Service<Request<()>, Response = Response<Full<bytes::Bytes>>, Error = BoxError> + Clone,
) {
    let seen = Seen::default();
    let record = seen.clone();
    let svc = tower::service_fn(move |req: Request<()>| {
        *record.lock().unwrap() = Deadline::from_request(&req);
        async move {
            tokio::time::sleep(delay).await;
            Ok::<_, BoxError>(Response::new(Full::from("done")))
        }
    });
    (seen, svc)
}

#[tokio::test(start_paused = true)]
async fn the_layer_puts_its_deadline_on_the_request() {
    let (seen, inner) = recording(ms(0));
    let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(ms(1500))).service(inner);
    let start = Instant::now();
    svc.oneshot(Request::new(())).await.unwrap();
    let deadline = seen.lock().unwrap().expect("a deadline on the request");
    assert_eq!(deadline.instant() - start, ms(1500));
}

#[tokio::test(start_paused = true)]
async fn an_earlier_deadline_set_by_the_caller_is_honoured() {
    let (seen, inner) = recording(ms(5000));
    let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(ms(10_000))).service(inner);
    let start = Instant::now();
    let mut req = Request::new(());
    let preset = Deadline::after(ms(500));
    preset.insert_into(&mut req);

    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(*seen.lock().unwrap(), Some(preset), "the caller's deadline is kept");
    assert_eq!(elapsed_ms(start), 500);
    let timed_out = timed_out(&err);
    assert_eq!(
        (timed_out.kind(), timed_out.after(), timed_out.phase()),
        (TimeoutKind::Total, ms(500), TimeoutPhase::Headers)
    );
}

#[tokio::test(start_paused = true)]
async fn a_later_deadline_set_by_the_caller_is_never_extended_by_the_layer() {
    let (seen, inner) = recording(ms(5000));
    let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(ms(1000))).service(inner);
    let start = Instant::now();
    let mut req = Request::new(());
    Deadline::after(ms(10_000)).insert_into(&mut req);

    let err = svc.oneshot(req).await.unwrap_err();
    let deadline = seen.lock().unwrap().unwrap();
    assert_eq!(deadline.instant() - start, ms(1000), "the layer's earlier deadline wins");
    assert_eq!(elapsed_ms(start), 1000);
    assert_eq!(timed_out(&err).after(), ms(1000));
}
