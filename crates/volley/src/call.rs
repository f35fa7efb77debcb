//! One call of the client's stack: the request sent through a clone of the stack, as a
//! small named future that records the request's span and metrics when it ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use http::{Request, Uri};
use tower::ServiceExt;
use tower_service::Service;
use tracing::Span;

use crate::stack::Outer;
use crate::telemetry;
use crate::{Body, Error, ResponseBody};

type StackFuture = Pin<
    Box<dyn Future<Output = Result<http::Response<ResponseBody>, volley_core::BoxError>> + Send>,
>;

/// The stack's response to one prepared request.
///
/// The stack is called at once when it is ready (it always is, unless a caller's own
/// layer says otherwise), so this holds only the stack's boxed future, the request's URL
/// for errors and for the [`Response`](crate::Response), and the telemetry: a few dozen
/// bytes, where nested `async` blocks holding the request and a `Oneshot` made the future
/// of `send` about 1.8 KB, copied whole at each level.
pub(crate) struct Sent {
    future: StackFuture,
    url: Option<Uri>,
    span: Span,
    #[cfg(feature = "metrics")]
    metrics: Option<telemetry::RequestMetrics>,
}

impl Sent {
    /// Sends `req` through a clone of `stack`, inside the request's span.
    pub(crate) fn new(stack: &Outer, req: Request<Body>) -> Self {
        let url = req.uri().clone();
        let span = telemetry::request_span(&req);
        #[cfg(feature = "metrics")]
        let metrics = Some(telemetry::RequestMetrics::start(&req));
        let mut stack = stack.clone();
        // The layers' `call` opens the attempt spans, which are children of this one.
        let future = span.in_scope(|| {
            match stack.poll_ready(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Ok(())) => stack.call(req),
                Poll::Ready(Err(err)) => Box::pin(std::future::ready(Err(err))),
                // A caller's layer that is not ready now: wait for it in the future, with
                // the real waker (the no-op one it saw is never woken).
                Poll::Pending => Box::pin(stack.oneshot(req)),
            }
        });
        Self {
            future,
            url: Some(url),
            span,
            #[cfg(feature = "metrics")]
            metrics,
        }
    }
}

impl Future for Sent {
    /// The response and the URL it answers, or the error with that URL.
    type Output = Result<(http::Response<ResponseBody>, Uri), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let result = {
            let _entered = this.span.enter();
            ready!(this.future.as_mut().poll(cx)).map_err(Error::new)
        };
        let outcome = result.as_ref().map(http::Response::status);
        telemetry::record_outcome(&this.span, &outcome);
        #[cfg(feature = "metrics")]
        if let Some(metrics) = this.metrics.take() {
            metrics.finish(&outcome);
        }
        let url = this.url.take().unwrap_or_default();
        Poll::Ready(match result {
            Ok(res) => Ok((res, url)),
            Err(err) => Err(err.with_url(&url)),
        })
    }
}
