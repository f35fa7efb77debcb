use std::fmt;
use std::time::Duration;

use http::header::HeaderName;
use http::{HeaderMap, Method};
use volley_classify::{HttpClassifier, Outcome};
use volley_core::{ByAuthority, Deadline};

use crate::backoff::uniform;
use crate::window::KeyBudget;
use crate::{Backoff, RetryBudget, StopReason};

/// What to retry, how often, and how long to wait: the configuration of a
/// [`RetryLayer`](crate::RetryLayer).
///
/// Defaults: 3 retries; full-jitter backoff from 500 ms to 8 s; never earlier than a server
/// hint and never for a hint above 60 s; a retry budget of 20 % plus 10/s per host;
/// GET, HEAD, OPTIONS, TRACE, PUT and DELETE retried, POST and PATCH only with an
/// `Idempotency-Key` header or when the request was never sent; request bodies replayed
/// from a buffer of up to 64 KiB; outcomes from [`HttpClassifier`].
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use volley_retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::new()
///     .max_retries(5)
///     .backoff(Backoff::decorrelated_jitter(Duration::from_millis(100), Duration::from_secs(10)))
///     .max_retry_after(Duration::from_secs(30))
///     .retry_methods([http::Method::GET, http::Method::POST]);
/// # let _ = policy;
/// ```
#[derive(Clone)]
#[must_use]
pub struct RetryPolicy<C = HttpClassifier, K = ByAuthority> {
    pub(crate) limits: Limits,
    pub(crate) classifier: C,
    pub(crate) key_fn: K,
}

/// Everything in a policy that does not depend on its classifier or key function.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) max_retry_after: Duration,
    pub(crate) max_hint_jitter: Duration,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) methods: Vec<Method>,
    pub(crate) idempotency_header: Option<HeaderName>,
    pub(crate) replay_limit: usize,
}

impl RetryPolicy {
    /// The default policy (see the type's documentation).
    pub fn new() -> Self {
        let limits = Limits {
            max_retries: 3,
            backoff: Backoff::default(),
            max_retry_after: Duration::from_secs(60),
            max_hint_jitter: Duration::from_secs(1),
            budget: Some(RetryBudget::default()),
            methods: vec![
                Method::GET,
                Method::HEAD,
                Method::OPTIONS,
                Method::TRACE,
                Method::PUT,
                Method::DELETE,
            ],
            idempotency_header: Some(HeaderName::from_static("idempotency-key")),
            replay_limit: 64 * 1024,
        };
        Self { limits, classifier: HttpClassifier::new(), key_fn: ByAuthority }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl<C, K> RetryPolicy<C, K> {
    /// Retries after the first attempt; 0 turns retrying off. Defaults to 3.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.limits.max_retries = retries;
        self
    }

    /// The delay schedule. Defaults to [`Backoff::default`] (full jitter, 500 ms to 8 s).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.limits.backoff = backoff;
        self
    }

    /// The longest server-requested wait honoured. A `Retry-After` (or similar) above it
    /// returns the response at once, so the caller sees the 429 and its hint instead of a
    /// request that sleeps for an hour. Defaults to 60 s.
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.limits.max_retry_after = cap;
        self
    }

    /// The most jitter added on top of a server hint (never subtracted: a retry never
    /// starts before the server asked). The jitter drawn is at most a tenth of the hint,
    /// and at most this. Defaults to 1 s; zero disables it.
    pub fn max_hint_jitter(mut self, max: Duration) -> Self {
        self.limits.max_hint_jitter = max;
        self
    }

    /// The retry budget, per key. Defaults to [`RetryBudget::default`].
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.limits.budget = Some(budget);
        self
    }

    /// Turns the retry budget off: every retryable failure may be retried up to
    /// `max_retries` times, however many there are.
    pub fn no_budget(mut self) -> Self {
        self.limits.budget = None;
        self
    }

    /// The methods retried whatever the outcome (when it is retryable). Defaults to the
    /// RFC 9110 idempotent methods: GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
    pub fn retry_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.limits.methods = methods.into_iter().collect();
        self
    }

    /// The header whose presence makes any method retryable, because the server
    /// deduplicates on it; `None` turns this off. Defaults to `Idempotency-Key`.
    pub fn idempotency_header(mut self, header: Option<HeaderName>) -> Self {
        self.limits.idempotency_header = header;
        self
    }

    /// How many bytes of a request body are kept to send it again. A body that outgrows it
    /// is sent once, and a retry is refused with [`StopReason::BodyNotReplayable`].
    /// Defaults to 64 KiB.
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.limits.replay_limit = bytes;
        self
    }

    /// The classifier that decides which outcomes are retryable. Defaults to
    /// [`HttpClassifier::new`].
    pub fn classifier<C2>(self, classifier: C2) -> RetryPolicy<C2, K> {
        RetryPolicy { limits: self.limits, classifier, key_fn: self.key_fn }
    }

    /// How requests are grouped into retry budgets. Defaults to
    /// [`ByAuthority`](volley_core::ByAuthority) (one budget per origin).
    pub fn key_fn<K2>(self, key_fn: K2) -> RetryPolicy<C, K2> {
        RetryPolicy { limits: self.limits, classifier: self.classifier, key_fn }
    }

    /// Whether a request may be retried after an outcome other than `NotSent`.
    pub(crate) fn is_idempotent(&self, method: &Method, headers: &HeaderMap) -> bool {
        self.limits.methods.contains(method)
            || self.limits.idempotency_header.as_ref().is_some_and(|h| headers.contains_key(h))
    }

    /// Whether to try again after an attempt, and after how long.
    pub(crate) fn decide(&self, attempt: &Attempt, budget: Option<&KeyBudget>) -> Decision {
        let outcome = attempt.outcome;
        if !outcome.is_retryable() {
            return Decision::Done;
        }
        if outcome != Outcome::NotSent && !attempt.idempotent {
            return Decision::Stop(StopReason::NotIdempotent);
        }
        if attempt.retries >= self.limits.max_retries {
            return Decision::Stop(StopReason::MaxRetries(self.limits.max_retries));
        }
        if let Some(retry_in) = attempt.breaker_wait {
            return self.wait_for_breaker(attempt, retry_in, budget);
        }
        let hint = outcome.hint();
        if let Some(hint) = hint.filter(|h| h.delay() > self.limits.max_retry_after) {
            return Decision::Stop(StopReason::HintAboveCap {
                hint,
                cap: self.limits.max_retry_after,
            });
        }
        let Some(backoff) = self.limits.backoff.delay(attempt.retries, attempt.previous_delay)
        else {
            return Decision::Stop(StopReason::ScheduleExhausted);
        };
        let (delay, cause) = match hint {
            Some(hint) if hint.delay() >= backoff => {
                let jitter = (hint.delay() / 10).min(self.limits.max_hint_jitter);
                (hint.delay() + uniform(Duration::ZERO, jitter), DelayCause::Hint)
            }
            _ => (backoff, DelayCause::Backoff),
        };
        if let Some(deadline) = attempt.deadline.filter(|d| d.would_expire_within(delay)) {
            return Decision::Stop(StopReason::Deadline { delay, remaining: deadline.remaining() });
        }
        if !attempt.replayable {
            return Decision::Stop(StopReason::BodyNotReplayable {
                limit: self.limits.replay_limit,
            });
        }
        // Last, because withdrawing spends the budget.
        if budget.is_some_and(|b| !b.withdraw()) {
            return Decision::Stop(StopReason::BudgetExhausted);
        }
        Decision::Retry { delay, cause }
    }
}

