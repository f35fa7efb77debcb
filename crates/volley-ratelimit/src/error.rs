use std::error::Error;
use std::fmt;
use std::time::Duration;

use volley_core::Key;

/// The wait a rate-limited request would have needed exceeds what it may wait: its
/// [`Deadline`](volley_core::Deadline) or the layer's `max_wait`. Returned at once, without
/// sleeping, so the caller learns the truth now instead of a timeout later.
///
/// ```
/// use std::time::Duration;
/// use volley_core::Key;
/// use volley_ratelimit::{RateLimited, WaitBound};
///
/// let err = RateLimited::new(
///     Key::new("https://api.example.com"),
///     Duration::from_millis(2400),
///     WaitBound::Deadline { remaining: Duration::from_millis(1100) },
///     false,
/// );
/// assert_eq!(err.to_string(), "rate limit wait of 2.4s for https://api.example.com exceeds deadline in 1.1s");
/// assert_eq!(err.wait(), Duration::from_millis(2400));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimited {
    key: Key,
    wait: Duration,
    bound: WaitBound,
    cooldown: bool,
    paced: bool,
}

/// What a [`RateLimited`] wait would have exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitBound {
    /// The request's [`Deadline`](volley_core::Deadline), which had `remaining` left (zero:
    /// it had passed).
    Deadline {
        /// Time left until the deadline when the wait was refused.
        remaining: Duration,
    },
    /// The layer's `max_wait`.
    MaxWait {
        /// The configured maximum wait.
        max: Duration,
    },
}

impl RateLimited {
    /// A refused wait of `wait` for `key`, over `bound`; `cooldown` says whether the key was
    /// cooling down after the server asked the client to slow down.
    pub fn new(key: Key, wait: Duration, bound: WaitBound, cooldown: bool) -> Self {
        Self { key, wait, bound, cooldown, paced: false }
    }

    /// Marks the wait as the key's pace from quota headers (see
    /// [`RateLimitLayer::pace_from_quota`](crate::RateLimitLayer::pace_from_quota)).
    pub(crate) fn paced(mut self, paced: bool) -> Self {
        self.paced = paced;
        self
    }

    /// The key whose limit was reached (the request's host by default).
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// How long the request would have had to wait for its token (or for the key's
    /// cooldown to end) before it could be sent.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// What the wait would have exceeded.
    pub fn bound(&self) -> WaitBound {
        self.bound
    }

    /// Whether the key was cooling down because the server asked the client to slow down
    /// (a 429, a 503 with `Retry-After`, or a quota header saying nothing remains).
    pub fn is_cooldown(&self) -> bool {
        self.cooldown
    }

    /// Whether the wait was the key's pace: the server's quota headers said few requests
    /// remain, and the layer spreads them over the time until the reset (see
    /// [`RateLimitLayer::pace_from_quota`](crate::RateLimitLayer::pace_from_quota)).
    pub fn is_paced(&self) -> bool {
        self.paced
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limit wait of {:?} for {}", self.wait, self.key)?;
        if self.paced {
            f.write_str(" (paced to the server's remaining quota)")?;
        } else if self.cooldown {
            f.write_str(" (cooling down at the server's request)")?;
        }
        match self.bound {
            WaitBound::Deadline { remaining } if remaining.is_zero() => {
                f.write_str(" exceeds deadline, which has passed")
            }
            WaitBound::Deadline { remaining } => write!(f, " exceeds deadline in {remaining:?}"),
            WaitBound::MaxWait { max } => write!(f, " exceeds max wait of {max:?}"),
        }
    }
}

impl Error for RateLimited {}

/// A rate, period and burst that cannot make a limiter, refused when it is built by
/// [`RateLimitLayer::try_new`](crate::RateLimitLayer::try_new) and
/// [`GovernorBackend::try_keyed`](crate::GovernorBackend::try_keyed) /
/// [`try_global`](crate::GovernorBackend::try_global); the panicking constructors panic
/// with the same message. See [`RateLimitLayer::try_new`](crate::RateLimitLayer::try_new)
/// for the rules.
///
/// ```
/// use std::time::Duration;
/// use volley_ratelimit::RateLimitLayer;
///
/// let err = RateLimitLayer::try_new(3, Duration::from_nanos(2), 1).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid rate limit of 3 per 2ns with burst 1: faster than one per nanosecond"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    n: u32,
    per: Duration,
    burst: u32,
    reason: &'static str,
}

impl ConfigError {
    pub(crate) fn new(n: u32, per: Duration, burst: u32, reason: &'static str) -> Self {
        Self { n, per, burst, reason }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { n, per, burst, reason } = self;
        write!(f, "invalid rate limit of {n} per {per:?} with burst {burst}: {reason}")
    }
}

impl Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_the_numbers() {
        let key = Key::new("http://127.0.0.1:8080");
        let max = WaitBound::MaxWait { max: Duration::from_millis(500) };
        let err = RateLimited::new(key.clone(), Duration::from_secs(2), max, true);
        assert_eq!(
            err.to_string(),
            "rate limit wait of 2s for http://127.0.0.1:8080 (cooling down at the server's \
             request) exceeds max wait of 500ms"
        );
        let passed = WaitBound::Deadline { remaining: Duration::ZERO };
        let err = RateLimited::new(key, Duration::from_millis(20), passed, false);
        assert_eq!(
            err.to_string(),
            "rate limit wait of 20ms for http://127.0.0.1:8080 exceeds deadline, which has passed"
        );
        assert_eq!(
            (err.bound(), err.is_cooldown(), err.key().as_str()),
            (passed, false, "http://127.0.0.1:8080")
        );
    }
}
