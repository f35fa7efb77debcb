//! Which attempt's result is returned. The order of errors against the hedge timer needs a
//! scripted fake service: each call n sleeps `script[n].0` ms on tokio's paused clock, then
//! answers (`true`) or fails (`false`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::Instant;
use tower::{Layer, ServiceExt};
use volley_core::BoxError;
use volley_hedge::{HedgeLayer, Hedged};

type Svc = tower::util::BoxCloneService<Request<String>, Response<String>, BoxError>;

fn scripted(script: &'static [(u64, bool)]) -> (Svc, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let svc = tower::service_fn(move |_req: Request<String>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let (ms, ok) = script[n];
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if ok {
                Ok(Response::new(format!("attempt {n}")))
            } else {
                Err(format!("attempt {n} failed").into())
            }
        }
    });
    (Svc::new(svc), calls)
}

fn get() -> Request<String> {
    Request::get("http://api.example/").body(String::new()).unwrap()
}

fn after_50ms() -> HedgeLayer {
    HedgeLayer::after(Duration::from_millis(50)).budget(1.0).unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_error_after_the_hedge_was_sent_waits_for_the_other_attempt() {
    let (svc, calls) = scripted(&[(100, false), (10, true)]);
    let start = Instant::now();
    let res = after_50ms().layer(svc).oneshot(get()).await.unwrap();
    // The hedge (sent at 50 ms) answers at 60 ms, before the first attempt fails.
    assert_eq!((res.body().as_str(), start.elapsed()), ("attempt 1", Duration::from_millis(60)));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // The first attempt fails at 55 ms, after the hedge left: the hedge is awaited.
    let (svc, _) = scripted(&[(55, false), (100, true)]);
    let start = Instant::now();
    let res = after_50ms().layer(svc).oneshot(get()).await.unwrap();
    assert_eq!((res.body().as_str(), start.elapsed()), ("attempt 1", Duration::from_millis(150)));
    assert_eq!(res.extensions().get::<Hedged>(), Some(&Hedged { hedges: 1, won_by_hedge: true }));
}

#[tokio::test(start_paused = true)]
async fn an_error_is_returned_only_when_every_attempt_failed_or_none_other_is_in_flight() {
    let (svc, _) = scripted(&[(100, false), (10, false)]);
    let start = Instant::now();
    let err = after_50ms().layer(svc).oneshot(get()).await.unwrap_err();
    assert_eq!(
        (err.to_string(), start.elapsed()),
        ("attempt 0 failed".into(), Duration::from_millis(100))
    );

    // Failing before the delay: returned at once, no hedge.
    let (svc, calls) = scripted(&[(20, false), (10, true)]);
    let start = Instant::now();
    let err = after_50ms().layer(svc).oneshot(get()).await.unwrap_err();
    assert_eq!(
        (err.to_string(), start.elapsed()),
        ("attempt 0 failed".into(), Duration::from_millis(20))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn max_hedges_sends_one_more_attempt_per_delay_within_the_budget() {
    let (svc, calls) = scripted(&[(1000, true), (1000, true), (5, true)]);
    // One request earns budget × 1 hedges: 2.0 pays for both.
    let layer = after_50ms().max_hedges(2).budget(2.0).unwrap();
    let stats = layer.stats();
    let start = Instant::now();
    let res = layer.layer(svc).oneshot(get()).await.unwrap();
    assert_eq!((res.body().as_str(), start.elapsed()), ("attempt 2", Duration::from_millis(105)));
    assert_eq!(res.extensions().get::<Hedged>(), Some(&Hedged { hedges: 2, won_by_hedge: true }));
    assert_eq!((calls.load(Ordering::SeqCst), stats.hedges_sent(), stats.hedges_won()), (3, 2, 1));

    // With budget for one, the second hedge is refused and counted.
    let (svc, calls) = scripted(&[(1000, true), (1000, true), (5, true)]);
    let layer = after_50ms().max_hedges(2);
    let stats = layer.stats();
    let res = layer.layer(svc).oneshot(get()).await.unwrap();
    assert_eq!(res.body().as_str(), "attempt 0");
    assert_eq!(
        (calls.load(Ordering::SeqCst), stats.hedges_sent(), stats.budget_refusals()),
        (2, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_first_attempt_may_still_win_after_the_hedge_left() {
    let (svc, _) = scripted(&[(70, true), (1000, true)]);
    let layer = after_50ms();
    let stats = layer.stats();
    let start = Instant::now();
    let res = layer.layer(svc).oneshot(get()).await.unwrap();
    assert_eq!((res.body().as_str(), start.elapsed()), ("attempt 0", Duration::from_millis(70)));
    assert_eq!(res.extensions().get::<Hedged>(), Some(&Hedged { hedges: 1, won_by_hedge: false }));
    assert_eq!((stats.hedges_sent(), stats.hedges_won()), (1, 0));
}

#[test]
fn nonsense_configuration_is_refused() {
    let err = HedgeLayer::percentile(1.5).unwrap_err();
    assert_eq!(err.to_string(), "hedge percentile 1.5 is outside (0, 1)");
    assert!(HedgeLayer::percentile(0.0).is_err());
    assert!(HedgeLayer::percentile(f64::NAN).is_err());
    assert_eq!(
        HedgeLayer::new().budget(-0.1).unwrap_err().to_string(),
        "hedge budget -0.1 is outside 0..=10"
    );
    assert!(HedgeLayer::new().budget(f64::NAN).is_err());
    assert!(HedgeLayer::new().window(Duration::ZERO).is_err());
    assert!(HedgeLayer::percentile(0.99).is_ok());
}
