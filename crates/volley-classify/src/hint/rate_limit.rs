//! The IETF `RateLimit` / `RateLimit-Policy` structured fields, the draft ≤ 06
//! `RateLimit-*` headers, the vendor `X-RateLimit-*` headers, and [`RateLimitStatus`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use sfv::{BareItem, ListEntry, Parser};

use super::retry_after::{Unit, count, decimal, largest, trimmed};
use super::{MAX_HINT, MAX_RATELIMIT_FIELD_LEN, MAX_RATELIMIT_ITEMS, ResetFormat};

/// Reset values from here on are Unix times (2001-09-09); as a delay they would be 31 years.
const EPOCH_THRESHOLD: Duration = Duration::from_secs(1_000_000_000);

/// One quota as the server reported it; see
/// [`HintParser::rate_limit`](super::HintParser::rate_limit).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::HeaderMap;
/// use volley_classify::hint::HintParser;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-limit", "5000".parse().unwrap());
/// headers.insert("x-ratelimit-remaining", "4999".parse().unwrap());
/// headers.insert("x-ratelimit-reset", "1700003600".parse().unwrap());
///
/// let status = HintParser::new().rate_limit_at(&headers, now).unwrap();
/// assert_eq!(status.policy(), None);
/// assert_eq!(status.remaining(), 4999);
/// assert_eq!(status.reset(), Duration::from_secs(3600));
/// assert_eq!(status.limit(), Some(5000));
/// assert_eq!(status.window(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitStatus {
    policy: Option<String>,
    remaining: u64,
    reset: Duration,
    limit: Option<u64>,
    window: Option<Duration>,
}

impl RateLimitStatus {
    /// The IETF policy name (`"daily"` in `RateLimit: "daily";r=0;t=30`); `None` for the
    /// older headers, which have no names.
    pub fn policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    /// Quota units left (`r`, `RateLimit-Remaining`, `X-RateLimit-Remaining`).
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Time until the quota is restored, at most [`MAX_HINT`]; [`Duration::ZERO`] when the
    /// server sent no valid reset.
    pub fn reset(&self) -> Duration {
        self.reset
    }

    /// The quota (`q` of the matching `RateLimit-Policy` item, `RateLimit-Limit`,
    /// `X-RateLimit-Limit`), if the server sent one.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// The window of the quota (`w` of the matching `RateLimit-Policy` item), if known.
    pub fn window(&self) -> Option<Duration> {
        self.window
    }
}

/// The delay of the IETF `RateLimit` field: the largest `t` among items with `r=0`.
pub(super) fn ietf_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    service_limits(headers, now)
        .into_iter()
        .filter(|item| item.remaining == 0)
        .filter_map(|item| item.reset)
        .max()
}

/// The delay of the draft ≤ 06 headers: `RateLimit-Reset` while nothing remains.
pub(super) fn draft_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    exhausted(headers, "ratelimit-remaining")
        .then(|| reset(headers, "ratelimit-reset", ResetFormat::DeltaSeconds, now))
        .flatten()
}

/// The delay of `X-RateLimit-Reset` while `X-RateLimit-Remaining` is 0 or absent.
pub(super) fn x_hint(
    headers: &HeaderMap,
    format: ResetFormat,
    now: SystemTime,
) -> Option<Duration> {
    exhausted(headers, "x-ratelimit-remaining")
        .then(|| reset(headers, "x-ratelimit-reset", format, now))
        .flatten()
}

/// The status with the least remaining, ties going to the longest reset, then to the
/// first found (IETF items in order, the draft headers, the `X-` headers).
pub(super) fn most_restrictive(
    headers: &HeaderMap,
    format: ResetFormat,
    now: SystemTime,
) -> Option<RateLimitStatus> {
    // Indexed by name, the first of a name winning: one lookup per item keeps this linear
    // (a search per item was O(items × policies): 14 s of CPU for one 400 KB head).
    let policies = quota_policies(headers);
    let mut by_name = HashMap::with_capacity(policies.len());
    for policy in &policies {
        by_name.entry(policy.name.as_str()).or_insert(policy);
    }
    let ietf = service_limits(headers, now).into_iter().map(|item| {
        let policy = by_name.get(item.name.as_str());
        RateLimitStatus {
            remaining: item.remaining,
            reset: item.reset.unwrap_or(Duration::ZERO),
            limit: policy.and_then(|p| p.quota),
            window: policy.and_then(|p| p.window),
            policy: Some(item.name),
        }
    });
    let draft = scalar_status(headers, "ratelimit", ResetFormat::DeltaSeconds, now);
    let x = scalar_status(headers, "x-ratelimit", format, now);
    ietf.chain(draft)
        .chain(x)
        .min_by(|a, b| a.remaining.cmp(&b.remaining).then(b.reset.cmp(&a.reset)))
}

/// A status from `{prefix}-limit`, `{prefix}-remaining` and `{prefix}-reset`.
fn scalar_status(
    headers: &HeaderMap,
    prefix: &str,
    format: ResetFormat,
    now: SystemTime,
) -> Option<RateLimitStatus> {
    Some(RateLimitStatus {
        remaining: smallest_count(headers, &format!("{prefix}-remaining"))?,
        reset: reset(headers, &format!("{prefix}-reset"), format, now).unwrap_or(Duration::ZERO),
        // Drafts 01–03 wrote the policy after the limit: `10, 10;w=1, 50;w=60`.
        limit: headers
            .get_all(format!("{prefix}-limit"))
            .iter()
            .filter_map(trimmed)
            .filter_map(|s| s.split([',', ';']).next().and_then(|s| remaining_count(s.trim())))
            .min(),
        policy: None,
        window: None,
    })
}

