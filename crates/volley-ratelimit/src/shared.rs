//! The state one layer and every service it made share: one `Arc`, built with the layer.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use http::{HeaderMap, HeaderName, Method, Response};
use tokio::time::Instant;
use volley_classify::{Classify, HintParser, Outcome};
use volley_core::{Key, KeyFn, RequestHead};

use crate::governor_backend;
use crate::pace::Pacing;
use crate::wait::millis;
use crate::{Acquire, Backend, ConfigError, GovernorBackend};

/// A response can only report an exhausted quota through one of these (see
/// [`HintParser::rate_limit`]); checking for them first keeps the parser off the fast path.
static QUOTA_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("ratelimit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-remaining"),
];

/// The sustained rate and burst of the default backend.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rate {
    pub(crate) n: u32,
    pub(crate) per: Duration,
    pub(crate) burst: u32,
}

/// What the layer's builder sets.
#[derive(Clone)]
pub(crate) struct Config<C> {
    /// A user backend; `None`: a [`GovernorBackend`] built from `rate`.
    pub(crate) custom: Option<Arc<dyn Backend>>,
    pub(crate) rate: Rate,
    /// `None`: global mode, every request counts under `global_key` and no key is computed.
    pub(crate) key_fn: Option<Arc<dyn KeyFn>>,
    pub(crate) global_key: Key,
    pub(crate) max_wait: Option<Duration>,
    /// The longest pause one response can set.
    pub(crate) max_cooldown: Duration,
    pub(crate) classifier: C,
    pub(crate) hints: HintParser,
    pub(crate) feedback: bool,
    /// Spread the quota the server reports over its reset (needs `feedback`).
    pub(crate) pace: bool,
    /// Requests of each quota window let through unpaced.
    pub(crate) pace_burst: u32,
}

/// The default for `max_cooldown`: the retry layer's default `max_retry_after`.
pub(crate) const DEFAULT_MAX_COOLDOWN: Duration = Duration::from_secs(60);

impl<C> Config<C> {
    /// Fresh state for this configuration: a new default backend unless a custom one is set.
    /// The rate is checked either way, so that a configuration is valid whatever its backend.
    pub(crate) fn try_build(self) -> Result<Arc<Shared<C>>, ConfigError> {
        let Rate { n, per, burst } = self.rate;
        let backend: Arc<dyn Backend> = match (&self.custom, &self.key_fn) {
            (Some(custom), _) => {
                governor_backend::quota(n, per, burst)?;
                custom.clone()
            }
            (None, Some(_)) => Arc::new(GovernorBackend::try_keyed(n, per, burst)?),
            (None, None) => Arc::new(GovernorBackend::try_global(n, per, burst)?),
        };
        let pacing =
            (self.pace && self.feedback).then(|| Pacing::new(self.pace_burst, self.max_cooldown));
        let waiting = Arc::new(AtomicUsize::new(0));
        Ok(Arc::new(Shared { config: self, backend, pacing, waiting }))
    }

    /// [`try_build`](Self::try_build), panicking with its error.
    pub(crate) fn build(self) -> Arc<Shared<C>> {
        self.try_build().unwrap_or_else(|err| panic!("{err}"))
    }
}

/// The configuration and the backend built from it.
pub(crate) struct Shared<C> {
    pub(crate) config: Config<C>,
    pub(crate) backend: Arc<dyn Backend>,
    /// `None` unless pacing from quota headers is on.
    pub(crate) pacing: Option<Pacing>,
    /// Requests asleep in this layer, waiting for a token or a cooldown.
    pub(crate) waiting: Arc<AtomicUsize>,
}

impl<C> Shared<C> {
    /// The request's key, or `None` in global mode.
    pub(crate) fn key_of<B>(&self, req: &http::Request<B>) -> Option<Key> {
        self.config.key_fn.as_ref().map(|key_fn| key_fn.key(RequestHead::new(req)))
    }

    pub(crate) fn key<'a>(&'a self, key: &'a Option<Key>) -> &'a Key {
        key.as_ref().unwrap_or(&self.config.global_key)
    }

    /// The key a caller asks about, mapped to the one the backend knows in global mode.
    pub(crate) fn lookup_key<'a>(&'a self, key: &'a Key) -> &'a Key {
        if self.config.key_fn.is_some() { key } else { &self.config.global_key }
    }

