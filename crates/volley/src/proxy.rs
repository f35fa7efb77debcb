//! Proxies: which requests go through one ([`Proxy`], or the environment), and the
//! connector that reaches the origin through it — absolute-form HTTP, a `CONNECT` tunnel for
//! https, or SOCKS5 — built on hyper-util's `client-proxy` parts.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use http::header::{HeaderValue, PROXY_AUTHORIZATION};
use http::uri::Scheme;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::proxy::matcher::Matcher;
use tower_service::Service;
use volley_core::BoxError;
use volley_core::redact::RedactedUrl;

use crate::Error;
use crate::error::Kind;

/// Where requests go through a proxy: an explicit choice for
/// [`ClientBuilder::proxy`](crate::ClientBuilder::proxy). Without one, the client reads
/// `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (upper or lower case) once, when
/// it is built, as curl and reqwest do.
///
/// Proxy URLs are `http://[user:pass@]host:port` (a forward proxy: plain-http requests in
/// absolute form, https requests through a `CONNECT` tunnel) or
/// `socks5h://[user:pass@]host:port` (SOCKS5, the proxy resolves names) and
/// `socks5://…` (SOCKS5, names resolved here). Credentials in a proxy URL go to the proxy as
/// `Proxy-Authorization` (or SOCKS5 username/password) and never to the origin; they are
/// never printed.
///
/// ```
/// use volley::Proxy;
///
/// let proxy = Proxy::all("http://user:secret@proxy.internal:3128")
///     .no_proxy("localhost, .internal, 10.0.0.0/8");
/// let client = volley::Client::builder().proxy(proxy).build()?;
/// assert!(!format!("{client:?}").contains("secret"));
/// # Ok::<(), volley::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Proxy {
    all: Option<String>,
    http: Option<String>,
    https: Option<String>,
    no: String,
}

impl Proxy {
    /// Every request through `url`.
    pub fn all(url: impl Into<String>) -> Self {
        Self { all: Some(url.into()), ..Self::default() }
    }

    /// Requests to `http` URLs through `url`; others go direct unless
    /// [`https`](Self::https) says otherwise.
    pub fn http(url: impl Into<String>) -> Self {
        Self { http: Some(url.into()), ..Self::default() }
    }

    /// Requests to `https` URLs through `url`.
    pub fn https(url: impl Into<String>) -> Self {
        Self { https: Some(url.into()), ..Self::default() }
    }

    /// Also requests to `http` URLs through `url`.
    #[must_use]
    pub fn and_http(mut self, url: impl Into<String>) -> Self {
        self.http = Some(url.into());
        self
    }

    /// Also requests to `https` URLs through `url`.
    #[must_use]
    pub fn and_https(mut self, url: impl Into<String>) -> Self {
        self.https = Some(url.into());
        self
    }

    /// Hosts that go direct, as in `NO_PROXY`: a comma-separated list of names (`example.com`
    /// also matches its subdomains, `.example.com` only them), IP addresses, CIDR blocks, or
    /// `*` for all. Defaults to none.
    #[must_use]
    pub fn no_proxy(mut self, list: impl Into<String>) -> Self {
        self.no = list.into();
        self
    }

    pub(crate) fn matcher(&self) -> Result<Matcher, Error> {
        for url in [&self.all, &self.http, &self.https].into_iter().flatten() {
            check_proxy_url(url)?;
        }
        let mut builder = Matcher::builder();
        if let Some(all) = &self.all {
            builder = builder.all(all.clone());
        }
        if let Some(http) = &self.http {
            builder = builder.http(http.clone());
        }
        if let Some(https) = &self.https {
            builder = builder.https(https.clone());
        }
        Ok(builder.no(self.no.clone()).build())
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |url: &Option<String>| url.as_deref().map(|url| RedactedUrl(url).to_string());
        f.debug_struct("Proxy")
            .field("all", &shown(&self.all))
            .field("http", &shown(&self.http))
            .field("https", &shown(&self.https))
            .field("no_proxy", &self.no)
            .finish()
    }
}

/// Refuses proxy URLs the connector cannot use, at build time.
fn check_proxy_url(url: &str) -> Result<(), Error> {
    let shown = RedactedUrl(url);
    let parsed: Uri = url.parse().map_err(|err| {
        Error::with_kind(Kind::Config, format!("invalid proxy URL {shown}: {err}"))
    })?;
    match parsed.scheme_str() {
        Some("http" | "socks5" | "socks5h") | None if parsed.host().is_some() => Ok(()),
        Some("https") => Err(Error::with_kind(
            Kind::Config,
            format!(
                "proxy {shown}: TLS to the proxy itself is not supported; use http:// (https requests still use TLS end to end through a CONNECT tunnel)"
            ),
        )),
        _ => Err(Error::with_kind(
            Kind::Config,
            format!("proxy {shown}: use an http://, socks5:// or socks5h:// URL with a host"),
        )),
    }
}

