//! The response future of [`Cookies`](crate::Cookies).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Response;
use http::header::SET_COOKIE;
use pin_project_lite::pin_project;
use url::Url;

use crate::CookieProvider;

pin_project! {
    /// Waits for the inner service's response and stores its `Set-Cookie` headers for the
    /// request's URL; errors pass through unchanged.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        store: Option<(Arc<dyn CookieProvider>, Url)>,
        max_set_cookie: usize,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        store: Option<(Arc<dyn CookieProvider>, Url)>,
        max_set_cookie: usize,
    ) -> Self {
        Self { inner, store, max_set_cookie }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Ok(res), Some((provider, url))) = (&result, this.store.take()) {
            let mut headers = res.headers().get_all(SET_COOKIE).iter().take(*this.max_set_cookie);
            provider.set_cookies(&mut headers, &url);
        }
        Poll::Ready(result)
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("stores_cookies", &self.store.is_some())
            .finish_non_exhaustive()
    }
}
