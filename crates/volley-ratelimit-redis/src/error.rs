//! [`RedisUnavailable`], the fail-closed error, and [`BuildError`].

use std::error::Error;
use std::fmt;
use std::time::Duration;

use http::Method;
use volley_classify::Outcome;
use volley_core::{Key, find_cause};

/// The shared rate-limit store could not say whether a request may go, so, with
/// [`FailurePolicy::FailClosed`](crate::FailurePolicy::FailClosed), the request was not sent.
///
/// Returned within the backend's [`timeout`](crate::RedisBackendBuilder::timeout) of asking
/// (at once while an outage is known). Nothing reached the HTTP server, so trying again is
/// safe for any method: [`classify_error`] says [`Outcome::NotSent`].
///
/// ```
/// use std::time::Duration;
/// use volley_core::Key;
/// use volley_ratelimit_redis::RedisUnavailable;
///
/// let err = RedisUnavailable::timed_out(Key::new("https://api.example.com"), Duration::from_millis(50));
/// assert_eq!(
///     err.to_string(),
///     "rate limit store unavailable for https://api.example.com: no answer from redis within 50ms"
/// );
/// assert!(err.is_timeout());
/// ```
#[derive(Clone, Debug)]
pub struct RedisUnavailable {
    key: Key,
    cause: Cause,
}

#[derive(Clone, Debug)]
enum Cause {
    TimedOut(Duration),
    Error(redis::RedisError),
    Reply,
    Down,
}

impl RedisUnavailable {
    /// Redis did not answer within `timeout`.
    pub fn timed_out(key: Key, timeout: Duration) -> Self {
        Self { key, cause: Cause::TimedOut(timeout) }
    }

    /// Redis answered with an error, or the connection failed.
    pub fn error(key: Key, error: redis::RedisError) -> Self {
        Self { key, cause: Cause::Error(error) }
    }

    /// Redis answered something the script never returns.
    pub(crate) fn bad_reply(key: Key) -> Self {
        Self { key, cause: Cause::Reply }
    }

    /// Redis was not asked: a recent request found it unreachable, and the next probe is
    /// not due yet.
    pub fn down(key: Key) -> Self {
        Self { key, cause: Cause::Down }
    }

    /// The key of the refused request.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Whether Redis was asked and did not answer in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self.cause, Cause::TimedOut(_))
    }

    /// Whether Redis was not even asked, because it was known to be down.
    pub fn is_known_outage(&self) -> bool {
        matches!(self.cause, Cause::Down)
    }
}

impl fmt::Display for RedisUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limit store unavailable for {}: ", self.key)?;
        match &self.cause {
            Cause::TimedOut(timeout) => write!(f, "no answer from redis within {timeout:?}"),
            Cause::Error(_) => f.write_str("redis failed"),
            Cause::Reply => f.write_str("redis gave an unexpected reply to the rate limit script"),
            Cause::Down => f.write_str("redis is down (waiting for the next probe)"),
        }
    }
}

impl Error for RedisUnavailable {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.cause {
            Cause::Error(err) => Some(err),
            _ => None,
        }
    }
}

/// An error rule for [`HttpClassifier::error_rule`](volley_classify::HttpClassifier::error_rule):
/// [`Outcome::NotSent`] when the error chain holds a [`RedisUnavailable`] (the request was
/// refused before it was sent), `None` (the classifier's own table) otherwise.
///
/// ```
/// use volley_classify::{Classify, HttpClassifier, Outcome};
/// use volley_core::{BoxError, Key};
/// use volley_ratelimit_redis::{RedisUnavailable, classify_error};
///
/// let classifier = HttpClassifier::new().error_rule(classify_error);
/// let err: BoxError = RedisUnavailable::down(Key::new("https://api.example.com")).into();
/// let outcome = classifier.classify::<()>(&http::Method::POST, Err(&*err));
/// assert_eq!(outcome, Outcome::NotSent);
/// ```
pub fn classify_error(_method: &Method, err: &(dyn Error + 'static)) -> Option<Outcome> {
    find_cause::<RedisUnavailable>(err).map(|_| Outcome::NotSent)
}

/// A [`RedisBackend`](crate::RedisBackend) configuration that cannot work, or a Redis URL
/// that cannot be used; returned by [`RedisBackendBuilder::build`](crate::RedisBackendBuilder::build).
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    Rate(volley_ratelimit::ConfigError),
    Invalid(String),
    Redis(redis::RedisError),
}

impl BuildError {
    pub(crate) fn invalid(reason: String) -> Self {
        Self { kind: BuildErrorKind::Invalid(reason) }
    }
}

impl From<volley_ratelimit::ConfigError> for BuildError {
    fn from(err: volley_ratelimit::ConfigError) -> Self {
        Self { kind: BuildErrorKind::Rate(err) }
    }
}

impl From<redis::RedisError> for BuildError {
    fn from(err: redis::RedisError) -> Self {
        Self { kind: BuildErrorKind::Redis(err) }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::Rate(err) => err.fmt(f),
            BuildErrorKind::Invalid(reason) => write!(f, "invalid redis rate limit: {reason}"),
            BuildErrorKind::Redis(_) => f.write_str("invalid redis connection"),
        }
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Rate(err) => Some(err),
            BuildErrorKind::Invalid(_) => None,
            BuildErrorKind::Redis(err) => Some(err),
        }
    }
}