impl<C, K> RetryPolicy<C, K> {
    /// A circuit breaker refused the attempt unsent: try again exactly when it lets a probe
    /// through, if that is within `max_retry_after` and before the deadline. No backoff and
    /// no jitter: the breaker's own open time is jittered, and waking early would only be
    /// refused again.
    fn wait_for_breaker(
        &self,
        attempt: &Attempt,
        retry_in: Duration,
        budget: Option<&KeyBudget>,
    ) -> Decision {
        if retry_in > self.limits.max_retry_after {
            return Decision::Stop(StopReason::BreakerOpen {
                retry_in,
                cap: self.limits.max_retry_after,
            });
        }
        if let Some(deadline) = attempt.deadline.filter(|d| d.would_expire_within(retry_in)) {
            return Decision::Stop(StopReason::Deadline {
                delay: retry_in,
                remaining: deadline.remaining(),
            });
        }
        if !attempt.replayable {
            return Decision::Stop(StopReason::BodyNotReplayable {
                limit: self.limits.replay_limit,
            });
        }
        // Last, because withdrawing spends the budget.
        if budget.is_some_and(|b| !b.withdraw()) {
            return Decision::Stop(StopReason::BudgetExhausted);
        }
        Decision::Retry { delay: retry_in, cause: DelayCause::Breaker }
    }
}

impl<C: fmt::Debug, K> fmt::Debug for RetryPolicy<C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("limits", &self.limits)
            .field("classifier", &self.classifier)
            .finish_non_exhaustive()
    }
}

/// What the policy needs to know about the attempt that just ended.
pub(crate) struct Attempt {
    pub(crate) outcome: Outcome,
    pub(crate) idempotent: bool,
    pub(crate) retries: u32,
    pub(crate) previous_delay: Duration,
    pub(crate) deadline: Option<Deadline>,
    pub(crate) replayable: bool,
    /// When a circuit breaker refused the attempt: the time until its next probe.
    pub(crate) breaker_wait: Option<Duration>,
}

#[derive(Debug)]
pub(crate) enum Decision {
    /// The outcome settles it: success, or a failure that trying again will not fix.
    Done,
    /// Retryable, but something forbids another attempt.
    Stop(StopReason),
    /// Sleep `delay`, then try again.
    Retry { delay: Duration, cause: DelayCause },
}

/// Why a retry waits as long as it does, for traces.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DelayCause {
    /// The server's hint (plus positive jitter) was the longer wait.
    Hint,
    /// The backoff schedule was the longer wait.
    Backoff,
    /// A circuit breaker's next probe.
    Breaker,
}

impl DelayCause {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DelayCause::Hint => "server hint",
            DelayCause::Backoff => "backoff",
            DelayCause::Breaker => "circuit breaker",
        }
    }

    /// The `cause` label of the retry metrics: snake_case, stable.
    #[cfg(feature = "metrics")]
    pub(crate) fn label(self) -> &'static str {
        match self {
            DelayCause::Hint => "server_hint",
            DelayCause::Backoff => "backoff",
            DelayCause::Breaker => "breaker",
        }
    }
}
