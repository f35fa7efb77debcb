//! The command line, as clap sees it, and the parsers for its values.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use http::Method;
use http::header::{HeaderName, HeaderValue};
use volley::redirect::MAX_HOPS;

use crate::resilience::ResilienceArgs;
use crate::shared_limit::RedisArgs;
use crate::transport::TransportArgs;

/// `volley`: fetch many URLs politely, run the test server, or watch the demo.
#[derive(Debug, Parser)]
#[command(name = "volley", version, about, arg_required_else_help = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

// Parsed once per run: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Fetch every URL of FILE (or stdin) and write one JSON record per input line
    Fetch(FetchArgs),
    /// Run the test server on 127.0.0.1, to try the client by hand (Ctrl-C stops it)
    Serve(ServeArgs),
    /// Run 1,000 requests against the embedded test server and show what each layer did
    Demo(DemoArgs),
}

/// `volley fetch`.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// URLs, one per line, or JSON lines {"url", "method", "headers", "body"}; `-` or
    /// nothing reads stdin
    pub(crate) input: Option<PathBuf>,
    /// Requests in flight at once
    #[arg(long, default_value = "50", value_parser = positive)]
    pub(crate) concurrency: usize,
    /// Requests in flight at once per host (scheme, host and port)
    #[arg(long, value_parser = positive)]
    pub(crate) per_host: Option<usize>,
    /// Attempts started per host, as N/s, N/m or N/h (retries included)
    #[arg(long, value_parser = parse_rate)]
    pub(crate) rate: Option<Rate>,
    /// Attempts a host may start at once after a quiet spell (with --rate)
    #[arg(long, default_value = "1", value_parser = positive_u32, requires = "rate")]
    pub(crate) burst: u32,
    /// Budget for each request: all attempts, the waits between them, and the body
    /// (`none` for no limit)
    #[arg(long, default_value = "30s", value_parser = parse_limit)]
    pub(crate) timeout: Limit,
    /// Budget for one attempt, head and body (`none` for no limit)
    #[arg(long, default_value = "10s", value_parser = parse_limit)]
    pub(crate) attempt_timeout: Limit,
    /// Budget for opening a connection (`none` for no limit)
    #[arg(long, default_value = "5s", value_parser = parse_limit)]
    pub(crate) connect_timeout: Limit,
    /// Retries after a failed attempt (0 turns retrying off)
    #[arg(long, default_value = "3")]
    pub(crate) retries: u32,
    /// Longest Retry-After honoured; a longer one ends the request with the server's answer
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) max_retry_after: Duration,
    /// Method for lines that do not name one [default: GET, or POST with --data]
    #[arg(short = 'X', long, value_parser = parse_method)]
    pub(crate) method: Option<Method>,
    /// Header sent with every request, as 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_parser = parse_header)]
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Body for lines that carry none; @FILE reads it from FILE
    #[arg(long)]
    pub(crate) data: Option<String>,
    /// Write the records to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Save each response body to DIR/N.body, N being its input line number
    #[arg(long, value_name = "DIR")]
    pub(crate) save_bodies: Option<PathBuf>,
    /// Write records as requests finish instead of in input order
    #[arg(long)]
    pub(crate) unordered: bool,
    /// No progress bar and no summary
    #[arg(short, long)]
    pub(crate) quiet: bool,
    // Reporting: --summary-json, -v and --fail-fast.
    /// Write the end-of-run summary as one JSON document to FILE (even with --quiet)
    #[arg(long, value_name = "FILE")]
    pub(crate) summary_json: Option<PathBuf>,
    /// Print a line per request on stderr as it finishes: attempts, waits, final status
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Stop at the first request that fails: start no more, drop those in flight
    #[arg(long)]
    pub(crate) fail_fast: bool,
    /// Redirects followed per request, at most 50 (0: a 3xx is recorded as it is)
    #[arg(
        long,
        value_name = "N",
        default_value = "10",
        value_parser = max_redirects,
        help_heading = "HTTP"
    )]
    pub(crate) max_redirects: usize,
    /// Keep cookies in one jar for the whole run, and send them back where they match
    #[arg(long, help_heading = "HTTP")]
    pub(crate) cookies: bool,
    /// Ask for no compression and leave compressed bodies as they are
    #[arg(long, help_heading = "HTTP")]
    pub(crate) no_decompress: bool,
    #[command(flatten)]
    pub(crate) resilience: ResilienceArgs,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
    #[command(flatten)]
    pub(crate) redis: RedisArgs,
}

/// `volley serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value = "8080")]
    pub(crate) port: u16,
}

/// `volley demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many requests to send (at most 1000000)
    #[arg(long, default_value = "1000", value_parser = demo_requests)]
    pub(crate) requests: usize,
}

/// A rate: `n` attempts per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rate {
    pub(crate) n: u32,
    pub(crate) per: Duration,
}

impl Rate {
    /// The longest an empty bucket may take to refill (2⁶³ ns, about 292 years): the
    /// limiter's clock counts nanoseconds in 64 bits.
    const MAX_REFILL_NANOS: u128 = 1 << 63;

