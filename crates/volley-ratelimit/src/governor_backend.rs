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
use crate::cooldown::Cooldowns;
use crate::{Acquire, Backend};

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
/// # Panics
///
/// The constructors panic if `n` or `burst` is zero or `per` is zero.
pub struct GovernorBackend {
    limiter: Limiter,
    cooldowns: Cooldowns,
    acquires: AtomicU64,
    last_prune: Mutex<Instant>,
    quota: Quota,
}

impl GovernorBackend {
    /// A bucket per key: `n` tokens per `per` sustained, `burst` at once.
    pub fn keyed(n: u32, per: Duration, burst: u32) -> Self {
        let quota = quota(n, per, burst);
        let limiter = RateLimiter::dashmap_with_clock_and_hasher(quota, TokioClock, KeyHashBuilder);
        Self::with(quota, Limiter::PerKey(limiter))
    }

    /// One bucket for every key: `n` tokens per `per` sustained, `burst` at once. Cooldowns
    /// are still per key, so with a per-host key function a 429 from one host pauses only
    /// that host while all hosts share one rate.
    pub fn global(n: u32, per: Duration, burst: u32) -> Self {
        let quota = quota(n, per, burst);
        Self::with(quota, Limiter::Global(RateLimiter::direct_with_clock(quota, TokioClock)))
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

/// The GCRA quota for `n` per `per`, `burst` at once.
fn quota(n: u32, per: Duration, burst: u32) -> Quota {
    let (Some(n), Some(burst)) = (NonZeroU32::new(n), NonZeroU32::new(burst)) else {
        panic!(
            "rate limit of {n} per {per:?} with burst {burst}: the rate and burst must be at least 1"
        );
    };
    assert!(!per.is_zero(), "rate limit of {n} per {per:?}: the period must not be zero");
    // Faster than one token per nanosecond is the same as no limit; governor's floor is 1ns.
    let interval = (per / n.get()).max(Duration::from_nanos(1));
    Quota::with_period(interval).map_or(Quota::per_second(n), |q| q.allow_burst(burst))
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
