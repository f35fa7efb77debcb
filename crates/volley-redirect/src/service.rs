use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use volley_core::BoxError;

use crate::ReplayableBody;
use crate::follow::{Config, Next};
use crate::future::ResponseFuture;

/// Follows redirects for `S`; made by [`RedirectLayer`](crate::RedirectLayer), which says
/// what it does.
#[derive(Clone, Debug)]
pub struct FollowRedirect<S> {
    inner: S,
    /// A copy that later hops are sent through, cloned only when a response redirects: a
    /// request that is not redirected pays a reference count for it, not a clone of the
    /// stack below.
    spare: Arc<S>,
    config: Arc<Config>,
}

impl<S: Clone> FollowRedirect<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        let spare = Arc::new(inner.clone());
        Self { inner, spare, config }
    }
}

impl<S> FollowRedirect<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, B, ResB> Service<Request<B>> for FollowRedirect<S>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: ReplayableBody + Default + Send + 'static,
    ResB: Send + 'static,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let next = Next::keep(&req, Arc::clone(&self.config));
        let future = self.inner.call(req);
        ResponseFuture::new(future, Arc::clone(&self.spare), next)
    }
}
