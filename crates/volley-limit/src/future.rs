//! The response future of [`ConcurrencyLimit`](crate::ConcurrencyLimit).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use volley_core::BoxError;

use crate::ResponseBody;
use crate::permit::{Permit, Start};

/// Waits for the permits, then readies and calls the inner service; only requests that
/// must wait pay for this box.
pub(crate) type Admit<F> = Pin<Box<dyn Future<Output = Result<Called<F>, BoxError>> + Send>>;

/// An admitted request: the inner future, its permits, and (adaptive only) its sample start.
pub(crate) type Called<F> = (F, Permit, Option<Box<Start>>);

pin_project! {
    /// The future returned by [`ConcurrencyLimit`](crate::ConcurrencyLimit): waits for the
    /// request's permits (if they were not free at once), then for the inner service's
    /// response, and hands the permits to the [`ResponseBody`].
    ///
    /// Dropping it at any point gives back whatever it holds: its place in a queue, or its
    /// permits.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Waiting { admit: Admit<F> },
        Called { #[pin] future: F, permit: Option<Permit>, start: Option<Box<Start>> },
        Failed { error: Option<BoxError> },
    }
}

impl<F> ResponseFuture<F> {
    #[inline]
    pub(crate) fn called(future: F, permit: Permit, start: Option<Box<Start>>) -> Self {
        Self { state: State::Called { future, permit: Some(permit), start } }
    }

    pub(crate) fn waiting(admit: Admit<F>) -> Self {
        Self { state: State::Waiting { admit } }
    }

    pub(crate) fn failed(error: BoxError) -> Self {
        Self { state: State::Failed { error: Some(error) } }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<B>>, BoxError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut state = self.as_mut().project().state;
            match state.as_mut().project() {
                StateProj::Waiting { admit } => match ready!(admit.as_mut().poll(cx)) {
                    Ok((future, permit, start)) => {
                        state.set(State::Called { future, permit: Some(permit), start });
                    }
                    Err(error) => {
                        state.set(State::Failed { error: None });
                        return Poll::Ready(Err(error));
                    }
                },
                StateProj::Called { future, permit, start } => {
                    let result = ready!(future.poll(cx));
                    let permit = permit.take();
                    // Adaptive only: the answer is a sample, taken at the head.
                    let sample = permit.as_ref().zip(start.take());
                    return Poll::Ready(match result {
                        Ok(mut response) => {
                            if let Some((permit, start)) = sample {
                                response = permit.record_response(&start, response);
                            }
                            let held = permit.filter(|permit| !permit.release_at_headers());
                            Ok(response.map(|body| ResponseBody::new(body, held)))
                        }
                        Err(error) => {
                            let error = error.into();
                            if let Some((permit, start)) = sample {
                                permit.record_error(&start, &*error);
                            }
                            drop(permit);
                            Err(error)
                        }
                    });
                }
                StateProj::Failed { error } => {
                    let error = error.take().expect("ResponseFuture polled after completion");
                    return Poll::Ready(Err(error));
                }
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Waiting { .. } => "waiting for a permit",
            State::Called { permit: Some(_), .. } => "called",
            State::Called { permit: None, .. } => "done",
            State::Failed { .. } => "failed",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}
