use std::error::Error;
use std::fmt;
use std::time::Duration;

use volley_classify::Hint;
use volley_core::BoxError;

/// Why the retry layer stopped short of another attempt that the outcome alone would have
/// allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The method is not idempotent (POST, PATCH…) and the request carries no idempotency
    /// key, and the server may have processed it.
    NotIdempotent,
    /// All `max_retries` retries were spent.
    MaxRetries(u32),
    /// The server asked for a longer wait than `max_retry_after` allows.
    HintAboveCap {
        /// What the server asked for.
        hint: Hint,
        /// The configured cap.
        cap: Duration,
    },
    /// The next attempt could not start before the request's deadline.
    Deadline {
        /// The delay that would have been slept.
        delay: Duration,
        /// The time left before the deadline.
        remaining: Duration,
    },
    /// The request body outgrew the replay buffer while it was sent, so it cannot be sent
    /// again.
    BodyNotReplayable {
        /// The replay buffer's size.
        limit: usize,
    },
    /// The key's retry budget is spent: too many retries lately.
    BudgetExhausted,
    /// The delay schedule (a `backon` builder) ran out.
    ScheduleExhausted,
    /// A circuit breaker refused the attempt and lets its next probe through later than
    /// `max_retry_after` allows.
    BreakerOpen {
        /// Time until the breaker's next probe.
        retry_in: Duration,
        /// The configured cap.
        cap: Duration,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::NotIdempotent => {
                f.write_str("the method is not idempotent and the request has no idempotency key")
            }
            StopReason::MaxRetries(1) => f.write_str("the only retry allowed was used"),
            StopReason::MaxRetries(n) => write!(f, "all {n} retries were used"),
            StopReason::HintAboveCap { hint, cap } => {
                write!(f, "the server asked to {hint}, above the {:?} cap", millis(*cap))
            }
            StopReason::Deadline { delay, remaining } => write!(
                f,
                "a retry in {:?} would start after the deadline in {:?}",
                millis(*delay),
                millis(*remaining)
            ),
            StopReason::BodyNotReplayable { limit } => {
                write!(f, "the request body is larger than the {} replay buffer", KiB(*limit))
            }
            StopReason::BudgetExhausted => f.write_str("the retry budget for this host is spent"),
            StopReason::ScheduleExhausted => f.write_str("the backoff schedule ran out"),
            StopReason::BreakerOpen { retry_in, cap } => write!(
                f,
                "the circuit breaker lets a probe through in {:?}, above the {:?} cap",
                millis(*retry_in),
                millis(*cap)
            ),
        }
    }
}

impl StopReason {
    /// A stable snake_case name for the reason, for logs, traces and metric labels
    /// (`not_idempotent`, `max_retries`, `hint_above_cap`, `deadline`,
    /// `body_not_replayable`, `budget`, `schedule_exhausted`, `breaker_open`); `Display`
    /// is the human sentence.
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::NotIdempotent => "not_idempotent",
            StopReason::MaxRetries(_) => "max_retries",
            StopReason::HintAboveCap { .. } => "hint_above_cap",
            StopReason::Deadline { .. } => "deadline",
            StopReason::BodyNotReplayable { .. } => "body_not_replayable",
            StopReason::BudgetExhausted => "budget",
            StopReason::ScheduleExhausted => "schedule_exhausted",
            StopReason::BreakerOpen { .. } => "breaker_open",
        }
    }
}

/// Durations in messages, to the millisecond: "1.231s", not "1.231353828s".
fn millis(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

struct KiB(usize);

impl fmt::Display for KiB {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1024) {
            write!(f, "{} KiB", self.0 / 1024)
        } else {
            write!(f, "{} B", self.0)
        }
    }
}

/// What the retry layer did for one request, in the final response's extensions.
///
/// Present when the request was retried or when a retry was refused (`stopped` says why);
/// absent when the first attempt's outcome settled it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryInfo {
    /// Attempts made, the first included.
    pub attempts: u32,
    /// Why no further attempt was made although the outcome was retryable.
    pub stopped: Option<StopReason>,
}

/// The last attempt's error, when the retry layer refused to try again.
///
/// `Display` says why — `not retried after 1 attempt: the request body is larger than the
/// 64 KiB replay buffer` — and [`source`](Error::source) is the attempt's own error.
/// Errors that were not retryable in the first place are returned unwrapped.
#[derive(Debug)]
pub struct RetryError {
    attempts: u32,
    reason: StopReason,
    source: BoxError,
}

impl RetryError {
    pub(crate) fn new(attempts: u32, reason: StopReason, source: BoxError) -> Self {
        Self { attempts, reason, source }
    }

    /// Attempts made, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why no further attempt was made.
    pub fn reason(&self) -> StopReason {
        self.reason
    }

    /// The last attempt's error.
    pub fn into_source(self) -> BoxError {
        self.source
    }
}

impl fmt::Display for RetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(f, "not retried after {} attempt{plural}: {}", self.attempts, self.reason)
    }
}

impl Error for RetryError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

/// A retry configuration that cannot work, refused when it is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub(crate) fn new(message: String) -> Self {
        Self(message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid retry configuration: {}", self.0)
    }
}

impl Error for ConfigError {}
