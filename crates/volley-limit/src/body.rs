use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use volley_core::{BodyEnd, BodyGuard, GuardedBody};

use crate::permit::Permit;

pin_project! {
    /// The response body of a [`ConcurrencyLimit`](crate::ConcurrencyLimit) service: the
    /// inner body, holding the request's permits until it ends.
    ///
    /// The permits go back at end-of-stream, on the first error, or when the body is
    /// dropped, whichever comes first. With
    /// [`release_at_headers`](crate::ConcurrencyLimitLayer::release_at_headers) they were
    /// already given back when the response head arrived, and this is a plain pass-through.
    /// Frames, [`size_hint`](Body::size_hint) and [`is_end_stream`](Body::is_end_stream) are
    /// those of the inner body.
    pub struct ResponseBody<B> {
        #[pin]
        inner: GuardedBody<B, Release>,
    }
}

impl<B> ResponseBody<B> {
    #[inline]
    pub(crate) fn new(inner: B, permit: Option<Permit>) -> Self {
        Self { inner: GuardedBody::new(inner, Release(permit)) }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        self.inner.get_ref()
    }
}

/// Gives the permits back when the body ends.
pub(crate) struct Release(Option<Permit>);

impl BodyGuard for Release {
    #[inline]
    fn on_end(self, _end: BodyEnd) {
        drop(self.0);
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", self.get_ref())
            .field("ended", &!self.inner.is_armed())
            .finish()
    }
}
