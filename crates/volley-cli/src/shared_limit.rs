//! `--redis`: one `--rate` shared by every `volley` process that uses the same Redis and
//! prefix, through `volley-ratelimit-redis` (see docs/scale-out.md).

use std::error::Error as _;
use std::time::Duration;

use clap::{Args, ValueEnum};
use volley_core::redact::{REDACTED, RedactedUrl};
use volley_ratelimit::RateLimitLayer;
use volley_ratelimit_redis::{FailurePolicy, RedisBackend};

use crate::args::{Rate, parse_duration};
use crate::{Fatal, console};

/// `--redis`, `--redis-prefix`, `--redis-fail`, `--redis-share` and `--redis-timeout`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Shared rate limit")]
pub(crate) struct RedisArgs {
    /// Keep the --rate buckets in this Redis, redis://[:PASSWORD@]HOST[:PORT][/DB]: every
    /// volley process given the same Redis and --redis-prefix shares one --rate per host
    #[arg(long, value_name = "URL", requires = "rate")]
    pub(crate) redis: Option<String>,
    /// Start of the Redis keys: processes share a quota exactly when they share a prefix
    /// [default: volley:rl]
    #[arg(long, value_name = "PREFIX", requires = "redis", value_parser = non_empty)]
    pub(crate) redis_prefix: Option<String>,
    /// When Redis does not answer in time: go on at --redis-share of --rate in this process
    /// (open), or fail the request without sending it (closed)
    #[arg(long, value_name = "POLICY", value_enum, default_value = "open", requires = "redis")]
    pub(crate) redis_fail: FailMode,
    /// With --redis-fail open, the part of --rate and --burst this process uses alone while
    /// Redis is away, in (0, 1]; 1/N keeps N processes within --rate [default: 1]
    #[arg(long, value_name = "F", value_parser = parse_share, requires = "redis")]
    pub(crate) redis_share: Option<f64>,
    /// Longest wait for Redis's answer before --redis-fail decides
    #[arg(
        long,
        value_name = "D",
        default_value = "50ms",
        value_parser = parse_timeout,
        requires = "redis"
    )]
    pub(crate) redis_timeout: Duration,
}

/// `--redis-fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailMode {
    Open,
    Closed,
}

/// The shared limiter of a run, kept to tell afterwards whether Redis let it down.
#[derive(Debug)]
pub(crate) struct SharedLimit {
    backend: RedisBackend,
    shown: String,
    fail: FailMode,
    share: f64,
}

impl RedisArgs {
    /// The rate limit layer of `--rate N/per --burst B` kept in Redis, or `None` without
    /// `--redis`. A URL the redis client refuses is a usage error that never shows the
    /// password.
    pub(crate) fn layer(
        &self,
        rate: Rate,
        burst: u32,
    ) -> Result<Option<(RateLimitLayer, SharedLimit)>, Fatal> {
        let Some(url) = &self.redis else { return Ok(None) };
        let shown = shown(url);
        let share = match (self.redis_fail, self.redis_share) {
            (FailMode::Closed, Some(_)) => {
                return Err(Fatal::Usage(
                    "--redis-share applies only with --redis-fail open".to_owned(),
                ));
            }
            (_, share) => share.unwrap_or(1.0),
        };
        let policy = match self.redis_fail {
            FailMode::Open => FailurePolicy::FailOpen { share },
            FailMode::Closed => FailurePolicy::FailClosed,
        };
        let mut builder = RedisBackend::builder(rate.n, rate.per)
            .burst(burst)
            .timeout(self.redis_timeout)
            .failure_policy(policy);
        if let Some(prefix) = &self.redis_prefix {
            builder = builder.prefix(prefix.as_str());
        }
        // Connects lazily, in the background: only the URL and the numbers are checked here.
        let backend = builder.build(url).map_err(|err| {
            let why = match err.source() {
                Some(source) => format!("{err}: {}", without_kind(&source.to_string())),
                None => err.to_string(),
            };
            Fatal::Usage(format!("cannot use --redis {shown}: {why}"))
        })?;
        let layer = RateLimitLayer::try_new(rate.n, rate.per, burst)
            .map_err(|err| Fatal::Usage(err.to_string()))?
            .backend(backend.clone());
        Ok(Some((layer, SharedLimit { backend, shown, fail: self.redis_fail, share })))
    }
}

