//! Retry-After-aware, jittered, budgeted, idempotency-safe retries for HTTP clients, as a
//! tower layer.
//!
//! [`RetryLayer`] sends an attempt, classifies what came back (with
//! [`volley_classify`]), and decides:
//!
//! - **when**: `delay = max(server hint, backoff(n))`, with jitter only ever *added* to a
//!   hint, so a retry never starts before the server asked. Full jitter by default
//!   ([`Backoff`]); decorrelated, constant, or any `backon` builder (feature `backon`).
//! - **whether**: a hint above `max_retry_after` (60 s) or a delay that would end past the
//!   request's [`Deadline`](volley_core::Deadline) returns the last response at once, so the
//!   caller sees the 429 and its hint; a per-host [`RetryBudget`] (20 % + 10/s) stops an
//!   outage from multiplying traffic; POST and PATCH are retried only with an
//!   `Idempotency-Key` or when the request never reached a server.
//! - **what**: request bodies are replayed — [`ReplayBody`] keeps up to 64 KiB of a
//!   streaming body while it is sent; past that the request is sent once and the refusal
//!   says why ([`StopReason::BodyNotReplayable`]).
//!
//! Each attempt runs in an INFO `retry_attempt` tracing span (an OpenTelemetry HTTP client
//! span) carrying `http.request.resend_count` on resends, the status code, the outcome, and
//! the delay chosen and why; each wait and refusal is a DEBUG event with its length in
//! milliseconds and, for refusals, [`StopReason::as_str`]. With the `metrics` feature the
//! layer records attempts, retries, refusals and waits (`volley_core::telemetry::names`).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use volley_retry::{RetryInfo, RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // A server that always answers 429 with Retry-After: 1.
//! let server = tower::service_fn(|_req: Request<_>| async {
//!     let res = Response::builder().status(429).header("retry-after", "1").body(()).unwrap();
//!     Ok::<_, std::convert::Infallible>(res)
//! });
//! let svc = ServiceBuilder::new().layer(RetryLayer::new(RetryPolicy::new().max_retries(2))).service(server);
//!
//! let started = tokio::time::Instant::now();
//! let res = svc.oneshot(Request::get("http://api.example/").body(String::new()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 429);
//! assert_eq!(res.extensions().get::<RetryInfo>().unwrap().attempts, 3);
//! assert!(started.elapsed() >= Duration::from_secs(2)); // never earlier than asked, twice
//! # }
//! ```

mod backoff;
mod budget;
mod error;
pub mod future;
mod head;
mod layer;
mod plan;
mod policy;
mod replay;
mod service;
mod spare;
mod tower_policy;
mod window;

pub use backoff::Backoff;
pub use budget::RetryBudget;
pub use error::{ConfigError, RetryError, RetryInfo, StopReason};
pub use layer::RetryLayer;
pub use policy::RetryPolicy;
pub use replay::ReplayBody;
pub use service::Retry;
pub use tower_policy::TowerPolicy;

#[cfg(test)]
mod tests;

// The guide's code blocks compile and run as doctests.
#[doc = include_str!("../../../docs/retry.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
