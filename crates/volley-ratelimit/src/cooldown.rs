//! Server-requested cooldowns per key, consulted only while at least one exists, in a
//! sharded map of bounded size that the pacing state reuses.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use volley_core::{Key, KeyHashBuilder};

/// Enough shards that keys cooling down on many hosts rarely share a lock.
const SHARDS: usize = 16;
/// The most entries one shard holds…
const PER_SHARD: usize = 4096;
/// …so the most the map holds.
pub(crate) const MAX_COOLDOWNS: usize = SHARDS * PER_SHARD;

/// A value that stops mattering at some instant: the map drops it after then, and drops the
/// ones ending soonest first when a shard is full.
pub(crate) trait Ends {
    /// When this entry stops mattering.
    fn ends(&self) -> Instant;
}

impl Ends for Instant {
    fn ends(&self) -> Instant {
        *self
    }
}

type Shard<V> = Mutex<HashMap<Key, V, KeyHashBuilder>>;

/// `key → V`, sharded by key hash, at most [`MAX_COOLDOWNS`] entries.
///
/// The fast path is one relaxed load of `active`: while the map is empty (the normal case)
/// no lock is taken and the clock is not read.
///
/// A new key that finds its shard full first drops the shard's expired entries, then, if
/// it is still full, the half of them that end soonest: one O(shard) pass frees half the
/// shard, so insertion stays amortised O(1) however many keys a crawler meets.
#[derive(Debug)]
pub(crate) struct Bounded<V> {
    /// Entries in all shards, expired or not (they are dropped lazily).
    active: AtomicUsize,
    shards: Box<[Shard<V>]>,
}

/// `key → cooling down until`.
pub(crate) type Cooldowns = Bounded<Instant>;

impl<V: Ends> Bounded<V> {
    pub(crate) fn new() -> Self {
        Self {
            active: AtomicUsize::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
        }
    }

    /// Whether the map holds no entry (expired ones count until dropped).
    pub(crate) fn is_empty(&self) -> bool {
        self.active.load(Relaxed) == 0
    }

    /// Entries in the map, expired or not (until they are dropped).
    pub(crate) fn len(&self) -> usize {
        self.active.load(Relaxed)
    }

    /// Runs `f` on `key`'s entry, if any, under its shard's lock; `f` answers whether to
    /// drop the entry, and a value.
    pub(crate) fn with<R>(&self, key: &Key, f: impl FnOnce(&mut V) -> (bool, R)) -> Option<R> {
        let mut shard = self.shard(key);
        let (drop, answer) = f(shard.get_mut(key)?);
        if drop {
            shard.remove(key);
            self.active.fetch_sub(1, Relaxed);
        }
        Some(answer)
    }

    /// Runs `update` on `key`'s entry, or inserts `insert()` (making room first when the
    /// shard is full). Returns whether an entry was inserted.
    pub(crate) fn upsert(
        &self,
        key: &Key,
        update: impl FnOnce(&mut V),
        insert: impl FnOnce() -> V,
    ) -> bool {
        let mut shard = self.shard(key);
        if let Some(current) = shard.get_mut(key) {
            update(current);
            return false;
        }
        if shard.len() >= PER_SHARD {
            let dropped = make_room(&mut shard);
            self.active.fetch_sub(dropped, Relaxed);
        }
        shard.insert(key.clone(), insert());
        self.active.fetch_add(1, Relaxed);
        true
    }

    /// Drops every entry that has ended.
    pub(crate) fn prune(&self) {
        if self.is_empty() {
            return;
        }
        let now = Instant::now();
        for shard in &self.shards {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|_, value| value.ends() > now);
            self.active.fetch_sub(before - shard.len(), Relaxed);
            if shard.is_empty() {
                shard.shrink_to_fit();
            }
        }
    }

    fn shard(&self, key: &Key) -> MutexGuard<'_, HashMap<Key, V, KeyHashBuilder>> {
        // The remainder is below SHARDS, so the cast cannot truncate.
        let index = (KeyHashBuilder.hash_one(key) % SHARDS as u64) as usize;
        lock(&self.shards[index])
    }
}

impl Cooldowns {
    /// The time left of `key`'s cooldown; an expired entry is dropped on the way.
    #[inline]
    pub(crate) fn remaining(&self, key: &Key) -> Option<Duration> {
        // Inlined: every acquire asks, and almost always nothing is cooling down.
        if self.is_empty() { None } else { self.remaining_locked(key) }
    }

    fn remaining_locked(&self, key: &Key) -> Option<Duration> {
        let now = Instant::now();
        self.with(
            key,
            |until| if *until > now { (false, Some(*until - now)) } else { (true, None) },
        )?
    }

    /// Cools `key` down until `until`, keeping a later cooldown already in place. Returns
    /// whether this call extended the cooldown.
    pub(crate) fn set(&self, key: &Key, until: Instant) -> bool {
        let mut extended = true;
        let update = |current: &mut Instant| {
            extended = *current < until;
            *current = (*current).max(until);
        };
        self.upsert(key, update, || until);
        extended
    }
}

