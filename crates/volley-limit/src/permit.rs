use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Method, Response};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use volley_classify::Outcome;
use volley_core::{Deadline, Key};

use crate::error::{LimitScope, OverloadReason, Overloaded};
use crate::state::{KeySlot, Shared};

/// What one request holds: a counted reference to its key's slot (with or without a
/// permit) and possibly a global permit. Dropping it gives back exactly what it holds, so a
/// request cancelled at any point leaks nothing.
///
/// Kept small (three words) because it travels inside every response body.
pub(crate) struct Permit {
    shared: Arc<Shared>,
    key: Option<Arc<KeySlot>>,
    key_permit: bool,
    global: bool,
}

impl Permit {
    /// Takes every permit that is free right now: the key's first, then the global one.
    /// Never waits; [`is_complete`](Self::is_complete) says whether anything is missing.
    #[inline]
    pub(crate) fn try_new(shared: Arc<Shared>, key: Option<Key>) -> Self {
        let (key, key_permit) = match (&shared.keys, key) {
            (Some(keys), Some(key)) => {
                let (slot, permit) = keys.checkout(key);
                (Some(slot), permit)
            }
            _ => (None, false),
        };
        let mut permit = Self { shared, key, key_permit, global: false };
        if permit.key.is_none() || permit.key_permit {
            permit.global = permit.shared.global.as_ref().is_some_and(try_take);
        }
        #[cfg(feature = "metrics")]
        permit.count_in_flight(permit.key_permit, permit.global, 1.0);
        permit
    }

    #[inline]
    pub(crate) fn is_complete(&self) -> bool {
        (self.key.is_none() || self.key_permit) && (self.global || self.shared.global.is_none())
    }

    #[inline]
    pub(crate) fn release_at_headers(&self) -> bool {
        self.shared.config.release_at_headers
    }

    /// The refusal a request would get if it had to queue now, when its queue is full.
    pub(crate) fn queue_full(&self) -> Option<Overloaded> {
        let max_queue = self.shared.config.max_queue?;
        let (scope, max, waiting) = self.next_queue()?;
        let waiting = waiting.load(Ordering::Relaxed);
        let reason = OverloadReason::QueueFull { max_queue };
        (waiting >= max_queue).then(|| Overloaded::new(scope, max, waiting, reason))
    }

    /// The limit this request waits for next: its size and its queue.
    fn next_queue(&self) -> Option<(LimitScope, usize, &AtomicUsize)> {
        if let (Some(slot), Some(keys)) = (&self.key, &self.shared.keys)
            && !self.key_permit
        {
            return Some((LimitScope::Key(slot.key.clone()), slot.limit(keys.max), &slot.waiting));
        }
        match (&self.shared.global, self.shared.config.global_max) {
            (Some(_), Some(max)) if !self.global => {
                Some((LimitScope::Global, max, &self.shared.global_waiting))
            }
            _ => None,
        }
    }

    /// Waits for the missing permits, the key's first, within the queue bound, the acquire
    /// timeout (counted from `started`, when the request was called) and the deadline.
    pub(crate) async fn acquire(
        &mut self,
        started: Instant,
        deadline: Option<Deadline>,
    ) -> Result<(), Overloaded> {
        let config = self.shared.config;
        let budget = Budget::new(started, config.acquire_timeout, deadline);
        if let (Some(slot), Some(keys)) = (&self.key, &self.shared.keys)
            && !self.key_permit
        {
            let queue =
                Queue { queue: &slot.waiting, total: &self.shared.waiting, key: Some(&slot.key) };
            wait(&slot.semaphore, queue, config.max_queue, &budget).await.map_err(
                |(waiting, reason)| {
                    let max = slot.limit(keys.max);
                    Overloaded::new(LimitScope::Key(slot.key.clone()), max, waiting, reason)
                },
            )?;
            self.key_permit = true;
            #[cfg(feature = "metrics")]
            self.count_in_flight(true, false, 1.0);
        }
        if let (Some(global), Some(max)) = (&self.shared.global, config.global_max)
            && !self.global
        {
            let queue = Queue {
                queue: &self.shared.global_waiting,
                total: &self.shared.waiting,
                key: None,
            };
            wait(global, queue, config.max_queue, &budget).await.map_err(|(waiting, reason)| {
                Overloaded::new(LimitScope::Global, max, waiting, reason)
            })?;
            self.global = true;
            #[cfg(feature = "metrics")]
            self.count_in_flight(false, true, 1.0);
        }
        Ok(())
    }
}

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        self.count_in_flight(self.key_permit, self.global, -1.0);
        if self.global
            && let Some(global) = &self.shared.global
        {
            global.add_permits(1);
        }
        if self.key.is_some() {
            self.release_key();
        }
    }
}

