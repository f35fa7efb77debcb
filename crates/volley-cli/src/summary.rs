//! The summary printed at the end of a run.

use std::fmt::Write;
use std::time::Duration;

use crate::stats::{Counts, Outcome, Refusal, Stats};

/// `12 ms`, `3.1 ms`, `2.41 s`, `152 s`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    match ms {
        ms if ms < 10.0 => format!("{ms:.1} ms"),
        ms if ms < 1000.0 => format!("{ms:.0} ms"),
        ms if ms < 100_000.0 => format!("{:.2} s", ms / 1000.0),
        ms => format!("{:.0} s", ms / 1000.0),
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
    }
}

/// The summary: counts by outcome, attempts, waits, refusals and latency percentiles.
pub(crate) fn render(stats: &Stats, counts: &Counts, wall: Duration) -> String {
    let mut out = String::new();
    let per_sec = stats.per_sec(wall);
    let retries = stats.retries();
    let redirects = match stats.redirects {
        0 => String::new(),
        n => format!("{n} redirects followed, "),
    };
    let _ = writeln!(
        out,
        "{} requests in {} ({per_sec:.1}/s): {} attempts, {retries} retries, {redirects}{} received",
        stats.requests,
        human(wall),
        stats.attempts,
        bytes(stats.bytes),
    );

    let mut outcomes = Vec::new();
    for outcome in Outcome::ALL {
        let n = stats.count(outcome);
        // The list always shows; the rest only when they happened.
        if n == 0
            && matches!(
                outcome,
                Outcome::Redirect | Outcome::BreakerOpen | Outcome::Other | Outcome::BadInput
            )
        {
            continue;
        }
        let mut item = format!("{} {n}", outcome.label());
        if outcome == Outcome::Timeout && n > 0 {
            item.push_str(&format!(
                " (attempt {}, total {})",
                stats.timeouts_attempt, stats.timeouts_total
            ));
        }
        if outcome == Outcome::Throttled && n > 0 {
            item.push_str(&format!(
                " (429 {}, rate limiter {})",
                stats.throttled_429(),
                stats.rate_limited
            ));
        }
        outcomes.push(item);
    }
    let _ = writeln!(out, "  outcomes  {}", outcomes.join(" · "));

    let mut waits = vec![
        format!(
            "Retry-After {} ({})",
            counts.hint_waits,
            human(Duration::from_millis(counts.hint_wait_ms))
        ),
        format!(
            "backoff {} ({})",
            counts.backoff_waits,
            human(Duration::from_millis(counts.backoff_wait_ms))
        ),
    ];
    if counts.paced > 0 {
        waits.push(format!("rate limiter held back {} attempts", counts.paced));
    }
    if counts.pauses > 0 {
        waits.push(format!(
            "rate limiter paused a host {} times at the server's request (longest {})",
            counts.pauses,
            human(Duration::from_secs_f64(counts.longest_pause_ms / 1000.0)),
        ));
    }
    let _ = writeln!(out, "  waits     {}", waits.join(" · "));

    let refused: Vec<String> = Refusal::ALL
        .iter()
        .filter(|r| counts.refused[**r as usize] > 0)
        .map(|r| format!("{} {}", r.label(), counts.refused[*r as usize]))
        .collect();
    if !refused.is_empty() {
        let _ = writeln!(out, "  no retry  {}", refused.join(" · "));
    }

    if stats.latency_us.is_empty() {
        let _ = writeln!(out, "  latency   no request was sent");
    } else {
        let at = |q: f64| stats.latency(q).map(human).unwrap_or_default();
        let _ = writeln!(
            out,
            "  latency   p50 {} · p90 {} · p99 {} · max {} ({} sent, start to end of body)",
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0),
            stats.latency_us.len(),
        );
    }
    if let Some(stopped) = stats.stopped {
        let _ = writeln!(
            out,
            "  stopped   --fail-fast: line {} failed; {} in flight cancelled, no new request started",
            stopped.line, stopped.cancelled
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_micros(3100)), "3.1 ms");
        assert_eq!(human(Duration::from_millis(210)), "210 ms");
        assert_eq!(human(Duration::from_millis(2410)), "2.41 s");
        assert_eq!(human(Duration::from_secs(152)), "152 s");
    }

    #[test]
    fn redirect_hops_are_attempts_but_not_retries() {
        let mut stats = Stats::default();
        // `/redirect/3`: three hops and the answer; then a request whose third redirect
        // was refused after two were followed.
        stats.add(Outcome::Ok, 4, 10, Some(Duration::from_millis(5)));
        stats.add(Outcome::Redirect, 3, 0, Some(Duration::from_millis(5)));
        stats.redirects = 5;
        let text = render(&stats, &Counts::default(), Duration::from_secs(1));
        let head = "2 requests in 1.00 s (2.0/s): 7 attempts, 0 retries, 5 redirects followed, \
                    10 B received\n";
        assert!(text.starts_with(head), "{text}");
        assert!(text.contains("connect 0 · redirect 1\n"), "{text}");
        let none = render(&Stats::default(), &Counts::default(), Duration::from_secs(1));
        assert!(!none.contains("redirect"), "{none}");
    }

    #[test]
    fn a_summary_names_every_outcome_and_the_percentiles() {
        let mut stats = Stats::default();
        for ms in 1..=100 {
            stats.add(Outcome::Ok, 1, 100, Some(Duration::from_millis(ms)));
        }
        stats.add(Outcome::Http5xx, 4, 0, Some(Duration::from_secs(2)));
        stats.add(Outcome::BadInput, 0, 0, None);
        let mut counts = Counts { hint_waits: 2, hint_wait_ms: 2100, ..Counts::default() };
        counts.refused[Refusal::Budget as usize] = 3;
        let text = render(&stats, &counts, Duration::from_secs(2));
        let expected_head =
            "102 requests in 2.00 s (51.0/s): 104 attempts, 3 retries, 9.8 KiB received\n";
        assert!(text.starts_with(expected_head), "{text}");
        assert!(text.contains("ok 100 · http 4xx 0 · http 5xx 1 · throttled 0 · timeout 0 · overloaded 0 · connect 0 · bad input 1"), "{text}");
        assert!(text.contains("Retry-After 2 (2.10 s)"), "{text}");
        assert!(text.contains("retry budget spent 3"), "{text}");
        assert!(
            text.contains("p50 51 ms · p90 91 ms · p99 100 ms · max 2.00 s (101 sent"),
            "{text}"
        );
    }
}
