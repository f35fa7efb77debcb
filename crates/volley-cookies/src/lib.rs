//! An opt-in cookie jar for HTTP clients, as a tower layer: [`CookieLayer`] sends the
//! cookies of a shared [`Jar`] with each request and stores the `Set-Cookie` headers of
//! each response.
//!
//! - [`Jar`] is a thread-safe store over [`cookie_store`] (RFC 6265 domain and path
//!   matching, Secure, HttpOnly, Expires and Max-Age), shared as an `Arc<Jar>`, that you can
//!   seed ([`add_cookie_str`](Jar::add_cookie_str)), inspect ([`cookies`](Jar::cookies),
//!   [`snapshot`](Jar::snapshot), [`len`](Jar::len)) and [`clear`](Jar::clear).
//! - [`CookieProvider`] is the trait the layer talks to (reqwest's `CookieStore` shape), so
//!   a store of your own fits too.
//! - [`CookieLayer`] / [`Cookies`] run per request; inside a redirect layer that means per
//!   hop, so cookies set on a redirect are kept and sent only where they match.
//!
//! Cookies are off unless you add the layer: a client that runs inside a server, calling
//! APIs on behalf of many users, would otherwise send one user's session to everybody.
//! Share a jar only between requests of one user (one session); give each user a jar of
//! their own.
//!
//! Hostile servers are bounded: at most 50 `Set-Cookie` headers are read per response
//! ([`CookieLayer::max_set_cookie_headers`]), a cookie over [`MAX_COOKIE_BYTES`] is ignored,
//! the jar holds at most 50 cookies per registrable domain and 3000 in all (the oldest is
//! evicted), and a Domain attribute naming a public suffix (`com`, `co.uk`, `github.io`,
//! from the Public Suffix List compiled into the `psl` crate) is refused. Cookies ignore
//! ports (RFC 6265 §8.5): servers on two ports of one host share their cookies. The guide,
//! `docs/cookies.md`, has the details.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use http::header::{COOKIE, SET_COOKIE};
//! use tower::{ServiceBuilder, ServiceExt};
//! use url::Url;
//! use volley_cookies::{CookieLayer, Jar};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A fake server: `/login` sets a session cookie, every page echoes the Cookie it got.
//! let server = tower::service_fn(|req: http::Request<()>| async move {
//!     let sent = req.headers().get(COOKIE).cloned();
//!     let mut res = http::Response::builder();
//!     if req.uri().path() == "/login" {
//!         res = res.header(SET_COOKIE, "session=s3cr3t; Path=/; HttpOnly");
//!     }
//!     Ok::<_, std::convert::Infallible>(res.body(sent).unwrap())
//! });
//! let jar = Arc::new(Jar::new());
//! let client = ServiceBuilder::new().layer(CookieLayer::new(jar.clone())).service(server);
//!
//! let get = |url: &str| http::Request::get(url).body(()).unwrap();
//! let res = client.clone().oneshot(get("https://api.example.com/login")).await.unwrap();
//! assert_eq!(res.body(), &None); // nothing to send yet
//! let res = client.clone().oneshot(get("https://api.example.com/me")).await.unwrap();
//! assert_eq!(res.body().as_ref().unwrap(), "session=s3cr3t");
//! // Another host gets nothing: the cookie had no Domain attribute.
//! let res = client.oneshot(get("https://cdn.example.com/logo.png")).await.unwrap();
//! assert_eq!(res.body(), &None);
//!
//! assert_eq!(jar.len(), 1);
//! let me = Url::parse("https://api.example.com/me").unwrap();
//! assert!(jar.cookies(&me).unwrap().is_sensitive());
//! assert!(!format!("{jar:?} {:?}", jar.snapshot()).contains("s3cr3t"));
//! # }
//! ```

mod jar;
mod layer;
mod policy;
mod provider;
mod service;
mod store;
mod stored;

pub mod future;

pub use jar::Jar;
pub use layer::CookieLayer;
pub use policy::MAX_COOKIE_BYTES;
pub use provider::CookieProvider;
pub use service::Cookies;
pub use stored::StoredCookie;

/// The URL type of [`CookieProvider`] and [`Jar`], re-exported so that callers need not
/// depend on the `url` crate themselves.
pub use url::Url;

// The guide's code blocks compile and run as doctests of this crate.
#[doc = include_str!("../../../docs/cookies.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
