use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures_core::Stream;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use serde::Serialize;
use volley_core::redact::RedactedUrl;
use volley_core::{BoxError, Deadline};

use crate::client::Call;
use crate::error::Kind;
use crate::response::BodyLimit;
use crate::{Body, Client, Error, Multipart, Response};

/// A request being put together; [`send`](RequestBuilder::send) sends it.
///
/// Mistakes (a bad URL, a header value with a newline, a body that does not serialise) are
/// kept and reported by `send` as an error of kind [`Kind::Request`], so calls can be
/// chained without checking each one.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    request: Result<Request<Body>, Error>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: &str) -> Self {
        let request = client.resolve_url(url).map(|uri| {
            let mut req = Request::new(Body::empty());
            *req.method_mut() = method;
            *req.uri_mut() = uri;
            req
        });
        Self { client, request }
    }

    fn with(mut self, edit: impl FnOnce(&mut Request<Body>) -> Result<(), Error>) -> Self {
        if let Ok(req) = &mut self.request
            && let Err(err) = edit(req)
        {
            self.request = Err(err);
        }
        self
    }

    /// Sets a header, replacing any value it had.
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<BoxError>,
        V: TryInto<HeaderValue>,
        V::Error: Into<BoxError>,
    {
        self.with(|req| {
            let name = name.try_into().map_err(|e| request_error("invalid header name", e))?;
            let value = value
                .try_into()
                .map_err(|e| request_error(&format!("invalid value for header {name}"), e))?;
            req.headers_mut().insert(name, value);
            Ok(())
        })
    }

    /// Sets several headers, replacing the values they had (a name given several values
    /// in `headers` keeps them all).
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.with(|req| {
            let mut current = None;
            for (name, value) in headers {
                match name {
                    Some(name) => {
                        req.headers_mut().insert(name.clone(), value);
                        current = Some(name);
                    }
                    None => {
                        if let Some(name) = &current {
                            req.headers_mut().append(name.clone(), value);
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// Appends `query` (anything serde serialises as a flat map or list of pairs) to the
    /// URL's query string.
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.with(|req| {
            let encoded = serde_urlencoded::to_string(query)
                .map_err(|e| request_error("invalid query", e))?;
            if encoded.is_empty() {
                return Ok(());
            }
            let uri = req.uri();
            let path = uri.path();
            let path_and_query = match uri.query() {
                Some(existing) if !existing.is_empty() => format!("{path}?{existing}&{encoded}"),
                _ => format!("{path}?{encoded}"),
            };
            let mut parts = uri.clone().into_parts();
            parts.path_and_query =
                Some(path_and_query.parse().map_err(|e| request_error("invalid query", e))?);
            *req.uri_mut() =
                Uri::from_parts(parts).map_err(|e| request_error("invalid query", e))?;
            Ok(())
        })
    }

    /// `Authorization: Bearer <token>`, marked sensitive (kept out of debug output).
    pub fn bearer_auth(self, token: impl fmt::Display) -> Self {
        self.authorization(format!("Bearer {token}"))
    }

    /// `Authorization: Basic …` from a user name and an optional password.
    pub fn basic_auth(self, user: impl fmt::Display, password: Option<impl fmt::Display>) -> Self {
        let credentials = match password {
            Some(password) => format!("{user}:{password}"),
            None => format!("{user}:"),
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        self.authorization(format!("Basic {encoded}"))
    }

    fn authorization(self, value: String) -> Self {
        self.with(|req| {
            let mut value = HeaderValue::try_from(value)
                .map_err(|e| request_error("invalid credentials", e))?;
            value.set_sensitive(true);
            req.headers_mut().insert(AUTHORIZATION, value);
            Ok(())
        })
    }

    /// A JSON body, with `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.with(|req| {
            let bytes = serde_json::to_vec(json)
                .map_err(|e| request_error("body is not serialisable as JSON", e))?;
            set_body(req, bytes.into(), "application/json");
            Ok(())
        })
    }

    /// A URL-encoded form body, with `Content-Type: application/x-www-form-urlencoded`.
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.with(|req| {
            let encoded =
                serde_urlencoded::to_string(form).map_err(|e| request_error("invalid form", e))?;
            set_body(req, encoded.into(), "application/x-www-form-urlencoded");
            Ok(())
        })
    }

    /// A `multipart/form-data` body (file uploads).
    pub fn multipart(self, form: Multipart) -> Self {
        self.with(|req| {
            let content_type = form.content_type();
            set_body(req, form.into_body(), &content_type);
            Ok(())
        })
    }

    /// A body of bytes (or text).
    pub fn body(self, body: impl Into<Body>) -> Self {
        self.with(|req| {
            *req.body_mut() = body.into();
            Ok(())
        })
    }

    /// A body streamed from chunks, sent chunked: an upload that need not fit in memory.
    /// Retries replay it only while it fits the retry layer's replay buffer (64 KiB by
    /// default).
    pub fn body_stream<S, E>(self, stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        self.body(Body::from_stream(stream))
    }

    /// The total budget for this request — all attempts, sleeps and the body — in place of
    /// the client's.
    pub fn timeout(self, total: Duration) -> Self {
        self.with(|req| {
            req.extensions_mut().insert(Deadline::after(total));
            Ok(())
        })
    }

    /// The most bytes [`Response::bytes`], `text` and `json` read for this request, in place
    /// of the client's [`max_response_body`](crate::ClientBuilder::max_response_body);
    /// `None` for no limit.
    pub fn max_response_body(self, limit: Option<u64>) -> Self {
        self.with(|req| {
            req.extensions_mut().insert(BodyLimit(limit));
            Ok(())
        })
    }

    /// The request as built, without sending it.
    pub fn build(self) -> Result<Request<Body>, Error> {
        self.request
    }

    /// Sends the request and waits for the response head. The body is read with the
    /// [`Response`] helpers.
    ///
    /// Nothing happens until the future is first polled: the client's defaults and the
    /// total timeout apply from then.
    pub fn send(self) -> impl Future<Output = Result<Response, Error>> + Send + 'static {
        Sending::Unsent(Some(self))
    }
}

