//! One classification of HTTP attempts ([`Outcome`]) and one parser of server timing hints
//! (`Retry-After`, `retry-after-ms`, `RateLimit`…), shared by every volley layer.
//!
//! - [`Classify`] turns an attempt — the method and the response or error — into an
//!   [`Outcome`]: `Success`, `Retryable { hint }`, `Throttled { hint }`, `Fatal` or
//!   `NotSent`. [`HttpClassifier`] is the configurable default.
//! - [`HintParser`] reads the delay a server asked for from any of the headers servers use.
//! - [`ClassifyLayer`] records the outcome in the response extensions, or turns failing
//!   responses into a typed [`StatusError`].
//! - [`HttpClassifier`] is a tower-http `MakeClassifier`, so `TraceLayer` reports the same
//!   outcomes.
//!
//! # Example
//!
//! ```
//! use http::{Method, Response};
//! use volley_classify::{Classify, HintSource, HttpClassifier, Outcome};
//!
//! let classifier = HttpClassifier::new();
//! let res = Response::builder().status(503).header("retry-after", "3").body(()).unwrap();
//! let outcome = classifier.classify(&Method::GET, Ok(&res));
//! assert!(outcome.is_throttled());
//! let hint = outcome.hint().unwrap();
//! assert_eq!((hint.delay().as_secs(), hint.source()), (3, HintSource::RetryAfter));
//!
//! let not_found = Response::builder().status(404).body(()).unwrap();
//! assert_eq!(classifier.classify(&Method::GET, Ok(&not_found)), Outcome::Fatal);
//! ```

mod classify;
mod error;
pub mod future;
pub mod hint;
mod layer;
mod outcome;
mod service;
mod status_set;
mod trace;

pub use classify::{Classify, HttpClassifier};
pub use error::StatusError;
pub use hint::{Hint, HintParser, HintSource, RateLimitStatus, ResetFormat};
pub use layer::ClassifyLayer;
pub use outcome::Outcome;
pub use service::ClassifyService;
pub use trace::{MethodClassifier, TraceClassifier, dyn_error};

// So do the guide's.
#[doc = include_str!("../../../docs/classify.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
