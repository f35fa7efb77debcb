use std::time::Duration;

use tower_layer::Layer;

use crate::{AttemptTimeout, TotalTimeout};

/// Bounds a whole logical call, response body included, and puts that bound on the request
/// as a [`Deadline`](volley_core::Deadline) for every layer inside to see.
///
/// The interval runs from [`call`](tower_service::Service::call) until the response body
/// ends; time spent in `poll_ready` before the call is not counted. When a
/// `Deadline` is already on the request (set by the caller or an outer layer), the earlier
/// of the two is enforced and kept on the request: this layer never extends a deadline.
/// Expiry gives a [`TimedOut`](crate::TimedOut) of kind [`Total`](crate::TimeoutKind::Total),
/// reporting the budget the call had, for example
/// `request timed out after 30s reading the body`.
///
/// The layer holds no state: nothing is shared between calls or clones.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use tower::{ServiceBuilder, ServiceExt};
/// use volley_core::Deadline;
/// use volley_timeout::TotalTimeoutLayer;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let client = tower::service_fn(|req: http::Request<()>| async move {
///     // Layers inside see the deadline and can refuse to wait past it.
///     let left = Deadline::from_request(&req).unwrap().remaining();
///     Ok::<_, std::convert::Infallible>(http::Response::new(left.as_secs().to_string()))
/// });
/// let svc = ServiceBuilder::new().layer(TotalTimeoutLayer::new(Duration::from_secs(30))).service(client);
/// let res = svc.oneshot(http::Request::new(())).await.unwrap();
/// assert_eq!(res.body().get_ref(), "30");
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct TotalTimeoutLayer {
    timeout: Duration,
    body_idle: Option<Duration>,
}

impl TotalTimeoutLayer {
    /// A layer that gives each call `timeout`, from `call` to the end of the response body.
    /// Durations too large for the clock mean "no limit in practice" (they saturate at
    /// about 30 years).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero: a call that may take no time at all always fails.
    pub const fn new(timeout: Duration) -> Self {
        assert!(!timeout.is_zero(), "TotalTimeoutLayer::new: the timeout must not be zero");
        Self { timeout, body_idle: None }
    }

    /// The longest the response body may wait for its next frame (or, after the headers,
    /// for its first), failing with kind [`BodyIdle`](crate::TimeoutKind::BodyIdle).
    /// Defaults to no idle limit.
    ///
    /// # Panics
    ///
    /// If `gap` is zero.
    pub const fn body_idle_timeout(mut self, gap: Duration) -> Self {
        assert!(!gap.is_zero(), "body_idle_timeout: the gap must not be zero");
        self.body_idle = Some(gap);
        self
    }
}

impl<S> Layer<S> for TotalTimeoutLayer {
    type Service = TotalTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TotalTimeout::new(inner, self.timeout, self.body_idle)
    }
}

/// Bounds one attempt, response head and body, and never lets it outlive the request's
/// [`Deadline`](volley_core::Deadline).
///
/// The interval runs from [`call`](tower_service::Service::call) until the response body
/// ends. The timer is set for the earlier of `call + timeout` and the request's deadline.
/// When the attempt's own limit fires, the error is a [`TimedOut`](crate::TimedOut) of
/// kind [`Attempt`](crate::TimeoutKind::Attempt) (`attempt timed out after 10s waiting for
/// headers`), which the default classifier treats as retryable. When the deadline fires
/// first, the kind is [`Total`](crate::TimeoutKind::Total): the time for the whole call is
/// spent, so nobody should retry. Put it innermost, just around the client, so that each
/// retry gets a fresh attempt timer.
///
/// The layer holds no state: nothing is shared between calls or clones.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use tower::{ServiceBuilder, ServiceExt};
/// use volley_timeout::{AttemptTimeoutLayer, TimedOut, TimeoutKind, TimeoutPhase};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let slow = tower::service_fn(|_req: http::Request<()>| async {
///     tokio::time::sleep(Duration::from_secs(60)).await;
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// });
/// let svc = ServiceBuilder::new()
///     .layer(AttemptTimeoutLayer::new(Duration::from_secs(10)).body_idle_timeout(Duration::from_secs(5)))
///     .service(slow);
/// let err = svc.oneshot(http::Request::new(())).await.unwrap_err();
/// let timed_out = err.downcast_ref::<TimedOut>().unwrap();
/// assert_eq!((timed_out.kind(), timed_out.phase()), (TimeoutKind::Attempt, TimeoutPhase::Headers));
/// assert_eq!(timed_out.to_string(), "attempt timed out after 10s waiting for headers");
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct AttemptTimeoutLayer {
    timeout: Duration,
    body_idle: Option<Duration>,
}

impl AttemptTimeoutLayer {
    /// A layer that gives each attempt `timeout` (or less, when the request's deadline is
    /// nearer), from `call` to the end of the response body. Durations too large for the
    /// clock mean "no limit of its own".
    ///
    /// # Panics
    ///
    /// If `timeout` is zero: an attempt that may take no time at all always fails.
    pub const fn new(timeout: Duration) -> Self {
        assert!(!timeout.is_zero(), "AttemptTimeoutLayer::new: the timeout must not be zero");
        Self { timeout, body_idle: None }
    }

    /// The longest the response body may wait for its next frame (or, after the headers,
    /// for its first), failing with kind [`BodyIdle`](crate::TimeoutKind::BodyIdle).
    /// Defaults to no idle limit.
    ///
    /// # Panics
    ///
    /// If `gap` is zero.
    pub const fn body_idle_timeout(mut self, gap: Duration) -> Self {
        assert!(!gap.is_zero(), "body_idle_timeout: the gap must not be zero");
        self.body_idle = Some(gap);
        self
    }
}

impl<S> Layer<S> for AttemptTimeoutLayer {
    type Service = AttemptTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AttemptTimeout::new(inner, self.timeout, self.body_idle)
    }
}
