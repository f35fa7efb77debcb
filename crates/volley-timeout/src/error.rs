//! The timeout error, and what a response future and its body know about their limit.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;
use volley_core::{BoxError, Deadline};
pub use volley_core::{TimedOut, TimeoutKind, TimeoutPhase};

/// When a call runs out of time and what to report then. Made in `call` and copied from
/// the response future into the response body.
///
/// A total timeout's limit is fixed in `call`, where the deadline is put on the request.
/// An attempt's starts unstarted: its clock is read only when the attempt first has to
/// wait, or when its head arrives with a body still to come, so an attempt answered at
/// once with an empty body costs no clock read. Between `call` and that moment only the
/// caller's own CPU time passes (the future is polled right after `call`), so the limit
/// is the same to within microseconds.
#[derive(Clone, Copy)]
pub(crate) struct Expiry {
    fires: Fires,
    kind: TimeoutKind,
    after: Duration,
    /// The longest the body may wait for its next frame.
    pub(crate) idle: Option<Duration>,
    /// Set by the total layer, which put the deadline on the request: a `Total` timeout
    /// raised inside (by an attempt layer that saw the same deadline) is reported with the
    /// whole call's budget rather than the last attempt's share of it.
    owns_deadline: bool,
}

/// When the timer fires.
#[derive(Clone, Copy)]
enum Fires {
    At(Instant),
    /// An attempt whose clock has not been read yet, and the request's deadline, which
    /// may cut it short.
    Unstarted(Option<Instant>),
}

impl Expiry {
    /// The total layer's limit: the request's effective deadline, `after` from the call.
    pub(crate) fn total(at: Instant, after: Duration, idle: Option<Duration>) -> Self {
        Self { fires: Fires::At(at), kind: TimeoutKind::Total, after, idle, owns_deadline: true }
    }

    /// An attempt's limit, not started yet: `timeout` from its start, cut short by the
    /// request's deadline, in which case the deadline is what fires and it is reported as
    /// `Total`.
    pub(crate) fn attempt(
        timeout: Duration,
        deadline: Option<Instant>,
        idle: Option<Duration>,
    ) -> Self {
        Self {
            fires: Fires::Unstarted(deadline),
            kind: TimeoutKind::Attempt,
            after: timeout,
            idle,
            owns_deadline: false,
        }
    }

    /// The instant the timer fires, reading the clock first if the attempt has not started.
    pub(crate) fn start(&mut self) -> Instant {
        let deadline = match self.fires {
            Fires::At(at) => return at,
            Fires::Unstarted(deadline) => deadline,
        };
        let now = Instant::now();
        let own = now.checked_add(self.after);
        let at = match deadline {
            Some(deadline) if own.is_none_or(|own| deadline <= own) => {
                self.kind = TimeoutKind::Total;
                self.after = deadline.saturating_duration_since(now);
                deadline
            }
            _ => own.unwrap_or_else(|| Deadline::after_from(now, self.after).instant()),
        };
        self.fires = Fires::At(at);
        at
    }

    /// The error to report when the timer fires in `phase`.
    pub(crate) fn error(&self, phase: TimeoutPhase) -> BoxError {
        timed_out(self.kind, self.after, phase)
    }

    /// An error from the inner service or body, with a total timeout raised inside for this
    /// layer's own deadline restated in this layer's numbers.
    pub(crate) fn adopt(&self, mut err: BoxError) -> BoxError {
        if self.owns_deadline
            && let Some(timed_out) = err.downcast_mut::<TimedOut>()
            && timed_out.kind() == TimeoutKind::Total
            && matches!(self.fires, Fires::At(at) if Instant::now() >= at)
        {
            *timed_out = TimedOut::new(TimeoutKind::Total, self.after, timed_out.phase());
        }
        err
    }
}

/// A timer of this crate fired: the error, and the one event and metric saying so. Each
/// timeout is reported once, by the layer whose timer fired (an outer layer only restates
/// an inner error, see [`Expiry::adopt`]).
pub(crate) fn timed_out(kind: TimeoutKind, after: Duration, phase: TimeoutPhase) -> BoxError {
    let label = kind_label(kind);
    tracing::debug!(
        timeout_kind = label,
        phase = match phase {
            TimeoutPhase::Headers => "headers",
            TimeoutPhase::Body => "body",
            _ => "connect",
        },
        timeout_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
        "timed out"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!(volley_core::telemetry::names::TIMEOUTS, "kind" => label).increment(1);
    Box::new(TimedOut::new(kind, after, phase))
}

/// The `kind` of the timeout event and metric: snake_case, stable.
fn kind_label(kind: TimeoutKind) -> &'static str {
    match kind {
        TimeoutKind::Total => "total",
        TimeoutKind::Attempt => "attempt",
        TimeoutKind::BodyIdle => "body_idle",
        _ => "connect",
    }
}

impl fmt::Debug for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expiry")
            .field("kind", &self.kind)
            .field("after", &self.after)
            .field(
                "remaining",
                &match self.fires {
                    Fires::At(at) => Some(at.saturating_duration_since(Instant::now())),
                    Fires::Unstarted(_) => None,
                },
            )
            .field("body_idle", &self.idle)
            .finish()
    }
}
