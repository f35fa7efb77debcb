//! The demo's "what each layer did" table.

use std::fmt::Write;
use std::time::Duration;

use volley::Limits;

use crate::demo::{ATTEMPT_TIMEOUT, BREAKER_FAILURES, HANGING, Hosts, PER_HOST, TOTAL_TIMEOUT};
use crate::stats::{Counts, Outcome, Refusal, Stats};
use crate::summary::human;

/// What the test servers counted, and the client's breaker and hedge counters.
#[derive(Debug, Default)]
pub(crate) struct Servers {
    /// Attempts that reached the down host.
    pub(crate) down_hits: u64,
    /// Circuits the breaker opened, and requests it refused.
    pub(crate) circuits_opened: u64,
    pub(crate) breaker_refused: u64,
    /// Requests that reached the tail host, hedges included.
    pub(crate) tail_hits: u64,
    /// Hedges sent, and hedges whose answer came first.
    pub(crate) hedges_sent: u64,
    pub(crate) hedges_won: u64,
    /// 429s the throttling host's quota answered.
    pub(crate) quota_429s: u64,
    /// Attempts that reached the endpoint that outlasts the attempt timeout.
    pub(crate) hanging_attempts: u64,
    /// The most requests the api host handled at once.
    pub(crate) api_max_in_flight: u64,
    /// Requests that reached either server.
    pub(crate) total_hits: u64,
}

impl Servers {
    pub(crate) fn of(hosts: &Hosts, limits: &Limits) -> Self {
        let breaker = limits.circuit_breaker();
        let hedge = limits.hedge();
        Self {
            down_hits: hosts.down.total_hits(),
            circuits_opened: breaker.map_or(0, |b| b.opened_total()),
            breaker_refused: breaker.map_or(0, |b| b.refused_total()),
            tail_hits: hosts.tail.total_hits(),
            hedges_sent: hedge.map_or(0, |h| h.hedges_sent()),
            hedges_won: hedge.map_or(0, |h| h.hedges_won()),
            quota_429s: hosts.throttling.throttled(),
            hanging_attempts: hosts.hanging.hits(HANGING),
            api_max_in_flight: hosts.api.max_in_flight(),
            total_hits: hosts.api.total_hits()
                + hosts.throttling.total_hits()
                + hosts.hanging.total_hits()
                + hosts.down.total_hits()
                + hosts.tail.total_hits(),
        }
    }
}

/// One row per thing a layer did that can be counted.
pub(crate) fn render(stats: &Stats, counts: &Counts, servers: &Servers) -> String {
    let sent = stats.requests - stats.count(Outcome::BadInput);
    let refused = |r: Refusal| counts.refused[r as usize];
    let ms = |ms: u64| human(Duration::from_millis(ms));
    let rows: Vec<(&str, String, u64)> = vec![
        (
            "rate limit",
            "host paused at the server's request (429 or quota used up)".into(),
            counts.pauses,
        ),
        ("", "  of them on a quota header, without a 429".into(), counts.pauses_quota),
        ("", "attempts held back to pace a host".into(), counts.paced),
        ("", "  server: 429s from the quota".into(), servers.quota_429s),
        ("", "requests refused: the wait would pass their deadline".into(), stats.rate_limited),
        ("retry", "retries".into(), stats.attempts.saturating_sub(sent)),
        (
            "",
            format!("  after waiting for Retry-After ({} in all)", ms(counts.hint_wait_ms)),
            counts.hint_waits,
        ),
        (
            "",
            format!("  after backoff ({} in all)", ms(counts.backoff_wait_ms)),
            counts.backoff_waits,
        ),
        ("", "refused by the retry budget".into(), refused(Refusal::Budget)),
        ("", "gave up: all retries used".into(), refused(Refusal::MaxRetries)),
        ("", "gave up: next retry past the deadline".into(), refused(Refusal::Deadline)),
        (
            "total timeout",
            format!("requests stopped at the {} deadline", human(TOTAL_TIMEOUT)),
            stats.timeouts_total,
        ),
        (
            "attempt timeout",
            format!("requests whose last attempt hit {}", human(ATTEMPT_TIMEOUT)),
            stats.timeouts_attempt,
        ),
        (
            "",
            format!("  server: attempts at {HANGING}, each cut at {}", human(ATTEMPT_TIMEOUT)),
            servers.hanging_attempts,
        ),
        (
            "concurrency",
            format!("most in flight at the api host (limit {PER_HOST} per host)"),
            servers.api_max_in_flight,
        ),
        ("", "requests refused as overloaded".into(), stats.count(Outcome::Overloaded)),
        (
            "circuit breaker",
            format!("circuits opened ({BREAKER_FAILURES} failures in a row)"),
            servers.circuits_opened,
        ),
        ("", "requests refused without being sent".into(), servers.breaker_refused),
        ("", "  server: attempts that reached the down host".into(), servers.down_hits),
        ("hedge", "hedges sent for slow requests".into(), servers.hedges_sent),
        ("", "  of them answered first".into(), servers.hedges_won),
        ("", "  server: requests at the tail host, hedges included".into(), servers.tail_hits),
        ("(server)", "attempts that reached a server".into(), servers.total_hits),
    ];
    let width = rows.iter().map(|(_, what, _)| what.chars().count()).max().unwrap_or(0);
    let mut out = String::from("what each layer did\n");
    let _ = writeln!(out, "  {:<16} {:<width$} {:>6}", "layer", "what", "count");
    for (layer, what, n) in rows {
        let _ = writeln!(out, "  {layer:<16} {what:<width$} {n:>6}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_carries_its_number() {
        let mut stats = Stats::default();
        stats.add(Outcome::Ok, 3, 0, Some(Duration::from_millis(5)));
        let mut counts = Counts {
            pauses: 4,
            pauses_quota: 3,
            paced: 6,
            hint_waits: 2,
            hint_wait_ms: 2_100,
            ..Counts::default()
        };
        counts.refused[Refusal::Budget as usize] = 7;
        let servers = Servers {
            quota_429s: 5,
            hanging_attempts: 9,
            api_max_in_flight: 11,
            total_hits: 3,
            circuits_opened: 1,
            breaker_refused: 12,
            down_hits: 16,
            hedges_sent: 4,
            hedges_won: 3,
            tail_hits: 84,
        };
        let text = render(&stats, &counts, &servers);
        let row = |what: &str| {
            let line = text
                .lines()
                .find(|l| l.contains(what))
                .unwrap_or_else(|| panic!("no {what:?} in\n{text}"));
            line.split_whitespace().last().unwrap().parse::<u64>().unwrap()
        };
        assert_eq!(row("host paused"), 4);
        assert_eq!(row("on a quota header"), 3);
        assert_eq!(row("held back to pace a host"), 6);
        assert_eq!(row("429s from the quota"), 5);
        assert_eq!(row("retries"), 2);
        assert_eq!(row("Retry-After (2.10 s in all)"), 2);
        assert_eq!(row("retry budget"), 7);
        assert_eq!(row("attempts at /delay/2000"), 9);
        assert_eq!(row("most in flight"), 11);
        assert_eq!(row("circuits opened"), 1);
        assert_eq!(row("refused without being sent"), 12);
        assert_eq!(row("reached the down host"), 16);
        assert_eq!(row("hedges sent"), 4);
        assert_eq!(row("answered first"), 3);
        assert_eq!(row("tail host"), 84);
    }
}
