use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use volley_classify::{Classify, HttpClassifier};
use volley_core::{ByAuthority, KeyFn};

use crate::circuit::{Config, RateTrip};
use crate::state::{Core, Shared};
use crate::{Breaker, BreakerHandle, ConfigError};

/// Fails requests fast while their host keeps failing: a circuit breaker per key (the
/// request's origin by default), shared by every clone of the layer and of the services it
/// makes.
///
/// Each key's circuit is **closed** at first: calls go through and each attempt's
/// [`Outcome`](volley_classify::Outcome) is counted. It **opens** after
/// [`consecutive_failures`](Self::consecutive_failures) failures in a row (5), or when at
/// least the [`failure_rate`](Self::failure_rate) of the calls in a sliding window failed
/// (50 % over 10 s, once there were 20 calls in it). While open, calls are refused at once
/// with [`BreakerOpen`](volley_core::BreakerOpen) `{ key, retry_in }`, without calling the
/// inner service, for a jittered [`open_for`](Self::open_for) duration (5 s ± 20 %). Then
/// it is **half-open**: up to [`half_open_probes`](Self::half_open_probes) calls at once (1)
/// go through as probes and the rest are refused; after
/// [`success_threshold`](Self::success_threshold) successful probes (1) it closes, and a
/// failed probe opens it again for twice as long (capped at 60 s). Closing resets the
/// duration to its base.
///
/// A failure is an attempt classified `Retryable` or `Throttled` (5xx in the transient set,
/// 408, 429, resets, attempt timeouts), or a `NotSent` error (connection refused, DNS: the
/// host is unreachable). A response classified `Fatal` (404, 401) proves the host up and
/// counts as a success. A `Fatal` error (TLS, a spent deadline, another layer's refusal), a
/// request stopped by a layer before it left (`volley_core::NotSent`, another breaker's
/// `BreakerOpen`), and a call dropped before its response head count as nothing. The
/// outcome is taken at the response head; a body that fails later is not counted.
///
/// At most [`max_keys`](Self::max_keys) keys (4,096) have a circuit. When the map is full,
/// closed circuits without a failure in the window, and open ones whose time has been up
/// for a whole window with nobody calling, are dropped to make room; if none can be, the
/// new key's calls go through untracked until room frees up (other open, half-open and
/// failing circuits are kept).
///
/// Each builder method returns a layer with fresh circuits: configure first, then clone.
/// Setters panic on nonsense (see `# Panics`); their `try_` twins return a [`ConfigError`]
/// instead, for values that come from users.
///
/// See the [crate docs](crate) for an example.
#[must_use]
pub struct BreakerLayer<C = HttpClassifier, K = ByAuthority> {
    key_fn: K,
    shared: Arc<Shared<C>>,
}

const DEFAULTS: Config = Config {
    consecutive: 5,
    rate: Some(RateTrip { ratio: 0.5, window: Duration::from_secs(10), min_calls: 20 }),
    open_base: Duration::from_secs(5),
    open_max: Duration::from_secs(60),
    jitter: 0.2,
    probes: 1,
    success_threshold: 1,
    max_keys: 4096,
};

impl BreakerLayer {
    /// A breaker with the defaults: open after 5 consecutive failures or a failure rate of
    /// 50 % over 10 s with at least 20 calls; open for 5 s ± 20 %, doubling up to 60 s;
    /// 1 probe at a time, 1 success to close; per origin; at most 4,096 keys.
    pub fn new() -> Self {
        Self {
            key_fn: ByAuthority,
            shared: Arc::new(Shared {
                core: Core::new(DEFAULTS),
                classifier: HttpClassifier::new(),
            }),
        }
    }
}

impl Default for BreakerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clone, K> BreakerLayer<C, K> {
    fn reconfigure(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.shared.core.config;
        change(&mut config);
        let classifier = self.shared.classifier.clone();
        Self {
            key_fn: self.key_fn,
            shared: Arc::new(Shared { core: Core::new(config), classifier }),
        }
    }

    /// Opens the circuit after `n` failures in a row (a success resets the count); 0 turns
    /// this trigger off. Defaults to 5.
    pub fn consecutive_failures(self, n: u32) -> Self {
        self.reconfigure(|config| config.consecutive = n)
    }

    /// Opens the circuit when at least `ratio` of the calls counted in the last `window`
    /// failed, once at least `min_calls` were counted in it. The window slides in tenths of
    /// itself. Defaults to 0.5 over 10 s with at least 20 calls.
    ///
    /// # Panics
    ///
    /// If `ratio` is not in `0 < ratio ≤ 1`, `window` is zero or `min_calls` is zero (see
    /// [`try_failure_rate`](Self::try_failure_rate)).
    pub fn failure_rate(self, ratio: f64, window: Duration, min_calls: u32) -> Self {
        unwrap(self.try_failure_rate(ratio, window, min_calls))
    }

