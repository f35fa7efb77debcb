use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use volley_core::BoxError;

/// A request body that can be sent again: the body the retry layer hands to the service it
/// wraps.
///
/// The first attempt streams the caller's body and keeps each chunk (a cheap `Bytes`
/// clone, no copy for `Bytes`-backed bodies) until the replay limit is passed; later
/// attempts send the kept chunks, then whatever the caller's body has not yielded yet. An
/// empty body costs nothing. Once the body outgrows the limit the chunks are let go and
/// the request is no longer retried.
pub struct ReplayBody<B> {
    shared: Option<Arc<Mutex<Shared<B>>>>,
    /// Index of the next chunk this copy sends.
    next: usize,
    /// Bytes of kept chunks this copy has sent.
    sent: u64,
    trailers_sent: bool,
}

struct Shared<B> {
    /// The caller's body while it still has frames to give.
    source: Option<Pin<Box<B>>>,
    chunks: Vec<Bytes>,
    /// Chunks ever read from the source (more than `chunks.len()` once overflowed).
    chunks_read: usize,
    kept_bytes: u64,
    limit: u64,
    overflowed: bool,
    failed: bool,
    trailers: Option<HeaderMap>,
    /// Copies other than the one that last polled the source that found it pending. The
    /// source keeps only the last waker it was given, so when two copies are sent at once
    /// (a hedge beside its original) the one that reads the next frame wakes the others,
    /// which then find it among the kept chunks. At most one entry per concurrent copy.
    waiting: Vec<Waker>,
}

impl<B: Body> ReplayBody<B> {
    /// Wraps `body`, keeping up to `limit` bytes to send again.
    pub(crate) fn new(body: B, limit: usize) -> Self {
        let shared = (!body.is_end_stream()).then(|| {
            Arc::new(Mutex::new(Shared {
                source: Some(Box::pin(body)),
                chunks: Vec::new(),
                chunks_read: 0,
                kept_bytes: 0,
                limit: u64::try_from(limit).unwrap_or(u64::MAX),
                overflowed: false,
                failed: false,
                trailers: None,
                waiting: Vec::new(),
            }))
        });
        Self { shared, next: 0, sent: 0, trailers_sent: false }
    }

    /// A copy that sends the body again from its start.
    pub(crate) fn replay(&self) -> Self {
        Self { shared: self.shared.clone(), next: 0, sent: 0, trailers_sent: false }
    }

    /// A copy that sends the body again from its start, or `None` when the body can no
    /// longer be sent whole (it outgrew the replay limit, or the caller's body failed).
    ///
    /// Copies may be sent one after another (a retry) or at the same time (a hedge beside
    /// the attempt it races): each frame is read from the caller's body once and kept, and
    /// a copy that finds the caller's body pending is woken when another copy reads the
    /// next frame. A copy taken now may still fail later with an error if the body outgrows
    /// the limit while it is being sent.
    ///
    /// A body wrapped with a replay limit of 0 (the retry layer's choice when the request
    /// will not be retried) can never be sent twice unless it is empty: it gives `None`.
    pub fn try_replay(&self) -> Option<Self> {
        let keeps = self.shared.as_ref().is_none_or(|shared| lock(shared).limit > 0);
        (keeps && self.is_replayable()).then(|| self.replay())
    }

    /// Whether another copy could still send the whole body.
    pub(crate) fn is_replayable(&self) -> bool {
        self.shared.as_ref().is_none_or(|shared| {
            let shared = lock(shared);
            !shared.overflowed && !shared.failed
        })
    }
}

/// Copies waiting on the caller's body at once before stale wakers are let go.
const MAX_WAITING: usize = 8;

fn lock<B>(shared: &Mutex<Shared<B>>) -> MutexGuard<'_, Shared<B>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B> Body for ReplayBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(shared) = this.shared.as_ref() else { return Poll::Ready(None) };
        let mut shared = lock(shared);
        if this.next < shared.chunks_read {
            if shared.overflowed {
                return Poll::Ready(Some(Err("request body outgrew the replay buffer".into())));
            }
            let chunk = shared.chunks[this.next].clone();
            this.next += 1;
            this.sent += chunk.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        let Some(source) = shared.source.as_mut() else {
            if shared.failed {
                return Poll::Ready(Some(Err("request body failed on an earlier attempt".into())));
            }
            return Poll::Ready(take_trailers(&mut this.trailers_sent, &shared).map(Ok));
        };
        let polled = source.as_mut().poll_frame(cx);
        match &polled {
            Poll::Pending => {
                if !shared.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    if shared.waiting.len() >= MAX_WAITING {
                        // Stale wakers (copies dropped unfinished): a spurious wake is harmless.
                        shared.waiting.drain(..).for_each(Waker::wake);
                    }
                    shared.waiting.push(cx.waker().clone());
                }
            }
            // Whatever the source gave, the other copies can now make progress; the copy
            // polling now already has it.
            Poll::Ready(_) => {
                for waker in shared.waiting.drain(..) {
                    if !waker.will_wake(cx.waker()) {
                        waker.wake();
                    }
                }
            }
        }
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                shared.source = None;
                Poll::Ready(take_trailers(&mut this.trailers_sent, &shared).map(Ok))
            }
            Poll::Ready(Some(Err(err))) => {
                shared.source = None;
                shared.failed = true;
                Poll::Ready(Some(Err(err.into())))
            }
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    let chunk = data.copy_to_bytes(data.remaining());
                    shared.keep(chunk.clone());
                    this.next = shared.chunks_read;
                    this.sent = shared.kept_bytes;
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => {
                        shared.trailers = Some(trailers.clone());
                        this.trailers_sent = true;
                        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                    }
                    Err(_) => Poll::Ready(Some(Err(
                        "request body yielded a frame that is neither data nor trailers".into(),
                    ))),
                },
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        let Some(shared) = self.shared.as_ref() else { return true };
        let shared = lock(shared);
        shared.source.is_none()
            && !shared.failed
            && self.next >= shared.chunks_read
            && (shared.trailers.is_none() || self.trailers_sent)
    }

    fn size_hint(&self) -> SizeHint {
        let Some(shared) = self.shared.as_ref() else { return SizeHint::with_exact(0) };
        let shared = lock(shared);
        if shared.overflowed && self.next < shared.chunks_read {
            // This copy will fail at its next chunk: its length is not known, and must not
            // be announced as the length of what is left.
            return SizeHint::new();
        }
        let kept_unsent = shared.kept_bytes.saturating_sub(self.sent);
        let source = match shared.source.as_ref() {
            Some(source) => source.size_hint(),
            None => SizeHint::with_exact(0),
        };
        // Build from scratch: `set_lower` and `set_upper` each assert against the other.
        let mut hint = SizeHint::new();
        hint.set_lower(source.lower().saturating_add(kept_unsent));
        if let Some(upper) = source.upper() {
            hint.set_upper(upper.saturating_add(kept_unsent));
        }
        hint
    }
}

