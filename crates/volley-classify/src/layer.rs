use tower_layer::Layer;

use crate::{ClassifyService, HttpClassifier};

/// Classifies every attempt and records its [`Outcome`](crate::Outcome) in the response's
/// extensions; optionally turns failing responses into a typed
/// [`StatusError`](crate::StatusError).
///
/// The classification covers the response head (status and headers) and errors from the
/// inner service; it does not read or wait for the body. The layer holds no state, so
/// clones are independent and free.
///
/// # Example
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use tower::{ServiceBuilder, ServiceExt};
/// use volley_classify::{ClassifyLayer, Outcome, StatusError};
/// use volley_core::find_cause;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = tower::service_fn(|_req: Request<()>| async {
///     let res = Response::builder().status(429).header("retry-after", "2").body(()).unwrap();
///     Ok::<_, std::convert::Infallible>(res)
/// });
///
/// // Record the outcome and let the response through…
/// let svc = ServiceBuilder::new().layer(ClassifyLayer::new()).service(server.clone());
/// let res = svc.oneshot(Request::new(())).await.unwrap();
/// let outcome = res.extensions().get::<Outcome>().unwrap();
/// assert!(outcome.is_throttled());
/// assert_eq!(outcome.hint().unwrap().delay().as_secs(), 2);
///
/// // …or turn failures into a typed error.
/// let svc = ServiceBuilder::new().layer(ClassifyLayer::new().error_for_status(true)).service(server);
/// let err = svc.oneshot(Request::new(())).await.unwrap_err();
/// let status = find_cause::<StatusError>(&*err).unwrap();
/// assert_eq!(status.status(), StatusCode::TOO_MANY_REQUESTS);
/// assert_eq!(status.to_string(), "server answered 429 Too Many Requests (throttled, retry after 2s (retry-after))");
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ClassifyLayer<C = HttpClassifier> {
    classifier: C,
    error_for_status: bool,
}

impl ClassifyLayer {
    /// A layer with the default [`HttpClassifier`] that records outcomes and passes every
    /// response through.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<C> ClassifyLayer<C> {
    /// The classifier to use. Defaults to [`HttpClassifier::new`].
    pub fn classifier<C2>(self, classifier: C2) -> ClassifyLayer<C2> {
        ClassifyLayer { classifier, error_for_status: self.error_for_status }
    }

    /// Whether a response whose outcome is not [`Success`](crate::Outcome::Success) becomes an
    /// `Err(`[`StatusError`](crate::StatusError)`)` (its body is dropped unread). Defaults to
    /// `false`.
    pub fn error_for_status(mut self, enabled: bool) -> Self {
        self.error_for_status = enabled;
        self
    }
}

impl<S, C: Clone> Layer<S> for ClassifyLayer<C> {
    type Service = ClassifyService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        ClassifyService::new(inner, self.classifier.clone(), self.error_for_status)
    }
}
