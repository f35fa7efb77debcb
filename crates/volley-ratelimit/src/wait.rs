//! Deciding whether, and how long, a request sleeps for its token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use volley_core::{Deadline, Key};

use crate::shared::Shared;
use crate::{RateLimited, WaitBound};

/// The most random delay added to a sleep while other requests are waiting too.
const MAX_JITTER: Duration = Duration::from_millis(50);

/// Counts a request as waiting until dropped (woken, or cancelled while asleep).
#[derive(Debug)]
pub(crate) struct Waiter(Arc<AtomicUsize>);

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl<C> Shared<C> {
    /// How long to sleep before asking the backend again, when it (or the key's pace, if
    /// `paced`) said `wait`; or the error to return at once because `wait` passes
    /// `max_wait` or the deadline.
    ///
    /// Waiters ask again when their sleep ends, and whoever asks first gets the token. Timers
    /// that end together fire in the order they were set, so without a random offset the
    /// request that won the last token, and asked again first, would win every token after
    /// it. While other requests are waiting, each sleep therefore gets up to an eighth of the
    /// wait (at most 50 ms) of jitter, never reaching past a bound. A lone waiter sleeps
    /// exactly `wait`.
    pub(crate) fn plan_wait(
        &self,
        key: &Option<Key>,
        wait: Duration,
        deadline: Option<Deadline>,
        paced: bool,
    ) -> Result<(Duration, Waiter), RateLimited> {
        let over_max = self.config.max_wait.filter(|max| wait > *max);
        let remaining = deadline.map(Deadline::remaining);
        let over_deadline = remaining.filter(|remaining| wait >= *remaining);
        let bound = match (over_max, over_deadline) {
            (Some(max), Some(remaining)) if max < remaining => Some(WaitBound::MaxWait { max }),
            (_, Some(remaining)) => Some(WaitBound::Deadline { remaining }),
            (Some(max), None) => Some(WaitBound::MaxWait { max }),
            (None, None) => None,
        };
        if let Some(bound) = bound {
            let key = self.key(key);
            let cooldown = self.backend.cooldown_remaining(key).is_some();
            let reason = match bound {
                WaitBound::MaxWait { .. } => "max_wait",
                WaitBound::Deadline { .. } => "deadline",
            };
            tracing::debug!(
                key = %key,
                reason,
                wait_ms = millis(wait),
                cooling_down = cooldown,
                paced,
                "rate limit refused: the wait would pass the request's bound"
            );
            #[cfg(feature = "metrics")]
            crate::metrics::refusal(key, reason);
            return Err(RateLimited::new(key.clone(), wait, bound, cooldown).paced(paced));
        }
        let others = self.waiting.fetch_add(1, Relaxed);
        let waiter = Waiter(self.waiting.clone());
        if others == 0 {
            return Ok((wait, waiter));
        }
        // Stay below the nearest bound, and keep the sleep past the deadline impossible.
        let slack = [self.config.max_wait.map(|max| max - wait), remaining.map(|r| (r - wait) / 2)]
            .into_iter()
            .flatten()
            .fold(MAX_JITTER.min(wait / 8), Duration::min);
        let jitter = Duration::from_nanos(fastrand::u64(..=slack.as_nanos() as u64));
        Ok((wait + jitter, waiter))
    }
}

/// `duration` in whole milliseconds, saturating: the unit of every wait in events.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
