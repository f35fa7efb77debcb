//! `-v`: one line on stderr per request as it finishes, with its attempts, waits and
//! final status. Built only when `-v` is set.

use std::fmt::Write;
use std::time::Duration;

use crate::item::Done;
use crate::stats::Outcome;
use crate::summary::human;

/// `#12 GET http://127.0.0.1:8080/flaky/2 → 200 after 3 attempts (backoff 2 waits 1.30 s)
/// in 1.41 s`. The URL is the record's, without credentials; headers are never shown.
pub(crate) fn line(done: &Done) -> String {
    let record = &done.record;
    let mut out = format!("#{}", record.line);
    if let Some(method) = &done.method {
        let _ = write!(out, " {method}");
    }
    let _ = write!(out, " {}", record.url.as_deref().unwrap_or("(no URL)"));
    let Some(elapsed) = done.elapsed else {
        let what = record.error.as_ref().map_or("", |e| e.message.as_str());
        let _ = writeln!(out, " → {}: {what}", done.outcome.label());
        return out;
    };
    match (record.status, &record.error) {
        (Some(status), _) => {
            let _ = write!(out, " → {status}");
        }
        (None, Some(error)) => {
            let _ = write!(out, " → {}", error.kind);
        }
        (None, None) => {
            let _ = write!(out, " → {}", done.outcome.label());
        }
    }
    let attempts = record.attempts;
    let _ = write!(out, " after {attempts} attempt{}", plural(u64::from(attempts)));
    let mut waits = Vec::new();
    if let Some(hops) = record.redirects {
        waits.push(format!("{hops} redirect{}", plural(u64::from(hops))));
    }
    for (name, (count, ms)) in [("Retry-After", done.waits.hint), ("backoff", done.waits.backoff)] {
        if count > 0 {
            let wait = human(Duration::from_millis(ms));
            waits.push(format!("{name} {count} wait{} {wait}", plural(u64::from(count))));
        }
    }
    if done.waits.paced > 0 {
        waits.push(format!("rate limiter held back {}", done.waits.paced));
    }
    if !waits.is_empty() {
        let _ = write!(out, " ({})", waits.join(", "));
    }
    let _ = write!(out, " in {}", human(elapsed));
    if let (Some(error), false) = (&record.error, done.outcome == Outcome::Ok) {
        let _ = write!(out, ": {}", error.message);
    }
    out.push('\n');
    out
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::output::Record;
    use crate::signals::ItemWaits;

    fn done(record: Record, outcome: Outcome, waits: ItemWaits) -> Done {
        Done {
            record,
            outcome,
            timeout: None,
            rate_limited: false,
            elapsed: Some(Duration::from_millis(1410)),
            method: Some(Method::GET),
            waits,
        }
    }

    #[test]
    fn a_line_says_attempts_waits_and_status() {
        let url = "http://[redacted]@127.0.0.1:8080/flaky/2".to_owned();
        let record =
            Record { line: 12, status: Some(200), attempts: 3, ..Record::new(12, Some(url)) };
        let waits = ItemWaits { backoff: (2, 1300), ..ItemWaits::default() };
        assert_eq!(
            line(&done(record, Outcome::Ok, waits)),
            "#12 GET http://[redacted]@127.0.0.1:8080/flaky/2 → 200 after 3 attempts \
             (backoff 2 waits 1.30 s) in 1.41 s\n"
        );

        let mut record = Record { attempts: 1, ..Record::new(3, Some("http://h/".to_owned())) };
        record.error("connect", "cannot connect to http://u:pw@h/");
        assert_eq!(
            line(&done(record, Outcome::Connect, ItemWaits::default())),
            "#3 GET http://h/ → connect after 1 attempt in 1.41 s: cannot connect to \
             http://[redacted]@h/\n"
        );

        let mut bad = Record::new(4, None);
        bad.error("input", "invalid JSON line");
        assert_eq!(
            line(&Done::unsent(bad, Outcome::BadInput)),
            "#4 (no URL) → bad input: invalid JSON line\n"
        );
    }
}
