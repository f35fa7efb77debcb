//! A stage made into the stack's boxed service type.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use pin_project_lite::pin_project;
use tower_service::Service;
use volley_core::BoxError;

use crate::ResponseBody;

/// A stage whose errors become a `BoxError` and whose body becomes the stack's boxed
/// [`ResponseBody`], in one future: `map_err` and `map_response` would be a future each,
/// and each would move the response once more.
#[derive(Clone, Debug)]
pub(crate) struct Erase<S>(pub(crate) S);

impl<S, Req, B> Service<Req> for Erase<S>
where
    S: Service<Req, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = EraseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        EraseFuture { future: self.0.call(req) }
    }
}

pin_project! {
    /// The response future of [`Erase`].
    pub(crate) struct EraseFuture<F> {
        #[pin]
        future: F,
    }
}

impl<F, B, E> Future for EraseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().future.poll(cx)) {
            Ok(res) => Ok(res.map(|body| body.map_err(Into::into).boxed_unsync())),
            Err(err) => Err(err.into()),
        })
    }
}
