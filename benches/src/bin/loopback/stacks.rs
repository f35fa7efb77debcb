//! The two layer stacks around the plain hyper-util client: volley's layers as a user of
//! the layer crates would compose them in a `ServiceBuilder`, and tower's own layers doing
//! the same jobs. Neither has the `Client` facade's URL checks, redirects or
//! decompression, so the pair compares the layers alone, on the same transport.

use std::future::{Ready, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};
use volley::{Backoff, RetryBudget, RetryPolicy};
use volley_limit::ConcurrencyLimitLayer;
use volley_retry::{ReplayBody, RetryLayer};
use volley_timeout::{AttemptTimeoutLayer, TotalTimeoutLayer};

use crate::BoxError;
use crate::clients::{BACKOFF_MAX, BACKOFF_MIN, MAX_RETRIES, Tally, check, spawn_each};

/// The total and per-attempt timeouts both stacks use (volley's defaults).
const TOTAL: Duration = Duration::from_secs(30);
const ATTEMPT: Duration = Duration::from_secs(10);

/// A stack of layers around hyper-util, as one cloneable service with a collected body.
pub(crate) type Stack = BoxCloneSyncService<Request<Empty<Bytes>>, Response<Bytes>, BoxError>;

/// volley's layers: total timeout → retry (3 retries, full jitter, the budget raised to
/// 50 % as for the `Client`, see `build_volley`) →
/// global concurrency limit → attempt timeout → hyper-util.
pub(crate) fn volley_layers(concurrency: usize) -> Stack {
    let hyper: HyperClient<HttpConnector, ReplayBody<Empty<Bytes>>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let budget = RetryBudget::new(Duration::from_secs(10), 10, 0.5).expect("a valid budget");
    let policy = RetryPolicy::new()
        .budget(budget)
        .max_retries(MAX_RETRIES)
        .backoff(Backoff::full_jitter(BACKOFF_MIN, BACKOFF_MAX));
    let stack = ServiceBuilder::new()
        .layer(TotalTimeoutLayer::new(TOTAL))
        .layer(RetryLayer::new(policy))
        .layer(ConcurrencyLimitLayer::new(concurrency * 4))
        .layer(AttemptTimeoutLayer::new(ATTEMPT))
        .service(hyper);
    BoxCloneSyncService::new(stack.and_then(collect))
}

/// tower's own layers doing the same jobs: `Timeout` → `Retry` (up to 3 retries of a 5xx,
/// no backoff: tower has none built in) → `ConcurrencyLimit` → `Timeout` → hyper-util.
pub(crate) fn tower_layers(concurrency: usize) -> Stack {
    let hyper: HyperClient<HttpConnector, Empty<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let stack = ServiceBuilder::new()
        .timeout(TOTAL)
        .retry(RetryServerErrors { left: MAX_RETRIES })
        .concurrency_limit(concurrency * 4)
        .timeout(ATTEMPT)
        .service(hyper);
    BoxCloneSyncService::new(stack.and_then(collect))
}

/// Reads the whole body, inside the stack, so that volley's permits (held until the body
/// ends) are released as they would be for a caller.
async fn collect<B>(response: Response<B>) -> Result<Response<Bytes>, BoxError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map_err(Into::into)?.to_bytes();
    Ok(Response::from_parts(parts, bytes))
}

/// GETs every URL through `stack`, one task per request, as the baselines do.
pub(crate) async fn run(stack: &Stack, urls: Vec<String>, concurrency: usize) -> Tally {
    spawn_each(urls, concurrency, |url| {
        let stack = stack.clone();
        async move {
            let request = Request::get(url).body(Empty::new())?;
            let response = stack.oneshot(request).await?;
            check(response.status().as_u16(), response.body().len())
        }
    })
    .await
}

/// tower's `Retry` policy for the baseline: retries a 5xx up to `left` more times, at once.
#[derive(Clone, Debug)]
struct RetryServerErrors {
    left: u32,
}

impl<B, E> tower::retry::Policy<Request<Empty<Bytes>>, Response<B>, E> for RetryServerErrors {
    type Future = Ready<()>;

    fn retry(
        &mut self,
        _request: &mut Request<Empty<Bytes>>,
        result: &mut Result<Response<B>, E>,
    ) -> Option<Self::Future> {
        let retryable = match result {
            Ok(response) => response.status().is_server_error(),
            Err(_) => true,
        };
        (retryable && self.left > 0).then(|| {
            self.left -= 1;
            ready(())
        })
    }

    fn clone_request(&mut self, request: &Request<Empty<Bytes>>) -> Option<Request<Empty<Bytes>>> {
        let mut copy = Request::new(Empty::new());
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.version_mut() = request.version();
        *copy.headers_mut() = request.headers().clone();
        Some(copy)
    }
}
