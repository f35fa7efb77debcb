//! The response future of [`RateLimit`](crate::RateLimit).

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;
use volley_classify::{Classify, HttpClassifier};
use volley_core::{BoxError, Deadline, Key};

use crate::shared::Shared;
use crate::wait::{Waiter, millis};
use crate::{Acquire, AcquireFuture};

pin_project! {
    /// Waits for the request's token (or fails fast with
    /// [`RateLimited`](crate::RateLimited)), then drives the inner service's `poll_ready`
    /// and `call`, then reports the response to the limiter.
    pub struct ResponseFuture<S, ReqBody, C = HttpClassifier>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S::Future, Box<Parked<S, ReqBody>>>,
        key: Option<Key>,
        shared: Arc<Shared<C>>,
    }
}

pin_project! {
    // A request sent at once is `Calling` from the start and carries nothing else: the
    // states before sending live in one box, so the common future stays small and cheap
    // to move and drop.
    #[project = StateProj]
    enum State<F, P> {
        Calling { #[pin] future: F, method: Method },
        Parked { parked: P },
        Failed { error: Option<BoxError> },
        Done,
    }
}

/// A request that could not be sent at once: it waits with its own clone of the inner
/// service.
struct Parked<S, B> {
    inner: S,
    /// Taken when the request is sent.
    request: Option<Request<B>>,
    wait: Wait,
    /// Whether the request passed its key's pace (it then only waits for a token).
    paced: bool,
    /// When the request started sleeping in the limiter; taken when the wait is recorded.
    #[cfg(feature = "metrics")]
    slept_since: Option<tokio::time::Instant>,
}

enum Wait {
    Sleeping { sleep: Pin<Box<Sleep>>, _waiter: Waiter },
    Asking { answer: AcquireFuture },
    Acquired,
}

impl<S, ReqBody, C> ResponseFuture<S, ReqBody, C>
where
    S: Service<Request<ReqBody>>,
{
    /// The request was sent at once.
    pub(crate) fn calling(
        future: S::Future,
        method: Method,
        key: Option<Key>,
        shared: Arc<Shared<C>>,
    ) -> Self {
        Self { state: State::Calling { future, method }, key, shared }
    }

    /// The request waits for its token or pace (`acquire`, answered after the pace if
    /// `paced`) or for `inner` to be ready.
    pub(crate) fn parked(
        inner: S,
        request: Request<ReqBody>,
        key: Option<Key>,
        shared: Arc<Shared<C>>,
        acquire: Acquire,
        paced: bool,
    ) -> Self {
        let first_wait = match &acquire {
            Acquire::Wait(wait) => Some(*wait),
            _ => None,
        };
        let deadline = Deadline::from_request(&request);
        let state = match next(acquire, &shared, &key, deadline, paced) {
            Ok(wait) => {
                let sleeping = matches!(wait, Wait::Sleeping { .. });
                if let (Some(wait), true) = (first_wait, sleeping) {
                    // Once per request the limiter holds back (not per re-check). The first
                    // wait is the key's pace when pacing is on and the request has not
                    // passed it yet (as in `next`).
                    tracing::debug!(
                        key = key.as_ref().map_or("", Key::as_str),
                        wait_ms = millis(wait),
                        paced = !paced && shared.pacing.is_some(),
                        "rate limit wait"
                    );
                }
                let parked = Parked {
                    inner,
                    request: Some(request),
                    wait,
                    paced,
                    #[cfg(feature = "metrics")]
                    slept_since: sleeping.then(tokio::time::Instant::now),
                };
                State::Parked { parked: Box::new(parked) }
            }
            Err(error) => State::Failed { error: Some(error) },
        };
        Self { state, key, shared }
    }

    /// The inner service failed before the request could be sent.
    pub(crate) fn failed(error: BoxError, key: Option<Key>, shared: Arc<Shared<C>>) -> Self {
        Self { state: State::Failed { error: Some(error) }, key, shared }
    }
}

/// What to do after the backend (or, before `paced`, the key's pace) answered `acquire`,
/// or the error that ends the request.
fn next<C>(
    acquire: Acquire,
    shared: &Shared<C>,
    key: &Option<Key>,
    deadline: Option<Deadline>,
    paced: bool,
) -> Result<Wait, BoxError> {
    match acquire {
        Acquire::Ready => Ok(Wait::Acquired),
        Acquire::Pending(answer) => Ok(Wait::Asking { answer }),
        Acquire::Wait(wait) => {
            let pace = !paced && shared.pacing.is_some();
            let (sleep, waiter) = shared.plan_wait(key, wait, deadline, pace)?;
            Ok(Wait::Sleeping { sleep: Box::pin(tokio::time::sleep(sleep)), _waiter: waiter })
        }
    }
}

impl<S, ReqBody, ResBody, C> Future for ResponseFuture<S, ReqBody, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    C: Classify,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let (future, method) = match this.state.as_mut().project() {
                StateProj::Calling { future, method } => (future, method),
                StateProj::Parked { parked } => {
                    let sent = ready!(poll_parked(parked, this.shared, this.key, cx));
                    let state = match sent {
                        Ok((future, method)) => State::Calling { future, method },
                        Err(error) => State::Failed { error: Some(error) },
                    };
                    this.state.set(state);
                    continue;
                }
                StateProj::Failed { error } => {
                    let error = error.take();
                    this.state.set(State::Done);
                    return Poll::Ready(Err(error.unwrap_or_else(|| "rate limit refused".into())));
                }
                StateProj::Done => panic!("rate limit future polled after completion"),
            };
            let result = ready!(future.poll(cx)).map_err(Into::into);
            if this.shared.config.feedback {
                let attempt = result.as_ref().map_err(|e| &**e as &(dyn Error + 'static));
                this.shared.feedback(this.key, method, attempt);
            }
            this.state.set(State::Done);
            return Poll::Ready(result);
        }
    }
}

