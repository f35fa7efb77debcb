//! Unit tests of the pieces the integration tests cannot reach: the decision rule under
//! arbitrary configurations, and replay bodies frame by frame.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full, StreamBody};
use proptest::prelude::*;
use volley_classify::{Hint, HintSource, Outcome};

use crate::policy::{Attempt, Decision};
use crate::window::KeyBudget;
use crate::{Backoff, ReplayBody, RetryBudget, RetryPolicy, StopReason};

fn attempt(outcome: Outcome, retries: u32) -> Attempt {
    Attempt {
        outcome,
        idempotent: true,
        retries,
        previous_delay: Duration::ZERO,
        deadline: None,
        replayable: true,
        breaker_wait: None,
    }
}

proptest! {
    #[test]
    fn full_jitter_stays_within_zero_and_cap(
        base_ms in 0u64..100_000, cap_ms in 0u64..1_000_000, retry in 0u32..200,
    ) {
        let cap = Duration::from_millis(cap_ms);
        let backoff = Backoff::full_jitter(Duration::from_millis(base_ms), cap);
        let delay = backoff.delay(retry, Duration::ZERO).unwrap();
        prop_assert!(delay <= cap);
        prop_assert!(delay <= Duration::from_millis(base_ms).saturating_mul(2u32.saturating_pow(retry)));
    }

    #[test]
    fn decorrelated_jitter_stays_within_base_and_cap(
        base_ms in 0u64..10_000, cap_ms in 0u64..100_000, previous_ms in 0u64..1_000_000,
    ) {
        let (base, cap) = (Duration::from_millis(base_ms), Duration::from_millis(cap_ms));
        let delay = Backoff::decorrelated_jitter(base, cap).delay(3, Duration::from_millis(previous_ms)).unwrap();
        prop_assert!(delay <= cap);
        prop_assert!(delay >= base.min(cap));
    }

    #[test]
    fn a_hinted_delay_is_never_below_the_hint(
        hint_ms in 0u64..120_000, retry in 0u32..10, base_ms in 0u64..20_000, cap_ms in 0u64..60_000,
        jitter_ms in 0u64..5_000, throttled in any::<bool>(),
    ) {
        let hint = Some(Hint::new(Duration::from_millis(hint_ms), HintSource::RetryAfter));
        let outcome = if throttled { Outcome::Throttled { hint } } else { Outcome::Retryable { hint } };
        let policy = RetryPolicy::new()
            .max_retries(10)
            .no_budget()
            .max_hint_jitter(Duration::from_millis(jitter_ms))
            .backoff(Backoff::full_jitter(Duration::from_millis(base_ms), Duration::from_millis(cap_ms)));
        let hint_delay = Duration::from_millis(hint_ms);
        match policy.decide(&attempt(outcome, retry), None) {
            Decision::Retry { delay, .. } => {
                prop_assert!(delay >= hint_delay);
                let jitter_cap = (hint_delay / 10).min(Duration::from_millis(jitter_ms));
                prop_assert!(delay <= hint_delay.max(Duration::from_millis(cap_ms)) + jitter_cap);
            }
            Decision::Stop(StopReason::HintAboveCap { .. }) => prop_assert!(hint_delay > Duration::from_secs(60)),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

#[test]
fn the_decision_rule_in_order() {
    let policy = RetryPolicy::new().no_budget().max_retries(2);
    let retryable = Outcome::Retryable { hint: None };
    assert!(matches!(policy.decide(&attempt(Outcome::Success, 0), None), Decision::Done));
    assert!(matches!(policy.decide(&attempt(Outcome::Fatal, 0), None), Decision::Done));
    assert!(matches!(policy.decide(&attempt(retryable, 0), None), Decision::Retry { .. }));
    let spent = policy.decide(&attempt(retryable, 2), None);
    assert!(matches!(spent, Decision::Stop(StopReason::MaxRetries(2))), "{spent:?}");

    let not_idempotent = Attempt { idempotent: false, ..attempt(retryable, 0) };
    assert!(matches!(
        policy.decide(&not_idempotent, None),
        Decision::Stop(StopReason::NotIdempotent)
    ));
    let never_sent = Attempt { idempotent: false, ..attempt(Outcome::NotSent, 0) };
    assert!(matches!(policy.decide(&never_sent, None), Decision::Retry { .. }));

    let unreplayable = Attempt { replayable: false, ..attempt(retryable, 0) };
    let stop = policy.decide(&unreplayable, None);
    assert!(
        matches!(stop, Decision::Stop(StopReason::BodyNotReplayable { limit: 65536 })),
        "{stop:?}"
    );

    // An empty budget stops the retry; the floor of 1/s over 1 s allows exactly one.
    let budget = KeyBudget::new(RetryBudget::new(Duration::from_secs(1), 1, 0.0).unwrap());
    assert!(matches!(policy.decide(&attempt(retryable, 0), Some(&budget)), Decision::Retry { .. }));
    assert!(matches!(
        policy.decide(&attempt(retryable, 0), Some(&budget)),
        Decision::Stop(StopReason::BudgetExhausted)
    ));
}

#[test]
fn a_breaker_refusal_waits_exactly_its_retry_in_or_stops() {
    let policy = RetryPolicy::new().no_budget().max_retries(2);
    let refused = |retry_in: Duration| Attempt {
        idempotent: false, // never sent: any method may try again
        breaker_wait: Some(retry_in),
        ..attempt(Outcome::NotSent, 0)
    };
    // The wait is the breaker's, to the nanosecond: no backoff, no jitter.
    for ms in [0, 1, 3_200, 60_000] {
        match policy.decide(&refused(Duration::from_millis(ms)), None) {
            Decision::Retry { delay, .. } => assert_eq!(delay, Duration::from_millis(ms)),
            other => panic!("{other:?}"),
        }
    }
    let above_cap = policy.decide(&refused(Duration::from_secs(61)), None);
    assert!(matches!(
        above_cap,
        Decision::Stop(StopReason::BreakerOpen { retry_in, cap })
            if retry_in == Duration::from_secs(61) && cap == Duration::from_secs(60)
    ));
    // A wait that would end at or past the deadline returns the refusal at once.
    let deadline = volley_core::Deadline::after(Duration::from_secs(5));
    let late = Attempt { deadline: Some(deadline), ..refused(Duration::from_secs(5)) };
    assert!(matches!(policy.decide(&late, None), Decision::Stop(StopReason::Deadline { .. })));
    let in_time = Attempt { deadline: Some(deadline), ..refused(Duration::from_millis(4_999)) };
    assert!(matches!(policy.decide(&in_time, None), Decision::Retry { .. }));
    // The attempt count and the budget still apply.
    let spent = Attempt { retries: 2, ..refused(Duration::from_secs(1)) };
    assert!(matches!(policy.decide(&spent, None), Decision::Stop(StopReason::MaxRetries(2))));
    let budget = KeyBudget::new(RetryBudget::new(Duration::from_secs(1), 1, 0.0).unwrap());
    assert!(matches!(
        policy.decide(&refused(Duration::ZERO), Some(&budget)),
        Decision::Retry { .. }
    ));
    assert!(matches!(
        policy.decide(&refused(Duration::ZERO), Some(&budget)),
        Decision::Stop(StopReason::BudgetExhausted)
    ));
    assert_eq!(
        StopReason::BreakerOpen {
            retry_in: Duration::from_millis(61_500),
            cap: Duration::from_secs(60)
        }
        .to_string(),
        "the circuit breaker lets a probe through in 61.5s, above the 60s cap"
    );
}

#[test]
fn idempotency_rules() {
    let policy = RetryPolicy::new();
    let mut headers = HeaderMap::new();
    for method in
        [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE, Method::PUT, Method::DELETE]
    {
        assert!(policy.is_idempotent(&method, &headers), "{method}");
    }
    assert!(!policy.is_idempotent(&Method::POST, &headers));
    assert!(!policy.is_idempotent(&Method::PATCH, &headers));
    headers.insert("idempotency-key", "abc".parse().unwrap());
    assert!(policy.is_idempotent(&Method::POST, &headers));
    let strict = RetryPolicy::new().idempotency_header(None).retry_methods([Method::GET]);
    assert!(!strict.is_idempotent(&Method::POST, &headers));
    assert!(!strict.is_idempotent(&Method::PUT, &HeaderMap::new()));
}

fn chunks(parts: &[&'static str]) -> impl Body<Data = Bytes, Error = Infallible> + Send + 'static {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> =
        parts.iter().map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes())))).collect();
    StreamBody::new(futures_util::stream::iter(frames))
}

#[tokio::test]
async fn replay_sends_the_same_bytes_and_keeps_the_size() {
    let origin = ReplayBody::new(Full::new(Bytes::from("hello world")), 1024);
    let first = origin.replay();
    assert_eq!(first.size_hint().exact(), Some(11));
    assert_eq!(first.collect().await.unwrap().to_bytes(), "hello world");
    let second = origin.replay();
    assert_eq!(second.size_hint().exact(), Some(11));
    assert_eq!(second.collect().await.unwrap().to_bytes(), "hello world");
    assert!(origin.is_replayable());
}

#[tokio::test]
async fn a_replay_picks_up_where_a_partial_first_attempt_stopped() {
    let origin = ReplayBody::new(chunks(&["ab", "cd", "ef"]), 1024);
    let mut first = origin.replay();
    let frame = first.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "ab");
    drop(first); // the server answered early; the rest was never sent
    let second = origin.replay();
    assert_eq!(second.collect().await.unwrap().to_bytes(), "abcdef");
    assert_eq!(origin.replay().collect().await.unwrap().to_bytes(), "abcdef");
}

