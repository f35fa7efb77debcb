//! `Retry-After`, `retry-after-ms`, `x-ms-retry-after-ms`, and the number helpers the
//! rate-limit forms share.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};

/// The unit of a decimal header value.
#[derive(Clone, Copy, Debug)]
pub(super) enum Unit {
    Seconds,
    Millis,
}

/// `Retry-After`: delay-seconds or an HTTP-date, the largest of several lines.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    largest(headers, "retry-after", |s| decimal(s, Unit::Seconds).or_else(|| http_date(s, now)))
}

/// `retry-after-ms` and `x-ms-retry-after-ms`: milliseconds, the largest of several lines.
pub(super) fn millis(headers: &HeaderMap, name: &str) -> Option<Duration> {
    largest(headers, name, |s| decimal(s, Unit::Millis))
}

/// The largest valid value among all lines of `name`; invalid lines are skipped so that one
/// broken line cannot hide a valid one.
pub(super) fn largest(
    headers: &HeaderMap,
    name: &str,
    parse: impl Fn(&str) -> Option<Duration>,
) -> Option<Duration> {
    headers.get_all(name).iter().filter_map(trimmed).filter_map(parse).max()
}

/// The value without its surrounding OWS, if it is visible ASCII (obs-text is refused:
/// no number or date contains it).
pub(super) fn trimmed(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok().map(|s| s.trim_matches([' ', '\t']))
}

/// `1*DIGIT ["." 1*DIGIT]` in `unit`, the fraction rounded up to a thousandth of the unit
/// so that the client never comes back earlier than asked.
///
/// Not clamped: the rate-limit forms must still see an epoch as an epoch. Digits that
/// overflow give [`Duration::MAX`], which every caller clamps.
pub(super) fn decimal(s: &str, unit: Unit) -> Option<Duration> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (s, None),
    };
    let all_digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !frac.is_none_or(all_digits) {
        return None;
    }
    let Some(whole) = count(int) else {
        return Some(Duration::MAX);
    };
    let thousandths = frac.map_or(0, round_up_thousandths);
    let duration = match unit {
        Unit::Seconds => Duration::from_secs(whole).checked_add(Duration::from_millis(thousandths)),
        Unit::Millis => {
            Duration::from_millis(whole).checked_add(Duration::from_micros(thousandths))
        }
    };
    Some(duration.unwrap_or(Duration::MAX))
}

/// The first three fraction digits, plus one if any later digit is not zero.
fn round_up_thousandths(frac: &str) -> u64 {
    let digits = frac.as_bytes();
    let first_three = (0..3)
        .fold(0, |acc, i| acc * 10 + digits.get(i).map_or(0, |&b| u64::from(b.wrapping_sub(b'0'))));
    let rest_nonzero = digits.iter().skip(3).any(|&b| b != b'0');
    first_three + u64::from(rest_nonzero)
}

/// `1*DIGIT` as a count; `None` if it is not all digits or overflows `u64`.
pub(super) fn count(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        let digit = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        acc.checked_mul(10)?.checked_add(digit)
    })
}

/// An HTTP-date as a delay from `now`; a date at or before `now` means now.
fn http_date(s: &str, now: SystemTime) -> Option<Duration> {
    let date = httpdate::parse_http_date(s).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}
