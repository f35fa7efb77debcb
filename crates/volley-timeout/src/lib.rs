//! Timeouts that cover the response body: a total deadline for the whole call and a
//! per-attempt timeout that never outlives it.
//!
//! - [`TotalTimeoutLayer`] bounds the whole logical call, from `call` to the end of the
//!   response body, retries and backoff included when it sits outside a retry layer. It
//!   puts its bound on the request as a [`Deadline`](volley_core::Deadline), so that every
//!   layer inside can refuse to wait past it.
//! - [`AttemptTimeoutLayer`] bounds one attempt, head and body, and never beyond that
//!   deadline.
//! - Both can also limit the gap between two body frames
//!   ([`body_idle_timeout`](AttemptTimeoutLayer::body_idle_timeout)).
//!
//! Expiry is always one error type, [`TimedOut`] (from `volley-core`), whose
//! [`kind`](TimedOut::kind) says which limit fired, [`after`](TimedOut::after) how long
//! it was, and [`phase`](TimedOut::phase) whether headers or body were awaited:
//! `attempt timed out after 10s waiting for headers`. Layers return it boxed, as
//! [`BoxError`](volley_core::BoxError); find it with
//! [`find_cause`](volley_core::find_cause) or `downcast_ref`.
//!
//! In the standard stack the total timeout is outermost and the attempt timeout innermost,
//! just around the client. Both layers are stateless: nothing is shared between calls or
//! clones. They need a Tokio runtime with the time driver enabled, as `tokio::time::sleep`
//! does. Zero durations are refused with a panic (see `# Panics` on each `new`).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, StreamBody};
//! use tower::{ServiceBuilder, ServiceExt};
//! use volley_timeout::{AttemptTimeoutLayer, TimedOut, TimeoutKind, TimeoutPhase, TotalTimeoutLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // A server that sends its headers at once, then one byte a second for ten seconds.
//! let client = tower::service_fn(|_req: http::Request<()>| async {
//!     let bytes = futures_util::stream::unfold(0, |sent| async move {
//!         tokio::time::sleep(Duration::from_secs(1)).await;
//!         let frame = http_body::Frame::data(Bytes::from_static(b"*"));
//!         (sent < 10).then_some((Ok::<_, std::io::Error>(frame), sent + 1))
//!     });
//!     Ok::<_, std::io::Error>(http::Response::new(StreamBody::new(Box::pin(bytes))))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(TotalTimeoutLayer::new(Duration::from_millis(3500)))
//!     // (retry, rate limit and concurrency layers go here)
//!     .layer(AttemptTimeoutLayer::new(Duration::from_secs(10)))
//!     .service(client);
//!
//! let res = svc.oneshot(http::Request::new(())).await.unwrap();
//! assert_eq!(res.status(), 200); // the headers were in time…
//! let mut body = res.into_body();
//! let mut received = 0;
//! let err = loop {
//!     match body.frame().await.unwrap() {
//!         Ok(frame) => received += frame.into_data().unwrap().len(),
//!         Err(err) => break err,
//!     }
//! };
//! assert_eq!(received, 3); // …the body was not
//! let timed_out = err.downcast_ref::<TimedOut>().unwrap();
//! assert_eq!((timed_out.kind(), timed_out.phase()), (TimeoutKind::Total, TimeoutPhase::Body));
//! assert_eq!(err.to_string(), "request timed out after 3.5s reading the body");
//! # }
//! ```

mod body;
mod error;
pub mod future;
mod layer;
mod service;

pub use body::ResponseBody;
pub use error::{TimedOut, TimeoutKind, TimeoutPhase};
pub use layer::{AttemptTimeoutLayer, TotalTimeoutLayer};
pub use service::{AttemptTimeout, TotalTimeout};

// The guide's code blocks compile and run as doctests of this crate.
#[doc = include_str!("../../../docs/timeout.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
