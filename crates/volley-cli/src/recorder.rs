//! The process-wide `metrics` recorder: the layers' metrics (names fixed in
//! `volley_core::telemetry::names`) counted into [`LayerCounts`].
//!
//! A metric is recognised by its name and its label values (stable snake_case strings such
//! as `outcome="throttled"` or `reason="budget"`), never by human text. Metrics the CLI
//! does not show get a no-op handle, so recording them costs a branch.

use std::sync::Arc;

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use volley_core::telemetry::names;

use crate::signals::LayerCounts;
use crate::stats::Refusal;

/// What one metric (a name and its labels) means to the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    /// `volley.attempts`; `throttled` when `outcome="throttled"`.
    Attempt { throttled: bool },
    /// `volley.retries`, any cause.
    Retry,
    /// `volley.retry.refusals`, by `reason`.
    Refused(Refusal),
    /// `volley.retry.wait` (seconds); `hint` when `cause="server_hint"`.
    RetryWait { hint: bool },
    /// `volley.ratelimit.wait` (seconds): an attempt held back in the rate limiter.
    Paced,
    /// `volley.ratelimit.cooldowns`: a host paused at the server's request.
    Cooldown,
}

impl Signal {
    fn of(key: &Key) -> Option<Signal> {
        let label = |name: &str| key.labels().find(|l| l.key() == name).map(|l| l.value());
        Some(match key.name() {
            names::ATTEMPTS => Signal::Attempt { throttled: label("outcome") == Some("throttled") },
            names::RETRIES => Signal::Retry,
            names::RETRY_REFUSALS => Signal::Refused(Refusal::from_label(label("reason")?)),
            names::RETRY_WAIT => Signal::RetryWait { hint: label("cause") == Some("server_hint") },
            names::RATE_LIMIT_WAIT => Signal::Paced,
            names::RATE_LIMIT_COOLDOWNS => Signal::Cooldown,
            _ => return None,
        })
    }
}

/// Install with `metrics::set_global_recorder`; clones share the counts.
#[derive(Clone, Debug)]
pub(crate) struct CountingRecorder(pub(crate) Arc<LayerCounts>);

/// The handle a layer records through: the signal, and where to count it.
#[derive(Debug)]
struct Handle {
    counts: Arc<LayerCounts>,
    signal: Signal,
}

impl CounterFn for Handle {
    fn increment(&self, n: u64) {
        let counts = &self.counts;
        match self.signal {
            Signal::Attempt { throttled } => {
                counts.attempts(n);
                if throttled {
                    counts.throttled(n);
                }
            }
            Signal::Retry => counts.retries(n),
            Signal::Refused(reason) => counts.refused(reason, n),
            Signal::Cooldown => counts.pauses(n),
            // Histograms, never registered as counters.
            Signal::RetryWait { .. } | Signal::Paced => {}
        }
    }

    // The layers only increment; an absolute value has no meaning for a run's counts.
    fn absolute(&self, _value: u64) {}
}

impl HistogramFn for Handle {
    fn record(&self, seconds: f64) {
        match self.signal {
            Signal::RetryWait { hint } => self.counts.retry_wait(hint, millis(seconds)),
            Signal::Paced => self.counts.paced(),
            _ => {}
        }
    }
}

/// Whole milliseconds in `seconds`; 0 for a negative or NaN value, which no layer sends.
fn millis(seconds: f64) -> u64 {
    // `as` saturates: infinity becomes u64::MAX, NaN 0.
    (seconds * 1000.0).round().max(0.0) as u64
}

impl CountingRecorder {
    fn handle(&self, key: &Key) -> Option<Arc<Handle>> {
        let signal = Signal::of(key)?;
        Some(Arc::new(Handle { counts: self.0.clone(), signal }))
    }
}

impl Recorder for CountingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.handle(key).map_or_else(Counter::noop, Counter::from_arc)
    }

    // Gauges (in flight, queued, adaptive limits) are read from `Client::limits` instead.
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.handle(key).map_or_else(Histogram::noop, Histogram::from_arc)
    }
}

#[cfg(test)]
mod tests {
    use metrics::{counter, histogram};

    use super::*;
    use crate::signals::{ItemTrace, ItemWaits, traced};

    fn record_a_run() {
        let key = "http://127.0.0.1:1";
        counter!(names::ATTEMPTS, "outcome" => "retryable", "key" => key).increment(2);
        counter!(names::ATTEMPTS, "outcome" => "throttled", "key" => key).increment(1);
        counter!(names::ATTEMPTS, "outcome" => "success", "key" => key).increment(1);
        counter!(names::RETRIES, "cause" => "backoff", "key" => key).increment(2);
        counter!(names::RETRIES, "cause" => "server_hint", "key" => key).increment(1);
        counter!(names::RETRY_REFUSALS, "reason" => "budget", "key" => key).increment(1);
        counter!(names::RETRY_REFUSALS, "reason" => "max_retries", "key" => key).increment(2);
        counter!(names::RETRY_REFUSALS, "reason" => "something_new", "key" => key).increment(1);
        histogram!(names::RETRY_WAIT, "cause" => "backoff").record(0.1);
        histogram!(names::RETRY_WAIT, "cause" => "backoff").record(0.25);
        histogram!(names::RETRY_WAIT, "cause" => "server_hint").record(2.0);
        histogram!(names::RATE_LIMIT_WAIT, "key" => key).record(0.05);
        counter!(names::RATE_LIMIT_COOLDOWNS, "key" => key).increment(1);
        // Not shown by the CLI: ignored, and no panic.
        counter!(names::TIMEOUTS, "kind" => "total").increment(1);
        metrics::gauge!(names::QUEUED, "key" => key).set(3.0);
        histogram!(names::REQUEST_DURATION).record(f64::NAN);
    }

    #[tokio::test]
    async fn metrics_become_run_and_request_counts() {
        let counts = Arc::new(LayerCounts::default());
        let recorder = CountingRecorder(counts.clone());
        let item = Arc::new(ItemTrace::default());
        // The local recorder is set per thread: record and await on this one.
        metrics::with_local_recorder(&recorder, || {
            futures_util::FutureExt::now_or_never(traced(item.clone(), async { record_a_run() }))
        })
        .expect("no await point");
        let got = counts.snapshot();
        assert_eq!((got.attempts, got.throttled, got.retries), (4, 1, 3));
        assert_eq!((got.backoff_waits, got.backoff_wait_ms), (2, 350));
        assert_eq!((got.hint_waits, got.hint_wait_ms), (1, 2000));
        assert_eq!((got.paced, got.pauses), (1, 1));
        assert_eq!(got.refused[Refusal::Budget as usize], 1);
        assert_eq!(got.refused[Refusal::MaxRetries as usize], 2);
        assert_eq!(got.refused[Refusal::Other as usize], 1);
        assert_eq!(got.refused.iter().sum::<u64>(), 4);
        assert_eq!(item.attempts(), 4);
        assert_eq!(item.waits(), ItemWaits { hint: (1, 2000), backoff: (2, 350), paced: 1 });
    }

    #[test]
    fn outside_a_request_only_the_run_counts() {
        let counts = Arc::new(LayerCounts::default());
        let recorder = CountingRecorder(counts.clone());
        metrics::with_local_recorder(&recorder, record_a_run);
        assert_eq!(counts.snapshot().attempts, 4);
    }

    #[test]
    fn odd_seconds_do_not_wrap() {
        assert_eq!(millis(-1.0), 0);
        assert_eq!(millis(f64::NAN), 0);
        assert_eq!(millis(f64::INFINITY), u64::MAX);
        assert_eq!(millis(0.0015), 2);
    }
}
