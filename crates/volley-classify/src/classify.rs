use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use http::{HeaderMap, Method, Response, StatusCode};
use volley_core::{BreakerOpen, NotSent, TimedOut, TimeoutKind, find_cause};

use crate::status_set::StatusSet;
use crate::{HintParser, Outcome, StatusError};

/// Turns one attempt — the request's method and what came back — into an [`Outcome`].
///
/// Implement it to teach every volley layer your API's idea of a transient failure; most
/// users configure [`HttpClassifier`] instead. Errors arrive as trait objects so that
/// implementations can look through the source chain with
/// [`find_cause`](volley_core::find_cause).
pub trait Classify: Clone + Send + Sync + 'static {
    /// Classifies one attempt.
    fn classify<B>(
        &self,
        method: &Method,
        attempt: Result<&Response<B>, &(dyn Error + 'static)>,
    ) -> Outcome;
}

type ResponseRule = dyn Fn(&Method, StatusCode, &HeaderMap) -> Option<Outcome> + Send + Sync;
type ErrorRule = dyn Fn(&Method, &(dyn Error + 'static)) -> Option<Outcome> + Send + Sync;

/// The default classifier: the transient set that AWS, gRPC and go-retryablehttp agree on,
/// with server timing hints read by a [`HintParser`].
///
/// See [`Outcome`] for the table. Tune it with the builder methods; a custom rule runs
/// first and falls back to the table when it returns `None`.
///
/// # Example
///
/// ```
/// use http::{Method, Response, StatusCode};
/// use volley_classify::{Classify, HttpClassifier, Outcome};
///
/// let classifier = HttpClassifier::new()
///     .retry_on(StatusCode::CONFLICT)            // this API answers 409 while a lock is held
///     .no_retry_on(StatusCode::GATEWAY_TIMEOUT)  // …and 504 means the job really failed
///     .response_rule(|_method, status, headers| {
///         // honour a vendor's "x-should-retry: false"
///         (status.is_server_error() && headers.get("x-should-retry").is_some_and(|v| v == "false"))
///             .then_some(Outcome::Fatal)
///     });
///
/// let conflict = Response::builder().status(409).body(()).unwrap();
/// assert_eq!(classifier.classify(&Method::GET, Ok(&conflict)), Outcome::Retryable { hint: None });
/// let no_retry = Response::builder().status(500).header("x-should-retry", "false").body(()).unwrap();
/// assert_eq!(classifier.classify(&Method::GET, Ok(&no_retry)), Outcome::Fatal);
/// ```
#[derive(Clone)]
pub struct HttpClassifier {
    retryable: StatusSet,
    throttled: StatusSet,
    hints: HintParser,
    response_rule: Option<Arc<ResponseRule>>,
    error_rule: Option<Arc<ErrorRule>>,
}

impl HttpClassifier {
    /// The default classifier: 408, 500, 502, 503, 504 retryable; 429 throttled.
    pub fn new() -> Self {
        Self {
            retryable: StatusSet::from_codes(&[408, 500, 502, 503, 504]),
            throttled: StatusSet::from_codes(&[429]),
            hints: HintParser::new(),
            response_rule: None,
            error_rule: None,
        }
    }

    /// Treats `status` as retryable. Defaults to 408, 500, 502, 503 and 504.
    #[must_use]
    pub fn retry_on(mut self, status: StatusCode) -> Self {
        self.throttled.remove(status);
        self.retryable.insert(status);
        self
    }

    /// Treats `status` as throttling (like 429). Defaults to 429.
    #[must_use]
    pub fn throttle_on(mut self, status: StatusCode) -> Self {
        self.retryable.remove(status);
        self.throttled.insert(status);
        self
    }

    /// Treats `status` as neither retryable nor throttling: a 4xx or 5xx becomes
    /// [`Outcome::Fatal`], anything else [`Outcome::Success`].
    #[must_use]
    pub fn no_retry_on(mut self, status: StatusCode) -> Self {
        self.retryable.remove(status);
        self.throttled.remove(status);
        self
    }

    /// The parser for server timing hints. Defaults to [`HintParser::new`].
    #[must_use]
    pub fn hint_parser(mut self, hints: HintParser) -> Self {
        self.hints = hints;
        self
    }

    /// A rule consulted before the table for every response; `None` falls back to the table.
    /// Defaults to none.
    #[must_use]
    pub fn response_rule<F>(mut self, rule: F) -> Self
    where
        F: Fn(&Method, StatusCode, &HeaderMap) -> Option<Outcome> + Send + Sync + 'static,
    {
        self.response_rule = Some(Arc::new(rule));
        self
    }

    /// A rule consulted before the table for every error; `None` falls back to the table.
    /// Defaults to none.
    #[must_use]
    pub fn error_rule<F>(mut self, rule: F) -> Self
    where
        F: Fn(&Method, &(dyn Error + 'static)) -> Option<Outcome> + Send + Sync + 'static,
    {
        self.error_rule = Some(Arc::new(rule));
        self
    }

    /// The hint parser in use.
    pub fn hints(&self) -> &HintParser {
        &self.hints
    }

    #[inline]
    fn classify_status(&self, status: StatusCode, headers: &HeaderMap) -> Outcome {
        if self.throttled.contains(status) {
            return Outcome::Throttled { hint: self.hints.parse(headers) };
        }
        if self.retryable.contains(status) {
            let hint = self.hints.parse(headers);
            // A 503 that says when to come back is load shedding, not a fault.
            if status == StatusCode::SERVICE_UNAVAILABLE && hint.is_some() {
                return Outcome::Throttled { hint };
            }
            return Outcome::Retryable { hint };
        }
        if status.is_client_error() || status.is_server_error() {
            Outcome::Fatal
        } else {
            Outcome::Success
        }
    }
}

impl Default for HttpClassifier {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HttpClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClassifier")
            .field("retryable", &self.retryable)
            .field("throttled", &self.throttled)
            .field("hints", &self.hints)
            .field("response_rule", &self.response_rule.is_some())
            .field("error_rule", &self.error_rule.is_some())
            .finish()
    }
}

impl Classify for HttpClassifier {
    #[inline]
    fn classify<B>(
        &self,
        method: &Method,
        attempt: Result<&Response<B>, &(dyn Error + 'static)>,
    ) -> Outcome {
        match attempt {
            Ok(res) => {
                let custom = self
                    .response_rule
                    .as_ref()
                    .and_then(|rule| rule(method, res.status(), res.headers()));
                custom.unwrap_or_else(|| self.classify_status(res.status(), res.headers()))
            }
            Err(err) => {
                let custom = self.error_rule.as_ref().and_then(|rule| rule(method, err));
                custom.unwrap_or_else(|| classify_error(err))
            }
        }
    }
}

/// The error half of the default table, shared with the tower-http adapter.
pub(crate) fn classify_error(err: &(dyn Error + 'static)) -> Outcome {
    // A response already judged by `ClassifyLayer::error_for_status` keeps its verdict.
    if let Some(status) = find_cause::<StatusError>(err) {
        return status.outcome();
    }
    // A layer that stopped the request before it left (a shared store unreachable) says so.
    // So does a circuit breaker that refused it: the request was never sent, so trying
    // again cannot duplicate it (the retry layer waits for the breaker's next probe).
    if find_cause::<NotSent>(err).is_some() || find_cause::<BreakerOpen>(err).is_some() {
        return Outcome::NotSent;
    }
    if find_cause::<hyper_util::client::legacy::Error>(err).is_some_and(|e| e.is_connect()) {
        // Nothing was sent, but a bad certificate or a scheme nobody speaks will not get
        // better by trying again.
        if find_cause::<rustls::Error>(err).is_some() || is_unsupported_scheme(err) {
            return Outcome::Fatal;
        }
        return Outcome::NotSent;
    }
    if let Some(outcome) = classify_h2(err) {
        return outcome;
    }
    if let Some(hyper_err) = find_cause::<hyper::Error>(err) {
        // hyper hands a request back unsent when a pooled connection closed under it, and
        // fails it with "channel closed" when the connection's task was gone before the
        // request reached it (an HTTP/2 connection that just received a GOAWAY).
        if hyper_err.is_canceled() || hyper_err.is_closed() {
            return Outcome::NotSent;
        }
        if hyper_err.is_timeout() || hyper_err.is_incomplete_message() {
            return Outcome::Retryable { hint: None };
        }
    }
    if let Some(timed_out) = find_cause::<TimedOut>(err) {
        // An attempt that ran out of time may work next time; the total deadline is final.
        return match timed_out.kind() {
            TimeoutKind::Total => Outcome::Fatal,
            _ => Outcome::Retryable { hint: None },
        };
    }
    if find_cause::<tower::timeout::error::Elapsed>(err).is_some() {
        return Outcome::Retryable { hint: None };
    }
    match find_cause::<io::Error>(err).map(io::Error::kind) {
        Some(io::ErrorKind::ConnectionRefused) => Outcome::NotSent,
        Some(
            io::ErrorKind::TimedOut
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof,
        ) => Outcome::Retryable { hint: None },
        _ => Outcome::Fatal,
    }
}

/// HTTP/2 stream errors that RFC 9113 §8.7 says were not processed. A `REFUSED_STREAM`
/// reset means the server did nothing with the request. A graceful `GOAWAY` (`NO_ERROR`)
/// lets every stream the server processed finish, so a stream that fails with it was above
/// the last processed one. A `GOAWAY` with an error code may cut processed streams too, and
/// h2 does not say which stream it was, so that one is only retryable.
fn classify_h2(err: &(dyn Error + 'static)) -> Option<Outcome> {
    let h2_err = find_cause::<h2::Error>(err)?;
    if !h2_err.is_remote() {
        return None;
    }
    match h2_err.reason() {
        Some(h2::Reason::REFUSED_STREAM) if h2_err.is_reset() => Some(Outcome::NotSent),
        Some(h2::Reason::NO_ERROR) if h2_err.is_go_away() => Some(Outcome::NotSent),
        Some(_) if h2_err.is_go_away() => Some(Outcome::Retryable { hint: None }),
        _ => None,
    }
}

/// hyper-rustls refuses a URL whose scheme is neither `http` nor `https` with an
/// `io::Error` that only its message tells apart.
fn is_unsupported_scheme(err: &(dyn Error + 'static)) -> bool {
    find_cause::<io::Error>(err).is_some_and(|io| {
        io.kind() == io::ErrorKind::Other && {
            let message = io.to_string();
            message.starts_with("unsupported scheme") || message == "missing scheme"
        }
    })
}
