//! `--breaker`, `--adaptive`, `--hedge` and `--pace-quota`: the opt-in stages, their specs,
//! and what they did, read from the client's typed state.

use std::fmt::Write;
use std::time::Duration;

use clap::Args;
use volley::breaker::BreakerLayer;
use volley::hedge::HedgeLayer;
use volley::limit::Adaptive;
use volley::{ClientBuilder, Limits};

use crate::args::parse_duration;

/// The flags, as clap sees them.
#[derive(Debug, Args)]
pub(crate) struct ResilienceArgs {
    /// Fail fast while a host is down: a circuit breaker per host. Bare: 5 failures in a row
    /// or 50 % of 20+ calls in 10 s open it for 5 s (doubling up to 60 s). Tune with
    /// `failures=N,rate=P%,window=D,min-calls=N,open=D,max-open=D,probes=N`
    #[arg(long, value_name = "SPEC", num_args = 0..=1, default_missing_value = "",
          value_parser = parse_breaker, help_heading = "Resilience")]
    pub(crate) breaker: Option<BreakerSpec>,
    /// Let each host's concurrency limit find the host's capacity (replaces --per-host).
    /// Bare: the gradient algorithm between 1 and 200, starting at 20. Tune with
    /// `gradient|aimd,min=N,max=N,initial=N`
    #[arg(long, value_name = "SPEC", num_args = 0..=1, default_missing_value = "",
          value_parser = parse_adaptive, help_heading = "Resilience")]
    pub(crate) adaptive: Option<AdaptiveSpec>,
    /// Send one more attempt of a slow idempotent request; the first answer wins. Bare:
    /// after the host's p95 latency, at most 10 % extra requests. Tune with
    /// `p99` or a fixed delay `200ms`, and `budget=P%`
    #[arg(long, value_name = "SPEC", num_args = 0..=1, default_missing_value = "",
          value_parser = parse_hedge, help_heading = "Resilience")]
    pub(crate) hedge: Option<HedgeSpec>,
    /// Spread the requests a server's quota headers say remain (RateLimit, X-RateLimit-*)
    /// over the time until the quota resets, instead of meeting 429s
    #[arg(long, help_heading = "Resilience")]
    pub(crate) pace_quota: bool,
}

impl ResilienceArgs {
    /// `builder` with the stages these flags turn on.
    pub(crate) fn apply(&self, mut builder: ClientBuilder) -> ClientBuilder {
        if let Some(spec) = &self.breaker {
            builder = builder.circuit_breaker(spec.layer());
        }
        if let Some(spec) = &self.adaptive {
            builder = builder.adaptive_concurrency(spec.adaptive());
        }
        if let Some(spec) = &self.hedge {
            builder = builder.hedge(spec.layer());
        }
        builder.pace_from_quota(self.pace_quota)
    }
}

/// `--breaker`'s settings; `None` keeps the layer's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct BreakerSpec {
    failures: Option<u32>,
    rate: Option<f64>,
    window: Option<Duration>,
    min_calls: Option<u32>,
    open: Option<Duration>,
    max_open: Option<Duration>,
    probes: Option<u32>,
}

impl BreakerSpec {
    fn layer(&self) -> BreakerLayer {
        let mut layer = BreakerLayer::new();
        if let Some(n) = self.failures {
            layer = layer.consecutive_failures(n);
        }
        if self.rate.is_some() || self.window.is_some() || self.min_calls.is_some() {
            let rate = self.rate.unwrap_or(0.5);
            let window = self.window.unwrap_or(Duration::from_secs(10));
            layer = layer.failure_rate(rate, window, self.min_calls.unwrap_or(20));
        }
        if self.open.is_some() || self.max_open.is_some() {
            let open = self.open.unwrap_or(Duration::from_secs(5));
            layer =
                layer.open_for(open, self.max_open.unwrap_or(open.max(Duration::from_secs(60))));
        }
        if let Some(n) = self.probes {
            layer = layer.half_open_probes(n);
        }
        layer
    }
}

/// `--adaptive`'s settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AdaptiveSpec {
    aimd: bool,
    min: Option<usize>,
    max: Option<usize>,
    initial: Option<usize>,
}

