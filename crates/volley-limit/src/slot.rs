//! The adaptive side of the per-key state: a live key's estimator and semaphore
//! bookkeeping, and the bounded memory of idle keys' limits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use volley_core::{Key, KeyHashBuilder};

use crate::adaptive::Adaptive;
use crate::estimator::{Estimator, Sample};
use crate::state::KeySlot;

/// The moving part of an adaptive key: its estimator and the semaphore's bookkeeping.
///
/// `size` permits exist in all; `size + debt = available + held`. Shrinking forgets free
/// permits and records the rest as debt, which releases pay back instead of returning their
/// permit, so the limit never drops below what is in flight by force.
pub(crate) struct AdaptiveSlot {
    estimator: Mutex<Estimator>,
    size: AtomicUsize,
    debt: AtomicUsize,
    /// A copy of the estimator's epoch, read without its lock when a request is admitted.
    epoch: AtomicU64,
}

impl AdaptiveSlot {
    pub(crate) fn new(estimator: Estimator, size: usize) -> Self {
        Self {
            epoch: AtomicU64::new(estimator.epoch()),
            estimator: Mutex::new(estimator),
            size: AtomicUsize::new(size),
            debt: AtomicUsize::new(0),
        }
    }
}

impl KeySlot {
    /// The slot's limit now (`fixed` for a fixed per-key limit).
    #[inline]
    pub(crate) fn limit(&self, fixed: usize) -> usize {
        self.adaptive.as_ref().map_or(fixed, |a| a.size.load(Ordering::Relaxed))
    }

    /// Permits held right now.
    pub(crate) fn held(&self, fixed: usize) -> usize {
        let owed = self.adaptive.as_ref().map_or(0, |a| a.debt.load(Ordering::Relaxed));
        (self.limit(fixed) + owed).saturating_sub(self.semaphore.available_permits())
    }

    /// Gives one permit back, or pays one of the adaptive limit's debt with it.
    #[inline]
    pub(crate) fn give_back(&self) {
        let repaid = self.adaptive.as_ref().is_some_and(|a| {
            a.debt.fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1)).is_ok()
        });
        if !repaid {
            self.semaphore.add_permits(1);
        }
    }

    /// The adaptive epoch a request admitted now belongs to.
    pub(crate) fn epoch(&self) -> u64 {
        self.adaptive.as_ref().map_or(0, |a| a.epoch.load(Ordering::Relaxed))
    }

    /// Feeds one sample to the adaptive limit and resizes the semaphore to its new value.
    pub(crate) fn record(&self, config: &Adaptive, rtt: Duration, dropped: bool, epoch: u64) {
        let Some(adaptive) = &self.adaptive else { return };
        let in_flight = self.held(0);
        let mut estimator = adaptive.estimator.lock().unwrap_or_else(PoisonError::into_inner);
        let old = adaptive.size.load(Ordering::Relaxed);
        let sample = Sample { rtt, in_flight, dropped, epoch };
        estimator.update(config, sample, Instant::now());
        adaptive.epoch.store(estimator.epoch(), Ordering::Relaxed);
        let new = estimator.permits(config);
        if new == old {
            return;
        }
        let min_rtt = estimator.min_rtt();
        // Under the estimator's lock, so resizes never interleave.
        if new > old {
            let grow = new - old;
            let paid = match adaptive
                .debt
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| Some(d.saturating_sub(grow)))
            {
                Ok(before) | Err(before) => before.min(grow),
            };
            self.semaphore.add_permits(grow - paid);
        } else {
            let shrink = old - new;
            let forgotten = self.semaphore.forget_permits(shrink);
            adaptive.debt.fetch_add(shrink - forgotten, Ordering::AcqRel);
        }
        adaptive.size.store(new, Ordering::Relaxed);
        drop(estimator);
        #[cfg(feature = "metrics")]
        crate::metrics::adaptive_limit(&self.key, new);
        tracing::debug!(
            key = %self.key,
            old,
            new,
            algorithm = config.algorithm.as_str(),
            rtt_ms = rtt.as_secs_f64() * 1000.0,
            min_rtt_ms = min_rtt.map(|min| min.as_secs_f64() * 1000.0),
            dropped,
            in_flight,
            "adaptive concurrency limit changed"
        );
    }

    pub(crate) fn estimator(&self) -> Option<Estimator> {
        let adaptive = self.adaptive.as_ref()?;
        Some(adaptive.estimator.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

/// The adaptive limits of keys nobody uses right now, at most `max_keys` of them.
pub(crate) struct Memory {
    pub(crate) config: Adaptive,
    pub(crate) by_key: HashMap<Key, (Estimator, u64), KeyHashBuilder>,
    /// Stamps entries in the order they went idle, for eviction.
    clock: u64,
}

impl Memory {
    pub(crate) fn new(config: &Adaptive) -> Self {
        Self { config: config.clone(), by_key: HashMap::default(), clock: 0 }
    }

    pub(crate) fn insert(&mut self, key: Key, estimator: Estimator) {
        if self.by_key.len() >= self.config.max_keys {
            // Forget the older half at once, so a stream of new keys costs O(log n) each
            // instead of a scan per insert.
            let keep = self.config.max_keys / 2;
            if keep == 0 {
                self.by_key.clear();
            } else {
                let mut stamps: Vec<u64> = self.by_key.values().map(|(_, stamp)| *stamp).collect();
                let cut = stamps.len() - keep;
                let (_, &mut oldest_kept, _) = stamps.select_nth_unstable(cut);
                self.by_key.retain(|_, (_, stamp)| *stamp >= oldest_kept);
            }
        }
        self.clock += 1;
        self.by_key.insert(key, (estimator, self.clock));
    }
}