/// Drives a parked request until it is sent (its future and method) or refused.
fn poll_parked<S, ReqBody, C>(
    parked: &mut Box<Parked<S, ReqBody>>,
    shared: &Shared<C>,
    key: &Option<Key>,
    cx: &mut Context<'_>,
) -> Poll<Result<(S::Future, Method), BoxError>>
where
    S: Service<Request<ReqBody>>,
    S::Error: Into<BoxError>,
{
    loop {
        let acquire = match &mut parked.wait {
            Wait::Sleeping { sleep, .. } => {
                ready!(sleep.as_mut().poll(cx));
                // No longer waiting: drop the `Waiter` before asking again.
                parked.wait = Wait::Acquired;
                // Not FIFO: every waiter whose sleep ends asks again, and whoever asks
                // first after a token is replenished gets it (see `plan_wait`).
                shared.acquire(key, &mut parked.paced)
            }
            Wait::Asking { answer } => ready!(answer.as_mut().poll(cx))?,
            Wait::Acquired => {
                #[cfg(feature = "metrics")]
                if let Some(since) = parked.slept_since.take() {
                    crate::metrics::wait(shared.key(key), since.elapsed());
                }
                ready!(parked.inner.poll_ready(cx)).map_err(Into::into)?;
                let Some(request) = parked.request.take() else {
                    panic!("rate limit future lost its request");
                };
                let method = request.method().clone();
                return Poll::Ready(Ok((parked.inner.call(request), method)));
            }
        };
        let deadline = parked.request.as_ref().and_then(Deadline::from_request);
        parked.wait = next(acquire, shared, key, deadline, parked.paced)?;
    }
}

impl<S, ReqBody, C> fmt::Debug for ResponseFuture<S, ReqBody, C>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Parked { parked } => match &parked.wait {
                Wait::Sleeping { sleep, .. } => format!("Waiting(until {:?})", sleep.deadline()),
                Wait::Asking { .. } => "Asking".to_owned(),
                Wait::Acquired => "Acquired".to_owned(),
            },
            State::Failed { .. } => "Refused".to_owned(),
            State::Calling { .. } => "Calling".to_owned(),
            State::Done => "Done".to_owned(),
        };
        f.debug_struct("ResponseFuture")
            .field("state", &format_args!("{state}"))
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
