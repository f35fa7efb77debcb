use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tower_layer::Layer;
use volley_core::{ByAuthority, KeyFn};

use crate::state::{Config, LimitState, Shared};
use crate::{Adaptive, ConcurrencyLimit};

/// Limits how many requests are in flight — from `call` until the response body ends —
/// globally and, optionally, per key (per host by default), with a fixed per-key limit or
/// an [adaptive](Self::adaptive) one.
///
/// The limits live behind one `Arc` made when the layer is configured: every clone of the
/// layer and every service it makes, and their clones, share them. Each builder method
/// returns a layer with fresh limits, so configure first and clone afterwards.
///
/// Invalid configuration panics when it is set (see `# Panics` on [`new`](Self::new),
/// [`per_key_only`](Self::per_key_only) and [`per_key`](Self::per_key)): a limit of zero
/// would admit nothing. Limits above [`Semaphore::MAX_PERMITS`] are treated as that.
///
/// See the [crate docs](crate) for the whole story and an example.
#[must_use]
pub struct ConcurrencyLimitLayer<K = ByAuthority> {
    key_fn: K,
    shared: Arc<Shared>,
}

impl ConcurrencyLimitLayer {
    /// At most `global_max` requests in flight through this layer, with no per-key limit
    /// until [`per_key`](Self::per_key) sets one.
    ///
    /// # Panics
    ///
    /// If `global_max` is zero.
    pub fn new(global_max: usize) -> Self {
        let config = Config { global_max: Some(limit(global_max)), ..NONE };
        Self::with_config(ByAuthority, config, None)
    }

    /// At most `per_key_max` requests in flight per key, and no global limit.
    ///
    /// # Panics
    ///
    /// If `per_key_max` is zero.
    pub fn per_key_only(per_key_max: usize) -> Self {
        let config = Config { per_key_max: Some(limit(per_key_max)), ..NONE };
        Self::with_config(ByAuthority, config, None)
    }
}

const NONE: Config = Config {
    global_max: None,
    per_key_max: None,
    max_queue: None,
    acquire_timeout: None,
    release_at_headers: false,
};

fn limit(max: usize) -> usize {
    assert!(max > 0, "a concurrency limit of 0 would admit nothing; use at least 1");
    max.min(Semaphore::MAX_PERMITS)
}

impl<K> ConcurrencyLimitLayer<K> {
    fn with_config(key_fn: K, config: Config, adaptive: Option<Adaptive>) -> Self {
        Self { key_fn, shared: Arc::new(Shared::new(config, adaptive)) }
    }

    fn reconfigure(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.shared.config;
        change(&mut config);
        Self::with_config(self.key_fn, config, self.shared.adaptive.clone())
    }

    /// At most `per_key_max` requests in flight per key, on top of the global limit. A
    /// request takes its key's permit first and the global one second, so requests queued
    /// behind a slow host hold no global permit. Defaults to no per-key limit.
    ///
    /// # Panics
    ///
    /// If `per_key_max` is zero.
    pub fn per_key(self, per_key_max: usize) -> Self {
        let per_key_max = limit(per_key_max);
        let mut config = self.shared.config;
        config.per_key_max = Some(per_key_max);
        Self::with_config(self.key_fn, config, None)
    }

    /// Makes the per-key limit adaptive: each key's limit moves between the
    /// [`Adaptive`] bounds to what the host can take, learnt from the latency (permit to
    /// response head) and [`Outcome`](volley_classify::Outcome) of its attempts. Replaces a
    /// fixed [`per_key`](Self::per_key) limit (and a later `per_key` replaces this); the
    /// global limit stays fixed. Permits are still held until the body ends, and waiting
    /// works as for a fixed limit. [`LimitState::limit`] reports a key's limit now.
    /// Defaults to a fixed limit.
    ///
    /// # Panics
    ///
    /// On invalid bounds or factors, listed on [`Adaptive`].
    pub fn adaptive(self, adaptive: Adaptive) -> Self {
        let adaptive = adaptive.validate();
        let mut config = self.shared.config;
        config.per_key_max = Some(adaptive.max);
        Self::with_config(self.key_fn, config, Some(adaptive))
    }

    /// How requests are partitioned for the per-key limit (a closure
    /// `Fn(RequestHead<'_>) -> Key` works). Only consulted when there is a per-key limit.
    /// Defaults to [`ByAuthority`]: scheme, host and port of the request URI.
    pub fn key_fn<K2: KeyFn + Clone>(self, key_fn: K2) -> ConcurrencyLimitLayer<K2> {
        ConcurrencyLimitLayer::with_config(key_fn, self.shared.config, self.shared.adaptive.clone())
    }

    /// How many requests may wait for each limit (the global one, and each key's). A request
    /// that finds its queue full fails at once with
    /// [`Overloaded`](crate::Overloaded) ([`QueueFull`](crate::OverloadReason::QueueFull));
    /// `0` sheds every request that cannot be admitted at once. Defaults to unbounded.
    pub fn max_queue(self, max_queue: usize) -> Self {
        self.reconfigure(|config| config.max_queue = Some(max_queue))
    }

    /// How long a request may wait for its permits, counted from `call`. When it passes the
    /// request fails with [`Overloaded`](crate::Overloaded)
    /// ([`AcquireTimeout`](crate::OverloadReason::AcquireTimeout)); zero fails at once any
    /// request that would have to wait. A request's [`Deadline`](volley_core::Deadline)
    /// bounds the wait as well, whichever comes first. Defaults to no timeout.
    pub fn acquire_timeout(self, timeout: Duration) -> Self {
        self.reconfigure(|config| config.acquire_timeout = Some(timeout))
    }

    /// Gives the permits back when the response head arrives instead of when the body ends,
    /// as tower's `ConcurrencyLimit` does. Bodies then stream outside the limit: use it only
    /// when responses are small or the limit guards the server's request handling, not the
    /// transfer. Defaults to `false`.
    pub fn release_at_headers(self, enabled: bool) -> Self {
        self.reconfigure(|config| config.release_at_headers = enabled)
    }

    /// A live view of the limits (free permits, requests in flight and waiting, tracked
    /// keys), shared with every service this layer makes.
    pub fn state(&self) -> LimitState {
        LimitState::new(Arc::clone(&self.shared))
    }
}

impl<K: Clone> Clone for ConcurrencyLimitLayer<K> {
    fn clone(&self) -> Self {
        Self { key_fn: self.key_fn.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl<S, K: Clone> Layer<S> for ConcurrencyLimitLayer<K> {
    type Service = ConcurrencyLimit<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit::new(inner, self.key_fn.clone(), Arc::clone(&self.shared))
    }
}

impl<K> fmt::Debug for ConcurrencyLimitLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.shared.config;
        f.debug_struct("ConcurrencyLimitLayer")
            .field("global_max", &config.global_max)
            .field("per_key_max", &config.per_key_max)
            .field("key_fn", &std::any::type_name::<K>())
            .field("max_queue", &config.max_queue)
            .field("acquire_timeout", &config.acquire_timeout)
            .field("release_at_headers", &config.release_at_headers)
            .field("adaptive", &self.shared.adaptive)
            .finish()
    }
}
