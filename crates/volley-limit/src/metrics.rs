//! Recording of the concurrency metrics of `volley_core::telemetry` (feature `metrics`).
//!
//! Gauges are labelled by `key`: the key's bounded label for a per-key limit, and
//! [`GLOBAL`] for the global limit, so one series per limit and never one per request.

use std::time::Duration;

use metrics::SharedString;
use volley_core::Key;
use volley_core::telemetry::{key_label, names};

/// The `key` label value of the global limit (keys are origins: they never read "global").
pub(crate) const GLOBAL: &str = "global";

fn label(key: Option<&Key>) -> SharedString {
    key.map_or(SharedString::const_str(GLOBAL), key_label)
}

/// A permit of `key`'s limit (`None`: the global one) was taken (`+1.0`) or given back.
pub(crate) fn in_flight(key: Option<&Key>, delta: f64) {
    metrics::gauge!(names::IN_FLIGHT, "key" => label(key)).increment(delta);
}

/// A request joined (`+1.0`) or left the queue of `key`'s limit (`None`: the global one).
pub(crate) fn queued(key: Option<&Key>, delta: f64) {
    metrics::gauge!(names::QUEUED, "key" => label(key)).increment(delta);
}

/// A request waited `wait` in the queue of `key`'s limit before getting its permit.
pub(crate) fn queue_wait(key: Option<&Key>, wait: Duration) {
    metrics::histogram!(names::QUEUE_WAIT, "key" => label(key)).record(wait.as_secs_f64());
}

/// `key`'s adaptive limit is now `limit`.
pub(crate) fn adaptive_limit(key: &Key, limit: usize) {
    metrics::gauge!(names::ADAPTIVE_LIMIT, "key" => key_label(key)).set(limit as f64);
}
