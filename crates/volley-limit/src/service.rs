use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tokio::time::Instant;
use tower_service::Service;
use volley_core::{BoxError, ByAuthority, Deadline, KeyFn, RequestHead};

use crate::ResponseBody;
use crate::future::{Called, ResponseFuture};
use crate::permit::Permit;
use crate::state::{LimitState, Shared};

/// The service made by [`ConcurrencyLimitLayer`](crate::ConcurrencyLimitLayer): admits a
/// request when its permits are free and holds them until its response body ends.
///
/// `poll_ready` is always ready and takes no permit: the wait happens in the
/// [`ResponseFuture`], so a clone that is readied but never called holds nothing, and
/// back-pressure shows as a pending response future. Clones share the layer's limits.
#[derive(Clone)]
pub struct ConcurrencyLimit<S, K = ByAuthority> {
    inner: S,
    key_fn: K,
    shared: Arc<Shared>,
}

impl<S, K> ConcurrencyLimit<S, K> {
    pub(crate) fn new(inner: S, key_fn: K, shared: Arc<Shared>) -> Self {
        Self { inner, key_fn, shared }
    }

    /// A live view of the limits this service shares with its layer.
    pub fn state(&self) -> LimitState {
        LimitState::new(Arc::clone(&self.shared))
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

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for ConcurrencyLimit<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    K: KeyFn,
    ReqBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness would mean holding a permit between `poll_ready` and `call`; an idle
        // clone must not hoard one, so the wait moves into the response future.
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let key = self.shared.keys.as_ref().map(|_| self.key_fn.key(RequestHead::new(&req)));
        let permit = Permit::try_new(Arc::clone(&self.shared), key);
        if permit.is_complete() {
            // Most inner services (hyper's client among them) are always ready: find out
            // without a clone of the service or a boxed future. A pending answer is fine,
            // the same instance is polled again with a real waker in `wait`.
            match self.inner.poll_ready(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Ok(())) => {
                    let start = permit.start(req.method());
                    ResponseFuture::called(self.inner.call(req), permit, start)
                }
                Poll::Ready(Err(error)) => ResponseFuture::failed(error.into()),
                Poll::Pending => self.wait(permit, req),
            }
        } else {
            match permit.queue_full() {
                Some(overloaded) => ResponseFuture::failed(Box::new(overloaded)),
                None => self.wait(permit, req),
            }
        }
    }
}

impl<S, K> ConcurrencyLimit<S, K> {
    /// The slow path: moves a clone of the inner service into a boxed future that waits.
    #[inline(never)]
    fn wait<ReqBody>(&mut self, permit: Permit, req: Request<ReqBody>) -> ResponseFuture<S::Future>
    where
        S: Service<Request<ReqBody>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        ReqBody: Send + 'static,
    {
        let started = Instant::now();
        let deadline = Deadline::from_request(&req);
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::waiting(Box::pin(admit(permit, started, deadline, inner, req)))
    }
}

/// Waits for the missing permits, then for the inner service, then calls it.
async fn admit<S, B>(
    mut permit: Permit,
    started: Instant,
    deadline: Option<Deadline>,
    mut inner: S,
    req: Request<B>,
) -> Result<Called<S::Future>, BoxError>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    permit.acquire(started, deadline).await?;
    let start = permit.start(req.method());
    poll_fn(|cx| inner.poll_ready(cx)).await.map_err(Into::into)?;
    let future = inner.call(req);
    Ok((future, permit, start))
}

impl<S: fmt::Debug, K> fmt::Debug for ConcurrencyLimit<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("inner", &self.inner)
            .field("key_fn", &std::any::type_name::<K>())
            .field("state", &self.state())
            .finish()
    }
}