impl Permit {
    /// Moves the in-flight gauges of the limits named by `key` and `global` by `delta`: at
    /// exactly the places a permit is taken or given back, so they return to zero.
    #[cfg(feature = "metrics")]
    fn count_in_flight(&self, key: bool, global: bool, delta: f64) {
        if let (true, Some(slot)) = (key, &self.key) {
            crate::metrics::in_flight(Some(&slot.key), delta);
        }
        if global {
            crate::metrics::in_flight(None, delta);
        }
    }

    #[inline(never)]
    fn release_key(&mut self) {
        if let Some(slot) = self.key.take() {
            if self.key_permit {
                slot.give_back();
            }
            if let Some(keys) = &self.shared.keys {
                keys.release(slot);
            }
        }
    }
}

/// Adaptive limits only: when and how a request got its permits, to turn its answer into a
/// sample. Boxed so the fixed path carries one word of `None`.
pub(crate) struct Start {
    at: Instant,
    method: Method,
    epoch: u64,
}

impl Permit {
    /// Starts the latency clock of an admitted request; `None`, with no clock read, unless
    /// the limit is adaptive.
    #[inline]
    pub(crate) fn start(&self, method: &Method) -> Option<Box<Start>> {
        self.shared.adaptive.as_ref()?;
        let slot = self.key.as_ref()?;
        Some(Box::new(Start { at: Instant::now(), method: method.clone(), epoch: slot.epoch() }))
    }

    /// Feeds the answer to the key's adaptive limit. The response goes through
    /// unchanged (it is split only to hand the classifier a head without a body type).
    pub(crate) fn record_response<B>(&self, start: &Start, response: Response<B>) -> Response<B> {
        let Some(adaptive) = &self.shared.adaptive else { return response };
        let (parts, body) = response.into_parts();
        let head = Response::from_parts(parts, ());
        let outcome = adaptive.judge.judge(&start.method, Ok(&head));
        self.record(start, outcome);
        let (parts, ()) = head.into_parts();
        Response::from_parts(parts, body)
    }

