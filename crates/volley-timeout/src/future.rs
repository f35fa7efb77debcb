//! The response future shared by [`TotalTimeout`](crate::TotalTimeout) and
//! [`AttemptTimeout`](crate::AttemptTimeout).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use volley_core::BoxError;

use crate::error::Expiry;
use crate::{ResponseBody, TimeoutPhase};

pin_project! {
    /// Waits for the inner service's response head until the layer's timer fires, then
    /// hands the response on with its body wrapped in a [`ResponseBody`] that keeps the
    /// same limit.
    ///
    /// The timer is created the first time the inner future is not ready, so a service that
    /// answers at once costs no timer at all (and, for an attempt answered with an empty
    /// body, no clock read either).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
        expiry: Expiry,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, expiry: Expiry) -> Self {
        Self { inner, sleep: None, expiry }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    E: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // The inner future goes first, as in tower: a response that is ready is never
        // discarded because the timer happens to be due as well.
        match this.inner.poll(cx) {
            Poll::Ready(Ok(res)) => {
                // A body still to come is timed from here at the latest.
                if !res.body().is_end_stream() {
                    this.expiry.start();
                }
                let expiry = *this.expiry;
                return Poll::Ready(Ok(res.map(|body| ResponseBody::new(body, expiry))));
            }
            Poll::Ready(Err(err)) => return Poll::Ready(Err(this.expiry.adopt(err.into()))),
            Poll::Pending => {}
        }
        if this.sleep.is_none() {
            let at = this.expiry.start();
            this.sleep.set(Some(tokio::time::sleep_until(at)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut() {
            ready!(sleep.poll(cx));
        }
        Poll::Ready(Err(this.expiry.error(TimeoutPhase::Headers)))
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("expiry", &self.expiry)
            .field("timer_started", &self.sleep.is_some())
            .finish_non_exhaustive()
    }
}
