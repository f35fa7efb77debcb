use std::error::Error;
use std::fmt;

use http::{HeaderMap, StatusCode};

use crate::{Hint, Outcome};

/// A response whose status the classifier judged a failure, returned as an error by
/// [`ClassifyLayer::error_for_status`](crate::ClassifyLayer::error_for_status).
///
/// Carries the status, the response headers (for `WWW-Authenticate`, rate-limit fields and
/// the like) and the server's timing hint. Its `Display` reads
/// `server answered 503 Service Unavailable (retryable)`.
///
/// Its `Debug` hides the values of credential headers (`Set-Cookie` and the rest of
/// [`volley_core::redact::SENSITIVE_HEADERS`]).
#[derive(Clone)]
pub struct StatusError {
    status: StatusCode,
    headers: HeaderMap,
    outcome: Outcome,
}

impl fmt::Debug for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusError")
            .field("status", &self.status)
            .field("headers", &volley_core::redact::RedactedHeaders(&self.headers))
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl StatusError {
    /// A status error for a response with these parts and this outcome.
    pub fn new(status: StatusCode, headers: HeaderMap, outcome: Outcome) -> Self {
        Self { status, headers, outcome }
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// How the response was classified.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The server's timing hint (`Retry-After` and friends), if it sent one.
    pub fn hint(&self) -> Option<Hint> {
        self.outcome.hint()
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server answered {} ({})", self.status, self.outcome)
    }
}

impl Error for StatusError {}
