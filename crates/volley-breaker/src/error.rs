use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A breaker setting that cannot work, refused when it is set (by the `try_` setters of
/// [`BreakerLayer`](crate::BreakerLayer); the plain setters panic with this message).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A failure-rate threshold outside `0 < ratio ≤ 1` (or not a number).
    Ratio(f64),
    /// A failure-rate window of zero.
    ZeroWindow,
    /// A minimum throughput of zero calls: one failure would be a 100 % rate.
    ZeroMinCalls,
    /// An open duration of zero, or a base above the maximum.
    OpenFor {
        /// The base duration asked for.
        base: Duration,
        /// The maximum asked for.
        max: Duration,
    },
    /// A jitter outside `0 ≤ jitter < 1` (or not a number).
    Jitter(f64),
    /// Zero half-open probes: the circuit could never close again.
    ZeroProbes,
    /// Zero successful probes to close: a probe would close it before it answered.
    ZeroSuccessThreshold,
    /// Room for zero keys: nothing would be tracked.
    ZeroMaxKeys,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid circuit breaker configuration: ")?;
        match self {
            ConfigError::Ratio(ratio) => {
                write!(f, "a failure rate of {ratio} is outside 0 < ratio <= 1")
            }
            ConfigError::ZeroWindow => f.write_str("the failure-rate window is zero"),
            ConfigError::ZeroMinCalls => f.write_str("the minimum throughput is zero calls"),
            ConfigError::OpenFor { base, max } => {
                write!(f, "open for {base:?} up to {max:?}: need 0 < base <= max")
            }
            ConfigError::Jitter(jitter) => {
                write!(f, "a jitter of {jitter} is outside 0 <= jitter < 1")
            }
            ConfigError::ZeroProbes => {
                f.write_str("zero half-open probes: the circuit could never close")
            }
            ConfigError::ZeroSuccessThreshold => {
                f.write_str("zero successful probes to close: use at least 1")
            }
            ConfigError::ZeroMaxKeys => f.write_str("room for zero keys"),
        }
    }
}

impl Error for ConfigError {}