#[tokio::test]
async fn a_body_past_the_limit_is_sent_once_and_no_longer_replayable() {
    let origin = ReplayBody::new(chunks(&["1234", "5678", "9"]), 8);
    assert_eq!(origin.replay().collect().await.unwrap().to_bytes(), "123456789");
    assert!(!origin.is_replayable());
    let err = origin.replay().collect().await.unwrap_err();
    assert_eq!(err.to_string(), "request body outgrew the replay buffer");
}

#[tokio::test]
async fn empty_bodies_cost_nothing_and_replay_forever() {
    let origin = ReplayBody::new(Full::new(Bytes::new()), 0);
    assert!(origin.replay().is_end_stream());
    assert_eq!(origin.replay().size_hint().exact(), Some(0));
    assert!(origin.replay().collect().await.unwrap().to_bytes().is_empty());
    assert!(origin.is_replayable());
}

#[tokio::test]
async fn trailers_are_replayed() {
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", "42".parse().unwrap());
    let body = Full::new(Bytes::from("data")).with_trailers(std::future::ready(Some(Ok(trailers))));
    let origin = ReplayBody::new(body, 1024);
    for _ in 0..2 {
        let collected = origin.replay().collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["x-checksum"], "42");
        assert_eq!(collected.to_bytes(), "data");
    }
}

