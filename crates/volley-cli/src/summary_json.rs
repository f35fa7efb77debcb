//! `--summary-json FILE`: the end-of-run summary as one JSON document, from the same
//! [`Stats`] and [`Counts`] as the text summary (see `docs/cli.md` for the schema).

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::output::millis;
use crate::stats::{Counts, Outcome, Refusal, Stats};

/// The document.
#[derive(Debug, Serialize)]
pub(crate) struct SummaryJson<'a> {
    requests: u64,
    sent: u64,
    wall_ms: f64,
    requests_per_sec: f64,
    attempts: u64,
    retries: u64,
    redirects: u64,
    bytes: u64,
    outcomes: Outcomes<'a>,
    throttled: Throttled,
    timeouts: Timeouts,
    waits: Waits,
    refused: Refused<'a>,
    latency_ms: Option<Latency>,
    stopped: Option<Stopped>,
}

/// Requests by outcome, every outcome named (zeros included), keyed by [`Outcome::key`].
#[derive(Debug)]
struct Outcomes<'a>(&'a Stats);

/// Retry refusals by reason, keyed by [`Refusal::key`].
#[derive(Debug)]
struct Refused<'a>(&'a Counts);

#[derive(Debug, Serialize)]
struct Throttled {
    status_429: u64,
    rate_limiter: u64,
}

#[derive(Debug, Serialize)]
struct Timeouts {
    attempt: u64,
    total: u64,
}

#[derive(Debug, Serialize)]
struct Waits {
    retry_after: Wait,
    backoff: Wait,
    rate_limiter_held_back: u64,
    host_pauses: u64,
    host_pauses_on_quota: u64,
    longest_host_pause_ms: f64,
}

#[derive(Debug, Serialize)]
struct Wait {
    count: u64,
    ms: u64,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

#[derive(Debug, Serialize)]
struct Stopped {
    line: usize,
    cancelled: u64,
}

impl<'a> SummaryJson<'a> {
    pub(crate) fn new(stats: &'a Stats, counts: &'a Counts, wall: Duration) -> Self {
        let ms = |q: f64| stats.latency(q).map_or(0.0, millis);
        Self {
            requests: stats.requests,
            sent: stats.sent(),
            wall_ms: millis(wall),
            requests_per_sec: (stats.per_sec(wall) * 1000.0).round() / 1000.0,
            attempts: stats.attempts,
            retries: stats.retries(),
            redirects: stats.redirects,
            bytes: stats.bytes,
            outcomes: Outcomes(stats),
            throttled: Throttled {
                status_429: stats.throttled_429(),
                rate_limiter: stats.rate_limited,
            },
            timeouts: Timeouts { attempt: stats.timeouts_attempt, total: stats.timeouts_total },
            waits: Waits {
                retry_after: Wait { count: counts.hint_waits, ms: counts.hint_wait_ms },
                backoff: Wait { count: counts.backoff_waits, ms: counts.backoff_wait_ms },
                rate_limiter_held_back: counts.paced,
                host_pauses: counts.pauses,
                host_pauses_on_quota: counts.pauses_quota,
                longest_host_pause_ms: counts.longest_pause_ms,
            },
            refused: Refused(counts),
            latency_ms: (!stats.latency_us.is_empty()).then(|| Latency {
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                max: ms(1.0),
            }),
            stopped: stats.stopped.map(|s| Stopped { line: s.line, cancelled: s.cancelled }),
        }
    }

    /// Writes the document, indented, and a final newline.
    pub(crate) fn write(&self, mut out: impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

impl Serialize for Outcomes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Outcome::ALL.len()))?;
        for outcome in Outcome::ALL {
            map.serialize_entry(outcome.key(), &self.0.count(outcome))?;
        }
        map.end()
    }
}

impl Serialize for Refused<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Refusal::ALL.len()))?;
        for refusal in Refusal::ALL {
            map.serialize_entry(refusal.key(), &self.0.refused[refusal as usize])?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn the_document_carries_the_text_summarys_numbers() {
        let mut stats = Stats::default();
        for ms in 1..=100 {
            stats.add(Outcome::Ok, 1, 100, Some(Duration::from_millis(ms)));
        }
        stats.add(Outcome::Http5xx, 4, 0, Some(Duration::from_secs(2)));
        stats.add(Outcome::Throttled, 1, 0, Some(Duration::from_millis(3)));
        stats.rate_limited = 1;
        stats.add(Outcome::BadInput, 0, 0, None);
        let mut counts = Counts { hint_waits: 2, hint_wait_ms: 2100, ..Counts::default() };
        counts.refused[Refusal::Budget as usize] = 3;
        let wall = Duration::from_secs(2);
        let json = serde_json::to_value(SummaryJson::new(&stats, &counts, wall)).unwrap();
        assert_eq!(
            (&json["requests"], &json["sent"], &json["attempts"], &json["retries"]),
            (&json!(103), &json!(102), &json!(105), &json!(3))
        );
        assert_eq!((&json["wall_ms"], &json["requests_per_sec"]), (&json!(2000.0), &json!(51.5)));
        assert_eq!(json["outcomes"]["ok"], 100);
        assert_eq!(json["outcomes"]["bad_input"], 1);
        assert_eq!(json["outcomes"].as_object().unwrap().len(), Outcome::ALL.len());
        assert_eq!(json["throttled"], json!({"status_429": 0, "rate_limiter": 1}));
        assert_eq!(json["waits"]["retry_after"], json!({"count": 2, "ms": 2100}));
        assert_eq!(json["refused"]["budget"], 3);
        assert_eq!(json["latency_ms"]["max"], 2000.895, "the top of hdrhistogram's bucket");
        assert_eq!(json["stopped"], Value::Null);
        let none = serde_json::to_value(SummaryJson::new(&Stats::default(), &counts, wall));
        assert_eq!(none.unwrap()["latency_ms"], Value::Null);
    }
}
