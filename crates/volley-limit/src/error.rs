use std::error::Error;
use std::fmt;
use std::time::Duration;

use volley_core::Key;

/// A request that could not get its concurrency permit: its queue was full, it waited for the
/// acquire timeout, or its [`Deadline`](volley_core::Deadline) came first.
///
/// Says which limit was full ([`LimitScope`]), its size, how many other requests were
/// waiting for it, and why the request gave up ([`OverloadReason`]):
///
/// ```text
/// concurrency limit of 4 for http://127.0.0.1:3000 reached: 12 requests waiting, queue limit 12
/// global concurrency limit of 64 reached: no permit within the acquire timeout of 2s, 3 other requests waiting
/// concurrency limit of 2 for https://api.example.com reached: no permit before the request's deadline (waited 1.5s), 7 other requests waiting
/// ```
///
/// The service returns it boxed in a [`BoxError`](volley_core::BoxError); find it with
/// [`find_cause`](volley_core::find_cause) or `downcast_ref`. The request was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overloaded {
    scope: LimitScope,
    max: usize,
    waiting: usize,
    reason: OverloadReason,
}

/// Which limit a request could not get a permit from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitScope {
    /// The global limit, shared by every request through the layer.
    Global,
    /// The per-key limit of this key.
    Key(Key),
}

/// Why a request stopped waiting for a permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OverloadReason {
    /// The limit's queue already held `max_queue` waiting requests (with `max_queue` 0, any
    /// request that would have to wait is refused: load shedding).
    QueueFull {
        /// The configured queue bound.
        max_queue: usize,
    },
    /// The request waited for the configured acquire timeout.
    AcquireTimeout {
        /// The configured acquire timeout.
        timeout: Duration,
    },
    /// The request's deadline came before a permit did (or had already passed). The request
    /// gives up at the deadline instead of sleeping past it.
    Deadline {
        /// How long the request waited before giving up (zero when the deadline had
        /// already passed).
        waited: Duration,
    },
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn scope_key(scope: &LimitScope) -> Option<&str> {
    match scope {
        LimitScope::Key(key) => Some(key.as_str()),
        _ => None,
    }
}

impl OverloadReason {
    /// The reason as a snake_case word, for events and labels.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::QueueFull { .. } => "queue_full",
            Self::AcquireTimeout { .. } => "acquire_timeout",
            Self::Deadline { .. } => "deadline",
        }
    }
}

impl Overloaded {
    pub(crate) fn new(
        scope: LimitScope,
        max: usize,
        waiting: usize,
        reason: OverloadReason,
    ) -> Self {
        // Every refusal is built here, once, so this is the one place that reports it.
        let (timeout_ms, waited_ms) = match reason {
            OverloadReason::AcquireTimeout { timeout } => (Some(millis(timeout)), None),
            OverloadReason::Deadline { waited } => (None, Some(millis(waited))),
            OverloadReason::QueueFull { .. } => (None, None),
        };
        tracing::debug!(
            key = scope_key(&scope),
            scope = if matches!(scope, LimitScope::Global) { "global" } else { "key" },
            reason = reason.name(),
            max,
            waiting,
            timeout_ms,
            waited_ms,
            "concurrency limit refused a request"
        );
        Self { scope, max, waiting, reason }
    }

    /// The limit that was full.
    pub fn scope(&self) -> &LimitScope {
        &self.scope
    }

    /// The key whose per-key limit was full, or `None` for the global limit.
    pub fn key(&self) -> Option<&Key> {
        match &self.scope {
            LimitScope::Key(key) => Some(key),
            LimitScope::Global => None,
        }
    }

    /// The size of that limit (its number of permits).
    pub fn max(&self) -> usize {
        self.max
    }

    /// How many other requests were waiting for that limit when this one gave up.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Why the request gave up.
    pub fn reason(&self) -> OverloadReason {
        self.reason
    }
}

impl fmt::Display for Overloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = self.max;
        match &self.scope {
            LimitScope::Global => write!(f, "global concurrency limit of {max} reached: ")?,
            LimitScope::Key(key) => write!(f, "concurrency limit of {max} for {key} reached: ")?,
        }
        let (n, s) = (self.waiting, if self.waiting == 1 { "" } else { "s" });
        match self.reason {
            OverloadReason::QueueFull { max_queue } => {
                write!(f, "{n} request{s} waiting, queue limit {max_queue}")
            }
            OverloadReason::AcquireTimeout { timeout } => write!(
                f,
                "no permit within the acquire timeout of {timeout:?}, {n} other request{s} waiting"
            ),
            OverloadReason::Deadline { waited } => write!(
                f,
                "no permit before the request's deadline (waited {waited:?}), {n} other request{s} waiting"
            ),
        }
    }
}

impl Error for Overloaded {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_the_numbers() {
        let key = Key::new("http://127.0.0.1:3000");
        let full = Overloaded::new(
            LimitScope::Key(key.clone()),
            4,
            12,
            OverloadReason::QueueFull { max_queue: 12 },
        );
        assert_eq!(
            full.to_string(),
            "concurrency limit of 4 for http://127.0.0.1:3000 reached: 12 requests waiting, queue limit 12"
        );
        assert_eq!(full.key(), Some(&key));
        let timeout = Duration::from_secs(2);
        let timed_out =
            Overloaded::new(LimitScope::Global, 64, 1, OverloadReason::AcquireTimeout { timeout });
        assert_eq!(
            timed_out.to_string(),
            "global concurrency limit of 64 reached: no permit within the acquire timeout of 2s, 1 other request waiting"
        );
        assert_eq!((timed_out.key(), timed_out.max(), timed_out.waiting()), (None, 64, 1));
        let waited = Duration::from_millis(1500);
        let deadline =
            Overloaded::new(LimitScope::Global, 2, 7, OverloadReason::Deadline { waited });
        assert_eq!(
            deadline.to_string(),
            "global concurrency limit of 2 reached: no permit before the request's deadline (waited 1.5s), 7 other requests waiting"
        );
        assert_eq!(deadline.reason(), OverloadReason::Deadline { waited });
    }
}
