use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;
use tracing::Span;
use volley_classify::Classify;
use volley_core::{BoxError, KeyFn};

use crate::error::RetryError;
use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::plan::{Plan, attempt_span};
use crate::spare::Spare;
use crate::{ReplayBody, RetryInfo, StopReason};

/// The service made by [`RetryLayer`](crate::RetryLayer).
#[derive(Debug)]
pub struct Retry<S, C, K> {
    inner: S,
    /// The layer's settings, and where retries take their service from, so that a
    /// request that is never retried costs no clone of the inner service.
    spare: Arc<Spare<S, C, K>>,
}

impl<S: Clone, C, K> Retry<S, C, K> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<C, K>>) -> Self {
        Self { spare: Spare::new(&inner, shared), inner }
    }
}

impl<S, C, K> Retry<S, C, K> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone, C, K> Clone for Retry<S, C, K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), spare: self.spare.clone() }
    }
}

impl<S, C, K, B, ResB> Service<Request<B>> for Retry<S, C, K>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    C: Classify,
    K: KeyFn,
    B: Body + Send + 'static,
    B::Error: Into<BoxError>,
    ResB: Send + 'static,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S, C, K, B>;

    /// Always ready: each attempt waits for the inner service's readiness itself, so a
    /// request asleep between attempts holds nothing of the inner service.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let policy = &self.spare.shared.policy;
        let retries = policy.limits.max_retries != 0;
        let (mut parts, body) = req.into_parts();
        let idempotent = retries && policy.is_idempotent(&parts.method, &parts.headers);
        // A request that may only be retried when it was not processed (`NotSent`) keeps a
        // copy of its body too: an HTTP/2 stream refused with `REFUSED_STREAM`, or cut by a
        // graceful `GOAWAY`, may have sent its body already.
        let limit = if retries { policy.limits.replay_limit } else { 0 };
        let body = ReplayBody::new(body, limit);
        // Built where it stays, as far as the compiler allows: it holds a copy of the head.
        let plan = retries.then(|| Plan::new(self.spare.clone(), &mut parts, &body, idempotent));
        let req = Request::from_parts(parts, body);
        // The first attempt goes out at once when the inner service is ready now and no
        // tracing subscriber wants its span: the future then polls it in place and boxes
        // the attempt loop only if a retry is decided. Otherwise the whole loop is boxed,
        // with the instance polled here (and whatever it registered), and a fresh clone
        // stays in `self`, so no readiness is ever left behind.
        let span = plan.as_ref().map(|_| attempt_span(0, req.method()));
        if span.as_ref().is_none_or(Span::is_disabled) {
            match self.inner.poll_ready(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Ok(())) => return ResponseFuture::first(self.inner.call(req), plan),
                Poll::Ready(Err(error)) => return ResponseFuture::first_failed(error.into(), plan),
                Poll::Pending => {}
            }
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match plan {
            Some(plan) => ResponseFuture::looping(Box::pin(plan.run(
                0,
                Duration::ZERO,
                Some(req).zip(span),
                Some(inner),
            ))),
            None => ResponseFuture::looping(Box::pin(async move { send(&mut inner, req).await })),
        }
    }
}

pub(crate) async fn send<S, R>(inner: &mut S, req: R) -> Result<S::Response, BoxError>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    poll_fn(|cx| inner.poll_ready(cx)).await.map_err(Into::into)?;
    inner.call(req).await.map_err(Into::into)
}

#[inline]
pub(crate) fn finish<ResB>(
    result: Result<Response<ResB>, BoxError>,
    attempts: u32,
    stopped: Option<StopReason>,
) -> Result<Response<ResB>, BoxError> {
    match (result, stopped) {
        (Ok(mut res), _) => {
            if attempts > 1 || stopped.is_some() {
                res.extensions_mut().insert(RetryInfo { attempts, stopped });
            }
            Ok(res)
        }
        (Err(err), Some(reason)) => Err(Box::new(RetryError::new(attempts, reason, err))),
        (Err(err), None) => Err(err),
    }
}

pub(crate) fn log_stop(reason: StopReason) {
    let stop_reason = reason.as_str();
    match reason {
        StopReason::BudgetExhausted => {
            tracing::info!(stop_reason, %reason, "retry budget spent, returning the last result")
        }
        StopReason::Deadline { delay, remaining } => tracing::debug!(
            stop_reason,
            %reason,
            delay_ms = millis(delay),
            remaining_ms = millis(remaining),
            "not retrying"
        ),
        StopReason::HintAboveCap { hint, cap } => tracing::debug!(
            stop_reason,
            %reason,
            delay_ms = millis(hint.delay()),
            cap_ms = millis(cap),
            "not retrying"
        ),
        StopReason::BreakerOpen { retry_in, cap } => tracing::debug!(
            stop_reason,
            %reason,
            delay_ms = millis(retry_in),
            cap_ms = millis(cap),
            "not retrying"
        ),
        _ => tracing::debug!(stop_reason, %reason, "not retrying"),
    }
}

/// A duration as whole milliseconds, for the typed `*_ms` fields of events.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
