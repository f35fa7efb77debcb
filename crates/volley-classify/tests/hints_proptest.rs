//! Properties of the server timing hint parser: no panic on any bytes, no hint from
//! garbage, exact numbers for every valid delay-seconds and HTTP-date.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use volley_classify::hint::{HintParser, HintSource, MAX_HINT, ResetFormat};

const HEADERS: &[&str] = &[
    "retry-after-ms",
    "x-ms-retry-after-ms",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// Bytes `HeaderValue::from_bytes` accepts: HTAB, visible ASCII, SP and obs-text.
fn value_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff];
    prop::collection::vec(byte, 0..40)
}

/// Values close to the real forms, so that the parsers get past their first byte.
fn near_miss() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        value_bytes(),
        "[0-9. +-]{0,25}".prop_map(String::into_bytes),
        r#"[a-z0-9";=,:()?* -]{0,40}"#.prop_map(String::into_bytes),
        r#""[a-z]{1,5}";r=-?[0-9]{1,17};t=-?[0-9.]{1,17}(, ?)?"#.prop_map(String::into_bytes),
        "(Mon|Tue|Sun|Tuesday),? [0-9]{1,2}[ -](Nov|Feb|nov)[ -][0-9]{2,4} [0-9:]{8} (GMT|UTC)?"
            .prop_map(String::into_bytes),
    ]
}

fn any_now() -> impl Strategy<Value = SystemTime> {
    (0u64..=8_000_000_000, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| UNIX_EPOCH + Duration::new(secs, nanos))
}

fn any_format() -> impl Strategy<Value = ResetFormat> {
    prop_oneof![
        Just(ResetFormat::Auto),
        Just(ResetFormat::DeltaSeconds),
        Just(ResetFormat::EpochSeconds)
    ]
}

fn retry_after(value: &[u8], now: SystemTime) -> Option<(Duration, HintSource)> {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", HeaderValue::from_bytes(value).expect("valid header bytes"));
    HintParser::new().parse_at(&headers, now).map(|h| (h.delay(), h.source()))
}

fn fixed_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// `1*DIGIT ["." 1*DIGIT]`, written without the parser's code.
fn is_decimal(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let int = parts.next();
    match (parts.next(), parts.next()) {
        (None, _) => ok(int),
        (frac @ Some(_), None) => ok(int) && ok(frac),
        _ => false,
    }
}

proptest! {
    #[test]
    fn any_bytes_in_any_header_never_panic(
        lines in prop::collection::vec((0..HEADERS.len(), near_miss()), 0..8),
        now in any_now(),
        format in any_format(),
    ) {
        let mut headers = HeaderMap::new();
        for (index, value) in &lines {
            let value = HeaderValue::from_bytes(value).expect("valid header bytes");
            headers.append(HeaderName::from_static(HEADERS[*index]), value);
        }
        let parser = HintParser::new().reset_format(format);
        if let Some(hint) = parser.parse_at(&headers, now) {
            prop_assert!(hint.delay() <= MAX_HINT);
        }
        if let Some(status) = parser.rate_limit_at(&headers, now) {
            prop_assert!(status.reset() <= MAX_HINT);
        }
    }

    #[test]
    fn retry_after_garbage_gives_no_hint(value in near_miss(), now in any_now()) {
        let trimmed = value.trim_ascii();
        prop_assume!(trimmed.iter().any(|b| !b.is_ascii_digit() && *b != b'.'));
        let is_date = std::str::from_utf8(trimmed)
            .is_ok_and(|s| httpdate::parse_http_date(s).is_ok());
        prop_assume!(!is_date);
        prop_assert_eq!(retry_after(&value, now), None);
    }

    #[test]
    fn retry_after_digits_and_dots_are_valid_only_as_decimals(value in "[0-9.]{0,12}") {
        let got = retry_after(value.as_bytes(), fixed_now());
        prop_assert_eq!(got.is_some(), is_decimal(&value), "{:?} gave {:?}", value, got);
    }

    #[test]
    fn retry_after_seconds_is_min_of_value_and_max(n in any::<u64>(), pad in "[ \t]{0,2}") {
        let value = format!("{pad}{n}{pad}");
        let expected = Duration::from_secs(n).min(MAX_HINT);
        prop_assert_eq!(retry_after(value.as_bytes(), fixed_now()), Some((expected, HintSource::RetryAfter)));
    }

    #[test]
    fn retry_after_ms_is_min_of_value_and_max(n in any::<u64>()) {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after-ms", HeaderValue::from(n));
        let hint = HintParser::new().parse_at(&headers, fixed_now());
        let expected = Duration::from_millis(n).min(MAX_HINT);
        prop_assert_eq!(hint.map(|h| (h.delay(), h.source())), Some((expected, HintSource::RetryAfterMs)));
    }

    #[test]
    fn retry_after_fraction_rounds_up_to_the_millisecond(n in 0u64..40_000_000, frac in "[0-9]{1,30}") {
        let value = format!("{n}.{frac}");
        // ceil(0.frac × 1000) in integers: 30 digits times 1000 fits in a u128.
        let scale = 10u128.pow(u32::try_from(frac.len()).expect("short"));
        let numerator: u128 = frac.parse::<u128>().expect("digits") * 1000;
        let millis = u64::try_from(numerator.div_ceil(scale)).expect("at most 1000");
        let expected = (Duration::from_secs(n) + Duration::from_millis(millis)).min(MAX_HINT);
        prop_assert_eq!(retry_after(value.as_bytes(), fixed_now()), Some((expected, HintSource::RetryAfter)));
    }

    #[test]
    fn future_http_date_is_exactly_date_minus_now(
        now_secs in 946_684_800u64..4_102_444_800,
        now_nanos in 0u32..1_000_000_000,
        ahead in 1u64..=365 * 86_400,
    ) {
        let now = UNIX_EPOCH + Duration::new(now_secs, now_nanos);
        let date = UNIX_EPOCH + Duration::from_secs(now_secs + ahead);
        let value = httpdate::fmt_http_date(date);
        let expected = date.duration_since(now).expect("date is ahead");
        prop_assert_eq!(retry_after(value.as_bytes(), now), Some((expected, HintSource::RetryAfter)));
    }

    #[test]
    fn past_http_date_is_now(now_secs in 946_684_800u64..4_102_444_800, behind in 0u64..=946_684_800) {
        let now = UNIX_EPOCH + Duration::from_secs(now_secs);
        let value = httpdate::fmt_http_date(now - Duration::from_secs(behind));
        prop_assert_eq!(retry_after(value.as_bytes(), now), Some((Duration::ZERO, HintSource::RetryAfter)));
    }

    #[test]
    fn ietf_hint_is_largest_t_among_exhausted_items(
        items in prop::collection::vec((0u64..3, 0u64..1_000_000), 1..6),
    ) {
        let field = items
            .iter()
            .enumerate()
            .map(|(i, (r, t))| format!("\"p{i}\";r={r};t={t}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit", HeaderValue::from_str(&field).expect("ascii"));
        let expected = items.iter().filter(|(r, _)| *r == 0).map(|(_, t)| Duration::from_secs(*t)).max();
        let hint = HintParser::new().parse_at(&headers, fixed_now());
        prop_assert_eq!(hint.map(|h| h.delay()), expected.map(|d| d.min(MAX_HINT)));
    }
}
