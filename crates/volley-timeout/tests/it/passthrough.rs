//! What a response that is on time looks like after the layers: unchanged, and no timer
//! left behind to fire later.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};
use volley_core::BoxError;
use volley_testserver::{TestServer, pattern_bytes};
use volley_timeout::{AttemptTimeoutLayer, TimeoutKind, TimeoutPhase, TotalTimeoutLayer};

use crate::common::{client, elapsed_ms, frames_at, get, ms, timed_out};

#[tokio::test(start_paused = true)]
async fn a_fast_response_passes_unchanged_and_no_timer_fires_later() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(1000)))
        .layer(AttemptTimeoutLayer::new(ms(500)).body_idle_timeout(ms(100)))
        .service(client());
    let start = Instant::now();

    // Large enough that the body waits for the socket at least once, which arms the timers.
    let res = svc.oneshot(get(&server, "/bytes/100000")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], "100000");
    assert_eq!(res.body().size_hint().exact(), Some(100_000));
    let mut body = res.into_body();
    let mut bytes = Vec::new();
    while !body.is_end_stream() {
        let frame = body.frame().await.unwrap().unwrap();
        bytes.extend_from_slice(&frame.into_data().unwrap());
    }
    assert_eq!(bytes, pattern_bytes(100_000));
    assert_eq!(elapsed_ms(start), 0);

    // Long past every limit, the finished body still just says "done".
    tokio::time::advance(ms(60_000)).await;
    assert!(body.frame().await.is_none());
    assert!(body.is_end_stream());
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn head_extensions_and_body_are_untouched_and_an_instant_answer_starts_no_timer() {
    let inner = tower::service_fn(|_req: Request<()>| async {
        let mut res =
            Response::builder().status(201).header("x-id", "7").body(Full::<Bytes>::from("hello"));
        res.as_mut().unwrap().extensions_mut().insert(42_u32);
        res.map_err(BoxError::from)
    });
    let mut svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(1000)))
        .layer(AttemptTimeoutLayer::new(ms(500)))
        .service(inner);

    let future = std::pin::pin!(svc.ready().await.unwrap().call(Request::new(())));
    let mut future = future;
    let Poll::Ready(res) =
        future.as_mut().poll(&mut Context::from_waker(futures_util::task::noop_waker_ref()))
    else {
        panic!("an instant answer is ready at the first poll");
    };
    assert!(format!("{future:?}").contains("timer_started: false"), "{future:?}");
    let res = res.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-id"], "7");
    assert_eq!(res.extensions().get::<u32>(), Some(&42));
    assert_eq!(res.body().size_hint().exact(), Some(5));
    assert!(!res.body().is_end_stream());

    tokio::time::advance(ms(5000)).await;
    // The body never had to wait, so no timer was armed; its data is handed out as it is.
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes, Bytes::from("hello"));
}

#[tokio::test(start_paused = true)]
async fn once_the_timer_has_fired_buffered_data_is_refused() {
    let inner = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, BoxError>(Response::new(frames_at(&[500, 600])))
    });
    let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(ms(1000))).service(inner);
    let start = Instant::now();

    let mut body = svc.oneshot(Request::new(())).await.unwrap().into_body();
    assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "*");
    assert_eq!(elapsed_ms(start), 500);
    // The caller goes away for a while; the second frame is due in the meantime.
    tokio::time::advance(ms(1000)).await;
    let err = body.frame().await.unwrap().unwrap_err();
    let timed_out = timed_out(&err);
    assert_eq!((timed_out.kind(), timed_out.phase()), (TimeoutKind::Total, TimeoutPhase::Body));
    assert!(body.is_end_stream());
    assert_eq!(body.size_hint().exact(), Some(0));
    assert!(body.frame().await.is_none(), "the body ends after its timeout");
}
