use std::error::Error;
use std::fmt;

use crate::BoxError;

/// An error that ended a request before any of it left the client: a shared rate-limit
/// store that could not be reached, a check made before sending. Trying again cannot make
/// the request happen twice, whatever its method, so the default classifier calls an error
/// with a `NotSent` in its chain `Outcome::NotSent`.
///
/// Layers wrap their own error in it; the wrapped error stays reachable through
/// [`source`](Error::source) and [`find_cause`](crate::find_cause).
///
/// ```
/// use volley_core::{BoxError, NotSent, find_cause};
///
/// let err: BoxError = NotSent::new("redis did not answer within 50ms").into();
/// assert_eq!(err.to_string(), "request not sent");
/// assert!(find_cause::<NotSent>(&*err).is_some());
/// assert_eq!(err.source().unwrap().to_string(), "redis did not answer within 50ms");
/// ```
#[derive(Debug)]
pub struct NotSent {
    inner: BoxError,
}

impl NotSent {
    /// Marks `err` as having ended the request before it was sent.
    pub fn new(err: impl Into<BoxError>) -> Self {
        Self { inner: err.into() }
    }

    /// The error that stopped the request.
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.inner
    }
}

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request not sent")
    }
}

impl Error for NotSent {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.inner)
    }
}
