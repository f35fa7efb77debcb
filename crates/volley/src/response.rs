use std::fmt;

use bytes::{Bytes, BytesMut};
use encoding_rs::{Encoding, UTF_8};
use futures_core::Stream;
use http::{HeaderMap, StatusCode, Version};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use serde::de::DeserializeOwned;
use volley_classify::{Classify, HttpClassifier, StatusError};
use volley_core::BoxError;
use volley_core::redact::{RedactedHeaders, RedactedUrl};
use volley_redirect::{Hop, NotFollowed, Redirects};
use volley_retry::RetryInfo;

use crate::builder::DEFAULT_MAX_RESPONSE_BODY;
use crate::error::{BodyTooLarge, Error, Kind};

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
    /// The most bytes the buffering helpers read.
    limit: Option<u64>,
    /// Whether the request was a HEAD, whose response declares a length it never sends.
    to_head: bool,
}

/// A request's own response-body limit, set by
/// [`RequestBuilder::max_response_body`](crate::RequestBuilder::max_response_body); it
/// travels in the request's extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimit(pub(crate) Option<u64>);

impl Response {
    pub(crate) fn new(
        inner: http::Response<ResponseBody>,
        url: http::Uri,
        limit: Option<u64>,
        to_head: bool,
    ) -> Self {
        Self { inner, url: Some(url), limit, to_head }
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

    /// The URL that gave this response: the last one of a redirect chain, else the URL
    /// requested. `None` only for a response made with `From` that never redirected.
    pub fn url(&self) -> Option<&http::Uri> {
        match self.inner.extensions().get::<Redirects>() {
            Some(redirects) => Some(redirects.final_url()),
            None => self.url.as_ref(),
        }
    }

    /// The redirects followed to get here, oldest first: each hop's URL and 3xx status.
    /// Empty when the first URL answered.
    pub fn redirects(&self) -> &[Hop] {
        self.inner.extensions().get::<Redirects>().map_or(&[], Redirects::hops)
    }

    /// Why this 3xx response was handed back instead of followed (the policy, a body that
    /// cannot be resent, an unusable `Location`), if it is one.
    pub fn redirect_not_followed(&self) -> Option<NotFollowed> {
        self.inner.extensions().get::<Redirects>().and_then(Redirects::not_followed)
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
        let url = self.url().cloned();
        let (parts, _body) = self.inner.into_parts();
        let err = Error::new(StatusError::new(parts.status, parts.headers, outcome))
            .with_attempts(attempts);
        Err(with_url(err, url.as_ref()))
    }

    /// The whole body, up to the response-body limit (64 MiB unless
    /// [`ClientBuilder::max_response_body`](crate::ClientBuilder::max_response_body) or the
    /// request said otherwise): a larger `Content-Length` is refused before reading, and a
    /// body that grows past the limit stops there, both with an error of kind
    /// [`Kind::BodyTooLarge`].
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let url = self.url().cloned();
        self.read_all().await.map_err(|err| with_url(err, url.as_ref()))
    }

    async fn read_all(self) -> Result<Bytes, Error> {
        let Some(limit) = self.limit else {
            let collected = self.inner.into_body().collect().await.map_err(body_error)?;
            return Ok(collected.to_bytes());
        };
        // A HEAD, 204 or 304 response may declare a length it never sends.
        let bodiless = self.to_head || matches!(self.inner.status().as_u16(), 204 | 304);
        let declared = content_length(self.inner.headers()).filter(|_| !bodiless);
        if let Some(declared) = declared
            && declared > limit
        {
            return Err(BodyTooLarge { limit, content_length: Some(declared) }.into());
        }
        collect_limited(self.inner.into_body(), limit, declared).await
    }

    /// The most bytes [`bytes`](Self::bytes), [`text`](Self::text) and
    /// [`json`](Self::json) will read; `None` for no limit.
    pub fn max_body(&self) -> Option<u64> {
        self.limit
    }

    /// The whole body as text, decoded from the `charset` of its `Content-Type` (UTF-8
    /// when it names none or one nobody knows; a byte-order mark wins over both), invalid
    /// sequences replaced; up to the response-body limit (see [`bytes`](Self::bytes)).
    pub async fn text(self) -> Result<String, Error> {
        self.text_with_charset("utf-8").await
    }

