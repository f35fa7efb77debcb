//! One key's circuit: the state machine and its sliding failure window.

use std::time::Duration;

use tokio::time::Instant;
use volley_core::Key;

use crate::CircuitState;

/// How many buckets the failure-rate window is cut into: it slides one bucket at a time.
const BUCKETS: usize = 10;

/// The settings of a [`BreakerLayer`](crate::BreakerLayer), checked when they were set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// Consecutive failures that trip a closed circuit; 0: off.
    pub(crate) consecutive: u32,
    pub(crate) rate: Option<RateTrip>,
    pub(crate) open_base: Duration,
    pub(crate) open_max: Duration,
    pub(crate) jitter: f64,
    pub(crate) probes: u32,
    pub(crate) success_threshold: u32,
    pub(crate) max_keys: usize,
}

/// Trip when at least `ratio` of the calls in the last `window` failed, once there were at
/// least `min_calls` of them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateTrip {
    pub(crate) ratio: f64,
    pub(crate) window: Duration,
    pub(crate) min_calls: u32,
}

/// What one call said about its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success,
    Failure,
    /// Nothing either way: cancelled, or stopped by a layer before it left.
    Ignore,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Closed => "closed",
            Phase::Open { .. } => "open",
            Phase::HalfOpen { .. } => "half-open",
        }
    }
}

/// What [`Circuit::admit`] decided.
pub(crate) enum Admit {
    /// Let through; record its verdict under this generation.
    Call { generation: u64, probe: bool },
    /// Refused: the next probe is this far away.
    Refuse { retry_in: Duration },
}

#[derive(Debug)]
pub(crate) struct Circuit {
    pub(crate) phase: Phase,
    /// Changes on every transition, so verdicts of calls let through in an earlier phase
    /// are not counted in this one.
    pub(crate) generation: u64,
    consecutive: u32,
    window: Window,
    /// The un-jittered duration of the next opening: the base, doubled by each failed probe.
    open_for: Duration,
    pub(crate) times_opened: u64,
}

impl Circuit {
    pub(crate) fn new(config: &Config, now: Instant, generation: u64) -> Self {
        let bucket =
            config.rate.map_or(Duration::from_secs(1), |rate| rate.window / BUCKETS as u32);
        Self {
            phase: Phase::Closed,
            generation,
            consecutive: 0,
            window: Window::new(now, bucket),
            open_for: config.open_base,
            times_opened: 0,
        }
    }

    /// Whether dropping this circuit loses nothing that matters: closed with no failure in
    /// the window (an older run of failures is forgotten with it), or open with its time
    /// up for a whole window and nobody calling since (a host no longer used).
    pub(crate) fn is_idle(&self, now: Instant) -> bool {
        match self.phase {
            Phase::Closed => self.window.failures(now) == 0,
            Phase::Open { until } => now.saturating_duration_since(until) >= self.window.span(),
            Phase::HalfOpen { .. } => false,
        }
    }

