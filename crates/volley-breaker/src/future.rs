//! The response future of [`Breaker`](crate::Breaker).

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Method, Response};
use pin_project_lite::pin_project;
use volley_classify::{Classify, Outcome};
use volley_core::{BoxError, BreakerOpen, Key, NotSent, find_cause};

use crate::circuit::Verdict;
use crate::state::{Shared, Ticket};

pin_project! {
    /// The future returned by [`Breaker`](crate::Breaker): the inner service's response
    /// future, whose outcome is counted for the request's key when the response head (or
    /// an error) arrives — or a refusal, ready at once.
    ///
    /// Dropping it before then counts nothing, and gives back a half-open probe slot.
    pub struct ResponseFuture<F, C> {
        #[pin]
        state: State<F>,
        admission: Option<Admission<C>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called { #[pin] future: F },
        Refused { error: Option<BreakerOpen> },
    }
}

/// A call let through, counted exactly once: with its outcome, or as nothing if dropped.
pub(crate) struct Admission<C> {
    shared: Arc<Shared<C>>,
    key: Key,
    method: Method,
    /// Taken when the call is counted.
    ticket: Option<Ticket>,
}

impl<C> Admission<C> {
    pub(crate) fn new(shared: Arc<Shared<C>>, key: Key, method: Method, ticket: Ticket) -> Self {
        Self { shared, key, method, ticket: Some(ticket) }
    }
}

impl<C> Drop for Admission<C> {
    fn drop(&mut self) {
        // A cancelled call says nothing about the host; its probe slot is given back.
        if let Some(ticket) = self.ticket.take() {
            self.shared.core.record(&self.key, ticket, Verdict::Ignore);
        }
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn called(future: F, admission: Option<Admission<C>>) -> Self {
        Self { state: State::Called { future }, admission }
    }

    pub(crate) fn refused(error: BreakerOpen) -> Self {
        Self { state: State::Refused { error: Some(error) }, admission: None }
    }
}

impl<F, C, B, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    C: Classify,
{
    type Output = Result<Response<B>, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state.project() {
            StateProj::Called { future } => {
                let result = ready!(future.poll(cx)).map_err(Into::into);
                if let Some(mut admission) = this.admission.take()
                    && let Some(ticket) = admission.ticket.take()
                {
                    let attempt = result.as_ref().map_err(|e| &**e as &(dyn Error + 'static));
                    let outcome = admission.shared.classifier.classify(&admission.method, attempt);
                    admission.shared.core.record(&admission.key, ticket, verdict(outcome, attempt));
                }
                Poll::Ready(result)
            }
            StateProj::Refused { error } => Poll::Ready(Err(match error.take() {
                Some(error) => Box::new(error),
                None => "breaker future polled after completion".into(),
            })),
        }
    }
}

/// What an attempt's outcome says about its host.
///
/// A response means the host is up, so a `Fatal` one (404, 401) counts as a success. An
/// error classified `Fatal` (a TLS error, a spent deadline, a layer's own refusal) says
/// nothing either way. A `NotSent` error is a failure to reach the host (connection
/// refused, DNS), unless a layer stopped the request before it left (a `NotSent` marker, or
/// another breaker's refusal).
pub(crate) fn verdict<B>(
    outcome: Outcome,
    attempt: Result<&Response<B>, &(dyn Error + 'static)>,
) -> Verdict {
    match (outcome, attempt) {
        (Outcome::Success, _) | (Outcome::Fatal, Ok(_)) => Verdict::Success,
        (Outcome::Fatal, Err(_)) => Verdict::Ignore,
        (Outcome::NotSent, Err(err))
            if find_cause::<NotSent>(err).is_some() || find_cause::<BreakerOpen>(err).is_some() =>
        {
            Verdict::Ignore
        }
        (Outcome::Retryable { .. } | Outcome::Throttled { .. } | Outcome::NotSent, _) => {
            Verdict::Failure
        }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (&self.state, &self.admission) {
            (State::Called { .. }, Some(_)) => "called",
            (State::Called { .. }, None) => "called, untracked or done",
            (State::Refused { .. }, _) => "refused",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}
