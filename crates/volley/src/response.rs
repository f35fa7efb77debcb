use std::fmt;

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, StatusCode, Version};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use serde::de::DeserializeOwned;
use volley_classify::{Classify, HttpClassifier, StatusError};
use volley_core::BoxError;
use volley_retry::RetryInfo;

use crate::error::{Error, Kind};

/// The body of a response as the client's layers hand it over: any permit or timer held for
/// the request lives until this body ends, fails or is dropped.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// A response: status and headers at once, the body read by one of the helpers.
///
/// Read or drop the body promptly: a concurrency permit and the total timeout cover the
/// request until its body ends.
pub struct Response {
    inner: http::Response<ResponseBody>,
    url: Option<http::Uri>,
}

impl Response {
    pub(crate) fn new(inner: http::Response<ResponseBody>, url: http::Uri) -> Self {
        Self { inner, url: Some(url) }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.inner.version()
    }

    /// The URL that was requested, when the response came from [`Client::execute`] or
    /// [`RequestBuilder::send`](crate::RequestBuilder::send).
    ///
    /// [`Client::execute`]: crate::Client::execute
    pub fn url(&self) -> Option<&http::Uri> {
        self.url.as_ref()
    }

    /// Attempts made for this response: 1 unless the retry layer tried again.
    pub fn attempts(&self) -> u32 {
        self.inner.extensions().get::<RetryInfo>().map_or(1, |info| info.attempts)
    }

    /// Why the retry layer stopped although this response's status was retryable (all
    /// retries used, a `Retry-After` above the cap, the deadline, the budget…), if it did.
    pub fn retry_stopped(&self) -> Option<volley_retry::StopReason> {
        self.inner.extensions().get::<RetryInfo>().and_then(|info| info.stopped)
    }

    /// The response itself, unless the classifier judges its status a failure (4xx, 5xx):
    /// then an error of kind [`Kind::Status`] carrying the status, headers and any
    /// `Retry-After` hint. The body of a failing response is dropped.
    pub fn error_for_status(self) -> Result<Self, Error> {
        let outcome = HttpClassifier::new().classify(&http::Method::GET, Ok(&self.inner));
        if outcome.is_success() {
            return Ok(self);
        }
        let attempts = self.attempts();
        let (parts, _body) = self.inner.into_parts();
        Err(Error::new(StatusError::new(parts.status, parts.headers, outcome))
            .with_attempts(attempts))
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let collected = self.inner.into_body().collect().await.map_err(body_error)?;
        Ok(collected.to_bytes())
    }

    /// The whole body as UTF-8 text (invalid sequences replaced).
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The whole body parsed as JSON.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|err| Error::with_kind(Kind::Body, err))
    }

    /// The body as a stream of chunks as they arrive, for downloads in constant memory.
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, Error>> + Send {
        futures_util::StreamExt::filter_map(self.inner.into_body().into_data_stream(), |chunk| {
            std::future::ready(Some(chunk.map_err(body_error)))
        })
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            match self.inner.body_mut().frame().await {
                None => return Ok(None),
                Some(Err(err)) => return Err(body_error(err)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The `http::Response` underneath.
    pub fn into_inner(self) -> http::Response<ResponseBody> {
        self.inner
    }
}

impl From<http::Response<ResponseBody>> for Response {
    /// Wraps a response from the client used as a `tower::Service` (as in [`join`](crate::join)).
    fn from(inner: http::Response<ResponseBody>) -> Self {
        Self { inner, url: None }
    }
}

/// Errors while reading a body keep their own kind (a timeout stays a timeout).
fn body_error(err: BoxError) -> Error {
    let err = Error::new(err);
    if err.kind() == Kind::Other { Error::with_kind(Kind::Body, err.into_inner()) } else { err }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url)
            .field("status", &self.inner.status())
            .field("version", &self.inner.version())
            .field("headers", self.inner.headers())
            .finish_non_exhaustive()
    }
}
