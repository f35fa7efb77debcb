use std::error::Error;
use std::fmt;
use std::time::Duration;

/// Which timeout fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The whole logical request, retries and body included: the [`Deadline`](crate::Deadline).
    Total,
    /// One attempt, head and body.
    Attempt,
    /// The longest gap allowed between two frames of a response body.
    BodyIdle,
    /// Making a connection: DNS resolution, TCP connect and the TLS handshake together.
    Connect,
}

/// Where the request was when its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Waiting for the response head (including time spent queued in inner layers).
    Headers,
    /// Reading the response body.
    Body,
    /// Making the connection, before the request was sent.
    Connect,
}

/// A request ran out of time.
///
/// The one timeout error of volley's timeout layers. It lives in `volley-core` so that
/// every layer recognises it without depending on the timeout crate: the default classifier
/// treats an attempt that timed out waiting for headers as retryable. Its `Display` says
/// which limit fired, after how long, and in which phase:
/// `attempt timed out after 10s waiting for headers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut {
    kind: TimeoutKind,
    after: Duration,
    phase: TimeoutPhase,
}

impl TimedOut {
    /// A timeout of `kind` that fired `after` this long, in `phase`.
    pub fn new(kind: TimeoutKind, after: Duration, phase: TimeoutPhase) -> Self {
        Self { kind, after, phase }
    }

    /// Which timeout fired.
    pub fn kind(&self) -> TimeoutKind {
        self.kind
    }

    /// The limit that ran out (for an idle timeout, the gap allowed between frames).
    pub fn after(&self) -> Duration {
        self.after
    }

    /// Where the request was when it fired.
    pub fn phase(&self) -> TimeoutPhase {
        self.phase
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A deadline measured from another instant reads 2.499989009s: print milliseconds.
        let after = round_to_millis(self.after);
        let phase = match self.phase {
            TimeoutPhase::Headers => "waiting for headers",
            TimeoutPhase::Body => "reading the body",
            TimeoutPhase::Connect => "connecting",
        };
        match self.kind {
            TimeoutKind::Total => write!(f, "request timed out after {after:?} {phase}"),
            TimeoutKind::Attempt => write!(f, "attempt timed out after {after:?} {phase}"),
            TimeoutKind::BodyIdle => {
                write!(f, "response body stalled: no data for {after:?}")
            }
            TimeoutKind::Connect => {
                write!(f, "connect timed out after {after:?} (DNS, TCP and TLS)")
            }
        }
    }
}

impl Error for TimedOut {}

/// `d` to the nearest millisecond, unless it is under one.
fn round_to_millis(d: Duration) -> Duration {
    if d < Duration::from_millis(1) {
        return d;
    }
    let millis = d.as_nanos().saturating_add(500_000) / 1_000_000;
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_the_numbers() {
        let cases = [
            (
                TimeoutKind::Total,
                30_000,
                TimeoutPhase::Body,
                "request timed out after 30s reading the body",
            ),
            (
                TimeoutKind::Attempt,
                1_500,
                TimeoutPhase::Headers,
                "attempt timed out after 1.5s waiting for headers",
            ),
            (
                TimeoutKind::BodyIdle,
                250,
                TimeoutPhase::Body,
                "response body stalled: no data for 250ms",
            ),
            (
                TimeoutKind::Connect,
                5_000,
                TimeoutPhase::Connect,
                "connect timed out after 5s (DNS, TCP and TLS)",
            ),
        ];
        let odd = TimedOut::new(
            TimeoutKind::Total,
            Duration::from_nanos(2_499_989_009),
            TimeoutPhase::Headers,
        );
        assert_eq!(odd.to_string(), "request timed out after 2.5s waiting for headers");
        for (kind, ms, phase, want) in cases {
            let err = TimedOut::new(kind, Duration::from_millis(ms), phase);
            assert_eq!(err.to_string(), want);
            assert_eq!(
                (err.kind(), err.after(), err.phase()),
                (kind, Duration::from_millis(ms), phase)
            );
        }
    }
}
