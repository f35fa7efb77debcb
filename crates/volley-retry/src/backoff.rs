use std::fmt;
use std::time::Duration;

/// When to try again: the delay before each retry, before any server hint is applied.
///
/// The schedules draw from the well-studied ones (see "Exponential Backoff And Jitter" on
/// the AWS architecture blog): full jitter spreads clients best and is the default;
/// decorrelated jitter gives smoother medians; constant is for tests and polling. With the
/// `backon` feature any `backon` builder can be used instead.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use volley_retry::Backoff;
///
/// let backoff = Backoff::full_jitter(Duration::from_millis(100), Duration::from_secs(5));
/// for retry in 0..10 {
///     let delay = backoff.delay(retry, Duration::ZERO).unwrap();
///     assert!(delay <= Duration::from_millis(100) * 2u32.pow(retry).min(50));
/// }
/// ```
#[derive(Clone)]
pub struct Backoff(Schedule);

#[derive(Clone)]
enum Schedule {
    FullJitter {
        base: Duration,
        cap: Duration,
    },
    Decorrelated {
        base: Duration,
        cap: Duration,
    },
    Constant(Duration),
    #[cfg(feature = "backon")]
    Builder(std::sync::Arc<dyn Fn(u32) -> Option<Duration> + Send + Sync>),
}

impl Backoff {
    /// "Full jitter": retry `n` (from 0) waits `U(0, min(cap, base·2ⁿ))`. A `base` above
    /// `cap` is read as `cap`.
    pub fn full_jitter(base: Duration, cap: Duration) -> Self {
        Self(Schedule::FullJitter { base: base.min(cap), cap })
    }

    /// "Decorrelated jitter": each wait is `min(cap, U(base, 3 × previous))`, starting from
    /// `base`. A `base` above `cap` is read as `cap`.
    pub fn decorrelated_jitter(base: Duration, cap: Duration) -> Self {
        Self(Schedule::Decorrelated { base: base.min(cap), cap })
    }

    /// The same delay before every retry.
    pub fn constant(delay: Duration) -> Self {
        Self(Schedule::Constant(delay))
    }

    /// Any `backon` builder (`ExponentialBuilder`, `FibonacciBuilder`, `ConstantBuilder`…):
    /// retry `n` waits the builder's `n`-th delay, and when the builder runs out
    /// (`with_max_times`) retrying stops, whatever `max_retries` says.
    #[cfg(feature = "backon")]
    pub fn from_backon<B>(builder: B) -> Self
    where
        B: backon::BackoffBuilder + Clone + Send + Sync + 'static,
    {
        let nth = move |n: u32| builder.clone().build().nth(n as usize);
        Self(Schedule::Builder(std::sync::Arc::new(nth)))
    }

    /// The delay before retry `retry` (0 for the first retry), given the previous delay
    /// (for decorrelated jitter). `None` when the schedule has run out.
    pub fn delay(&self, retry: u32, previous: Duration) -> Option<Duration> {
        match &self.0 {
            Schedule::FullJitter { base, cap } => {
                let ceiling = base.saturating_mul(2u32.saturating_pow(retry)).min(*cap);
                Some(uniform(Duration::ZERO, ceiling))
            }
            Schedule::Decorrelated { base, cap } => {
                let previous = previous.max(*base);
                Some(uniform(*base, previous.saturating_mul(3)).min(*cap))
            }
            Schedule::Constant(delay) => Some(*delay),
            #[cfg(feature = "backon")]
            Schedule::Builder(nth) => nth(retry),
        }
    }
}

impl Default for Backoff {
    /// Full jitter from 500 ms up to 8 s: retries wait on average 250 ms, 500 ms, 1 s…
    fn default() -> Self {
        Self::full_jitter(Duration::from_millis(500), Duration::from_secs(8))
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Schedule::FullJitter { base, cap } => {
                f.debug_struct("FullJitter").field("base", base).field("cap", cap).finish()
            }
            Schedule::Decorrelated { base, cap } => {
                f.debug_struct("DecorrelatedJitter").field("base", base).field("cap", cap).finish()
            }
            Schedule::Constant(delay) => f.debug_tuple("Constant").field(delay).finish(),
            #[cfg(feature = "backon")]
            Schedule::Builder(_) => f.write_str("Backon(..)"),
        }
    }
}

/// A uniformly drawn duration in `[low, high]`, at nanosecond resolution.
pub(crate) fn uniform(low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let span = u64::try_from((high - low).as_nanos()).unwrap_or(u64::MAX);
    low + Duration::from_nanos(fastrand::u64(0..=span))
}
