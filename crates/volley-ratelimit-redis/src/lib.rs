//! A [`volley_ratelimit::Backend`] in Redis: one rate limit shared by every process, pod
//! and machine that calls the same API.
//!
//! Without it, each process enforces its own copy of a quota, so N processes send N times
//! it. [`RedisBackend`] keeps the token buckets (GCRA, one atomic Lua script on the Redis
//! server's clock) and the server-requested cooldowns in Redis, keyed by a prefix and the
//! volley [`Key`](volley_core::Key), each with a TTL so that idle keys vanish.
//!
//! # Example
//!
//! The backend plugs into [`RateLimitLayer::backend`](volley_ratelimit::RateLimitLayer::backend).
//! Here Redis is unreachable (nothing listens on port 1), so after at most the 50 ms timeout
//! the backend fails open: this process goes on alone, at its share of the quota.
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use volley_ratelimit::RateLimitLayer;
//! use volley_ratelimit_redis::{FailurePolicy, RedisBackend};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // 100 per second per host across 4 processes, 10 at once; alone, a quarter of that.
//! let backend = RedisBackend::builder(100, Duration::from_secs(1))
//!     .burst(10)
//!     .prefix("example")
//!     .timeout(Duration::from_millis(50))
//!     .failure_policy(FailurePolicy::FailOpen { share: 0.25 })
//!     .build("redis://127.0.0.1:1/0")
//!     .unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(RateLimitLayer::per_second(100).backend(backend.clone()))
//!     .service(tower::service_fn(|_req: Request<()>| async {
//!         Ok::<_, Infallible>(Response::new("ok"))
//!     }));
//!
//! let req = Request::get("https://api.example.com/items").body(()).unwrap();
//! let response = svc.oneshot(req).await.unwrap();
//! assert_eq!(response.into_body(), "ok");
//! assert!(backend.is_down());
//! assert_eq!(backend.outages(), 1); // logged once, however many requests see it
//! # }
//! ```
//!
//! # What is shared, and how exactly
//!
//! With `RedisBackend::builder(n, per).burst(b)`, a key gets one token every `per / n`
//! (rounded up to the microsecond) and holds at most `b`, whichever process asks: over any
//! stretch of time `T` all processes together start at most `b + ⌊T·n/per⌋` requests for
//! it. The clock is Redis's `TIME`, so clients whose clocks drift still agree. A request
//! can take several tokens ([`cost`](RedisBackendBuilder::cost)).
//!
//! The layer's own rate and burst do not apply with a custom backend; its key function,
//! `max_wait`, deadline handling and feedback do. Each acquire is one round trip
//! (`EVALSHA`; `EVAL` when the server lacks the script), over one multiplexed, pipelined
//! connection per backend that reconnects by itself (the redis crate's
//! `ConnectionManager`). A request that finds no token sleeps in the layer until the
//! script says one is due, then asks again.
//!
//! # Cooldowns
//!
//! When the layer sees a 429 with `Retry-After` (or an exhausted quota header), it calls
//! [`Backend::cool_down`](volley_ratelimit::Backend::cool_down): the key pauses here at
//! once, and a background write stores the cooldown in Redis (capped at
//! [`max_cooldown`](RedisBackendBuilder::max_cooldown), expiring with it, never shortened),
//! where the script of every other process sees it on its next acquire. A process that
//! learns of a cooldown from Redis remembers it and stops asking until it ends.
//!
//! # When Redis fails
//!
//! Every call to Redis is bounded by the [`timeout`](RedisBackendBuilder::timeout) (50 ms
//! by default): no request ever hangs on Redis. On an error or a timeout an outage begins
//! (logged once at warn level), and the [`FailurePolicy`] decides:
//!
//! - [`FailOpen { share }`](FailurePolicy::FailOpen): a GCRA bucket in this process at
//!   `share` of the quota lets requests through;
//! - [`FailClosed`](FailurePolicy::FailClosed): the request fails with
//!   [`RedisUnavailable`], which [`classify_error`] classifies as not sent.
//!
//! During an outage requests do not wait for Redis: once per
//! [`probe_interval`](RedisBackendBuilder::probe_interval) a background task pings it, and
//! its answer ends the outage (logged at info level). The connection manager reconnects in the background,
//! so shared limiting resumes without restarting anything.
//!
//! # Why the `redis` crate
//!
//! `redis` (redis-rs) with its tokio `ConnectionManager` gives what this backend needs and
//! no more: one multiplexed, pipelined connection shared by clones, reconnects in the
//! background, and `Script` hashing. `fred` also serves (pools, reconnect policies), but
//! pulls in more and its extra features (pools of connections, cluster routing) buy nothing
//! for one small script per request. See `docs/scale-out.md` for the whole design, the
//! script line by line, the failure modes and measurements.

mod backend;
mod builder;
mod error;
mod health;
mod script;

pub use backend::RedisBackend;
pub use builder::{FailurePolicy, RedisBackendBuilder};
pub use error::{BuildError, RedisUnavailable, classify_error};
pub use redis;

/// The GCRA script's text, exactly as sent to Redis (for reading, or loading it by hand).
pub const GCRA_SCRIPT: &str = script::GCRA;

/// The cooldown script's text, exactly as sent to Redis.
pub const COOLDOWN_SCRIPT: &str = script::COOLDOWN;
