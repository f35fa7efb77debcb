use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::task::JoinSet;

use super::Progress;
use crate::Error;

/// One item's work: send the request, hand the response to the caller's closure.
pub(super) type Item<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;
/// The inputs, already turned into items, taken one at a time as slots free.
pub(super) type Source<T> = Pin<Box<dyn Stream<Item = Item<T>> + Send>>;

/// Results as they finish, each with its input's index: the stream made by
/// [`Fanout::unordered`](super::Fanout::unordered).
///
/// At most the fan-out's limit of items are in flight, each on a task of its own; a new
/// input is taken from the source only when a slot frees, so memory stays bounded for any
/// input length. Dropping the stream aborts every item still running.
pub struct Unordered<T> {
    source: Source<T>,
    running: JoinSet<(usize, Result<T, Error>)>,
    limit: usize,
    next_index: usize,
    source_done: bool,
    done: usize,
    total: Option<usize>,
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
}

impl<T: Send + 'static> Unordered<T> {
    pub(super) fn new(
        source: Source<T>,
        limit: usize,
        total: Option<usize>,
        progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    ) -> Self {
        Self {
            source,
            running: JoinSet::new(),
            limit,
            next_index: 0,
            source_done: false,
            done: 0,
            total,
            progress,
        }
    }

    /// Items running now.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// Starts items until the limit is reached or the source has nothing ready.
    fn fill(&mut self, cx: &mut Context<'_>) {
        while !self.source_done && self.running.len() < self.limit {
            match self.source.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let index = self.next_index;
                    self.next_index += 1;
                    self.running.spawn(async move { (index, item.await) });
                }
                Poll::Ready(None) => self.source_done = true,
                Poll::Pending => break,
            }
        }
    }
}

impl<T: Send + 'static> Stream for Unordered<T> {
    type Item = (usize, Result<T, Error>);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.fill(cx);
        loop {
            match this.running.poll_join_next(cx) {
                Poll::Pending => return Poll::Pending,
                // Nothing running: either everything is done or the source is not ready.
                Poll::Ready(None) if this.source_done => return Poll::Ready(None),
                Poll::Ready(None) => return Poll::Pending,
                Poll::Ready(Some(Ok((index, result)))) => {
                    this.done += 1;
                    if let Some(progress) = &this.progress {
                        progress(Progress { done: this.done, total: this.total });
                    }
                    // Refill now, so the slot does not stay empty while the caller works.
                    this.fill(cx);
                    return Poll::Ready(Some((index, result)));
                }
                // A task that panicked: the panic belongs to the caller's closure.
                Poll::Ready(Some(Err(err))) if err.is_panic() => {
                    std::panic::resume_unwind(err.into_panic())
                }
                // Cancelled tasks only happen while this stream is being dropped.
                Poll::Ready(Some(Err(_))) => continue,
            }
        }
    }
}

impl<T> fmt::Debug for Unordered<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unordered")
            .field("in_flight", &self.running.len())
            .field("limit", &self.limit)
            .field("started", &self.next_index)
            .field("done", &self.done)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}