/// The proxies in force: `None` goes direct.
pub(crate) type Proxies = Option<Arc<Matcher>>;

/// The environment's proxies, or `None` when it names none.
pub(crate) fn from_env() -> Proxies {
    let matcher = Matcher::from_env();
    // A matcher that intercepts nothing for either scheme is no matcher.
    let probe = |uri: &'static str| matcher.intercept(&Uri::from_static(uri)).is_some();
    let any = probe("http://volley.invalid/") || probe("https://volley.invalid/");
    any.then(|| Arc::new(matcher))
}

/// `Proxy-Authorization` for a plain-http request that goes through an http forward proxy
/// (a tunnel or SOCKS carries its credentials in the handshake instead).
pub(crate) fn forward_authorization(proxies: &Matcher, uri: &Uri) -> Option<HeaderValue> {
    if uri.scheme() != Some(&Scheme::HTTP) {
        return None;
    }
    let intercept = proxies.intercept(uri)?;
    if !matches!(intercept.uri().scheme_str(), Some("http") | None) {
        return None;
    }
    let mut auth = intercept.basic_auth()?.clone();
    auth.set_sensitive(true);
    Some(auth)
}

/// Adds `Proxy-Authorization` where [`forward_authorization`] says so.
pub(crate) fn authorize<B>(proxies: &Proxies, req: &mut http::Request<B>) {
    if let Some(proxies) = proxies
        && let Some(auth) = forward_authorization(proxies, req.uri())
    {
        req.headers_mut().insert(PROXY_AUTHORIZATION, auth);
    }
}

/// Connects through the proxy that [`Proxies`] names for each destination, or directly.
#[derive(Clone)]
pub(crate) struct ProxyConnector<C> {
    inner: C,
    proxies: Proxies,
}

impl<C> ProxyConnector<C> {
    pub(crate) fn new(inner: C, proxies: Proxies) -> Self {
        Self { inner, proxies }
    }
}

type Connecting<T> = Pin<Box<dyn Future<Output = Result<ProxyStream<T>, BoxError>> + Send>>;

impl<C> Service<Uri> for ProxyConnector<C>
where
    C: Service<Uri> + Clone + Send + 'static,
    C::Response: Read + Write + Connection + Unpin + Send + 'static,
    C::Future: Send + 'static,
    C::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = ProxyStream<C::Response>;
    type Error = BoxError;
    type Future = Connecting<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.proxies.as_ref().and_then(|proxies| proxies.intercept(&dst));
        let Some(intercept) = intercept else {
            let direct = self.inner.call(dst);
            return Box::pin(async move { Ok(ProxyStream::new(direct.await?, false)) });
        };
        let proxy = intercept.uri().clone();
        let inner = self.inner.clone();
        match proxy.scheme_str() {
            // TLS to the proxy is not spoken here: a CONNECT (and its credentials) in the
            // clear to a port that expects TLS must never happen, whatever the environment
            // says.
            Some("https") => Box::pin(async move {
                Err("https:// proxies are not supported (TLS to the proxy itself); use an http:// proxy URL".into())
            }),
            Some(scheme @ ("socks5" | "socks5h")) => {
                let local_dns = scheme == "socks5";
                let mut socks = SocksV5::new(proxy, inner).local_dns(local_dns);
                if let Some((user, pass)) = intercept.raw_auth() {
                    socks = socks.with_auth(user.to_owned(), pass.to_owned());
                }
                Box::pin(async move { Ok(ProxyStream::new(socks.call(dst).await?, false)) })
            }
            _ if dst.scheme() == Some(&Scheme::HTTPS) => {
                let mut tunnel = Tunnel::new(proxy, inner);
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move { Ok(ProxyStream::new(tunnel.call(dst).await?, false)) })
            }
            // Plain http through a forward proxy: connect to the proxy and send the request
            // in absolute form (hyper-util does, for a connection marked proxied).
            _ => {
                let mut inner = inner;
                let connecting = inner.call(proxy);
                Box::pin(async move { Ok(ProxyStream::new(connecting.await?, true)) })
            }
        }
    }
}

/// A connection, direct or through a proxy (a `CONNECT` tunnel and SOCKS5 look direct from
/// here), that tells hyper-util whether requests on it go to an http forward proxy and so
/// must be in absolute form. The TCP part of a [`Connection`](crate::Connection).
#[derive(Debug)]
pub struct ProxyStream<T> {
    inner: T,
    forward: bool,
}

impl<T> ProxyStream<T> {
    fn new(inner: T, forward: bool) -> Self {
        Self { inner, forward }
    }

    /// Whether this connection goes to an http forward proxy.
    pub fn is_forward_proxy(&self) -> bool {
        self.forward
    }

    /// The connection underneath.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: Connection> Connection for ProxyStream<T> {
    fn connected(&self) -> Connected {
        self.inner.connected().proxy(self.forward)
    }
}

impl<T: Read + Unpin> Read for ProxyStream<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for ProxyStream<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}
