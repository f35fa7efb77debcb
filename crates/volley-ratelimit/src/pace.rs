//! Pacing from quota headers: the requests a server says remain, spread over the time until
//! its quota resets, per key.

use std::time::Duration;

use tokio::time::Instant;
use volley_core::Key;

use crate::cooldown::{Bounded, Ends};

/// Readings of one window never differ by this much in their reset: servers round the reset
/// up to whole seconds (`RateLimit`'s `t`, `X-RateLimit-Reset`), so every reading lies in
/// `[end, end + 1 s)`. A reading further from the current window's end is another window.
const SAME_WINDOW: Duration = Duration::from_secs(1);

/// One key's pace through its current window.
#[derive(Clone, Copy, Debug)]
struct Pace {
    /// Requests left in the window: the least any reading reported, less those let through
    /// since.
    remaining: u64,
    /// The window's end: the earliest any of its readings put it at (each one is late by
    /// its rounding, never early).
    reset: Instant,
    /// When the last request was let through (or the window's first reading arrived).
    last: Instant,
    /// Requests of this window that may still go unpaced.
    burst: u32,
}

impl Ends for Pace {
    fn ends(&self) -> Instant {
        self.reset
    }
}

impl Pace {
    /// The gap before the next request: what is left of the window, shared by the
    /// `remaining` requests and the first one of the next window, so that the last request
    /// of this window leaves one gap before the reset. At most `max`.
    fn spacing(&self, max: Duration) -> Duration {
        let span = self.reset.saturating_duration_since(self.last).as_nanos();
        // `span` is at most a year (the hint parser's clamp), so the quotient fits a u64.
        let gap = span / (u128::from(self.remaining) + 1);
        Duration::from_nanos(u64::try_from(gap).unwrap_or(u64::MAX)).min(max)
    }
}

/// A request held back by its key's pace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paced {
    /// Until the request may go.
    pub(crate) wait: Duration,
    /// Requests left in the window.
    pub(crate) remaining: u64,
    /// Time left until the window resets.
    pub(crate) reset: Duration,
}

/// `key → pace`, in the cooldown map's bounded shards: at most
/// [`MAX_COOLDOWNS`](crate::GovernorBackend::MAX_COOLDOWNS) keys, the ones ending soonest
/// dropped first when a shard is full, an ended window dropped when its key next asks.
#[derive(Debug)]
pub(crate) struct Pacing {
    paces: Bounded<Pace>,
    burst: u32,
    max: Duration,
}

impl Pacing {
    /// `burst` requests of every window go unpaced; no single gap exceeds `max`.
    pub(crate) fn new(burst: u32, max: Duration) -> Self {
        Self { paces: Bounded::new(), burst, max }
    }

    /// Lets a request for `key` through (and counts it against the window), or says how long
    /// it must wait. While no key is paced this is one relaxed load.
    #[inline]
    pub(crate) fn admit(&self, key: &Key) -> Option<Paced> {
        if self.paces.is_empty() { None } else { self.admit_locked(key) }
    }

    fn admit_locked(&self, key: &Key) -> Option<Paced> {
        let now = Instant::now();
        let answer = self.paces.with(key, |pace| {
            if now >= pace.reset {
                // The quota is restored: pacing ends until a response starts it again.
                return (true, None);
            }
            let at = pace.last + pace.spacing(self.max);
            if (pace.burst > 0 && pace.remaining > 0) || now >= at {
                pace.burst = pace.burst.saturating_sub(1);
                pace.remaining = pace.remaining.saturating_sub(1);
                pace.last = now;
                return (false, None);
            }
            let paced =
                Paced { wait: at - now, remaining: pace.remaining, reset: pace.reset - now };
            (false, Some(paced))
        });
        answer.flatten()
    }

    /// A response for `key` reported `remaining` requests left until `reset` from now.
    /// Returns the time left until the window resets, as the tightest of its readings.
    ///
    /// Responses to requests sent together arrive in any order, so a reading of the current
    /// window tightens it and never loosens it: the least remaining and the earliest reset
    /// win (each reading's reset is late by its rounding, so the earliest is the best
    /// estimate). A reading whose reset is further from the current window's end than
    /// rounding explains is another window, and the newest reading wins: the current one
    /// has ended (the server restarted its window before our estimate of the end, or it
    /// slides), or the server restored its quota early (a hostile reading corrected).
    pub(crate) fn read(&self, key: &Key, remaining: u64, reset: Duration) -> Duration {
        let now = Instant::now();
        // Cannot overflow: `RateLimitStatus` clamps its reset to `MAX_HINT`.
        let until = now + reset;
        let fresh = Pace { remaining, reset: until, last: now, burst: self.burst };
        let mut end = until;
        let update = |pace: &mut Pace| {
            let same_window = until + SAME_WINDOW > pace.reset && until < pace.reset + SAME_WINDOW;
            if now >= pace.reset || !same_window {
                *pace = fresh;
            } else {
                pace.remaining = pace.remaining.min(remaining);
                pace.reset = pace.reset.min(until);
            }
            end = pace.reset;
        };
        if self.paces.upsert(key, update, || fresh) {
            tracing::info!(
                key = %key,
                remaining,
                reset = ?reset,
                reset_ms = crate::wait::millis(reset),
                interval = ?fresh.spacing(self.max),
                interval_ms = crate::wait::millis(fresh.spacing(self.max)),
                "rate limit pacing starts: spreading the quota the server reports over its reset"
            );
        }
        end.saturating_duration_since(now)
    }

