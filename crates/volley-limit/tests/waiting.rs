//! Queueing: arrival order, queue bounds, the acquire timeout and the request's deadline.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};
use volley_core::{BoxError, Deadline, Key, find_cause};
use volley_limit::{ConcurrencyLimitLayer, LimitScope, LimitState, OverloadReason, Overloaded};

type Res = Response<volley_limit::ResponseBody<Full<Bytes>>>;

/// A client whose fake server answers at once with the request path as body, logging the
/// order in which requests reach it.
fn client(
    layer: ConcurrencyLimitLayer,
) -> (
    impl Service<Request<()>, Response = Res, Error = BoxError, Future: Send> + Clone + Send + 'static,
    Arc<Mutex<Vec<String>>>,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let svc = ServiceBuilder::new().layer(layer).service_fn(move |req: Request<()>| {
        let target = format!("{}{}", req.uri().host().unwrap_or(""), req.uri().path());
        seen.lock().unwrap().push(target.clone());
        async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(target)))) }
    });
    (svc, log)
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

fn overloaded(err: &BoxError) -> &Overloaded {
    find_cause::<Overloaded>(&**err).unwrap_or_else(|| panic!("not Overloaded: {err}"))
}

fn assert_idle(state: &LimitState) {
    assert_eq!((state.in_flight(), state.waiting(), state.tracked_keys()), (0, 0, 0));
    assert_eq!(state.available_global(), state.global_max());
}

