//! The response future of [`FollowRedirect`](crate::FollowRedirect).

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use volley_core::BoxError;

use crate::ReplayableBody;
use crate::follow::{Next, Plan, is_redirect};

type Following<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

pin_project! {
    /// The response future of [`FollowRedirect`](crate::FollowRedirect): the first request
    /// is polled in place, and only a response that redirects moves the rest into a box.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        first: S::Future,
        kept: Option<(Arc<S>, Next<B>)>,
        following: Option<Following<S::Response>>,
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(crate) fn new(first: S::Future, service: Arc<S>, next: Next<B>) -> Self {
        Self { first, kept: Some((service, next)), following: None }
    }
}

impl<S, B, ResB> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: ReplayableBody + Default + Send + 'static,
    ResB: Send + 'static,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(following) = this.following {
            return following.as_mut().poll(cx);
        }
        let res = ready!(this.first.poll(cx)).map_err(Into::into)?;
        if !is_redirect(res.status()) {
            return Poll::Ready(Ok(res));
        }
        let Some((service, next)) = this.kept.take() else {
            return Poll::Ready(Ok(res));
        };
        let service = S::clone(&service);
        let following = this.following.insert(Box::pin(follow(service, next, res)));
        following.as_mut().poll(cx)
    }
}

/// Follows the redirect in `res`, and the ones after it.
async fn follow<S, B, ResB>(
    mut service: S,
    mut next: Next<B>,
    mut res: Response<ResB>,
) -> Result<Response<ResB>, BoxError>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    B: ReplayableBody + Default,
{
    loop {
        let req = match next.plan(&res) {
            Plan::Return(not_followed) => return Ok(next.finish(res, not_followed)),
            Plan::Fail(err) => return Err(err.into()),
            Plan::Follow(req) => req,
        };
        next.check_guard().await?;
        // The redirect's own body is not wanted; dropping it frees its connection.
        drop(res);
        poll_fn(|cx| service.poll_ready(cx)).await.map_err(Into::into)?;
        res = service.call(req).await.map_err(Into::into)?;
        if !is_redirect(res.status()) {
            return Ok(next.finish(res, None));
        }
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("following", &self.following.is_some())
            .finish_non_exhaustive()
    }
}
