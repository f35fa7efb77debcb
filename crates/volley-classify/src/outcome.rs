use std::fmt;

use crate::Hint;

/// What one attempt of an HTTP request came to, as seen by every layer that reacts to it.
///
/// Retry, rate-limit feedback, tracing and metrics all read the same `Outcome`, computed
/// once by a [`Classify`](crate::Classify) implementation. The default,
/// [`HttpClassifier`](crate::HttpClassifier), maps:
///
/// | attempt | outcome |
/// |---|---|
/// | 1xx, 2xx, 3xx | `Success` |
/// | 429; 503 with a server timing hint | `Throttled { hint }` |
/// | 408, 500, 502, 503 (no hint), 504 | `Retryable { hint }` |
/// | other 4xx and 5xx | `Fatal` |
/// | connect error (refused, DNS, connect timeout); request handed back unsent, or failed before reaching its connection ("channel closed") | `NotSent` |
/// | HTTP/2 `REFUSED_STREAM`, or a graceful `GOAWAY` (`NO_ERROR`) for the stream (RFC 9113 §8.7) | `NotSent` |
/// | an error marked [`volley_core::NotSent`] by a layer (a shared rate-limit store down, fail-closed) | `NotSent` |
/// | a [`volley_core::BreakerOpen`] refusal (a circuit breaker open for the host) | `NotSent` |
/// | TLS error (bad or unknown certificate, no shared version), unsupported URL scheme | `Fatal` |
/// | connection reset or closed mid-exchange, `GOAWAY` with an error code, attempt timeout | `Retryable { hint: None }` |
/// | total timeout (the deadline is spent), any other error | `Fatal` |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The attempt succeeded.
    Success,
    /// A transient failure: trying again may succeed. The server may have asked for a delay.
    Retryable {
        /// The delay the server asked for, if it sent one.
        hint: Option<Hint>,
    },
    /// The server is shedding load or enforcing a quota (429, or 503 with a hint): slow down
    /// for this host, and do not try again before the hint.
    Throttled {
        /// The delay the server asked for, if it sent one.
        hint: Option<Hint>,
    },
    /// A failure that trying again will not fix (404, 401, a malformed request…).
    Fatal,
    /// The request never reached a server (connection refused, DNS failure): safe to try
    /// again whatever the method, because nothing was processed.
    NotSent,
}

impl Outcome {
    /// Whether the attempt succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// Whether the attempt failed (any outcome but [`Success`](Outcome::Success)).
    pub fn is_failure(&self) -> bool {
        !self.is_success()
    }

    /// Whether trying again may help: `Retryable`, `Throttled` or `NotSent`.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Outcome::Retryable { .. } | Outcome::Throttled { .. } | Outcome::NotSent)
    }

    /// Whether the server is throttling.
    pub fn is_throttled(&self) -> bool {
        matches!(self, Outcome::Throttled { .. })
    }

    /// The server timing hint, if the outcome carries one.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Outcome::Retryable { hint } | Outcome::Throttled { hint } => *hint,
            _ => None,
        }
    }

    /// A short lowercase name: `success`, `retryable`, `throttled`, `fatal`, `not_sent`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Retryable { .. } => "retryable",
            Outcome::Throttled { .. } => "throttled",
            Outcome::Fatal => "fatal",
            Outcome::NotSent => "not_sent",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        match self.hint() {
            Some(hint) => write!(f, ", {hint}"),
            None => Ok(()),
        }
    }
}
