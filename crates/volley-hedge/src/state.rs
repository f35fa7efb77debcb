use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::Method;
use tokio::time::Instant;
use volley_core::{Key, RequestHead};

use crate::budget::Budget;
use crate::histogram::Latencies;

pub(crate) type Predicate = dyn Fn(RequestHead<'_>) -> bool + Send + Sync;

/// When the hedge is sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Delay {
    Fixed(Duration),
    Percentile { q: f64, min_samples: u32, fallback: Option<Duration> },
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) delay: Delay,
    pub(crate) min_delay: Duration,
    pub(crate) window: Duration,
    pub(crate) max_keys: usize,
    pub(crate) max_hedges: u32,
    pub(crate) budget_ratio: f64,
    pub(crate) predicate: Option<Arc<Predicate>>,
}

impl Config {
    pub(crate) const DEFAULT: Config = Config {
        delay: Delay::Percentile { q: 0.95, min_samples: 20, fallback: None },
        min_delay: Duration::from_millis(1),
        window: Duration::from_secs(10),
        max_keys: 1024,
        max_hedges: 1,
        budget_ratio: 0.1,
        predicate: None,
    };
}

/// Everything the clones of one layer share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) budget: Budget,
    pub(crate) latencies: Mutex<Latencies>,
    pub(crate) requests: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) won: AtomicU64,
    pub(crate) refused: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            budget: Budget::new(config.budget_ratio),
            latencies: Mutex::new(Latencies::new(config.max_keys)),
            config,
            requests: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            won: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Whether this request may be hedged at all: its method (or the custom rule), and a
    /// layer that can ever afford a hedge.
    pub(crate) fn may_hedge(&self, head: RequestHead<'_>) -> bool {
        if self.config.max_hedges == 0 || !self.budget.is_enabled() {
            return false;
        }
        match &self.config.predicate {
            Some(predicate) => predicate(head),
            None => is_idempotent(head.method()),
        }
    }

    pub(crate) fn uses_histogram(&self) -> bool {
        matches!(self.config.delay, Delay::Percentile { .. })
    }

    /// The delay before a hedge of a request to `key`, if there is one yet.
    pub(crate) fn delay(&self, key: Option<&Key>, now: Instant) -> Option<Duration> {
        let delay = match (self.config.delay, key) {
            (Delay::Fixed(delay), _) => Some(delay),
            (Delay::Percentile { q, min_samples, fallback }, Some(key)) => self
                .lock_latencies()
                .quantile(key, now, self.config.window, q, min_samples)
                .or(fallback),
            (Delay::Percentile { fallback, .. }, None) => fallback,
        };
        delay.map(|delay| delay.max(self.config.min_delay))
    }

    pub(crate) fn record(&self, key: &Key, now: Instant, latency: Duration) {
        self.lock_latencies().record(key, now, self.config.window, latency);
    }

    pub(crate) fn lock_latencies(&self) -> std::sync::MutexGuard<'_, Latencies> {
        self.latencies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// RFC 9110 §9.2.2: the methods whose intended effect is the same however many times the
/// request is sent.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A live view of one hedge layer's counters, shared with every service it makes.
///
/// Counts since the layer was built; all clones of the layer and its services add to the
/// same counters.
#[derive(Clone)]
pub struct HedgeStats {
    shared: Arc<Shared>,
}

impl HedgeStats {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Requests that went through the layer (hedged or not).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Hedges sent: extra attempts that reached the service below.
    pub fn hedges_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Relaxed)
    }

    /// Requests whose response came from a hedge rather than the first attempt.
    pub fn hedges_won(&self) -> u64 {
        self.shared.won.load(Ordering::Relaxed)
    }

    /// Hedges not sent because the budget was spent when their delay ran out.
    pub fn budget_refusals(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Hedges the budget would allow right now.
    pub fn budget_available(&self) -> u64 {
        self.shared.budget.available()
    }

    /// Keys with a latency histogram (at most `max_keys`, 1,024 by default).
    pub fn tracked_keys(&self) -> usize {
        self.shared.lock_latencies().len()
    }

    /// The delay a request to `key` would get now, or `None` if it would not be hedged
    /// (fewer than `min_samples` latencies and no fallback).
    pub fn delay_for(&self, key: &Key) -> Option<Duration> {
        self.shared.delay(Some(key), Instant::now())
    }
}

impl fmt::Debug for HedgeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeStats")
            .field("requests", &self.requests())
            .field("hedges_sent", &self.hedges_sent())
            .field("hedges_won", &self.hedges_won())
            .field("budget_refusals", &self.budget_refusals())
            .field("tracked_keys", &self.tracked_keys())
            .finish()
    }
}
