//! A keyed GCRA rate limit for HTTP clients: shared by every clone, deadline-aware, and
//! slowed down by the server's 429s.
//!
//! [`RateLimitLayer`] paces the **attempts started** through it: each call takes one token
//! for its [`Key`](volley_core::Key) (the request's origin by default), waiting in the
//! response future when none is left. The limit is a GCRA token bucket
//! ([`governor`]) with a sustained rate and a burst, so there are no window edges where
//! twice the limit gets through.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tokio::time::Instant;
//! use tower::{ServiceBuilder, ServiceExt};
//! use volley_core::{find_cause, Deadline};
//! use volley_ratelimit::{RateLimitLayer, RateLimited};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // 10 requests per second per host, up to 3 at once after a quiet spell.
//! let layer = RateLimitLayer::per_second(10).burst(3);
//! let svc = ServiceBuilder::new()
//!     .layer(layer.clone())
//!     .service(tower::service_fn(|_req: Request<()>| async {
//!         Ok::<_, Infallible>(Response::new("ok"))
//!     }));
//!
//! let start = Instant::now();
//! for _ in 0..5 {
//!     let req = Request::get("https://api.example.com/items").body(()).unwrap();
//!     svc.clone().oneshot(req).await.unwrap(); // every clone shares the one limit
//! }
//! // Three went at once, then one every 100 ms.
//! assert_eq!(start.elapsed(), Duration::from_millis(200));
//!
//! // A wait that would pass the request's deadline fails at once instead of sleeping.
//! let mut req = Request::get("https://api.example.com/items").body(()).unwrap();
//! Deadline::after(Duration::from_millis(50)).insert_into(&mut req);
//! let err = svc.clone().oneshot(req).await.unwrap_err();
//! let limited = find_cause::<RateLimited>(&*err).unwrap();
//! assert_eq!(limited.wait(), Duration::from_millis(100));
//! assert_eq!(
//!     err.to_string(),
//!     "rate limit wait of 100ms for https://api.example.com exceeds deadline in 50ms"
//! );
//! assert_eq!(layer.tracked_keys(), 1);
//! # }
//! ```
//!
//! # What is limited, over which interval
//!
//! With `RateLimitLayer::new(n, per).burst(b)`, each key gets one token every `per / n`
//! and holds at most `b`. A request that finds a token is sent at once; otherwise it waits
//! until the next token. Over any stretch of time `T` a key starts at most
//! `b + ⌊T·n/per⌋` attempts (a token conforms at exactly its emission time). The default
//! burst is 1: requests are evenly spaced and no window of length `per` ever sees more
//! than `n`, whatever the alignment of the server's own windows. A larger burst lets an
//! idle client catch up, at the price of up to `b + n - 1` requests in one window.
//!
//! The limit covers the start of each attempt only: the token is spent when the request is
//! let through, not held until the response or its body arrives (that is a concurrency
//! limit's job).
//!
//! # Shared by
//!
//! The state is created with the layer, in one `Arc`: every clone of the layer and every
//! service it makes (and their clones) share one bucket per key. A new builder call makes
//! a new layer with fresh state.
//!
//! # Waiting, the deadline and `max_wait`
//!
//! `poll_ready` is always ready and does not touch the inner service. `call` takes the
//! token; if there is one and the inner service is ready, the request is sent at once.
//! Otherwise the response future waits for the token, then drives (a clone of) the inner
//! service's `poll_ready` and `call`, so a request waiting for its token holds no permit or
//! connection below. The inner service must be `Clone`. Before every sleep
//! the wait is compared with the request's [`Deadline`](volley_core::Deadline) and with
//! [`max_wait`](RateLimitLayer::max_wait): if it would end at or after the deadline, or
//! last longer than `max_wait`, the request fails at once with [`RateLimited`], carrying the
//! wait it would have needed. Waiters are not served first come, first served: each sleeps
//! until the next token and asks again, and whoever asks first after a token appears gets
//! it. While several requests wait, each sleep gets a small random offset (up to an eighth
//! of the wait, at most 50 ms, never past a bound) so that they take turns instead of the
//! last winner taking every token; a lone waiter sleeps exactly as long as it must.
//!
//! # Feedback: when the server says slow down
//!
//! Every response is classified with the layer's [`Classify`](volley_classify::Classify)
//! implementation (default [`HttpClassifier`](volley_classify::HttpClassifier)). When it
//! is `Throttled { hint: Some(h) }` (a 429, or a 503 with `Retry-After`), or the response's
//! quota headers (`RateLimit`, `RateLimit-Remaining`, `X-RateLimit-Remaining`) report 0
//! remaining with a reset, the key **cools down** until now + the delay (the longer of
//! the two), capped at [`max_cooldown`](RateLimitLayer::max_cooldown) (60 s by default; a
//! longer request is cut to the cap and reported with an info-level `tracing` event).
//! Requests for that key, those already waiting included, wait until then, or
//! fail fast with [`RateLimited`] (with [`is_cooldown`](RateLimited::is_cooldown)) if that
//! passes their deadline or `max_wait`. Other keys are unaffected; in
//! [`global`](RateLimitLayer::global) mode there is one key, so one host's 429 pauses
//! every request. At most [`GovernorBackend::MAX_COOLDOWNS`] keys cool down at once in the
//! default backend (the ones ending soonest make room). A `Throttled` outcome
//! without a hint sets no cooldown: there is no "until", and the retry layer's backoff
//! paces that host. [`no_feedback`](RateLimitLayer::no_feedback) turns all of this off.
//! While no key is cooling down, checking for cooldowns costs one relaxed atomic load.
//!
//! # Pacing from quota headers (opt-in)
//!
//! With [`pace_from_quota(true)`](RateLimitLayer::pace_from_quota), a response saying `N`
//! requests remain for `T` spreads them: the key's next request starts no earlier than
//! `(R - last) / (N + 1)` after the last one let through, `R` being the window's end (the
//! earliest its readings put it at) and `N` the least they reported, less the requests let
//! through since. The pace is a wait like the token's (deadline, `max_wait`,
//! [`RateLimited::is_paced`]), no gap exceeds `max_cooldown`, it ends at the reset, and the
//! strictest of rate, cooldown and pace wins. Off by default: a few requests against a
//! large quota would otherwise each wait. When off, it costs one branch per request; when
//! on and no key is paced, one relaxed atomic load.
//!
//! # The clock seam
//!
//! governor's own clock and its `until_ready` timers ignore `tokio::time::pause()`. This
//! crate never uses them: [`GovernorBackend`] runs governor's `check` on [`TokioClock`]
//! (tokio's clock) and the layer sleeps with `tokio::time::sleep`, so every timing test
//! runs on paused, virtual time.
//!
//! # Backends
//!
//! The layer talks to its state through the [`Backend`] trait: `acquire` a token for a key
//! (answering [`Acquire::Ready`], [`Acquire::Wait`] or a boxed [`Acquire::Pending`]
//! future) and `cool_down` a key. [`GovernorBackend`] is the in-process default (no
//! allocation, no lock beyond a shard read lock, for a known key). A store shared by many
//! processes can be plugged in with [`RateLimitLayer::backend`]. Idle keys are pruned
//! lazily (see [`GovernorBackend`]); there is no background task, so a layer can be built
//! outside a runtime.
//!
//! # Where it goes in the stack
//!
//! Inside retry and the total timeout, outside the concurrency limit:
//! `TotalTimeout → Retry → RateLimit → Concurrency → AttemptTimeout → client`. Inside
//! retry, every attempt pays a token; outside the concurrency limit, a request waiting for
//! its token holds no concurrency permit.
//!
//! # Differences from `tower::limit::RateLimit`
//!
//! - tower's is a fixed window: `num` requests, then nothing until the window ends, so up
//!   to 2× `num` pass around a window edge (tower#842). This is a GCRA bucket with a
//!   separate rate and burst.
//! - tower's state lives in each service instance and `RateLimit` is not `Clone`
//!   (tower#794): it cannot sit under `Retry` without a `Buffer`. Here every clone shares
//!   the layer's state.
//! - tower's waits in `poll_ready`, for ever. This one waits in the response future, and
//!   refuses waits beyond the deadline or `max_wait` with a typed error.
//! - tower's has one limit for everything; this one has one per key (per host by
//!   default), and listens to the server's 429s and quota headers.
//! - The error type is [`volley_core::BoxError`], not the inner service's error.

mod backend;
mod clock;
mod cooldown;
mod error;
pub mod future;
mod governor_backend;
mod layer;
#[cfg(feature = "metrics")]
mod metrics;
mod pace;
mod service;
mod shared;
mod wait;

pub use backend::{Acquire, AcquireFuture, Backend};
pub use clock::{TokioClock, TokioInstant};
pub use error::{ConfigError, RateLimited, WaitBound};
pub use governor_backend::GovernorBackend;
pub use layer::RateLimitLayer;
pub use service::RateLimit;

// The guide's code blocks compile and run as doctests of this crate.
#[doc = include_str!("../../../docs/ratelimit.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
