//! A stage that may be absent, as one service type either way.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body_util::Either;
use pin_project_lite::pin_project;
use tower_service::Service;
use volley_core::BoxError;

/// The stage `On(layer.layer(inner))` when it is configured, else `Off(inner)`: the same
/// type either way, with the response body telling them apart.
///
/// tower's `Either` service with a `map_result` per branch does the same in two nested
/// futures, each moving the response once more; with seven optional stages that was 22
/// copies of a response per call. This future maps the response where it polls it.
#[derive(Clone, Debug)]
pub(crate) enum Optional<A, B> {
    On(A),
    Off(B),
}

impl<A, B, Req, OnBody, OffBody> Service<Req> for Optional<A, B>
where
    A: Service<Req, Response = Response<OnBody>>,
    A::Error: Into<BoxError>,
    B: Service<Req, Response = Response<OffBody>>,
    B::Error: Into<BoxError>,
{
    type Response = Response<Either<OnBody, OffBody>>;
    type Error = BoxError;
    type Future = OptionalFuture<A::Future, B::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Self::On(on) => on.poll_ready(cx).map_err(Into::into),
            Self::Off(off) => off.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self {
            Self::On(on) => OptionalFuture::On { future: on.call(req) },
            Self::Off(off) => OptionalFuture::Off { future: off.call(req) },
        }
    }
}

pin_project! {
    /// The response future of [`Optional`].
    #[project = OptionalProj]
    pub(crate) enum OptionalFuture<A, B> {
        On { #[pin] future: A },
        Off { #[pin] future: B },
    }
}

impl<A, B, OnBody, OffBody, OnError, OffError> Future for OptionalFuture<A, B>
where
    A: Future<Output = Result<Response<OnBody>, OnError>>,
    B: Future<Output = Result<Response<OffBody>, OffError>>,
    OnError: Into<BoxError>,
    OffError: Into<BoxError>,
{
    type Output = Result<Response<Either<OnBody, OffBody>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match self.project() {
            OptionalProj::On { future } => match ready!(future.poll(cx)) {
                Ok(res) => Ok(res.map(Either::Left)),
                Err(err) => Err(err.into()),
            },
            OptionalProj::Off { future } => match ready!(future.poll(cx)) {
                Ok(res) => Ok(res.map(Either::Right)),
                Err(err) => Err(err.into()),
            },
        })
    }
}