    /// The gap `key`'s requests are spread by now, if it is paced.
    pub(crate) fn interval(&self, key: &Key) -> Option<Duration> {
        if self.paces.is_empty() {
            return None;
        }
        let now = Instant::now();
        let spacing = |pace: &mut Pace| (false, (now < pace.reset).then(|| pace.spacing(self.max)));
        self.paces.with(key, spacing).flatten()
    }

    /// Keys with a pace, ended ones not yet dropped included.
    pub(crate) fn len(&self) -> usize {
        self.paces.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn spreads_the_remaining_over_the_reset_and_tightens_only() {
        let s = Duration::from_secs;
        let pacing = Pacing::new(0, s(60));
        let key = Key::new("k");
        assert!(pacing.admit(&key).is_none(), "no reading, no pace");
        // 9 left for 10 s: one a second, the 9th at 9 s, one gap before the reset.
        assert_eq!(pacing.read(&key, 9, s(10)), s(10));
        assert_eq!(pacing.interval(&key), Some(s(1)));
        assert_eq!(pacing.admit(&key).unwrap().wait, s(1));
        tokio::time::advance(s(1)).await;
        assert!(pacing.admit(&key).is_none());
        assert_eq!(pacing.admit(&key).unwrap().wait, s(1), "the gate closes behind it");

        // A stale reading (more remaining, a later reset by rounding) loosens nothing…
        assert_eq!(pacing.read(&key, 9, 9500 * MS), s(9));
        assert_eq!(pacing.admit(&key).unwrap().remaining, 8);
        // …a tighter one tightens: 2 left, the reset 500 ms earlier: 8.5 s / 3.
        assert_eq!(pacing.read(&key, 2, 8500 * MS), 8500 * MS);
        assert_eq!(pacing.interval(&key), Some(Duration::from_nanos(8_500_000_000 / 3)));
        // A reset a second or more before this window's end is a new window, read as is.
        assert_eq!(pacing.read(&key, 49, s(5)), s(5));
        assert_eq!(pacing.interval(&key), Some(100 * MS));
        // So is a reset well after it (the window restarted early, or slides).
        assert_eq!(pacing.read(&key, 19, s(7)), s(7));
        assert_eq!(pacing.interval(&key), Some(350 * MS));
        tokio::time::advance(s(7)).await;
        assert!(pacing.admit(&key).is_none(), "the window ended: released");
        assert_eq!(pacing.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_first_and_no_gap_exceeds_the_cap() {
        let pacing = Pacing::new(2, Duration::from_secs(60));
        let key = Key::new("k");
        pacing.read(&key, 3, Duration::from_secs(8));
        assert!(pacing.admit(&key).is_none());
        assert!(pacing.admit(&key).is_none());
        // One left for 8 s after the burst: halfway.
        assert_eq!(pacing.admit(&key).unwrap().wait, Duration::from_secs(4));

        // Nothing left until next year: one request a minute (the cap), not a year's wait,
        // and no burst out of nothing.
        let hostile = Key::new("h");
        pacing.read(&hostile, 0, Duration::from_secs(365 * 86_400));
        assert_eq!(pacing.admit(&hostile).unwrap().wait, Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(pacing.admit(&hostile).is_none());
        assert_eq!(pacing.admit(&hostile).unwrap().wait, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_never_holds_more_than_the_cooldowns_bound() {
        let max = crate::GovernorBackend::MAX_COOLDOWNS;
        let pacing = Pacing::new(0, Duration::from_secs(60));
        for i in 0..max * 2 {
            // Later keys end later: the oldest make room.
            let reset = Duration::from_secs(10) + Duration::from_nanos(i as u64);
            pacing.read(&Key::new(format!("k{i}")), 5, reset);
            assert!(pacing.len() <= max);
        }
        assert!(pacing.interval(&Key::new(format!("k{}", max * 2 - 1))).is_some());
        assert!(pacing.interval(&Key::new("k0")).is_none());
    }
}
