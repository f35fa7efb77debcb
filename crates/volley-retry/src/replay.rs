use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

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
            }))
        });
        Self { shared, next: 0, sent: 0, trailers_sent: false }
    }

    /// A copy that sends the body again from its start.
    pub(crate) fn replay(&self) -> Self {
        Self { shared: self.shared.clone(), next: 0, sent: 0, trailers_sent: false }
    }

    /// Whether another copy could still send the whole body.
    pub(crate) fn is_replayable(&self) -> bool {
        self.shared.as_ref().is_none_or(|shared| {
            let shared = lock(shared);
            !shared.overflowed && !shared.failed
        })
    }
}

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
        match source.as_mut().poll_frame(cx) {
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
