//! Client helpers shared by the tests.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The client every test uses: hyper-util's legacy client over plain TCP.
pub(crate) type TestClient = Client<HttpConnector, Full<Bytes>>;

/// An HTTP/1.1 client with the default pool.
pub(crate) fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client with prior knowledge (h2c).
pub(crate) fn h2_client() -> TestClient {
    Client::builder(TokioExecutor::new()).http2_only(true).build_http()
}

/// A client that never reuses a connection.
pub(crate) fn unpooled_client() -> TestClient {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http()
}

/// A response with its body read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body parsed as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("body is not JSON ({err}): {:?}", String::from_utf8_lossy(&self.body))
        })
    }

    /// A header as a string, `""` when absent.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().expect("ASCII header"))
    }
}

/// A request with a body.
pub(crate) fn request(method: Method, url: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder().method(method).uri(url).body(Full::new(body.into())).expect("valid request")
}

/// Sends `req` and reads the whole response.
pub(crate) async fn send(client: &TestClient, req: Request<Full<Bytes>>) -> Reply {
    let response = client.request(req).await.expect("response head");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    Reply { status: parts.status, version: parts.version, headers: parts.headers, body }
}

/// `GET url`.
pub(crate) async fn get(client: &TestClient, url: &str) -> Reply {
    send(client, request(Method::GET, url, Bytes::new())).await
}

/// Yields (without letting a paused clock advance) until `done()` holds.
pub(crate) async fn yield_until(mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition not reached after 10 000 yields");
}
