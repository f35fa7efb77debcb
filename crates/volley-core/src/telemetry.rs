//! Metric names and labels every volley layer uses, behind the `metrics` feature: one
//! place that fixes the names, units and the bound on label cardinality.
//!
//! Layers record through the [`metrics`] facade, which does nothing until the application
//! installs a recorder (a Prometheus exporter, an OpenTelemetry bridge…). Without the
//! `metrics` feature none of this is compiled and a layer records nothing.
//!
//! Keys become a `key` label, but a client that talks to a million hosts must not create a
//! million time series: the first [`max_key_labels`] distinct keys seen by the process keep
//! their own label value, and every later one is recorded as [`OTHER_KEYS`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use metrics::SharedString;

use crate::{Key, KeyHashBuilder};

/// The label value of the keys beyond the bound.
pub const OTHER_KEYS: &str = "other";

/// The default bound on distinct `key` label values per process.
pub const DEFAULT_MAX_KEY_LABELS: usize = 100;

/// The metric names (OpenTelemetry's where the semantic conventions define one).
pub mod names {
    /// Histogram, seconds: one logical request, all attempts and redirects, to the end of
    /// the response head (OpenTelemetry `http.client.request.duration`).
    pub const REQUEST_DURATION: &str = "http.client.request.duration";
    /// Counter: attempts, by `outcome` (`success`, `retryable`, `throttled`, `fatal`,
    /// `not_sent`) and `key`.
    pub const ATTEMPTS: &str = "volley.attempts";
    /// Counter: retries sent, by `cause` (`backoff`, `server_hint`, `breaker`) and `key`.
    pub const RETRIES: &str = "volley.retries";
    /// Counter: retries refused, by `reason` (`budget`, `max_retries`, `deadline`, …) and
    /// `key`.
    pub const RETRY_REFUSALS: &str = "volley.retry.refusals";
    /// Histogram, seconds: sleeps before a retry, by `cause`.
    pub const RETRY_WAIT: &str = "volley.retry.wait";
    /// Histogram, seconds: waits in the rate limiter (tokens, cooldowns, pacing), by `key`.
    pub const RATE_LIMIT_WAIT: &str = "volley.ratelimit.wait";
    /// Counter: cooldowns a server's answer started, by `key`.
    pub const RATE_LIMIT_COOLDOWNS: &str = "volley.ratelimit.cooldowns";
    /// Counter: requests the rate limiter refused (the wait would pass the deadline).
    pub const RATE_LIMIT_REFUSALS: &str = "volley.ratelimit.refusals";
    /// Gauge: requests holding a concurrency permit, by `key`.
    pub const IN_FLIGHT: &str = "volley.concurrency.in_flight";
    /// Gauge: requests waiting for a concurrency permit, by `key`.
    pub const QUEUED: &str = "volley.concurrency.queued";
    /// Histogram, seconds: time spent waiting for a concurrency permit, by `key`.
    pub const QUEUE_WAIT: &str = "volley.concurrency.wait";
    /// Gauge: a key's adaptive concurrency limit.
    pub const ADAPTIVE_LIMIT: &str = "volley.concurrency.limit";
    /// Counter: timeouts, by `kind` (`total`, `attempt`, `connect`).
    pub const TIMEOUTS: &str = "volley.timeouts";
    /// Counter: circuit transitions, by `key` and `state` (`open`, `half_open`, `closed`).
    pub const BREAKER_TRANSITIONS: &str = "volley.breaker.transitions";
    /// Counter: requests an open circuit refused, by `key`.
    pub const BREAKER_REFUSALS: &str = "volley.breaker.refusals";
    /// Counter: hedges sent, by `key`.
    pub const HEDGES: &str = "volley.hedge.sent";
    /// Counter: hedges whose answer came first, by `key`.
    pub const HEDGES_WON: &str = "volley.hedge.won";
}

static MAX_KEY_LABELS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_KEY_LABELS);
/// The keys given a label of their own, with that label: a label is an `Arc<str>` made once
/// per key, so recording it costs a shared read lock, a lookup by the key's stored hash and
/// a reference count, not an allocation.
static LABELS: OnceLock<RwLock<HashMap<Key, SharedString, KeyHashBuilder>>> = OnceLock::new();

/// The bound on distinct `key` label values in this process (default 100).
pub fn max_key_labels() -> usize {
    MAX_KEY_LABELS.load(Ordering::Relaxed)
}

/// Changes the bound on distinct `key` label values. Keys already given a label keep it.
pub fn set_max_key_labels(max: usize) {
    MAX_KEY_LABELS.store(max, Ordering::Relaxed);
}

/// The `key` label value for `key`: the key itself while fewer than [`max_key_labels`]
/// distinct keys have been labelled, else [`OTHER_KEYS`].
pub fn key_label(key: &Key) -> SharedString {
    let labels = LABELS.get_or_init(RwLock::default);
    {
        let read = labels.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(label) = read.get(key) {
            return label.clone();
        }
        // Once the bound is reached, the keys beyond it never take the write lock.
        if read.len() >= max_key_labels() {
            return SharedString::const_str(OTHER_KEYS);
        }
    }
    let mut write = labels.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(label) = write.get(key) {
        return label.clone();
    }
    if write.len() >= max_key_labels() {
        return SharedString::const_str(OTHER_KEYS);
    }
    let label = SharedString::from_shared(Arc::<str>::from(key.as_str()));
    write.insert(key.clone(), label.clone());
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_past_the_bound_fold_into_other() {
        set_max_key_labels(3);
        let labels: Vec<SharedString> =
            (0..5).map(|i| key_label(&Key::new(format!("https://h{i}.example")))).collect();
        assert_eq!(&*labels[2], "https://h2.example");
        assert_eq!(&*labels[3], OTHER_KEYS);
        assert_eq!(&*labels[4], OTHER_KEYS);
        assert_eq!(&*key_label(&Key::new("https://h0.example")), "https://h0.example");
        set_max_key_labels(DEFAULT_MAX_KEY_LABELS);
    }
}
