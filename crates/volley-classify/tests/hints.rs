//! Server timing hints: every rule of `volley_classify::hint`, one table row at least each.
//!
//! `NOW` is fixed at 1_700_000_000 s after the epoch, Tue, 14 Nov 2023 22:13:20 GMT.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use volley_classify::hint::{Hint, HintParser, HintSource, MAX_HINT, ResetFormat};

use HintSource::{
    RateLimit, RateLimitReset, RetryAfter, RetryAfterMs, XMsRetryAfterMs, XRateLimitReset,
};

const NOW_SECS: u64 = 1_700_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

const fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

type Headers = &'static [(&'static str, &'static [u8])];

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("test header name");
        let value = HeaderValue::from_bytes(value).expect("test header value");
        map.append(name, value);
    }
    map
}

/// (name, headers, expected delay and source).
type Case = (&'static str, Headers, Option<(Duration, HintSource)>);

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Retry-After: delay-seconds.
    ("seconds", &[("retry-after", b"120")], Some((s(120), RetryAfter))),
    ("zero seconds is a hint meaning now", &[("retry-after", b"0")], Some((s(0), RetryAfter))),
    ("leading zeros", &[("retry-after", b"007")], Some((s(7), RetryAfter))),
    ("fraction rounded up to the ms", &[("retry-after", b"1.5")], Some((ms(1500), RetryAfter))),
    ("tiny fraction rounds up, never down", &[("retry-after", b"0.0001")], Some((ms(1), RetryAfter))),
    ("fraction .9999 rounds up to 2s", &[("retry-after", b"1.9999")], Some((s(2), RetryAfter))),
    ("trailing zeros do not round up", &[("retry-after", b"2.500000")], Some((ms(2500), RetryAfter))),
    ("spaces around", &[("retry-after", b"  5  ")], Some((s(5), RetryAfter))),
    ("tabs around", &[("retry-after", b"\t30\t")], Some((s(30), RetryAfter))),
    ("negative", &[("retry-after", b"-5")], None),
    ("plus sign", &[("retry-after", b"+5")], None),
    ("unit suffix", &[("retry-after", b"5s")], None),
    ("empty", &[("retry-after", b"")], None),
    ("only spaces", &[("retry-after", b"   ")], None),
    ("word", &[("retry-after", b"abc")], None),
    ("exponent", &[("retry-after", b"1e3")], None),
    ("hex", &[("retry-after", b"0x10")], None),
    ("inner space", &[("retry-after", b"1 0")], None),
    ("dot without fraction", &[("retry-after", b"1.")], None),
    ("dot without integer", &[("retry-after", b".5")], None),
    ("two dots", &[("retry-after", b"1.2.3")], None),
    ("comma-joined list is not a value", &[("retry-after", b"5, 10")], None),
    ("exactly MAX_HINT", &[("retry-after", b"31536000")], Some((MAX_HINT, RetryAfter))),
    ("above MAX_HINT clamped", &[("retry-after", b"31536001")], Some((MAX_HINT, RetryAfter))),
    ("u64::MAX clamped", &[("retry-after", b"18446744073709551615")], Some((MAX_HINT, RetryAfter))),
    ("u64 overflow clamped", &[("retry-after", b"18446744073709551616")], Some((MAX_HINT, RetryAfter))),
    ("overflowing digits with a fraction", &[("retry-after", b"99999999999999999999999.5")], Some((MAX_HINT, RetryAfter))),
    ("obs-text byte", &[("retry-after", b"\xff")], None),
    ("digit then obs-text", &[("retry-after", b"5\xff")], None),
    ("non-ASCII digit (UTF-8 Arabic three)", &[("retry-after", "\u{663}".as_bytes())], None),
    ("upper-case header name", &[("RETRY-AFTER", b"9")], Some((s(9), RetryAfter))),
    // Retry-After: HTTP-date.
    ("IMF-fixdate in 60s", &[("retry-after", b"Tue, 14 Nov 2023 22:14:20 GMT")], Some((s(60), RetryAfter))),
    ("date equal to now", &[("retry-after", b"Tue, 14 Nov 2023 22:13:20 GMT")], Some((s(0), RetryAfter))),
    ("date in the past", &[("retry-after", b"Tue, 14 Nov 2023 22:12:20 GMT")], Some((s(0), RetryAfter))),
    ("date long past", &[("retry-after", b"Sun, 06 Nov 1994 08:49:37 GMT")], Some((s(0), RetryAfter))),
    ("RFC 850 date", &[("retry-after", b"Tuesday, 14-Nov-23 22:14:50 GMT")], Some((s(90), RetryAfter))),
    ("asctime date", &[("retry-after", b"Tue Nov 14 22:15:20 2023")], Some((s(120), RetryAfter))),
    ("date with spaces around", &[("retry-after", b"  Tue, 14 Nov 2023 22:14:20 GMT ")], Some((s(60), RetryAfter))),
    ("lower-case date", &[("retry-after", b"tue, 14 nov 2023 22:14:20 gmt")], None),
    ("wrong weekday", &[("retry-after", b"Wed, 14 Nov 2023 22:14:20 GMT")], None),
    ("day 32", &[("retry-after", b"Tue, 32 Nov 2023 22:14:20 GMT")], None),
    ("date without GMT", &[("retry-after", b"Tue, 14 Nov 2023 22:14:20")], None),
    ("date 400 days ahead clamped", &[("retry-after", b"Wed, 18 Dec 2024 22:13:20 GMT")], Some((MAX_HINT, RetryAfter))),
    // Retry-After: several lines.
    ("duplicates, larger last", &[("retry-after", b"5"), ("retry-after", b"10")], Some((s(10), RetryAfter))),
    ("duplicates, larger first", &[("retry-after", b"10"), ("retry-after", b"5")], Some((s(10), RetryAfter))),
    ("duplicate garbage skipped", &[("retry-after", b"abc"), ("retry-after", b"7")], Some((s(7), RetryAfter))),
    ("duplicate date beats seconds", &[("retry-after", b"30"), ("retry-after", b"Tue, 14 Nov 2023 22:14:20 GMT")], Some((s(60), RetryAfter))),
    ("duplicates all garbage", &[("retry-after", b"x"), ("retry-after", b"-1")], None),
    // retry-after-ms and x-ms-retry-after-ms.
    ("ms", &[("retry-after-ms", b"250")], Some((ms(250), RetryAfterMs))),
    ("ms fraction rounded up to the µs", &[("retry-after-ms", b"1.5")], Some((us(1500), RetryAfterMs))),
    ("ms tiny fraction rounds up", &[("retry-after-ms", b"0.0001")], Some((us(1), RetryAfterMs))),
    ("ms spaces", &[("retry-after-ms", b" 40 ")], Some((ms(40), RetryAfterMs))),
    ("ms negative", &[("retry-after-ms", b"-1")], None),
    ("ms date is not a form", &[("retry-after-ms", b"Tue, 14 Nov 2023 22:14:20 GMT")], None),
    ("ms overflow clamped", &[("retry-after-ms", b"99999999999999999999999")], Some((MAX_HINT, RetryAfterMs))),
    ("ms duplicates", &[("retry-after-ms", b"300"), ("retry-after-ms", b"100")], Some((ms(300), RetryAfterMs))),
    ("x-ms", &[("x-ms-retry-after-ms", b"1000")], Some((s(1), XMsRetryAfterMs))),
    ("x-ms upper-case name", &[("X-MS-Retry-After-MS", b"20")], Some((ms(20), XMsRetryAfterMs))),
    ("x-ms garbage", &[("x-ms-retry-after-ms", b"1,000")], None),
    // Precedence: each pair, the winner is not the larger delay.
    ("retry-after-ms beats x-ms", &[("x-ms-retry-after-ms", b"5000"), ("retry-after-ms", b"200")], Some((ms(200), RetryAfterMs))),
    ("x-ms beats Retry-After", &[("retry-after", b"9"), ("x-ms-retry-after-ms", b"300")], Some((ms(300), XMsRetryAfterMs))),
    ("retry-after-ms beats Retry-After", &[("retry-after", b"9"), ("retry-after-ms", b"300")], Some((ms(300), RetryAfterMs))),
    ("Retry-After beats RateLimit", &[("ratelimit", b"\"d\";r=0;t=90"), ("retry-after", b"3")], Some((s(3), RetryAfter))),
    ("RateLimit beats RateLimit-Reset", &[("ratelimit-reset", b"90"), ("ratelimit", b"\"d\";r=0;t=4")], Some((s(4), RateLimit))),
    ("RateLimit-Reset beats X-RateLimit-Reset", &[("x-ratelimit-reset", b"90"), ("ratelimit-reset", b"5")], Some((s(5), RateLimitReset))),
    ("invalid ms falls through to Retry-After", &[("retry-after-ms", b"soon"), ("retry-after", b"3")], Some((s(3), RetryAfter))),
    ("invalid Retry-After falls through to RateLimit", &[("retry-after", b"-3"), ("ratelimit", b"\"d\";r=0;t=8")], Some((s(8), RateLimit))),
    ("RateLimit with quota left falls through", &[("ratelimit", b"\"d\";r=2;t=8"), ("ratelimit-reset", b"6")], Some((s(6), RateLimitReset))),
    ("malformed RateLimit falls through to X-", &[("ratelimit", b"\"d\";r="), ("x-ratelimit-reset", b"12")], Some((s(12), XRateLimitReset))),
    ("every form invalid", &[("retry-after-ms", b"x"), ("x-ms-retry-after-ms", b"-1"), ("retry-after", b""), ("ratelimit", b"\"d"), ("ratelimit-reset", b"?"), ("x-ratelimit-reset", b"later")], None),
    ("no headers", &[], None),
    ("unrelated headers", &[("content-type", b"text/plain"), ("date", b"Tue, 14 Nov 2023 22:14:20 GMT")], None),
    // IETF RateLimit (draft-11).
    ("RateLimit r=0", &[("ratelimit", b"\"default\";r=0;t=30")], Some((s(30), RateLimit))),
    ("RateLimit r>0", &[("ratelimit", b"\"default\";r=5;t=30")], None),
    ("RateLimit r=0 without t", &[("ratelimit", b"\"default\";r=0")], None),
    ("RateLimit largest t of exhausted policies", &[("ratelimit", b"\"burst\";r=0;t=10, \"daily\";r=0;t=3600, \"hourly\";r=3;t=7200")], Some((s(3600), RateLimit))),
    ("RateLimit token name", &[("ratelimit", b"default;r=0;t=15")], Some((s(15), RateLimit))),
    ("RateLimit with pk", &[("ratelimit", b"\"d\";r=0;t=25;pk=:dHJpYWwxMjEzMjM=:")], Some((s(25), RateLimit))),
    ("RateLimit parameters in any order", &[("ratelimit", b"\"d\";t=11;r=0")], Some((s(11), RateLimit))),
    ("RateLimit lines joined as one list", &[("ratelimit", b"\"a\";r=5;t=10"), ("ratelimit", b"\"b\";r=0;t=20")], Some((s(20), RateLimit))),
    ("RateLimit empty line ignored", &[("ratelimit", b""), ("ratelimit", b"\"b\";r=0;t=20")], Some((s(20), RateLimit))),
    ("RateLimit missing value", &[("ratelimit", b"\"default\";r=")], None),
    ("RateLimit unterminated string", &[("ratelimit", b"\"default;r=0;t=30")], None),
    ("RateLimit trailing comma", &[("ratelimit", b"\"d\";r=0;t=30,")], None),
    ("RateLimit one bad line spoils the field", &[("ratelimit", b"\"a\";r=0;t=20"), ("ratelimit", b"\"b\";r=")], None),
    ("RateLimit negative t", &[("ratelimit", b"\"d\";r=0;t=-5")], None),
    ("RateLimit decimal t", &[("ratelimit", b"\"d\";r=0;t=1.5")], None),
    ("RateLimit negative r", &[("ratelimit", b"\"d\";r=-1;t=30")], None),
    ("RateLimit boolean r", &[("ratelimit", b"\"d\";r;t=30")], None),
    ("RateLimit integer name", &[("ratelimit", b"7;r=0;t=30")], None),
    ("RateLimit inner list", &[("ratelimit", b"(\"a\" \"b\");r=0;t=30")], None),
    ("RateLimit obs-text", &[("ratelimit", b"\"d\";r=0;t=30\xff")], None),
    ("RateLimit t above MAX_HINT clamped", &[("ratelimit", b"\"d\";r=0;t=99999999")], Some((MAX_HINT, RateLimit))),
    ("RateLimit t that is an epoch", &[("ratelimit", b"\"d\";r=0;t=1700000045")], Some((s(45), RateLimit))),
    ("RateLimit-Policy alone gives no hint", &[("ratelimit-policy", b"\"d\";q=100;w=60")], None),
    // Drafts <= 06.
    ("RateLimit-Reset alone", &[("ratelimit-reset", b"40")], Some((s(40), RateLimitReset))),
    ("RateLimit-Reset, remaining 0", &[("ratelimit-remaining", b"0"), ("ratelimit-reset", b"40")], Some((s(40), RateLimitReset))),
    ("RateLimit-Reset, remaining 3", &[("ratelimit-remaining", b"3"), ("ratelimit-reset", b"40")], None),
    ("RateLimit-Reset, remaining garbage", &[("ratelimit-remaining", b"lots"), ("ratelimit-reset", b"40")], Some((s(40), RateLimitReset))),
    ("RateLimit-Remaining duplicates, smallest wins", &[("ratelimit-remaining", b"5"), ("ratelimit-remaining", b"0"), ("ratelimit-reset", b"40")], Some((s(40), RateLimitReset))),
    ("RateLimit-Reset duplicates, larger last", &[("ratelimit-reset", b"10"), ("ratelimit-reset", b"40")], Some((s(40), RateLimitReset))),
    ("RateLimit-Reset duplicates, larger first", &[("ratelimit-reset", b"40"), ("ratelimit-reset", b"10")], Some((s(40), RateLimitReset))),
    ("RateLimit-Reset that is an epoch", &[("ratelimit-reset", b"1700000030")], Some((s(30), RateLimitReset))),
    ("RateLimit-Reset negative", &[("ratelimit-reset", b"-40")], None),
    // X-RateLimit-Reset, default ResetFormat::Auto.
    ("X- delta", &[("x-ratelimit-reset", b"60")], Some((s(60), XRateLimitReset))),
    ("X- epoch", &[("x-ratelimit-reset", b"1700000060")], Some((s(60), XRateLimitReset))),
    ("X- epoch in the past", &[("x-ratelimit-reset", b"1699999000")], Some((s(0), XRateLimitReset))),
    ("X- epoch equal to now", &[("x-ratelimit-reset", b"1700000000")], Some((s(0), XRateLimitReset))),
    ("X- fractional epoch rounded up", &[("x-ratelimit-reset", b"1700000001.0001")], Some((ms(1001), XRateLimitReset))),
    ("X- fraction", &[("x-ratelimit-reset", b"1.25")], Some((ms(1250), XRateLimitReset))),
    ("X- just below the epoch threshold is a delta", &[("x-ratelimit-reset", b"999999999")], Some((MAX_HINT, XRateLimitReset))),
    ("X- at the epoch threshold is a past epoch", &[("x-ratelimit-reset", b"1000000000")], Some((s(0), XRateLimitReset))),
    ("X- epoch in milliseconds clamped", &[("x-ratelimit-reset", b"1700000060000")], Some((MAX_HINT, XRateLimitReset))),
    ("X- overflowing digits clamped", &[("x-ratelimit-reset", b"99999999999999999999999")], Some((MAX_HINT, XRateLimitReset))),
    ("X- remaining 0", &[("x-ratelimit-remaining", b"0"), ("x-ratelimit-reset", b"60")], Some((s(60), XRateLimitReset))),
    ("X- remaining 10", &[("x-ratelimit-remaining", b"10"), ("x-ratelimit-reset", b"60")], None),
    ("X- remaining with spaces", &[("x-ratelimit-remaining", b" 0 "), ("x-ratelimit-reset", b"60")], Some((s(60), XRateLimitReset))),
    ("X- garbage", &[("x-ratelimit-reset", b"soon")], None),
    ("X- human date is not a form", &[("x-ratelimit-reset", b"Tue, 14 Nov 2023 22:14:20 GMT")], None),
    ("X- duplicates mixing epoch and delta", &[("x-ratelimit-reset", b"1700000030"), ("x-ratelimit-reset", b"50")], Some((s(50), XRateLimitReset))),
    ("X- duplicates, epoch larger", &[("x-ratelimit-reset", b"50"), ("x-ratelimit-reset", b"1700000090")], Some((s(90), XRateLimitReset))),
];

