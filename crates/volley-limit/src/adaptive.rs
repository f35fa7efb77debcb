use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Response};
use volley_classify::{Classify, HttpClassifier, Outcome};

/// An adaptive per-key concurrency limit: each key's limit moves by itself, between
/// [`min`](Self::min) and [`max`](Self::max), to what the host can take.
///
/// Give it to [`ConcurrencyLimitLayer::adaptive`](crate::ConcurrencyLimitLayer::adaptive).
/// It replaces the fixed per-key limit; the global limit stays fixed. Every attempt that
/// gets an answer is one sample: its latency, from the moment it got its permits to the
/// response head, and its [`Outcome`] as the [classifier](Self::classifier) sees it.
///
/// - An **overload signal** — `Throttled` or `Retryable` (429, 503, 502, 504, a reset, an
///   attempt timeout), or a latency above [`latency_threshold`](Self::latency_threshold) —
///   multiplies the key's limit by [`backoff`](Self::backoff) (0.9), never below `min`.
/// - Otherwise the limit grows: [`aimd`](Self::aimd) by one per sample, [`gradient`](Self::gradient)
///   by an amount that shrinks as the latency rises above the key's minimum latency.
/// - A sample taken while fewer than half of the key's permits are in use does not grow the
///   limit (the host was not tested at the limit). `Fatal` answers (404…) are normal
///   samples; `NotSent` failures and cancelled calls give no sample.
///
/// The latency stops at the response head, not at the end of the body: the body's length
/// and how fast the caller reads it say nothing about the host's queue, and a large download
/// would otherwise read as overload.
///
/// A key's limit is remembered while the key is idle, for up to [`max_keys`](Self::max_keys)
/// idle keys (the least recently used are forgotten first and start again at
/// [`initial`](Self::initial)), so a crawl over a million hosts keeps bounded memory. Like
/// every volley-limit state, the limits are shared by all clones of the layer.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use volley_limit::{Adaptive, ConcurrencyLimitLayer};
///
/// // At most 256 in flight overall; per host, whatever the host can take (1 to 100).
/// let layer = ConcurrencyLimitLayer::new(256).adaptive(Adaptive::gradient().max(100));
/// // AIMD, reading a latency above 2 s as overload.
/// let aimd = Adaptive::aimd().initial(10).latency_threshold(Duration::from_secs(2));
/// let other = ConcurrencyLimitLayer::new(256).adaptive(aimd);
/// assert_eq!(other.state().limit(&volley_core::Key::new("https://a.example")), Some(10));
/// # let _ = layer;
/// ```
///
/// # Panics
///
/// [`ConcurrencyLimitLayer::adaptive`](crate::ConcurrencyLimitLayer::adaptive) panics when
/// `min` is zero or above `max`, or when `backoff` is not in (0, 1), `tolerance` below 1,
/// `smoothing` not in (0, 1] or `max_keys` zero. `initial` is clamped into `[min, max]`.
#[derive(Clone)]
#[must_use]
pub struct Adaptive {
    pub(crate) algorithm: Algorithm,
    pub(crate) min: usize,
    pub(crate) max: usize,
    pub(crate) initial: usize,
    pub(crate) backoff: f64,
    pub(crate) latency_threshold: Option<Duration>,
    pub(crate) tolerance: f64,
    pub(crate) smoothing: f64,
    pub(crate) min_rtt_interval: Duration,
    pub(crate) max_keys: usize,
    pub(crate) judge: Arc<dyn Judge>,
}

/// Which rule moves an [`Adaptive`] limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// Additive increase, multiplicative decrease.
    Aimd,
    /// The latency gradient (Netflix `Gradient2`, Envoy's adaptive concurrency).
    Gradient,
}

impl Algorithm {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Algorithm::Aimd => "aimd",
            Algorithm::Gradient => "gradient",
        }
    }
}

impl Adaptive {
    fn with(algorithm: Algorithm, latency_threshold: Option<Duration>) -> Self {
        Self {
            algorithm,
            min: 1,
            max: 200,
            initial: 20,
            backoff: 0.9,
            latency_threshold,
            tolerance: 1.0,
            smoothing: 0.2,
            min_rtt_interval: Duration::from_secs(60),
            max_keys: 10_000,
            judge: Arc::new(HttpClassifier::new()),
        }
    }

    /// Additive increase, multiplicative decrease, as Netflix's `AIMDLimit`: each sample
    /// without an overload signal adds one to the limit (while at least half of it is in
    /// use); each overload signal multiplies it by [`backoff`](Self::backoff).
    ///
    /// AIMD does not read latency below the threshold, so it keeps growing until the host
    /// answers with failures (or latency passes [`latency_threshold`](Self::latency_threshold),
    /// 5 s by default): it finds the edge by crossing it, and saws between 90 % of that edge
    /// and the edge. Prefer it when the host says clearly when it is full (429, 503).
    pub fn aimd() -> Self {
        Self::with(Algorithm::Aimd, Some(Duration::from_secs(5)))
    }

