//! Errors of the inner service and body pass through; readiness is the inner service's.

use std::io;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::{BoxError, find_cause};
use volley_testserver::TestServer;
use volley_timeout::{AttemptTimeoutLayer, TimedOut, TotalTimeoutLayer};

use crate::common::{client, elapsed_ms, get, ms, read_to_end};

#[tokio::test(start_paused = true)]
async fn errors_of_the_inner_service_pass_through() {
    let inner = tower::service_fn(|_req: Request<()>| async {
        Err::<Response<Full<Bytes>>, _>(io::Error::new(io::ErrorKind::ConnectionRefused, "nope"))
    });
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(1000)))
        .layer(AttemptTimeoutLayer::new(ms(500)))
        .service(inner);

    let err = svc.oneshot(Request::new(())).await.unwrap_err();
    let io = find_cause::<io::Error>(&*err).expect("the original error");
    assert_eq!((io.kind(), io.to_string()), (io::ErrorKind::ConnectionRefused, "nope".into()));
    assert!(find_cause::<TimedOut>(&*err).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_connect_error_of_the_real_client_passes_through() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/get", closed.local_addr().unwrap());
    drop(closed);
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(1000)))
        .layer(AttemptTimeoutLayer::new(ms(500)))
        .service(client());

    let req = Request::get(url).body(http_body_util::Empty::new()).unwrap();
    let err = svc.oneshot(req).await.unwrap_err();
    let client_err = find_cause::<hyper_util::client::legacy::Error>(&*err).expect("client error");
    assert!(client_err.is_connect());
}

#[tokio::test(start_paused = true)]
async fn errors_of_the_inner_body_pass_through() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(ms(1000)))
        .layer(AttemptTimeoutLayer::new(ms(500)))
        .service(client());
    let start = Instant::now();

    let res = svc.oneshot(get(&server, "/reset?after=100")).await.unwrap();
    let (received, err) = read_to_end(res.into_body()).await;
    let err = err.expect("the connection was reset");
    assert_eq!(received, 100);
    assert!(find_cause::<hyper::Error>(&*err).is_some(), "not hyper's error: {err}");
    assert!(find_cause::<TimedOut>(&*err).is_none());
    assert!(elapsed_ms(start) < 500, "no timeout was involved");
}

#[tokio::test(start_paused = true)]
async fn poll_ready_is_the_inner_services_and_the_timer_starts_at_call() {
    let (mut svc, mut handle) =
        tower_test::mock::spawn_layer::<Request<()>, Response<Full<Bytes>>, _>(
            TotalTimeoutLayer::new(ms(1000)),
        );

    handle.allow(0);
    assert!(svc.poll_ready().is_pending());
    // Waiting for readiness is not part of the call's time.
    tokio::time::advance(ms(5000)).await;
    assert!(svc.poll_ready().is_pending());
    handle.allow(1);
    assert!(svc.is_woken());
    assert!(svc.poll_ready().is_ready());

    let start = Instant::now();
    let call = tokio::spawn(svc.call(Request::new(())));
    let (_req, respond) = handle.next_request().await.unwrap();
    tokio::time::sleep(ms(900)).await;
    respond.send_response(Response::new(Full::from("ok")));
    let res = call.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(elapsed_ms(start), 900);

    handle.send_error(io::Error::other("inner service failed"));
    let Some(Err(err)) =
        futures_util::FutureExt::now_or_never(std::future::poll_fn(|_| svc.poll_ready()))
    else {
        panic!("poll_ready must fail");
    };
    let err: BoxError = err;
    assert_eq!(find_cause::<io::Error>(&*err).unwrap().to_string(), "inner service failed");
}
