//! The response future of [`Retry`](crate::Retry).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;
use volley_classify::Classify;
use volley_core::{BoxError, KeyFn};

use crate::ReplayBody;
use crate::plan::Plan;
use crate::policy::Decision;
use crate::service::finish;

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

pin_project! {
    /// Resolves to the final response (or error) once no further attempt will be made.
    ///
    /// The first attempt is polled in place when the inner service was ready at the call;
    /// the attempt loop is boxed only once a retry is decided (or when the first attempt
    /// could not be sent at once). Dropping it cancels the attempt in flight or the sleep
    /// between attempts.
    pub struct ResponseFuture<S, C, K, B>
    where
        S: Service<Request<ReplayBody<B>>>,
    {
        #[pin]
        state: State<S::Future, BoxFuture<S::Response>>,
        // What a retry after the first attempt needs; `None` when no retry can follow.
        plan: Option<Plan<S, C, K, B>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, L> {
        First { #[pin] future: F },
        FirstFailed { error: Option<BoxError> },
        Looping { future: L },
        Done,
    }
}

impl<S, C, K, B> ResponseFuture<S, C, K, B>
where
    S: Service<Request<ReplayBody<B>>>,
{
    /// The first attempt was sent at once.
    pub(crate) fn first(future: S::Future, plan: Option<Plan<S, C, K, B>>) -> Self {
        Self { state: State::First { future }, plan }
    }

    /// The inner service failed to get ready for the first attempt.
    pub(crate) fn first_failed(error: BoxError, plan: Option<Plan<S, C, K, B>>) -> Self {
        Self { state: State::FirstFailed { error: Some(error) }, plan }
    }

    /// The whole attempt loop, boxed.
    pub(crate) fn looping(future: BoxFuture<S::Response>) -> Self {
        Self { state: State::Looping { future }, plan: None }
    }
}

impl<S, C, K, B, ResB> Future for ResponseFuture<S, C, K, B>
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
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = match this.state.as_mut().project() {
            StateProj::Looping { future } => return future.as_mut().poll(cx),
            StateProj::First { future } => ready!(future.poll(cx)).map_err(Into::into),
            StateProj::FirstFailed { error } => {
                Err(error.take().unwrap_or_else(|| "retry future polled after completion".into()))
            }
            StateProj::Done => panic!("retry future polled after completion"),
        };
        this.state.set(State::Done);
        let Some(plan) = this.plan.as_ref() else { return Poll::Ready(result) };
        // The plan is dropped in place rather than moved out: it is large.
        match plan.decide(&result, 0, Duration::ZERO, None) {
            Decision::Done => {
                *this.plan = None;
                Poll::Ready(finish(result, 1, None))
            }
            Decision::Stop(reason) => {
                *this.plan = None;
                Poll::Ready(finish(result, 1, Some(reason)))
            }
            Decision::Retry { delay, .. } => {
                // Dropped unread: when hyper has already read the whole (small) body with
                // the head, the connection still goes back to the pool (a client test checks).
                drop(result);
                let Some(plan) = this.plan.take() else { unreachable!("checked above") };
                let mut future = Box::pin(plan.retry_after(delay));
                let poll = future.as_mut().poll(cx);
                this.state.set(State::Looping { future });
                poll
            }
        }
    }
}

impl<S, C, K, B> fmt::Debug for ResponseFuture<S, C, K, B>
where
    S: Service<Request<ReplayBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::First { .. } | State::FirstFailed { .. } => "first attempt",
            State::Looping { .. } => "retrying",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish_non_exhaustive()
    }
}
