//! Request bodies are sent again byte for byte, or not at all when they outgrow the buffer.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Frame;
use http_body_util::StreamBody;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt};
use volley_classify::ClassifyLayer;
use volley_core::find_cause;
use volley_retry::{RetryError, RetryInfo, RetryLayer, RetryPolicy, StopReason};
use volley_testserver::{TestServer, pattern_bytes};

type Streaming = BoxBody<Bytes, Infallible>;

/// `len` bytes of the test pattern as a streaming body of 1 KiB chunks, with no size known
/// in advance (so it is sent chunked, like an upload from a file or socket).
fn streaming(len: usize) -> Streaming {
    let data = pattern_bytes(len);
    let chunks: Vec<Result<Frame<Bytes>, Infallible>> = (0..len)
        .step_by(1024)
        .map(|at| Ok(Frame::data(data.slice(at..(at + 1024).min(len)))))
        .collect();
    StreamBody::new(futures_util::stream::iter(chunks)).boxed()
}

fn put(server: &TestServer, path: &str, body: Streaming) -> Request<Streaming> {
    Request::put(server.url(path)).body(body).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_10_kib_streaming_body_is_replayed_byte_for_byte() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new()))
        .service(common::client::<Streaming>());
    let res = svc.oneshot(put(&server, "/flaky/1?key=ten", streaming(10 * 1024))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.extensions().get::<RetryInfo>().unwrap().attempts, 2);
    let received = server.flaky_bodies("/flaky/1");
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|body| *body == pattern_bytes(10 * 1024)));
    // The successful attempt's echo agrees.
    let echo: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(echo["bytes"], 10 * 1024);
}

#[tokio::test(start_paused = true)]
async fn a_1_mib_streaming_body_is_sent_once_and_the_refusal_says_why() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new()))
        .service(common::client::<Streaming>());
    let res = svc.oneshot(put(&server, "/flaky/1?key=big", streaming(1024 * 1024))).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let info = res.extensions().get::<RetryInfo>().unwrap();
    assert_eq!(
        *info,
        RetryInfo {
            attempts: 1,
            stopped: Some(StopReason::BodyNotReplayable { limit: 64 * 1024 })
        }
    );
    assert_eq!(server.hits("/flaky/1"), 1);
    let received = server.flaky_bodies("/flaky/1");
    assert_eq!(received.len(), 1);
    assert!(received[0] == pattern_bytes(1024 * 1024), "the body arrived whole");
}

#[tokio::test(start_paused = true)]
async fn with_error_for_status_the_error_says_why() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new()))
        .layer(ClassifyLayer::new().error_for_status(true))
        .service(common::client::<Streaming>());
    let err =
        svc.oneshot(put(&server, "/flaky/1?key=big", streaming(1024 * 1024))).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "not retried after 1 attempt: the request body is larger than the 64 KiB replay buffer"
    );
    let retry = find_cause::<RetryError>(&*err).unwrap();
    assert_eq!(retry.reason(), StopReason::BodyNotReplayable { limit: 64 * 1024 });
    let status = find_cause::<volley_classify::StatusError>(&*err).unwrap();
    assert_eq!(status.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits("/flaky/1"), 1);
}

#[tokio::test(start_paused = true)]
async fn full_bodies_keep_their_length_across_attempts() {
    let server = TestServer::start().await.unwrap();
    let svc = common::retrying(RetryPolicy::new());
    let body = Full::new(pattern_bytes(3000));
    let req = Request::put(server.url("/flaky/2?key=full")).body(body).unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let echo: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    // Sent with a content-length each time, not chunked: the size hint survived replay.
    assert_eq!(echo["headers"]["content-length"], "3000");
    let received = server.flaky_bodies("/flaky/2");
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|body| *body == pattern_bytes(3000)));
}
