//! The response future of [`ClassifyService`](crate::ClassifyService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Method, Response};
use pin_project_lite::pin_project;
use volley_core::BoxError;

use crate::{Classify, StatusError};

pin_project! {
    /// Classifies the inner service's result when it resolves.
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        classifier: C,
        method: Method,
        error_for_status: bool,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn new(inner: F, classifier: C, method: Method, error_for_status: bool) -> Self {
        Self { inner, classifier, method, error_for_status }
    }
}

impl<F, C, B, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    C: Classify,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx)).map_err(Into::into)?;
        let outcome = this.classifier.classify(this.method, Ok(&res));
        if *this.error_for_status && outcome.is_failure() {
            let (parts, _body) = res.into_parts();
            return Poll::Ready(Err(Box::new(StatusError::new(
                parts.status,
                parts.headers,
                outcome,
            ))));
        }
        res.extensions_mut().insert(outcome);
        Poll::Ready(Ok(res))
    }
}

impl<F, C: fmt::Debug> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("classifier", &self.classifier)
            .field("method", &self.method)
            .field("error_for_status", &self.error_for_status)
            .finish_non_exhaustive()
    }
}
