//! Follows HTTP redirects safely: credentials never cross origins, https never drops to
//! http unless asked, an opt-in guard keeps redirects out of private networks, and the
//! response tells the hops it took.
//!
//! [`RedirectLayer`] works around any `tower::Service<http::Request<B>>` whose body can be
//! copied for a 307 or 308 ([`ReplayableBody`]). Each hop is a new call of the inner
//! service; the response carries [`Redirects`] in its extensions (hops, final URL) when it
//! was redirected. Too many hops, a downgrade to http or a private address fail with a
//! [`RedirectError`] that carries the chain.
//!
//! Why not tower-http's `FollowRedirect`: its policy is synchronous (the private-address
//! guard must resolve names), it cannot put the hop chain or a reason on the response, and
//! it drops a 307 whose body cannot be cloned without saying why. See `docs/redirects.md`.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt};
//! use volley_redirect::{RedirectLayer, Redirects};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A server where /old moves to /new.
//! let server = tower::service_fn(|req: Request<Full<Bytes>>| async move {
//!     let res = match req.uri().path() {
//!         "/old" => Response::builder().status(301).header("location", "/new"),
//!         _ => Response::builder().status(200),
//!     };
//!     Ok::<_, std::convert::Infallible>(res.body(Full::new(Bytes::new())).unwrap())
//! });
//! let client = ServiceBuilder::new().layer(RedirectLayer::new()).service(server);
//!
//! let req = Request::get("https://example.com/old")
//!     .header("authorization", "Bearer secret")
//!     .body(Full::new(Bytes::new()))
//!     .unwrap();
//! let res = client.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! let redirects = res.extensions().get::<Redirects>().unwrap();
//! assert_eq!(redirects.final_url(), "https://example.com/new");
//! assert_eq!(redirects.hops()[0].status(), 301);
//! # }
//! ```

mod body;
mod error;
mod follow;
pub mod future;
mod guard;
mod hop;
mod layer;
mod policy;
mod service;

pub use body::ReplayableBody;
pub use error::{RedirectError, RedirectErrorKind};
pub use hop::{Hop, NotFollowed, Redirects};
pub use layer::RedirectLayer;
pub use policy::{Action, Attempt, MAX_HOPS, Policy};
pub use service::FollowRedirect;
