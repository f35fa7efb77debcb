//! [`RedisBackend`]: the `Backend` that keeps buckets and cooldowns in Redis.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::time::Instant;
use volley_core::{BoxError, Key};
use volley_ratelimit::{Acquire, Backend, GovernorBackend};

use crate::health::Health;
use crate::script::{Script, Verdict};
use crate::{FailurePolicy, RedisUnavailable};

/// A [`Backend`] whose token buckets and cooldowns live in Redis, so that every process
/// using the same Redis and [`prefix`](crate::RedisBackendBuilder::prefix) shares one
/// quota per key. Built with [`RedisBackend::builder`].
///
/// Each acquire runs one Lua script (a GCRA on the Redis server's clock, so the clients'
/// clocks do not matter) and answers [`Acquire::Pending`]; a key this process knows to be
/// cooling down answers [`Acquire::Wait`] without asking Redis. A cooldown (a 429 with
/// `Retry-After`, an exhausted quota header) is kept here and written to Redis, so every
/// process pauses the key. When Redis does not answer within the
/// [`timeout`](crate::RedisBackendBuilder::timeout), the
/// [`FailurePolicy`] decides.
///
/// Cloning is cheap and shares the connection, the outage state and the fallback buckets.
#[derive(Clone)]
pub struct RedisBackend {
    pub(crate) inner: Arc<Inner>,
}

/// The GCRA parameters sent to the script.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quota {
    pub(crate) interval_us: u64,
    pub(crate) tolerance_us: u64,
    pub(crate) cost: u64,
    pub(crate) burst: u32,
}

pub(crate) struct Inner {
    pub(crate) conn: ConnectionManager,
    pub(crate) gcra: Script,
    pub(crate) cooldown: Script,
    pub(crate) prefix: String,
    pub(crate) quota: Quota,
    pub(crate) timeout: Duration,
    pub(crate) policy: FailurePolicy,
    /// The fail-open buckets, and this process's memory of cooldowns (its own and those
    /// Redis reported), checked before asking Redis.
    pub(crate) local: GovernorBackend,
    pub(crate) health: Health,
    pub(crate) max_cooldown: Duration,
}

impl RedisBackend {
    /// The Redis key holding `key`'s bucket (its theoretical arrival time, in microseconds
    /// of the server's clock).
    pub fn bucket_key(&self, key: &Key) -> String {
        self.inner.bucket_key(key)
    }

    /// The Redis key holding `key`'s cooldown end (microseconds of the server's clock).
    pub fn cooldown_key(&self, key: &Key) -> String {
        self.inner.cooldown_key(key)
    }

    /// Whether this process currently considers Redis unreachable: every request gets the
    /// failure policy's answer at once, and a background ping once per probe interval
    /// finds out when Redis is back.
    pub fn is_down(&self) -> bool {
        self.inner.health.is_down()
    }

    /// How many outages began since the backend was built (each logged once).
    pub fn outages(&self) -> u64 {
        self.inner.health.outages()
    }
}

impl Inner {
    // The braces are a Redis Cluster hash tag: both keys of a volley key hash to one slot,
    // as a script touching both requires.
    fn bucket_key(&self, key: &Key) -> String {
        format!("{}:{{{}}}:tat", self.prefix, key.as_str())
    }

    fn cooldown_key(&self, key: &Key) -> String {
        format!("{}:{{{}}}:cd", self.prefix, key.as_str())
    }

