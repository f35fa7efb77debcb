use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use http::StatusCode;
use volley_classify::StatusError;
use volley_core::redact::RedactedUrl;
use volley_core::{BoxError, TimedOut, find_cause};
use volley_limit::Overloaded;
use volley_ratelimit::RateLimited;
use volley_retry::RetryError;

/// What kind of failure an [`Error`] is, read from its whole source chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A timeout fired: the total deadline, an attempt, or a body idle timeout.
    Timeout,
    /// No connection could be made (refused, DNS, TLS handshake, connect timeout).
    Connect,
    /// The server answered with a failing status (`error_for_status`).
    Status,
    /// The client's own rate limiter refused to wait that long.
    RateLimited,
    /// The client's own concurrency limit refused to queue the request.
    Overloaded,
    /// The request could not be built (bad URL, header, or body encoding).
    Request,
    /// The response body could not be read or decoded.
    Body,
    /// The response body was larger than the limit for reading it into memory
    /// ([`ClientBuilder::max_response_body`](crate::ClientBuilder::max_response_body)); see
    /// [`BodyTooLarge`].
    BodyTooLarge,
    /// A redirect was refused: too many hops, https to http, a private address
    /// ([`volley_redirect::RedirectError`]).
    Redirect,
    /// The host's circuit breaker was open, so the request was not sent
    /// ([`ClientBuilder::circuit_breaker`](crate::ClientBuilder::circuit_breaker)); see
    /// [`volley::breaker::BreakerOpen`](volley_core::BreakerOpen) for when it will let a
    /// probe through.
    BreakerOpen,
    /// The client or a helper was configured with values that cannot work.
    Config,
    /// Anything else, such as a connection reset mid-request.
    Other,
}

impl Kind {
    /// A short lowercase name, for logs and reports: `timeout`, `connect`, `status`…
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Timeout => "timeout",
            Kind::Connect => "connect",
            Kind::Status => "status",
            Kind::RateLimited => "rate_limited",
            Kind::Overloaded => "overloaded",
            Kind::Request => "request",
            Kind::Body => "body",
            Kind::BodyTooLarge => "body_too_large",
            Kind::Redirect => "redirect",
            Kind::BreakerOpen => "breaker_open",
            Kind::Config => "config",
            Kind::Other => "other",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one error type of the `volley` facade.
///
/// It wraps whatever a layer or the transport returned and answers the questions callers
/// ask of it by looking through the whole source chain: [`kind`](Error::kind),
/// [`is_timeout`](Error::is_timeout), [`status`](Error::status),
/// [`retry_after`](Error::retry_after)… Its `Display` prints the whole chain on one line,
/// outer to inner: `not retried after 4 attempts: all 3 retries were used: client error
/// (Connect): tcp connect error: Connection refused (os error 111)`.
pub struct Error {
    kind: Kind,
    inner: BoxError,
    /// Attempts made, when known from the response this error was made from.
    attempts: Option<u32>,
    /// The request's URL, redacted, when the error came from a request.
    url: Option<Box<str>>,
}

impl Error {
    /// Wraps any error, classifying it by its source chain.
    pub fn new(inner: impl Into<BoxError>) -> Self {
        match inner.into().downcast::<Error>() {
            Ok(already) => *already,
            Err(inner) => Self { kind: kind_of(&*inner), inner, attempts: None, url: None },
        }
    }

    pub(crate) fn with_kind(kind: Kind, inner: impl Into<BoxError>) -> Self {
        Self { kind, inner: inner.into(), attempts: None, url: None }
    }

    /// Notes the request's URL (redacted), unless a URL is noted already.
    pub(crate) fn with_url(mut self, uri: &http::Uri) -> Self {
        if self.url.is_none() {
            self.url = Some(RedactedUrl::uri(uri).into_boxed_str());
        }
        self
    }

    /// The URL of the request that failed, as it was asked for, without userinfo and with
    /// secret query values redacted (`https://api.example.com/v1/items?token=[redacted]`).
    /// A refused redirect names its target in
    /// [`RedirectError::location`](volley_redirect::RedirectError::location). `None` for
    /// errors that came from no request (configuration).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether a timeout fired.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// Whether no connection could be made, including a connect that ran out of time
    /// (whose kind is [`Kind::Timeout`]).
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
            || find_cause::<hyper_util::client::legacy::Error>(&*self.inner)
                .is_some_and(hyper_util::client::legacy::Error::is_connect)
    }