/// The trailers, once per copy of the body.
fn take_trailers<B>(sent: &mut bool, shared: &Shared<B>) -> Option<Frame<Bytes>> {
    if *sent {
        return None;
    }
    *sent = true;
    shared.trailers.clone().map(Frame::trailers)
}

impl<B> Shared<B> {
    fn keep(&mut self, chunk: Bytes) {
        self.chunks_read += 1;
        if self.overflowed {
            return;
        }
        let len = chunk.len() as u64;
        if self.kept_bytes + len > self.limit {
            self.overflowed = true;
            self.chunks = Vec::new();
            return;
        }
        self.kept_bytes += len;
        self.chunks.push(chunk);
    }
}

impl<B> fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayBody")
            .field("empty", &self.shared.is_none())
            .field("next", &self.next)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod concurrent_tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Waker;

    use super::*;

    /// A body of two chunks whose second chunk is pending until `open` is set.
    struct Gate {
        open: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
        sent: u8,
    }

    impl Body for Gate {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            match self.sent {
                0 => {
                    self.sent = 1;
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"ab")))))
                }
                1 if !self.open.load(Ordering::SeqCst) => {
                    *self.waker.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                }
                1 => {
                    self.sent = 2;
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"cd")))))
                }
                _ => Poll::Ready(None),
            }
        }
    }

    fn frame(body: &mut ReplayBody<Gate>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        Pin::new(body).poll_frame(cx).map(|f| f.map(|f| f.unwrap().into_data().unwrap()))
    }

    #[derive(Default)]
    struct Flag(AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn two_copies_polled_at_once_both_get_every_chunk_and_are_woken() {
        let open = Arc::new(AtomicBool::new(false));
        let waker = Arc::new(Mutex::new(None));
        let gate = Gate { open: open.clone(), waker: waker.clone(), sent: 0 };
        let origin = ReplayBody::new(gate, 1024);
        let (mut a, mut b) = (origin.replay(), origin.try_replay().unwrap());
        let (woke_a, woke_b) = (Arc::new(Flag::default()), Arc::new(Flag::default()));
        let (wa, wb) = (Waker::from(woke_a.clone()), Waker::from(woke_b.clone()));
        let (mut ca, mut cb) = (Context::from_waker(&wa), Context::from_waker(&wb));

        assert_eq!(frame(&mut a, &mut ca), Poll::Ready(Some(Bytes::from_static(b"ab"))));
        assert!(frame(&mut a, &mut ca).is_pending());
        assert_eq!(frame(&mut b, &mut cb), Poll::Ready(Some(Bytes::from_static(b"ab"))));
        assert!(frame(&mut b, &mut cb).is_pending()); // the source now holds b's waker only
        open.store(true, Ordering::SeqCst);
        waker.lock().unwrap().take().unwrap().wake();
        assert!(woke_b.0.load(Ordering::SeqCst));
        assert_eq!(frame(&mut b, &mut cb), Poll::Ready(Some(Bytes::from_static(b"cd"))));
        // b read the chunk a was waiting for, and woke a.
        assert!(woke_a.0.load(Ordering::SeqCst));
        assert_eq!(frame(&mut a, &mut ca), Poll::Ready(Some(Bytes::from_static(b"cd"))));
        assert_eq!(frame(&mut a, &mut ca), Poll::Ready(None));
        assert_eq!(frame(&mut b, &mut cb), Poll::Ready(None));
        assert!(origin.try_replay().is_some());
    }

    #[test]
    fn a_copy_taken_before_an_overflow_does_not_announce_a_wrong_length() {
        let gate = |open: bool| Gate {
            open: Arc::new(AtomicBool::new(open)),
            waker: Arc::new(Mutex::new(None)),
            sent: 0,
        };
        let origin = ReplayBody::new(gate(true), 3);
        let (mut a, b) = (origin.replay(), origin.try_replay().unwrap());
        let noop = Waker::noop();
        let mut cx = Context::from_waker(noop);
        while let Poll::Ready(Some(_)) = frame(&mut a, &mut cx) {}
        assert!(origin.try_replay().is_none());
        assert_eq!((b.size_hint().lower(), b.size_hint().upper()), (0, None));
        assert!(!b.is_end_stream());
        // Limit 0: nothing is ever kept, so no copy is offered.
        assert!(ReplayBody::new(gate(true), 0).try_replay().is_none());
    }
}
