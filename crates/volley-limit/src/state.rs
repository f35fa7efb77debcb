use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use volley_core::{Key, KeyHashBuilder};

use crate::adaptive::Adaptive;
use crate::estimator::Estimator;
use crate::slot::{AdaptiveSlot, Memory};

/// The layer's configuration, fixed once the shared state is built.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) global_max: Option<usize>,
    pub(crate) per_key_max: Option<usize>,
    pub(crate) max_queue: Option<usize>,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) release_at_headers: bool,
}

/// Everything the clones of one layer and of its services share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) global: Option<Semaphore>,
    /// Requests queued on the global semaphore.
    pub(crate) global_waiting: AtomicUsize,
    /// Requests queued on any semaphore, global or per key.
    pub(crate) waiting: AtomicUsize,
    pub(crate) keys: Option<KeyMap>,
    /// Set when the per-key limits are adaptive; `None` keeps the fixed path free of clock
    /// reads and classification.
    pub(crate) adaptive: Option<Adaptive>,
}

impl Shared {
    pub(crate) fn new(config: Config, adaptive: Option<Adaptive>) -> Self {
        let keys = match &adaptive {
            Some(adaptive) => Some(KeyMap::adaptive(adaptive)),
            None => config.per_key_max.map(KeyMap::new),
        };
        Self {
            config,
            global: config.global_max.map(Semaphore::new),
            global_waiting: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            keys,
            adaptive,
        }
    }
}

/// The per-key semaphores, each kept only while someone holds or waits for one of its
/// permits.
///
/// Every reference to a slot outside the map is counted (`users`), taken and given back
/// under the map lock; the entry goes when the count reaches zero. So an idle key costs
/// nothing, and a key never has two live semaphores: a new one is made only when the old
/// one has no holder and no waiter left.
pub(crate) struct KeyMap {
    /// The fixed per-key limit, or the adaptive maximum.
    pub(crate) max: usize,
    map: Mutex<Slots>,
}

type SlotMap = HashMap<Key, Arc<KeySlot>, KeyHashBuilder>;

struct Slots {
    by_key: SlotMap,
    /// The last slot to go idle, all permits back, reused for the next new key: requests to
    /// one host one after another would otherwise allocate a slot each.
    spare: Option<Arc<KeySlot>>,
    /// Adaptive only: the limits of idle keys.
    memory: Option<Memory>,
}

pub(crate) struct KeySlot {
    pub(crate) key: Key,
    pub(crate) semaphore: Semaphore,
    pub(crate) waiting: AtomicUsize,
    /// Outstanding references handed out by `checkout`; only changed under the map lock.
    users: AtomicUsize,
    pub(crate) adaptive: Option<AdaptiveSlot>,
}

impl KeyMap {
    fn new(max: usize) -> Self {
        let slots = Slots { by_key: HashMap::default(), spare: None, memory: None };
        Self { max, map: Mutex::new(slots) }
    }

