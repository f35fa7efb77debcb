use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::Instant;
use tower_service::Service;
use volley_core::{BoxError, Deadline};

use crate::ResponseBody;
use crate::error::Expiry;
use crate::future::ResponseFuture;

/// The service made by [`TotalTimeoutLayer`](crate::TotalTimeoutLayer).
#[derive(Clone, Debug)]
pub struct TotalTimeout<S> {
    inner: S,
    timeout: Duration,
    body_idle: Option<Duration>,
}

/// The service made by [`AttemptTimeoutLayer`](crate::AttemptTimeoutLayer).
#[derive(Clone, Debug)]
pub struct AttemptTimeout<S> {
    inner: S,
    timeout: Duration,
    body_idle: Option<Duration>,
}

macro_rules! accessors {
    ($service:ident) => {
        impl<S> $service<S> {
            pub(crate) fn new(inner: S, timeout: Duration, body_idle: Option<Duration>) -> Self {
                Self { inner, timeout, body_idle }
            }

            /// The wrapped service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// The wrapped service, mutably.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// Unwraps the inner service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }
    };
}

accessors!(TotalTimeout);
accessors!(AttemptTimeout);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TotalTimeout<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let now = Instant::now();
        let own = Deadline::after_from(now, self.timeout);
        let effective = own.insert_into(&mut req);
        // A caller's earlier deadline is measured from the same reading of the clock.
        let after = if effective == own {
            self.timeout
        } else {
            effective.instant().saturating_duration_since(now)
        };
        let expiry = Expiry::total(effective.instant(), after, self.body_idle);
        ResponseFuture::new(self.inner.call(req), expiry)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AttemptTimeout<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let deadline = Deadline::from_request(&req).map(Deadline::instant);
        let expiry = Expiry::attempt(self.timeout, deadline, self.body_idle);
        ResponseFuture::new(self.inner.call(req), expiry)
    }
}
