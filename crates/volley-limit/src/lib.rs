//! A concurrency limit for HTTP clients: global and per key, with permits held until the
//! response body ends.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::{BodyExt, Full};
//! use tower::{ServiceBuilder, ServiceExt};
//! use volley_limit::ConcurrencyLimitLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), volley_core::BoxError> {
//! // At most 64 requests in flight, at most 4 per host.
//! let layer = ConcurrencyLimitLayer::new(64).per_key(4);
//! let state = layer.state();
//! let client = ServiceBuilder::new().layer(layer).service_fn(|req: Request<Full<Bytes>>| async move {
//!     let host = req.uri().host().unwrap_or_default().to_owned();
//!     Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(host))))
//! });
//!
//! let req = Request::get("https://api.example.com/items").body(Full::default())?;
//! let response = client.clone().oneshot(req).await?;
//! // The head is here, the body is not read: the request still holds its permits.
//! assert_eq!(state.in_flight(), 1);
//! assert_eq!(state.available_global(), Some(63));
//!
//! let body = response.into_body().collect().await?.to_bytes();
//! assert_eq!(body, "api.example.com");
//! assert_eq!(state.in_flight(), 0); // released at the end of the body
//! assert_eq!(state.tracked_keys(), 0); // and the idle host is forgotten
//! # Ok(())
//! # }
//! ```
//!
//! # What is limited, and for how long
//!
//! [`ConcurrencyLimitLayer`] counts requests *in flight*: from the moment the service is
//! called until the response body ends — read to the end, failed, or dropped. That is the
//! interval a connection, a server worker and a download are busy, so "4 at a time" means
//! 4 transfers at a time, not 4 response heads. An error from the inner service, or
//! dropping the response future before it resolves, releases the permits at once.
//!
//! The limits are shared by every clone of the layer and every service it makes (one `Arc`
//! built with the layer): cloning a client does not multiply them.
//!
//! - **Global** ([`new`](ConcurrencyLimitLayer::new)): at most `n` requests through the
//!   layer.
//! - **Per key** ([`per_key`](ConcurrencyLimitLayer::per_key),
//!   [`per_key_only`](ConcurrencyLimitLayer::per_key_only)): at most `m` per key. The key
//!   is the request's origin by default ([`volley_core::ByAuthority`]: scheme, host, port);
//!   [`key_fn`](ConcurrencyLimitLayer::key_fn) partitions by tenant, token or anything else.
//!   A request takes its key's permit first and the global one second, so requests queued
//!   behind a slow host hold no global permit and other hosts keep going. A key's state is
//!   dropped as soon as nobody holds or waits for its permits: a crawl over a million hosts
//!   does not grow memory.
//!
//! # Adaptive per-key limits
//!
//! [`adaptive`](ConcurrencyLimitLayer::adaptive) replaces the fixed per-key limit with one
//! that finds each host's capacity by itself ([`Adaptive::aimd`] or
//! [`Adaptive::gradient`]), between bounds, from the latency (permit to response head) and
//! [`Outcome`](volley_classify::Outcome) of its attempts; [`LimitState::limit`] reports it.
//! The guide is `docs/adaptive.md`.
//!
//! # Waiting
//!
//! `poll_ready` is always ready; a request waits for its permits inside its response
//! future, in arrival order (first come, first admitted). The wait can be bounded:
//!
//! - [`max_queue`](ConcurrencyLimitLayer::max_queue): how many requests may wait for each
//!   limit; `0` sheds load (fail at once when no permit is free);
//! - [`acquire_timeout`](ConcurrencyLimitLayer::acquire_timeout): how long a request may
//!   wait;
//! - the request's [`Deadline`](volley_core::Deadline): a request never waits past it, and
//!   fails at once when it has already passed.
//!
//! A request that gives up fails with [`Overloaded`], which names the limit, its size, the
//! queue and the reason:
//!
//! ```text
//! concurrency limit of 4 for http://127.0.0.1:3000 reached: 12 requests waiting, queue limit 12
//! ```
//!
//! # Releasing at the headers
//!
//! [`release_at_headers(true)`](ConcurrencyLimitLayer::release_at_headers) gives the permits
//! back when the response head arrives, as tower's `ConcurrencyLimit` does. The default
//! differs because with tower's behaviour a streaming body runs outside the limit: 4
//! permits can mean 400 concurrent downloads (see tower-http PR #447, which proposes a
//! body-aware limit).
//!
//! # Consume each body inside its slot
//!
//! Because a response holds its permits until its body ends, holding unread responses
//! while issuing more requests through the same limit deadlocks: with a limit of 4, a loop
//! that collects 8 `Response`s before reading any of them waits forever for the 5th.
//! Read (or drop) each body before, or while, sending more — `volley::join` does this for
//! you — or bound the wait with `acquire_timeout` or a deadline so the mistake becomes an
//! error instead of a hang.
//!
//! # Where it goes in the stack
//!
//! Inside retry and rate limiting, outside the per-attempt timeout:
//! `TotalTimeout → Retry → RateLimit → ConcurrencyLimit → AttemptTimeout → Client`.
//! Each attempt takes its own permits, so a request asleep in backoff holds none, and the
//! total timeout's deadline bounds the queueing.
//!
//! # Differences from `tower::limit::ConcurrencyLimit`
//!
//! | | tower | volley-limit |
//! |---|---|---|
//! | permit held until | response head | response body ends (or head, opt-in) |
//! | permit taken in | `poll_ready`, kept by a readied clone | the response future; idle clones hold nothing |
//! | limits | one semaphore per `layer()` call | one set per layer, shared by all clones and services |
//! | per key | no | optional, idle keys forgotten |
//! | bounded wait | no (combine with `LoadShed`/`Timeout`) | `max_queue`, `acquire_timeout`, deadline |
//! | error | inner error only | `BoxError`; [`Overloaded`] says which limit and why |

mod adaptive;
mod body;
mod error;
mod estimator;
pub mod future;
mod layer;
#[cfg(feature = "metrics")]
mod metrics;
mod permit;
mod service;
mod slot;
mod state;

pub use adaptive::{Adaptive, Algorithm};
pub use body::ResponseBody;
pub use error::{LimitScope, OverloadReason, Overloaded};
pub use layer::ConcurrencyLimitLayer;
pub use service::ConcurrencyLimit;
pub use state::LimitState;

// The guide's code blocks compile and run as doctests of this crate.
#[doc = include_str!("../../../docs/concurrency.md")]
#[cfg(doctest)]
pub struct GuideDoctests;

// The adaptive guide's code blocks as well.
#[doc = include_str!("../../../docs/adaptive.md")]
#[cfg(doctest)]
pub struct AdaptiveGuideDoctests;
