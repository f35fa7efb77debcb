//! What every clone of one layer shares: the bounded map of circuits, and the handle that
//! shows it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use volley_core::{BreakerOpen, Key, KeyHashBuilder};

use crate::circuit::{Admit, Circuit, Config, Verdict};

/// The state of one key's circuit, as [`BreakerHandle::state`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through and their outcomes are counted.
    Closed,
    /// Calls are refused with [`BreakerOpen`] until `retry_in` has passed.
    Open {
        /// Time until the breaker lets a probe through.
        retry_in: Duration,
    },
    /// The open time is over: the next calls (up to the configured number of probes at
    /// once) go through, and their outcomes close or reopen the circuit.
    HalfOpen,
}

/// A call let through, to be counted when its outcome is known.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    generation: u64,
    probe: bool,
}

/// The layer's state: configuration and circuits, behind one `Arc`.
pub(crate) struct Shared<C> {
    pub(crate) core: Core,
    pub(crate) classifier: C,
}

/// Everything in [`Shared`] that does not depend on the classifier.
pub(crate) struct Core {
    pub(crate) config: Config,
    circuits: Mutex<Circuits>,
    opened: AtomicU64,
    refused: AtomicU64,
}

struct Circuits {
    map: HashMap<Key, Circuit, KeyHashBuilder>,
    next_generation: u64,
    /// When the map is full and a sweep found nothing to drop, the next sweep waits until
    /// then, so a flood of new keys does not scan the map on every call.
    next_sweep: Option<Instant>,
}

impl Core {
    pub(crate) fn new(config: Config) -> Self {
        let circuits = Circuits { map: HashMap::default(), next_generation: 1, next_sweep: None };
        Self {
            config,
            circuits: Mutex::new(circuits),
            opened: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Circuits> {
        // Nothing panics while the lock is held; if something did, the map is still sound.
        self.circuits.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lets a call through (`Some` ticket, or `None` when the key cannot be tracked because
    /// the map is full of keys with recent failures), or refuses it.
    pub(crate) fn admit(&self, key: &Key) -> Result<Option<Ticket>, BreakerOpen> {
        let now = Instant::now();
        let mut guard = self.lock();
        let circuits = &mut *guard;
        if !circuits.map.contains_key(key) && !circuits.make_room(&self.config, now) {
            return Ok(None);
        }
        let generation = circuits.next_generation;
        let circuit = circuits
            .map
            .entry(key.clone())
            .or_insert_with(|| Circuit::new(&self.config, now, generation));
        if circuit.generation == generation {
            circuits.next_generation += 1;
        }
        match circuit.admit(&self.config, key, now, &mut circuits.next_generation) {
            Admit::Call { generation, probe } => Ok(Some(Ticket { generation, probe })),
            Admit::Refuse { retry_in } => {
                drop(guard);
                self.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(key = %key, retry_in_ms = retry_in.as_millis() as u64, "circuit breaker refused a call");
                #[cfg(feature = "metrics")]
                metrics::counter!(
                    volley_core::telemetry::names::BREAKER_REFUSALS,
                    "key" => volley_core::telemetry::key_label(key)
                )
                .increment(1);
                Err(BreakerOpen::new(key.clone(), retry_in))
            }
        }
    }

    /// Counts the verdict of a call let through with `ticket`.
    pub(crate) fn record(&self, key: &Key, ticket: Ticket, verdict: Verdict) {
        let now = Instant::now();
        let mut guard = self.lock();
        let circuits = &mut *guard;
        let Some(circuit) = circuits.map.get_mut(key) else { return };
        if circuit.generation != ticket.generation {
            return;
        }
        if circuit.record(
            &self.config,
            key,
            ticket.probe,
            verdict,
            now,
            &mut circuits.next_generation,
        ) {
            self.opened.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Circuits {
    /// Whether a new key fits, after dropping idle circuits if the map is full.
    fn make_room(&mut self, config: &Config, now: Instant) -> bool {
        if self.map.len() < config.max_keys {
            return true;
        }
        if self.next_sweep.is_some_and(|at| now < at) {
            return false;
        }
        // Closed circuits without a recent failure carry nothing worth keeping; open,
        // half-open and failing ones are what the breaker is for, and stay.
        self.map.retain(|_, circuit| !circuit.is_idle(now));
        let fits = self.map.len() < config.max_keys;
        self.next_sweep = (!fits).then(|| now + Duration::from_millis(100));
        fits
    }
}

/// A live view of a [`BreakerLayer`](crate::BreakerLayer)'s circuits, shared with every
/// service it makes and every clone of them. Cheap to clone.
#[derive(Clone)]
pub struct BreakerHandle {
    core: Arc<dyn AsCore>,
}

pub(crate) trait AsCore: Send + Sync + 'static {
    fn core(&self) -> &Core;
}

impl<C: Send + Sync + 'static> AsCore for Shared<C> {
    fn core(&self) -> &Core {
        &self.core
    }
}

impl BreakerHandle {
    pub(crate) fn new(core: Arc<dyn AsCore>) -> Self {
        Self { core }
    }

    /// The state of `key`'s circuit, or `None` if the key is not tracked (never seen,
    /// dropped while idle, or not admitted to a full map). An open circuit whose time is up
    /// reports [`CircuitState::HalfOpen`]: the next call will be a probe.
    pub fn state(&self, key: &Key) -> Option<CircuitState> {
        let now = Instant::now();
        self.core.core().lock().map.get(key).map(|circuit| circuit.state(now))
    }

    /// How many keys have a circuit (at most the layer's `max_keys`).
    pub fn tracked_keys(&self) -> usize {
        self.core.core().lock().map.len()
    }

    /// How many times `key`'s circuit has opened (from closed, or again after a failed
    /// probe), or `None` if the key is not tracked.
    pub fn times_opened(&self, key: &Key) -> Option<u64> {
        self.core.core().lock().map.get(key).map(|circuit| circuit.times_opened)
    }

    /// How many times any circuit of this layer has opened.
    pub fn opened_total(&self) -> u64 {
        self.core.core().opened.load(Ordering::Relaxed)
    }

    /// How many calls this layer has refused.
    pub fn refused_total(&self) -> u64 {
        self.core.core().refused.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for BreakerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerHandle")
            .field("tracked_keys", &self.tracked_keys())
            .field("opened_total", &self.opened_total())
            .field("refused_total", &self.refused_total())
            .finish()
    }
}
