//! Shared helpers for volley's benches: a no-op service, the request it is called with, a
//! driver loop that times whole calls, response body included, and the list of [`cases`].
//!
//! The benches measure what a layer adds to a call, so the service under the layers does
//! nothing: [`noop`] answers every request at once with an empty body. [`run`] drives a
//! service the way a client does — `ready`, `call`, await the response, then read the body
//! to its end, since volley's layers hold their permits and timers until then — and returns
//! the wall-clock time of the whole loop, for criterion's `iter_custom`.
//!
//! Two bench targets walk [`cases::all`]: `layers` (criterion, `cargo bench -p
//! volley-benches --bench layers`) and `profile`, a plain loop over one case for profilers
//! (`cargo bench -p volley-benches --bench profile -- concurrency/volley_global 1000000`).
//!
//! # Example
//!
//! ```
//! use tower::ServiceBuilder;
//! use tower::limit::ConcurrencyLimitLayer;
//! use volley_benches::{noop, run, runtime};
//!
//! let rt = runtime();
//! let elapsed = rt.block_on(async {
//!     let mut svc = ServiceBuilder::new().layer(ConcurrencyLimitLayer::new(10)).service(noop());
//!     run(&mut svc, 1_000).await
//! });
//! assert!(elapsed.as_nanos() > 0);
//! ```

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Empty, Full};
use tokio::runtime::Runtime;
use tokio::time::Instant;
use tower::retry::Policy;
use tower::{Service, ServiceExt};

pub mod cases;
pub mod client;

/// The URI every bench request goes to. Nothing is sent anywhere: the service is [`noop`].
pub const URI: &str = "http://example.com/";

/// The response of [`noop`]: no headers, an empty body.
pub type NoopResponse = Response<Empty<Bytes>>;

/// A `GET` of [`URI`] with an empty [`Full`] body, the request every bench sends.
///
/// The benches clone one such request per call, which costs a few reference counts (the
/// URI is static and the header map and extensions are empty), the same in every bench.
pub fn request() -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::new()));
    *req.uri_mut() = Uri::from_static(URI);
    req
}

/// A service that answers every request at once with [`NoopResponse`] and never fails.
///
/// Generic over the request body so that it also fits under layers that change it (volley's
/// retry layer sends `ReplayBody<B>`). It is always ready and its future is
/// [`std::future::Ready`], so everything a bench measures on top of the baseline is the
/// layers' own work.
pub fn noop<B>() -> impl Service<
    Request<B>,
    Response = NoopResponse,
    Error = Infallible,
    Future = Ready<Result<NoopResponse, Infallible>>,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(|_req: Request<B>| ready(Ok(Response::new(Empty::new()))))
}

/// Sends `req` through `svc` as a client would: waits for readiness, calls, awaits the
/// response, then reads its body to the end (which is when volley's layers give back their
/// permits and stop their timers).
///
/// # Panics
///
/// If the service or the body fails: under the benches' non-binding limits neither can,
/// and a bench of a failing call would measure the wrong thing.
pub async fn call<S, B>(svc: &mut S, req: Request<Full<Bytes>>)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: Debug,
    B: Body,
    B::Error: Debug,
{
    let res = match svc.ready().await {
        Ok(ready) => ready.call(req).await,
        Err(err) => panic!("the bench service refused to be ready: {err:?}"),
    };
    let res = res.unwrap_or_else(|err| panic!("the bench service failed: {err:?}"));
    let (parts, body) = res.into_parts();
    black_box(parts);
    let mut body = pin!(body);
    while let Some(frame) = body.frame().await {
        black_box(frame.unwrap_or_else(|err| panic!("the bench body failed: {err:?}")));
    }
}

/// Makes `iters` calls through `svc` (see [`call`]) with clones of [`request`], and returns
/// how long they took in all, for criterion's `iter_custom`.
pub async fn run<S, B>(svc: &mut S, iters: u64) -> Duration
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: Debug,
    B: Body,
    B::Error: Debug,
{
    let template = request();
    let started = Instant::now();
    for _ in 0..iters {
        call(svc, black_box(&template).clone()).await;
    }
    started.elapsed()
}

/// The current-thread tokio runtime the benches run on, with the timer enabled (timeouts
/// and rate limiters read tokio's clock). Its time is not paused.
///
/// # Panics
///
/// If the runtime cannot be built (the OS refuses its resources).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|err| panic!("cannot build the bench runtime: {err}"))
}

/// This process's peak resident set (VmHWM from `/proc/self/status`), in KiB; `None` where
/// the file does not exist (not Linux). The memory figures of the `fanout_memory` and
/// `loopback` binaries.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A `tower::retry::Policy` that never retries and clones the request for the attempt:
/// the least work tower's `Retry` can do per call, as the counterpart of volley's retry
/// layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct NeverRetry;

impl<Req: Clone, Res, E> Policy<Req, Res, E> for NeverRetry {
    type Future = Ready<()>;

    fn retry(&mut self, _req: &mut Req, _result: &mut Result<Res, E>) -> Option<Self::Future> {
        None
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}
