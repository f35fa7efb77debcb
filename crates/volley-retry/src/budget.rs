use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use volley_core::{Key, KeyHashBuilder};

use crate::ConfigError;
use crate::window::KeyBudget;

/// How many retries a key may add on top of its requests, so an outage cannot multiply
/// traffic.
///
/// Every request deposits into its key's budget and every retry withdraws; when the budget
/// is empty the last result is returned as it is. The shape is tower's `TpsBudget` (which
/// whose arithmetic this keeps): over a sliding window of `ttl`, retries may add `retry_ratio` × requests,
/// plus a floor of `min_per_sec` retries per second so that a quiet key can still retry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    ttl: Duration,
    min_per_sec: u32,
    retry_ratio: f32,
}

impl RetryBudget {
    /// A budget over a window of `ttl` (1 s to 60 s) allowing `retry_ratio` (0 to 10)
    /// retries per request plus `min_per_sec` retries per second.
    pub fn new(ttl: Duration, min_per_sec: u32, retry_ratio: f32) -> Result<Self, ConfigError> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl) {
            return Err(ConfigError::new(format!(
                "retry budget window {ttl:?} is outside 1s..=60s"
            )));
        }
        if !(0.0..=10.0).contains(&retry_ratio) {
            return Err(ConfigError::new(format!(
                "retry budget ratio {retry_ratio} is outside 0..=10"
            )));
        }
        if min_per_sec >= i32::MAX as u32 {
            return Err(ConfigError::new(format!(
                "retry budget floor {min_per_sec}/s is too large"
            )));
        }
        Ok(Self { ttl, min_per_sec, retry_ratio })
    }

    /// The sliding window.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Retries per second always allowed.
    pub fn min_per_sec(&self) -> u32 {
        self.min_per_sec
    }

    /// Retries allowed per request, on top of the floor.
    pub fn retry_ratio(&self) -> f32 {
        self.retry_ratio
    }
}

impl Default for RetryBudget {
    /// 20 % of the requests of the last 10 s, plus 10 retries per second.
    fn default() -> Self {
        Self { ttl: Duration::from_secs(10), min_per_sec: 10, retry_ratio: 0.2 }
    }
}

/// The per-key budgets, shared by every clone of one retry layer.
pub(crate) struct Budgets {
    config: RetryBudget,
    map: Mutex<Slots>,
}

struct Slots {
    by_key: HashMap<Key, Slot, KeyHashBuilder>,
    /// Requests seen so far: idleness is counted in requests, which costs no clock read.
    tick: u64,
    /// The size at which the next sweep runs; it doubles when a sweep frees little, so a
    /// crawler meeting new hosts does not sweep on every request.
    sweep_at: usize,
}

struct Slot {
    budget: Arc<KeyBudget>,
    last_tick: u64,
}

/// Sweeps start once this many keys are tracked.
const SWEEP_AT: usize = 1024;
/// A key with no request among the last this many is idle, and its budget is dropped (a
/// fresh one starts at the floor).
const IDLE_TICKS: u64 = 4 * SWEEP_AT as u64;

impl Budgets {
    pub(crate) fn new(config: RetryBudget) -> Self {
        Self {
            config,
            map: Mutex::new(Slots { by_key: HashMap::default(), tick: 0, sweep_at: SWEEP_AT }),
        }
    }

    /// The budget of `key`, created on first use; the caller deposits or withdraws.
    pub(crate) fn get(&self, key: Key) -> Arc<KeyBudget> {
        let mut slots = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let slots = &mut *slots;
        slots.tick += 1;
        let tick = slots.tick;
        if let Some(slot) = slots.by_key.get_mut(&key) {
            slot.last_tick = tick;
            return slot.budget.clone();
        }
        if slots.by_key.len() >= slots.sweep_at {
            slots.by_key.retain(|_, slot| tick - slot.last_tick < IDLE_TICKS);
            slots.sweep_at = (slots.by_key.len() * 2).max(SWEEP_AT);
        }
        let budget = Arc::new(KeyBudget::new(self.config));
        slots.by_key.insert(key, Slot { budget: budget.clone(), last_tick: tick });
        budget
    }

    pub(crate) fn deposit(&self, key: Key) -> Arc<KeyBudget> {
        let budget = self.get(key);
        budget.deposit();
        budget
    }

    pub(crate) fn tracked_keys(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).by_key.len()
    }
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets")
            .field("config", &self.config)
            .field("tracked_keys", &self.tracked_keys())
            .finish()
    }
}
