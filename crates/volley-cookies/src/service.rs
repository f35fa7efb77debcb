use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::COOKIE;
use http::{Request, Response, Uri};
use tower_service::Service;
use url::Url;

use crate::CookieProvider;
use crate::future::ResponseFuture;

/// The service made by [`CookieLayer`](crate::CookieLayer): sends the provider's cookies
/// with each request and stores the cookies of each response.
#[derive(Clone)]
pub struct Cookies<S> {
    inner: S,
    provider: Arc<dyn CookieProvider>,
    max_set_cookie: usize,
}

impl<S> Cookies<S> {
    pub(crate) fn new(inner: S, provider: Arc<dyn CookieProvider>, max_set_cookie: usize) -> Self {
        Self { inner, provider, max_set_cookie }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for Cookies<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookies")
            .field("inner", &self.inner)
            .field("max_set_cookie_headers", &self.max_set_cookie)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cookies<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(url) = request_url(req.uri()) else {
            return ResponseFuture::new(self.inner.call(req), None, 0);
        };
        if !req.headers().contains_key(COOKIE)
            && let Some(mut value) = self.provider.cookies(&url)
        {
            value.set_sensitive(true);
            req.headers_mut().insert(COOKIE, value);
        }
        let store = Some((self.provider.clone(), url));
        ResponseFuture::new(self.inner.call(req), store, self.max_set_cookie)
    }
}

/// The request's URL, when its URI is absolute.
fn request_url(uri: &Uri) -> Option<Url> {
    uri.scheme()?;
    uri.authority()?;
    Url::parse(&uri.to_string()).ok()
}