/// The future of [`RequestBuilder::send`]: the builder until the first poll, then the call.
/// A hand-written enum rather than an `async` block, which kept the request and the call
/// side by side and came to about 900 bytes, copied whole wherever the future is moved.
enum Sending {
    Unsent(Option<RequestBuilder>),
    Sent(Call),
}

impl Future for Sending {
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Sending::Unsent(builder) = &mut *self {
            let Some(RequestBuilder { client, request }) = builder.take() else {
                return Poll::Ready(Err(Error::with_kind(
                    Kind::Request,
                    "request future polled after it failed to start",
                )));
            };
            match request.and_then(|request| client.start(request)) {
                Ok(call) => *self = Sending::Sent(call),
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        match &mut *self {
            Sending::Sent(call) => Pin::new(call).poll(cx),
            Sending::Unsent(_) => unreachable!("started above"),
        }
    }
}

fn set_body(req: &mut Request<Body>, body: Body, content_type: &str) {
    *req.body_mut() = body;
    if !req.headers().contains_key(CONTENT_TYPE)
        && let Ok(value) = HeaderValue::from_str(content_type)
    {
        req.headers_mut().insert(CONTENT_TYPE, value);
    }
}

fn request_error(what: &str, err: impl Into<BoxError>) -> Error {
    Error::with_kind(Kind::Request, format!("{what}: {}", err.into()))
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.request {
            Ok(req) => f
                .debug_struct("RequestBuilder")
                .field("method", req.method())
                .field("uri", &RedactedUrl(&req.uri().to_string()))
                .field("headers", &self.client.sensitive().redact(req.headers()))
                .finish_non_exhaustive(),
            Err(err) => {
                f.debug_struct("RequestBuilder").field("error", err).finish_non_exhaustive()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use crate::{Client, Kind};

    /// A request that cannot start fails at the first poll, and a poll after that fails
    /// again instead of panicking.
    #[tokio::test]
    async fn a_send_that_failed_to_start_fails_again_when_polled_again() {
        let client = Client::new().unwrap();
        let mut sending = pin!(client.get("not a url").send());
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..2 {
            match sending.as_mut().poll(&mut cx) {
                Poll::Ready(Err(err)) => assert_eq!(err.kind(), Kind::Request, "{err}"),
                other => panic!("expected a request error, got {:?}", other.map(|r| r.is_ok())),
            }
        }
    }
}
