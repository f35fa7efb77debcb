use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use volley_core::BoxError;

use crate::error::Expiry;
use crate::{TimeoutKind, TimeoutPhase};

pin_project! {
    /// A response body that keeps its layer's time limit until the body ends.
    ///
    /// Made by both [`TotalTimeout`](crate::TotalTimeout) and
    /// [`AttemptTimeout`](crate::AttemptTimeout). The timer runs while the body waits for
    /// data. Once it has fired, the next [`poll_frame`](Body::poll_frame) yields a
    /// [`TimedOut`](crate::TimedOut) error with phase [`Body`](TimeoutPhase::Body), even if more data is
    /// buffered, and the body ends after it. With a body idle timeout, a wait for the next
    /// frame (or for the first, after the headers) longer than that gap fails with kind
    /// [`BodyIdle`](TimeoutKind::BodyIdle).
    ///
    /// Frames the inner body has ready are handed out without looking at the clock, so a
    /// body that never has to wait costs no timer and no allocation. The wrapper is `Unpin`
    /// whenever `B` is. When the inner body ends or fails, the
    /// timer is dropped: nothing fires later. Frames, `size_hint` and `is_end_stream` pass
    /// through unchanged; errors of the inner body are boxed.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        // Boxed, and only once the body first has to wait: a body whose frames are ready
        // allocates nothing, and the wrapper stays `Unpin` whenever `B` is, as hyper's
        // `Incoming` is, so `body.frame().await` works without pinning.
        sleep: Option<Pin<Box<Sleep>>>,
        expiry: Expiry,
        timer: Timer,
    }
}

/// What the (lazily created) sleep is armed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Not armed for the current wait: no wait yet, or a frame ended the idle gap it timed.
    Unarmed,
    /// Armed for the next idle expiry (`idle: true`) or for the deadline, which never moves.
    Armed { idle: bool },
    /// The inner body ended or failed: frames pass through, untimed.
    Off,
    /// This body reported its timeout and yields nothing more.
    Fired,
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, expiry: Expiry) -> Self {
        Self { inner, sleep: None, expiry, timer: Timer::Unarmed }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let expiry = *this.expiry;
        match *this.timer {
            Timer::Fired => return Poll::Ready(None),
            Timer::Off => {
                return this.inner.poll_frame(cx).map_err(|err| expiry.adopt(err.into()));
            }
            Timer::Armed { idle }
                if this.sleep.as_ref().is_some_and(|sleep| sleep.is_elapsed()) =>
            {
                // The timer fired while the caller was away: late data does not count.
                *this.sleep = None;
                *this.timer = Timer::Fired;
                return Poll::Ready(Some(Err(fired(&expiry, idle))));
            }
            Timer::Armed { .. } | Timer::Unarmed => {}
        }
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    *this.sleep = None;
                    *this.timer = Timer::Off;
                } else if *this.timer == (Timer::Armed { idle: true }) {
                    *this.timer = Timer::Unarmed;
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(other) => {
                *this.sleep = None;
                *this.timer = Timer::Off;
                return Poll::Ready(other.map(|res| res.map_err(|err| expiry.adopt(err.into()))));
            }
            Poll::Pending => {}
        }
        let idle = match *this.timer {
            Timer::Armed { idle } => idle,
            _ => {
                let (at, idle) = next_expiry(this.expiry);
                match this.sleep {
                    Some(sleep) => sleep.as_mut().reset(at),
                    None => *this.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                *this.timer = Timer::Armed { idle };
                idle
            }
        };
        let Some(sleep) = this.sleep else { return Poll::Pending };
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        *this.sleep = None;
        *this.timer = Timer::Fired;
        Poll::Ready(Some(Err(fired(this.expiry, idle))))
    }

    fn is_end_stream(&self) -> bool {
        self.timer == Timer::Fired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.timer == Timer::Fired { SizeHint::with_exact(0) } else { self.inner.size_hint() }
    }
}

/// When the wait starting now ends, and whether that is an idle expiry rather than the
/// deadline.
fn next_expiry(expiry: &mut Expiry) -> (Instant, bool) {
    let at = expiry.start();
    let idle_at = expiry.idle.and_then(|gap| Instant::now().checked_add(gap));
    match idle_at {
        Some(idle_at) if idle_at < at => (idle_at, true),
        _ => (at, false),
    }
}

fn fired(expiry: &Expiry, idle: bool) -> BoxError {
    match expiry.idle {
        Some(gap) if idle => {
            crate::error::timed_out(TimeoutKind::BodyIdle, gap, TimeoutPhase::Body)
        }
        _ => expiry.error(TimeoutPhase::Body),
    }
}

impl<B: fmt::Debug> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("expiry", &self.expiry)
            .field("timer", &self.timer)
            .finish()
    }
}
