//! Whether Redis is reachable: known outages skip it, one probe at a time asks again.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;

/// Redis's reachability as this process last saw it.
///
/// While it is up every acquire asks Redis. The first failure (an error or no answer within
/// the timeout) starts an outage: it is logged once, at warn level, and from then on
/// acquires do not ask Redis but apply the failure policy at once, and once per
/// `probe_interval` a background task pings Redis (bounded by the timeout). The first
/// answer ends the outage, logged once at info level.
pub(crate) struct Health {
    down: AtomicBool,
    /// While down: when the next probe is due, in milliseconds since `epoch`.
    next_probe_ms: AtomicU64,
    epoch: Instant,
    probe_interval: Duration,
    outages: AtomicU64,
}

impl Health {
    pub(crate) fn new(probe_interval: Duration) -> Self {
        Self {
            down: AtomicBool::new(false),
            next_probe_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            probe_interval,
            outages: AtomicU64::new(0),
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// While down, whether a probe is due; the first caller to find it due gets `true`
    /// (and schedules the next one), the others `false`.
    pub(crate) fn probe_due(&self) -> bool {
        let now = self.ms(Instant::now());
        let due = self.next_probe_ms.load(Relaxed);
        let next = now.saturating_add(self.probe_interval_ms());
        now >= due && self.next_probe_ms.compare_exchange(due, next, Relaxed, Relaxed).is_ok()
    }

    fn probe_interval_ms(&self) -> u64 {
        u64::try_from(self.probe_interval.as_millis()).unwrap_or(u64::MAX)
    }

    /// Redis failed: starts an outage (logged once) or pushes the next probe back.
    pub(crate) fn failed(&self, what: &dyn fmt::Display) {
        let next = self.ms(Instant::now()).saturating_add(self.probe_interval_ms());
        self.next_probe_ms.store(next, Relaxed);
        if !self.down.swap(true, Relaxed) {
            let outage = self.outages.fetch_add(1, Relaxed) + 1;
            tracing::warn!(
                outage,
                error = %what,
                probe_every = ?self.probe_interval,
                "redis rate limit store unreachable: applying the failure policy until it answers"
            );
        }
    }

    /// Redis answered: ends an outage (logged once).
    pub(crate) fn answered(&self) {
        if self.down.load(Relaxed) && self.down.swap(false, Relaxed) {
            tracing::info!(
                outage = self.outages.load(Relaxed),
                "redis rate limit store reachable again: shared limiting resumed"
            );
        }
    }

    /// Whether an outage is going on.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Relaxed)
    }

    /// How many outages began since the backend was built.
    pub(crate) fn outages(&self) -> u64 {
        self.outages.load(Relaxed)
    }
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("down", &self.is_down())
            .field("outages", &self.outages())
            .field("probe_interval", &self.probe_interval)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_probe_per_interval_while_down() {
        let health = Health::new(Duration::from_millis(500));
        assert!(!health.is_down());
        health.failed(&"connection refused");
        health.failed(&"connection refused");
        assert_eq!((health.is_down(), health.outages()), (true, 1));
        assert!(!health.probe_due());

        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(!health.probe_due());
        tokio::time::advance(Duration::from_millis(1)).await;
        // One probe, then none until the next interval.
        assert_eq!((0..10).filter(|_| health.probe_due()).count(), 1);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!((0..10).filter(|_| health.probe_due()).count(), 1);

        health.answered();
        assert!(!health.is_down());
        health.failed(&"timeout");
        assert_eq!(health.outages(), 2);
    }
}
