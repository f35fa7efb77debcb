//! Recording of the rate limiter's metrics of `volley_core::telemetry` (feature `metrics`),
//! labelled by the key's bounded label (`*` in global mode).

use std::time::Duration;

use volley_core::Key;
use volley_core::telemetry::{key_label, names};

/// A request waited `wait` in the limiter (tokens, cooldown, pace) before being sent.
pub(crate) fn wait(key: &Key, wait: Duration) {
    metrics::histogram!(names::RATE_LIMIT_WAIT, "key" => key_label(key)).record(wait.as_secs_f64());
}

/// A server's answer cooled `key` down.
pub(crate) fn cooldown(key: &Key) {
    metrics::counter!(names::RATE_LIMIT_COOLDOWNS, "key" => key_label(key)).increment(1);
}

/// The limiter refused a request of `key` whose wait would pass `reason` (`deadline`,
/// `max_wait`).
pub(crate) fn refusal(key: &Key, reason: &'static str) {
    metrics::counter!(names::RATE_LIMIT_REFUSALS, "key" => key_label(key), "reason" => reason)
        .increment(1);
}
