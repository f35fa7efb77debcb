//! The standard stack, assembled from the layer crates and type-erased twice: below the
//! retry layer and at the top.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper_util::client::legacy::Client as HyperClient;
use tower::Layer;
use tower::util::BoxCloneSyncService;
use tower_http::decompression::DecompressionLayer;
use tower_service::Service;
use volley_breaker::BreakerLayer;
use volley_cookies::CookieLayer;
use volley_core::BoxError;
use volley_hedge::HedgeLayer;
use volley_limit::ConcurrencyLimitLayer;
use volley_ratelimit::RateLimitLayer;
use volley_redirect::RedirectLayer;
use volley_retry::{ReplayBody, RetryLayer};
use volley_timeout::{AttemptTimeoutLayer, TotalTimeoutLayer};

mod erase;
mod optional;

use self::erase::Erase;
use self::optional::Optional;
use crate::proxy::{self, Proxies};
use crate::transport::BoxConnector;
use crate::{Body, ResponseBody};

/// Below the retry layer: requests carry replayable bodies.
pub(crate) type Inner =
    BoxCloneSyncService<Request<ReplayBody<Body>>, Response<ResponseBody>, BoxError>;
/// Above the retry layer.
pub(crate) type Outer = BoxCloneSyncService<Request<Body>, Response<ResponseBody>, BoxError>;

/// A caller's layer above the retry layer, applied to the boxed stage below it.
pub(crate) type UserLayer = Box<dyn Fn(Outer) -> Outer + Send + Sync>;
/// A caller's layer below the retry layer (one attempt), applied to the boxed stage below.
pub(crate) type AttemptLayer = Box<dyn Fn(Inner) -> Inner + Send + Sync>;

/// What the builder decided, handed to [`assemble`]. Cloning it shares every limit: the
/// layers keep their state behind an `Arc` made when they were built.
#[derive(Clone)]
pub(crate) struct Layers {
    pub(crate) retry: RetryLayer,
    pub(crate) rate_limit: Option<RateLimitLayer>,
    pub(crate) concurrency: Option<ConcurrencyLimitLayer>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) redirect: Option<RedirectLayer>,
    pub(crate) cookies: Option<CookieLayer>,
    pub(crate) breaker: Option<BreakerLayer>,
    pub(crate) hedge: Option<HedgeLayer>,
    pub(crate) decompress: bool,
    pub(crate) user_layers: Arc<[UserLayer]>,
    pub(crate) attempt_layers: Arc<[AttemptLayer]>,
}

/// A total timeout that never binds by itself: about 30 years once saturated.
const NO_LIMIT: Duration = Duration::from_secs(u64::MAX / 4);

/// Outer → inner: total timeout, redirects, cookies, user layers, retry, circuit breaker,
/// attempt layers, rate limit, concurrency, hedge, attempt timeout, decompression, the
/// transport (hyper-util's client, or any service).
///
/// The stack is boxed twice, not once per stage: below the retry layer (whose type must not
/// depend on which limits are configured) and at the top. Every box costs an allocation per
/// call (the future), per response (the body) and per clone of the stack, and a client
/// clones its stack a few times per request (the request builder, the fan-out, the retry
/// loop), so per-stage boxes added up to dozens of allocations per request. Absent layers
/// are [`optional`] instead; the caller's own layers add a box each.
pub(crate) fn assemble<T, B>(transport: T, layers: &Layers) -> Outer
where
    T: Service<Request<ReplayBody<Body>>, Response = Response<B>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    T::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError> + Send + Sync + 'static,
{
    // Inside the attempt timeout, so decoding counts against it; below the buffering
    // helpers, so their body limit counts decoded bytes.
    // Its body (about 300 bytes of decoder state) is boxed at once: every stage above
    // moves the response, and a box costs less than a dozen copies of it.
    let decompress = layers
        .decompress
        .then(|| tower::layer::layer_fn(|inner| Erase(DecompressionLayer::new().layer(inner))));
    let inner = optional(decompress, transport);
    let inner = optional(layers.attempt_timeout.map(AttemptTimeoutLayer::new), inner);
    // Outside the attempt timeout, so each attempt of a hedged request has its own; inside
    // the concurrency limit, so a hedged request holds one permit (the budget bounds the
    // extra load instead).
    let inner = optional(layers.hedge.clone(), inner);
    let inner = optional(layers.concurrency.clone(), inner);
    let mut inner: Inner = erase(optional(layers.rate_limit.clone(), inner));
    for attempt_layer in layers.attempt_layers.iter().rev() {
        inner = attempt_layer(inner);
    }
    // Right inside retry: a request refused by an open breaker is neither paced, queued
    // nor sent, and the retry layer sees the refusal at once. A box of its own when on, so
    // that off it is not even a branch.
    if let Some(breaker) = &layers.breaker {
        inner = erase(breaker.clone().layer(inner));
    }
    let retry = layers.retry.layer(inner);
    // The client puts each request's `Deadline` on it (its own total timeout, or the
    // request's `.timeout(..)`); the total timeout layer enforces whichever is there, body
    // included.
    let total = TotalTimeoutLayer::new(NO_LIMIT);
    if layers.user_layers.is_empty() {
        let hop = optional(layers.cookies.clone(), retry);
        return erase(total.layer(optional(layers.redirect.clone(), hop)));
    }
    let mut outer: Outer = erase(retry);
    for user_layer in layers.user_layers.iter().rev() {
        outer = user_layer(outer);
    }
    let hop = optional(layers.cookies.clone(), outer);
    erase(total.layer(optional(layers.redirect.clone(), hop)))
}

/// hyper-util's client, the transport of [`ClientBuilder::build`](crate::ClientBuilder::build).
pub(crate) fn hyper_transport(
    client: HyperClient<BoxConnector, ReplayBody<Body>>,
    proxies: Proxies,
) -> SharedTransport {
    SharedTransport { client: Arc::new(client), proxies }
}

/// hyper-util's client behind an `Arc`. The retry layer clones the stage below it for every
/// request, and a clone of hyper-util's client copies its connector and settings; a clone
/// of this is one reference count. hyper-util's client sends through `&self` and is always
/// ready, so sharing it changes nothing else.
///
/// It also adds `Proxy-Authorization` to plain-http requests that go through an http
/// forward proxy: the one place that sees both the request and the route.
#[derive(Clone)]
pub(crate) struct SharedTransport {
    client: Arc<HyperClient<BoxConnector, ReplayBody<Body>>>,
    proxies: Proxies,
}

impl Service<Request<ReplayBody<Body>>> for SharedTransport {
    type Response = Response<hyper::body::Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = hyper_util::client::legacy::ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<ReplayBody<Body>>) -> Self::Future {
        proxy::authorize(&self.proxies, &mut req);
        self.client.request(req)
    }
}

/// `inner` wrapped in `layer` when there is one, as a single service type either way (the
/// response body says which), so that an absent layer costs a branch instead of a box.
fn optional<L, S>(layer: Option<L>, inner: S) -> Optional<L::Service, S>
where
    L: Layer<S>,
{
    match layer {
        Some(layer) => Optional::On(layer.layer(inner)),
        None => Optional::Off(inner),
    }
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
    BoxCloneSyncService::new(Erase(service))
}