#[tokio::test(start_paused = true)]
async fn waiters_are_admitted_in_arrival_order() {
    let layer = ConcurrencyLimitLayer::new(1);
    let state = layer.state();
    let (svc, log) = client(layer);
    let held = svc.clone().oneshot(get("http://a.example/held")).await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..10 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let res = svc.oneshot(get(&format!("http://a.example/{i}"))).await.unwrap();
            res.into_body().collect().await.unwrap().to_bytes()
        }));
        // Each waiter is queued before the next one arrives.
        while state.waiting() < i + 1 {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(log.lock().unwrap().len(), 1);
    drop(held);
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), format!("a.example/{i}"));
    }
    let expected: Vec<String> = std::iter::once("a.example/held".to_owned())
        .chain((0..10).map(|i| format!("a.example/{i}")))
        .collect();
    assert_eq!(*log.lock().unwrap(), expected);
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn max_queue_zero_sheds_at_once() {
    let layer = ConcurrencyLimitLayer::new(2).max_queue(0);
    let state = layer.state();
    let (svc, log) = client(layer);
    let held = [
        svc.clone().oneshot(get("http://a.example/1")).await.unwrap(),
        svc.clone().oneshot(get("http://a.example/2")).await.unwrap(),
    ];
    let start = Instant::now();
    let err = svc.clone().oneshot(get("http://a.example/3")).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    let overloaded = overloaded(&err);
    assert_eq!(overloaded.scope(), &LimitScope::Global);
    assert_eq!((overloaded.max(), overloaded.waiting()), (2, 0));
    assert_eq!(overloaded.reason(), OverloadReason::QueueFull { max_queue: 0 });
    assert_eq!(
        err.to_string(),
        "global concurrency limit of 2 reached: 0 requests waiting, queue limit 0"
    );
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(state.waiting(), 0);

    drop(held);
    // With a free permit, a shedding layer admits again.
    let res = svc.oneshot(get("http://a.example/4")).await.unwrap();
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "a.example/4");
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn a_full_key_queue_sheds_and_names_the_key() {
    let layer = ConcurrencyLimitLayer::new(10).per_key(1).max_queue(2);
    let state = layer.state();
    let (svc, log) = client(layer);
    let held = svc.clone().oneshot(get("http://a.example/held")).await.unwrap();
    let queued: Vec<_> = (0..2)
        .map(|i| tokio::spawn(svc.clone().oneshot(get(&format!("http://a.example/q{i}")))))
        .collect();
    while state.waiting() < 2 {
        tokio::task::yield_now().await;
    }
    let err = svc.clone().oneshot(get("http://a.example/refused")).await.unwrap_err();
    assert_eq!(overloaded(&err).key(), Some(&Key::new("http://a.example")));
    assert_eq!(
        err.to_string(),
        "concurrency limit of 1 for http://a.example reached: 2 requests waiting, queue limit 2"
    );
    // Another host has its own queue and the global limit has room.
    let other = svc.clone().oneshot(get("http://b.example/ok")).await.unwrap();
    assert_eq!(state.in_flight_for(&Key::new("http://b.example")), 1);
    assert_eq!(state.waiting_for(&Key::new("http://a.example")), 2);
    assert_eq!(state.available_global(), Some(8));
    drop((held, other));
    for task in queued {
        drop(task.await.unwrap().unwrap());
    }
    assert_eq!(log.lock().unwrap().len(), 4);
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn acquire_timeout_fails_after_exactly_the_timeout() {
    let layer = ConcurrencyLimitLayer::new(1).acquire_timeout(Duration::from_secs(2));
    let state = layer.state();
    let (svc, log) = client(layer);
    let held = svc.clone().oneshot(get("http://a.example/held")).await.unwrap();

    let start = Instant::now();
    let err = svc.clone().oneshot(get("http://a.example/late")).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let timeout = Duration::from_secs(2);
    assert_eq!(overloaded(&err).reason(), OverloadReason::AcquireTimeout { timeout });
    assert_eq!(
        err.to_string(),
        "global concurrency limit of 1 reached: no permit within the acquire timeout of 2s, 0 other requests waiting"
    );
    assert_eq!(state.waiting(), 0);

    // A permit freed before the timeout admits the waiter when it is freed.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drop(held);
    });
    let start = Instant::now();
    let res = svc.clone().oneshot(get("http://a.example/in-time")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    release.await.unwrap();
    drop(res);
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn a_zero_acquire_timeout_refuses_waiting_at_once() {
    let layer = ConcurrencyLimitLayer::per_key_only(1).acquire_timeout(Duration::ZERO);
    let state = layer.state();
    let (svc, _log) = client(layer);
    let held = svc.clone().oneshot(get("http://a.example/held")).await.unwrap();
    let start = Instant::now();
    let err = svc.clone().oneshot(get("http://a.example/x")).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    let reason = OverloadReason::AcquireTimeout { timeout: Duration::ZERO };
    assert_eq!(overloaded(&err).reason(), reason);
    assert_eq!(state.in_flight(), 1);
    drop(held);
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_wait() {
    let layer = ConcurrencyLimitLayer::new(1).acquire_timeout(Duration::from_secs(10));
    let state = layer.state();
    let (svc, log) = client(layer);
    let held = svc.clone().oneshot(get("http://a.example/held")).await.unwrap();

    // The deadline comes before the acquire timeout: give up at the deadline, not later.
    let mut req = get("http://a.example/bounded");
    Deadline::after(Duration::from_millis(500)).insert_into(&mut req);
    let start = Instant::now();
    let err = svc.clone().oneshot(req).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(500));
    let waited = Duration::from_millis(500);
    assert_eq!(overloaded(&err).reason(), OverloadReason::Deadline { waited });
    assert_eq!(
        err.to_string(),
        "global concurrency limit of 1 reached: no permit before the request's deadline (waited 500ms), 0 other requests waiting"
    );

    // A deadline that has already passed fails at once, without a timer.
    let mut req = get("http://a.example/expired");
    Deadline::at(Instant::now()).insert_into(&mut req);
    let start = Instant::now();
    let err = svc.clone().oneshot(req).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    let reason = OverloadReason::Deadline { waited: Duration::ZERO };
    assert_eq!(overloaded(&err).reason(), reason);

    // The acquire timeout still applies when it is the earlier of the two.
    let mut req = get("http://a.example/far-deadline");
    Deadline::after(Duration::from_secs(60)).insert_into(&mut req);
    let start = Instant::now();
    let err = svc.clone().oneshot(req).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert!(matches!(overloaded(&err).reason(), OverloadReason::AcquireTimeout { .. }));

    drop(held);
    // The deadline only bounds waiting: with a free permit, an expired request goes through.
    let mut req = get("http://a.example/free");
    Deadline::at(Instant::now()).insert_into(&mut req);
    drop(svc.clone().oneshot(req).await.unwrap());
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_alone_bounds_the_wait_on_a_key() {
    let layer = ConcurrencyLimitLayer::new(5).per_key(1);
    let state = layer.state();
    let (svc, _log) = client(layer);
    let held = svc.clone().oneshot(get("http://a.example/held")).await.unwrap();
    let mut req = get("http://a.example/bounded");
    Deadline::after(Duration::from_secs(3)).insert_into(&mut req);
    let start = Instant::now();
    let waiter = tokio::spawn(svc.clone().oneshot(req));
    while state.waiting() < 1 {
        tokio::task::yield_now().await;
    }
    // Queued on its key, it holds no global permit.
    let key = Key::new("http://a.example");
    assert_eq!((state.waiting_for(&key), state.in_flight_for(&key)), (1, 1));
    assert_eq!(state.available_global(), Some(4));
    let err = waiter.await.unwrap().unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(overloaded(&err).key(), Some(&key));
    assert_eq!(
        overloaded(&err).reason(),
        OverloadReason::Deadline { waited: Duration::from_secs(3) }
    );
    drop(held);
    assert_idle(&state);
}
