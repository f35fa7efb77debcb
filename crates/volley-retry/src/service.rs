use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;
use tracing::field::Empty;
use tracing::{Instrument, Span};
use volley_classify::Classify;
use volley_core::{BoxError, Deadline, KeyFn, RequestHead};

use crate::error::RetryError;
use crate::future::ResponseFuture;
use crate::head::Head;
use crate::layer::Shared;
use crate::policy::{Attempt, Decision};
use crate::window::KeyBudget;
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
    type Future = ResponseFuture<S, C, K, B>;

    /// Always ready: each attempt waits for the inner service's readiness itself, so a
    /// request asleep between attempts holds nothing of the inner service.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let policy = &self.shared.policy;
        let retries = policy.limits.max_retries != 0;
        let (mut parts, body) = req.into_parts();
        let idempotent = retries && policy.is_idempotent(&parts.method, &parts.headers);
        // A request that may only be retried when it never left keeps no copy of its body:
        // such a body was never read, so it can be sent again as it is.
        let limit = if idempotent { policy.limits.replay_limit } else { 0 };
        let body = ReplayBody::new(body, limit);
        // Built where it stays, as far as the compiler allows: it holds a copy of the head.
        let plan = retries.then(|| {
            Plan::new(self.shared.clone(), self.inner.clone(), &mut parts, &body, idempotent)
        });
        let req = Request::from_parts(parts, body);
        // The first attempt goes out at once when the inner service is ready now and no
        // tracing subscriber wants its span: the future then polls it in place and boxes
        // the attempt loop only if a retry is decided. Otherwise the whole loop is boxed,
        // with the instance polled here (and whatever it registered), and a fresh clone
        // stays in `self`, so no readiness is ever left behind.
        let span = plan.as_ref().map(|_| attempt_span(0));
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
            Some(mut plan) => {
                plan.inner = inner;
                ResponseFuture::looping(Box::pin(plan.run(0, Duration::ZERO, Some(req).zip(span))))
            }
            None => ResponseFuture::looping(Box::pin(async move { send(&mut inner, req).await })),
        }
    }
}

/// What later attempts of one request need: set up before the first attempt is sent.
pub(crate) struct Plan<S, C, K, B> {
    shared: Arc<Shared<C, K>>,
    inner: S,
    head: Head,
    body: ReplayBody<B>,
    idempotent: bool,
    deadline: Option<Deadline>,
    budget: Option<Arc<KeyBudget>>,
}

impl<S, C, K, B> Plan<S, C, K, B>
where
    C: Classify,
    K: KeyFn,
    B: Body,
{
    /// Deposits into the request's budget and keeps a copy of the request's head and body
    /// (which keeps what it sends) for later attempts.
    fn new(
        shared: Arc<Shared<C, K>>,
        inner: S,
        parts: &mut Parts,
        body: &ReplayBody<B>,
        idempotent: bool,
    ) -> Self {
        let deadline = parts.extensions.get::<Deadline>().copied();
        let budget = shared.budgets.as_ref().map(|budgets| {
            budgets.deposit(shared.policy.key_fn.key(RequestHead::from_parts(parts)))
        });
        let head = Head::keep(parts);
        let body = body.replay();
        Self { shared, inner, head, body, idempotent, deadline, budget }
    }

    /// Classifies an attempt's result and decides what comes next.
    pub(crate) fn decide<ResB>(
        &self,
        result: &Result<Response<ResB>, BoxError>,
        retries: u32,
        previous_delay: Duration,
        span: Option<&Span>,
    ) -> Decision {
        let policy = &self.shared.policy;
        let outcome =
            policy.classifier.classify(self.head.method(), result.as_ref().map_err(|e| &**e as _));
        if let Some(span) = span {
            span.record("outcome", outcome.as_str());
        }
        let attempt = Attempt {
            outcome,
            idempotent: self.idempotent,
            retries,
            previous_delay,
            deadline: self.deadline,
            replayable: self.body.is_replayable(),
        };
        policy.decide(&attempt, self.budget.as_deref())
    }
}

impl<S, C, K, B, ResB> Plan<S, C, K, B>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    C: Classify,
    K: KeyFn,
    B: Body,
    B::Error: Into<BoxError>,
{
    /// The retries after a first attempt sent in place: sleep `delay`, then go on.
    pub(crate) async fn retry_after(self, delay: Duration) -> Result<Response<ResB>, BoxError> {
        tokio::time::sleep(delay).await;
        self.run(1, delay, None).await
    }

    /// The attempt loop from attempt `retries + 1` on: send, classify, decide, sleep, send
    /// again. `first` is the request of that attempt, and its span, if it is the caller's
    /// own.
    async fn run(
        mut self,
        mut retries: u32,
        mut previous_delay: Duration,
        mut first: Option<(Request<ReplayBody<B>>, Span)>,
    ) -> Result<Response<ResB>, BoxError> {
        loop {
            let (attempt_req, span) = match first.take() {
                Some(first) => first,
                None => (
                    Request::from_parts(self.head.for_retry(), self.body.replay()),
                    attempt_span(retries),
                ),
            };
            // Without a subscriber the span is disabled: skip the wrapper, which would only
            // move the attempt's future once more.
            let result = if span.is_disabled() {
                send(&mut self.inner, attempt_req).await
            } else {
                send(&mut self.inner, attempt_req).instrument(span.clone()).await
            };
            match self.decide(&result, retries, previous_delay, Some(&span)) {
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
}

fn attempt_span(retries: u32) -> Span {
    tracing::debug_span!(
        "retry_attempt",
        http.request.resend_count = retries,
        outcome = Empty,
        delay_ms = Empty,
        delay_cause = Empty,
    )
}

async fn send<S, R>(inner: &mut S, req: R) -> Result<S::Response, BoxError>
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
    match reason {
        StopReason::BudgetExhausted => {
            tracing::info!(%reason, "retry budget spent, returning the last result")
        }
        _ => tracing::debug!(%reason, "not retrying"),
    }
}
