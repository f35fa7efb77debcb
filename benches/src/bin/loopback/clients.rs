//! The clients under comparison, each doing N GETs with at most C in flight and
//! reading every body to its end.
//!
//! All of them spawn one task per request (volley's `join::Fanout` does, so the baselines do
//! too), build each request from its URL string inside the timed loop, and collect each
//! body into one buffer. A request counts as ok when its final status is 2xx and its body
//! arrived whole.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryFutureExt, stream};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use tokio::time::Instant;
use tower::{Service, ServiceExt};
use volley::join::Fanout;
use volley::{Backoff, RequestBuilder, RetryBudget, RetryPolicy};

use crate::stacks::{self, Stack};

/// The retrying clients' backoff bounds: the first retry waits up to 1 ms, later ones up to
/// 10 ms, with full jitter (both volley and reqwest-retry).
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(1);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_millis(10);
/// Retries per request for the retrying clients (reqwest-retry has no default; volley's is 3).
pub(crate) const MAX_RETRIES: u32 = 3;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which client a run uses.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub(crate) enum ClientKind {
    /// hyper-util's legacy pooled client, alone: what the transport costs.
    Hyper,
    /// volley's standard stack (timeouts, redirects, retry, rate limit, concurrency,
    /// decompression), through `join`.
    Volley,
    /// The same, with redirects and decompression off: what those two cost a request that
    /// neither redirects nor comes compressed.
    VolleyPlain,
    /// reqwest, plain.
    Reqwest,
    /// reqwest wrapped in reqwest-middleware with reqwest-retry.
    ReqwestRetry,
    /// volley's layers alone in a `ServiceBuilder` around hyper-util: total timeout, retry,
    /// concurrency limit, attempt timeout.
    VolleyLayers,
    /// tower's own layers doing the same jobs around hyper-util.
    TowerLayers,
}

impl ClientKind {
    /// Every client, the floor first.
    pub(crate) const ALL: [Self; 7] = [
        Self::Hyper,
        Self::Volley,
        Self::VolleyPlain,
        Self::Reqwest,
        Self::ReqwestRetry,
        Self::VolleyLayers,
        Self::TowerLayers,
    ];

    /// What the tables call it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hyper => "hyper-util",
            Self::Volley => "volley",
            Self::VolleyPlain => "volley, no redirects or decompression",
            Self::Reqwest => "reqwest",
            Self::ReqwestRetry => "reqwest-middleware + retry",
            Self::VolleyLayers => "volley layers (ServiceBuilder)",
            Self::TowerLayers => "tower layers (ServiceBuilder)",
        }
    }
}

/// What one pass over a list of URLs produced.
#[derive(Debug)]
pub(crate) struct Tally {
    /// Requests that ended with a 2xx status and a whole body.
    pub(crate) ok: usize,
    /// Requests that ended otherwise.
    pub(crate) failed: usize,
    /// Body bytes received by ok requests.
    pub(crate) bytes: u64,
    /// Latency of every request, call to body end, in microseconds.
    pub(crate) latency_us: Histogram<u64>,
    /// The first failure, to explain a failed count.
    pub(crate) first_error: Option<String>,
}

impl Tally {
    fn new() -> Self {
        Self {
            ok: 0,
            failed: 0,
            bytes: 0,
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("constant histogram bounds are valid"),
            first_error: None,
        }
    }

    fn record(&mut self, latency: Duration, result: Result<usize, String>) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(micros.max(1));
        match result {
            Ok(bytes) => {
                self.ok += 1;
                self.bytes += bytes as u64;
            }
            Err(error) => {
                self.failed += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }
}

/// A client, built once per run and used for the warm-up and the measured pass.
#[derive(Debug)]
pub(crate) enum Client {
    // Boxed: hyper-util's client is ten times the size of the others.
    Hyper(Box<HyperClient<HttpConnector, Empty<Bytes>>>),
    Volley(volley::Client),
    Reqwest(reqwest::Client),
    ReqwestRetry(reqwest_middleware::ClientWithMiddleware),
    Stack(Stack),
}

impl Client {
    /// Builds `kind` with its defaults, limits that never bind at `concurrency` in flight,
    /// and, for the retrying clients, the shared backoff bounds.
    pub(crate) fn build(kind: ClientKind, concurrency: usize) -> Result<Self, BoxError> {
        Ok(match kind {
            ClientKind::Hyper => {
                Self::Hyper(Box::new(HyperClient::builder(TokioExecutor::new()).build_http()))
            }
            ClientKind::Volley => Self::Volley(build_volley(concurrency, true)?),
            ClientKind::VolleyPlain => Self::Volley(build_volley(concurrency, false)?),
            ClientKind::Reqwest => Self::Reqwest(reqwest::Client::builder().build()?),
            ClientKind::ReqwestRetry => {
                let policy = ExponentialBackoff::builder()
                    .retry_bounds(BACKOFF_MIN, BACKOFF_MAX)
                    .build_with_max_retries(MAX_RETRIES);
                Self::ReqwestRetry(
                    reqwest_middleware::ClientBuilder::new(reqwest::Client::builder().build()?)
                        .with(RetryTransientMiddleware::new_with_policy(policy))
                        .build(),
                )
            }
            ClientKind::VolleyLayers => Self::Stack(stacks::volley_layers(concurrency)),
            ClientKind::TowerLayers => Self::Stack(stacks::tower_layers(concurrency)),
        })
    }

