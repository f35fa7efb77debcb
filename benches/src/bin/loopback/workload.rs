//! The four workloads: what each request asks for, how many, and how many at once.

use std::fmt;

/// One workload of the comparison.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Workload {
    /// Many small JSON documents: per-request overhead dominates.
    W1,
    /// Requests the server answers after 50 ms: waiting dominates.
    W2,
    /// 64 KiB bodies: reading bytes dominates.
    W3,
    /// A fifth of first attempts answered with 503: retrying clients must recover them all.
    W4,
}

impl Workload {
    /// Every workload, in report order.
    pub(crate) const ALL: [Self; 4] = [Self::W1, Self::W2, Self::W3, Self::W4];

    /// Requests per run: the figures, or a tenth of them in quick mode.
    pub(crate) fn requests(self, quick: bool) -> usize {
        let full = match self {
            Self::W1 => 20_000,
            Self::W2 => 2_000,
            Self::W3 => 5_000,
            Self::W4 => 3_000,
        };
        if quick { full / 10 } else { full }
    }

    /// Requests in flight at most.
    pub(crate) fn concurrency(self) -> usize {
        match self {
            Self::W1 | Self::W4 => 64,
            Self::W2 => 256,
            Self::W3 => 32,
        }
    }

    /// The path and query of request `index` of run `run`.
    ///
    /// W4 sends every fifth request to `/flaky/1` with a key of its own, which answers 503
    /// once and then 200: exactly 20 % of first attempts fail, each recovers on its first
    /// retry, and every client meets the same failures (a random 20 % would sometimes fail
    /// one request four times in a row and make "every request ends ok" a matter of luck).
    pub(crate) fn path(self, run: &str, index: usize) -> String {
        match self {
            Self::W1 => "/json".to_owned(),
            Self::W2 => "/delay/50".to_owned(),
            Self::W3 => "/bytes/65536".to_owned(),
            Self::W4 if index.is_multiple_of(5) => format!("/flaky/1?key={run}-{index}"),
            Self::W4 => "/json".to_owned(),
        }
    }

    /// What the chart and tables call it.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::W1 => "W1 small JSON",
            Self::W2 => "W2 /delay/50",
            Self::W3 => "W3 64 KiB bodies",
            Self::W4 => "W4 20 % 503",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::W1 => "w1",
            Self::W2 => "w2",
            Self::W3 => "w3",
            Self::W4 => "w4",
        })
    }
}
