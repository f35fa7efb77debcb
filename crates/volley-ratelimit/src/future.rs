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
use crate::wait::Waiter;
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
        state: State<S::Future>,
        // The request and its own clone of the inner service, while the request waits.
        // Boxed so that a request sent at once carries neither.
        parked: Option<Box<Parked<S, ReqBody>>>,
        key: Option<Key>,
        shared: Arc<Shared<C>>,
    }
}

struct Parked<S, B> {
    inner: S,
    request: Request<B>,
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Waiting { sleep: Pin<Box<Sleep>>, waiter: Waiter },
        Asking { answer: AcquireFuture },
        Refused { error: Option<BoxError> },
        Acquired,
        Calling { #[pin] future: F, method: Method },
        Done,
    }
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
        Self { state: State::Calling { future, method }, parked: None, key, shared }
    }

    /// The request waits for its token (`acquire`) or for `inner` to be ready.
    pub(crate) fn parked(
        inner: S,
        request: Request<ReqBody>,
        key: Option<Key>,
        shared: Arc<Shared<C>>,
        acquire: Acquire,
    ) -> Self {
        let parked = Some(Box::new(Parked { inner, request }));
        let first_wait = match &acquire {
            Acquire::Wait(wait) => Some(*wait),
            _ => None,
        };
        let state = next(acquire, &shared, &key, &parked);
        if let (Some(wait), State::Waiting { .. }) = (first_wait, &state) {
            // Once per request the limiter holds back (not per re-check), off the fast path.
            tracing::debug!(key = ?key, wait_ms = wait.as_millis() as u64, "rate limit wait");
        }
        Self { state, parked, key, shared }
    }

    /// The inner service failed before the request could be sent.
    pub(crate) fn failed(error: BoxError, key: Option<Key>, shared: Arc<Shared<C>>) -> Self {
        Self { state: State::Refused { error: Some(error) }, parked: None, key, shared }
    }
}

/// What to do after the backend answered `acquire`.
fn next<F, S, B, C>(
    acquire: Acquire,
    shared: &Shared<C>,
    key: &Option<Key>,
    parked: &Option<Box<Parked<S, B>>>,
) -> State<F> {
    match acquire {
        Acquire::Ready => State::Acquired,
        Acquire::Pending(answer) => State::Asking { answer },
        Acquire::Wait(wait) => {
            let deadline = parked.as_ref().and_then(|p| Deadline::from_request(&p.request));
            match shared.plan_wait(key, wait, deadline) {
                Ok((sleep, waiter)) => {
                    State::Waiting { sleep: Box::pin(tokio::time::sleep(sleep)), waiter }
                }
                Err(refused) => State::Refused { error: Some(refused.into()) },
            }
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
            let next_state = match this.state.as_mut().project() {
                StateProj::Waiting { sleep, .. } => {
                    ready!(sleep.as_mut().poll(cx));
                    // No longer waiting: drop the `Waiter` before asking again.
                    this.state.set(State::Done);
                    // Not FIFO: every waiter whose sleep ends asks again, and whoever asks
                    // first after a token is replenished gets it (see `plan_wait`).
                    let acquire = this.shared.backend.acquire(this.shared.key(this.key));
                    next(acquire, this.shared, this.key, this.parked)
                }
                StateProj::Asking { answer } => match ready!(answer.as_mut().poll(cx)) {
                    Ok(acquire) => next(acquire, this.shared, this.key, this.parked),
                    Err(error) => State::Refused { error: Some(error) },
                },
                StateProj::Refused { error } => {
                    let error = error.take();
                    this.state.set(State::Done);
                    return Poll::Ready(Err(error.unwrap_or_else(|| "rate limit refused".into())));
                }
                StateProj::Acquired => {
                    let Some(parked) = this.parked.as_mut() else {
                        panic!("rate limit future lost its request");
                    };
                    if let Err(error) = ready!(parked.inner.poll_ready(cx)) {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(error.into()));
                    }
                    let Some(parked) = this.parked.take() else { unreachable!("checked above") };
                    let Parked { mut inner, request } = *parked;
                    let method = request.method().clone();
                    State::Calling { future: inner.call(request), method }
                }
                StateProj::Calling { future, method } => {
                    let result = ready!(future.poll(cx)).map_err(Into::into);
                    if this.shared.config.feedback {
                        let attempt = result.as_ref().map_err(|e| &**e as &(dyn Error + 'static));
                        this.shared.feedback(this.key, method, attempt);
                    }
                    this.state.set(State::Done);
                    return Poll::Ready(result);
                }
                StateProj::Done => panic!("rate limit future polled after completion"),
            };
            this.state.set(next_state);
        }
    }
}

impl<S, ReqBody, C> fmt::Debug for ResponseFuture<S, ReqBody, C>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Waiting { sleep, .. } => format!("Waiting(until {:?})", sleep.deadline()),
            State::Asking { .. } => "Asking".to_owned(),
            State::Refused { .. } => "Refused".to_owned(),
            State::Acquired => "Acquired".to_owned(),
            State::Calling { .. } => "Calling".to_owned(),
            State::Done => "Done".to_owned(),
        };
        f.debug_struct("ResponseFuture")
            .field("state", &format_args!("{state}"))
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