    /// [`failure_rate`](Self::failure_rate), returning an error for nonsense values.
    pub fn try_failure_rate(
        self,
        ratio: f64,
        window: Duration,
        min_calls: u32,
    ) -> Result<Self, ConfigError> {
        // Written so that NaN fails too.
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err(ConfigError::Ratio(ratio));
        }
        if window.is_zero() {
            return Err(ConfigError::ZeroWindow);
        }
        if min_calls == 0 {
            return Err(ConfigError::ZeroMinCalls);
        }
        Ok(self.reconfigure(|config| config.rate = Some(RateTrip { ratio, window, min_calls })))
    }

    /// Turns the failure-rate trigger off: only consecutive failures open the circuit.
    pub fn no_failure_rate(self) -> Self {
        self.reconfigure(|config| config.rate = None)
    }

    /// How long the circuit stays open: `base` the first time, doubled after each failed
    /// probe, never more than `max`, and back to `base` once it closes. Defaults to 5 s
    /// up to 60 s.
    ///
    /// # Panics
    ///
    /// If `base` is zero or above `max` (see [`try_open_for`](Self::try_open_for)).
    pub fn open_for(self, base: Duration, max: Duration) -> Self {
        unwrap(self.try_open_for(base, max))
    }

    /// [`open_for`](Self::open_for), returning an error for nonsense values.
    pub fn try_open_for(self, base: Duration, max: Duration) -> Result<Self, ConfigError> {
        if base.is_zero() || base > max {
            return Err(ConfigError::OpenFor { base, max });
        }
        Ok(self.reconfigure(|config| (config.open_base, config.open_max) = (base, max)))
    }

    /// The jitter on each open duration: it is multiplied by a uniform factor in
    /// `1 ± jitter` (then capped at the maximum), so clients that saw the same outage do not
    /// probe in step; 0 turns it off. Defaults to 0.2.
    ///
    /// # Panics
    ///
    /// If `jitter` is not in `0 ≤ jitter < 1` (see [`try_jitter`](Self::try_jitter)).
    pub fn jitter(self, jitter: f64) -> Self {
        unwrap(self.try_jitter(jitter))
    }

    /// [`jitter`](Self::jitter), returning an error for nonsense values.
    pub fn try_jitter(self, jitter: f64) -> Result<Self, ConfigError> {
        if !(0.0..1.0).contains(&jitter) {
            return Err(ConfigError::Jitter(jitter));
        }
        Ok(self.reconfigure(|config| config.jitter = jitter))
    }

    /// How many probes may be in flight at once while half-open; other calls are refused
    /// as if open. Defaults to 1.
    ///
    /// # Panics
    ///
    /// If `n` is zero (see [`try_half_open_probes`](Self::try_half_open_probes)).
    pub fn half_open_probes(self, n: u32) -> Self {
        unwrap(self.try_half_open_probes(n))
    }

    /// [`half_open_probes`](Self::half_open_probes), returning an error for zero.
    pub fn try_half_open_probes(self, n: u32) -> Result<Self, ConfigError> {
        if n == 0 {
            return Err(ConfigError::ZeroProbes);
        }
        Ok(self.reconfigure(|config| config.probes = n))
    }

    /// How many successful probes close a half-open circuit (any failed probe reopens it).
    /// Defaults to 1.
    ///
    /// # Panics
    ///
    /// If `n` is zero (see [`try_success_threshold`](Self::try_success_threshold)).
    pub fn success_threshold(self, n: u32) -> Self {
        unwrap(self.try_success_threshold(n))
    }

    /// [`success_threshold`](Self::success_threshold), returning an error for zero.
    pub fn try_success_threshold(self, n: u32) -> Result<Self, ConfigError> {
        if n == 0 {
            return Err(ConfigError::ZeroSuccessThreshold);
        }
        Ok(self.reconfigure(|config| config.success_threshold = n))
    }

    /// The most keys with a circuit. When the map is full, idle circuits (closed without a
    /// failure in the window, or long past their open time) are dropped to make room; if
    /// none can be, a new key's calls go through untracked. Defaults to 4,096.
    ///
    /// # Panics
    ///
    /// If `n` is zero (see [`try_max_keys`](Self::try_max_keys)).
    pub fn max_keys(self, n: usize) -> Self {
        unwrap(self.try_max_keys(n))
    }

    /// [`max_keys`](Self::max_keys), returning an error for zero.
    pub fn try_max_keys(self, n: usize) -> Result<Self, ConfigError> {
        if n == 0 {
            return Err(ConfigError::ZeroMaxKeys);
        }
        Ok(self.reconfigure(|config| config.max_keys = n))
    }

    /// How requests are partitioned into circuits (a closure `Fn(RequestHead<'_>) -> Key`
    /// works). The key appears in [`BreakerOpen`](volley_core::BreakerOpen) errors and
    /// traces, so keep secrets out of it. Defaults to [`ByAuthority`]: scheme, host and
    /// port.
    pub fn key_fn<K2: KeyFn + Clone>(self, key_fn: K2) -> BreakerLayer<C, K2> {
        BreakerLayer { key_fn, shared: self.shared }.reconfigure(|_| {})
    }

    /// The classifier that turns each attempt into an
    /// [`Outcome`](volley_classify::Outcome). Defaults to [`HttpClassifier::new`].
    pub fn classifier<C2: Classify>(self, classifier: C2) -> BreakerLayer<C2, K> {
        let config = self.shared.core.config;
        BreakerLayer {
            key_fn: self.key_fn,
            shared: Arc::new(Shared { core: Core::new(config), classifier }),
        }
    }

    /// A live view of the circuits (state per key, tracked keys, counts), shared with every
    /// service this layer makes.
    pub fn handle(&self) -> BreakerHandle
    where
        C: Send + Sync + 'static,
    {
        BreakerHandle::new(self.shared.clone())
    }
}

fn unwrap<T>(result: Result<T, ConfigError>) -> T {
    result.unwrap_or_else(|err| panic!("{err}"))
}

impl<C, K: Clone> Clone for BreakerLayer<C, K> {
    fn clone(&self) -> Self {
        Self { key_fn: self.key_fn.clone(), shared: self.shared.clone() }
    }
}

impl<S, C, K: Clone> Layer<S> for BreakerLayer<C, K> {
    type Service = Breaker<S, C, K>;

    fn layer(&self, inner: S) -> Self::Service {
        Breaker::new(inner, self.key_fn.clone(), self.shared.clone())
    }
}

impl<C, K> fmt::Debug for BreakerLayer<C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerLayer")
            .field("config", &self.shared.core.config)
            .field("key_fn", &std::any::type_name::<K>())
            .finish()
    }
}
