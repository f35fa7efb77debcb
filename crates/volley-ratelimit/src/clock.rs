//! The clock seam: governor's GCRA on tokio's clock, so paused-time tests are deterministic.

use std::ops::Add;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::nanos::Nanos;

/// A [`governor` clock](governor::clock::Clock) that reads [`tokio::time::Instant::now`].
///
/// governor's default clock (`quanta`, or `std::time::Instant`) and its `until_ready` timers
/// (`futures-timer`) ignore `tokio::time::pause()`, so a rate limiter built on them cannot be
/// tested on virtual time. [`GovernorBackend`](crate::GovernorBackend) runs governor's
/// `check` / `check_key` on this clock and sleeps with [`tokio::time::sleep`], so a test with
/// `#[tokio::test(start_paused = true)]` sees tokens replenish exactly as virtual time
/// advances. Outside a runtime (or in one whose time is not paused) it is the monotonic
/// clock.
///
/// ```
/// use governor::clock::Clock;
/// use volley_ratelimit::TokioClock;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let before = TokioClock.now();
/// tokio::time::advance(std::time::Duration::from_millis(250)).await;
/// assert_eq!(TokioClock.now().into_inner() - before.into_inner(), std::time::Duration::from_millis(250));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(tokio::time::Instant::now())
    }
}

/// A [`tokio::time::Instant`] that governor can measure with (its
/// [`Reference`](governor::clock::Reference) instant type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokioInstant(tokio::time::Instant);

impl TokioInstant {
    /// The tokio instant.
    pub fn into_inner(self) -> tokio::time::Instant {
        self.0
    }
}

impl From<tokio::time::Instant> for TokioInstant {
    fn from(instant: tokio::time::Instant) -> Self {
        Self(instant)
    }
}

impl Add<Nanos> for TokioInstant {
    type Output = Self;

    fn add(self, nanos: Nanos) -> Self {
        // `Nanos` holds at most 584 years, which an `Instant` always has room for.
        Self(self.0 + Duration::from(nanos))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        Nanos::from(self.0.saturating_duration_since(earlier.0))
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        Self(self.0.checked_sub(Duration::from(duration)).unwrap_or(self.0))
    }
}