impl AdaptiveSpec {
    fn adaptive(&self) -> Adaptive {
        let mut adaptive = if self.aimd { Adaptive::aimd() } else { Adaptive::gradient() };
        if let Some(max) = self.max {
            adaptive = adaptive.max(max);
        }
        if let Some(min) = self.min {
            adaptive = adaptive.min(min);
        }
        if let Some(initial) = self.initial {
            adaptive = adaptive.initial(initial);
        }
        adaptive
    }
}

/// `--hedge`'s settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HedgeSpec {
    after: Option<Duration>,
    percentile: Option<f64>,
    budget: Option<f64>,
}

impl HedgeSpec {
    fn layer(&self) -> HedgeLayer {
        let mut layer = match self.after {
            Some(delay) => HedgeLayer::after(delay),
            None => HedgeLayer::new(),
        };
        // Both were checked by the parser, so the layer accepts them.
        if let Some(q) = self.percentile
            && let Ok(with) = layer.clone().try_percentile(q)
        {
            layer = with;
        }
        if let Some(ratio) = self.budget
            && let Ok(with) = layer.clone().budget(ratio)
        {
            layer = with;
        }
        layer
    }
}

/// `key=value` items separated by commas; a bare item is passed as `(item, None)`.
fn items(spec: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    spec.split(',').map(str::trim).filter(|item| !item.is_empty()).map(|item| {
        match item.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (item, None),
        }
    })
}

fn need<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, String> {
    value.ok_or_else(|| format!("{key} needs a value, as {key}=…"))
}

fn count(key: &str, value: Option<&str>) -> Result<u32, String> {
    let value = need(key, value)?;
    match value.parse::<u32>() {
        Ok(0) | Err(_) => Err(format!("{key}={value} is not a whole number of at least 1")),
        Ok(n) => Ok(n),
    }
}

/// `50%` or `0.5`, strictly between 0 and 1 (or up to 1 with `inclusive`).
fn fraction(key: &str, value: Option<&str>) -> Result<f64, String> {
    let value = need(key, value)?;
    let ratio = match value.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => value.parse::<f64>(),
    }
    .map_err(|_| format!("{key}={value} is not a percentage like 50%"))?;
    if !(ratio > 0.0 && ratio <= 1.0) {
        return Err(format!("{key}={value} is not between 0 and 100%"));
    }
    Ok(ratio)
}

fn duration(key: &str, value: Option<&str>) -> Result<Duration, String> {
    let value = need(key, value)?;
    match parse_duration(value) {
        Ok(d) if d.is_zero() => Err(format!("{key}={value} must be more than zero")),
        Ok(d) => Ok(d),
        Err(err) => Err(format!("{key}: {err}")),
    }
}

fn unknown(flag: &str, key: &str, known: &str) -> String {
    format!("{flag}: unknown setting {key:?} (known: {known})")
}

pub(crate) fn parse_breaker(spec: &str) -> Result<BreakerSpec, String> {
    const KNOWN: &str = "failures, rate, window, min-calls, open, max-open, probes";
    let mut out = BreakerSpec::default();
    for (key, value) in items(spec) {
        match key {
            "failures" => out.failures = Some(count(key, value)?),
            "rate" => out.rate = Some(fraction(key, value)?),
            "window" => out.window = Some(duration(key, value)?),
            "min-calls" => out.min_calls = Some(count(key, value)?),
            "open" => out.open = Some(duration(key, value)?),
            "max-open" => out.max_open = Some(duration(key, value)?),
            "probes" => out.probes = Some(count(key, value)?),
            _ => return Err(unknown("--breaker", key, KNOWN)),
        }
    }
    if let (Some(open), Some(max)) = (out.open, out.max_open)
        && max < open
    {
        return Err(format!("--breaker: max-open ({max:?}) is shorter than open ({open:?})"));
    }
    Ok(out)
}

pub(crate) fn parse_adaptive(spec: &str) -> Result<AdaptiveSpec, String> {
    const KNOWN: &str = "gradient, aimd, min, max, initial";
    let mut out = AdaptiveSpec::default();
    for (key, value) in items(spec) {
        let number = |value| count(key, value).map(|n| n as usize);
        match (key, value) {
            ("gradient", None) => out.aimd = false,
            ("aimd", None) => out.aimd = true,
            ("min", _) => out.min = Some(number(value)?),
            ("max", _) => out.max = Some(number(value)?),
            ("initial", _) => out.initial = Some(number(value)?),
            _ => return Err(unknown("--adaptive", key, KNOWN)),
        }
    }
    let (min, max) = (out.min.unwrap_or(1), out.max.unwrap_or(200));
    if min > max {
        return Err(format!("--adaptive: min={min} is above max={max}"));
    }
    Ok(out)
}

