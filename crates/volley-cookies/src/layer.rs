use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::{CookieProvider, Cookies};

/// Adds a `Cookie` header from a [`CookieProvider`] (usually a [`Jar`](crate::Jar)) to each
/// request, and stores each response's `Set-Cookie` headers in it.
///
/// Put it inside a redirect layer and it runs once per hop: cookies set on a redirect
/// response are kept, and each hop gets the cookies that match its own URL. The URL is the
/// request's absolute URI; a request without scheme and authority passes through untouched.
///
/// A request that already has a `Cookie` header is sent as it is, without the jar's cookies
/// (as reqwest does; aiohttp merges instead), and its response's cookies are still stored.
/// Cookies are stored when the response head arrives, before the body is read.
///
/// All clones of the layer, and of the services it makes, share the one provider they were
/// given: cookies set for one user are sent for every request through it. Give each user a
/// jar of their own when that matters.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use tower::{ServiceBuilder, ServiceExt};
/// use volley_cookies::{CookieLayer, Jar};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let jar = Arc::new(Jar::new());
/// let svc = ServiceBuilder::new()
///     .layer(CookieLayer::new(jar.clone()).max_set_cookie_headers(10))
///     .service(tower::service_fn(|_req: http::Request<()>| async {
///         let res = http::Response::builder().header("set-cookie", "id=7").body(()).unwrap();
///         Ok::<_, std::convert::Infallible>(res)
///     }));
/// svc.oneshot(http::Request::get("http://127.0.0.1:8080/").body(()).unwrap()).await.unwrap();
/// assert_eq!(jar.snapshot()[0].name(), "id");
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct CookieLayer {
    provider: Arc<dyn CookieProvider>,
    max_set_cookie: usize,
}

impl CookieLayer {
    /// A layer that keeps cookies in `provider`.
    pub fn new<P: CookieProvider>(provider: Arc<P>) -> Self {
        Self { provider, max_set_cookie: 50 }
    }

    /// The most `Set-Cookie` headers read from one response; the rest are ignored, so a
    /// hostile server cannot make the client parse thousands. Zero sends cookies but never
    /// stores any. Defaults to 50.
    pub fn max_set_cookie_headers(mut self, max: usize) -> Self {
        self.max_set_cookie = max;
        self
    }
}

impl fmt::Debug for CookieLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieLayer")
            .field("max_set_cookie_headers", &self.max_set_cookie)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for CookieLayer {
    type Service = Cookies<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cookies::new(inner, self.provider.clone(), self.max_set_cookie)
    }
}
