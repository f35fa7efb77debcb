use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use volley_classify::{Classify, HttpClassifier};
use volley_core::{BoxError, ByAuthority, KeyFn, RequestHead};

use crate::BreakerHandle;
use crate::future::{Admission, ResponseFuture};
use crate::state::Shared;

/// The service made by [`BreakerLayer`](crate::BreakerLayer): calls the inner service while
/// the request's circuit lets it, and refuses it with
/// [`BreakerOpen`](volley_core::BreakerOpen) otherwise, without calling the inner service.
///
/// `poll_ready` is the inner service's: the circuit is consulted in `call`, where the key
/// is known. A refused call leaves the inner service's readiness unused, which costs
/// nothing for always-ready services such as hyper's client and volley's layers. Clones
/// share the layer's circuits.
pub struct Breaker<S, C = HttpClassifier, K = ByAuthority> {
    inner: S,
    key_fn: K,
    shared: Arc<Shared<C>>,
}

impl<S, C, K> Breaker<S, C, K> {
    pub(crate) fn new(inner: S, key_fn: K, shared: Arc<Shared<C>>) -> Self {
        Self { inner, key_fn, shared }
    }

    /// A live view of the circuits this service shares with its layer.
    pub fn handle(&self) -> BreakerHandle
    where
        C: Send + Sync + 'static,
    {
        BreakerHandle::new(self.shared.clone())
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, K, ReqBody, ResBody> Service<Request<ReqBody>> for Breaker<S, C, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    C: Classify,
    K: KeyFn,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let key = self.key_fn.key(RequestHead::new(&req));
        match self.shared.core.admit(&key) {
            Ok(ticket) => {
                let admission = ticket.map(|ticket| {
                    Admission::new(self.shared.clone(), key, req.method().clone(), ticket)
                });
                ResponseFuture::called(self.inner.call(req), admission)
            }
            Err(open) => ResponseFuture::refused(open),
        }
    }
}

impl<S: Clone, C, K: Clone> Clone for Breaker<S, C, K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), key_fn: self.key_fn.clone(), shared: self.shared.clone() }
    }
}

impl<S: fmt::Debug, C, K> fmt::Debug for Breaker<S, C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("inner", &self.inner)
            .field("key_fn", &std::any::type_name::<K>())
            .field("config", &self.shared.core.config)
            .finish()
    }
}
