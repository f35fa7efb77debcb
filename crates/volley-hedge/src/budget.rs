use std::sync::atomic::{AtomicU64, Ordering};

/// Milli-tokens per hedge.
const HEDGE_COST: u64 = 1_000;

/// How many hedges quiet traffic may save up: a slowdown after a calm hour may not spend
/// a hedge per request for the next hundred requests.
pub(crate) const MAX_SAVED_HEDGES: u64 = 10;

/// A token bucket filled by requests and drained by hedges, shared by every clone of one
/// layer: each request adds `ratio` of a hedge, each hedge takes one whole, and at most
/// [`MAX_SAVED_HEDGES`] are kept. Over any run of requests, hedges ≤ ratio × requests + 10.
/// Counting in requests rather than seconds means no clock read and no idle decay.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Milli-tokens added per request (`ratio` × 1000, rounded).
    deposit: u64,
    balance: AtomicU64,
}

impl Budget {
    pub(crate) fn new(ratio: f64) -> Self {
        // `ratio` is validated to 0..=10 by the layer.
        let deposit = (ratio * HEDGE_COST as f64).round() as u64;
        Self { deposit, balance: AtomicU64::new(0) }
    }

    /// Whether hedges can ever be afforded (a ratio of 0 turns hedging off).
    pub(crate) fn is_enabled(&self) -> bool {
        self.deposit > 0
    }

    pub(crate) fn deposit(&self) {
        if self.deposit == 0 {
            return;
        }
        let cap = MAX_SAVED_HEDGES * HEDGE_COST;
        // A plain add, then a clamp: cheaper than a compare-and-swap loop on every request.
        let before = self.balance.fetch_add(self.deposit, Ordering::Relaxed);
        if before + self.deposit > cap {
            self.balance.fetch_min(cap, Ordering::Relaxed);
        }
    }

    /// Takes one hedge's worth, if there is one.
    pub(crate) fn try_withdraw(&self) -> bool {
        self.balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(HEDGE_COST))
            .is_ok()
    }

    /// Hedges affordable now.
    pub(crate) fn available(&self) -> u64 {
        self.balance.load(Ordering::Relaxed) / HEDGE_COST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_percent_allows_one_hedge_per_ten_requests_and_saves_at_most_ten() {
        let b = Budget::new(0.1);
        for _ in 0..9 {
            b.deposit();
        }
        assert!(!b.try_withdraw());
        b.deposit();
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
        for _ in 0..10_000 {
            b.deposit();
        }
        assert_eq!(b.available(), MAX_SAVED_HEDGES);
    }

    #[test]
    fn zero_never_allows_a_hedge() {
        let b = Budget::new(0.0);
        for _ in 0..1_000 {
            b.deposit();
        }
        assert!(!b.is_enabled());
        assert!(!b.try_withdraw());
    }
}