    fn adaptive(config: &Adaptive) -> Self {
        let memory = Memory::new(config);
        let slots = Slots { by_key: HashMap::default(), spare: None, memory: Some(memory) };
        Self { max: config.max, map: Mutex::new(slots) }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // Nothing panics while the lock is held, and a count is valid whatever happened.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A counted reference to `key`'s slot (made if absent), and whether one of its
    /// permits was free (and is now taken).
    pub(crate) fn checkout(&self, key: Key) -> (Arc<KeySlot>, bool) {
        let slot = {
            let mut slots = self.lock();
            match slots.by_key.get(&key) {
                Some(slot) => {
                    slot.users.fetch_add(1, Ordering::Relaxed);
                    Arc::clone(slot)
                }
                None if slots.memory.is_some() => {
                    let slot = Self::adaptive_slot(&mut slots, key.clone());
                    slots.by_key.insert(key, Arc::clone(&slot));
                    slot
                }
                None => {
                    let slot = self.fresh_slot(slots.spare.take(), key.clone());
                    slots.by_key.insert(key, Arc::clone(&slot));
                    slot
                }
            }
        };
        let permit = slot.semaphore.try_acquire().map(|p| p.forget()).is_ok();
        (slot, permit)
    }

    /// A slot for `key` with one user: `spare` relabelled when nobody else can see it.
    fn fresh_slot(&self, spare: Option<Arc<KeySlot>>, key: Key) -> Arc<KeySlot> {
        if let Some(mut spare) = spare
            && let Some(slot) = Arc::get_mut(&mut spare)
        {
            slot.key = key;
            *slot.users.get_mut() = 1;
            return spare;
        }
        Arc::new(KeySlot {
            key,
            semaphore: Semaphore::new(self.max),
            waiting: AtomicUsize::new(0),
            users: AtomicUsize::new(1),
            adaptive: None,
        })
    }

    /// A slot for `key` starting from its remembered adaptive limit (or the initial one).
    fn adaptive_slot(slots: &mut Slots, key: Key) -> Arc<KeySlot> {
        let memory = slots.memory.as_mut().expect("called for adaptive maps only");
        let estimator = match memory.by_key.remove(&key) {
            Some((estimator, _)) => estimator,
            None => Estimator::new(&memory.config),
        };
        let size = estimator.permits(&memory.config);
        #[cfg(feature = "metrics")]
        crate::metrics::adaptive_limit(&key, size);
        Arc::new(KeySlot {
            key,
            semaphore: Semaphore::new(size),
            waiting: AtomicUsize::new(0),
            users: AtomicUsize::new(1),
            adaptive: Some(AdaptiveSlot::new(estimator, size)),
        })
    }

    /// Gives back a reference from `checkout` (its permit, if any, was already returned).
    pub(crate) fn release(&self, slot: Arc<KeySlot>) {
        let mut slots = self.lock();
        if slot.users.fetch_sub(1, Ordering::Relaxed) != 1 {
            return;
        }
        let removed = slots.by_key.remove(&slot.key);
        debug_assert!(removed.as_ref().is_some_and(|removed| Arc::ptr_eq(removed, &slot)));
        drop(removed);
        if let Some(memory) = &mut slots.memory {
            if let Some(estimator) = slot.estimator() {
                memory.insert(slot.key.clone(), estimator);
            }
            return;
        }
        // No user left means no permit held and nobody waiting; checked anyway, since a
        // spare must be as good as new.
        let idle = slot.semaphore.available_permits() == self.max
            && slot.waiting.load(Ordering::Relaxed) == 0;
        if idle && Arc::strong_count(&slot) == 1 {
            slots.spare = Some(slot);
        }
    }

    fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    fn in_flight(&self) -> usize {
        self.lock().by_key.values().map(|slot| slot.held(self.max)).sum()
    }

    /// The limit of `key`: live, remembered, or the one a new key would get.
    fn limit(&self, key: &Key) -> usize {
        let slots = self.lock();
        if let Some(slot) = slots.by_key.get(key) {
            return slot.limit(self.max);
        }
        match &slots.memory {
            Some(memory) => match memory.by_key.get(key) {
                Some((estimator, _)) => estimator.permits(&memory.config),
                None => memory.config.initial,
            },
            None => self.max,
        }
    }

    fn remembered(&self) -> usize {
        self.lock().memory.as_ref().map_or(0, |memory| memory.by_key.len())
    }

    fn slot(&self, key: &Key) -> Option<Arc<KeySlot>> {
        self.lock().by_key.get(key).map(Arc::clone)
    }
}

/// A live view of one layer's limits, shared with every clone of the layer and of its
/// services; from [`ConcurrencyLimitLayer::state`](crate::ConcurrencyLimitLayer::state) or
/// [`ConcurrencyLimit::state`](crate::ConcurrencyLimit::state).
///
/// Cheap to clone (one reference count). Reading [`in_flight`](Self::in_flight) without a
/// global limit, [`tracked_keys`](Self::tracked_keys) and the per-key figures takes the
/// key map's lock.
#[derive(Clone)]
pub struct LimitState {
    shared: Arc<Shared>,
}

impl LimitState {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The global limit, or `None` when there is none.
    pub fn global_max(&self) -> Option<usize> {
        self.shared.config.global_max
    }