pub(crate) fn parse_hedge(spec: &str) -> Result<HedgeSpec, String> {
    const KNOWN: &str = "pNN (a percentile such as p95), a delay such as 200ms, budget";
    let mut out = HedgeSpec::default();
    for (key, value) in items(spec) {
        match (key, value) {
            ("budget", _) => out.budget = Some(fraction(key, value)?),
            (p, None) if p.starts_with('p') && p.len() > 1 => {
                let q: f64 = p[1..].parse().map_err(|_| unknown("--hedge", key, KNOWN))?;
                if !(q > 0.0 && q < 100.0) {
                    return Err(format!("--hedge: {p} is not a percentile between p0 and p100"));
                }
                out.percentile = Some(q / 100.0);
            }
            (delay, None) if delay.starts_with(|c: char| c.is_ascii_digit()) => {
                out.after = Some(duration("delay", Some(delay))?);
            }
            _ => return Err(unknown("--hedge", key, KNOWN)),
        }
    }
    if out.after.is_some() && out.percentile.is_some() {
        return Err("--hedge: a fixed delay and a percentile cannot both be given".to_owned());
    }
    Ok(out)
}

/// One summary line per stage that ran, from the client's own counters: `None` when no
/// opt-in stage is on.
pub(crate) fn render(limits: &Limits) -> Option<String> {
    let mut out = String::new();
    if let Some(breaker) = limits.circuit_breaker() {
        let _ = writeln!(
            out,
            "  breaker   opened {} times · refused {} requests without sending them",
            breaker.opened_total(),
            breaker.refused_total()
        );
    }
    if let Some(hedge) = limits.hedge() {
        let _ = writeln!(
            out,
            "  hedging   {} hedges sent for {} requests · {} won · {} refused by the budget",
            hedge.hedges_sent(),
            hedge.requests(),
            hedge.hedges_won(),
            hedge.budget_refusals()
        );
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_flags_take_the_defaults() {
        assert_eq!(parse_breaker(""), Ok(BreakerSpec::default()));
        assert_eq!(parse_adaptive(""), Ok(AdaptiveSpec::default()));
        assert_eq!(parse_hedge(""), Ok(HedgeSpec::default()));
    }

    #[test]
    fn specs_parse_and_refuse_nonsense() {
        let breaker = parse_breaker("failures=3, rate=25%,window=30s,open=2s,max-open=1m").unwrap();
        assert_eq!(breaker.failures, Some(3));
        assert_eq!(breaker.rate, Some(0.25));
        assert_eq!(breaker.window, Some(Duration::from_secs(30)));
        assert_eq!(breaker.max_open, Some(Duration::from_secs(60)));
        assert!(parse_breaker("failures=0").unwrap_err().contains("at least 1"));
        assert!(parse_breaker("rate=150%").unwrap_err().contains("between 0 and 100%"));
        assert!(parse_breaker("open=10s,max-open=1s").unwrap_err().contains("shorter"));
        assert!(parse_breaker("trip=3").unwrap_err().contains("unknown setting \"trip\""));
        assert!(parse_breaker("failures").unwrap_err().contains("needs a value"));

        let adaptive = parse_adaptive("aimd,max=64").unwrap();
        assert_eq!(adaptive, AdaptiveSpec { aimd: true, max: Some(64), ..Default::default() });
        assert!(parse_adaptive("min=10,max=5").unwrap_err().contains("above max"));
        assert!(parse_adaptive("vegas").is_err());

        let hedge = parse_hedge("p99,budget=5%").unwrap();
        assert_eq!((hedge.percentile, hedge.budget), (Some(0.99), Some(0.05)));
        assert_eq!(parse_hedge("150ms").unwrap().after, Some(Duration::from_millis(150)));
        assert!(parse_hedge("p100").is_err());
        assert!(parse_hedge("150ms,p90").unwrap_err().contains("cannot both"));
        assert!(parse_hedge("0ms").unwrap_err().contains("more than zero"));
    }
}
