//! What a run came to: outcomes per request, latencies, and the layers' counts.

use std::time::Duration;

use hdrhistogram::Histogram;
use volley_core::TimeoutKind;

/// How one request ended; each request has exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 1xx, 2xx or 3xx (a 3xx that was not followed: `--max-redirects 0`, or a
    /// `Location` the client cannot use).
    Ok,
    /// A final 4xx other than 429.
    Http4xx,
    /// A final 5xx.
    Http5xx,
    /// A final 429, or the client's rate limiter refusing a wait past the deadline.
    Throttled,
    /// A timeout fired: total, attempt, or body idle.
    Timeout,
    /// The client's concurrency limit refused to queue it.
    Overloaded,
    /// No connection could be made.
    Connect,
    /// A redirect was refused: more than `--max-redirects`, or https to http.
    Redirect,
    /// The host's circuit breaker was open (`--breaker`): not sent.
    BreakerOpen,
    /// Anything else: a reset connection, an unreadable body, a file not saved.
    Other,
    /// The input line could not be turned into a request.
    BadInput,
}

impl Outcome {
    pub(crate) const ALL: [Outcome; 11] = [
        Outcome::Ok,
        Outcome::Http4xx,
        Outcome::Http5xx,
        Outcome::Throttled,
        Outcome::Timeout,
        Outcome::Overloaded,
        Outcome::Connect,
        Outcome::Redirect,
        Outcome::BreakerOpen,
        Outcome::Other,
        Outcome::BadInput,
    ];

    /// The name in `--summary-json`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Http4xx => "http_4xx",
            Outcome::Http5xx => "http_5xx",
            Outcome::Throttled => "throttled",
            Outcome::Timeout => "timeout",
            Outcome::Overloaded => "overloaded",
            Outcome::Connect => "connect",
            Outcome::Redirect => "redirect",
            Outcome::BreakerOpen => "breaker_open",
            Outcome::Other => "other",
            Outcome::BadInput => "bad_input",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Http4xx => "http 4xx",
            Outcome::Http5xx => "http 5xx",
            Outcome::Throttled => "throttled",
            Outcome::Timeout => "timeout",
            Outcome::Overloaded => "overloaded",
            Outcome::Connect => "connect",
            Outcome::Redirect => "redirect",
            Outcome::BreakerOpen => "breaker open",
            Outcome::Other => "other",
            Outcome::BadInput => "bad input",
        }
    }

    /// The outcome of a response with `status`.
    pub(crate) fn of_status(status: u16) -> Outcome {
        match status {
            429 => Outcome::Throttled,
            400..=499 => Outcome::Http4xx,
            500.. => Outcome::Http5xx,
            _ => Outcome::Ok,
        }
    }
}

/// Why the retry layer refused another attempt, from the `reason` of its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Budget,
    MaxRetries,
    Deadline,
    HintAboveCap,
    NotIdempotent,
    Other,
}

impl Refusal {
    pub(crate) const ALL: [Refusal; 6] = [
        Refusal::Budget,
        Refusal::MaxRetries,
        Refusal::Deadline,
        Refusal::HintAboveCap,
        Refusal::NotIdempotent,
        Refusal::Other,
    ];

