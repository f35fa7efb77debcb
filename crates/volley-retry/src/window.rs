//! One key's retry budget: tower's `TpsBudget`, with a deposit that takes no lock.

use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::RetryBudget;

/// The window is cut into this many slots, each expiring as a whole (as in tower).
const SLOTS: usize = 10;

/// Deposits and withdrawals over a sliding window of `ttl`, with a reserve of
/// `min_per_sec × ttl` withdrawals: the arithmetic of tower's `TpsBudget`, kept exactly.
///
/// tower's budget takes a mutex on every deposit to see whether the current slot has
/// expired. Here the end of the current slot is also kept in an atomic, so a deposit
/// within it (nearly all of them) is a clock read, a load and an add; the lock is taken
/// only to move to the next slot.
pub(crate) struct KeyBudget {
    origin: Instant,
    /// When the current slot ends, in nanoseconds after `origin`.
    slot_ends: AtomicU64,
    /// The current slot's index and start; moving to the next slot takes this lock.
    generation: Mutex<(usize, Instant)>,
    slots: [AtomicIsize; SLOTS],
    /// Deposits minus withdrawals in the current slot.
    writer: AtomicIsize,
    reserve: isize,
    window: Duration,
    deposit_amount: isize,
    withdraw_amount: isize,
}

impl KeyBudget {
    pub(crate) fn new(config: RetryBudget) -> Self {
        let (ttl, ratio) = (config.ttl(), config.retry_ratio());
        // Integer amounts as in tower: each deposit earns `ratio` withdrawals.
        let (deposit_amount, withdraw_amount) = if ratio == 0.0 {
            (0, 1)
        } else if ratio <= 1.0 {
            (1, (1.0 / ratio) as isize)
        } else {
            (1000, (1000.0 / ratio) as isize)
        };
        let reserve = (config.min_per_sec() as isize)
            .saturating_mul(ttl.as_secs() as isize)
            .saturating_mul(withdraw_amount);
        let origin = Instant::now();
        let window = ttl / SLOTS as u32;
        Self {
            origin,
            slot_ends: AtomicU64::new(nanos(window)),
            generation: Mutex::new((0, origin)),
            slots: Default::default(),
            writer: AtomicIsize::new(0),
            reserve,
            window,
            deposit_amount,
            withdraw_amount,
        }
    }

    pub(crate) fn deposit(&self) {
        self.expire();
        self.writer.fetch_add(self.deposit_amount, Ordering::SeqCst);
    }

    /// Takes one retry's worth from the budget, if it holds that much.
    pub(crate) fn withdraw(&self) -> bool {
        self.expire();
        let sum = self.slots.iter().map(|slot| slot.load(Ordering::SeqCst)).fold(
            self.writer.load(Ordering::SeqCst).saturating_add(self.reserve),
            isize::saturating_add,
        );
        if sum < self.withdraw_amount {
            return false;
        }
        self.writer.fetch_add(-self.withdraw_amount, Ordering::SeqCst);
        true
    }

    /// Moves to the next slot once the current one has ended, clearing the slots of any
    /// windows that passed without a deposit.
    fn expire(&self) {
        let now = Instant::now();
        if nanos(now.saturating_duration_since(self.origin)) < self.slot_ends.load(Ordering::SeqCst)
        {
            return;
        }
        let mut generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        let (index, start) = *generation;
        let mut elapsed = now.saturating_duration_since(start);
        if elapsed < self.window {
            return;
        }
        self.slots[index].store(self.writer.swap(0, Ordering::SeqCst), Ordering::SeqCst);
        let mut next = (index + 1) % SLOTS;
        while elapsed > self.window {
            self.slots[next].store(0, Ordering::SeqCst);
            elapsed -= self.window;
            next = (next + 1) % SLOTS;
        }
        *generation = (next, now);
        let ends = now.saturating_duration_since(self.origin) + self.window;
        self.slot_ends.store(nanos(ends), Ordering::SeqCst);
    }
}

impl std::fmt::Debug for KeyBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBudget")
            .field("deposit", &self.deposit_amount)
            .field("withdraw", &self.withdraw_amount)
            .field("reserve", &self.reserve)
            .finish_non_exhaustive()
    }
}

/// Nanoseconds, saturating (a `u64` holds 584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(ttl_secs: u64, min_per_sec: u32, ratio: f32) -> KeyBudget {
        KeyBudget::new(RetryBudget::new(Duration::from_secs(ttl_secs), min_per_sec, ratio).unwrap())
    }

    async fn advance(ms: u64) {
        tokio::time::advance(Duration::from_millis(ms)).await;
    }

    // tower's own TpsBudget tests, on this budget.
    #[tokio::test(start_paused = true)]
    async fn empty_leaky_slots_and_reserve() {
        assert!(!budget(1, 0, 1.0).withdraw());

        let leaky = budget(1, 0, 1.0);
        leaky.deposit();
        advance(3000).await;
        assert!(!leaky.withdraw());

        let slots = budget(1, 0, 0.5);
        slots.deposit();
        slots.deposit();
        advance(901).await;
        // 900ms later, the deposit should still be valid
        assert!(slots.withdraw());
        // blank slate
        advance(2001).await;
        slots.deposit();
        advance(301).await;
        slots.deposit();
        advance(801).await;
        slots.deposit();
        // the first deposit is expired, but the 2nd should still be valid, with the 3rd
        assert!(slots.withdraw());

        let reserve = budget(1, 5, 1.0);
        assert!((0..5).all(|_| reserve.withdraw()));
        assert!(!reserve.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn the_default_allows_a_fifth_of_the_requests_plus_the_floor() {
        let default = KeyBudget::new(RetryBudget::default());
        (0..100).for_each(|_| default.deposit());
        // 10 s × 10/s of floor, and 20 for the 100 requests.
        assert_eq!((0..200).filter(|_| default.withdraw()).count(), 120);
        // Ten seconds later the withdrawals have expired with the deposits.
        advance(10_001).await;
        assert_eq!((0..200).filter(|_| default.withdraw()).count(), 100);
    }
}
