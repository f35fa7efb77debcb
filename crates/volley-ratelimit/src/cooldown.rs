//! Server-requested cooldowns per key, consulted only while at least one exists.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use volley_core::{Key, KeyHashBuilder};

/// Enough shards that keys cooling down on many hosts rarely share a lock.
const SHARDS: usize = 16;

type Shard = Mutex<HashMap<Key, Instant, KeyHashBuilder>>;

/// `key → cooling down until`, sharded by key hash.
///
/// The fast path is one relaxed load of `active`: while no key is cooling down (the normal
/// case) no lock is taken and the clock is not read.
#[derive(Debug)]
pub(crate) struct Cooldowns {
    /// Entries in all shards, expired or not (they are dropped lazily).
    active: AtomicUsize,
    shards: Box<[Shard]>,
}

impl Cooldowns {
    pub(crate) fn new() -> Self {
        Self {
            active: AtomicUsize::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
        }
    }

    /// Whether no cooldown is recorded (expired ones count until dropped).
    pub(crate) fn is_empty(&self) -> bool {
        self.active.load(Relaxed) == 0
    }

    /// The time left of `key`'s cooldown; an expired entry is dropped on the way.
    #[inline]
    pub(crate) fn remaining(&self, key: &Key) -> Option<Duration> {
        // Inlined: every acquire asks, and almost always nothing is cooling down.
        if self.is_empty() { None } else { self.remaining_locked(key) }
    }

    fn remaining_locked(&self, key: &Key) -> Option<Duration> {
        let mut shard = self.shard(key);
        let until = *shard.get(key)?;
        let now = Instant::now();
        if until > now {
            return Some(until - now);
        }
        shard.remove(key);
        self.active.fetch_sub(1, Relaxed);
        None
    }

    /// Cools `key` down until `until`, keeping a later cooldown already in place. Returns
    /// whether this call extended the cooldown.
    pub(crate) fn set(&self, key: &Key, until: Instant) -> bool {
        let mut shard = self.shard(key);
        match shard.get_mut(key) {
            Some(current) if *current >= until => false,
            Some(current) => {
                *current = until;
                true
            }
            None => {
                shard.insert(key.clone(), until);
                self.active.fetch_add(1, Relaxed);
                true
            }
        }
    }

    /// Drops every cooldown that has ended.
    pub(crate) fn prune(&self) {
        if self.is_empty() {
            return;
        }
        let now = Instant::now();
        for shard in &self.shards {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|_, until| *until > now);
            self.active.fetch_sub(before - shard.len(), Relaxed);
            if shard.is_empty() {
                shard.shrink_to_fit();
            }
        }
    }

    fn shard(&self, key: &Key) -> MutexGuard<'_, HashMap<Key, Instant, KeyHashBuilder>> {
        // The remainder is below SHARDS, so the cast cannot truncate.
        let index = (KeyHashBuilder.hash_one(key) % SHARDS as u64) as usize;
        lock(&self.shards[index])
    }
}

/// Every critical section is a single map update, so a panic elsewhere cannot leave a shard
/// inconsistent: ignore poisoning.
fn lock(shard: &Shard) -> MutexGuard<'_, HashMap<Key, Instant, KeyHashBuilder>> {
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
}
