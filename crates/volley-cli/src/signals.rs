//! What the layers did, as typed signals: one sink of run-wide counters ([`LayerCounts`])
//! and one per request ([`ItemTrace`]), fed by the process-wide metrics recorder
//! (`recorder`) and, for the few figures no metric carries, by a tracing layer (`trace`).
//!
//! Feeders call the methods here with typed values (a [`Refusal`], milliseconds as a
//! number); nothing in this module reads text. The request being sent is found through a
//! task local, since every attempt of a request, and every wait before one, runs on that
//! request's task.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::stats::{Counts, Refusal};

/// Run-wide counters, shared by the feeders and whoever prints them.
#[derive(Debug, Default)]
pub(crate) struct LayerCounts {
    attempts: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    hint_waits: AtomicU64,
    hint_wait_ms: AtomicU64,
    backoff_waits: AtomicU64,
    backoff_wait_ms: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
    pauses: AtomicU64,
    pauses_quota: AtomicU64,
    longest_pause_us: AtomicU64,
    paced: AtomicU64,
}

impl LayerCounts {
    /// The counts so far.
    pub(crate) fn snapshot(&self) -> Counts {
        Counts {
            attempts: self.attempts.load(Relaxed),
            retries: self.retries.load(Relaxed),
            throttled: self.throttled.load(Relaxed),
            hint_waits: self.hint_waits.load(Relaxed),
            hint_wait_ms: self.hint_wait_ms.load(Relaxed),
            backoff_waits: self.backoff_waits.load(Relaxed),
            backoff_wait_ms: self.backoff_wait_ms.load(Relaxed),
            refused: Refusal::ALL.map(|r| self.refused[r as usize].load(Relaxed)),
            pauses: self.pauses.load(Relaxed),
            pauses_quota: self.pauses_quota.load(Relaxed),
            longest_pause_ms: self.longest_pause_us.load(Relaxed) as f64 / 1000.0,
            paced: self.paced.load(Relaxed),
        }
    }

    /// `n` attempts sent by the retry layer, for the run and the current request.
    pub(crate) fn attempts(&self, n: u64) {
        self.attempts.fetch_add(n, Relaxed);
        with_item(|item| {
            item.attempts.fetch_add(saturate(n), Relaxed);
        });
    }

    /// `n` attempts answered "slow down" (429, or 503 with a hint).
    pub(crate) fn throttled(&self, n: u64) {
        self.throttled.fetch_add(n, Relaxed);
    }

    /// `n` retries sent (attempts after a request's first).
    pub(crate) fn retries(&self, n: u64) {
        self.retries.fetch_add(n, Relaxed);
    }

    /// One sleep of `ms` before a retry: the server's hint (`Retry-After`) or backoff.
    pub(crate) fn retry_wait(&self, hint: bool, ms: u64) {
        let (count, total) = if hint {
            (&self.hint_waits, &self.hint_wait_ms)
        } else {
            (&self.backoff_waits, &self.backoff_wait_ms)
        };
        count.fetch_add(1, Relaxed);
        total.fetch_add(ms, Relaxed);
        with_item(|item| {
            let (count, total) = if hint {
                (&item.hint_waits, &item.hint_wait_ms)
            } else {
                (&item.backoff_waits, &item.backoff_wait_ms)
            };
            count.fetch_add(1, Relaxed);
            total.fetch_add(ms, Relaxed);
        });
    }

    /// `n` retries refused for `reason`.
    pub(crate) fn refused(&self, reason: Refusal, n: u64) {
        self.refused[reason as usize].fetch_add(n, Relaxed);
    }

    /// `n` host pauses (cooldowns) a server's answer started in the rate limiter.
    pub(crate) fn pauses(&self, n: u64) {
        self.pauses.fetch_add(n, Relaxed);
    }

    /// The details of one host pause: how long, and whether a quota header (not a 429)
    /// caused it.
    pub(crate) fn pause_detail(&self, cooldown_us: u64, on_quota: bool) {
        if on_quota {
            self.pauses_quota.fetch_add(1, Relaxed);
        }
        self.longest_pause_us.fetch_max(cooldown_us, Relaxed);
    }

    /// One attempt the rate limiter held back to pace its host.
    pub(crate) fn paced(&self) {
        self.paced.fetch_add(1, Relaxed);
        with_item(|item| {
            item.paced.fetch_add(1, Relaxed);
        });
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What the layers reported for one request.
#[derive(Debug, Default)]
pub(crate) struct ItemTrace {
    attempts: AtomicU32,
    hint_waits: AtomicU32,
    hint_wait_ms: AtomicU64,
    backoff_waits: AtomicU32,
    backoff_wait_ms: AtomicU64,
    paced: AtomicU32,
}

/// The waits of one request, for `-v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ItemWaits {
    /// Retries that waited for the server's Retry-After, and milliseconds in all.
    pub(crate) hint: (u32, u64),
    /// Retries that waited for backoff, and milliseconds in all.
    pub(crate) backoff: (u32, u64),
    /// Attempts the rate limiter held back to pace the host.
    pub(crate) paced: u32,
}

impl ItemTrace {
    /// Attempts reported (0 when retrying is off: the retry layer then reports none).
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts.load(Relaxed)
    }

    /// The waits so far.
    pub(crate) fn waits(&self) -> ItemWaits {
        ItemWaits {
            hint: (self.hint_waits.load(Relaxed), self.hint_wait_ms.load(Relaxed)),
            backoff: (self.backoff_waits.load(Relaxed), self.backoff_wait_ms.load(Relaxed)),
            paced: self.paced.load(Relaxed),
        }
    }
}

tokio::task_local! {
    static ITEM: Arc<ItemTrace>;
}

/// Runs `future` with `item` collecting what its attempts report.
pub(crate) async fn traced<F: Future>(item: Arc<ItemTrace>, future: F) -> F::Output {
    ITEM.scope(item, future).await
}

fn with_item(f: impl FnOnce(&ItemTrace)) {
    let _ = ITEM.try_with(|item| f(item));
}