    /// Refuses a burst that the limiter cannot hold: `burst` attempts at one every
    /// `per / n` must refill within [`Self::MAX_REFILL_NANOS`].
    pub(crate) fn check_burst(self, burst: u32) -> Result<(), String> {
        let interval = self.per.as_nanos().div_ceil(u128::from(self.n));
        if interval * u128::from(burst) > Self::MAX_REFILL_NANOS {
            return Err(format!(
                "--burst {burst} is too large for --rate {}/{}: an empty bucket would take more \
                 than 292 years to refill",
                self.n,
                unit(self.per)
            ));
        }
        Ok(())
    }
}

/// `s`, `m` or `h`, for the periods [`parse_rate`] makes.
fn unit(per: Duration) -> &'static str {
    match per.as_secs() {
        60 => "m",
        3600 => "h",
        _ => "s",
    }
}

/// A timeout, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limit(pub(crate) Option<Duration>);

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

fn max_redirects(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > MAX_HOPS => Err(format!("{n} is more than the {MAX_HOPS} the client follows")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

fn demo_requests(s: &str) -> Result<usize, String> {
    match positive(s)? {
        n if n > 1_000_000 => Err(format!("{n} is more than the demo's 1000000")),
        n => Ok(n),
    }
}

fn positive_u32(s: &str) -> Result<u32, String> {
    u32::try_from(positive(s)?).map_err(|_| format!("{s} is too large"))
}

/// `20/s`, `600/m`, `1000/h`; a bare number is per second. At most one per nanosecond,
/// beyond which the limiter cannot tell attempts apart.
fn parse_rate(s: &str) -> Result<Rate, String> {
    let (n, unit) = s.split_once('/').unwrap_or((s, "s"));
    let per = match unit.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        other => return Err(format!("unknown unit {other:?}: use N/s, N/m or N/h")),
    };
    let n = positive_u32(n.trim()).map_err(|e| format!("expected N/s, N/m or N/h: {e}"))?;
    if u128::from(n) > per.as_nanos() {
        return Err(format!("{s} is faster than one per nanosecond (at most 1000000000/s)"));
    }
    Ok(Rate { n, per })
}

/// `500ms`, `10s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 =
        number.parse().map_err(|_| format!("{s:?} is not a duration like 500ms, 10s or 2m"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit {other:?}: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|_| format!("{s:?} is out of range"))
}

fn parse_limit(s: &str) -> Result<Limit, String> {
    if matches!(s, "none" | "off") {
        return Ok(Limit(None));
    }
    let duration = parse_duration(s)?;
    if duration.is_zero() {
        return Err("must be more than zero (use `none` for no limit)".to_owned());
    }
    Ok(Limit(Some(duration)))
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::from_bytes(s.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{s:?} is not an HTTP method"))
}

/// `Name: value`. Errors never repeat the value: it may be a credential.
pub(crate) fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) =
        s.split_once(':').ok_or("a header is 'Name: value', and this has no ':'")?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| "the part before ':' is not a header name".to_owned())?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("invalid value for header {name}"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_a_unit() {
        assert_eq!(parse_rate("20/s"), Ok(Rate { n: 20, per: Duration::from_secs(1) }));
        assert_eq!(parse_rate("600/m"), Ok(Rate { n: 600, per: Duration::from_secs(60) }));
        assert_eq!(parse_rate("7"), Ok(Rate { n: 7, per: Duration::from_secs(1) }));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("5/d").unwrap_err().contains("unknown unit"));
        assert!(parse_rate("x/s").is_err());
        assert_eq!(
            parse_rate("1000000000/s").map(|r| r.n),
            Ok(1_000_000_000),
            "one per nanosecond is the fastest"
        );
        assert!(parse_rate("1000000001/s").unwrap_err().contains("faster than one per nanosecond"));
        assert!(parse_rate("4294967295").unwrap_err().contains("faster than one per nanosecond"));
        assert!(parse_rate("4294967295/m").is_ok(), "71582788 a second");
    }

    #[test]
    fn a_burst_must_refill_within_292_years() {
        let hourly = parse_rate("1/h").unwrap();
        // 3600 s × 2 562 047 = 9 223 369 200 s ≤ 2⁶³ ns ≈ 9 223 372 036.85 s.
        assert_eq!(hourly.check_burst(2_562_047), Ok(()));
        assert_eq!(
            hourly.check_burst(2_562_048).unwrap_err(),
            "--burst 2562048 is too large for --rate 1/h: an empty bucket would take more than \
             292 years to refill"
        );
        assert!(hourly.check_burst(u32::MAX).is_err());
        assert_eq!(parse_rate("1000000000/s").unwrap().check_burst(u32::MAX), Ok(()));
    }

    #[test]
    fn durations_and_limits() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert_eq!(parse_limit("none"), Ok(Limit(None)));
        assert!(parse_limit("0s").unwrap_err().contains("none"));
    }

    #[test]
    fn headers_and_methods() {
        let (name, value) = parse_header("X-Token:  abc ").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-token", "abc"));
        assert!(parse_header("Authorization Bearer s3cret").unwrap_err().contains("no ':'"));
        let bad_name = parse_header("bad name: s3cret").unwrap_err();
        assert!(!bad_name.contains("s3cret"), "{bad_name}");
        assert_eq!(parse_method("post"), Ok(Method::POST));
    }
}