/// Whether the remaining count is 0 or absent. An unreadable count counts as absent: the
/// reset beside it still says when the quota comes back.
fn exhausted(headers: &HeaderMap, name: &str) -> bool {
    smallest_count(headers, name).is_none_or(|n| n == 0)
}

/// The smallest valid count among several lines: the most restrictive one.
fn smallest_count(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get_all(name).iter().filter_map(trimmed).filter_map(remaining_count).min()
}

/// `1*DIGIT`, saturating: a count too large for `u64` is still a valid, huge count.
fn remaining_count(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| count(s).unwrap_or(u64::MAX))
}

/// The largest valid reset among all lines of `name`, read by `format`.
fn reset(
    headers: &HeaderMap,
    name: &str,
    format: ResetFormat,
    now: SystemTime,
) -> Option<Duration> {
    largest(headers, name, |s| decimal(s, Unit::Seconds).map(|v| reset_delay(v, format, now)))
}

/// A reset value in seconds as a delay from `now`, clamped to [`MAX_HINT`].
fn reset_delay(value: Duration, format: ResetFormat, now: SystemTime) -> Duration {
    let now_epoch = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let is_epoch = match format {
        ResetFormat::Auto => value >= EPOCH_THRESHOLD,
        // A "delay" that is a plausible current Unix time is an epoch from a server the user
        // mis-configured: never wait 56 years for it.
        ResetFormat::DeltaSeconds => now_epoch.abs_diff(value) <= MAX_HINT,
        // A "Unix time" within the first year of 1970 is a delay the server sent.
        ResetFormat::EpochSeconds => value >= MAX_HINT,
    };
    let delay = if is_epoch {
        match UNIX_EPOCH.checked_add(value) {
            Some(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
            None => MAX_HINT,
        }
    } else {
        value
    };
    delay.min(MAX_HINT)
}

/// One item of the IETF `RateLimit` field.
struct ServiceLimit {
    name: String,
    remaining: u64,
    reset: Option<Duration>,
}

/// The valid items of the `RateLimit` field. Items without a name or a valid `r` are
/// skipped; a field that is not a Structured Field list is ignored whole.
fn service_limits(headers: &HeaderMap, now: SystemTime) -> Vec<ServiceLimit> {
    items(headers, "ratelimit")
        .filter_map(|(name, params)| {
            Some(ServiceLimit {
                name,
                remaining: non_negative(params.get("r"))?,
                reset: non_negative(params.get("t"))
                    .map(|t| reset_delay(Duration::from_secs(t), ResetFormat::DeltaSeconds, now)),
            })
        })
        .collect()
}

/// One item of the IETF `RateLimit-Policy` field.
struct QuotaPolicy {
    name: String,
    quota: Option<u64>,
    window: Option<Duration>,
}

fn quota_policies(headers: &HeaderMap) -> Vec<QuotaPolicy> {
    items(headers, "ratelimit-policy")
        .map(|(name, params)| QuotaPolicy {
            name,
            quota: non_negative(params.get("q")),
            window: non_negative(params.get("w")).filter(|&w| w > 0).map(Duration::from_secs),
        })
        .collect()
}

/// The named items among the first [`MAX_RATELIMIT_ITEMS`] members of the Structured Field
/// list `name`, its lines joined as one list. A field longer than
/// [`MAX_RATELIMIT_FIELD_LEN`] is ignored whole, before any of it is parsed.
fn items(headers: &HeaderMap, name: &str) -> impl Iterator<Item = (String, sfv::Parameters)> {
    let list = joined(headers, name)
        .and_then(|field| Parser::parse_list(field.as_bytes()).ok())
        .unwrap_or_default();
    list.into_iter().take(MAX_RATELIMIT_ITEMS).filter_map(|entry| match entry {
        ListEntry::Item(item) => match item.bare_item {
            BareItem::String(name) | BareItem::Token(name) => Some((name, item.params)),
            _ => None,
        },
        ListEntry::InnerList(_) => None,
    })
}

/// The lines of `name` joined with `, `, or `None` if there are none, one is not visible
/// ASCII, or the whole is longer than [`MAX_RATELIMIT_FIELD_LEN`] (counted as it is read, so
/// a longer field costs no more than the cap).
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut field = String::new();
    for line in headers.get_all(name) {
        let line = trimmed(line)?;
        // An empty line is an empty list, not a member: joined as is it would read `a, `.
        if line.is_empty() {
            continue;
        }
        let separator = if field.is_empty() { "" } else { ", " };
        if field.len() + separator.len() + line.len() > MAX_RATELIMIT_FIELD_LEN {
            return None;
        }
        field.push_str(separator);
        field.push_str(line);
    }
    (!field.is_empty()).then_some(field)
}

/// An Integer parameter that is zero or more.
fn non_negative(value: Option<&BareItem>) -> Option<u64> {
    value.and_then(BareItem::as_int).and_then(|n| u64::try_from(n).ok())
}
