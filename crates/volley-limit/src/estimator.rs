//! The arithmetic of the adaptive limit, apart from semaphores and clocks so it can be
//! tested sample by sample.

use std::time::Duration;

use tokio::time::Instant;

use crate::adaptive::{Adaptive, Algorithm};

/// The limit the gradient probe uses to measure the unloaded latency (Envoy's default
/// `min_concurrency`), and how many samples it takes.
const PROBE_LIMIT: f64 = 3.0;
const PROBE_SAMPLES: u32 = 10;

/// One answered attempt.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    /// Permit acquisition to response head.
    pub(crate) rtt: Duration,
    /// The key's permits in use when the answer came, this attempt's included.
    pub(crate) in_flight: usize,
    /// An overload signal: `Throttled` or `Retryable`.
    pub(crate) dropped: bool,
    /// The estimator's epoch when the attempt got its permits.
    pub(crate) epoch: u64,
}

/// One key's adaptive limit.
#[derive(Clone, Debug)]
pub(crate) struct Estimator {
    limit: f64,
    min_rtt: Option<Duration>,
    next_probe: Option<Instant>,
    probe: Option<Probe>,
    /// Gradient: the samples of the current round.
    window: Window,
    /// Bumped at each decrease and when a probe starts. A drop counts only if its attempt
    /// was admitted since the last decrease (attempts admitted at the old, higher limit
    /// would otherwise cut it again and again for one overload, as TCP cuts its window once
    /// per round trip), and a probe sample only if its attempt was admitted at the probe
    /// limit.
    epoch: u64,
}

/// The samples of one gradient round.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    count: usize,
    rtt_sum: f64,
    max_in_flight: usize,
}

#[derive(Clone, Copy, Debug)]
struct Probe {
    saved: f64,
    best: Option<Duration>,
    left: u32,
}

impl Estimator {
    pub(crate) fn new(config: &Adaptive) -> Self {
        Self {
            limit: config.initial as f64,
            min_rtt: None,
            next_probe: None,
            probe: None,
            window: Window::default(),
            epoch: 0,
        }
    }

