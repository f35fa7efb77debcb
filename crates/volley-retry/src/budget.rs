use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tower::retry::budget::{Budget, TpsBudget};
use volley_core::Key;

use crate::ConfigError;

/// How many retries a key may add on top of its requests, so an outage cannot multiply
/// traffic.
///
/// Every request deposits into its key's budget and every retry withdraws; when the budget
/// is empty the last result is returned as it is. The shape is tower's `TpsBudget` (which
/// this wraps): over a sliding window of `ttl`, retries may add `retry_ratio` × requests,
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
    map: Mutex<HashMap<Key, Slot>>,
}

struct Slot {
    budget: Arc<TpsBudget>,
    last_used: Instant,
}

/// Idle keys are dropped once the map holds this many, so a crawler touching a million
/// hosts does not keep a million budgets.
const PRUNE_AT: usize = 1024;

impl Budgets {
    pub(crate) fn new(config: RetryBudget) -> Self {
        Self { config, map: Mutex::new(HashMap::new()) }
    }

    /// The budget of `key`, created on first use; the caller deposits or withdraws.
    pub(crate) fn get(&self, key: Key) -> Arc<TpsBudget> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= PRUNE_AT && !map.contains_key(&key) {
            // A budget idle for a whole window holds nothing but its floor: forget it.
            let ttl = self.config.ttl;
            map.retain(|_, slot| now.saturating_duration_since(slot.last_used) < ttl);
        }
        let config = self.config;
        let slot = map.entry(key).or_insert_with(|| Slot {
            budget: Arc::new(TpsBudget::new(config.ttl, config.min_per_sec, config.retry_ratio)),
            last_used: now,
        });
        slot.last_used = now;
        slot.budget.clone()
    }

    pub(crate) fn deposit(&self, key: Key) -> Arc<TpsBudget> {
        let budget = self.get(key);
        budget.deposit();
        budget
    }

    pub(crate) fn tracked_keys(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).len()
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