    /// Matches the `Display` of `volley_retry::StopReason`.
    #[cfg_attr(
        feature = "metrics",
        allow(dead_code, reason = "the tracing feeder's, without metrics")
    )]
    pub(crate) fn from_reason(reason: &str) -> Refusal {
        if reason == "the retry budget for this host is spent" {
            Refusal::Budget
        } else if reason.starts_with("all ") && reason.ends_with(" retries were used") {
            Refusal::MaxRetries
        } else if reason.contains("would start after the deadline") {
            Refusal::Deadline
        } else if reason.starts_with("the server asked to") {
            Refusal::HintAboveCap
        } else if reason.contains("not idempotent") {
            Refusal::NotIdempotent
        } else {
            Refusal::Other
        }
    }

    /// Matches the `reason` label of `volley.retry.refusals` (snake_case, stable); a
    /// reason the CLI does not know yet counts as [`Refusal::Other`]. The retry layer's
    /// refusal event carries the same value as `stop_reason`.
    pub(crate) fn from_label(reason: &str) -> Refusal {
        match reason {
            "budget" | "budget_exhausted" => Refusal::Budget,
            "max_retries" => Refusal::MaxRetries,
            "deadline" => Refusal::Deadline,
            "hint_above_cap" | "retry_after_above_cap" => Refusal::HintAboveCap,
            "not_idempotent" => Refusal::NotIdempotent,
            _ => Refusal::Other,
        }
    }

    /// The name in `--summary-json`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Refusal::Budget => "budget",
            Refusal::MaxRetries => "max_retries",
            Refusal::Deadline => "deadline",
            Refusal::HintAboveCap => "retry_after_above_cap",
            Refusal::NotIdempotent => "not_idempotent",
            Refusal::Other => "other",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::Budget => "retry budget spent",
            Refusal::MaxRetries => "all retries used",
            Refusal::Deadline => "next retry past the deadline",
            Refusal::HintAboveCap => "Retry-After above --max-retry-after",
            Refusal::NotIdempotent => "method not idempotent",
            Refusal::Other => "other",
        }
    }
}

/// A snapshot of what the layers reported (see `signals`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    pub(crate) attempts: u64,
    pub(crate) retries: u64,
    /// Attempts answered 429, or 503 with a hint.
    pub(crate) throttled: u64,
    pub(crate) hint_waits: u64,
    pub(crate) hint_wait_ms: u64,
    pub(crate) backoff_waits: u64,
    pub(crate) backoff_wait_ms: u64,
    pub(crate) refused: [u64; Refusal::ALL.len()],
    /// Times the rate limiter paused a host at the server's request.
    pub(crate) pauses: u64,
    /// … of which because a quota header said nothing was left (not a 429).
    pub(crate) pauses_quota: u64,
    pub(crate) longest_pause_ms: f64,
    /// Attempts the rate limiter held back to pace a host.
    pub(crate) paced: u64,
}

/// Per-request results, accumulated as requests finish.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) outcomes: [u64; Outcome::ALL.len()],
    pub(crate) requests: u64,
    /// Attempts as the records report them.
    pub(crate) attempts: u64,
    pub(crate) timeouts_total: u64,
    pub(crate) timeouts_attempt: u64,
    /// Throttled requests the client's rate limiter refused (the rest were final 429s).
    pub(crate) rate_limited: u64,
    pub(crate) bytes: u64,
    /// Redirects followed, by every request (those before a refused one included).
    pub(crate) redirects: u64,
    /// Microseconds from the start of each sent request to the end of its body.
    pub(crate) latency_us: Histogram<u64>,
    /// Set when `--fail-fast` stopped the run.
    pub(crate) stopped: Option<Stopped>,
}

/// Where `--fail-fast` stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stopped {
    /// The input line of the first failed request.
    pub(crate) line: usize,
    /// Requests in flight then, dropped without a record.
    pub(crate) cancelled: u64,
}

impl Default for Stats {
    fn default() -> Self {
        // One microsecond to one day at three significant figures: a few tens of KiB.
        let latency_us =
            Histogram::new_with_bounds(1, 86_400_000_000, 3).expect("constant bounds are valid");
        Self {
            outcomes: [0; Outcome::ALL.len()],
            requests: 0,
            attempts: 0,
            timeouts_total: 0,
            timeouts_attempt: 0,
            rate_limited: 0,
            bytes: 0,
            redirects: 0,
            latency_us,
            stopped: None,
        }
    }
}

