//! ClassifyLayer over a real client and the test server, and the tower-http bridge.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::trace::TraceLayer;
use volley_classify::{ClassifyLayer, HintSource, HttpClassifier, Outcome, StatusError};
use volley_core::find_cause;
use volley_testserver::TestServer;

fn get(server: &TestServer, path: &str) -> Request<Empty<Bytes>> {
    Request::get(server.url(path)).body(Empty::new()).unwrap()
}

#[tokio::test]
async fn records_the_outcome_and_passes_the_response_through() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http();
    let svc = ServiceBuilder::new().layer(ClassifyLayer::new()).service(client);

    let res = svc.clone().oneshot(get(&server, "/get")).await.unwrap();
    assert_eq!(res.extensions().get::<Outcome>(), Some(&Outcome::Success));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"{"), "the body is untouched");

    let res = svc.clone().oneshot(get(&server, "/status/502")).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(res.extensions().get::<Outcome>(), Some(&Outcome::Retryable { hint: None }));
    assert_eq!(server.total_hits(), 2);
}

#[tokio::test]
async fn error_for_status_gives_a_typed_error_with_the_hint() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http();
    let svc =
        ServiceBuilder::new().layer(ClassifyLayer::new().error_for_status(true)).service(client);

    let err = svc.clone().oneshot(get(&server, "/retry-after/2?form=ms")).await.unwrap_err();
    let status = find_cause::<StatusError>(&*err).expect("a StatusError");
    assert_eq!(status.status(), StatusCode::TOO_MANY_REQUESTS);
    let hint = status.hint().unwrap();
    assert_eq!(
        (hint.delay(), hint.source()),
        (Duration::from_millis(2000), HintSource::RetryAfterMs)
    );
    assert!(status.headers().contains_key("retry-after-ms"));
    assert_eq!(
        status.to_string(),
        "server answered 429 Too Many Requests (throttled, retry after 2s (retry-after-ms))"
    );

    let err = svc.clone().oneshot(get(&server, "/status/404")).await.unwrap_err();
    assert_eq!(find_cause::<StatusError>(&*err).unwrap().outcome(), Outcome::Fatal);

    let ok = svc.oneshot(get(&server, "/get")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(server.total_hits(), 3);
}

#[tokio::test]
async fn transport_errors_pass_through_unchanged() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let svc =
        ServiceBuilder::new().layer(ClassifyLayer::new().error_for_status(true)).service(client);
    let req = Request::get(format!("http://{addr}/")).body(Empty::new()).unwrap();
    let err = svc.oneshot(req).await.unwrap_err();
    let transport =
        find_cause::<hyper_util::client::legacy::Error>(&*err).expect("the client's own error");
    assert!(transport.is_connect());
}

#[tokio::test]
async fn trace_layer_reports_our_outcomes() {
    let failures: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let seen = failures.clone();
    let svc = ServiceBuilder::new()
        .layer(TraceLayer::new(HttpClassifier::new()).on_failure(
            move |class: Outcome, _latency: Duration, _span: &tracing::Span| {
                seen.lock().unwrap().push(class)
            },
        ))
        .service_fn(|req: Request<Empty<Bytes>>| async move {
            let status = if req.uri().path() == "/busy" { 429 } else { 200 };
            let res = Response::builder()
                .status(status)
                .header("retry-after", "4")
                .body(Empty::<Bytes>::new());
            Ok::<_, std::convert::Infallible>(res.unwrap())
        });
    svc.clone().oneshot(Request::get("/ok").body(Empty::new()).unwrap()).await.unwrap();
    svc.oneshot(Request::get("/busy").body(Empty::new()).unwrap()).await.unwrap();
    let failures = failures.lock().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].is_throttled());
    assert_eq!(failures[0].hint().unwrap().delay(), Duration::from_secs(4));
}
