//! One timeout over the whole connect: DNS, TCP and TLS.
//!
//! hyper-util's `HttpConnector::set_connect_timeout` covers the TCP connect alone: a DNS
//! server that never answers or a TLS handshake that stalls would wait for the attempt
//! timeout, or forever with timeouts off. This wraps the whole connector future instead.
//! hyper-util may finish a connect in the background after a pooled connection won the
//! race for a request; that connect runs this same future, so it is bounded too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use tower_service::Service;
use volley_core::{BoxError, TimedOut, TimeoutKind, TimeoutPhase};

/// A connector whose every connect ends within `timeout`, or fails with a [`TimedOut`] of
/// kind [`TimeoutKind::Connect`].
#[derive(Clone, Debug)]
pub(crate) struct TimedConnector<C> {
    inner: C,
    timeout: Option<Duration>,
}

impl<C> TimedConnector<C> {
    pub(crate) fn new(inner: C, timeout: Option<Duration>) -> Self {
        Self { inner, timeout }
    }
}

type ConnectFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

impl<C> Service<Uri> for TimedConnector<C>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = ConnectFuture<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let Some(limit) = self.timeout else {
            return Box::pin(async move { connecting.await.map_err(Into::into) });
        };
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result.map_err(Into::into),
                Err(_elapsed) => {
                    Err(TimedOut::new(TimeoutKind::Connect, limit, TimeoutPhase::Connect).into())
                }
            }
        })
    }
}
