//! Request bodies the layer can send again.

use bytes::Buf;
use http_body_util::{Empty, Full};

/// A request body the redirect layer can send again when a 307 or 308 asks for the same
/// request at another URL. Bodies that are streams return `None`: such a redirect is then
/// handed back as it is, with
/// [`NotFollowed::BodyNotReplayable`](crate::NotFollowed::BodyNotReplayable).
pub trait ReplayableBody: Sized {
    /// A copy that sends the same bytes from the start, or `None` if there is none to make.
    fn try_clone(&self) -> Option<Self>;
}

impl<D: Buf + Clone> ReplayableBody for Full<D> {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D> ReplayableBody for Empty<D> {
    fn try_clone(&self) -> Option<Self> {
        Some(Empty::new())
    }
}

impl ReplayableBody for String {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}
