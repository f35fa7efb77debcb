//! A circuit breaker for HTTP clients: per host, driven by the shared
//! [`Outcome`](volley_classify::Outcome), failing fast with a typed
//! [`BreakerOpen`] while a host is down.
//!
//! [`BreakerLayer`] keeps one circuit per key (the request's origin by default), shared by
//! every clone of the layer and of the services it makes:
//!
//! ```text
//!            N failures in a row, or ≥ R % failed of ≥ M calls in the window
//!   Closed ─────────────────────────────────────────────────────────────────▶ Open
//!     ▲                                                                       │ │
//!     │ success_threshold probes succeed       open time (jittered) is up     │ │ refused:
//!     │                                                                       ▼ │ BreakerOpen
//!     └──────────────────────────────── HalfOpen ◀──────────────────────────────┘
//!                                         │  ▲  (up to half_open_probes calls
//!                     a probe fails:      │  │   at once; the rest refused)
//!                     Open, for twice as  └──┘
//!                     long (capped)
//! ```
//!
//! A refused request was never sent: the inner service is not called, the error is
//! [`BreakerOpen`] `{ key, retry_in }`, the default classifier calls it `NotSent`, and the
//! retry layer (`volley-retry`) waits `retry_in` before trying again only when that ends
//! before the request's deadline. Put the breaker inside retry, so retries are refused
//! against an open host instead of sent to it.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use volley_breaker::{BreakerLayer, BreakerOpen, CircuitState};
//! use volley_core::{Key, find_cause};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // A host that is down: every answer is a 503.
//! let down = tower::service_fn(|_req: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::builder().status(503).body(()).unwrap())
//! });
//! let layer = BreakerLayer::new().jitter(0.0); // open for exactly 5 s
//! let breakers = layer.handle();
//! let mut client = ServiceBuilder::new().layer(layer).service(down);
//!
//! let get = || Request::get("https://api.example.com/items").body(()).unwrap();
//! for _ in 0..5 {
//!     let res = client.ready().await.unwrap().call(get()).await.unwrap();
//!     assert_eq!(res.status(), 503);
//! }
//! // Five failures in a row: the sixth call fails fast, without reaching the host.
//! let err = client.ready().await.unwrap().call(get()).await.unwrap_err();
//! let open = find_cause::<BreakerOpen>(&*err).unwrap();
//! assert_eq!(open.retry_in(), Duration::from_secs(5));
//! assert_eq!(err.to_string(), "circuit breaker open for https://api.example.com; next probe in 5s");
//!
//! let key = Key::new("https://api.example.com");
//! assert_eq!(breakers.state(&key), Some(CircuitState::Open { retry_in: Duration::from_secs(5) }));
//! tokio::time::advance(Duration::from_secs(5)).await;
//! assert_eq!(breakers.state(&key), Some(CircuitState::HalfOpen)); // the next call is a probe
//! # }
//! ```
//!
//! The guide, with the defaults and a comparison with Polly's and Resilience4j's breakers,
//! is `docs/breaker.md`.

mod circuit;
mod error;
pub mod future;
mod layer;
mod service;
mod state;

pub use error::ConfigError;
pub use layer::BreakerLayer;
pub use service::Breaker;
pub use state::{BreakerHandle, CircuitState};
pub use volley_core::BreakerOpen;

// The guide's code blocks compile and run as doctests of this crate.
#[doc = include_str!("../../../docs/breaker.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
