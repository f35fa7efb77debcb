//! The response body: one enum for every shape the endpoints need, so a
//! response costs no boxing and large bodies are served from shared buffers.

use std::fmt;
use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::endpoints::bodies::{PATTERN, STARS};

/// The error `/reset` bodies end with, so hyper aborts the connection or stream.
#[derive(Debug)]
pub(crate) struct ResetOnPurpose;

impl fmt::Display for ResetOnPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset on purpose by /reset")
    }
}

impl std::error::Error for ResetOnPurpose {}

/// A response body of the test server.
#[derive(Debug)]
pub(crate) struct ResBody {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// One frame (or none).
    Full(Option<Bytes>),
    /// `remaining` bytes of the pattern, in slices of the cached chunk.
    Pattern { remaining: u64 },
    /// JSON lines `{"id":i,` + `tail` for `i` in `next..end`.
    Lines { next: u64, end: u64, tail: Bytes },
    /// `total` stars spread evenly over `duration` from `start`.
    Drip { start: Instant, duration: Duration, sent: u64, total: u64, sleep: Pin<Box<Sleep>> },
    /// `before` pattern bytes, a short pause so they reach the wire, then an error;
    /// `declared` is what is left of the promised length.
    Reset { before: u64, declared: u64, pause: Option<Pin<Box<Sleep>>> },
}

impl ResBody {
    /// A body of one frame.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let frame = if bytes.is_empty() { None } else { Some(bytes) };
        Self { kind: Kind::Full(frame) }
    }

    /// An empty body.
    pub(crate) fn empty() -> Self {
        Self { kind: Kind::Full(None) }
    }

    /// `n` bytes of [`crate::pattern_bytes`].
    pub(crate) fn pattern(n: u64) -> Self {
        Self { kind: Kind::Pattern { remaining: n } }
    }

    /// `n` JSON lines, each `{"id":i,` followed by `tail` (which ends in `}\n`).
    pub(crate) fn lines(n: u64, tail: Bytes) -> Self {
        Self { kind: Kind::Lines { next: 0, end: n, tail } }
    }

    /// `total` bytes of `*`, byte `k` (1-based) due at `start + duration * k / total`.
    pub(crate) fn drip(total: u64, duration: Duration) -> Self {
        let start = Instant::now();
        let sleep = Box::pin(tokio::time::sleep_until(start));
        Self { kind: Kind::Drip { start, duration, sent: 0, total, sleep } }
    }

    /// `before` bytes out of a promised `declared`, then an error.
    pub(crate) fn reset(before: u64, declared: u64) -> Self {
        Self { kind: Kind::Reset { before, declared, pause: None } }
    }
}

/// The next slice of the pattern, at most one cached chunk long.
fn pattern_frame(remaining: &mut u64) -> Bytes {
    let len = PATTERN.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
    *remaining -= len as u64;
    Bytes::from_static(&PATTERN[..len])
}

/// How many of `total` bytes are due `elapsed` into `duration`.
fn due(total: u64, elapsed: Duration, duration: Duration) -> u64 {
    if elapsed >= duration {
        return total;
    }
    let due = u128::from(total) * elapsed.as_nanos() / duration.as_nanos();
    u64::try_from(due).unwrap_or(total)
}

/// When byte `k` (1-based) of `total` is due: `ceil(duration * k / total)`.
fn due_at(k: u64, total: u64, duration: Duration) -> Duration {
    let nanos = (duration.as_nanos() * u128::from(k)).div_ceil(u128::from(total.max(1)));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = ResetOnPurpose;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResetOnPurpose>>> {
        let data = match &mut self.get_mut().kind {
            Kind::Full(frame) => frame.take(),
            Kind::Pattern { remaining } => (*remaining > 0).then(|| pattern_frame(remaining)),
            Kind::Lines { next, end, tail } => (*next < *end).then(|| {
                let mut line = Vec::with_capacity(tail.len() + 24);
                // Writing into a Vec cannot fail.
                let _ = write!(line, "{{\"id\":{next},");
                line.extend_from_slice(tail);
                *next += 1;
                Bytes::from(line)
            }),
            Kind::Drip { start, duration, sent, total, sleep } => loop {
                if *sent >= *total {
                    break None;
                }
                let due = due(*total, start.elapsed(), *duration);
                if due > *sent {
                    let n = (due - *sent).min(STARS.len() as u64);
                    *sent += n;
                    break Some(Bytes::from_static(&STARS[..n as usize]));
                }
                sleep.as_mut().reset(*start + due_at(*sent + 1, *total, *duration));
                ready!(sleep.as_mut().poll(cx));
            },
            Kind::Reset { before, declared, pause } => {
                if *before > 0 {
                    let frame = pattern_frame(before);
                    *declared = declared.saturating_sub(frame.len() as u64);
                    Some(frame)
                } else {
                    let pause = pause.get_or_insert_with(|| {
                        Box::pin(tokio::time::sleep(Duration::from_millis(1)))
                    });
                    ready!(pause.as_mut().poll(cx));
                    return Poll::Ready(Some(Err(ResetOnPurpose)));
                }
            }
        };
        Poll::Ready(data.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(frame) => frame.is_none(),
            Kind::Pattern { remaining } => *remaining == 0,
            Kind::Lines { next, end, .. } => next >= end,
            Kind::Drip { sent, total, .. } => sent >= total,
            Kind::Reset { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(frame) => SizeHint::with_exact(frame.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Pattern { remaining } => SizeHint::with_exact(*remaining),
            Kind::Lines { .. } => SizeHint::default(),
            Kind::Drip { sent, total, .. } => SizeHint::with_exact(total - sent),
            Kind::Reset { declared, .. } => SizeHint::with_exact(*declared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{due, due_at};
    use std::time::Duration;

    #[test]
    fn drip_schedule_is_consistent() {
        let d = Duration::from_millis(2000);
        assert_eq!(due_at(1, 10, d), Duration::from_millis(200));
        assert_eq!(due_at(10, 10, d), d);
        for k in 1..=7 {
            let at = due_at(k, 7, Duration::from_millis(1000));
            assert!(due(7, at, Duration::from_millis(1000)) >= k);
            assert!(due(7, at - Duration::from_nanos(1), Duration::from_millis(1000)) < k);
        }
    }
}
