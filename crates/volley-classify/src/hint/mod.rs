//! Server timing hints: how long a server asked the client to wait, read from response headers.
//!
//! [`HintParser::parse`] reads every header form servers use to say "come back later" and
//! returns one [`Hint`]. [`HintParser::rate_limit`] reads the quota headers and returns the
//! most restrictive [`RateLimitStatus`].
//!
//! # Forms, in order of precedence
//!
//! The first form that yields a valid value wins; an invalid value in one form falls
//! through to the next.
//!
//! | # | header | value | [`HintSource`] |
//! |---|---|---|---|
//! | 1 | `retry-after-ms` | milliseconds | `RetryAfterMs` |
//! | 2 | `x-ms-retry-after-ms` | milliseconds | `XMsRetryAfterMs` |
//! | 3 | `Retry-After` (RFC 9110 §10.2.3) | seconds, or an HTTP-date | `RetryAfter` |
//! | 4 | `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11) | largest `t` among items with `r=0` | `RateLimit` |
//! | 5 | `RateLimit-Reset` (drafts ≤ 06) | seconds, if `RateLimit-Remaining` is 0 or absent | `RateLimitReset` |
//! | 6 | `X-RateLimit-Reset` | see [`ResetFormat`], if `X-RateLimit-Remaining` is 0 or absent | `XRateLimitReset` |
//!
//! # Values
//!
//! - Spaces and tabs around a value are ignored. A value that is not visible ASCII is invalid.
//! - Numbers are `1*DIGIT`, leading zeros allowed. Leniently, a decimal fraction (`1.5`) is
//!   accepted and rounded *up*: to the millisecond for seconds, to the microsecond for
//!   milliseconds, so the client never comes back earlier than asked. Signs, exponents,
//!   hex, units, inner spaces, a bare `.` side (`1.`, `.5`) and empty values are invalid.
//! - An HTTP-date (any of the three RFC 9110 forms, case-sensitive, weekday checked) gives
//!   `date - now`; a date in the past or equal to now gives [`Duration::ZERO`], a valid hint
//!   meaning "now".
//! - Any delay above [`MAX_HINT`] (365 days), and any number whose digits overflow, is
//!   clamped to [`MAX_HINT`]: the server did ask for an absurd wait, and the retry layer
//!   refuses it by its own cap.
//! - Reset values of the rate-limit forms (`t`, `RateLimit-Reset`, `X-RateLimit-Reset`) of
//!   `1_000_000_000` or more are read as Unix times, never as 31 years or more of waiting
//!   (for `X-RateLimit-Reset`, [`ResetFormat`] can say otherwise; it never reads a current
//!   Unix time as a delay either).
//! - Several lines of a scalar header: the largest valid delay wins, so the client never
//!   comes back earlier than any line asked; invalid lines are skipped. For `*-Remaining`
//!   and `*-Limit` the smallest count wins. An unreadable `*-Remaining` counts as absent.
//! - Garbage never panics and never yields a hint.
//!
//! # The IETF fields
//!
//! `RateLimit` and `RateLimit-Policy` are Structured Field lists (RFC 9651); several lines
//! are joined into one list. A field that does not parse is ignored whole. Each item is
//! named by a String (a Token is accepted too) and needs an Integer `r` ≥ 0; items without
//! one, and inner lists, are skipped. Only items with `r=0` and an Integer `t` ≥ 0 give a
//! hint, the largest `t` winning. `pk` and unknown parameters are ignored.
//!
//! # Bounded work
//!
//! A response head can carry hundreds of kilobytes of headers, and these parsers run on
//! every response a rate limiter with feedback sees, so each form costs time linear in its
//! size, and the structured fields are capped: a `RateLimit` or `RateLimit-Policy` field
//! longer than [`MAX_RATELIMIT_FIELD_LEN`] (4 KiB, its lines joined) is ignored whole
//! without being parsed, and only the first [`MAX_RATELIMIT_ITEMS`] (64) members of each
//! list are read. `RateLimit` items find their `RateLimit-Policy` item by name in one
//! lookup; with several policies of one name, the first wins.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use http::HeaderMap;
//! use volley_classify::hint::{HintParser, HintSource};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", "120".parse().unwrap());
//! headers.insert("ratelimit", r#""default";r=0;t=30"#.parse().unwrap());
//!
//! let hint = HintParser::new().parse(&headers).unwrap();
//! assert_eq!(hint.delay(), Duration::from_secs(120));
//! assert_eq!(hint.source(), HintSource::RetryAfter);
//! assert_eq!(hint.to_string(), "retry after 120s (retry-after)");
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

mod rate_limit;
mod retry_after;

pub use rate_limit::RateLimitStatus;

/// The longest delay a [`Hint`] carries: 365 days. Larger values are clamped to it.
pub const MAX_HINT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The longest `RateLimit` or `RateLimit-Policy` field read, in bytes, its lines joined with
/// `, `: 4 KiB. A longer field is ignored whole, before any of it is parsed, like a field
/// that does not parse. Real servers send a few dozen bytes; the cap keeps the work one
/// response head can cause small (hyper admits heads of about 400 KB).
pub const MAX_RATELIMIT_FIELD_LEN: usize = 4 * 1024;

