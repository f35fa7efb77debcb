//! The vocabulary every volley layer speaks: [`Deadline`], [`Key`], body-end guards and
//! error chains.
//!
//! volley is a set of independent tower layers for HTTP clients. This crate has no layer of
//! its own; it holds the few types that let them cooperate without depending on each other:
//!
//! - [`Deadline`] travels in request extensions, so every layer that waits can fail fast
//!   instead of sleeping into a timeout.
//! - [`Key`] and [`KeyFn`] partition per-host (or per-tenant) state the same way in every
//!   layer.
//! - [`GuardedBody`] runs a [`BodyGuard`] exactly once when a response body ends, so permits
//!   and timers live until the body is read, fails, or is dropped — not just until the
//!   headers arrive.
//! - [`find_cause`] looks through an error's source chain, and [`TimedOut`] is the one
//!   timeout error every layer recognises ([`NotSent`] and [`BreakerOpen`] likewise mark
//!   requests that never left the client).
//!
//! # Example
//!
//! A layer-like service that holds a resource until the response body ends:
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use volley_core::{Deadline, GuardedBody, Key};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let in_use = Arc::new(AtomicUsize::new(0));
//! let mut req = http::Request::get("https://api.example.com/items").body(()).unwrap();
//! Deadline::after(Duration::from_secs(30)).insert_into(&mut req);
//! assert_eq!(Key::from_uri(req.uri()).as_str(), "https://api.example.com");
//!
//! // What a layer does around its inner service's response:
//! in_use.fetch_add(1, Ordering::SeqCst);
//! let counter = in_use.clone();
//! let response = http::Response::new(Full::new(Bytes::from("{}")))
//!     .map(|body| GuardedBody::new(body, move |_end| { counter.fetch_sub(1, Ordering::SeqCst); }));
//! assert_eq!(in_use.load(Ordering::SeqCst), 1); // headers are here, the body is not read
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "{}");
//! assert_eq!(in_use.load(Ordering::SeqCst), 0); // released at end of body
//! # }
//! ```

mod body;
mod breaker_open;
mod deadline;
mod error;
mod key;
mod not_sent;
pub mod redact;
#[cfg(feature = "metrics")]
pub mod telemetry;
mod timed_out;

pub use body::{BodyEnd, BodyGuard, GuardedBody};
pub use breaker_open::BreakerOpen;
pub use deadline::Deadline;
pub use error::{BoxError, find_cause};
pub use key::{ByAuthority, Key, KeyFn, KeyHashBuilder, KeyHasher, RequestHead, SingleKey};
pub use not_sent::NotSent;
pub use timed_out::{TimedOut, TimeoutKind, TimeoutPhase};