    pub(crate) fn state(&self, now: Instant) -> CircuitState {
        match self.phase {
            Phase::Closed => CircuitState::Closed,
            // Its time is up: the next call will be a probe.
            Phase::Open { until } if now >= until => CircuitState::HalfOpen,
            Phase::Open { until } => CircuitState::Open { retry_in: until - now },
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    pub(crate) fn admit(
        &mut self,
        config: &Config,
        key: &Key,
        now: Instant,
        next_gen: &mut u64,
    ) -> Admit {
        if let Phase::Open { until } = self.phase {
            if now < until {
                return Admit::Refuse { retry_in: until - now };
            }
            self.transition(key, Phase::HalfOpen { in_flight: 0, successes: 0 }, next_gen, None);
        }
        match &mut self.phase {
            Phase::Closed => Admit::Call { generation: self.generation, probe: false },
            Phase::HalfOpen { in_flight, .. } if *in_flight < config.probes => {
                *in_flight += 1;
                Admit::Call { generation: self.generation, probe: true }
            }
            // Every probe slot is taken and nobody knows when the probes will answer: the
            // base open duration is the honest upper guess for a caller that wants to wait.
            Phase::HalfOpen { .. } | Phase::Open { .. } => {
                Admit::Refuse { retry_in: config.open_base }
            }
        }
    }

    /// Counts a call's verdict; returns whether the circuit opened.
    pub(crate) fn record(
        &mut self,
        config: &Config,
        key: &Key,
        probe: bool,
        verdict: Verdict,
        now: Instant,
        next_gen: &mut u64,
    ) -> bool {
        match &mut self.phase {
            Phase::Closed => match verdict {
                Verdict::Ignore => false,
                Verdict::Success => {
                    self.consecutive = 0;
                    self.window.record(now, false);
                    false
                }
                Verdict::Failure => {
                    self.consecutive = self.consecutive.saturating_add(1);
                    self.window.record(now, true);
                    let by_count = config.consecutive > 0 && self.consecutive >= config.consecutive;
                    if by_count || self.rate_tripped(config, now) {
                        self.open(config, key, now, next_gen);
                        return true;
                    }
                    false
                }
            },
            Phase::HalfOpen { in_flight, successes } if probe => {
                *in_flight = in_flight.saturating_sub(1);
                match verdict {
                    Verdict::Ignore => false,
                    Verdict::Success => {
                        *successes += 1;
                        if *successes >= config.success_threshold {
                            self.open_for = config.open_base;
                            self.consecutive = 0;
                            self.window.clear();
                            self.transition(key, Phase::Closed, next_gen, None);
                        }
                        false
                    }
                    Verdict::Failure => {
                        self.open_for = self.open_for.saturating_mul(2).min(config.open_max);
                        self.open(config, key, now, next_gen);
                        true
                    }
                }
            }
            Phase::HalfOpen { .. } | Phase::Open { .. } => false,
        }
    }

    fn rate_tripped(&self, config: &Config, now: Instant) -> bool {
        let Some(rate) = config.rate else { return false };
        let (calls, failures) = self.window.totals(now);
        calls >= rate.min_calls && f64::from(failures) >= rate.ratio * f64::from(calls)
    }

    fn open(&mut self, config: &Config, key: &Key, now: Instant, next_gen: &mut u64) {
        let factor = 1.0 + config.jitter * (2.0 * fastrand::f64() - 1.0);
        let open_for = self.open_for.mul_f64(factor).min(config.open_max);
        self.consecutive = 0;
        self.window.clear();
        self.times_opened += 1;
        let until = now.checked_add(open_for).unwrap_or(now + config.open_max);
        self.transition(key, Phase::Open { until }, next_gen, Some(open_for));
    }

    fn transition(&mut self, key: &Key, to: Phase, next_gen: &mut u64, open_for: Option<Duration>) {
        let from = self.phase.name();
        self.phase = to;
        self.generation = *next_gen;
        *next_gen += 1;
        #[cfg(feature = "metrics")]
        metrics::counter!(
            volley_core::telemetry::names::BREAKER_TRANSITIONS,
            "key" => volley_core::telemetry::key_label(key),
            "state" => match to {
                Phase::Closed => "closed",
                Phase::Open { .. } => "open",
                Phase::HalfOpen { .. } => "half_open",
            }
        )
        .increment(1);
        match open_for {
            Some(open_for) => tracing::info!(
                key = %key, from, to = to.name(), open_ms = open_for.as_millis() as u64,
                "circuit breaker opened"
            ),
            None => {
                tracing::info!(key = %key, from, to = to.name(), "circuit breaker state changed")
            }
        }
    }
}

/// Calls and failures over the last `BUCKETS` buckets of time.
#[derive(Debug)]
struct Window {
    origin: Instant,
    bucket: Duration,
    buckets: [Bucket; BUCKETS],
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    /// Which bucket of time (counted from `origin`) this one holds.
    slot: u64,
    calls: u32,
    failures: u32,
}

impl Window {
    fn new(origin: Instant, bucket: Duration) -> Self {
        Self {
            origin,
            bucket: bucket.max(Duration::from_nanos(1)),
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    fn slot(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.bucket.as_nanos()).unwrap_or(u64::MAX)
    }

    fn record(&mut self, now: Instant, failed: bool) {
        let slot = self.slot(now);
        let bucket = &mut self.buckets[(slot % BUCKETS as u64) as usize];
        if bucket.slot != slot {
            *bucket = Bucket { slot, calls: 0, failures: 0 };
        }
        bucket.calls = bucket.calls.saturating_add(1);
        bucket.failures = bucket.failures.saturating_add(u32::from(failed));
    }

    fn live(&self, now: Instant) -> impl Iterator<Item = &Bucket> {
        let slot = self.slot(now);
        self.buckets.iter().filter(move |b| b.slot <= slot && slot - b.slot < BUCKETS as u64)
    }

    fn totals(&self, now: Instant) -> (u32, u32) {
        self.live(now).fold((0, 0), |(calls, failures), b| {
            (calls.saturating_add(b.calls), failures.saturating_add(b.failures))
        })
    }

    fn failures(&self, now: Instant) -> u32 {
        self.totals(now).1
    }

    /// The length of time the window covers.
    fn span(&self) -> Duration {
        self.bucket.saturating_mul(BUCKETS as u32)
    }

    fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}
