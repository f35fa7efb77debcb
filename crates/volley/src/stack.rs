//! The standard stack, assembled from the layer crates and type-erased stage by stage.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_service::Service;
use volley_core::BoxError;
use volley_limit::ConcurrencyLimitLayer;
use volley_ratelimit::RateLimitLayer;
use volley_retry::{ReplayBody, RetryLayer, RetryPolicy};
use volley_timeout::{AttemptTimeoutLayer, TotalTimeoutLayer};

use crate::{Body, ResponseBody};

/// Below the retry layer: requests carry replayable bodies.
pub(crate) type Inner =
    BoxCloneSyncService<Request<ReplayBody<Body>>, Response<ResponseBody>, BoxError>;
/// Above the retry layer.
pub(crate) type Outer = BoxCloneSyncService<Request<Body>, Response<ResponseBody>, BoxError>;

/// What the builder decided, handed to [`assemble`].
pub(crate) struct Layers {
    pub(crate) retry: RetryPolicy,
    pub(crate) rate_limit: Option<RateLimitLayer>,
    pub(crate) concurrency: Option<ConcurrencyLimitLayer>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) user_layers: Vec<Box<dyn Fn(Outer) -> Outer + Send + Sync>>,
}

/// A total timeout that never binds by itself: about 30 years once saturated.
const NO_LIMIT: Duration = Duration::from_secs(u64::MAX / 4);

/// Outer → inner: total timeout, user layers, retry, rate limit, concurrency, attempt
/// timeout, the hyper-util client.
pub(crate) fn assemble(
    client: HyperClient<HttpsConnector<HttpConnector>, ReplayBody<Body>>,
    layers: Layers,
) -> Outer {
    let mut inner: Inner = erase(client);
    if let Some(timeout) = layers.attempt_timeout {
        inner = erase(AttemptTimeoutLayer::new(timeout).layer(inner));
    }
    if let Some(concurrency) = layers.concurrency {
        inner = erase(concurrency.layer(inner));
    }
    if let Some(rate_limit) = layers.rate_limit {
        inner = erase(rate_limit.layer(inner));
    }
    let mut outer: Outer = erase(RetryLayer::new(layers.retry).layer(inner));
    for user_layer in layers.user_layers.iter().rev() {
        outer = user_layer(outer);
    }
    // The client puts each request's `Deadline` on it (its own total timeout, or the
    // request's `.timeout(..)`); this layer enforces whichever is there, body included.
    erase(TotalTimeoutLayer::new(NO_LIMIT).layer(outer))
}

/// Boxes a stage whose response body is any `Bytes` body.
pub(crate) fn erase<S, Req, B>(
    service: S,
) -> BoxCloneSyncService<Req, Response<ResponseBody>, BoxError>
where
    S: Service<Req, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    Req: 'static,
{
    let service = ServiceBuilder::new()
        .map_response(|res: Response<B>| res.map(|body| body.map_err(Into::into).boxed_unsync()))
        .map_err(Into::into)
        .service(service);
    BoxCloneSyncService::new(service.map_err(|e: BoxError| e))
}