    /// Asks for a token for `key`, after the key's pace when pacing is on. `paced` says
    /// whether this request already passed the pace (it is set when it does): a request
    /// passes it once, even if it then waits for a token.
    #[inline]
    pub(crate) fn acquire(&self, key: &Option<Key>, paced: &mut bool) -> Acquire {
        let key = self.key(key);
        if let (Some(pacing), false) = (&self.pacing, *paced) {
            if let Some(held) = pacing.admit(key) {
                tracing::debug!(
                    key = %key,
                    wait = ?held.wait,
                    // Not `wait_ms`: this fires on every re-check; the request's one
                    // "rate limit wait" event carries `wait_ms` and `paced`.
                    pace_ms = millis(held.wait),
                    remaining = held.remaining,
                    reset = ?held.reset,
                    reset_ms = millis(held.reset),
                    "rate limit paced: spreading the server's remaining quota"
                );
                return Acquire::Wait(held.wait);
            }
            *paced = true;
        }
        self.backend.acquire(key)
    }

    /// Reads what the server said about its load and cools the key down if it asked.
    #[inline]
    pub(crate) fn feedback<B>(
        &self,
        key: &Option<Key>,
        method: &Method,
        attempt: Result<&Response<B>, &(dyn Error + 'static)>,
    ) where
        C: Classify,
    {
        let hint = match self.config.classifier.classify(method, attempt) {
            Outcome::Throttled { hint: Some(hint) } => hint.delay(),
            // Without a hint there is no "until": the retry layer's backoff paces that host.
            _ => Duration::ZERO,
        };
        // Most responses carry no quota headers, and many no headers at all: skip the call.
        let headers = attempt.ok().map(Response::headers).filter(|h| !h.is_empty());
        let quota = headers.and_then(|headers| self.quota(headers));
        let key = self.key(key);
        let reset = quota.as_ref().and_then(|(remaining, reset)| {
            // The window's end as the tightest of its readings: a whole-second reset read
            // late in the window overshoots by up to a second, every window.
            let pacing = self.pacing.as_ref().filter(|_| !reset.is_zero());
            let reset = pacing.map_or(*reset, |pacing| pacing.read(key, *remaining, *reset));
            (*remaining == 0 && !reset.is_zero()).then_some(reset)
        });
        let requested = hint.max(reset.unwrap_or_default());
        let delay = requested.min(self.config.max_cooldown);
        if delay.is_zero() {
            return;
        }
        // Cannot overflow: `Hint` and `RateLimitStatus` clamp their delays to `MAX_HINT`.
        self.backend.cool_down(key, Instant::now() + delay);
        #[cfg(feature = "metrics")]
        crate::metrics::cooldown(key);
        if delay < requested {
            tracing::info!(
                key = %key,
                cooldown = ?delay,
                cooldown_ms = millis(delay),
                requested = ?requested,
                requested_ms = millis(requested),
                capped = true,
                throttled = !hint.is_zero(),
                quota_exhausted = reset.is_some(),
                "rate limit key cooling down for max_cooldown: the server asked for longer"
            );
        } else {
            tracing::debug!(
                key = %key,
                cooldown = ?delay,
                cooldown_ms = millis(delay),
                capped = false,
                throttled = !hint.is_zero(),
                quota_exhausted = reset.is_some(),
                "rate limit key cooling down at the server's request"
            );
        }
    }

    /// The most restrictive quota the server reports: remaining and reset.
    fn quota(&self, headers: &HeaderMap) -> Option<(u64, Duration)> {
        if !QUOTA_HEADERS.iter().any(|name| headers.contains_key(name)) {
            return None;
        }
        let status = self.config.hints.rate_limit(headers)?;
        Some((status.remaining(), status.reset()))
    }
}

impl<C: fmt::Debug> fmt::Debug for Shared<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitState")
            .field("rate", &self.config.rate)
            .field("backend", &self.backend)
            .field("keyed", &self.config.key_fn.is_some())
            .field("max_wait", &self.config.max_wait)
            .field("max_cooldown", &self.config.max_cooldown)
            .field("classifier", &self.config.classifier)
            .field("feedback", &self.config.feedback)
            .field("pace_from_quota", &self.pacing.is_some())
            .field("pace_burst", &self.config.pace_burst)
            .finish()
    }
}
