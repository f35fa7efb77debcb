//! The live state of a client's limits, read without a metrics backend.

use std::fmt;

use volley_breaker::BreakerHandle;
use volley_hedge::HedgeStats;
use volley_limit::LimitState;
use volley_ratelimit::RateLimitLayer;

use crate::stack::Layers;

/// What a [`Client`](crate::Client)'s limits hold right now: requests in flight and waiting
/// per host, the hosts each limit tracks, circuit states and hedge counts.
///
/// Every getter reads the state the client's requests update (no copy is taken), so a
/// `Limits` kept by a dashboard or a health check stays current. A stage the client does
/// not have answers `None`.
///
/// ```
/// let client = volley::Client::builder().per_host(4).build()?;
/// let limits = client.limits();
/// let concurrency = limits.concurrency().expect("on by default");
/// assert_eq!((concurrency.in_flight(), concurrency.waiting()), (0, 0));
/// assert_eq!(concurrency.per_key_max(), Some(4));
/// assert!(limits.circuit_breaker().is_none());
/// # Ok::<(), volley::Error>(())
/// ```
#[derive(Clone)]
pub struct Limits {
    concurrency: Option<LimitState>,
    rate_limit: Option<RateLimitLayer>,
    breaker: Option<BreakerHandle>,
    hedge: Option<HedgeStats>,
}

impl Limits {
    pub(crate) fn of(layers: &Layers) -> Self {
        Self {
            concurrency: layers.concurrency.as_ref().map(|layer| layer.state()),
            rate_limit: layers.rate_limit.clone(),
            breaker: layers.breaker.as_ref().map(|layer| layer.handle()),
            hedge: layers.hedge.as_ref().map(|layer| layer.stats()),
        }
    }

    /// The concurrency limits: in flight and waiting in all and per host
    /// ([`LimitState::in_flight_for`], [`LimitState::waiting_for`]), the hosts tracked, and
    /// each host's adaptive limit ([`LimitState::limit`]).
    pub fn concurrency(&self) -> Option<&LimitState> {
        self.concurrency.as_ref()
    }

    /// The rate limiter: the hosts it tracks ([`RateLimitLayer::tracked_keys`]), a host's
    /// cooldown ([`RateLimitLayer::cooldown_remaining`]) and pace
    /// ([`RateLimitLayer::pace_interval`]).
    pub fn rate_limit(&self) -> Option<&RateLimitLayer> {
        self.rate_limit.as_ref()
    }

    /// The circuit breaker: each host's circuit ([`BreakerHandle::state`]), how often
    /// circuits opened and how many requests they refused.
    pub fn circuit_breaker(&self) -> Option<&BreakerHandle> {
        self.breaker.as_ref()
    }

    /// Hedging: hedges sent and won, budget refusals, each host's hedge delay.
    pub fn hedge(&self) -> Option<&HedgeStats> {
        self.hedge.as_ref()
    }
}

impl fmt::Debug for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Limits");
        if let Some(c) = &self.concurrency {
            out.field("in_flight", &c.in_flight())
                .field("waiting", &c.waiting())
                .field("concurrency_keys", &c.tracked_keys());
        }
        if let Some(r) = &self.rate_limit {
            out.field("rate_limit_keys", &r.tracked_keys());
        }
        if let Some(b) = &self.breaker {
            out.field("circuits", &b.tracked_keys()).field("circuits_opened", &b.opened_total());
        }
        if let Some(h) = &self.hedge {
            out.field("hedges_sent", &h.hedges_sent()).field("hedges_won", &h.hedges_won());
        }
        out.finish()
    }
}
