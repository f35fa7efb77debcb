use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::{Request, Response};
use tower_service::Service;
use volley_classify::{Classify, HttpClassifier};
use volley_core::{BoxError, Key};

use crate::Acquire;
use crate::future::ResponseFuture;
use crate::shared::Shared;

/// The service made by [`RateLimitLayer`](crate::RateLimitLayer): every attempt through it
/// takes one token for its key, waiting in the response future when none is left.
///
/// `poll_ready` is always ready and does not touch the inner service. `call` takes the
/// token; when there is one and the inner service is ready at once, the request is sent
/// straight away. Otherwise the response future owns a clone of the inner service, waits
/// for the token, and only then drives the clone's `poll_ready` and `call`. So a request
/// waiting for its token holds nothing below (no concurrency permit, no connection). The
/// inner service must be `Clone` for that reason; it is cloned only for requests that wait.
///
/// Clones share the layer's state.
pub struct RateLimit<S, C = HttpClassifier> {
    inner: S,
    shared: Arc<Shared<C>>,
}

impl<S, C> RateLimit<S, C> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<C>>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming the wrapper.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// How many keys the backend holds state for (1 in global mode).
    pub fn tracked_keys(&self) -> usize {
        self.shared.backend.tracked_keys()
    }

    /// The time left of `key`'s cooldown, if the server asked to slow down for it (in
    /// global mode `key` is ignored: there is one cooldown).
    pub fn cooldown_remaining(&self, key: &Key) -> Option<Duration> {
        self.shared.backend.cooldown_remaining(self.shared.lookup_key(key))
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    C: Classify,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S, ReqBody, C>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let key = self.shared.key_of(&req);
        let mut paced = false;
        let acquire = self.shared.acquire(&key, &mut paced);
        if !matches!(acquire, Acquire::Ready) {
            // No token yet: the request waits with a clone of the inner service that nobody
            // has asked to get ready, so it holds nothing below while it waits.
            let inner = self.inner.clone();
            return ResponseFuture::parked(inner, req, key, self.shared.clone(), acquire, paced);
        }
        // The token is taken: send at once if the inner service is ready now. It is polled
        // with a no-op waker; if it is not ready, the response future takes this instance
        // (with whatever it registered) and polls it again with the real waker, and a fresh
        // clone stays here, so no readiness is ever left behind in `self`.
        match self.inner.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => {
                let method = req.method().clone();
                ResponseFuture::calling(self.inner.call(req), method, key, self.shared.clone())
            }
            Poll::Ready(Err(error)) => {
                ResponseFuture::failed(error.into(), key, self.shared.clone())
            }
            Poll::Pending => {
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::parked(inner, req, key, self.shared.clone(), acquire, paced)
            }
        }
    }
}

impl<S: Clone, C> Clone for RateLimit<S, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: self.shared.clone() }
    }
}

impl<S: fmt::Debug, C: fmt::Debug> fmt::Debug for RateLimit<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("state", &self.shared)
            .finish()
    }
}
