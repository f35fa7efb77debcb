//! [`RedisBackendBuilder`]: the quota, the key prefix, the timeout and the failure policy.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use volley_ratelimit::GovernorBackend;

use crate::backend::{Inner, Quota};
use crate::health::Health;
use crate::script::{COOLDOWN, GCRA, Script};
use crate::{BuildError, RedisBackend};

/// What a [`RedisBackend`] does when Redis cannot answer within its
/// [`timeout`](RedisBackendBuilder::timeout).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FailurePolicy {
    /// Keep sending, limited by a GCRA bucket in this process at `share` of the quota (and
    /// of the burst, at least 1): with N processes sharing a quota, `share = 1 / N` keeps the
    /// total within the quota while Redis is away. Cooldowns this process saw still apply.
    /// The outage is logged once, at warn level, when it starts.
    FailOpen {
        /// The part of the shared quota one process may use alone, in `(0, 1]`.
        share: f64,
    },
    /// Refuse the request with [`RedisUnavailable`](crate::RedisUnavailable), which
    /// [`classify_error`](crate::classify_error) classifies as not sent.
    FailClosed,
}

/// Builds a [`RedisBackend`]: `n` tokens per `per` per key, shared through Redis by every
/// process that uses the same prefix.
///
/// ```
/// use std::time::Duration;
/// use volley_ratelimit_redis::{FailurePolicy, RedisBackend};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let backend = RedisBackend::builder(50, Duration::from_secs(1))
///     .burst(5)
///     .prefix("billing-api")
///     .failure_policy(FailurePolicy::FailOpen { share: 0.25 })
///     .build("redis://127.0.0.1:6379/0")
///     .unwrap(); // connects lazily: nothing is asked of Redis yet
/// # drop(backend);
/// let err = RedisBackend::builder(50, Duration::from_secs(1)).cost(2).build("redis://127.0.0.1/").unwrap_err();
/// assert_eq!(err.to_string(), "invalid redis rate limit: a cost of 2 is more than the burst of 1: no request could ever go");
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RedisBackendBuilder {
    n: u32,
    per: Duration,
    burst: u32,
    cost: u32,
    prefix: String,
    timeout: Duration,
    policy: FailurePolicy,
    probe_interval: Duration,
    max_cooldown: Duration,
}

impl RedisBackend {
    /// A builder for `n` requests per `per` per key, burst 1, shared through Redis.
    pub fn builder(n: u32, per: Duration) -> RedisBackendBuilder {
        RedisBackendBuilder {
            n,
            per,
            burst: 1,
            cost: 1,
            prefix: "volley:rl".to_owned(),
            timeout: Duration::from_millis(50),
            policy: FailurePolicy::FailOpen { share: 1.0 },
            probe_interval: Duration::from_millis(500),
            max_cooldown: Duration::from_secs(60),
        }
    }
}

impl RedisBackendBuilder {
    /// How many tokens a key holds at most: requests that may go at once after a quiet
    /// period, across all processes. Over any stretch of time `T`, a key starts at most
    /// `burst + ⌊T·n/per⌋` requests (fewer with a cost above 1).
    ///
    /// Defaults to 1.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// How many tokens each request takes (an API that counts a batch call as several):
    /// at most the burst.
    ///
    /// Defaults to 1.
    pub fn cost(mut self, cost: u32) -> Self {
        self.cost = cost;
        self
    }

