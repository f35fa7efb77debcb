//! What reached the server: hit counters, plus the per-key attempt counts and
//! quota windows that the stateful endpoints (`/flaky`, `/retry-after`,
//! `/ratelimit`) answer from.
//!
//! Hot-path cost: three relaxed atomic increments and one short `Mutex` hold
//! per request (the exact-path map); a path allocates only the first time it
//! is seen. The request record ([`crate::record`]) adds a copy of the head and
//! one more short hold. No lock is ever held across an `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::record::Recorder;
use crate::routes::Endpoint;

/// Locks `mutex`, ignoring poisoning: every critical section here is a plain
/// map update that leaves the map consistent even if a panic interrupted it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Increments `key` in `map`, allocating the key only on first sight.
fn bump(map: &mut HashMap<String, u64>, key: &str) -> u64 {
    if let Some(count) = map.get_mut(key) {
        *count += 1;
        *count
    } else {
        map.insert(key.to_owned(), 1);
        1
    }
}

/// A fixed quota window of `/ratelimit`.
#[derive(Debug)]
struct Window {
    start: Instant,
    used: u64,
}

impl Window {
    /// Counts one request at `now`, opening a new window if this one is over.
    fn take(&mut self, now: Instant, limit: u64, window: Duration) -> Quota {
        if now >= self.start + window {
            *self = Self { start: now, used: 0 };
        }
        self.used += 1;
        Quota {
            allowed: self.used <= limit,
            remaining: limit.saturating_sub(self.used),
            reset: (self.start + window).saturating_duration_since(now),
        }
    }
}

/// The answer of a quota check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quota {
    /// Whether this request fits in the quota.
    pub(crate) allowed: bool,
    /// Requests left in the current window after this one.
    pub(crate) remaining: u64,
    /// Time until the current window ends.
    pub(crate) reset: Duration,
}

/// One hit counter per endpoint (arrays over 32 have no derived `Default`).
#[derive(Debug)]
struct EndpointCounts([AtomicU64; Endpoint::ALL.len()]);

impl Default for EndpointCounts {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// All the server's shared state.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    total: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    connections: AtomicU64,
    throttled: AtomicU64,
    endpoints: EndpointCounts,
    paths: Mutex<HashMap<String, u64>>,
    flaky: Mutex<HashMap<String, u64>>,
    flaky_bodies: Mutex<HashMap<String, Vec<Bytes>>>,
    retry_after: Mutex<HashMap<String, u64>>,
    windows: Mutex<HashMap<String, Window>>,
    queues: Mutex<HashMap<String, Arc<Semaphore>>>,
    tails: Mutex<HashMap<String, u64>>,
    /// The record of request heads.
    pub(crate) seen: Recorder,
}

impl Counters {
    /// Records a request head for `endpoint` at `path`.
    pub(crate) fn hit(&self, endpoint: Endpoint, path: &str) {
        self.total.fetch_add(1, Relaxed);
        self.endpoints.0[endpoint as usize].fetch_add(1, Relaxed);
        bump(&mut lock(&self.paths), path);
    }

    /// Records an accepted TCP connection.
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// Records a 429 answered by `/ratelimit`.
    pub(crate) fn throttle(&self) {
        self.throttled.fetch_add(1, Relaxed);
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Relaxed)
    }

    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }

    pub(crate) fn throttled(&self) -> u64 {
        self.throttled.load(Relaxed)
    }

    pub(crate) fn endpoint(&self, endpoint: Endpoint) -> u64 {
        self.endpoints.0[endpoint as usize].load(Relaxed)
    }

    pub(crate) fn path(&self, path: &str) -> u64 {
        lock(&self.paths).get(path).copied().unwrap_or(0)
    }

    /// The 1-based attempt number of this `/flaky` request for `key`.
    pub(crate) fn flaky_attempt(&self, key: &str) -> u64 {
        bump(&mut lock(&self.flaky), key)
    }

    /// Counts a request as being handled until the returned guard drops, and raises the
    /// high-water mark.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Relaxed);
        InFlight(self)
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    pub(crate) fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Relaxed)
    }

    /// Keeps a request body that reached `/flaky` at `path`, for retry tests.
    pub(crate) fn record_flaky_body(&self, path: &str, body: Bytes) {
        lock(&self.flaky_bodies).entry(path.to_owned()).or_default().push(body);
    }

    /// The request bodies that reached `/flaky` at `path`, in arrival order.
    pub(crate) fn flaky_bodies(&self, path: &str) -> Vec<Bytes> {
        lock(&self.flaky_bodies).get(path).cloned().unwrap_or_default()
    }

    /// The 1-based attempt number of this `/retry-after` request for `key`.
    pub(crate) fn retry_after_attempt(&self, key: &str) -> u64 {
        bump(&mut lock(&self.retry_after), key)
    }

    /// Takes one request from `key`'s fixed window of `limit` per `window`.
    pub(crate) fn take_quota(&self, key: &str, limit: u64, window: Duration) -> Quota {
        let now = Instant::now();
        let mut windows = lock(&self.windows);
        if let Some(state) = windows.get_mut(key) {
            return state.take(now, limit, window);
        }
        let state = windows.entry(key.to_owned()).or_insert(Window { start: now, used: 0 });
        state.take(now, limit, window)
    }

    /// The workers of `/queue` for `key`: a semaphore of `capacity` permits, made on
    /// first use (a later call with another capacity for the same key gets the first).
    pub(crate) fn queue(&self, key: &str, capacity: u32) -> Arc<Semaphore> {
        let mut queues = lock(&self.queues);
        if let Some(workers) = queues.get(key) {
            return workers.clone();
        }
        let workers = Arc::new(Semaphore::new(capacity as usize));
        queues.insert(key.to_owned(), workers.clone());
        workers
    }

    /// The 1-based number of this `/tail` request for `key`.
    pub(crate) fn tail_request(&self, key: &str) -> u64 {
        bump(&mut lock(&self.tails), key)
    }

    /// Zeroes every counter and forgets all per-key state.
    pub(crate) fn reset(&self) {
        self.total.store(0, Relaxed);
        self.max_in_flight.store(self.in_flight.load(Relaxed), Relaxed);
        self.connections.store(0, Relaxed);
        self.throttled.store(0, Relaxed);
        for counter in &self.endpoints.0 {
            counter.store(0, Relaxed);
        }
        lock(&self.paths).clear();
        lock(&self.flaky).clear();
        lock(&self.flaky_bodies).clear();
        lock(&self.retry_after).clear();
        lock(&self.windows).clear();
        lock(&self.queues).clear();
        lock(&self.tails).clear();
        self.seen.clear();
    }
}

/// A request being handled; see [`Counters::enter`].
pub(crate) struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}