/// Frees at least half of a full shard: the expired entries, then the ones that end soonest
/// (ties broken arbitrarily). Returns how many were dropped.
fn make_room<V: Ends>(shard: &mut HashMap<Key, V, KeyHashBuilder>) -> usize {
    let before = shard.len();
    let now = Instant::now();
    shard.retain(|_, value| value.ends() > now);
    let keep = PER_SHARD / 2;
    if shard.len() > keep {
        // The `keep`th latest end: entries ending before it go, and enough of those ending
        // exactly then to leave `keep`.
        let mut ends: Vec<Instant> = shard.values().map(Ends::ends).collect();
        let cut = ends.len() - keep;
        let (_, threshold, _) = ends.select_nth_unstable(cut);
        let threshold = *threshold;
        let mut surplus =
            shard.len() - keep - ends[..cut].iter().filter(|e| **e < threshold).count();
        shard.retain(|_, value| match value.ends().cmp(&threshold) {
            Ordering::Less => false,
            Ordering::Equal if surplus > 0 => {
                surplus -= 1;
                false
            }
            _ => true,
        });
    }
    tracing::debug!(
        dropped = before - shard.len(),
        kept = shard.len(),
        "rate limit key map full: dropped the expired entries, then those ending soonest"
    );
    before - shard.len()
}

/// Every critical section is a single map update, so a panic elsewhere cannot leave a shard
/// inconsistent: ignore poisoning.
fn lock<V>(shard: &Shard<V>) -> MutexGuard<'_, HashMap<Key, V, KeyHashBuilder>> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cooldowns_expire_and_never_shorten() {
        let cooldowns = Cooldowns::new();
        let (a, b) = (Key::new("a"), Key::new("b"));
        assert_eq!(cooldowns.remaining(&a), None);
        assert!(cooldowns.set(&a, Instant::now() + Duration::from_secs(2)));
        assert!(!cooldowns.set(&a, Instant::now() + Duration::from_secs(1)));
        assert!(cooldowns.set(&b, Instant::now() + Duration::from_secs(5)));
        assert_eq!(cooldowns.remaining(&a), Some(Duration::from_secs(2)));
        assert_eq!(cooldowns.active.load(Relaxed), 2);

        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cooldowns.remaining(&a), None);
        assert_eq!(cooldowns.active.load(Relaxed), 1);
        tokio::time::advance(Duration::from_secs(3)).await;
        cooldowns.prune();
        assert_eq!(cooldowns.active.load(Relaxed), 0);
        assert_eq!(cooldowns.remaining(&b), None);
    }

    fn full_shard(ends: impl Fn(usize) -> Instant) -> HashMap<Key, Instant, KeyHashBuilder> {
        (0..PER_SHARD).map(|i| (Key::new(format!("k{i}")), ends(i))).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn making_room_drops_expired_then_soonest_then_ties_down_to_half() {
        let now = Instant::now();
        let s = Duration::from_secs;

        // All ending together: exactly half go, whatever the ties.
        let mut shard = full_shard(|_| now + s(60));
        assert_eq!(make_room(&mut shard), PER_SHARD / 2);
        assert_eq!(shard.len(), PER_SHARD / 2);

        // Ending one after another: the earlier half goes.
        let mut shard = full_shard(|i| now + s(1 + i as u64));
        make_room(&mut shard);
        assert_eq!(shard.len(), PER_SHARD / 2);
        assert!(shard.values().all(|until| *until > now + s(PER_SHARD as u64 / 2)));

        // Three quarters expired: only those go, every live one stays.
        let mut shard = full_shard(|i| if i % 4 == 0 { now + s(5) } else { now });
        assert_eq!(make_room(&mut shard), PER_SHARD * 3 / 4);
        assert!(shard.values().all(|until| *until == now + s(5)));

        // A quarter expired, and ties at the cut: the expired, then enough of the ties.
        let mut shard = full_shard(|i| now + s([0, 10, 10, 20][i % 4]));
        assert_eq!(make_room(&mut shard), PER_SHARD / 2);
        let at = |d| shard.values().filter(|until| **until == now + s(d)).count();
        assert_eq!((at(0), at(10), at(20)), (0, PER_SHARD / 4, PER_SHARD / 4));
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_never_holds_more_than_its_bound() {
        let cooldowns = Cooldowns::new();
        let until = Instant::now() + Duration::from_secs(60);
        for i in 0..MAX_COOLDOWNS * 2 {
            cooldowns.set(&Key::new(format!("k{i}")), until);
            assert!(cooldowns.len() <= MAX_COOLDOWNS);
        }
        let held: usize = cooldowns.shards.iter().map(|shard| lock(shard).len()).sum();
        assert_eq!(held, cooldowns.len());
        assert!(cooldowns.shards.iter().all(|shard| lock(shard).len() <= PER_SHARD));
    }
}
