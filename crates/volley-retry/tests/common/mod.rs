//! A real hyper-util client wrapped in the retry layer, for tests against the test server.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceBuilder;
use volley_retry::{ReplayBody, Retry, RetryLayer, RetryPolicy};

pub type HttpClient<B> = Client<HttpConnector, ReplayBody<B>>;

pub fn client<B>() -> HttpClient<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn retrying(
    policy: RetryPolicy,
) -> Retry<HttpClient<Full<Bytes>>, volley_classify::HttpClassifier, volley_core::ByAuthority> {
    ServiceBuilder::new().layer(RetryLayer::new(policy)).service(client())
}

pub fn get(url: String) -> http::Request<Full<Bytes>> {
    http::Request::get(url).body(Full::default()).unwrap()
}
