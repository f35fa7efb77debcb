//! Request hedging for HTTP clients: after a delay, a budgeted second attempt of a slow
//! idempotent request; the first response wins and the other attempt is cancelled.
//!
//! A server's slow tail — the 1 % of requests that wait on a cold cache, a GC pause or a
//! busy replica — sets a client's p99. [`HedgeLayer`] sends another copy of a request that
//! has taken longer than most, so the tail costs one extra request instead of a second:
//!
//! - only idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) whose body can be
//!   copied ([`TryCloneBody`]);
//! - after the key's 95th-percentile latency (a rolling per-host histogram), or a fixed
//!   delay;
//! - within a budget of 10 % extra requests, shared by every clone of the layer;
//! - the first response head wins, the other attempt is dropped, and the winner carries a
//!   [`Hedged`] extension. [`HedgeStats`] counts hedges sent, won and refused.
//!
//! Hedges run in a `hedge_attempt` tracing span with `hedge = true`.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use volley_hedge::{HedgeLayer, Hedged};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // A server whose first answer takes a second and every later one 5 ms.
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let server = tower::service_fn(move |_req: Request<String>| {
//!     let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!     async move {
//!         let ms = if n == 0 { 1000 } else { 5 };
//!         tokio::time::sleep(Duration::from_millis(ms)).await;
//!         Ok::<_, Infallible>(Response::new(format!("attempt {n}")))
//!     }
//! });
//! let layer = HedgeLayer::after(Duration::from_millis(50)).budget(1.0).unwrap();
//! let stats = layer.stats();
//! let svc = ServiceBuilder::new().layer(layer).service(server);
//!
//! let started = tokio::time::Instant::now();
//! let res = svc.oneshot(Request::get("http://api.example/").body(String::new()).unwrap()).await.unwrap();
//! assert_eq!(res.body(), "attempt 1"); // the hedge answered
//! assert_eq!(res.extensions().get::<Hedged>(), Some(&Hedged { hedges: 1, won_by_hedge: true }));
//! assert_eq!(started.elapsed(), Duration::from_millis(55)); // 50 ms delay + 5 ms
//! assert_eq!((stats.hedges_sent(), stats.hedges_won()), (1, 1));
//! # }
//! ```

mod body;
mod budget;
mod error;
pub mod future;
mod histogram;
mod layer;
mod service;
mod state;

pub use body::TryCloneBody;
pub use error::{ConfigError, Hedged};
pub use layer::HedgeLayer;
pub use service::Hedge;
pub use state::HedgeStats;

// The guide's code blocks compile and run as doctests.
#[doc = include_str!("../../../docs/hedging.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
