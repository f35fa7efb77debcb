//! The default backend: governor's GCRA in this process, on tokio's clock.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{NotUntil, Quota, RateLimiter};
use tokio::time::Instant;
use volley_core::{Key, KeyHashBuilder};

use crate::clock::{TokioClock, TokioInstant};
use crate::cooldown::{Cooldowns, MAX_COOLDOWNS};
use crate::{Acquire, Backend, ConfigError};

/// Idle keys are looked for once every this many acquires…
const PRUNE_CHECK_EVERY: u64 = 1024;
/// …and dropped if the last sweep is at least this old.
const PRUNE_INTERVAL: Duration = Duration::from_secs(10);

type Direct = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;
// Keys carry their hash: the map passes it through instead of hashing the text again.
type Keyed = RateLimiter<
    Key,
    DashMapStateStore<Key, KeyHashBuilder>,
    TokioClock,
    NoOpMiddleware<TokioInstant>,
>;

enum Limiter {
    Global(Direct),
    PerKey(Keyed),
}

/// The default [`Backend`]: a GCRA token bucket from [`governor`] (one per key, or one for
/// everything), plus a map of cooldowns, all in this process.
///
/// `acquire` is synchronous and allocation-free for a key it has seen recently: a shard read
/// lock and a compare-and-swap (the global bucket: just the compare-and-swap), plus one
/// relaxed load while no key is cooling down. Time is [`TokioClock`].
///
/// Idle keys are pruned lazily, with no background task: every 1024th acquire checks whether
/// the last sweep is 10 s old or more, and if so one caller runs governor's `retain_recent` +
/// `shrink_to_fit` (dropping keys whose bucket is full again, which are indistinguishable
/// from new ones) and drops expired cooldowns.
///
/// The cooldown map holds at most [`MAX_COOLDOWNS`](Self::MAX_COOLDOWNS) keys (65,536, in 16
/// shards of 4,096), expired or not. When a new key finds its shard full, the expired
/// cooldowns of that shard are dropped, and if it is still full, the half of its cooldowns
/// that end soonest are dropped too (those keys resume at once, at the rate). So a crawler
/// throttled by a million hosts keeps at most 65,536 cooldowns, the most recent ones, and
/// each insertion costs amortised constant time.
///
/// # Panics
///
/// [`keyed`](Self::keyed) and [`global`](Self::global) panic where
/// [`try_keyed`](Self::try_keyed) and [`try_global`](Self::try_global) return a
/// [`ConfigError`]: see [`RateLimitLayer::try_new`](crate::RateLimitLayer::try_new) for the
/// rules.
pub struct GovernorBackend {
    limiter: Limiter,
    cooldowns: Cooldowns,
    acquires: AtomicU64,
    last_prune: Mutex<Instant>,
    quota: Quota,
}

impl GovernorBackend {
    /// The most keys the cooldown map holds: 65,536 (see [`GovernorBackend`]).
    pub const MAX_COOLDOWNS: usize = MAX_COOLDOWNS;

    /// The longest an empty bucket may take to refill, `ceil(per / n) × burst`: 2⁶³ ns,
    /// about 292 years. governor counts nanoseconds in a `u64` from the moment the limiter
    /// is built; the other half of that range is left for the process's uptime.
    pub const MAX_REFILL: Duration = Duration::from_nanos(1 << 63);

    /// A bucket per key: `n` tokens per `per` sustained, `burst` at once.
    ///
    /// # Panics
    ///
    /// Where [`try_keyed`](Self::try_keyed) returns an error.
    pub fn keyed(n: u32, per: Duration, burst: u32) -> Self {
        Self::try_keyed(n, per, burst).unwrap_or_else(|err| panic!("{err}"))
    }

    /// A bucket per key: `n` tokens per `per` sustained, `burst` at once, or the reason
    /// these cannot make a limiter (see
    /// [`RateLimitLayer::try_new`](crate::RateLimitLayer::try_new)).
    pub fn try_keyed(n: u32, per: Duration, burst: u32) -> Result<Self, ConfigError> {
        let quota = quota(n, per, burst)?;
        let limiter = RateLimiter::dashmap_with_clock_and_hasher(quota, TokioClock, KeyHashBuilder);
        Ok(Self::with(quota, Limiter::PerKey(limiter)))
    }

    /// One bucket for every key: `n` tokens per `per` sustained, `burst` at once. Cooldowns
    /// are still per key, so with a per-host key function a 429 from one host pauses only
    /// that host while all hosts share one rate.
    ///
    /// # Panics
    ///
    /// Where [`try_global`](Self::try_global) returns an error.
    pub fn global(n: u32, per: Duration, burst: u32) -> Self {
        Self::try_global(n, per, burst).unwrap_or_else(|err| panic!("{err}"))
    }