impl Stats {
    /// Counts one finished request; `elapsed` is `None` for a request never sent.
    pub(crate) fn add(
        &mut self,
        outcome: Outcome,
        attempts: u32,
        bytes: u64,
        elapsed: Option<Duration>,
    ) {
        self.requests += 1;
        self.outcomes[outcome as usize] += 1;
        self.attempts += u64::from(attempts);
        self.bytes += bytes;
        if let Some(elapsed) = elapsed {
            self.latency_us.saturating_record(elapsed.as_micros().max(1) as u64);
        }
    }

    /// Counts which timeout ended a request.
    pub(crate) fn add_timeout(&mut self, kind: TimeoutKind) {
        match kind {
            TimeoutKind::Total => self.timeouts_total += 1,
            TimeoutKind::Attempt => self.timeouts_attempt += 1,
            _ => {}
        }
    }

    pub(crate) fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome as usize]
    }

    /// Requests that did not end well.
    pub(crate) fn failed(&self) -> u64 {
        self.requests - self.count(Outcome::Ok)
    }

    /// Requests sent: every line but those that were not requests.
    pub(crate) fn sent(&self) -> u64 {
        self.requests - self.count(Outcome::BadInput)
    }

    /// Attempts beyond each request's first; a redirect hop is an attempt, not a retry.
    pub(crate) fn retries(&self) -> u64 {
        self.attempts.saturating_sub(self.sent()).saturating_sub(self.redirects)
    }

    /// Requests per second over `wall`.
    pub(crate) fn per_sec(&self, wall: Duration) -> f64 {
        if wall.is_zero() { 0.0 } else { self.requests as f64 / wall.as_secs_f64() }
    }

    /// Final 429s: throttled requests the client's rate limiter did not refuse.
    pub(crate) fn throttled_429(&self) -> u64 {
        self.count(Outcome::Throttled).saturating_sub(self.rate_limited)
    }

    /// Latency at quantile `q` (`1.0`: the maximum), `None` when nothing was sent.
    pub(crate) fn latency(&self, q: f64) -> Option<Duration> {
        let h = &self.latency_us;
        let us = if q >= 1.0 { h.max() } else { h.value_at_quantile(q) };
        (!h.is_empty()).then(|| Duration::from_micros(us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(Outcome::of_status(200), Outcome::Ok);
        assert_eq!(Outcome::of_status(304), Outcome::Ok);
        assert_eq!(Outcome::of_status(404), Outcome::Http4xx);
        assert_eq!(Outcome::of_status(429), Outcome::Throttled);
        assert_eq!(Outcome::of_status(503), Outcome::Http5xx);
    }

    #[test]
    fn refusal_reasons_match_the_retry_layers_wording() {
        assert_eq!(
            Refusal::from_reason("the retry budget for this host is spent"),
            Refusal::Budget
        );
        assert_eq!(Refusal::from_reason("all 3 retries were used"), Refusal::MaxRetries);
        assert_eq!(
            Refusal::from_reason("a retry in 1.2s would start after the deadline in 800ms"),
            Refusal::Deadline
        );
        assert_eq!(
            Refusal::from_reason("the server asked to wait 2m, above the 60s cap"),
            Refusal::HintAboveCap
        );
        assert_eq!(
            Refusal::from_reason(
                "the method is not idempotent and the request has no idempotency key"
            ),
            Refusal::NotIdempotent
        );
    }

    #[test]
    fn latencies_and_failures_add_up() {
        let mut stats = Stats::default();
        stats.add(Outcome::Ok, 1, 10, Some(Duration::from_millis(5)));
        stats.add(Outcome::Http5xx, 4, 0, Some(Duration::from_millis(50)));
        stats.add(Outcome::BadInput, 0, 0, None);
        assert_eq!((stats.requests, stats.attempts, stats.failed(), stats.bytes), (3, 5, 2, 10));
        assert_eq!(stats.latency_us.len(), 2);
        assert!(stats.latency_us.equivalent(stats.latency_us.max(), 50_000));
    }
}