#[test]
fn hint_table() {
    let parser = HintParser::new();
    let mut failures = Vec::new();
    for (name, pairs, expected) in CASES {
        let got = parser.parse_at(&headers(pairs), now()).map(|h| (h.delay(), h.source()));
        if got != *expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// (name, format, X-RateLimit-Reset value, expected delay).
#[rustfmt::skip]
const RESET_FORMAT_CASES: &[(&str, ResetFormat, &str, Duration)] = &[
    ("auto delta", ResetFormat::Auto, "30", s(30)),
    ("auto epoch", ResetFormat::Auto, "1700000060", s(60)),
    ("auto past epoch", ResetFormat::Auto, "1699999000", s(0)),
    ("auto below threshold", ResetFormat::Auto, "999999999", MAX_HINT),
    ("auto at threshold", ResetFormat::Auto, "1000000000", s(0)),
    ("delta delta", ResetFormat::DeltaSeconds, "30", s(30)),
    ("delta fraction", ResetFormat::DeltaSeconds, "0.5", ms(500)),
    ("delta mis-configured: an epoch is never 56 years", ResetFormat::DeltaSeconds, "1700000060", s(60)),
    ("delta mis-configured: past epoch", ResetFormat::DeltaSeconds, "1699999000", s(0)),
    ("delta below threshold", ResetFormat::DeltaSeconds, "999999999", MAX_HINT),
    ("delta: an old epoch is not a current time, so a delay", ResetFormat::DeltaSeconds, "1000000000", MAX_HINT),
    ("delta: a year ahead is still an epoch", ResetFormat::DeltaSeconds, "1731536000", s(31_536_000)),
    ("epoch epoch", ResetFormat::EpochSeconds, "1700000060", s(60)),
    ("epoch fractional epoch", ResetFormat::EpochSeconds, "1700000060.5", ms(60_500)),
    ("epoch past", ResetFormat::EpochSeconds, "1699999000", s(0)),
    ("epoch mis-configured: a small value is a delta", ResetFormat::EpochSeconds, "30", s(30)),
    ("epoch: an old epoch is past, so now", ResetFormat::EpochSeconds, "999999999", s(0)),
    ("epoch: one year is an epoch in 1971, so now", ResetFormat::EpochSeconds, "31536000", s(0)),
    ("epoch: just under a year is a delay", ResetFormat::EpochSeconds, "31535999", s(31_535_999)),
    ("epoch at threshold", ResetFormat::EpochSeconds, "1000000000", s(0)),
];

#[test]
fn reset_format_table() {
    let mut failures = Vec::new();
    for (name, format, value, expected) in RESET_FORMAT_CASES {
        let parser = HintParser::new().reset_format(*format);
        let map = headers(&[("x-ratelimit-reset", value.as_bytes())]);
        let got = parser.parse_at(&map, now()).map(|h| (h.delay(), h.source()));
        if got != Some((*expected, XRateLimitReset)) {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reset_format_reaches_rate_limit_status() {
    let map = headers(&[("x-ratelimit-remaining", b"3"), ("x-ratelimit-reset", b"1700000060")]);
    for format in [ResetFormat::Auto, ResetFormat::DeltaSeconds, ResetFormat::EpochSeconds] {
        let status = HintParser::new().reset_format(format).rate_limit_at(&map, now());
        assert_eq!(status.map(|s| s.reset()), Some(s(60)), "{format:?}");
    }
}

/// (policy, remaining, reset, limit, window).
type Status = (Option<&'static str>, u64, Duration, Option<u64>, Option<Duration>);

/// (name, headers, expected status).
const RATE_LIMIT_CASES: &[(&str, Headers, Option<Status>)] = &[
    (
        "IETF: least remaining, with its policy",
        &[
            ("ratelimit-policy", b"\"burst\";q=100;w=60,\"daily\";q=1000;w=86400"),
            ("ratelimit", b"\"burst\";r=40;t=30,\"daily\";r=7;t=5000"),
        ],
        Some((Some("daily"), 7, s(5000), Some(1000), Some(s(86400)))),
    ),
    (
        "IETF: tie on remaining goes to the longest reset",
        &[("ratelimit", b"\"a\";r=0;t=10,\"b\";r=0;t=20,\"c\";r=0;t=15")],
        Some((Some("b"), 0, s(20), None, None)),
    ),
    (
        "IETF: exact tie goes to the first",
        &[("ratelimit", b"\"a\";r=1;t=10,\"b\";r=1;t=10")],
        Some((Some("a"), 1, s(10), None, None)),
    ),
    (
        "IETF: no t reads as a zero reset",
        &[("ratelimit", b"\"d\";r=999;pk=:dHJpYWwxMjEzMjM=:")],
        Some((Some("d"), 999, s(0), None, None)),
    ),
    (
        "IETF: policy split over two lines",
        &[
            ("ratelimit-policy", b"\"burst\";q=100;w=60"),
            ("ratelimit-policy", b"\"daily\";q=1000;w=86400"),
            ("ratelimit", b"\"daily\";r=0;t=50"),
        ],
        Some((Some("daily"), 0, s(50), Some(1000), Some(s(86400)))),
    ),
    (
        "IETF: policy of another name gives no limit",
        &[("ratelimit-policy", b"\"burst\";q=100;w=60"), ("ratelimit", b"\"daily\";r=4;t=50")],
        Some((Some("daily"), 4, s(50), None, None)),
    ),
    (
        "IETF: w=0 and negative q are not a window and limit",
        &[("ratelimit-policy", b"\"d\";q=-1;w=0"), ("ratelimit", b"\"d\";r=4;t=50")],
        Some((Some("d"), 4, s(50), None, None)),
    ),
    (
        "IETF: malformed policy field is ignored, not the RateLimit one",
        &[("ratelimit-policy", b"\"d\";q="), ("ratelimit", b"\"d\";r=4;t=50")],
        Some((Some("d"), 4, s(50), None, None)),
    ),
    (
        "IETF: item without r skipped",
        &[("ratelimit", b"\"a\";t=10,\"b\";r=6;t=20")],
        Some((Some("b"), 6, s(20), None, None)),
    ),
    ("IETF: malformed field", &[("ratelimit", b"\"a\";r=0;t=10,")], None),
    (
        "draft 06",
        &[("ratelimit-limit", b"100"), ("ratelimit-remaining", b"3"), ("ratelimit-reset", b"40")],
        Some((None, 3, s(40), Some(100), None)),
    ),
    (
        "draft 03 limit with policies",
        &[
            ("ratelimit-limit", b"10, 10;w=1, 50;w=60"),
            ("ratelimit-remaining", b"2"),
            ("ratelimit-reset", b"1"),
        ],
        Some((None, 2, s(1), Some(10), None)),
    ),
    (
        "X-: GitHub",
        &[
            ("x-ratelimit-limit", b"5000"),
            ("x-ratelimit-remaining", b"4999"),
            ("x-ratelimit-reset", b"1700003600"),
        ],
        Some((None, 4999, s(3600), Some(5000), None)),
    ),
    (
        "X-: remaining without reset reads as a zero reset",
        &[("x-ratelimit-remaining", b"0")],
        Some((None, 0, s(0), None, None)),
    ),
    (
        "X-: duplicate remaining, smallest wins",
        &[
            ("x-ratelimit-remaining", b"10"),
            ("x-ratelimit-remaining", b"3"),
            ("x-ratelimit-reset", b"9"),
        ],
        Some((None, 3, s(9), None, None)),
    ),
    (
        "X-: remaining that overflows saturates",
        &[("x-ratelimit-remaining", b"99999999999999999999"), ("x-ratelimit-reset", b"9")],
        Some((None, u64::MAX, s(9), None, None)),
    ),
    (
        "X-: garbage remaining gives no status",
        &[("x-ratelimit-remaining", b"-1"), ("x-ratelimit-reset", b"9")],
        None,
    ),
    ("X-: reset alone gives no status", &[("x-ratelimit-reset", b"9")], None),
    (
        "mixed: X- has less remaining than IETF",
        &[
            ("ratelimit", b"\"d\";r=5;t=10"),
            ("x-ratelimit-remaining", b"2"),
            ("x-ratelimit-reset", b"30"),
        ],
        Some((None, 2, s(30), None, None)),
    ),
    (
        "mixed: tie goes to the longer draft reset",
        &[
            ("ratelimit", b"\"d\";r=0;t=10"),
            ("ratelimit-remaining", b"0"),
            ("ratelimit-reset", b"30"),
        ],
        Some((None, 0, s(30), None, None)),
    ),
    (
        "mixed: tie goes to the longer IETF reset",
        &[
            ("ratelimit", b"\"d\";r=0;t=50"),
            ("ratelimit-remaining", b"0"),
            ("ratelimit-reset", b"30"),
        ],
        Some((Some("d"), 0, s(50), None, None)),
    ),
    (
        "mixed: malformed IETF, valid X-",
        &[("ratelimit", b"\"d"), ("x-ratelimit-remaining", b"8"), ("x-ratelimit-reset", b"30")],
        Some((None, 8, s(30), None, None)),
    ),
    ("nothing", &[("retry-after", b"5")], None),
];

#[test]
fn rate_limit_table() {
    let parser = HintParser::new();
    let mut failures = Vec::new();
    for (name, pairs, expected) in RATE_LIMIT_CASES {
        let got = parser.rate_limit_at(&headers(pairs), now()).map(|st| {
            (st.policy().map(str::to_owned), st.remaining(), st.reset(), st.limit(), st.window())
        });
        let expected = expected.map(|(p, r, t, l, w)| (p.map(str::to_owned), r, t, l, w));
        if got != expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn display() {
    let cases = [
        (s(2), RetryAfter, "retry after 2s (retry-after)"),
        (s(0), RetryAfter, "retry after 0s (retry-after)"),
        (ms(1500), RetryAfterMs, "retry after 1.5s (retry-after-ms)"),
        (ms(250), XMsRetryAfterMs, "retry after 250ms (x-ms-retry-after-ms)"),
        (us(1500), RetryAfterMs, "retry after 1.5ms (retry-after-ms)"),
        (ms(60_001), RateLimit, "retry after 60.001s (ratelimit)"),
        (s(40), RateLimitReset, "retry after 40s (ratelimit-reset)"),
        (MAX_HINT, XRateLimitReset, "retry after 31536000s (x-ratelimit-reset)"),
    ];
    for (delay, source, text) in cases {
        assert_eq!(Hint::new(delay, source).to_string(), text);
    }
}

#[test]
fn source_names() {
    let names = [
        (RetryAfterMs, "retry-after-ms"),
        (XMsRetryAfterMs, "x-ms-retry-after-ms"),
        (RetryAfter, "retry-after"),
        (RateLimit, "ratelimit"),
        (RateLimitReset, "ratelimit-reset"),
        (XRateLimitReset, "x-ratelimit-reset"),
    ];
    for (source, name) in names {
        assert_eq!(source.as_str(), name);
        assert_eq!(source.to_string(), name);
        // The name is the header the parser reads: a hint from it alone has that source.
        let map = headers(&[(name, if source == RateLimit { b"\"d\";r=0;t=3" } else { b"3" })]);
        assert_eq!(HintParser::new().parse_at(&map, now()).map(|h| h.source()), Some(source));
    }
}

#[test]
fn constructor_and_defaults() {
    assert_eq!(MAX_HINT, Duration::from_secs(365 * 86_400));
    assert_eq!(Hint::new(s(u64::MAX), RetryAfter).delay(), MAX_HINT);
    assert_eq!(Hint::new(s(3), RateLimit).delay(), s(3));
    assert_eq!(ResetFormat::default(), ResetFormat::Auto);
}

#[test]
fn parse_uses_the_wall_clock() {
    let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + s(3600));
    let mut map = HeaderMap::new();
    map.insert("retry-after", HeaderValue::from_str(&in_an_hour).expect("date"));
    let delay = HintParser::new().parse(&map).map(|h| h.delay()).expect("a hint");
    // The date is truncated to the second and a little time passes while parsing.
    assert!(delay > s(3590) && delay <= s(3600), "{delay:?}");

    map.insert("x-ratelimit-reset", HeaderValue::from_static("2"));
    map.insert("x-ratelimit-remaining", HeaderValue::from_static("1"));
    let status = HintParser::new().rate_limit(&map).expect("a status");
    assert_eq!((status.remaining(), status.reset()), (1, s(2)));
}
