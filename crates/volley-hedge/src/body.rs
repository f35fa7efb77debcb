use bytes::{Buf, Bytes};
use http_body_util::{Empty, Full};
use volley_retry::ReplayBody;

/// A request body that can be copied for a hedge, when it can.
///
/// The hedge layer asks for a copy when the request arrives, before the first attempt
/// starts sending the body; a body that answers `None` is sent once and never hedged.
/// Implemented for the bodies a volley stack carries ([`ReplayBody`], which the retry layer
/// hands down) and for the in-memory bodies tests and simple clients use.
pub trait TryCloneBody: Sized {
    /// A copy that sends the same bytes from the start, or `None` if the body cannot be
    /// sent twice.
    fn try_clone_body(&self) -> Option<Self>;
}

impl<B: http_body::Body> TryCloneBody for ReplayBody<B> {
    fn try_clone_body(&self) -> Option<Self> {
        self.try_replay()
    }
}

impl<D: Buf> TryCloneBody for Empty<D> {
    fn try_clone_body(&self) -> Option<Self> {
        Some(Empty::new())
    }
}

impl<D: Buf + Clone> TryCloneBody for Full<D> {
    fn try_clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl TryCloneBody for String {
    fn try_clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl TryCloneBody for Bytes {
    fn try_clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl TryCloneBody for () {
    fn try_clone_body(&self) -> Option<Self> {
        Some(())
    }
}

/// A copy of `req` (head, extensions and body) for a hedge, if its body can be copied.
pub(crate) fn clone_request<B: TryCloneBody>(req: &http::Request<B>) -> Option<http::Request<B>> {
    let body = req.body().try_clone_body()?;
    let mut copy = http::Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}