/// The most members of a `RateLimit` or `RateLimit-Policy` list read: 64. Members after the
/// 64th are ignored (a `RateLimit` item among them gives no hint and no status; a policy
/// among them is not matched).
pub const MAX_RATELIMIT_ITEMS: usize = 64;

/// A delay the server asked for, and the header that asked.
///
/// ```
/// use std::time::Duration;
/// use volley_classify::hint::{Hint, HintSource};
///
/// let hint = Hint::new(Duration::from_millis(1500), HintSource::RetryAfterMs);
/// assert_eq!(hint.to_string(), "retry after 1.5s (retry-after-ms)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hint {
    delay: Duration,
    source: HintSource,
}

impl Hint {
    /// A hint to wait `delay`, clamped to [`MAX_HINT`], as asked by `source`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use volley_classify::hint::{Hint, HintSource, MAX_HINT};
    ///
    /// let hint = Hint::new(Duration::from_secs(u64::MAX), HintSource::RetryAfter);
    /// assert_eq!(hint.delay(), MAX_HINT);
    /// ```
    pub fn new(delay: Duration, source: HintSource) -> Self {
        Hint { delay: delay.min(MAX_HINT), source }
    }

    /// How long to wait from the moment the headers were parsed; [`Duration::ZERO`] means now.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use volley_classify::hint::{Hint, HintSource};
    /// let hint = Hint::new(Duration::from_secs(2), HintSource::RetryAfter);
    /// assert_eq!(hint.delay(), Duration::from_secs(2));
    /// ```
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The header the delay was read from.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use volley_classify::hint::{Hint, HintSource};
    /// let hint = Hint::new(Duration::from_secs(2), HintSource::RateLimit);
    /// assert_eq!(hint.source(), HintSource::RateLimit);
    /// ```
    pub fn source(&self) -> HintSource {
        self.source
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("retry after ")?;
        fmt_delay(self.delay, f)?;
        write!(f, " ({})", self.source)
    }
}

/// Whole seconds ("2s"), trimmed fractions ("1.5s"), milliseconds below one second ("250ms").
fn fmt_delay(d: Duration, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (whole, frac, width, unit) = if d.is_zero() || d >= Duration::from_secs(1) {
        (d.as_secs(), d.subsec_nanos(), 9, "s")
    } else {
        (u64::from(d.subsec_millis()), d.subsec_nanos() % 1_000_000, 6, "ms")
    };
    write!(f, "{whole}")?;
    if frac != 0 {
        let digits = format!("{frac:0width$}");
        write!(f, ".{}", digits.trim_end_matches('0'))?;
    }
    f.write_str(unit)
}

/// The header a [`Hint`] was read from. `Display` and [`as_str`](Self::as_str) give its
/// lowercase name.
///
/// ```
/// use volley_classify::hint::HintSource;
///
/// assert_eq!(HintSource::XRateLimitReset.to_string(), "x-ratelimit-reset");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HintSource {
    /// `retry-after-ms`: milliseconds.
    RetryAfterMs,
    /// `x-ms-retry-after-ms`: milliseconds (Azure).
    XMsRetryAfterMs,
    /// `Retry-After`: seconds or an HTTP-date.
    RetryAfter,
    /// The IETF `RateLimit` structured field: `t` of an item with `r=0`.
    RateLimit,
    /// `RateLimit-Reset` of the drafts up to 06: seconds.
    RateLimitReset,
    /// `X-RateLimit-Reset`: seconds or a Unix time, see [`ResetFormat`].
    XRateLimitReset,
}

impl HintSource {
    /// The header's lowercase name.
    ///
    /// ```
    /// use volley_classify::hint::HintSource;
    ///
    /// assert_eq!(HintSource::RetryAfter.as_str(), "retry-after");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            HintSource::RetryAfterMs => "retry-after-ms",
            HintSource::XMsRetryAfterMs => "x-ms-retry-after-ms",
            HintSource::RetryAfter => "retry-after",
            HintSource::RateLimit => "ratelimit",
            HintSource::RateLimitReset => "ratelimit-reset",
            HintSource::XRateLimitReset => "x-ratelimit-reset",
        }
    }
}

impl fmt::Display for HintSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to read `X-RateLimit-Reset`, which vendors send either as seconds from now or as a
/// Unix time.
///
/// | setting | read as seconds from now | read as a Unix time |
/// |---|---|---|
/// | `Auto` (default) | below `1_000_000_000` | `1_000_000_000` or more (since 2001) |
/// | `DeltaSeconds` | everything else | within a year of now (sanity check) |
/// | `EpochSeconds` | below one year, `31_536_000` (sanity check) | everything else |
///
/// Whatever the setting, an epoch is never read as decades of waiting, and a Unix time in
/// the past means now.
///
/// ```
/// use volley_classify::hint::{HintParser, ResetFormat};
///
/// let parser = HintParser::new().reset_format(ResetFormat::EpochSeconds);
/// # drop(parser);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResetFormat {
    /// Values of `1_000_000_000` or more are Unix times, smaller ones are seconds from now.
    #[default]
    Auto,
    /// Seconds from now (Reddit and most `RateLimit-Reset` senders), except a value within
    /// a year of the current Unix time, which is read as one.
    DeltaSeconds,
    /// Unix time in seconds (GitHub), except a value below one year, which is read as
    /// seconds from now.
    EpochSeconds,
}

