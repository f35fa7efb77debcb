use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// How a response body ended, as told to a [`BodyGuard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyEnd {
    /// The body reached end-of-stream: every frame was read.
    Finished,
    /// Reading the body failed.
    Errored,
    /// The body was dropped before it finished (read partly or not at all).
    Dropped,
}

/// Work to do once, when a response body ends.
///
/// Layers that own a resource for as long as a response is in use — a concurrency permit,
/// an attempt timer — hand it to a [`GuardedBody`] as a guard. Implemented for any
/// `FnOnce(BodyEnd) + Send + 'static`.
pub trait BodyGuard: Send + 'static {
    /// Called exactly once, when the body finishes, fails, or is dropped.
    fn on_end(self, end: BodyEnd);
}

impl<F> BodyGuard for F
where
    F: FnOnce(BodyEnd) + Send + 'static,
{
    fn on_end(self, end: BodyEnd) {
        self(end)
    }
}

pin_project! {
    /// A response body that runs a [`BodyGuard`] exactly once when the body ends: at
    /// end-of-stream, on the first error, or when it is dropped unfinished.
    ///
    /// End-of-stream is noticed as soon as the inner body reports
    /// [`is_end_stream`](Body::is_end_stream) after a frame, because some consumers stop
    /// polling at that point and never see the final `None`. Frames, `size_hint` and
    /// `is_end_stream` pass through unchanged.
    ///
    /// # Example
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use http_body_util::{BodyExt, Full};
    /// use volley_core::{BodyEnd, GuardedBody};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let ended = Arc::new(Mutex::new(None));
    /// let seen = ended.clone();
    /// let body = GuardedBody::new(Full::new(bytes::Bytes::from("hello")), move |end| {
    ///     *seen.lock().unwrap() = Some(end);
    /// });
    /// let bytes = body.collect().await.unwrap().to_bytes();
    /// assert_eq!(bytes, "hello");
    /// assert_eq!(*ended.lock().unwrap(), Some(BodyEnd::Finished));
    /// # }
    /// ```
    pub struct GuardedBody<B, G: BodyGuard> {
        #[pin]
        inner: B,
        guard: Armed<G>,
    }
}

impl<B, G: BodyGuard> GuardedBody<B, G> {
    /// Wraps `inner`; `guard` runs when it ends.
    pub fn new(inner: B, guard: G) -> Self {
        Self { inner, guard: Armed(Some(guard)) }
    }

    /// Whether the guard has not run yet.
    pub fn is_armed(&self) -> bool {
        self.guard.0.is_some()
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B, G> Body for GuardedBody<B, G>
where
    B: Body,
    G: BodyGuard,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            None => this.guard.fire(BodyEnd::Finished),
            Some(Err(_)) => this.guard.fire(BodyEnd::Errored),
            Some(Ok(_)) if this.inner.is_end_stream() => this.guard.fire(BodyEnd::Finished),
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug, G: BodyGuard> fmt::Debug for GuardedBody<B, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedBody")
            .field("inner", &self.inner)
            .field("armed", &self.is_armed())
            .finish()
    }
}

/// The guard until it has run; dropping it unrun means the body was dropped unfinished.
struct Armed<G: BodyGuard>(Option<G>);

impl<G: BodyGuard> Armed<G> {
    fn fire(&mut self, end: BodyEnd) {
        if let Some(guard) = self.0.take() {
            guard.on_end(end);
        }
    }
}

impl<G: BodyGuard> Drop for Armed<G> {
    fn drop(&mut self) {
        self.fire(BodyEnd::Dropped);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty, Full, StreamBody};

    use super::*;

    type Log = Arc<Mutex<Vec<BodyEnd>>>;

    fn recorder() -> (Log, impl BodyGuard) {
        let log = Log::default();
        let seen = log.clone();
        (log, move |end| seen.lock().unwrap().push(end))
    }

    fn stream(
        frames: Vec<Result<&'static str, &'static str>>,
    ) -> impl Body<Data = Bytes, Error = &'static str> {
        let frames = frames.into_iter().map(|f| f.map(|s| Frame::data(Bytes::from(s))));
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn fires_once_at_end_of_stream_noticed_through_is_end_stream() {
        let (log, guard) = recorder();
        let mut body = GuardedBody::new(Full::new(Bytes::from("abc")), guard);
        assert_eq!(body.size_hint().exact(), Some(3));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "abc");
        // `Full` is at end-of-stream after its only frame: the guard ran without a final poll.
        assert_eq!(*log.lock().unwrap(), [BodyEnd::Finished]);
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
        drop(body);
        assert_eq!(*log.lock().unwrap(), [BodyEnd::Finished]);
    }

    #[tokio::test]
    async fn fires_at_the_final_none_for_streams() {
        let (log, guard) = recorder();
        let body = GuardedBody::new(stream(vec![Ok("a"), Ok("b")]), guard);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "ab");
        assert_eq!(*log.lock().unwrap(), [BodyEnd::Finished]);
    }

    #[tokio::test]
    async fn fires_once_on_error() {
        let (log, guard) = recorder();
        let mut body = GuardedBody::new(stream(vec![Ok("a"), Err("reset"), Ok("late")]), guard);
        assert!(body.frame().await.unwrap().is_ok());
        assert!(log.lock().unwrap().is_empty());
        assert_eq!(body.frame().await.unwrap().unwrap_err(), "reset");
        assert!(body.frame().await.unwrap().is_ok());
        drop(body);
        assert_eq!(*log.lock().unwrap(), [BodyEnd::Errored]);
    }

    #[tokio::test]
    async fn fires_once_when_dropped_unread() {
        let (log, guard) = recorder();
        let body = GuardedBody::new(stream(vec![Ok("a")]), guard);
        assert!(body.is_armed());
        drop(body);
        assert_eq!(*log.lock().unwrap(), [BodyEnd::Dropped]);
    }

    #[tokio::test]
    async fn empty_bodies_finish_at_the_first_poll() {
        let (log, guard) = recorder();
        let mut body = GuardedBody::new(Empty::<Bytes>::new(), guard);
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
        assert!(!body.is_armed());
        assert_eq!(*log.lock().unwrap(), [BodyEnd::Finished]);
    }
}