    /// GETs every URL, at most `concurrency` at a time, and tallies the results.
    pub(crate) async fn run(&self, urls: Vec<String>, concurrency: usize) -> Tally {
        match self {
            Self::Hyper(client) => {
                spawn_each(urls, concurrency, |url| {
                    let client = (**client).clone();
                    async move {
                        let request = http::Request::get(url).body(Empty::new())?;
                        let response = client.request(request).await?;
                        let status = response.status();
                        let body = response.into_body().collect().await?.to_bytes();
                        check(status.as_u16(), body.len())
                    }
                })
                .await
            }
            Self::Volley(client) => run_volley(client, urls, concurrency).await,
            Self::Reqwest(client) => {
                spawn_each(urls, concurrency, |url| read_reqwest(client.get(url).send())).await
            }
            Self::ReqwestRetry(client) => {
                spawn_each(urls, concurrency, |url| read_reqwest(client.get(url).send())).await
            }
            Self::Stack(stack) => stacks::run(stack, urls, concurrency).await,
        }
    }
}

/// volley's standard stack: default timeouts (30 s total, 10 s per attempt), 3 retries
/// with the shared backoff bounds, a per-host rate limit and per-host and global
/// concurrency limits all set far above what the run can reach.
///
/// The retry budget is raised from its default 20 % of requests to 50 %: W4 fails 20 % of
/// first attempts, so the default budget would, by design, refuse a few of its retries.
///
/// `web` keeps redirects and decompression on, as they are by default.
fn build_volley(concurrency: usize, web: bool) -> Result<volley::Client, BoxError> {
    let budget = RetryBudget::new(Duration::from_secs(10), 10, 0.5)?;
    let policy = RetryPolicy::new()
        .max_retries(MAX_RETRIES)
        .backoff(Backoff::full_jitter(BACKOFF_MIN, BACKOFF_MAX))
        .budget(budget);
    Ok(volley::Client::builder()
        .retry_policy(policy)
        .concurrency(Some(concurrency * 4))
        .per_host(concurrency * 2)
        .rate_limit(1_000_000_000, Duration::from_secs(1), 1_000_000)
        .redirect(if web {
            volley::redirect::Policy::default()
        } else {
            volley::redirect::Policy::none()
        })
        .decompress(web)
        .build()?)
}

/// volley's way: `join::Fanout` over the client, each item reading its body in its slot.
async fn run_volley(client: &volley::Client, urls: Vec<String>, concurrency: usize) -> Tally {
    let mut tally = Tally::new();
    // Notes when each call starts, so latency is measured as for the other clients.
    type Call = <volley::Client as Service<RequestBuilder>>::Future;
    let timed = ServiceExt::<RequestBuilder>::map_future(client.clone(), |response: Call| {
        let started = Instant::now();
        response.map_ok(move |response| (started, response))
    });
    let Ok(fanout) = Fanout::new(timed, concurrency) else {
        tally.record(Duration::ZERO, Err("fan-out refused its limit".to_owned()));
        return tally;
    };
    let requests = urls.into_iter().map({
        let client = client.clone();
        move |url| client.get(url)
    });
    let mut results =
        fanout.unordered(requests, |(started, response): (Instant, volley::Response)| async move {
            let status = response.status().as_u16();
            let len = response.bytes().await?.len();
            Ok::<_, volley::Error>((started.elapsed(), check(status, len)))
        });
    while let Some((_index, result)) = results.next().await {
        match result {
            Ok((latency, checked)) => tally.record(latency, checked.map_err(|e| e.to_string())),
            Err(error) => tally.record(Duration::ZERO, Err(error.to_string())),
        }
    }
    tally
}

/// Runs `call(url)` for each URL in its own task, at most `concurrency` at once.
pub(crate) async fn spawn_each<F, Fut>(urls: Vec<String>, concurrency: usize, call: F) -> Tally
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<usize, BoxError>> + Send + 'static,
{
    let mut tally = Tally::new();
    let mut results = stream::iter(urls)
        .map(|url| {
            let call = call(url);
            tokio::spawn(async move {
                let started = Instant::now();
                let result = call.await.map_err(|e| e.to_string());
                (started.elapsed(), result)
            })
        })
        .buffer_unordered(concurrency);
    while let Some(joined) = results.next().await {
        match joined {
            Ok((latency, result)) => tally.record(latency, result),
            Err(panicked) => tally.record(Duration::ZERO, Err(panicked.to_string())),
        }
    }
    tally
}

/// Waits for a reqwest response (plain or through the middleware) and reads its body.
async fn read_reqwest<E: Into<BoxError>>(
    sent: impl Future<Output = Result<reqwest::Response, E>>,
) -> Result<usize, BoxError> {
    let response = sent.await.map_err(Into::into)?;
    let status = response.status();
    check(status.as_u16(), response.bytes().await?.len())
}

/// A request is ok when its final status is 2xx; the body length is what it received.
pub(crate) fn check(status: u16, body_len: usize) -> Result<usize, BoxError> {
    if (200..300).contains(&status) { Ok(body_len) } else { Err(format!("status {status}").into()) }
}
