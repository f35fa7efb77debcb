//! The caller's hooks into the stack: layers per request, per attempt and per connect, the
//! standard stack around a service of the caller's, and DNS overrides.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tower::{Layer, ServiceBuilder};
use volley::{AttemptBody, Backoff, Client, RetryPolicy};
use volley_testserver::TestServer;

/// A layer that counts the calls (requests, attempts, connects) that pass through it.
fn counting<S, R>(
    counter: Arc<AtomicUsize>,
) -> impl Layer<S, Service = tower::util::MapRequest<S, impl Fn(R) -> R + Clone>> + Send + Sync + 'static
where
    R: 'static,
{
    tower::layer::layer_fn(move |inner: S| {
        let counter = counter.clone();
        tower::util::MapRequest::new(inner, move |req: R| {
            counter.fetch_add(1, Ordering::SeqCst);
            req
        })
    })
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::new().backoff(Backoff::constant(Duration::from_millis(1)))
}

#[tokio::test]
async fn request_layers_see_each_request_and_attempt_layers_each_attempt() {
    let server = TestServer::start().await.unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .retry_policy(quick_retries())
        .layer(counting::<_, http::Request<volley::Body>>(requests.clone()))
        .attempt_layer(counting::<_, http::Request<AttemptBody>>(attempts.clone()))
        .build()
        .unwrap();
    let res = client.get(server.url("/flaky/2?key=hooks")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert_eq!(attempts.load(Ordering::SeqCst), 3, "two failures and the success");
    assert_eq!(server.hits("/flaky/2"), 3);
}

#[tokio::test]
async fn connector_layers_see_each_new_connection() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let connects = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .connector_layer(counting::<_, http::Uri>(connects.clone()))
        .build()
        .unwrap();
    // A fresh client has no pooled connection, so each origin's first request connects.
    client.get(a.url("/get")).send().await.unwrap().bytes().await.unwrap();
    client.get(b.url("/get")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert_eq!(a.connections() + b.connections(), 2);
}

#[tokio::test]
async fn the_standard_stack_wraps_any_service() {
    // A mock server: two 503s, then 200 — no sockets at all.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mock = tower::service_fn(move |req: http::Request<AttemptBody>| {
        let call = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            assert_eq!(req.uri(), "http://mock.test/items?page=2");
            let status = if call < 2 { 503 } else { 200 };
            Ok::<_, Infallible>(
                http::Response::builder().status(status).body(format!("call {call}")).unwrap(),
            )
        }
    });
    let layer = Client::builder()
        .base_url("http://mock.test/")
        .retry_policy(quick_retries())
        .into_layer()
        .unwrap();
    let client = ServiceBuilder::new().layer(layer.clone()).service(mock.clone());
    let res = client.get("items").query(&[("page", 2)]).send().await.unwrap();
    assert_eq!(res.attempts(), 3);
    assert_eq!(res.text().await.unwrap(), "call 2");
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // The same through build_with_service.
    let direct = Client::builder().build_with_service(mock).unwrap();
    let res = direct.get("http://mock.test/items?page=2").send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.attempts()), (200, 1));
}

#[tokio::test]
async fn clients_made_from_one_stack_layer_share_their_limits() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (now, max) = (in_flight.clone(), peak.clone());
    let slow = tower::service_fn(move |_req: http::Request<AttemptBody>| {
        let (now, max) = (now.clone(), max.clone());
        async move {
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Infallible>(http::Response::new(String::new()))
        }
    });
    let layer = Client::builder().concurrency(Some(2)).into_layer().unwrap();
    let one = layer.layer(slow.clone());
    let two = layer.layer(slow);
    let calls = (0..6).map(|i| {
        let client = if i % 2 == 0 { one.clone() } else { two.clone() };
        async move { client.get("http://mock.test/").send().await.unwrap().bytes().await.unwrap() }
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(peak.load(Ordering::SeqCst), 2, "one limit of 2 for both clients");
}

#[tokio::test]
async fn resolve_sends_a_name_to_the_address_given() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().resolve("api.example.test", server.addr()).build().unwrap();
    let url = format!("http://api.example.test:{}/headers", server.addr().port());
    let doc: serde_json::Value = client.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["headers"]["host"], format!("api.example.test:{}", server.addr().port()));
    assert_eq!(server.hits("/headers"), 1);
}