    /// One bucket for every key, as [`global`](Self::global), or the reason `n`, `per` and
    /// `burst` cannot make a limiter (see
    /// [`RateLimitLayer::try_new`](crate::RateLimitLayer::try_new)).
    pub fn try_global(n: u32, per: Duration, burst: u32) -> Result<Self, ConfigError> {
        let quota = quota(n, per, burst)?;
        Ok(Self::with(quota, Limiter::Global(RateLimiter::direct_with_clock(quota, TokioClock))))
    }

    fn with(quota: Quota, limiter: Limiter) -> Self {
        Self {
            limiter,
            cooldowns: Cooldowns::new(),
            acquires: AtomicU64::new(0),
            last_prune: Mutex::new(Instant::now()),
            quota,
        }
    }

    /// Counts an acquire; every `PRUNE_CHECK_EVERY`th one sweeps if the last sweep is old
    /// enough. Only one caller sweeps at a time; the others carry on.
    fn tick(&self, keyed: Option<&Keyed>) {
        if self.acquires.fetch_add(1, Relaxed) % PRUNE_CHECK_EVERY != PRUNE_CHECK_EVERY - 1 {
            return;
        }
        let Ok(mut last) = self.last_prune.try_lock() else { return };
        let now = Instant::now();
        if now.saturating_duration_since(*last) < PRUNE_INTERVAL {
            return;
        }
        *last = now;
        if let Some(limiter) = keyed {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.cooldowns.prune();
    }
}

/// The GCRA quota for `n` per `per`, `burst` at once, or why governor cannot hold it.
///
/// governor panics (or, in release builds, silently wraps) outside this range: an interval
/// above `u64::MAX` ns ("Duration is longer than 584 years"), an `interval × (burst - 1)`
/// above it (an overflowing multiplication), and a theoretical arrival time (up to the
/// uptime plus `interval × burst`) above it (an overflowing addition). An interval below
/// 1 ns is clamped to 1 ns by governor, silently slowing the rate down.
pub(crate) fn quota(n: u32, per: Duration, burst: u32) -> Result<Quota, ConfigError> {
    let err = |reason| ConfigError::new(n, per, burst, reason);
    let Some(rate) = NonZeroU32::new(n) else {
        return Err(err("the rate must be at least 1"));
    };
    if per.is_zero() {
        return Err(err("the period must not be zero"));
    }
    let Some(burst) = NonZeroU32::new(burst) else {
        return Err(err("the burst must be at least 1"));
    };
    if per.as_nanos() < u128::from(rate.get()) {
        return Err(err("faster than one per nanosecond"));
    }
    // Rounded up: `n` intervals never add up to less than `per`, so no window of length
    // `per` sees more than `n` tokens (with burst 1).
    let interval = per.as_nanos().div_ceil(u128::from(rate.get()));
    if interval * u128::from(burst.get()) > GovernorBackend::MAX_REFILL.as_nanos() {
        return Err(err("an empty bucket would take more than 2^63 ns (292 years) to refill"));
    }
    let interval = u64::try_from(interval).map_err(|_| err("the interval overflows"))?;
    let quota = Quota::with_period(Duration::from_nanos(interval));
    quota.map(|q| q.allow_burst(burst)).ok_or_else(|| err("the interval is zero"))
}

fn wait(not_until: &NotUntil<TokioInstant>) -> Acquire {
    Acquire::Wait(not_until.wait_time_from(TokioClock.now()))
}

impl Backend for GovernorBackend {
    fn acquire(&self, key: &Key) -> Acquire {
        if let Some(left) = self.cooldowns.remaining(key) {
            return Acquire::Wait(left);
        }
        match &self.limiter {
            Limiter::Global(limiter) => {
                // One bucket needs no sweeping; expired cooldowns of keys never asked about
                // again do, but only while there are any.
                if !self.cooldowns.is_empty() {
                    self.tick(None);
                }
                limiter.check().map_or_else(|nu| wait(&nu), |()| Acquire::Ready)
            }
            Limiter::PerKey(limiter) => {
                self.tick(Some(limiter));
                limiter.check_key(key).map_or_else(|nu| wait(&nu), |()| Acquire::Ready)
            }
        }
    }

    fn cool_down(&self, key: &Key, until: Instant) {
        self.cooldowns.set(key, until);
    }

    fn cooldown_remaining(&self, key: &Key) -> Option<Duration> {
        self.cooldowns.remaining(key)
    }

    fn tracked_cooldowns(&self) -> usize {
        self.cooldowns.len()
    }

    fn tracked_keys(&self) -> usize {
        match &self.limiter {
            Limiter::Global(_) => 1,
            Limiter::PerKey(limiter) => limiter.len(),
        }
    }
}

impl fmt::Debug for GovernorBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.limiter {
            Limiter::Global(_) => "global",
            Limiter::PerKey(_) => "keyed",
        };
        f.debug_struct("GovernorBackend")
            .field("mode", &mode)
            .field("interval", &self.quota.replenish_interval())
            .field("burst", &self.quota.burst_size())
            .field("tracked_keys", &self.tracked_keys())
            .finish()
    }
}
