//! `poll_ready` and back-pressure, with tower-test mocks.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::{Layer, Service};
use tower_test::mock;
use volley_limit::ConcurrencyLimitLayer;

type Mock = mock::Mock<Request<()>, Response<Full<Bytes>>>;
type Handle = mock::Handle<Request<()>, Response<Full<Bytes>>>;

fn poll<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

fn ready<S: Service<Request<()>>>(svc: &mut S) -> bool {
    matches!(svc.poll_ready(&mut Context::from_waker(Waker::noop())), Poll::Ready(Ok(())))
}

fn get(path: &str) -> Request<()> {
    Request::get(format!("http://mock.example{path}")).body(()).unwrap()
}

fn response() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(b"ok")))
}

fn setup(max: usize) -> (volley_limit::ConcurrencyLimit<Mock>, Handle) {
    let (mock, handle) = mock::pair::<Request<()>, Response<Full<Bytes>>>();
    (ConcurrencyLimitLayer::new(max).layer(mock), handle)
}

#[tokio::test]
async fn poll_ready_is_always_ready_and_idle_clones_hold_no_permit() {
    let (mut svc, mut handle) = setup(1);
    let state = svc.state();
    let mut clones: Vec<_> = (0..5).map(|_| svc.clone()).collect();
    for clone in &mut clones {
        assert!(ready(clone));
    }
    // Five readied clones, never called: the single permit is still free.
    assert_eq!(state.available_global(), Some(1));
    assert_eq!(state.in_flight(), 0);

    assert!(ready(&mut svc));
    let mut first = svc.call(get("/first"));
    assert_eq!(state.available_global(), Some(0));

    // The limit is full, yet a clone is still ready: back-pressure is a pending future.
    let mut blocked = clones.pop().unwrap();
    assert!(ready(&mut blocked));
    let mut second = blocked.call(get("/second"));
    assert!(poll(&mut second).is_pending());
    assert_eq!(state.waiting(), 1);

    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.uri().path(), "/first");
    send.send_response(response());
    let Poll::Ready(Ok(res)) = poll(&mut first) else { panic!("first response not ready") };
    // Still held by the unread body: the second request has not reached the inner service.
    assert!(poll(&mut second).is_pending());
    assert!(handle.poll_request().is_pending());
    assert_eq!(state.in_flight(), 1);

    drop(res);
    assert!(poll(&mut second).is_pending());
    assert_eq!((state.waiting(), state.in_flight()), (0, 1));
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.uri().path(), "/second");
    send.send_response(response());
    let Poll::Ready(Ok(res)) = poll(&mut second) else { panic!("second response not ready") };
    drop(res);
    assert_eq!(state.available_global(), Some(1));
}

#[tokio::test]
async fn inner_back_pressure_shows_as_a_pending_call_future_holding_its_permit() {
    let (mut svc, mut handle) = setup(2);
    let state = svc.state();
    handle.allow(0);
    assert!(ready(&mut svc));
    let mut fut = svc.call(get("/slow-to-ready"));
    assert!(poll(&mut fut).is_pending());
    // Admitted by the limit, waiting for the inner service to be ready.
    assert_eq!((state.in_flight(), state.waiting()), (1, 0));
    assert!(handle.poll_request().is_pending());

    handle.allow(1);
    assert!(poll(&mut fut).is_pending());
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.uri().path(), "/slow-to-ready");
    send.send_response(response());
    let Poll::Ready(Ok(res)) = poll(&mut fut) else { panic!("response not ready") };
    assert_eq!(state.in_flight(), 1);
    drop(res);
    assert_eq!(state.in_flight(), 0);
}

#[tokio::test]
async fn inner_errors_from_poll_ready_and_call_release_the_permit() {
    let (mut svc, mut handle) = setup(1);
    let state = svc.state();

    handle.send_error("inner service is dead");
    let mut fut = svc.call(get("/a"));
    let Poll::Ready(Err(err)) = poll(&mut fut) else { panic!("poll_ready error not reported") };
    assert_eq!(err.to_string(), "inner service is dead");
    assert_eq!(state.available_global(), Some(1));

    let mut fut = svc.call(get("/b"));
    let (_req, send) = handle.next_request().await.unwrap();
    assert_eq!(state.available_global(), Some(0));
    send.send_error("connection reset");
    let Poll::Ready(Err(err)) = poll(&mut fut) else { panic!("call error not reported") };
    assert_eq!(err.to_string(), "connection reset");
    assert_eq!(state.available_global(), Some(1));
}

#[tokio::test]
async fn dropping_the_call_future_while_queued_or_in_flight_releases_everything() {
    let (mut svc, mut handle) = setup(1);
    let state = svc.state();
    let mut first = svc.call(get("/first"));
    let mut queued = svc.clone().call(get("/queued"));
    assert!(poll(&mut first).is_pending());
    assert!(poll(&mut queued).is_pending());
    assert_eq!((state.in_flight(), state.waiting()), (1, 1));

    drop(queued);
    assert_eq!((state.in_flight(), state.waiting()), (1, 0));
    let (req, _send) = handle.next_request().await.unwrap();
    assert_eq!(req.uri().path(), "/first");
    drop(first);
    assert_eq!((state.in_flight(), state.available_global()), (0, Some(1)));
    // The queued request never reached the inner service.
    assert!(handle.poll_request().is_pending());
}
