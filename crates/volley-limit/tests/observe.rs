//! What the concurrency limit reports: typed tracing events (always) and, with the
//! `metrics` feature, gauges back to zero and queue waits, against volley-testserver on
//! paused time.

#[path = "support/obs.rs"]
mod obs;

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};
use tracing::Level;
#[cfg(feature = "metrics")]
use volley_core::telemetry::names;
use volley_core::{BoxError, find_cause};
use volley_limit::{ConcurrencyLimitLayer, LimitState, Overloaded};
use volley_testserver::TestServer;

use obs::{Events, run};

/// Sends a GET through `layer` over loopback and reads the whole body (so the permit is
/// released); returns the status, or the error.
async fn send(layer: &ConcurrencyLimitLayer, url: String) -> Result<u16, BoxError> {
    let svc = layer.layer(Client::builder(TokioExecutor::new()).build_http());
    let res = svc.oneshot(Request::get(url).body(Empty::<Bytes>::new()).unwrap()).await?;
    let status = res.status().as_u16();
    res.into_body().collect().await?;
    Ok(status)
}

fn assert_idle(state: &LimitState) {
    assert_eq!((state.in_flight(), state.waiting(), state.tracked_keys()), (0, 0, 0));
}

#[test]
fn a_request_that_queued_reports_its_wait_and_the_gauges_return_to_zero() {
    let (events, _guard) = Events::capture("volley_limit");
    let (key, _metrics) = run(|| async {
        let server = TestServer::start().await.unwrap();
        let layer = ConcurrencyLimitLayer::new(4).per_key(1);
        let state = layer.state();
        let url = server.url("/delay/100");
        let first = tokio::spawn({
            let (layer, url) = (layer.clone(), url.clone());
            async move { send(&layer, url).await.unwrap() }
        });
        while state.in_flight() < 1 {
            tokio::task::yield_now().await;
        }
        let start = Instant::now();
        assert_eq!(send(&layer, url).await.unwrap(), 200);
        assert!(start.elapsed() >= Duration::from_millis(200), "it waited for the first");
        assert_eq!(first.await.unwrap(), 200);
        assert_eq!(server.hits("/delay/100"), 2);
        assert_idle(&state);
        format!("http://{}", server.addr())
    });

    let waits = events.named("concurrency permit wait");
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].level, Level::DEBUG);
    let wait_ms = waits[0].u64("wait_ms");
    assert!((100..110).contains(&wait_ms), "queued behind the 100 ms request: {wait_ms}");
    assert_eq!(waits[0].str("scope"), "key");
    assert_eq!(waits[0].str("key"), key);
    assert!(events.named("concurrency limit refused").is_empty());

    #[cfg(feature = "metrics")]
    {
        let label = [("key", key.as_str())];
        let queued = _metrics.histogram(names::QUEUE_WAIT, &label);
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert!((queued[0] * 1000.0 - wait_ms as f64).abs() < 1.0, "{queued:?} vs {wait_ms}");
        // (value now, highest reached): one request at a time per key, one waiting.
        assert_eq!(_metrics.gauge(names::IN_FLIGHT, &label), Some((0.0, 1.0)));
        assert_eq!(_metrics.gauge(names::QUEUED, &label), Some((0.0, 1.0)));
        // The global limit of 4: the second request takes it only once its key's is free.
        assert_eq!(_metrics.gauge(names::IN_FLIGHT, &[("key", "global")]), Some((0.0, 1.0)));
        assert_eq!(_metrics.gauge(names::QUEUED, &[("key", "global")]), None, "never queued");
    }
}

#[test]
fn a_refusal_reports_its_reason() {
    let (events, _guard) = Events::capture("volley_limit");
    let (key, _metrics) = run(|| async {
        let server = TestServer::start().await.unwrap();
        let layer = ConcurrencyLimitLayer::per_key_only(1).max_queue(0);
        let state = layer.state();
        let url = server.url("/delay/100");
        let first = tokio::spawn({
            let (layer, url) = (layer.clone(), url.clone());
            async move { send(&layer, url).await.unwrap() }
        });
        while state.in_flight() < 1 {
            tokio::task::yield_now().await;
        }
        let err = send(&layer, url).await.unwrap_err();
        assert!(find_cause::<Overloaded>(&*err).is_some(), "{err}");
        assert_eq!(first.await.unwrap(), 200);
        assert_eq!(server.hits("/delay/100"), 1, "the refused request never reached it");
        assert_idle(&state);
        format!("http://{}", server.addr())
    });
    let refused = events.named("concurrency limit refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].level, Level::DEBUG);
    assert_eq!(refused[0].str("reason"), "queue_full");
    assert_eq!((refused[0].str("key"), refused[0].u64("max")), (key.as_str().to_owned(), 1));
    assert!(events.named("concurrency permit wait").is_empty());

    #[cfg(feature = "metrics")]
    {
        let label = [("key", key.as_str())];
        assert_eq!(_metrics.gauge(names::IN_FLIGHT, &label), Some((0.0, 1.0)));
        assert!(_metrics.histogram(names::QUEUE_WAIT, &label).is_empty());
    }
}

#[test]
fn an_adaptive_limit_change_is_an_event_with_numbers_and_a_gauge() {
    let (events, _guard) = Events::capture("volley_limit");
    let (key, _metrics) = run(|| async {
        let server = TestServer::start().await.unwrap();
        let adaptive = volley_limit::Adaptive::aimd().initial(10);
        let layer = ConcurrencyLimitLayer::new(1000).adaptive(adaptive);
        assert_eq!(send(&layer, server.url("/status/503")).await.unwrap(), 503);
        assert_eq!(server.hits("/status/503"), 1);
        let key = volley_core::Key::new(format!("http://{}", server.addr()));
        assert_eq!(layer.state().limit(&key), Some(9), "one overload signal: 10 × 0.9");
        key.as_str().to_owned()
    });
    let changes = events.named("adaptive concurrency limit changed");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].u64("old"), changes[0].u64("new")), (10, 9));
    assert!(changes[0].bool("dropped"));
    assert_eq!(changes[0].str("key"), key);

    #[cfg(feature = "metrics")]
    {
        let label = [("key", key.as_str())];
        assert_eq!(_metrics.gauge(names::ADAPTIVE_LIMIT, &label), Some((9.0, 10.0)));
        assert_eq!(_metrics.gauge(names::IN_FLIGHT, &label), Some((0.0, 1.0)));
    }
}
