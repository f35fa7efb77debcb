use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::Key;

/// A circuit breaker refused a request without sending it: its key's circuit is open (the
/// host kept failing), or half-open with every probe slot taken.
///
/// It lives in `volley-core` so that every layer recognises it without depending on the
/// breaker crate: the default classifier calls it `Outcome::NotSent` (nothing left the
/// client, so trying again can never duplicate the request), and the retry layer waits
/// [`retry_in`](Self::retry_in) before trying again when that wait ends before the
/// request's deadline, and returns the error at once otherwise.
///
/// `Display` names the key and the wait, to the millisecond:
/// `circuit breaker open for http://127.0.0.1:3000; next probe in 3.2s`. The default key is
/// the request's origin (scheme, host, port), which never holds credentials; a custom key
/// function decides what its keys show.
///
/// ```
/// use std::time::Duration;
/// use volley_core::{BoxError, BreakerOpen, Key, find_cause};
///
/// let err: BoxError = BreakerOpen::new(Key::new("http://127.0.0.1:3000"), Duration::from_millis(3_200)).into();
/// assert_eq!(err.to_string(), "circuit breaker open for http://127.0.0.1:3000; next probe in 3.2s");
/// let open = find_cause::<BreakerOpen>(&*err).unwrap();
/// assert_eq!(open.retry_in(), Duration::from_millis(3_200));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerOpen {
    key: Key,
    retry_in: Duration,
}

impl BreakerOpen {
    /// A refusal for `key`, whose breaker will let a probe through in `retry_in`.
    pub fn new(key: Key, retry_in: Duration) -> Self {
        Self { key, retry_in }
    }

    /// The key whose circuit is open.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// How long until the breaker lets a probe through (zero: the next call may be one).
    pub fn retry_in(&self) -> Duration {
        self.retry_in
    }
}

impl fmt::Display for BreakerOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "3.2s", not "3.199999871s": a wait measured from another instant is ragged.
        let millis = self.retry_in.as_nanos().saturating_add(500_000) / 1_000_000;
        let retry_in = Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX));
        write!(f, "circuit breaker open for {}; next probe in {retry_in:?}", self.key)
    }
}

impl Error for BreakerOpen {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_rounds_to_the_millisecond() {
        let key = Key::new("https://api.example.com");
        let cases = [
            (Duration::from_nanos(3_199_999_871), "3.2s"),
            (Duration::ZERO, "0ns"),
            (Duration::from_micros(400), "0ns"),
            (Duration::from_secs(60), "60s"),
        ];
        for (retry_in, want) in cases {
            let err = BreakerOpen::new(key.clone(), retry_in);
            assert_eq!(
                err.to_string(),
                format!("circuit breaker open for https://api.example.com; next probe in {want}")
            );
            assert_eq!((err.key(), err.retry_in()), (&key, retry_in));
        }
        // An absurd wait saturates instead of overflowing.
        assert!(BreakerOpen::new(key, Duration::MAX).to_string().ends_with("s"));
    }
}
