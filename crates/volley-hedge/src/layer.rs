use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use volley_classify::{Classify, HttpClassifier};
use volley_core::{ByAuthority, KeyFn, RequestHead};

use crate::state::{Config, Delay, HedgeStats, Shared};
use crate::{ConfigError, Hedge};

/// Sends one more attempt of a slow idempotent request after a delay, and answers with
/// whichever attempt's response head arrives first; the other attempt is dropped
/// (cancelled), giving back whatever it held below.
///
/// - **Which requests**: GET, HEAD, OPTIONS, TRACE, PUT and DELETE (idempotent, RFC 9110
///   §9.2.2), whose body can be copied ([`TryCloneBody`](crate::TryCloneBody)); never POST
///   or PATCH unless [`hedge_if`](Self::hedge_if) says so.
/// - **When**: after a fixed delay ([`after`](Self::after)), or after the key's
///   95th-percentile latency ([`new`](Self::new), [`percentile`](Self::percentile)) over
///   the last 10–20 s of successful attempts, once it has 20 of them. Never sooner than
///   [`min_delay`](Self::min_delay) (1 ms), never past the request's
///   [`Deadline`](volley_core::Deadline).
/// - **How many**: at most [`max_hedges`](Self::max_hedges) (1) per request, and at most
///   [`budget`](Self::budget) (10 %) extra requests over all requests through the layer,
///   plus at most 10 saved up.
/// - **Errors**: the layer adds none. An error from the only attempt in flight is returned
///   at once (retrying is the retry layer's job); an error while another attempt is in
///   flight is dropped and that attempt awaited, so an error is returned only when every
///   attempt sent has failed (the last one's).
///
/// The budget, histograms and counters ([`stats`](Self::stats)) live behind one `Arc` made
/// with the layer: every clone of the layer and every service it makes share them. Each
/// builder method returns a layer with fresh state, so configure first and clone after.
#[must_use]
pub struct HedgeLayer<K = ByAuthority, C = HttpClassifier> {
    key_fn: K,
    classifier: C,
    shared: Arc<Shared>,
}

impl HedgeLayer {
    /// Hedges idempotent requests after their key's 95th-percentile latency, once the key
    /// has 20 successful samples, within a 10 % budget, at most once per request.
    pub fn new() -> Self {
        Self::with_config(ByAuthority, HttpClassifier::new(), Config::DEFAULT)
    }

    /// Hedges idempotent requests after a fixed `delay` (at least
    /// [`min_delay`](Self::min_delay)); other defaults as [`new`](Self::new).
    pub fn after(delay: Duration) -> Self {
        Self::new().reconfigure(|c| c.delay = Delay::Fixed(delay))
    }

    /// Hedges after the key's `q`-quantile latency (`0.95` is the 95th percentile); other
    /// defaults as [`new`](Self::new).
    ///
    /// # Errors
    ///
    /// If `q` is not strictly between 0 and 1.
    pub fn percentile(q: f64) -> Result<Self, ConfigError> {
        Self::new().try_percentile(q)
    }
}

impl Default for HedgeLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, C> HedgeLayer<K, C> {
    fn with_config(key_fn: K, classifier: C, config: Config) -> Self {
        Self { key_fn, classifier, shared: Arc::new(Shared::new(config)) }
    }

    fn reconfigure(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.shared.config.clone();
        change(&mut config);
        Self::with_config(self.key_fn, self.classifier, config)
    }

    fn percentile_parts(&self) -> (f64, u32, Option<Duration>) {
        match self.shared.config.delay {
            Delay::Percentile { q, min_samples, fallback } => (q, min_samples, fallback),
            Delay::Fixed(_) => (0.95, 20, None),
        }
    }

    /// Switches to (or tunes) the percentile delay: after the key's `q`-quantile latency.
    ///
    /// # Errors
    ///
    /// If `q` is not strictly between 0 and 1.
    pub fn try_percentile(self, q: f64) -> Result<Self, ConfigError> {
        if !(q > 0.0 && q < 1.0) {
            return Err(ConfigError::new(format!("hedge percentile {q} is outside (0, 1)")));
        }
        let (_, min_samples, fallback) = self.percentile_parts();
        Ok(self.reconfigure(|c| c.delay = Delay::Percentile { q, min_samples, fallback }))
    }

    /// Successful latencies a key needs before its percentile is trusted; until then its
    /// requests are not hedged (or wait the [`fallback_delay`](Self::fallback_delay)).
    /// Switches to the percentile delay if a fixed one was set. Defaults to 20.
    pub fn min_samples(self, min_samples: u32) -> Self {
        let (q, _, fallback) = self.percentile_parts();
        self.reconfigure(|c| c.delay = Delay::Percentile { q, min_samples, fallback })
    }

