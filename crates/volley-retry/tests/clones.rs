//! A request that is never retried costs no clone of the inner service: retries take
//! theirs from the one clone the layer made when it wrapped the service.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use tower::{Layer, Service, ServiceExt};
use volley_retry::{ReplayBody, RetryLayer, RetryPolicy};
use volley_testserver::TestServer;

use common::{HttpClient, client, get};

/// The real hyper-util client, counting how often it is cloned.
struct Counted {
    inner: HttpClient<Full<Bytes>>,
    clones: Arc<AtomicUsize>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self { inner: self.inner.clone(), clones: self.clones.clone() }
    }
}

impl Service<http::Request<ReplayBody<Full<Bytes>>>> for Counted {
    type Response =
        <HttpClient<Full<Bytes>> as Service<http::Request<ReplayBody<Full<Bytes>>>>>::Response;
    type Error = hyper_util::client::legacy::Error;
    type Future = hyper_util::client::legacy::ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        self.inner.call(req)
    }
}

#[tokio::test(start_paused = true)]
async fn only_retries_clone_the_inner_service() {
    let server = TestServer::start().await.unwrap();
    let clones = Arc::new(AtomicUsize::new(0));
    let mut svc = RetryLayer::new(RetryPolicy::new())
        .layer(Counted { inner: client(), clones: clones.clone() });
    let made = clones.load(Ordering::SeqCst);
    assert_eq!(made, 1, "the layer keeps one clone for retries");

    for _ in 0..20 {
        let res = svc.ready().await.unwrap().call(get(server.url("/json"))).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(server.hits("/json"), 20);
    assert_eq!(clones.load(Ordering::SeqCst), made, "20 first attempts, no clone");

    // Two failures, then a success: the retries share one clone, taken at the first retry.
    let res = svc.ready().await.unwrap().call(get(server.url("/flaky/2"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(server.hits("/flaky/2"), 3);
    assert_eq!(clones.load(Ordering::SeqCst), made + 1);

    // A clone of the retry service shares the spare instead of making another.
    let _copy = svc.clone();
    assert_eq!(clones.load(Ordering::SeqCst), made + 2, "the copy's own inner service");
}
