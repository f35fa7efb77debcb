//! The `key` label is bounded: past `max_key_labels` distinct keys, gauges fold into
//! "other" (alone in its test binary: the bound is process-wide).

#![cfg(feature = "metrics")]

#[path = "support/obs.rs"]
mod obs;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, ServiceExt};
use volley_core::telemetry::{OTHER_KEYS, names, set_max_key_labels};
use volley_limit::ConcurrencyLimitLayer;
use volley_testserver::TestServer;

use obs::Metrics;

#[test]
fn keys_past_the_label_bound_are_recorded_as_other() {
    set_max_key_labels(2);
    let metrics = Metrics::default();
    let origins = metrics.run(|| async {
        let layer = ConcurrencyLimitLayer::per_key_only(1);
        let client = layer.layer(Client::builder(TokioExecutor::new()).build_http());
        let mut origins = Vec::new();
        for _ in 0..4 {
            let server = TestServer::start().await.unwrap();
            let req = Request::get(server.url("/get")).body(Empty::<Bytes>::new()).unwrap();
            let res = client.clone().oneshot(req).await.unwrap();
            res.into_body().collect().await.unwrap();
            assert_eq!(server.hits("/get"), 1);
            origins.push(format!("http://{}", server.addr()));
        }
        assert_eq!(layer.state().in_flight(), 0);
        origins
    });
    let label = |value: &str| vec![("key".to_owned(), value.to_owned())];
    let series: Vec<_> = metrics.series(names::IN_FLIGHT).into_iter().map(|(_, l)| l).collect();
    let mut expected = vec![label(&origins[0]), label(&origins[1]), label(OTHER_KEYS)];
    expected.sort();
    assert_eq!(series, expected, "3 series for 4 keys");
    assert_eq!(metrics.gauge(names::IN_FLIGHT, &[("key", OTHER_KEYS)]), Some((0.0, 1.0)));
    for origin in &origins[..2] {
        assert_eq!(metrics.gauge(names::IN_FLIGHT, &[("key", origin)]), Some((0.0, 1.0)));
    }
}
