//! Fan thousands of requests out through one service with at most `n` in flight.
//!
//! The seed's `asyncio.gather` plus a semaphore, without the footguns: every item runs on
//! a task of its own (a slow consumer cannot starve the others, rust-lang/futures-rs#2387),
//! inputs are taken lazily so memory does not grow with the input, dropping the result
//! cancels everything still running, and `n = 0` is an error rather than a hang.
//!
//! Each item's closure receives the response and must finish with its body inside the
//! item's slot — read it, stream it to a file, or drop it. Handing unread responses out of
//! the slot would hold concurrency permits (which live until a body ends) and could stall
//! the fan-out.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response};
//! use volley::join::Fanout;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let service = tower::service_fn(|req: Request<String>| async move {
//!     Ok::<_, std::convert::Infallible>(Response::new(format!("echo {}", req.uri().path())))
//! });
//! let requests = (0..100).map(|i| Request::get(format!("/item/{i}")).body(String::new()).unwrap());
//!
//! let fanout = Fanout::new(service, 8).unwrap();
//! let bodies = fanout.ordered(requests, |res: Response<String>| async move {
//!     Ok::<_, volley::Error>(res.into_body())
//! }).await;
//! assert_eq!(bodies.len(), 100);
//! assert_eq!(bodies[42].as_ref().unwrap(), "echo /item/42");
//! # }
//! ```

mod unordered;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_core::Stream;
use futures_util::StreamExt;
use tower::ServiceExt;
use tower_service::Service;
use volley_core::BoxError;

use crate::error::{Error, Kind};
pub use unordered::Unordered;
use unordered::{Item, Source};

/// What a fan-out needs of its service: cloneable, sendable, with a sendable future and
/// response, and an error convertible into a [`BoxError`]. Implemented for every such
/// service; you never implement it yourself.
pub trait ItemService<Req>:
    Service<Req, Future: Send, Response: Send, Error: Into<BoxError>> + Clone + Send + 'static
{
}

impl<S, Req> ItemService<Req> for S where
    S: Service<Req, Future: Send, Response: Send, Error: Into<BoxError>> + Clone + Send + 'static
{
}

/// How far a fan-out has got, given to the [`Fanout::on_progress`] hook after each item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Items finished, successfully or not.
    pub done: usize,
    /// Items in all, when the input knew its length.
    pub total: Option<usize>,
}

/// Runs many requests through clones of one service, at most `limit` at a time.
#[derive(Clone)]
pub struct Fanout<S> {
    service: S,
    limit: usize,
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
}

impl<S> Fanout<S> {
    /// A fan-out over `service` with at most `limit` items in flight.
    ///
    /// A `limit` of 0 is refused with an error of kind [`Kind::Config`]: it could never
    /// make progress.
    pub fn new(service: S, limit: usize) -> Result<Self, Error> {
        if limit == 0 {
            return Err(Error::with_kind(Kind::Config, "fan-out limit must be at least 1, got 0"));
        }
        Ok(Self { service, limit, progress: None })
    }

    /// Calls `hook` after each item finishes, with the count done and the total when the
    /// input's length is known (for progress bars). Defaults to none.
    #[must_use]
    pub fn on_progress(mut self, hook: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(hook));
        self
    }

    /// Results as they finish, as `(input index, result)`, for inputs from an iterator.
    pub fn unordered<I, Req, F, Fut, T, E>(&self, requests: I, per_item: F) -> Unordered<T>
    where
        I: IntoIterator<Item = Req>,
        I::IntoIter: Send + 'static,
        S: ItemService<Req>,
        Req: Send + 'static,
        F: Fn(S::Response) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
        T: Send + 'static,
    {
        let requests = requests.into_iter();
        let total = match requests.size_hint() {
            (lower, Some(upper)) if lower == upper => Some(lower),
            _ => None,
        };
        self.unordered_stream_with_total(futures_util::stream::iter(requests), total, per_item)
    }

    /// Results as they finish, for inputs from a stream (read as slots free).
    pub fn unordered_stream<St, Req, F, Fut, T, E>(&self, requests: St, per_item: F) -> Unordered<T>
    where
        St: Stream<Item = Req> + Send + 'static,
        S: ItemService<Req>,
        Req: Send + 'static,
        F: Fn(S::Response) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
        T: Send + 'static,
    {
        self.unordered_stream_with_total(requests, None, per_item)
    }

    fn unordered_stream_with_total<St, Req, F, Fut, T, E>(
        &self,
        requests: St,
        total: Option<usize>,
        per_item: F,
    ) -> Unordered<T>
    where
        St: Stream<Item = Req> + Send + 'static,
        S: ItemService<Req>,
        Req: Send + 'static,
        F: Fn(S::Response) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
        T: Send + 'static,
    {
        let service = self.service.clone();
        let per_item = Arc::new(per_item);
        let source: Source<T> = Box::pin(requests.map(move |req| -> Item<T> {
            let service = service.clone();
            let per_item = per_item.clone();
            Box::pin(async move {
                let response = service.oneshot(req).await.map_err(|e| Error::new(e.into()))?;
                per_item(response).await.map_err(Error::new)
            })
        }));
        Unordered::new(source, self.limit, total, self.progress.clone())
    }

    /// Every result, in input order — `asyncio.gather(..., return_exceptions=True)`.
    pub async fn ordered<I, Req, F, Fut, T, E>(
        &self,
        requests: I,
        per_item: F,
    ) -> Vec<Result<T, Error>>
    where
        I: IntoIterator<Item = Req>,
        I::IntoIter: Send + 'static,
        S: ItemService<Req>,
        Req: Send + 'static,
        F: Fn(S::Response) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
        T: Send + 'static,
    {
        let mut stream = self.unordered(requests, per_item);
        let mut slots: Vec<Option<Result<T, Error>>> = Vec::new();
        while let Some((index, result)) = stream.next().await {
            put(&mut slots, index, result);
        }
        // Every index up to the last was started and finished, so no slot is empty.
        slots.into_iter().flatten().collect()
    }

    /// Every result in input order, or the first error — at which point every item still
    /// running is cancelled and no further input is started.
    pub async fn fail_fast<I, Req, F, Fut, T, E>(
        &self,
        requests: I,
        per_item: F,
    ) -> Result<Vec<T>, Error>
    where
        I: IntoIterator<Item = Req>,
        I::IntoIter: Send + 'static,
        S: ItemService<Req>,
        Req: Send + 'static,
        F: Fn(S::Response) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
        T: Send + 'static,
    {
        let mut stream = self.unordered(requests, per_item);
        let mut slots: Vec<Option<T>> = Vec::new();
        while let Some((index, result)) = stream.next().await {
            // Returning drops the stream, which aborts every task still running.
            put(&mut slots, index, result?);
        }
        Ok(slots.into_iter().flatten().collect())
    }
}

/// Files a result under its input's index; results arrive in any order.
fn put<V>(slots: &mut Vec<Option<V>>, index: usize, value: V) {
    if slots.len() <= index {
        slots.resize_with(index + 1, || None);
    }
    slots[index] = Some(value);
}

impl<S> fmt::Debug for Fanout<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fanout")
            .field("limit", &self.limit)
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}