impl SharedLimit {
    /// One line on stderr if Redis failed to answer during the run: the quota was then not
    /// shared (fail-open) or requests were refused (fail-closed). Nothing otherwise.
    pub(crate) fn report(&self) {
        let outages = self.backend.outages();
        if outages == 0 {
            return;
        }
        let times = if outages == 1 { "once".to_owned() } else { format!("{outages} times") };
        let meanwhile = match self.fail {
            FailMode::Open => {
                format!(
                    "this process went on alone at {} of --rate (--redis-fail open)",
                    self.share
                )
            }
            FailMode::Closed => {
                "requests were refused without being sent (--redis-fail closed)".to_owned()
            }
        };
        console::error(&format!(
            "the rate limit store at --redis {} stopped answering {times}; meanwhile {meanwhile}",
            self.shown
        ));
    }
}

/// The URL as messages show it: without its password ([`RedactedUrl`]), or not at all when
/// it is too malformed for that to be sure (an `@` left after redaction, a unix socket's
/// `pass=` query parameter).
fn shown(url: &str) -> String {
    let redacted = RedactedUrl(url).to_string();
    let rest = redacted.replacen(&format!("{REDACTED}@"), "", 1);
    if rest.contains('@') || rest.to_ascii_lowercase().contains("pass=") {
        "(URL not shown: it may hold a password)".to_owned()
    } else {
        redacted
    }
}

/// A redis error's text without the name of its kind: `Redis URL did not parse -
/// InvalidClientConfig` is `Redis URL did not parse`, `Invalid protocol version -
/// InvalidClientConfig: resp4` is `Invalid protocol version: resp4`.
fn without_kind(text: &str) -> String {
    match text.split_once(" - ") {
        Some((what, kind_and_detail)) => match kind_and_detail.split_once(": ") {
            Some((_kind, detail)) => format!("{what}: {detail}"),
            None => what.to_owned(),
        },
        None => text.to_owned(),
    }
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() { Err("must not be empty".to_owned()) } else { Ok(s.to_owned()) }
}

/// A fraction in (0, 1].
fn parse_share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(share) if share > 0.0 && share <= 1.0 => Ok(share),
        Ok(_) => Err("must be more than 0 and at most 1".to_owned()),
        Err(_) => Err(format!("{s:?} is not a number like 0.25")),
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be more than zero".to_owned()),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(shown("redis://:s3cret@10.0.0.5:6379/0"), "redis://[redacted]@10.0.0.5:6379/0");
        assert_eq!(shown("redis://bob:s3cret@h/1"), "redis://[redacted]@h/1");
        assert_eq!(shown("redis://127.0.0.1/"), "redis://127.0.0.1/");
        assert_eq!(shown("not-a-url"), "not-a-url");
        for malformed in
            ["redis//:s3cret@h", "redis://:s3/cret@h", "unix:///tmp/r.sock?pass=s3cret"]
        {
            let shown = shown(malformed);
            assert!(!shown.contains("s3") && !shown.contains("cret"), "{shown}");
        }
    }

    #[test]
    fn redis_errors_lose_their_kind() {
        assert_eq!(
            without_kind("Redis URL did not parse - InvalidClientConfig"),
            "Redis URL did not parse"
        );
        assert_eq!(
            without_kind("Invalid protocol version - InvalidClientConfig: resp4"),
            "Invalid protocol version: resp4"
        );
        assert_eq!(without_kind("plain"), "plain");
    }

    #[test]
    fn shares_and_timeouts() {
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert_eq!(parse_share("1"), Ok(1.0));
        for bad in ["0", "-1", "1.5", "NaN", "inf", "half"] {
            assert!(parse_share(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_timeout("0ms").is_err());
    }
}
