//! Many calls, random cancellation, many keys: afterwards every permit is free and no key
//! is remembered.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};
use volley_core::{BoxError, Deadline, Key, KeyFn, RequestHead};
use volley_limit::{ConcurrencyLimitLayer, LimitState, Overloaded};

/// What the fake server does with one request, chosen up front from a seeded generator.
#[derive(Clone, Copy)]
struct Plan {
    host: usize,
    delay: Duration,
    fail: bool,
}

/// Counts the requests between the fake server's call and the end of their body, overall
/// and per host, and remembers the highest counts seen.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
    per_host: Mutex<HashMap<usize, (usize, usize)>>,
}

impl Gauge {
    fn enter(self: &Arc<Self>, host: usize) -> Active {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let mut per_host = self.per_host.lock().unwrap();
        let (now, peak) = per_host.entry(host).or_default();
        *now += 1;
        *peak = (*peak).max(*now);
        Active { gauge: self.clone(), host }
    }

    fn host_peak(&self) -> usize {
        self.per_host.lock().unwrap().values().map(|(_, peak)| *peak).max().unwrap_or(0)
    }
}

struct Active {
    gauge: Arc<Gauge>,
    host: usize,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.gauge.now.fetch_sub(1, Ordering::SeqCst);
        self.gauge.per_host.lock().unwrap().get_mut(&self.host).unwrap().0 -= 1;
    }
}

/// A body of three frames that keeps its request counted until it is dropped.
struct CountedBody {
    frames: usize,
    _active: Active,
}

impl Body for CountedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.frames == 0 {
            return Poll::Ready(None);
        }
        self.frames -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"chunk")))))
    }
}

fn assert_idle(state: &LimitState) {
    assert_eq!((state.in_flight(), state.waiting(), state.tracked_keys()), (0, 0, 0));
    assert_eq!(state.available_global(), state.global_max());
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_calls_with_random_cancellation_leak_nothing() {
    const CALLS: usize = 10_000;
    let gauge = Arc::new(Gauge::default());
    let inner_gauge = gauge.clone();
    let fake = tower::service_fn(move |req: Request<()>| {
        let plan = *req.extensions().get::<Plan>().unwrap();
        let active = inner_gauge.enter(plan.host);
        async move {
            tokio::time::sleep(plan.delay).await;
            if plan.fail {
                // A concrete error type: with `BoxError` here, rustc cannot prove the spawned
                // future `Send` ("implementation of `From` is not general enough"), for any
                // tower layer bounding `S::Error: Into<BoxError>` around a `service_fn`.
                return Err::<Response<CountedBody>, _>(io::Error::from(
                    io::ErrorKind::ConnectionReset,
                ));
            }
            Ok(Response::new(CountedBody { frames: 3, _active: active }))
        }
    });
    let by_host = |head: RequestHead<'_>| Key::new(head.uri().host().unwrap_or_default());
    let layer = ConcurrencyLimitLayer::new(8)
        .per_key(3)
        .key_fn(by_host)
        .acquire_timeout(Duration::from_millis(40));
    let state = layer.state();
    let svc = layer.layer(fake);

    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut tasks = tokio::task::JoinSet::new();
    let (done, cancelled, overloaded, failed) = Default::default();
    let counters: Arc<[AtomicUsize; 4]> = Arc::new([done, cancelled, overloaded, failed]);
    for _ in 0..CALLS {
        let plan = Plan {
            host: rng.usize(0..5),
            delay: Duration::from_micros(rng.u64(0..3_000)),
            fail: rng.u8(0..10) == 0,
        };
        let mut req = Request::get(format!("http://h{}.example/", plan.host)).body(()).unwrap();
        req.extensions_mut().insert(plan);
        if rng.bool() {
            Deadline::after(Duration::from_micros(rng.u64(0..20_000))).insert_into(&mut req);
        }
        // A quarter of the callers never give up; the others at a random point.
        let cancel_after = match rng.u8(0..4) {
            0 => Duration::from_secs(60),
            _ => Duration::from_micros(rng.u64(0..10_000)),
        };
        let (read_body, start_after) = (rng.u8(0..3), Duration::from_micros(rng.u64(0..2_000_000)));
        let (svc, counters) = (svc.clone(), counters.clone());
        tasks.spawn(async move {
            tokio::time::sleep(start_after).await;
            let call = async {
                let res: Result<_, BoxError> = svc.oneshot(req).await;
                let res = match res {
                    Ok(res) => res,
                    Err(err) => return Err(err),
                };
                match read_body {
                    0 => drop(res),
                    1 => drop(res.into_body().collect().await),
                    _ => {
                        let mut body = res.into_body();
                        let _first = body.frame().await;
                        tokio::time::sleep(Duration::from_micros(500)).await;
                    }
                }
                Ok(())
            };
            let outcome = match tokio::time::timeout(cancel_after, call).await {
                Ok(Ok(())) => 0,
                Err(_elapsed) => 1,
                Ok(Err(err)) if err.is::<Overloaded>() => 2,
                Ok(Err(_)) => 3,
            };
            counters[outcome].fetch_add(1, Ordering::SeqCst);
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }

    let counts: Vec<usize> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(counts.iter().sum::<usize>(), CALLS);
    // Every path was taken many times: completed, cancelled, refused, failed.
    assert!(counts.iter().all(|&n| n > 100), "outcomes {counts:?}");
    // The limits held, and were reached.
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 8);
    assert_eq!(gauge.host_peak(), 3);
    assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    assert_idle(&state);
}

#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_distinct_keys_are_forgotten() {
    let fake = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from_static(b"ok"))))
    });
    let layer = ConcurrencyLimitLayer::per_key_only(1);
    let state = layer.state();
    let svc = layer.layer(fake);

    let mut peak = 0;
    for i in 0..100_000 {
        let req = Request::get(format!("http://host-{i}.example/")).body(()).unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        peak = peak.max(state.tracked_keys());
        if i % 2 == 0 {
            drop(res.into_body().collect().await.unwrap());
        }
    }
    assert_eq!(peak, 1);
    assert_idle(&state);

    // Held at once, a thousand keys are tracked; released, none.
    let mut held = Vec::new();
    for i in 0..1000 {
        let req = Request::get(format!("http://held-{i}.example/")).body(()).unwrap();
        held.push(svc.clone().oneshot(req).await.unwrap());
    }
    assert_eq!((state.tracked_keys(), state.in_flight()), (1000, 1000));
    let key = ByAuthorityKey::of("http://held-7.example/");
    assert_eq!(state.in_flight_for(&key), 1);
    drop(held);
    assert_idle(&state);
}

struct ByAuthorityKey;

impl ByAuthorityKey {
    fn of(uri: &str) -> Key {
        let req = Request::get(uri).body(()).unwrap();
        volley_core::ByAuthority.key(RequestHead::new(&req))
    }
}
