//! The bridge to tower-http's classification, so [`HttpClassifier`] plugs into `TraceLayer`.

use std::any::Any;
use std::error::Error;
use std::fmt;

use http::{Method, Request, Response};
use tower_http::classify::{
    ClassifiedResponse, ClassifyResponse, MakeClassifier, NeverClassifyEos,
};
use volley_core::BoxError;

use crate::{Classify, HttpClassifier, Outcome};

/// A tower-http [`MakeClassifier`] for any [`Classify`]: failures are reported with their
/// [`Outcome`] as the failure class.
///
/// [`HttpClassifier`] implements `MakeClassifier` itself; wrap a classifier of your own in
/// `TraceClassifier` to hand it to `TraceLayer::new`.
///
/// # Example
///
/// ```
/// use tower_http::trace::TraceLayer;
/// use volley_classify::{HttpClassifier, TraceClassifier};
///
/// let trace = TraceLayer::new(HttpClassifier::new());
/// let custom = TraceLayer::new(TraceClassifier::new(HttpClassifier::new()));
/// # let _ = (trace, custom);
/// ```
#[derive(Clone, Debug, Default)]
pub struct TraceClassifier<C = HttpClassifier>(C);

impl<C> TraceClassifier<C> {
    /// Wraps `classifier`.
    pub fn new(classifier: C) -> Self {
        Self(classifier)
    }
}

/// The per-request classifier made by [`TraceClassifier`] and [`HttpClassifier`]: the
/// classifier plus the request's method.
#[derive(Clone, Debug)]
pub struct MethodClassifier<C> {
    classifier: C,
    method: Method,
}

impl<C: Classify> MakeClassifier for TraceClassifier<C> {
    type Classifier = MethodClassifier<C>;
    type FailureClass = Outcome;
    type ClassifyEos = NeverClassifyEos<Outcome>;

    fn make_classifier<B>(&self, req: &Request<B>) -> Self::Classifier {
        MethodClassifier { classifier: self.0.clone(), method: req.method().clone() }
    }
}

impl MakeClassifier for HttpClassifier {
    type Classifier = MethodClassifier<HttpClassifier>;
    type FailureClass = Outcome;
    type ClassifyEos = NeverClassifyEos<Outcome>;

    fn make_classifier<B>(&self, req: &Request<B>) -> Self::Classifier {
        MethodClassifier { classifier: self.clone(), method: req.method().clone() }
    }
}

impl<C: Classify> ClassifyResponse for MethodClassifier<C> {
    type FailureClass = Outcome;
    type ClassifyEos = NeverClassifyEos<Outcome>;

    fn classify_response<B>(
        self,
        res: &Response<B>,
    ) -> ClassifiedResponse<Outcome, Self::ClassifyEos> {
        let outcome = self.classifier.classify(&self.method, Ok(res));
        ClassifiedResponse::Ready(if outcome.is_success() { Ok(()) } else { Err(outcome) })
    }

    fn classify_error<E>(self, error: &E) -> Outcome
    where
        E: fmt::Display + 'static,
    {
        // tower-http only promises `Display`; recover the error type where we can.
        match dyn_error(error) {
            Some(err) => self.classifier.classify::<()>(&self.method, Err(err)),
            None => Outcome::Fatal,
        }
    }
}

/// An error of a type only known to be `'static` as a trait object, for the error types an
/// HTTP client stack returns: `BoxError`, hyper-util's and hyper's errors, `io::Error`.
///
/// Adapters to APIs that hand over `&E` without an `Error` bound (tower-http's classifiers,
/// tower's retry `Policy`) use it to classify through the source chain.
///
/// ```
/// let err: volley_core::BoxError = "boom".into();
/// assert_eq!(volley_classify::dyn_error(&err).unwrap().to_string(), "boom");
/// assert!(volley_classify::dyn_error(&42u8).is_none());
/// ```
pub fn dyn_error<E: Any>(error: &E) -> Option<&(dyn Error + 'static)> {
    let any: &dyn Any = error;
    if let Some(boxed) = any.downcast_ref::<BoxError>() {
        return Some(&**boxed);
    }
    if let Some(boxed) = any.downcast_ref::<Box<dyn Error + Send + Sync + 'static>>() {
        return Some(&**boxed);
    }
    if let Some(err) = any.downcast_ref::<hyper_util::client::legacy::Error>() {
        return Some(err);
    }
    if let Some(err) = any.downcast_ref::<hyper::Error>() {
        return Some(err);
    }
    any.downcast_ref::<std::io::Error>().map(|err| err as &(dyn Error + 'static))
}