    /// The permits the limit stands for now.
    pub(crate) fn permits(&self, config: &Adaptive) -> usize {
        (self.limit.floor() as usize).clamp(config.min, config.max)
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    pub(crate) fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// Moves the limit by one sample.
    pub(crate) fn update(&mut self, config: &Adaptive, sample: Sample, now: Instant) {
        let min = config.min as f64;
        let dropped =
            sample.dropped || config.latency_threshold.is_some_and(|limit| sample.rtt > limit);
        let current = sample.epoch == self.epoch;
        if let Some(probe) = &mut self.probe {
            if dropped && current {
                // Overload during a probe ends it: the host is not unloaded, so what it would
                // measure is not `min_rtt`; cut the limit it would have returned to.
                self.limit = (probe.saved * config.backoff).max(min);
                self.probe = None;
                self.epoch += 1;
                self.next_probe = now.checked_add(config.min_rtt_interval);
            } else if current {
                probe.best = Some(probe.best.map_or(sample.rtt, |best| best.min(sample.rtt)));
                probe.left -= 1;
                if probe.left == 0 {
                    self.min_rtt = probe.best;
                    self.limit = probe.saved;
                    self.probe = None;
                    self.next_probe = now.checked_add(config.min_rtt_interval);
                }
            }
            return;
        }
        if dropped {
            if current {
                self.limit = (self.limit * config.backoff).max(min);
                self.epoch += 1;
            }
            return;
        }
        match config.algorithm {
            Algorithm::Aimd => {
                // One more permit per limit's worth of good samples: +1 per round trip.
                if sample.in_flight * 2 >= self.permits(config) {
                    self.limit = (self.limit + 1.0 / self.limit).min(config.max as f64);
                }
            }
            Algorithm::Gradient => self.gradient(config, sample, now),
        }
    }

    fn gradient(&mut self, config: &Adaptive, sample: Sample, now: Instant) {
        let min_rtt = match self.min_rtt {
            Some(min_rtt) if min_rtt <= sample.rtt => min_rtt,
            _ => {
                self.min_rtt = Some(sample.rtt);
                sample.rtt
            }
        };
        // One update per round: as many samples as the limit, in the order they come back.
        // (Taking only attempts admitted at this limit would keep the fast ones and miss
        // those that queued, which come back after the round closed.)
        let window = &mut self.window;
        window.count += 1;
        window.rtt_sum += sample.rtt.as_secs_f64();
        window.max_in_flight = window.max_in_flight.max(sample.in_flight);
        if window.count < self.permits(config) {
            return;
        }
        let window = std::mem::take(&mut self.window);
        match self.next_probe {
            None => self.next_probe = now.checked_add(config.min_rtt_interval),
            Some(at) if at <= now => {
                let saved = self.limit;
                self.limit = self.limit.min(PROBE_LIMIT.max(config.min as f64));
                self.probe = Some(Probe { saved, best: None, left: PROBE_SAMPLES });
                self.epoch += 1;
                return;
            }
            Some(_) => {}
        }
        // A host used below half the limit says nothing about the limit: do not grow on it.
        if (window.max_in_flight as f64) < self.limit / 2.0 {
            return;
        }
        let rtt = window.rtt_sum / window.count as f64;
        let gradient = if rtt <= 0.0 {
            1.0
        } else {
            (config.tolerance * min_rtt.as_secs_f64() / rtt).clamp(0.5, 1.0)
        };
        let target = self.limit * gradient + self.limit.sqrt();
        let limit = self.limit * (1.0 - config.smoothing) + target * config.smoothing;
        self.limit = limit.clamp(config.min as f64, config.max as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn sample(rtt_ms: u32, in_flight: usize, dropped: bool) -> Sample {
        Sample { rtt: MS * rtt_ms, in_flight, dropped, epoch: 0 }
    }

    impl Estimator {
        /// A sample from an attempt admitted now.
        fn feed(&mut self, config: &Adaptive, rtt_ms: u32, in_flight: usize, dropped: bool) {
            let sample = Sample { epoch: self.epoch, ..sample(rtt_ms, in_flight, dropped) };
            self.update(config, sample, Instant::now());
        }
    }

    #[test]
    fn aimd_adds_one_per_round_and_backs_off_once_per_round() {
        let config = Adaptive::aimd().initial(10).max(12).validate();
        let mut est = Estimator::new(&config);
        for _ in 0..10 {
            est.feed(&config, 10, 10, false);
        }
        assert_eq!(est.permits(&config), 10); // 10 + 10 × 1/10.x, just under 11
        est.feed(&config, 10, 10, false);
        assert_eq!(est.permits(&config), 11);
        let before = est.limit;
        est.feed(&config, 10, 5, false); // under half used: no growth
        assert_eq!(est.limit, before);
        for _ in 0..100 {
            est.feed(&config, 10, 12, false);
        }
        assert_eq!(est.permits(&config), 12); // max
        est.feed(&config, 10, 12, true);
        assert_eq!(est.permits(&config), 10); // 12 × 0.9 = 10.8
        // More drops from attempts admitted before that cut: already paid for.
        for _ in 0..50 {
            est.update(&config, sample(10, 12, true), Instant::now());
        }
        assert_eq!(est.permits(&config), 10);
        est.feed(&config, 6_000, 12, false); // above the 5 s threshold
        assert_eq!(est.permits(&config), 9); // 10.8 × 0.9 = 9.72
        for _ in 0..100 {
            est.feed(&config, 10, 12, true);
        }
        assert_eq!(est.permits(&config), 1);
    }

    #[test]
    fn gradient_settles_at_tolerance_times_capacity_plus_headroom() {
        // A host with 20 workers of 100 ms, always saturated: latency = 100 ms × limit / 20.
        let config = Adaptive::gradient().validate();
        let mut est = Estimator::new(&config);
        let now = Instant::now();
        for _ in 0..5000 {
            let limit = est.permits(&config);
            let rtt = 100 * (limit.max(20) as u32) / 20;
            est.update(&config, Sample { epoch: est.epoch, ..sample(rtt, limit, false) }, now);
        }
        // limit = 20 + √limit ⇒ 24.6.
        assert!((23..=25).contains(&est.permits(&config)), "{est:?}");
        assert_eq!(est.min_rtt(), Some(MS * 100));
        // An overload cuts it by a tenth.
        let before = est.limit;
        est.feed(&config, 100, est.permits(&config), true);
        assert!((est.limit - before * 0.9).abs() < 1e-9, "{before} → {}", est.limit);
    }

    #[test]
    fn the_gradient_probe_measures_min_rtt_again_and_restores_the_limit() {
        let config = Adaptive::gradient().initial(10).validate();
        let mut est = Estimator::new(&config);
        let round = |est: &mut Estimator, rtt_ms: u32, at: Instant| {
            for _ in 0..est.permits(&config) {
                let sample = Sample { epoch: est.epoch, ..sample(rtt_ms, 10, false) };
                est.update(&config, sample, at);
            }
        };
        let start = Instant::now();
        round(&mut est, 100, start);
        assert_eq!((est.permits(&config), est.epoch()), (10, 0)); // 10 + 0.2 × √10
        let grown = est.limit;
        // The host became slower for good: 200 ms unloaded. The first round after the
        // interval starts a probe at a limit of 3.
        let later = start + Duration::from_secs(61);
        round(&mut est, 200, later);
        assert_eq!((est.permits(&config), est.epoch()), (3, 1));
        // Answers of attempts admitted before the probe do not count.
        for _ in 0..20 {
            est.update(&config, sample(150, 3, false), later);
        }
        assert_eq!(est.permits(&config), 3);
        for _ in 0..PROBE_SAMPLES {
            est.update(&config, Sample { epoch: 1, ..sample(200, 3, false) }, later);
        }
        assert_eq!((est.limit, est.min_rtt()), (grown, Some(MS * 200)));

        // An overload during the next probe ends it with a cut, and min_rtt stays.
        let much_later = later + Duration::from_secs(61);
        round(&mut est, 200, much_later);
        assert_eq!((est.permits(&config), est.epoch()), (3, 2));
        est.update(&config, Sample { epoch: 2, ..sample(10, 3, true) }, much_later);
        assert!((est.limit - grown * 0.9).abs() < 1e-9, "{}", est.limit);
        assert_eq!((est.epoch(), est.min_rtt()), (3, Some(MS * 200)));
    }
}
