use http::HeaderValue;
use url::Url;

/// Where [`Cookies`](crate::Cookies) keeps cookies: [`Jar`](crate::Jar), or your own store
/// (one per user, backed by a database…).
///
/// The shape is reqwest's `cookie::CookieStore`, so a store written for one fits the other
/// with a few lines of glue.
///
/// # Example
///
/// A provider that sends one fixed cookie and stores nothing:
///
/// ```
/// use http::HeaderValue;
/// use url::Url;
/// use volley_cookies::CookieProvider;
///
/// #[derive(Debug)]
/// struct Fixed(HeaderValue);
///
/// impl CookieProvider for Fixed {
///     fn set_cookies(&self, _headers: &mut dyn Iterator<Item = &HeaderValue>, _url: &Url) {}
///     fn cookies(&self, url: &Url) -> Option<HeaderValue> {
///         (url.host_str() == Some("api.example.com")).then(|| self.0.clone())
///     }
/// }
/// let fixed = Fixed(HeaderValue::from_static("session=abc"));
/// assert!(fixed.cookies(&Url::parse("https://other.example.com/").unwrap()).is_none());
/// ```
pub trait CookieProvider: Send + Sync + 'static {
    /// Stores the `Set-Cookie` header values of a response to a request for `url`.
    ///
    /// The layer hands over at most
    /// [`max_set_cookie_headers`](crate::CookieLayer::max_set_cookie_headers) values; each
    /// comes straight from the network, so an implementation must not panic on any bytes.
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url);

    /// The `Cookie` header value to send with a request for `url`, if any cookie matches.
    /// The layer marks it sensitive.
    fn cookies(&self, url: &Url) -> Option<HeaderValue>;
}