/// What one attempt carried in its extensions: the deadline, and a caller's own marker.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<volley_core::Deadline>, Option<u32>)>>>;

/// Answers 503 to the first attempt and 200 after, recording each attempt's extensions.
async fn extensions_of_two_attempts(
    marker: Option<u32>,
) -> Vec<(Option<volley_core::Deadline>, Option<u32>)> {
    use tower::{Layer, ServiceExt};
    let seen = Seen::default();
    let record = seen.clone();
    let server = tower::service_fn(move |req: http::Request<ReplayBody<Full<Bytes>>>| {
        let mut seen = record.lock().unwrap();
        seen.push((req.extensions().get().copied(), req.extensions().get::<u32>().copied()));
        let status = if seen.len() == 1 { 503 } else { 200 };
        async move { Ok::<_, Infallible>(http::Response::builder().status(status).body(()).unwrap()) }
    });
    let policy = RetryPolicy::new().backoff(Backoff::constant(Duration::from_millis(1)));
    let svc = crate::RetryLayer::new(policy).layer(server);
    let mut req = http::Request::get("http://api.example/").body(Full::new(Bytes::new())).unwrap();
    let deadline = volley_core::Deadline::after(Duration::from_secs(30));
    deadline.insert_into(&mut req);
    if let Some(marker) = marker {
        req.extensions_mut().insert(marker);
    }
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|(d, _)| *d == Some(deadline)));
    seen
}

#[tokio::test(start_paused = true)]
async fn a_retry_carries_the_callers_extensions() {
    // The deadline alone is kept outside the copied head; with other entries the whole map
    // is copied. Either way every attempt sees the same extensions.
    assert_eq!(
        extensions_of_two_attempts(None).await.iter().map(|(_, m)| *m).collect::<Vec<_>>(),
        [None, None]
    );
    let with_marker = extensions_of_two_attempts(Some(7)).await;
    assert_eq!(with_marker.iter().map(|(_, m)| *m).collect::<Vec<_>>(), [Some(7), Some(7)]);
}

/// Not ready on its very first `poll_ready` (it wakes the task at once), then 503 on the
/// first attempt and 200 after: the retry layer's call finds it not ready and boxes the
/// whole attempt loop.
#[derive(Clone, Default)]
struct SlowToReady {
    polls: std::sync::Arc<std::sync::atomic::AtomicU32>,
    calls: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl tower::Service<http::Request<ReplayBody<Full<Bytes>>>> for SlowToReady {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<http::Response<()>, Infallible>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.polls.fetch_add(1, SeqCst) == 0 {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let status = if n == 0 { 503 } else { 200 };
        std::future::ready(Ok(http::Response::builder().status(status).body(()).unwrap()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_first_attempt_that_waits_for_readiness_is_sent_and_retried() {
    use tower::{Layer, ServiceExt};
    let server = SlowToReady::default();
    let policy = RetryPolicy::new().backoff(Backoff::constant(Duration::from_millis(1)));
    let svc = crate::RetryLayer::new(policy).layer(server.clone());
    let req = http::Request::get("http://api.example/").body(Full::new(Bytes::new())).unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.extensions().get::<crate::RetryInfo>().map(|info| info.attempts), Some(2));
    assert_eq!(server.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}
