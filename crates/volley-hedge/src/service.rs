use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http::{Request, Response};
use tokio::time::Instant;
use tower_service::Service;
use volley_classify::{Classify, HttpClassifier};
use volley_core::{BoxError, ByAuthority, Deadline, KeyFn, RequestHead};

use crate::TryCloneBody;
use crate::body::clone_request;
use crate::future::{Plan, Record, ResponseFuture};
use crate::state::{HedgeStats, Shared};

/// The service made by [`HedgeLayer`](crate::HedgeLayer): calls the inner service once,
/// and again after the delay if the first response has not arrived, the budget allows it
/// and the request is hedgeable. Clones share the layer's budget, histograms and counters.
///
/// `poll_ready` is the inner service's. The hedge is sent through a clone of the inner
/// service made at `call`, readied when the delay has passed.
pub struct Hedge<S, K = ByAuthority, C = HttpClassifier> {
    inner: S,
    key_fn: K,
    classifier: Arc<C>,
    shared: Arc<Shared>,
}

impl<S, K, C> Hedge<S, K, C> {
    pub(crate) fn new(inner: S, key_fn: K, classifier: C, shared: Arc<Shared>) -> Self {
        Self { inner, key_fn, classifier: Arc::new(classifier), shared }
    }

    /// The counters this service shares with its layer.
    pub fn stats(&self) -> HedgeStats {
        HedgeStats::new(Arc::clone(&self.shared))
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

impl<S: Clone, K: Clone, C> Clone for Hedge<S, K, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            key_fn: self.key_fn.clone(),
            classifier: Arc::clone(&self.classifier),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, K, C, ReqBody, ResBody> Service<Request<ReqBody>> for Hedge<S, K, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    K: KeyFn,
    C: Classify,
    ReqBody: TryCloneBody,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S, ReqBody, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        shared.requests.fetch_add(1, Ordering::Relaxed);
        shared.budget.deposit();
        if !shared.may_hedge(RequestHead::new(&req)) {
            return ResponseFuture::new(self.inner.call(req), None, None, None, Arc::clone(shared));
        }
        let now = Instant::now();
        let key = shared.uses_histogram().then(|| self.key_fn.key(RequestHead::new(&req)));
        let plan = shared.delay(key.as_ref(), now).and_then(|delay| {
            // A hedge that could only start after the deadline would be cancelled unsent.
            if Deadline::from_request(&req).is_some_and(|d| d.would_expire_within(delay)) {
                return None;
            }
            let template = clone_request(&req)?;
            Some(Box::new(Plan::new(self.inner.clone(), template, delay, key.clone(), now)))
        });
        let record = key.map(|key| Record {
            key,
            method: req.method().clone(),
            classifier: Arc::clone(&self.classifier),
        });
        let started = record.is_some().then_some(now);
        ResponseFuture::new(self.inner.call(req), started, plan, record, Arc::clone(shared))
    }
}

impl<S: fmt::Debug, K, C> fmt::Debug for Hedge<S, K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedge")
            .field("inner", &self.inner)
            .field("key_fn", &std::any::type_name::<K>())
            .field("stats", &self.stats())
            .finish()
    }
}