    /// Asks Redis for `key`'s tokens within the timeout, or applies the failure policy.
    async fn ask(self: Arc<Self>, key: Key) -> Result<Acquire, BoxError> {
        let (bucket, cooldown) = (self.bucket_key(&key), self.cooldown_key(&key));
        let Quota { interval_us, tolerance_us, cost, .. } = self.quota;
        let (keys, args) =
            ([bucket.as_str(), cooldown.as_str()], [interval_us, tolerance_us, cost]);
        let mut conn = self.conn.clone();
        let run = self.gcra.run::<(i64, i64)>(&mut conn, &keys, &args[..]);
        let failure = match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(reply)) => match Verdict::from_reply(reply) {
                Some(verdict) => {
                    self.health.answered();
                    return Ok(self.verdict(&key, verdict));
                }
                None => RedisUnavailable::bad_reply(key),
            },
            Ok(Err(err)) => RedisUnavailable::error(key, err),
            Err(_elapsed) => RedisUnavailable::timed_out(key, self.timeout),
        };
        self.health.failed(&failure);
        self.fail(failure)
    }

    fn verdict(&self, key: &Key, verdict: Verdict) -> Acquire {
        match verdict {
            Verdict::Allowed => Acquire::Ready,
            Verdict::Denied { wait_us } => Acquire::Wait(Duration::from_micros(wait_us)),
            Verdict::CoolingDown { wait_us } => {
                let wait = Duration::from_micros(wait_us).min(self.max_cooldown);
                // Remembered here: this process's next requests wait without asking Redis.
                self.local.cool_down(key, Instant::now() + wait);
                Acquire::Wait(wait)
            }
        }
    }

    /// The failure policy's answer for a request Redis could not decide.
    fn fail(&self, failure: RedisUnavailable) -> Result<Acquire, BoxError> {
        match self.policy {
            FailurePolicy::FailOpen { .. } => Ok(self.local.acquire(failure.key())),
            // Marked as not sent, so the classifier knows retrying cannot duplicate it.
            FailurePolicy::FailClosed => Err(volley_core::NotSent::new(failure).into()),
        }
    }

    /// Writes a cooldown of `duration` for `key` to Redis, within the timeout.
    async fn share_cooldown(self: Arc<Self>, key: Key, duration: Duration) {
        let cooldown = self.cooldown_key(&key);
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.conn.clone();
        let keys = [cooldown.as_str()];
        let run = self.cooldown.run::<i64>(&mut conn, &keys, micros);
        match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(_)) => self.health.answered(),
            Ok(Err(err)) => self.health.failed(&RedisUnavailable::error(key, err)),
            Err(_) => self.health.failed(&RedisUnavailable::timed_out(key, self.timeout)),
        }
    }

    /// Pings Redis within the timeout; an answer ends the outage.
    async fn probe(self: Arc<Self>) {
        let mut conn = self.conn.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut conn);
        match tokio::time::timeout(self.timeout, ping).await {
            Ok(Ok(_)) => self.health.answered(),
            Ok(Err(err)) => self.health.failed(&err),
            Err(_) => self.health.failed(&format_args!("no answer within {:?}", self.timeout)),
        }
    }

    /// Connects and caches both scripts, so the first request does not pay for it.
    pub(crate) async fn warm_up(&self) {
        let mut conn = self.conn.clone();
        for script in [&self.gcra, &self.cooldown] {
            if let Err(err) = script.load(&mut conn).await {
                tracing::debug!(error = %err, "redis rate limit store: warm-up failed");
                return;
            }
        }
    }
}

impl Backend for RedisBackend {
    fn acquire(&self, key: &Key) -> Acquire {
        let inner = &self.inner;
        if let Some(left) = inner.local.cooldown_remaining(key) {
            return Acquire::Wait(left);
        }
        if !inner.health.is_down() {
            return Acquire::Pending(Box::pin(Arc::clone(inner).ask(key.clone())));
        }
        // A known outage: decide at once, without waiting for Redis; now and then a
        // background ping finds out whether it is back.
        if inner.health.probe_due()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(Arc::clone(inner).probe());
        }
        match inner.fail(RedisUnavailable::down(key.clone())) {
            Ok(acquire) => acquire,
            Err(err) => Acquire::Pending(Box::pin(std::future::ready(Err(err)))),
        }
    }

    fn cool_down(&self, key: &Key, until: Instant) {
        let inner = &self.inner;
        let requested = until.saturating_duration_since(Instant::now());
        let duration = requested.min(inner.max_cooldown);
        if duration.is_zero() {
            return;
        }
        if duration < requested {
            tracing::info!(
                key = %key,
                cooldown = ?duration,
                requested = ?requested,
                "redis rate limit cooldown capped at max_cooldown"
            );
        }
        inner.local.cool_down(key, Instant::now() + duration);
        // Written in the background: `cool_down` is called while a response is delivered,
        // which must not wait for Redis. Outside a runtime only this process pauses.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(Arc::clone(inner).share_cooldown(key.clone(), duration));
        }
    }

    fn cooldown_remaining(&self, key: &Key) -> Option<Duration> {
        self.inner.local.cooldown_remaining(key)
    }

    fn tracked_cooldowns(&self) -> usize {
        self.inner.local.tracked_cooldowns()
    }
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("RedisBackend")
            .field("prefix", &inner.prefix)
            .field("interval", &Duration::from_micros(inner.quota.interval_us))
            .field("burst", &inner.quota.burst)
            .field("cost", &inner.quota.cost)
            .field("timeout", &inner.timeout)
            .field("policy", &inner.policy)
            .field("health", &inner.health)
            .finish_non_exhaustive()
    }
}
