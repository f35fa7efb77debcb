//! What a request keeps for attempts after its first, and the attempt loop.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;
use tracing::field::Empty;
use tracing::{Instrument, Span};
use volley_classify::Classify;
use volley_core::{BoxError, BreakerOpen, Deadline, KeyFn, RequestHead, find_cause};

use crate::ReplayBody;
use crate::head::Head;
use crate::layer::Shared;
use crate::policy::{Attempt, Decision};
use crate::service::{finish, log_stop, send};
use crate::window::KeyBudget;

/// What later attempts of one request need: set up before the first attempt is sent.
pub(crate) struct Plan<S, C, K, B> {
    shared: Arc<Shared<C, K>>,
    pub(crate) inner: S,
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
    // Inlined into `Retry::call` and the response future (another module, so possibly
    // another codegen unit): without it the fast path costs about 110 instructions more.
    #[inline]
    pub(crate) fn new(
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
    #[inline]
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
            breaker_wait: result
                .as_ref()
                .err()
                .and_then(|e| find_cause::<BreakerOpen>(&**e))
                .map(BreakerOpen::retry_in),
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
    pub(crate) async fn run(
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
                    // Dropped unread: when hyper has already read the whole (small) body with
                    // the head, the connection still goes back to the pool (a client test checks).
                    drop(result);
                    tokio::time::sleep(delay).await;
                    previous_delay = delay;
                    retries += 1;
                }
            }
        }
    }
}

pub(crate) fn attempt_span(retries: u32) -> Span {
    tracing::debug_span!(
        "retry_attempt",
        http.request.resend_count = retries,
        outcome = Empty,
        delay_ms = Empty,
        delay_cause = Empty,
    )
}
