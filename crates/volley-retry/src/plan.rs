//! What a request keeps for attempts after its first, and the attempt loop.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http::{Method, Request, Response};
use http_body::Body;
use tower_service::Service;
use tracing::field::Empty;
use tracing::{Instrument, Span};
use volley_classify::Classify;
#[cfg(feature = "metrics")]
use volley_core::telemetry::names;
use volley_core::{BoxError, BreakerOpen, Deadline, KeyFn, RequestHead, find_cause};

use crate::ReplayBody;
use crate::head::Head;
use crate::policy::{Attempt, Decision};
use crate::service::{finish, log_stop, millis, send};
use crate::spare::Spare;
use crate::window::KeyBudget;

/// What later attempts of one request need: set up before the first attempt is sent.
pub(crate) struct Plan<S, C, K, B> {
    /// The layer's settings, and where the attempts after the first take their service
    /// from once a retry is decided.
    spare: Arc<Spare<S, C, K>>,
    head: Head,
    body: ReplayBody<B>,
    idempotent: bool,
    deadline: Option<Deadline>,
    budget: Option<Arc<KeyBudget>>,
    /// The `key` label of this request's metrics, taken once.
    #[cfg(feature = "metrics")]
    key_label: metrics::SharedString,
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
        spare: Arc<Spare<S, C, K>>,
        parts: &mut Parts,
        body: &ReplayBody<B>,
        idempotent: bool,
    ) -> Self {
        let shared = &spare.shared;
        let deadline = parts.extensions.get::<Deadline>().copied();
        let budget = shared.budgets.as_ref().map(|budgets| {
            budgets.deposit(shared.policy.key_fn.key(RequestHead::from_parts(parts)))
        });
        #[cfg(feature = "metrics")]
        let key_label = volley_core::telemetry::key_label(
            &shared.policy.key_fn.key(RequestHead::from_parts(parts)),
        );
        let head = Head::keep(parts);
        let body = body.replay();
        Self {
            spare,
            head,
            body,
            idempotent,
            deadline,
            budget,
            #[cfg(feature = "metrics")]
            key_label,
        }
    }

    /// Classifies an attempt's result and decides what comes next, and says so: the
    /// attempt span's fields, the wait or stop event, and the metrics.
    #[inline]
    pub(crate) fn decide<ResB>(
        &self,
        result: &Result<Response<ResB>, BoxError>,
        retries: u32,
        previous_delay: Duration,
        span: Option<&Span>,
    ) -> Decision {
        let policy = &self.spare.shared.policy;
        let outcome =
            policy.classifier.classify(self.head.method(), result.as_ref().map_err(|e| &**e as _));
        if let Some(span) = span {
            span.record("outcome", outcome.as_str());
            if let Ok(res) = result {
                span.record("http.response.status_code", i64::from(res.status().as_u16()));
            }
        }
        #[cfg(feature = "metrics")]
        metrics::counter!(
            names::ATTEMPTS,
            "outcome" => outcome.as_str(),
            "key" => self.key_label.clone()
        )
        .increment(1);
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
        let decision = policy.decide(&attempt, self.budget.as_deref());
        let _entered = span.map(Span::enter);
        match &decision {
            Decision::Done => {}
            Decision::Stop(reason) => {
                log_stop(*reason);
                #[cfg(feature = "metrics")]
                metrics::counter!(
                    names::RETRY_REFUSALS,
                    "reason" => reason.as_str(),
                    "key" => self.key_label.clone()
                )
                .increment(1);
            }
            Decision::Retry { delay, cause } => {
                tracing::debug!(
                    delay_ms = millis(*delay),
                    delay_cause = cause.as_str(),
                    retry = retries + 1,
                    "waiting before a retry"
                );
                #[cfg(feature = "metrics")]
                {
                    metrics::counter!(
                        names::RETRIES,
                        "cause" => cause.label(),
                        "key" => self.key_label.clone()
                    )
                    .increment(1);
                    metrics::histogram!(names::RETRY_WAIT, "cause" => cause.label())
                        .record(delay.as_secs_f64());
                }
            }
        }
        decision
    }
}

impl<S, C, K, B, ResB> Plan<S, C, K, B>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    C: Classify,
    K: KeyFn,
    B: Body,
    B::Error: Into<BoxError>,
{
    /// The retries after a first attempt sent in place: sleep `delay`, then go on.
    pub(crate) async fn retry_after(self, delay: Duration) -> Result<Response<ResB>, BoxError> {
        tokio::time::sleep(delay).await;
        self.run(1, delay, None, None).await
    }

    /// The attempt loop from attempt `retries + 1` on: send, classify, decide, sleep, send
    /// again. `first` is the request of that attempt, and its span, if it is the caller's
    /// own. `inner` is the service to send on, when the caller has one; otherwise a clone
    /// is taken from the spare.
    pub(crate) async fn run(
        self,
        mut retries: u32,
        mut previous_delay: Duration,
        mut first: Option<(Request<ReplayBody<B>>, Span)>,
        inner: Option<S>,
    ) -> Result<Response<ResB>, BoxError> {
        let mut inner = inner.unwrap_or_else(|| self.spare.service());
        loop {
            let (attempt_req, span) = match first.take() {
                Some(first) => first,
                None => (
                    Request::from_parts(self.head.for_retry(), self.body.replay()),
                    attempt_span(retries, self.head.method()),
                ),
            };
            // Without a subscriber the span is disabled: skip the wrapper, which would only
            // move the attempt's future once more.
            let result = if span.is_disabled() {
                send(&mut inner, attempt_req).await
            } else {
                send(&mut inner, attempt_req).instrument(span.clone()).await
            };
            match self.decide(&result, retries, previous_delay, Some(&span)) {
                Decision::Done => return finish(result, retries + 1, None),
                Decision::Stop(reason) => return finish(result, retries + 1, Some(reason)),
                Decision::Retry { delay, cause } => {
                    span.record("delay_ms", i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
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

/// One attempt's span: an OpenTelemetry HTTP client span (one per physical request, kind
/// `client`, named by its method), child of the caller's logical request span. At INFO, so
/// a service can leave it on. `http.request.resend_count` is set only on resends, as the
/// conventions ask.
pub(crate) fn attempt_span(retries: u32, method: &Method) -> Span {
    let span = tracing::info_span!(
        "retry_attempt",
        otel.name = method.as_str(),
        otel.kind = "client",
        http.request.method = method.as_str(),
        http.request.resend_count = Empty,
        http.response.status_code = Empty,
        outcome = Empty,
        delay_ms = Empty,
        delay_cause = Empty,
    );
    if retries > 0 {
        // i64: tracing-opentelemetry exports a u64 as a string, an i64 as an int.
        span.record("http.request.resend_count", i64::from(retries));
    }
    span
}