    /// The delay for keys with fewer than [`min_samples`](Self::min_samples) latencies.
    /// Switches to the percentile delay if a fixed one was set. Defaults to none: such
    /// requests are not hedged.
    pub fn fallback_delay(self, delay: Duration) -> Self {
        let (q, min_samples, _) = self.percentile_parts();
        self.reconfigure(|c| c.delay = Delay::Percentile { q, min_samples, fallback: Some(delay) })
    }

    /// The shortest delay ever used: a percentile of a fast host (or a fixed zero) would
    /// otherwise send a hedge with nearly every request. Defaults to 1 ms.
    pub fn min_delay(self, min_delay: Duration) -> Self {
        self.reconfigure(|c| c.min_delay = min_delay)
    }

    /// The length of one histogram window; the percentile is read over the current and the
    /// previous window, so it follows the last one to two windows. Defaults to 10 s.
    ///
    /// # Errors
    ///
    /// If `window` is shorter than 10 ms or longer than an hour.
    pub fn window(self, window: Duration) -> Result<Self, ConfigError> {
        if !(Duration::from_millis(10)..=Duration::from_secs(3600)).contains(&window) {
            return Err(ConfigError::new(format!(
                "hedge histogram window {window:?} is outside 10ms..=1h"
            )));
        }
        Ok(self.reconfigure(|c| c.window = window))
    }

    /// The most keys with a latency histogram (about 1.5 KiB each); past it the key used
    /// longest ago is forgotten. Defaults to 1,024.
    pub fn max_keys(self, max_keys: usize) -> Self {
        self.reconfigure(|c| c.max_keys = max_keys)
    }

    /// Hedges per request at most, each after another delay; 0 turns hedging off.
    /// Values above 8 are treated as 8. Defaults to 1.
    pub fn max_hedges(self, max_hedges: u32) -> Self {
        self.reconfigure(|c| c.max_hedges = max_hedges.min(8))
    }

    /// Extra requests hedges may add, as a share of the requests through the layer (0.1 is
    /// 10 %); 0 turns hedging off. Up to 10 unspent hedges are saved for later. Defaults to
    /// 0.1.
    ///
    /// # Errors
    ///
    /// If `ratio` is negative, above 10 or not a number.
    pub fn budget(self, ratio: f64) -> Result<Self, ConfigError> {
        if !(0.0..=10.0).contains(&ratio) {
            return Err(ConfigError::new(format!("hedge budget {ratio} is outside 0..=10")));
        }
        Ok(self.reconfigure(|c| c.budget_ratio = ratio))
    }

    /// Which requests may be hedged, replacing the idempotent-method rule: return `true`
    /// only for requests that are safe to send twice (a POST with an `Idempotency-Key`, a
    /// GraphQL query…). Defaults to GET, HEAD, OPTIONS, TRACE, PUT and DELETE.
    pub fn hedge_if<F>(self, predicate: F) -> Self
    where
        F: Fn(RequestHead<'_>) -> bool + Send + Sync + 'static,
    {
        self.reconfigure(|c| c.predicate = Some(Arc::new(predicate)))
    }

    /// How requests are partitioned for latency histograms. Defaults to [`ByAuthority`]:
    /// scheme, host and port.
    pub fn key_fn<K2: KeyFn + Clone>(self, key_fn: K2) -> HedgeLayer<K2, C> {
        HedgeLayer::with_config(key_fn, self.classifier, self.shared.config.clone())
    }

    /// Which responses count as successful, the only ones whose latency is recorded.
    /// Defaults to [`HttpClassifier::new`].
    pub fn classifier<C2: Classify>(self, classifier: C2) -> HedgeLayer<K, C2> {
        HedgeLayer::with_config(self.key_fn, classifier, self.shared.config.clone())
    }

    /// The counters (hedges sent, won, refused by the budget) shared with every service
    /// this layer makes.
    pub fn stats(&self) -> HedgeStats {
        HedgeStats::new(Arc::clone(&self.shared))
    }
}

impl<K: Clone, C: Clone> Clone for HedgeLayer<K, C> {
    fn clone(&self) -> Self {
        Self {
            key_fn: self.key_fn.clone(),
            classifier: self.classifier.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, K: Clone, C: Clone> Layer<S> for HedgeLayer<K, C> {
    type Service = Hedge<S, K, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Hedge::new(inner, self.key_fn.clone(), self.classifier.clone(), Arc::clone(&self.shared))
    }
}

impl<K, C> fmt::Debug for HedgeLayer<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.shared.config;
        f.debug_struct("HedgeLayer")
            .field("delay", &config.delay)
            .field("min_delay", &config.min_delay)
            .field("window", &config.window)
            .field("max_keys", &config.max_keys)
            .field("max_hedges", &config.max_hedges)
            .field("budget", &config.budget_ratio)
            .field("custom_rule", &config.predicate.is_some())
            .field("key_fn", &std::any::type_name::<K>())
            .finish()
    }
}
