use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use volley_core::BoxError;

use crate::Classify;
use crate::future::ResponseFuture;

/// The service made by [`ClassifyLayer`](crate::ClassifyLayer).
#[derive(Clone, Debug)]
pub struct ClassifyService<S, C> {
    inner: S,
    classifier: C,
    error_for_status: bool,
}

impl<S, C> ClassifyService<S, C> {
    pub(crate) fn new(inner: S, classifier: C, error_for_status: bool) -> Self {
        Self { inner, classifier, error_for_status }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for ClassifyService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    C: Classify,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let method = req.method().clone();
        let future = self.inner.call(req);
        ResponseFuture::new(future, self.classifier.clone(), method, self.error_for_status)
    }
}