    /// The per-key limit, or `None` when there is none; with an adaptive limit, its
    /// maximum (see [`limit`](Self::limit) for a key's limit now).
    pub fn per_key_max(&self) -> Option<usize> {
        self.shared.config.per_key_max
    }

    /// Free global permits, or `None` when there is no global limit.
    pub fn available_global(&self) -> Option<usize> {
        self.shared.global.as_ref().map(Semaphore::available_permits)
    }

    /// Requests holding their permits: admitted and not yet released (their response body
    /// has not ended, or the inner service has not answered yet).
    pub fn in_flight(&self) -> usize {
        match (&self.shared.global, &self.shared.keys, self.shared.config.global_max) {
            (Some(global), _, Some(max)) => max - global.available_permits(),
            (_, Some(keys), _) => keys.in_flight(),
            _ => 0,
        }
    }

    /// Requests waiting for a permit, global or per key. A request handed a permit by a
    /// release counts as waiting (and as in flight) until its task next runs.
    pub fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }

    /// Keys with state in memory: someone holds or waits for one of their permits. Idle
    /// keys are forgotten, so this returns to zero when the layer is idle.
    pub fn tracked_keys(&self) -> usize {
        self.shared.keys.as_ref().map_or(0, KeyMap::len)
    }

    /// Permits of `key` held right now (zero for an idle key or without per-key limit).
    pub fn in_flight_for(&self, key: &Key) -> usize {
        let Some(keys) = &self.shared.keys else { return 0 };
        keys.slot(key).map_or(0, |slot| slot.held(keys.max))
    }

    /// The per-key limit of `key` now: the fixed one, or the adaptive one (the initial limit
    /// for a key never seen or forgotten). `None` without a per-key limit.
    pub fn limit(&self, key: &Key) -> Option<usize> {
        self.shared.keys.as_ref().map(|keys| keys.limit(key))
    }

    /// Idle keys whose adaptive limit is remembered (at most
    /// [`Adaptive::max_keys`](crate::Adaptive::max_keys)); zero for fixed limits.
    pub fn remembered_keys(&self) -> usize {
        self.shared.keys.as_ref().map_or(0, KeyMap::remembered)
    }

    /// Requests waiting for a permit of `key`.
    pub fn waiting_for(&self, key: &Key) -> usize {
        let slot = self.shared.keys.as_ref().and_then(|keys| keys.slot(key));
        slot.map_or(0, |slot| slot.waiting.load(Ordering::Relaxed))
    }
}

impl fmt::Debug for LimitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitState")
            .field("global_max", &self.global_max())
            .field("per_key_max", &self.per_key_max())
            .field("available_global", &self.available_global())
            .field("waiting", &self.waiting())
            .field("tracked_keys", &self.tracked_keys())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_slot_is_reused_for_the_next_key_with_all_its_permits() {
        let keys = KeyMap::new(2);
        let (a, permit) = keys.checkout(Key::new("a"));
        assert!(permit);
        a.semaphore.add_permits(1);
        let first = Arc::as_ptr(&a);
        keys.release(a);
        assert_eq!(keys.len(), 0);

        let (b1, p1) = keys.checkout(Key::new("b"));
        let (b2, p2) = keys.checkout(Key::new("b"));
        let (b3, p3) = keys.checkout(Key::new("b"));
        assert_eq!(Arc::as_ptr(&b1), first);
        assert_eq!((b1.key.as_str(), p1, p2, p3), ("b", true, true, false));
        assert_eq!((keys.len(), keys.in_flight()), (1, 2));
        b1.semaphore.add_permits(2);
        for slot in [b1, b2, b3] {
            keys.release(slot);
        }
        assert_eq!((keys.len(), keys.in_flight()), (0, 0));
    }
}
