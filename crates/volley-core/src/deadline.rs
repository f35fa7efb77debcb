use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// The moment by which a whole logical request must be finished, body included.
///
/// A `Deadline` travels in the request's extensions. The total-timeout layer inserts it (or a
/// caller does, with [`Deadline::insert_into`]), and every layer that waits — a rate limiter,
/// a concurrency queue, a retry sleep — compares its wait with
/// [`remaining`](Deadline::remaining) first and fails fast with its own typed error instead
/// of sleeping into a timeout. Inserting never extends a deadline that is already there: the
/// earlier of the two wins.
///
/// Time is read from tokio's clock, so tests can pause and advance it.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use volley_core::Deadline;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut req = http::Request::new(());
/// Deadline::after(Duration::from_secs(30)).insert_into(&mut req);
/// Deadline::after(Duration::from_secs(5)).insert_into(&mut req); // the earlier one wins
/// Deadline::after(Duration::from_secs(60)).insert_into(&mut req); // cannot extend it
///
/// let deadline = Deadline::from_request(&req).unwrap();
/// assert!(deadline.remaining() <= Duration::from_secs(5));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline at the given instant.
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// A deadline `duration` from now. Durations too large for the clock saturate to a
    /// deadline far in the future (about 30 years) instead of panicking.
    pub fn after(duration: Duration) -> Self {
        Self::after_from(Instant::now(), duration)
    }

    /// A deadline `duration` after `start`, saturating like [`after`](Self::after). For
    /// layers that have already read the clock.
    pub fn after_from(start: Instant, duration: Duration) -> Self {
        let far = start + Duration::from_secs(30 * 365 * 24 * 3600);
        Self(start.checked_add(duration).map_or(far, |at| at.min(far)))
    }

    /// The instant of the deadline.
    pub fn instant(self) -> Instant {
        self.0
    }

    /// The time left until the deadline, or zero once it has passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn is_expired(self) -> bool {
        Instant::now() >= self.0
    }

    /// Whether a wait of `wait` starting now would end after the deadline.
    pub fn would_expire_within(self, wait: Duration) -> bool {
        wait >= self.remaining()
    }

    /// The earlier of two deadlines.
    #[must_use]
    pub fn min(self, other: Deadline) -> Deadline {
        if other.0 < self.0 { other } else { self }
    }

    /// The deadline carried by a request, if any.
    pub fn from_request<B>(req: &http::Request<B>) -> Option<Deadline> {
        req.extensions().get::<Deadline>().copied()
    }

    /// Puts this deadline on a request, keeping the earlier one when the request already
    /// carries a deadline. Returns the deadline now in force.
    pub fn insert_into<B>(self, req: &mut http::Request<B>) -> Deadline {
        match Deadline::from_request(req) {
            // Already in force: inserting it again would allocate a box and free one.
            Some(existing) if existing <= self => existing,
            _ => {
                req.extensions_mut().insert(self);
                self
            }
        }
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let remaining = self.remaining();
        if remaining.is_zero() {
            f.write_str("deadline passed")
        } else {
            write!(f, "deadline in {remaining:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_and_saturates_at_zero() {
        let deadline = Deadline::after(Duration::from_secs(3));
        assert_eq!(deadline.remaining(), Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(deadline.remaining(), Duration::from_secs(1));
        assert!(!deadline.is_expired());
        assert!(deadline.would_expire_within(Duration::from_secs(1)));
        assert!(!deadline.would_expire_within(Duration::from_millis(999)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(deadline.remaining(), Duration::ZERO);
        assert!(deadline.is_expired());
        assert_eq!(deadline.to_string(), "deadline passed");
    }

    #[tokio::test(start_paused = true)]
    async fn insert_keeps_the_earlier_deadline() {
        let mut req = http::Request::new(());
        assert_eq!(Deadline::from_request(&req), None);
        let late = Deadline::after(Duration::from_secs(10));
        let early = Deadline::after(Duration::from_secs(4));
        assert_eq!(late.insert_into(&mut req), late);
        assert_eq!(early.insert_into(&mut req), early);
        assert_eq!(late.insert_into(&mut req), early);
        assert_eq!(Deadline::from_request(&req), Some(early));
        assert_eq!(late.min(early), early);
        assert_eq!(early.min(late), early);
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_durations_saturate_instead_of_panicking() {
        let deadline = Deadline::after(Duration::MAX);
        let years = deadline.remaining().as_secs() / (365 * 24 * 3600);
        assert_eq!(years, 30);
        assert!(deadline.to_string().starts_with("deadline in "));
    }
}
