//! An HTTP client built from independent tower layers: a total timeout, retries that
//! honour `Retry-After`, per-host rate and concurrency limits, an attempt timeout — and a
//! fan-out helper that runs thousands of requests with bounded concurrency.
//!
//! [`Client`] assembles the standard stack around a pooled hyper-util client over rustls:
//!
//! ```text
//! TotalTimeout → (your layers) → Retry → RateLimit → ConcurrencyLimit → AttemptTimeout → hyper-util
//! ```
//!
//! Each layer is its own crate (`volley-timeout`, `volley-retry`, `volley-ratelimit`,
//! `volley-limit`, `volley-classify`) and works around any `tower::Service`; this crate
//! chooses defaults, erases the types, and adds request and response helpers, one
//! [`Error`] type, and [`join`].
//!
//! # Example
//!
//! ```
//! use volley::{Client, join::Fanout};
//!
//! # #[tokio::main] async fn main() -> Result<(), volley::Error> {
//! # let server = volley_testserver::TestServer::start().await.unwrap();
//! # let base = format!("http://{}", server.addr());
//! let client = Client::builder().per_host(20).build()?;
//!
//! let doc: serde_json::Value = client.get(format!("{base}/json")).send().await?.error_for_status()?.json().await?;
//! assert!(doc.get("slideshow").is_some());
//!
//! // 100 requests, at most 10 in flight; each body is read inside its slot.
//! let requests = (0..100).map(|i| client.get(format!("{base}/bytes/{i}")).build());
//! let sizes = Fanout::new(client.clone(), 10)?
//!     .ordered(requests.collect::<Result<Vec<_>, _>>()?, |res| async move {
//!         Ok::<_, volley::Error>(volley::Response::from(res).bytes().await?.len())
//!     })
//!     .await;
//! assert_eq!(*sizes[42].as_ref().unwrap(), 42);
//! # Ok(()) }
//! ```

mod body;
mod builder;
mod call;
mod client;
mod connect;
#[cfg(feature = "hickory-dns")]
mod dns_hickory;
#[cfg(feature = "hickory-dns")]
pub use dns_hickory::HickoryDns;
mod error;
pub mod join;
mod limits;
mod multipart;
mod proxy;
mod request;
mod response;
mod stack;
mod telemetry;
mod tls;
mod transport;
mod uri;

pub use body::Body;
pub use builder::{AttemptBody, ClientBuilder, DEFAULT_MAX_RESPONSE_BODY, StackLayer};
pub use client::Client;
pub use error::{BodyTooLarge, Error, Kind};
pub use limits::Limits;
pub use multipart::Multipart;
pub use proxy::{Proxy, ProxyStream};
pub use request::RequestBuilder;
pub use response::{Response, ResponseBody};
pub use tls::{Identity, TlsVersion};
pub use transport::{BoxConnector, Connection};

/// The circuit breaker ([`ClientBuilder::circuit_breaker`]).
pub use volley_breaker as breaker;
/// The cookie jar ([`ClientBuilder::cookie_store`], [`ClientBuilder::cookie_provider`]).
pub use volley_cookies as cookies;
/// Which headers are credentials, and URLs and headers printed without secrets.
pub use volley_core::redact;
/// Request hedging ([`ClientBuilder::hedge`]).
pub use volley_hedge as hedge;
/// Concurrency limits, fixed and adaptive ([`ClientBuilder::adaptive_concurrency`],
/// [`Client::limits`]).
pub use volley_limit as limit;
/// Redirect policies and the history a response carries ([`Response::redirects`]).
pub use volley_redirect as redirect;
pub use volley_retry::{Backoff, RetryBudget, RetryPolicy, StopReason};

// The README's and the guides' code blocks compile and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[doc = include_str!("../../../docs/client.md")]
#[cfg(doctest)]
pub struct ClientGuideDoctests;

#[doc = include_str!("../../../docs/join.md")]
#[cfg(doctest)]
pub struct JoinGuideDoctests;

#[doc = include_str!("../../../docs/redirects.md")]
#[cfg(doctest)]
pub struct RedirectsGuideDoctests;

#[doc = include_str!("../../../docs/transport.md")]
#[cfg(doctest)]
pub struct TransportGuideDoctests;
