use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use tower::retry::Policy;
use volley_classify::{Classify, Outcome, dyn_error};
use volley_core::{BreakerOpen, Deadline, KeyFn, RequestHead, find_cause};

use crate::RetryLayer;
use crate::layer::Shared;
use crate::policy::{Attempt, Decision};
use crate::window::KeyBudget;

/// The same policy for tower's own `tower::retry::RetryLayer`, made by
/// [`RetryLayer::tower_policy`].
///
/// What you keep: classification, Retry-After floors and caps, jitter, the deadline check,
/// the idempotency rule and the shared budget. What you lose: streaming bodies (tower
/// clones the whole request, so the body must be `Clone`, like `Full<Bytes>`), the
/// `RetryInfo` and `RetryError` reports, and per-attempt spans. Errors are classified when
/// they are a `BoxError`, hyper-util's or hyper's error or an `io::Error`; other error
/// types are not retried.
#[derive(Debug)]
pub struct TowerPolicy<C, K> {
    shared: Arc<Shared<C, K>>,
    retries: u32,
    previous_delay: Duration,
    budget: Option<Arc<KeyBudget>>,
}

impl<C, K> RetryLayer<C, K> {
    /// This layer's policy and budget, for `tower::retry::RetryLayer::new(..)`.
    ///
    /// ```
    /// use volley_retry::{RetryLayer, RetryPolicy};
    ///
    /// let layer = tower::retry::RetryLayer::new(RetryLayer::new(RetryPolicy::new()).tower_policy());
    /// # let _ = layer;
    /// ```
    pub fn tower_policy(&self) -> TowerPolicy<C, K> {
        TowerPolicy {
            shared: self.shared.clone(),
            retries: 0,
            previous_delay: Duration::ZERO,
            budget: None,
        }
    }
}

impl<C, K> Clone for TowerPolicy<C, K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            retries: self.retries,
            previous_delay: self.previous_delay,
            budget: self.budget.clone(),
        }
    }
}

impl<C, K, B, ResB, E> Policy<Request<B>, Response<ResB>, E> for TowerPolicy<C, K>
where
    C: Classify,
    K: KeyFn,
    B: Clone,
    E: 'static,
{
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<Self::Future> {
        let policy = &self.shared.policy;
        if self.retries == 0 {
            // tower calls `retry` on the request's own copy of the policy: the first call
            // is the request's first attempt, the moment it pays into its budget.
            self.budget = self
                .shared
                .budgets
                .as_ref()
                .map(|budgets| budgets.deposit(policy.key_fn.key(RequestHead::new(req))));
        }
        let outcome = match result {
            Ok(res) => policy.classifier.classify(req.method(), Ok(&*res)),
            Err(err) => dyn_error(err).map_or(Outcome::Fatal, |err| {
                policy.classifier.classify::<ResB>(req.method(), Err(err))
            }),
        };
        let breaker_wait = match result {
            Ok(_) => None,
            Err(err) => {
                dyn_error(err).and_then(find_cause::<BreakerOpen>).map(BreakerOpen::retry_in)
            }
        };
        let attempt = Attempt {
            outcome,
            idempotent: policy.is_idempotent(req.method(), req.headers()),
            retries: self.retries,
            previous_delay: self.previous_delay,
            deadline: Deadline::from_request(req),
            replayable: true,
            breaker_wait,
        };
        match policy.decide(&attempt, self.budget.as_deref()) {
            Decision::Retry { delay, .. } => {
                self.retries += 1;
                self.previous_delay = delay;
                Some(tokio::time::sleep(delay))
            }
            Decision::Done | Decision::Stop(_) => None,
        }
    }

    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        (self.shared.policy.limits.max_retries > 0).then(|| req.clone())
    }
}