    /// Feeds a failed attempt to the key's adaptive limit.
    pub(crate) fn record_error(&self, start: &Start, error: &(dyn Error + 'static)) {
        let Some(adaptive) = &self.shared.adaptive else { return };
        // An error that is not an overload signal carries no latency worth learning.
        if let outcome @ (Outcome::Retryable { .. } | Outcome::Throttled { .. }) =
            adaptive.judge.judge(&start.method, Err(error))
        {
            self.record(start, outcome);
        }
    }

    fn record(&self, start: &Start, outcome: Outcome) {
        let dropped = match outcome {
            Outcome::Success | Outcome::Fatal => false,
            Outcome::Retryable { .. } | Outcome::Throttled { .. } => true,
            // Nothing reached the host: nothing to learn about it.
            Outcome::NotSent => return,
        };
        if let (Some(adaptive), Some(slot)) = (&self.shared.adaptive, &self.key) {
            slot.record(adaptive, start.at.elapsed(), dropped, start.epoch);
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("key", &self.key.as_ref().map(|slot| (&slot.key, self.key_permit)))
            .field("global", &self.global)
            .finish()
    }
}

#[inline]
fn try_take(semaphore: &Semaphore) -> bool {
    // The permit is given back by `Permit::drop`, which owns the reference to the semaphore.
    semaphore.try_acquire().map(|permit| permit.forget()).is_ok()
}

/// When a request stops waiting, and what to blame.
struct Budget {
    started: Instant,
    until: Option<(Instant, Limiter)>,
}

#[derive(Clone, Copy)]
enum Limiter {
    Timeout(Duration),
    Deadline,
}

impl Budget {
    fn new(started: Instant, timeout: Option<Duration>, deadline: Option<Deadline>) -> Self {
        let timeout = timeout.and_then(|t| Some((started.checked_add(t)?, Limiter::Timeout(t))));
        let deadline = deadline.map(|d| (d.instant(), Limiter::Deadline));
        let until = match (timeout, deadline) {
            (Some(t), Some(d)) => Some(if d.0 < t.0 { d } else { t }),
            (t, d) => t.or(d),
        };
        Self { started, until }
    }

    fn reason(&self, limiter: Limiter) -> OverloadReason {
        match limiter {
            Limiter::Timeout(timeout) => OverloadReason::AcquireTimeout { timeout },
            Limiter::Deadline => OverloadReason::Deadline { waited: self.started.elapsed() },
        }
    }
}

/// One limit's queue: its own count, the layer's total, and its key (`None`: global).
#[derive(Clone, Copy)]
struct Queue<'a> {
    queue: &'a AtomicUsize,
    total: &'a AtomicUsize,
    key: Option<&'a Key>,
}

/// Counts a request in a queue for as long as it waits there.
struct Queued<'a>(Queue<'a>);

impl<'a> Queued<'a> {
    /// Joins `queue`; returns the guard and how many were waiting ahead.
    fn join(queue: Queue<'a>) -> (Self, usize) {
        let ahead = queue.queue.fetch_add(1, Ordering::Relaxed);
        queue.total.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::metrics::queued(queue.key, 1.0);
        (Self(queue), ahead)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.queue.fetch_sub(1, Ordering::Relaxed);
        self.0.total.fetch_sub(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::metrics::queued(self.0.key, -1.0);
    }
}

/// Waits for one permit of `semaphore`, in arrival order; on giving up, returns how many
/// others were waiting and why.
async fn wait(
    semaphore: &Semaphore,
    queue: Queue<'_>,
    max_queue: Option<usize>,
    budget: &Budget,
) -> Result<(), (usize, OverloadReason)> {
    if try_take(semaphore) {
        return Ok(());
    }
    let queued_since = Instant::now();
    let key = queue.key;
    let (_queued, ahead) = Queued::join(queue);
    let queue = queue.queue;
    if let Some(max_queue) = max_queue.filter(|&max| ahead >= max) {
        return Err((ahead, OverloadReason::QueueFull { max_queue }));
    }
    let others = || queue.load(Ordering::Relaxed).saturating_sub(1);
    let acquired = match budget.until {
        None => semaphore.acquire().await,
        Some((at, limiter)) if at <= Instant::now() => {
            return Err((others(), budget.reason(limiter)));
        }
        Some((at, limiter)) => match tokio::time::timeout_at(at, semaphore.acquire()).await {
            Ok(acquired) => acquired,
            Err(_elapsed) => return Err((others(), budget.reason(limiter))),
        },
    };
    match acquired {
        Ok(permit) => permit.forget(),
        Err(_closed) => unreachable!("volley-limit never closes its semaphores"),
    }
    // Only requests that queued get here: the clock is read on the slow path alone.
    let waited = queued_since.elapsed();
    tracing::debug!(
        key = key.map(Key::as_str),
        scope = if key.is_some() { "key" } else { "global" },
        wait_ms = waited.as_millis() as u64,
        ahead,
        "concurrency permit wait"
    );
    #[cfg(feature = "metrics")]
    crate::metrics::queue_wait(key, waited);
    Ok(())
}
