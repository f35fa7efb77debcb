use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::TryFutureExt;
use futures_util::future::BoxFuture;
use http::header::{HeaderMap, HeaderValue, USER_AGENT};
use http::{Method, Request};
use tower_service::Service;
use volley_core::Deadline;
use volley_core::redact::SensitiveHeaders;

use crate::call::Sent;
use crate::response::BodyLimit;
use crate::stack::Outer;
use crate::uri;
use crate::{Body, ClientBuilder, Error, Limits, RequestBuilder, Response, ResponseBody};

/// An HTTP client with the standard volley stack: a total timeout, retries, optional rate
/// and per-host limits, a global concurrency limit, an attempt timeout, and a pooled
/// hyper-util client over rustls.
///
/// Cheap to clone (one reference count): clones share the connection pool and every limit.
/// `Send + Sync`, so an `Arc` is not needed to share it. It is also a
/// `tower::Service<http::Request<Body>>`, so it can be wrapped further; as a service it is
/// always ready, and a request waits for a limit inside its response future (which is where
/// volley's limits wait anyway).
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), volley::Error> {
/// let client = volley::Client::new()?;
/// let user: serde_json::Value = client.get("https://api.example.com/users/1").send().await?
///     .error_for_status()?
///     .json().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// What every clone of a client shares. The stack lives here rather than in each clone
/// because a clone of the stack is a deep one (a box per boxed stage, a reference count per
/// layer, the connection pool's handles): request builders and fan-outs clone the client
/// per request, and only the call itself needs a stack of its own.
struct Shared {
    stack: Outer,
    settings: Settings,
}

/// What the builder decided beyond the stack.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) total_timeout: Option<Duration>,
    pub(crate) default_headers: HeaderMap,
    pub(crate) max_response_body: Option<u64>,
    pub(crate) sensitive: SensitiveHeaders,
    pub(crate) base_url: Option<url::Url>,
    pub(crate) limits: Limits,
}

impl Client {
    /// A client with the default configuration (see [`ClientBuilder`]).
    pub fn new() -> Result<Client, Error> {
        ClientBuilder::new().build()
    }

    /// A builder to configure a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    pub(crate) fn from_parts(stack: Outer, mut settings: Settings) -> Self {
        if !settings.default_headers.contains_key(USER_AGENT) {
            settings.default_headers.insert(
                USER_AGENT,
                HeaderValue::from_static(concat!("volley/", env!("CARGO_PKG_VERSION"))),
            );
        }
        Self { shared: Arc::new(Shared { stack, settings }) }
    }

    /// `url` parsed, and joined to the base URL when the client has one.
    pub(crate) fn resolve_url(&self, url: &str) -> Result<http::Uri, Error> {
        uri::parse_url(self.shared.settings.base_url.as_ref(), url)
    }

    /// The live state of this client's limits, shared by all its clones: requests in flight
    /// and waiting per host, tracked hosts, circuit states, hedge counts.
    pub fn limits(&self) -> Limits {
        self.shared.settings.limits.clone()
    }

    /// The headers this client treats as credentials.
    pub(crate) fn sensitive(&self) -> &SensitiveHeaders {
        &self.shared.settings.sensitive
    }

    /// A request with `method` to `url`.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.as_ref())
    }

    /// A GET request.
    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A POST request.
    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A HEAD request.
    pub fn head(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Sends a request built elsewhere, with the client's default headers and total timeout
    /// applied where the request has none of its own.
    ///
    /// A URL's userinfo (`https://user:pass@host/`) becomes an `Authorization: Basic` header
    /// (unless the request has one) and is removed from the URL, so it is never sent in the
    /// request line or HTTP/2's `:authority`. Credential headers are marked sensitive. Only
    /// `http` and `https` URLs are accepted.
    pub async fn execute(&self, req: Request<Body>) -> Result<Response, Error> {
        self.start(req)?.await
    }

    /// Applies the client's defaults to `req` and sends it through a clone of the stack.
    pub(crate) fn start(&self, mut req: Request<Body>) -> Result<Call, Error> {
        self.prepare(&mut req).map_err(|err| err.with_url(req.uri()))?;
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(self.shared.settings.max_response_body, |limit| limit.0);
        let to_head = req.method() == Method::HEAD;
        Ok(Call { sent: Sent::new(&self.shared.stack, req), limit, to_head })
    }

    fn prepare(&self, req: &mut Request<Body>) -> Result<(), Error> {
        let settings = &self.shared.settings;
        uri::check_scheme(req.uri())?;
        uri::move_userinfo_to_authorization(req)?;
        for (name, value) in &settings.default_headers {
            if !req.headers().contains_key(name) {
                req.headers_mut().insert(name.clone(), value.clone());
            }
        }
        settings.sensitive.mark(req.headers_mut());
        if let Some(total) = settings.total_timeout
            && Deadline::from_request(req).is_none()
        {
            Deadline::after(total).insert_into(req);
        }
        Ok(())
    }
}

impl Service<Request<Body>> for Client {
    type Response = http::Response<ResponseBody>;
    type Error = Error;
    type Future = BoxFuture<'static, Result<Self::Response, Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // The stack's readiness is awaited in the response future, on the call's own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        match self.prepare(&mut req) {
            Ok(()) => Box::pin(Sent::new(&self.shared.stack, req).map_ok(|(res, _url)| res)),
            Err(err) => Box::pin(std::future::ready(Err(err.with_url(req.uri())))),
        }
    }
}

/// Sends built requests, so a fan-out can take request builders lazily and hand each item a
/// [`Response`]:
///
/// ```no_run
/// # async fn run() -> Result<(), volley::Error> {
/// let client = volley::Client::new()?;
/// let urls = (0..10_000).map(|i| format!("https://api.example.com/items/{i}"));
/// let sizes = volley::join::Fanout::new(client.clone(), 20)?
///     .ordered(urls.map(move |url| client.get(url)), |res: volley::Response| async move {
///         Ok::<_, volley::Error>(res.bytes().await?.len())
///     })
///     .await;
/// # Ok(()) }
/// ```
impl Service<RequestBuilder> for Client {
    type Response = Response;
    type Error = Error;
    type Future = BoxFuture<'static, Result<Response, Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestBuilder) -> Self::Future {
        Box::pin(request.send())
    }
}

/// A request on its way through the stack, resolving to the [`Response`] the helpers
/// read: the stack's future and what the response needs besides.
pub(crate) struct Call {
    sent: Sent,
    limit: Option<u64>,
    to_head: bool,
}

impl Future for Call {
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (res, url) = ready!(Pin::new(&mut self.sent).poll(cx))?;
        Poll::Ready(Ok(Response::new(res, url, self.limit, self.to_head)))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.shared.settings;
        f.debug_struct("Client")
            .field("total_timeout", &settings.total_timeout)
            .field("default_headers", &settings.sensitive.redact(&settings.default_headers))
            .field("max_response_body", &settings.max_response_body)
            .finish_non_exhaustive()
    }
}