    /// Whether the server was throttling: a 429, or a 503 that said when to come back.
    pub fn is_throttled(&self) -> bool {
        self.find::<StatusError>().is_some_and(|s| s.outcome().is_throttled())
    }

    /// Whether the client's own concurrency limit refused the request.
    pub fn is_overloaded(&self) -> bool {
        self.kind == Kind::Overloaded
    }

    /// Whether the client's own rate limiter refused the request.
    pub fn is_rate_limited(&self) -> bool {
        self.kind == Kind::RateLimited
    }

    /// The failing status, for errors made by `error_for_status`.
    pub fn status(&self) -> Option<StatusCode> {
        self.find::<StatusError>().map(StatusError::status)
    }

    /// How long the server asked the client to wait, or the rate limiter would have
    /// needed, if either said.
    pub fn retry_after(&self) -> Option<Duration> {
        if let Some(hint) = self.find::<StatusError>().and_then(StatusError::hint) {
            return Some(hint.delay());
        }
        self.find::<RateLimited>().map(RateLimited::wait)
    }

    /// Attempts made, when known: the retry layer gave up, or the error came from
    /// [`Response::error_for_status`](crate::Response::error_for_status).
    pub fn attempts(&self) -> Option<u32> {
        self.attempts.or_else(|| self.find::<RetryError>().map(RetryError::attempts))
    }

    /// The first error of type `T` in the chain.
    pub fn find<T: StdError + 'static>(&self) -> Option<&T> {
        find_cause::<T>(&*self.inner)
    }

    /// The wrapped error.
    pub fn into_inner(self) -> BoxError {
        self.inner
    }
}

/// A response body was larger than the limit for reading it into memory.
///
/// `Display`: `response body is larger than the limit of 67108864 bytes (content-length
/// 100000000)` when the server declared its size, `response body grew past the limit of
/// 67108864 bytes` when it did not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyTooLarge {
    pub(crate) limit: u64,
    pub(crate) content_length: Option<u64>,
}

impl BodyTooLarge {
    /// The limit, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The size the server declared in `Content-Length`, when that is how the body was
    /// refused (before reading any of it).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.content_length {
            Some(declared) => write!(
                f,
                "response body is larger than the limit of {} bytes (content-length {declared})",
                self.limit
            ),
            None => write!(f, "response body grew past the limit of {} bytes", self.limit),
        }
    }
}

impl StdError for BodyTooLarge {}

impl From<BodyTooLarge> for Error {
    fn from(err: BodyTooLarge) -> Self {
        Error::with_kind(Kind::BodyTooLarge, err)
    }
}

fn kind_of(err: &(dyn StdError + 'static)) -> Kind {
    if find_cause::<TimedOut>(err).is_some()
        || find_cause::<tower::timeout::error::Elapsed>(err).is_some()
    {
        return Kind::Timeout;
    }
    if find_cause::<RateLimited>(err).is_some() {
        return Kind::RateLimited;
    }
    if find_cause::<Overloaded>(err).is_some() {
        return Kind::Overloaded;
    }
    if find_cause::<volley_core::BreakerOpen>(err).is_some() {
        return Kind::BreakerOpen;
    }
    if find_cause::<StatusError>(err).is_some() {
        return Kind::Status;
    }
    if find_cause::<volley_redirect::RedirectError>(err).is_some() {
        return Kind::Redirect;
    }
    if find_cause::<hyper_util::client::legacy::Error>(err).is_some_and(|e| e.is_connect()) {
        return Kind::Connect;
    }
    if find_cause::<hyper::Error>(err).is_some_and(hyper::Error::is_timeout) {
        return Kind::Timeout;
    }
    Kind::Other
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)?;
        let mut source = self.inner.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("inner", &self.inner)
            .field("attempts", &self.attempts)
            .field("url", &self.url)
            .finish()
    }
}

/// No `source()`: `Display` already prints the whole chain, and error reporters that walk
/// sources would print it twice. Look inside with [`Error::find`] or
/// [`Error::into_inner`].
impl StdError for Error {}

impl From<BoxError> for Error {
    fn from(inner: BoxError) -> Self {
        Self::new(inner)
    }
}
