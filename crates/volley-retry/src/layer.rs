use std::sync::Arc;

use tower_layer::Layer;
use volley_classify::HttpClassifier;
use volley_core::ByAuthority;

use crate::budget::Budgets;
use crate::{Retry, RetryPolicy};

/// Retries failed attempts: never earlier than the server asked, never for longer than
/// `max_retry_after` or past the request's deadline, only for idempotent requests (or
/// requests that never reached a server), and within a per-host retry budget.
///
/// The layer covers the whole logical request up to the final response head: it sends
/// attempts, sleeps between them, and returns the last response or error. The budget is
/// shared by every clone of the layer and of the services it makes. Put it inside a total
/// timeout (so the deadline covers the sleeps) and outside rate and concurrency limits (so
/// every attempt is paced and a request asleep in backoff holds no slot).
///
/// The inner service receives [`ReplayBody<B>`](crate::ReplayBody) request bodies.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use http::{Request, Response};
/// use tower::{ServiceBuilder, ServiceExt};
/// use volley_retry::{Backoff, RetryLayer, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let calls = Arc::new(AtomicU32::new(0));
/// let seen = calls.clone();
/// let flaky = tower::service_fn(move |_req: Request<_>| {
///     let n = seen.fetch_add(1, Ordering::SeqCst);
///     async move {
///         let status = if n < 2 { 503 } else { 200 };
///         Ok::<_, std::convert::Infallible>(Response::builder().status(status).body(()).unwrap())
///     }
/// });
///
/// let policy = RetryPolicy::new().backoff(Backoff::constant(Duration::from_millis(1)));
/// let svc = ServiceBuilder::new().layer(RetryLayer::new(policy)).service(flaky);
/// let res = svc.oneshot(Request::get("http://api.example/").body(String::new()).unwrap()).await.unwrap();
/// assert_eq!(res.status(), 200);
/// assert_eq!(calls.load(Ordering::SeqCst), 3);
/// # }
/// ```
#[derive(Debug)]
pub struct RetryLayer<C = HttpClassifier, K = ByAuthority> {
    pub(crate) shared: Arc<Shared<C, K>>,
}

/// What every clone of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared<C, K> {
    pub(crate) policy: RetryPolicy<C, K>,
    pub(crate) budgets: Option<Budgets>,
}

impl<C, K> RetryLayer<C, K> {
    /// A layer retrying by `policy`.
    pub fn new(policy: RetryPolicy<C, K>) -> Self {
        let budgets = policy.limits.budget.map(Budgets::new);
        Self { shared: Arc::new(Shared { policy, budgets }) }
    }

    /// How many keys currently have a retry budget (idle ones are dropped over time).
    pub fn tracked_budgets(&self) -> usize {
        self.shared.budgets.as_ref().map_or(0, Budgets::tracked_keys)
    }
}

impl<C, K> Clone for RetryLayer<C, K> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<S: Clone, C, K> Layer<S> for RetryLayer<C, K> {
    type Service = Retry<S, C, K>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, self.shared.clone())
    }
}
