use std::error::Error;
use std::io;

/// The error type layers return, as in tower: any error, boxed.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The first error of type `T` in `err`'s chain: `err` itself, then its
/// [`source`](Error::source), and so on.
///
/// Layers wrap errors (a retry error around a timeout around a connect error), so callers
/// should look through the chain rather than only at the top.
///
/// # Example
///
/// ```
/// use std::io;
/// use volley_core::{find_cause, BoxError};
///
/// #[derive(Debug)]
/// struct Wrapper(io::Error);
/// impl std::fmt::Display for Wrapper {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("request failed") }
/// }
/// impl std::error::Error for Wrapper {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) }
/// }
///
/// let err: BoxError = Box::new(Wrapper(io::Error::from(io::ErrorKind::ConnectionReset)));
/// let io = find_cause::<io::Error>(&*err).unwrap();
/// assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
/// assert!(find_cause::<std::fmt::Error>(&*err).is_none());
///
/// // An error wrapped in an `io::Error` (as TLS errors are) is found too.
/// let tls: BoxError = Box::new(io::Error::new(io::ErrorKind::InvalidData, std::fmt::Error));
/// assert!(find_cause::<std::fmt::Error>(&*tls).is_some());
/// ```
pub fn find_cause<'a, T>(err: &'a (dyn Error + 'static)) -> Option<&'a T>
where
    T: Error + 'static,
{
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        // `io::Error::source` skips the error it wraps (it returns that error's source), so
        // a TLS error inside an `io::Error` would never be seen: step into it instead.
        next = match err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(wrapped) => Some(wrapped as &(dyn Error + 'static)),
            None => err.source(),
        };
    }
    None
}