/// Turns response headers into a [`Hint`] or a [`RateLimitStatus`]. Cheap to build and clone.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use http::HeaderMap;
/// use volley_classify::hint::{HintParser, HintSource};
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
/// headers.insert("x-ratelimit-reset", "1700000060".parse().unwrap());
///
/// let hint = HintParser::new().parse_at(&headers, now).unwrap();
/// assert_eq!(hint.delay(), Duration::from_secs(60));
/// assert_eq!(hint.source(), HintSource::XRateLimitReset);
/// ```
#[derive(Clone, Debug, Default)]
pub struct HintParser {
    reset_format: ResetFormat,
}

impl HintParser {
    /// A parser with the default settings.
    pub fn new() -> Self {
        HintParser::default()
    }

    /// How to read `X-RateLimit-Reset` values.
    ///
    /// Defaults to [`ResetFormat::Auto`].
    #[must_use]
    pub fn reset_format(mut self, f: ResetFormat) -> Self {
        self.reset_format = f;
        self
    }

    /// The hint in `headers`, with HTTP-dates and Unix times measured from
    /// [`SystemTime::now`]. See the [module docs](self) for the rules.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use volley_classify::hint::HintParser;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", "soon".parse().unwrap());
    /// assert_eq!(HintParser::new().parse(&headers), None);
    /// ```
    pub fn parse(&self, headers: &HeaderMap) -> Option<Hint> {
        self.parse_at(headers, SystemTime::now())
    }

    /// The hint in `headers`, with HTTP-dates and Unix times measured from `now`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use volley_classify::hint::HintParser;
    ///
    /// let now = UNIX_EPOCH + Duration::from_secs(784_111_717); // Sun, 06 Nov 1994 08:48:37 GMT
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
    /// let hint = HintParser::new().parse_at(&headers, now).unwrap();
    /// assert_eq!(hint.delay(), Duration::from_secs(60));
    /// ```
    pub fn parse_at(&self, headers: &HeaderMap, now: SystemTime) -> Option<Hint> {
        let hint = |source, delay: Option<Duration>| delay.map(|d| Hint::new(d, source));
        hint(HintSource::RetryAfterMs, retry_after::millis(headers, "retry-after-ms"))
            .or_else(|| {
                hint(
                    HintSource::XMsRetryAfterMs,
                    retry_after::millis(headers, "x-ms-retry-after-ms"),
                )
            })
            .or_else(|| hint(HintSource::RetryAfter, retry_after::retry_after(headers, now)))
            .or_else(|| hint(HintSource::RateLimit, rate_limit::ietf_hint(headers, now)))
            .or_else(|| hint(HintSource::RateLimitReset, rate_limit::draft_hint(headers, now)))
            .or_else(|| {
                let delay = rate_limit::x_hint(headers, self.reset_format, now);
                hint(HintSource::XRateLimitReset, delay)
            })
    }

    /// The most restrictive quota in `headers`, with Unix times measured from
    /// [`SystemTime::now`]. See [`rate_limit_at`](Self::rate_limit_at).
    pub fn rate_limit(&self, headers: &HeaderMap) -> Option<RateLimitStatus> {
        self.rate_limit_at(headers, SystemTime::now())
    }

    /// The most restrictive quota in `headers`: the one with the least remaining, ties going
    /// to the longest reset.
    ///
    /// Candidates are every IETF `RateLimit` item (with the `q` and `w` of the
    /// `RateLimit-Policy` item of the same name), the draft ≤ 06 `RateLimit-Limit`,
    /// `-Remaining` and `-Reset`, and `X-RateLimit-Limit`, `-Remaining` and `-Reset`. A
    /// candidate needs a valid remaining count; a missing or invalid reset reads as
    /// [`Duration::ZERO`]. The IETF fields are read within the caps of
    /// [Bounded work](self#bounded-work).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use volley_classify::hint::HintParser;
    ///
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("ratelimit-policy", r#""burst";q=100;w=60,"daily";q=1000;w=86400"#.parse().unwrap());
    /// headers.insert("ratelimit", r#""burst";r=40;t=30,"daily";r=7;t=5000"#.parse().unwrap());
    ///
    /// let status = HintParser::new().rate_limit_at(&headers, now).unwrap();
    /// assert_eq!(status.policy(), Some("daily"));
    /// assert_eq!(status.remaining(), 7);
    /// assert_eq!(status.reset(), Duration::from_secs(5000));
    /// assert_eq!(status.limit(), Some(1000));
    /// assert_eq!(status.window(), Some(Duration::from_secs(86400)));
    /// ```
    pub fn rate_limit_at(&self, headers: &HeaderMap, now: SystemTime) -> Option<RateLimitStatus> {
        rate_limit::most_restrictive(headers, self.reset_format, now)
    }
}