    /// [`text`](Self::text), with `default` (an encoding label such as `"windows-1252"`,
    /// as the WHATWG Encoding Standard names them) where the response names no charset.
    pub async fn text_with_charset(self, default: &str) -> Result<String, Error> {
        let encoding = charset(self.headers())
            .and_then(|label| Encoding::for_label(label.as_bytes()))
            .or_else(|| Encoding::for_label(default.as_bytes()))
            .unwrap_or(UTF_8);
        let bytes = self.bytes().await?;
        let (text, _encoding, _replaced) = encoding.decode(&bytes);
        Ok(text.into_owned())
    }

    /// The whole body parsed as JSON, up to the response-body limit (see
    /// [`bytes`](Self::bytes)).
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let url = self.url().cloned();
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|err| with_url(Error::with_kind(Kind::Body, err), url.as_ref()))
    }

    /// The body as a stream of chunks as they arrive, for downloads in constant memory.
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, Error>> + Send {
        let url = self.url().cloned();
        futures_util::StreamExt::filter_map(
            self.inner.into_body().into_data_stream(),
            move |chunk| {
                let chunk = chunk.map_err(|err| with_url(body_error(err), url.as_ref()));
                std::future::ready(Some(chunk))
            },
        )
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            match self.inner.body_mut().frame().await {
                None => return Ok(None),
                Some(Err(err)) => {
                    return Err(with_url(body_error(err), self.url().cloned().as_ref()));
                }
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
    /// Wraps a response from the client used as a `tower::Service` (as in [`join`](crate::join)),
    /// with the default response-body limit of 64 MiB.
    fn from(inner: http::Response<ResponseBody>) -> Self {
        Self { inner, url: None, limit: Some(DEFAULT_MAX_RESPONSE_BODY), to_head: false }
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
            .field("url", &self.url().map(RedactedUrl::uri))
            .field("status", &self.inner.status())
            .field("version", &self.inner.version())
            .field("headers", &RedactedHeaders(self.inner.headers()))
            .finish_non_exhaustive()
    }
}

fn with_url(err: Error, url: Option<&http::Uri>) -> Error {
    match url {
        Some(url) => err.with_url(url),
        None => err,
    }
}

/// The `charset` parameter of the `Content-Type`, without quotes.
fn charset(headers: &HeaderMap) -> Option<&str> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"'))
    })
}

/// The `Content-Length` a response declared, if it is one number.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// At most this much is reserved up front for a body from its `Content-Length`: a server
/// that declares a large body and sends a small one costs no more than this.
const MAX_RESERVE: u64 = 1024 * 1024;

/// What to reserve for a body that declared `declared` bytes, under a limit of `limit`.
fn reserve(declared: Option<u64>, limit: u64) -> usize {
    let bytes = declared.unwrap_or(0).min(limit).min(MAX_RESERVE);
    usize::try_from(bytes).unwrap_or(0)
}

/// The body's data up to `limit` bytes, failing at the first frame past it, so at most one
/// frame more than the limit is ever held. A body of one frame is returned without a copy.
/// A body of several frames goes into a buffer reserved for its declared length (up to
/// [`MAX_RESERVE`]), so that a 64 KiB body is copied once rather than about twice over as
/// the buffer grows.
async fn collect_limited(
    mut body: ResponseBody,
    limit: u64,
    declared: Option<u64>,
) -> Result<Bytes, Error> {
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(body_error)?.into_data() else { continue };
        total = total.saturating_add(data.len() as u64);
        if total > limit {
            return Err(BodyTooLarge { limit, content_length: None }.into());
        }
        match (&first, &mut joined) {
            (None, _) => first = Some(data),
            (Some(head), None) => {
                let needed = head.len() + data.len();
                let mut buf = BytesMut::with_capacity(needed.max(reserve(declared, limit)));
                buf.extend_from_slice(head);
                buf.extend_from_slice(&data);
                joined = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&data),
        }
    }
    Ok(match (joined, first) {
        (Some(buf), _) => buf.freeze(),
        (None, Some(single)) => single,
        (None, None) => Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_length_reserves_at_most_a_mebibyte_and_never_past_the_limit() {
        assert_eq!(reserve(Some(65_536), 64 << 20), 65_536);
        // A server that declares a huge body (or lies) costs 1 MiB up front at most.
        assert_eq!(reserve(Some(u64::MAX), u64::MAX), 1 << 20);
        assert_eq!(reserve(Some(60 << 20), 64 << 20), 1 << 20);
        assert_eq!(reserve(Some(10_000), 100), 100);
        assert_eq!(reserve(None, 64 << 20), 0);
    }
}