    /// The start of every Redis key this backend touches: `{prefix}:{{{key}}}:tat` for the
    /// bucket and `{prefix}:{{{key}}}:cd` for the cooldown of a volley
    /// [`Key`](volley_core::Key). Processes share a quota exactly when they share a prefix
    /// (and a key); give each quota its own prefix.
    ///
    /// Defaults to `volley:rl`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest an acquire waits for Redis before the failure policy decides: the most
    /// latency Redis can add to a request. Only the requests that discover an outage pay
    /// it; during a known outage none waits for Redis.
    ///
    /// Defaults to 50 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What happens when Redis does not answer in time.
    ///
    /// Defaults to [`FailurePolicy::FailOpen`] with a share of 1 (each process alone
    /// enforces the whole quota while Redis is away: N processes may send N times it).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// While Redis is known to be down, how often a background task pings it (requests
    /// meanwhile get the failure policy's answer without asking). This is also the longest
    /// the redis connection manager waits between reconnect attempts, so shared limiting
    /// resumes within about this long after Redis is back.
    ///
    /// Defaults to 500 ms.
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval;
        self
    }

    /// The longest one cooldown may pause a key, in this process and in Redis (whatever
    /// other processes ask for, they cap on their own side too).
    ///
    /// Defaults to 60 s, like the layer's `max_cooldown`.
    pub fn max_cooldown(mut self, max_cooldown: Duration) -> Self {
        self.max_cooldown = max_cooldown;
        self
    }

    /// Builds the backend for the Redis at `url` (`redis://[:password@]host:port/db`),
    /// connecting lazily, in the background, with automatic reconnects.
    ///
    /// # Errors
    ///
    /// An invalid rate, burst, cost, share or timeout, or a URL the redis crate refuses.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime: the connection manager spawns its tasks on it.
    pub fn build(self, url: &str) -> Result<RedisBackend, BuildError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout.max(Duration::from_millis(250))))
            // Every call is bounded by `timeout` here; the manager adds no timeout of its own.
            .set_response_timeout(None)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(self.probe_interval);
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        self.build_with(manager)
    }

    /// Builds the backend on a connection manager of the caller's (TLS, credentials, own
    /// reconnect settings).
    ///
    /// # Errors
    ///
    /// An invalid rate, burst, cost, share or timeout.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime: a task warms the connection up and loads the scripts.
    pub fn build_with(self, manager: ConnectionManager) -> Result<RedisBackend, BuildError> {
        let quota = self.quota()?;
        let local = self.local_fallback()?;
        if self.timeout.is_zero() {
            return Err(BuildError::invalid("the timeout must not be zero".to_owned()));
        }
        let inner = Arc::new(Inner {
            conn: manager,
            gcra: Script::new(GCRA),
            cooldown: Script::new(COOLDOWN),
            prefix: self.prefix,
            quota,
            timeout: self.timeout,
            policy: self.policy,
            local,
            health: Health::new(self.probe_interval),
            max_cooldown: self.max_cooldown,
        });
        let warm = Arc::clone(&inner);
        tokio::spawn(async move { warm.warm_up().await });
        Ok(RedisBackend { inner })
    }

    /// The GCRA parameters in microseconds, or why Redis cannot hold them.
    fn quota(&self) -> Result<Quota, BuildError> {
        let Self { n, per, burst, cost, .. } = *self;
        // The same rules as the local limiter (rate, period, burst, 292 years).
        GovernorBackend::try_keyed(n, per, burst)?;
        if cost == 0 {
            return Err(BuildError::invalid(
                "a cost of 0 would let every request through: use at least 1".to_owned(),
            ));
        }
        if cost > burst {
            return Err(BuildError::invalid(format!(
                "a cost of {cost} is more than the burst of {burst}: no request could ever go"
            )));
        }
        // Rounded up, like the local limiter: `n` tokens never come faster than `per`.
        let interval_us = per.as_nanos().div_ceil(u128::from(n) * 1000);
        if per.as_nanos() < u128::from(n) * 1000 {
            return Err(BuildError::invalid(format!(
                "{n} per {per:?} is faster than one per microsecond, the resolution of redis TIME"
            )));
        }
        let tolerance_us = interval_us * u128::from(burst);
        // Lua numbers are doubles: every microsecond count must stay an exact integer.
        const EXACT: u128 = 1 << 52;
        let (Ok(interval_us), Ok(tolerance_us)) =
            (u64::try_from(interval_us), u64::try_from(tolerance_us))
        else {
            return Err(BuildError::invalid("the interval overflows".to_owned()));
        };
        if u128::from(tolerance_us) >= EXACT {
            return Err(BuildError::invalid(format!(
                "an empty bucket of {n} per {per:?} with burst {burst} would take more than \
                 2^52 µs (142 years) to refill"
            )));
        }
        Ok(Quota { interval_us, tolerance_us, cost: u64::from(cost), burst })
    }

    /// The bucket used while Redis is away: `share` of the rate and burst, each request
    /// taking `cost` tokens; with fail-closed, a plain one (it still keeps cooldowns).
    fn local_fallback(&self) -> Result<GovernorBackend, BuildError> {
        let share = match self.policy {
            FailurePolicy::FailOpen { share } if share > 0.0 && share <= 1.0 => share,
            FailurePolicy::FailOpen { share } => {
                return Err(BuildError::invalid(format!(
                    "a fail-open share of {share} is not in (0, 1]"
                )));
            }
            FailurePolicy::FailClosed => 1.0,
        };
        let cost = f64::from(self.cost);
        // `n` per `per·cost/share`: `n·share/cost` requests per `per`.
        let per = Duration::try_from_secs_f64(self.per.as_secs_f64() * cost / share)
            .map_err(|_| BuildError::invalid("the fail-open period overflows".to_owned()))?;
        let burst = (f64::from(self.burst) * share / cost).floor().max(1.0);
        // At most `u32::MAX`: a share of at most 1 and a cost of at least 1 never grow it.
        let burst = burst.min(f64::from(u32::MAX)) as u32;
        Ok(GovernorBackend::try_keyed(self.n, per, burst)?)
    }
}
