//! The limit around a real hyper-util client, against volley-testserver on 127.0.0.1.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};
use volley_core::{BoxError, Key, find_cause};
use volley_limit::{ConcurrencyLimit, ConcurrencyLimitLayer, LimitState, ResponseBody};
use volley_testserver::TestServer;

type Svc = ConcurrencyLimit<Client<HttpConnector, Empty<Bytes>>>;
type Res = Response<ResponseBody<Incoming>>;

fn limited(layer: &ConcurrencyLimitLayer) -> Svc {
    layer.layer(Client::builder(TokioExecutor::new()).build_http())
}

fn get(url: String) -> Request<Empty<Bytes>> {
    Request::get(url).body(Empty::new()).unwrap()
}

async fn send(svc: &Svc, url: String) -> Result<Res, BoxError> {
    svc.clone().oneshot(get(url)).await
}

fn poll<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Lets the runtime (client and server tasks) run until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Bounds every wait, so a leaked permit fails a test instead of hanging it.
const GIVE_UP: Duration = Duration::from_secs(10);

fn assert_idle(state: &LimitState) {
    assert_eq!((state.in_flight(), state.waiting(), state.tracked_keys()), (0, 0, 0));
    assert_eq!(state.available_global(), state.global_max());
}

#[tokio::test]
async fn bodies_hold_permits_until_read_or_dropped_and_a_fifth_request_waits() {
    let server = TestServer::start().await.unwrap();
    let layer = ConcurrencyLimitLayer::new(4).acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = limited(&layer);

    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(send(&svc, server.url("/bytes/1000000")).await.unwrap());
    }
    assert_eq!((state.in_flight(), state.available_global()), (4, Some(0)));

    let mut fifth = pin!(send(&svc, server.url("/bytes/5")));
    for _ in 0..20 {
        assert!(poll(fifth.as_mut()).is_pending());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!((server.hits("/bytes/5"), state.waiting()), (0, 1));

    // One body read to the end: its permit admits the fifth request.
    let body = held.pop().unwrap().into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 1_000_000);
    let fifth = fifth.await.unwrap();
    assert_eq!(server.hits("/bytes/5"), 1);
    assert_eq!((state.in_flight(), state.waiting()), (4, 0));

    // One body dropped unread, another partly read then dropped, the last read.
    drop(held.pop());
    assert_eq!(state.in_flight(), 3);
    let mut partly = held.pop().unwrap().into_body();
    let frame = partly.frame().await.unwrap().unwrap();
    assert!(frame.data_ref().is_some_and(|data| !data.is_empty()));
    assert_eq!(state.in_flight(), 3);
    drop(partly);
    assert_eq!(state.in_flight(), 2);
    let fifth = fifth.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(fifth.len(), 5);
    drop(held);
    assert_eq!(server.hits("/bytes/1000000"), 4);
    assert_idle(&state);
}

#[tokio::test]
async fn inner_errors_release_the_permit() {
    let layer = ConcurrencyLimitLayer::new(4).acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = limited(&layer);
    // A port that was just closed: every connect is refused.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    for _ in 0..10 {
        let err = send(&svc, format!("http://{addr}/get")).await.unwrap_err();
        let client_err = find_cause::<hyper_util::client::legacy::Error>(&*err).unwrap();
        assert!(client_err.is_connect(), "{err}");
        assert_eq!(state.available_global(), Some(4));
    }
    assert_idle(&state);
}

#[tokio::test]
async fn dropping_the_response_future_mid_flight_releases_the_permit() {
    let server = TestServer::start().await.unwrap();
    let layer = ConcurrencyLimitLayer::new(4).acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = limited(&layer);
    for i in 1..=8 {
        let mut fut = Box::pin(send(&svc, server.url("/delay/60000")));
        assert!(poll(fut.as_mut()).is_pending());
        assert_eq!(state.in_flight(), 1);
        // Drive it until the server has the request, then give up on it.
        until("the request reaches the server", || {
            let _ = poll(fut.as_mut());
            server.hits("/delay/60000") == i
        })
        .await;
        drop(fut);
        assert_eq!(state.available_global(), Some(4));
    }
    assert_idle(&state);
}

#[tokio::test]
async fn a_slow_host_keeps_its_waiters_off_the_global_limit() {
    let (slow, fast) = (TestServer::start().await.unwrap(), TestServer::start().await.unwrap());
    let slow_key = Key::from_uri(&slow.url("/").parse().unwrap());
    let fast_key = Key::from_uri(&fast.url("/").parse().unwrap());
    let layer = ConcurrencyLimitLayer::new(10).per_key(2).acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = limited(&layer);

    // More slow requests than the global limit: 2 run, 10 queue on their key.
    let stuck: Vec<_> =
        (0..12).map(|_| tokio::spawn(svc.clone().oneshot(get(slow.url("/delay/60000"))))).collect();
    until("2 slow requests are in flight and 10 queued on their key", || {
        slow.hits("/delay/60000") == 2 && state.waiting_for(&slow_key) == 10
    })
    .await;
    assert_eq!(state.in_flight_for(&slow_key), 2);
    // The 10 queued requests hold no global permit.
    assert_eq!(state.available_global(), Some(8));

    // The fast host is not held up: its own 2 slots, at once.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(send(&svc, fast.url("/bytes/100")).await.unwrap());
    }
    assert_eq!(fast.hits("/bytes/100"), 2);
    assert_eq!((state.in_flight_for(&fast_key), state.in_flight()), (2, 4));
    assert_eq!(state.available_global(), Some(6));

    // A third fast request waits for its key, not for the slow host.
    let mut third = pin!(send(&svc, fast.url("/bytes/9")));
    assert!(poll(third.as_mut()).is_pending());
    assert_eq!((state.waiting(), state.waiting_for(&fast_key)), (11, 1));
    drop(held.pop());
    let third = third.await.unwrap().into_body().collect().await.unwrap().to_bytes();
    assert_eq!(third.len(), 9);
    assert_eq!(fast.hits("/bytes/9"), 1);

    drop(held);
    for task in &stuck {
        task.abort();
    }
    for task in stuck {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    assert_eq!(slow.hits("/delay/60000"), 2);
    assert_idle(&state);
}

#[tokio::test]
async fn release_at_headers_frees_the_permit_while_the_body_is_unread() {
    let server = TestServer::start().await.unwrap();
    let layer = ConcurrencyLimitLayer::new(1).release_at_headers(true).acquire_timeout(GIVE_UP);
    let state = layer.state();
    let svc = limited(&layer);

    let first = send(&svc, server.url("/bytes/1000")).await.unwrap();
    assert_eq!((state.in_flight(), state.available_global()), (0, Some(1)));
    // With the only permit free, a second request completes while the first body waits.
    let second = send(&svc, server.url("/bytes/10")).await.unwrap();
    let second = second.into_body().collect().await.unwrap().to_bytes();
    let first = first.into_body().collect().await.unwrap().to_bytes();
    assert_eq!((first.len(), second.len()), (1000, 10));
    assert_idle(&state);
}