    /// The latency gradient, as Netflix's `Gradient2Limit` and Envoy's adaptive concurrency
    /// filter: with `min_rtt` the key's lowest latency and `rtt` the sample's,
    ///
    /// ```text
    /// gradient = clamp(tolerance × min_rtt / rtt, 0.5, 1.0)
    /// target   = limit × gradient + √limit
    /// limit    = limit × (1 − smoothing) + target × smoothing
    /// ```
    ///
    /// so the limit grows while latency stays at its minimum and shrinks as soon as requests
    /// queue at the host. Against a host with `C` workers it settles where
    /// `limit = tolerance × C + √limit` (about 24.5 for `C` = 20). `min_rtt` is measured
    /// again every [`min_rtt_interval`](Self::min_rtt_interval) by a short probe at a
    /// limit of 3, so a host that became slower for good is not read as overloaded forever,
    /// and a limit that has crept up cannot hide its own queueing. Prefer it when the host
    /// queues silently instead of refusing.
    pub fn gradient() -> Self {
        Self::with(Algorithm::Gradient, None)
    }

    /// The lowest limit a key can reach. Defaults to 1.
    pub fn min(mut self, min: usize) -> Self {
        self.min = min;
        self
    }

    /// The highest limit a key can reach. Defaults to 200.
    pub fn max(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// The limit of a key seen for the first time (or forgotten). Defaults to 20.
    pub fn initial(mut self, initial: usize) -> Self {
        self.initial = initial;
        self
    }

    /// The factor applied to the limit on each overload signal. Defaults to 0.9.
    pub fn backoff(mut self, backoff: f64) -> Self {
        self.backoff = backoff;
        self
    }

    /// A latency (permit to response head) above which a sample counts as an overload
    /// signal, whatever its outcome. Defaults to 5 s for [`aimd`](Self::aimd) (as Netflix's
    /// `AIMDLimit`) and none for [`gradient`](Self::gradient), which reads latency through
    /// its gradient.
    pub fn latency_threshold(mut self, threshold: Duration) -> Self {
        self.latency_threshold = Some(threshold);
        self
    }

    /// Gradient only: how much above `min_rtt` the latency may be before the limit stops
    /// growing (1.25 lets it grow until latency is 25 % above the minimum). Raise it on a
    /// jittery network, where samples spread above the minimum without any queueing.
    /// Defaults to 1.0.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Gradient only: the weight of each new sample in the limit. Defaults to 0.2.
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// Gradient only: how often a busy key measures `min_rtt` again, with 10 requests at a
    /// limit of 3 (as Envoy's gradient controller does). Defaults to 60 s.
    pub fn min_rtt_interval(mut self, interval: Duration) -> Self {
        self.min_rtt_interval = interval;
        self
    }

    /// How many idle keys keep their limit; beyond it the least recently used are forgotten.
    /// Keys with requests in flight or waiting are always kept. Defaults to 10 000.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Which outcomes are overload signals: the same classifier the retry layer uses, so
    /// both agree on what a transient failure is. Defaults to [`HttpClassifier::new()`].
    pub fn classifier<C: Classify>(mut self, classifier: C) -> Self {
        self.judge = Arc::new(classifier);
        self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn validate(mut self) -> Self {
        assert!(self.min >= 1, "an adaptive concurrency limit needs min >= 1");
        assert!(self.min <= self.max, "adaptive min {} is above max {}", self.min, self.max);
        assert!(self.backoff > 0.0 && self.backoff < 1.0, "backoff must be in (0, 1)");
        assert!(self.tolerance >= 1.0, "tolerance must be at least 1");
        assert!(self.smoothing > 0.0 && self.smoothing <= 1.0, "smoothing must be in (0, 1]");
        assert!(self.max_keys >= 1, "max_keys must be at least 1");
        self.max = self.max.min(tokio::sync::Semaphore::MAX_PERMITS);
        self.min = self.min.min(self.max);
        self.initial = self.initial.clamp(self.min, self.max);
        self
    }
}

impl fmt::Debug for Adaptive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adaptive")
            .field("algorithm", &self.algorithm)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("initial", &self.initial)
            .field("backoff", &self.backoff)
            .field("latency_threshold", &self.latency_threshold)
            .field("tolerance", &self.tolerance)
            .field("smoothing", &self.smoothing)
            .field("min_rtt_interval", &self.min_rtt_interval)
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

/// A [`Classify`] without its type: the layer's services are not generic over it.
pub(crate) trait Judge: Send + Sync + 'static {
    fn judge(
        &self,
        method: &Method,
        attempt: Result<&Response<()>, &(dyn Error + 'static)>,
    ) -> Outcome;
}

impl<C: Classify> Judge for C {
    fn judge(
        &self,
        method: &Method,
        attempt: Result<&Response<()>, &(dyn Error + 'static)>,
    ) -> Outcome {
        self.classify(method, attempt)
    }
}
