use std::error::Error;
use std::fmt;

/// A hedging configuration that makes no sense, refused when the layer is built.
///
/// The message carries the value: "hedge percentile 1.5 is outside (0, 1)".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: String) -> Self {
        Self { message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for ConfigError {}

/// Put in the extensions of a response whose request was hedged: how many hedges were
/// sent, and whether one of them (rather than the first attempt) answered first.
///
/// Requests that were not hedged carry no `Hedged`, so counting responses with one counts
/// hedged requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hedged {
    /// Extra attempts sent for this request (1 unless `max_hedges` is raised).
    pub hedges: u32,
    /// Whether the response came from a hedge; `false` means the first attempt won anyway.
    pub won_by_hedge: bool,
}
