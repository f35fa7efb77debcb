use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;
use tracing::Instrument;
use tracing::field::Empty;
use volley_classify::Classify;
use volley_core::{BoxError, Deadline, KeyFn, RequestHead};

use crate::error::RetryError;
use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::policy::{Attempt, Decision};
use crate::{ReplayBody, RetryInfo, StopReason};

/// The service made by [`RetryLayer`](crate::RetryLayer).
#[derive(Debug)]
pub struct Retry<S, C, K> {
    inner: S,
    shared: Arc<Shared<C, K>>,
}

impl<S, C, K> Retry<S, C, K> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<C, K>>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone, C, K> Clone for Retry<S, C, K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: self.shared.clone() }
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
    type Future = ResponseFuture<Response<ResB>>;

    /// Always ready: each attempt waits for the inner service's readiness itself, so a
    /// request asleep between attempts holds nothing of the inner service.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ResponseFuture::new(Box::pin(attempts(self.shared.clone(), self.inner.clone(), req)))
    }
}

/// The attempt loop: send, classify, decide, sleep, send again.
async fn attempts<S, C, K, B, ResB>(
    shared: Arc<Shared<C, K>>,
    mut inner: S,
    req: Request<B>,
) -> Result<Response<ResB>, BoxError>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    C: Classify,
    K: KeyFn,
    B: Body,
    B::Error: Into<BoxError>,
{
    let policy = &shared.policy;
    let (parts, body) = req.into_parts();
    if policy.limits.max_retries == 0 {
        return send(&mut inner, Request::from_parts(parts, ReplayBody::new(body, 0))).await;
    }
    let idempotent = policy.is_idempotent(&parts.method, &parts.headers);
    // A request that may only be retried when it never left keeps no copy of its body:
    // such a body was never read, so it can be sent again as it is.
    let body = ReplayBody::new(body, if idempotent { policy.limits.replay_limit } else { 0 });
    let deadline = parts.extensions.get::<Deadline>().copied();
    let budget = shared.budgets.as_ref().map(|budgets| {
        let key = policy.key_fn.key(RequestHead::from_parts(&parts));
        budgets.deposit(key)
    });

    let mut retries = 0;
    let mut previous_delay = Duration::ZERO;
    loop {
        let span = tracing::debug_span!(
            "retry_attempt",
            http.request.resend_count = retries,
            outcome = Empty,
            delay_ms = Empty,
            delay_cause = Empty,
        );
        let attempt_req = Request::from_parts(parts.clone(), body.replay());
        // Without a subscriber the span is disabled: skip the wrapper, which would only move
        // the attempt's future once more.
        let result = if span.is_disabled() {
            send(&mut inner, attempt_req).await
        } else {
            send(&mut inner, attempt_req).instrument(span.clone()).await
        };
        let outcome =
            policy.classifier.classify(&parts.method, result.as_ref().map_err(|e| &**e as _));
        span.record("outcome", outcome.as_str());
        let attempt = Attempt {
            outcome,
            idempotent,
            retries,
            previous_delay,
            deadline,
            replayable: body.is_replayable(),
        };
        match policy.decide(&attempt, budget.as_deref()) {
            Decision::Done => return finish(result, retries + 1, None),
            Decision::Stop(reason) => {
                span.in_scope(|| log_stop(reason));
                return finish(result, retries + 1, Some(reason));
            }
            Decision::Retry { delay, cause } => {
                span.record("delay_ms", delay.as_millis() as u64);
                span.record("delay_cause", cause.as_str());
                // The response is dropped unread; its connection may not be reused.
                drop(result);
                tokio::time::sleep(delay).await;
                previous_delay = delay;
                retries += 1;
            }
        }
    }
}

async fn send<S, R>(inner: &mut S, req: R) -> Result<S::Response, BoxError>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    poll_fn(|cx| inner.poll_ready(cx)).await.map_err(Into::into)?;
    inner.call(req).await.map_err(Into::into)
}

fn finish<ResB>(
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

fn log_stop(reason: StopReason) {
    match reason {
        StopReason::BudgetExhausted => {
            tracing::info!(%reason, "retry budget spent, returning the last result")
        }
        _ => tracing::debug!(%reason, "not retrying"),
    }
}
