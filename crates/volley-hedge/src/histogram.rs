//! Per-key rolling latency histograms, for the percentile delay.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use volley_core::{Key, KeyHashBuilder};

/// Values below this many microseconds get a bucket each.
const LINEAR: u64 = 8;
/// Sub-buckets per power of two: each bucket spans at most 1/8 of its values (12.5 %).
const SUB_BITS: u32 = 3;
/// Latencies are recorded in microseconds up to 2²⁶ µs (67 s); longer ones count as that.
const MAX_EXP: u32 = 26;
const BUCKETS: usize = (LINEAR as usize) + ((MAX_EXP - SUB_BITS) as usize) * (1 << SUB_BITS);

/// One window's counts: a log-linear histogram of microseconds, 192 buckets of `u32`.
#[derive(Clone)]
struct Counts {
    buckets: [u32; BUCKETS],
    total: u32,
}

impl Counts {
    const EMPTY: Counts = Counts { buckets: [0; BUCKETS], total: 0 };

    fn record(&mut self, micros: u64) {
        let i = index(micros);
        self.buckets[i] = self.buckets[i].saturating_add(1);
        self.total = self.total.saturating_add(1);
    }
}

fn index(micros: u64) -> usize {
    let v = micros.min((1 << MAX_EXP) - 1);
    if v < LINEAR {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // ≥ SUB_BITS
    let sub = (v >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    LINEAR as usize + ((exp - SUB_BITS) as usize) * (1 << SUB_BITS) + sub as usize
}

/// The largest value that lands in bucket `i`: the percentile is reported at the top of its
/// bucket, so the delay errs late (a hedge too few) rather than early (a hedge too many).
fn upper(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let j = i - LINEAR as usize;
    let exp = (j >> SUB_BITS) as u32 + SUB_BITS;
    let sub = (j & ((1 << SUB_BITS) - 1)) as u64;
    (((1 << SUB_BITS) + sub + 1) << (exp - SUB_BITS)) - 1
}

/// Two windows of one key: the current one is written, both are read, so a percentile
/// always covers between one and two windows of the most recent samples.
struct Rolling {
    current: Box<Counts>,
    previous: Box<Counts>,
    started: Instant,
    last_used: Instant,
    /// The last quantile computed (for which `q` and `min_samples`) and the samples
    /// recorded since: the buckets are walked once per [`RECOMPUTE_EVERY`] samples, not
    /// once per request.
    cached: Option<(f64, u32, Option<Duration>)>,
    since_cached: u32,
}

/// Samples after which a cached quantile is computed again.
const RECOMPUTE_EVERY: u32 = 8;

impl Rolling {
    fn new(now: Instant) -> Self {
        Self {
            current: Box::new(Counts::EMPTY),
            previous: Box::new(Counts::EMPTY),
            started: now,
            last_used: now,
            cached: None,
            since_cached: 0,
        }
    }

    fn record(&mut self, micros: u64) {
        self.current.record(micros);
        self.since_cached = self.since_cached.saturating_add(1);
    }

    fn cached_quantile(&mut self, q: f64, min_samples: u32) -> Option<Duration> {
        // `None` (too few samples) is never cached: finding it out costs nothing, and the
        // sample that makes a key trusted must count at once.
        if let Some((cached_q, cached_min, Some(value))) = self.cached
            && cached_q == q
            && cached_min == min_samples
            && self.since_cached < RECOMPUTE_EVERY
        {
            return Some(value);
        }
        let value = self.quantile(q, min_samples);
        self.cached = Some((q, min_samples, value));
        self.since_cached = 0;
        value
    }

    fn rotate(&mut self, now: Instant, window: Duration) {
        let age = now.saturating_duration_since(self.started);
        if age < window {
            return;
        }
        self.cached = None;
        if age < window * 2 {
            std::mem::swap(&mut self.current, &mut self.previous);
            *self.current = Counts::EMPTY;
            self.started += window;
        } else {
            *self.current = Counts::EMPTY;
            *self.previous = Counts::EMPTY;
            self.started = now;
        }
    }

    fn quantile(&self, q: f64, min_samples: u32) -> Option<Duration> {
        let total = self.current.total.saturating_add(self.previous.total);
        if total == 0 || total < min_samples {
            return None;
        }
        // The rank of the q-quantile, 1-based: the smallest value with at least q of the
        // samples at or below it.
        let rank = ((q * f64::from(total)).ceil() as u32).clamp(1, total);
        let mut seen = 0u32;
        for i in 0..BUCKETS {
            seen = seen
                .saturating_add(self.current.buckets[i])
                .saturating_add(self.previous.buckets[i]);
            if seen >= rank {
                return Some(Duration::from_micros(upper(i)));
            }
        }
        Some(Duration::from_micros(upper(BUCKETS - 1)))
    }
}

/// The histograms of every key, bounded to `max_keys`.
pub(crate) struct Latencies {
    by_key: HashMap<Key, Rolling, KeyHashBuilder>,
    max_keys: usize,
}

impl Latencies {
    pub(crate) fn new(max_keys: usize) -> Self {
        Self { by_key: HashMap::default(), max_keys }
    }

    /// The `q`-quantile of `key`'s recent successful latencies, once it has `min_samples`.
    pub(crate) fn quantile(
        &mut self,
        key: &Key,
        now: Instant,
        window: Duration,
        q: f64,
        min_samples: u32,
    ) -> Option<Duration> {
        let rolling = self.by_key.get_mut(key)?;
        rolling.rotate(now, window);
        rolling.last_used = now;
        rolling.cached_quantile(q, min_samples)
    }

    /// Records one successful attempt's latency under `key`.
    pub(crate) fn record(&mut self, key: &Key, now: Instant, window: Duration, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if let Some(rolling) = self.by_key.get_mut(key) {
            rolling.rotate(now, window);
            rolling.last_used = now;
            rolling.record(micros);
            return;
        }
        if self.max_keys == 0 {
            return;
        }
        if self.by_key.len() >= self.max_keys {
            self.make_room(now, window);
        }
        let mut rolling = Rolling::new(now);
        rolling.record(micros);
        self.by_key.insert(key.clone(), rolling);
    }

    /// Drops keys idle for two windows (their histograms are empty by then anyway); if
    /// every key is in use, drops the one used longest ago. Runs only when the map is full,
    /// and costs one pass over at most `max_keys` entries.
    fn make_room(&mut self, now: Instant, window: Duration) {
        self.by_key.retain(|_, r| now.saturating_duration_since(r.last_used) < window * 2);
        if self.by_key.len() < self.max_keys {
            return;
        }
        let oldest = self.by_key.iter().min_by_key(|(_, r)| r.last_used).map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            self.by_key.remove(&oldest);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_and_their_tops_are_within_an_eighth() {
        for v in [0u64, 1, 7, 8, 9, 15, 16, 100, 999, 1_000, 5_000, 65_535, 1 << 25] {
            let i = index(v);
            assert!(upper(i) >= v, "{v} above the top of its bucket {}", upper(i));
            assert!(i == 0 || upper(i - 1) < v, "{v} belongs to an earlier bucket");
            assert!(upper(i) - v <= v / 8, "bucket of {v} too wide: top {}", upper(i));
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(upper(index(5_000)), 5_119);
    }

    #[test]
    fn quantile_needs_min_samples_and_reports_the_top_of_its_bucket() {
        let now = Instant::now();
        let mut r = Rolling::new(now);
        for _ in 0..19 {
            r.current.record(5_000);
        }
        assert_eq!(r.quantile(0.95, 20), None);
        r.current.record(1_000_000);
        // 19 of 20 at 5 ms: the 95th percentile is rank 19, still 5 ms.
        assert_eq!(r.quantile(0.95, 20), Some(Duration::from_micros(5_119)));
        assert!(r.quantile(0.99, 20).unwrap() >= Duration::from_secs(1));
    }

    #[test]
    fn windows_rotate_and_old_samples_fall_out() {
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        let mut r = Rolling::new(t0);
        r.current.record(100);
        r.rotate(t0 + Duration::from_secs(12), w);
        assert_eq!((r.previous.total, r.current.total), (1, 0));
        assert_eq!(r.quantile(0.5, 1), Some(Duration::from_micros(103))); // top of 96..=103
        r.rotate(t0 + Duration::from_secs(21), w);
        assert_eq!((r.previous.total, r.current.total), (0, 0));
        r.current.record(100);
        r.rotate(t0 + Duration::from_secs(60), w);
        assert_eq!(r.quantile(0.5, 1), None);
    }

    #[test]
    fn the_key_bound_holds_and_evicts_the_least_recently_used() {
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        let mut l = Latencies::new(4);
        for i in 0..4 {
            l.record(&Key::new(format!("k{i}")), t0 + Duration::from_millis(i), w, Duration::ZERO);
        }
        l.record(&Key::new("k0"), t0 + Duration::from_millis(10), w, Duration::ZERO);
        l.record(&Key::new("new"), t0 + Duration::from_millis(11), w, Duration::ZERO);
        assert_eq!(l.len(), 4);
        assert!(l.by_key.contains_key(&Key::new("k0")));
        assert!(!l.by_key.contains_key(&Key::new("k1")));
    }
}
