//! The copy of a request head that later attempts are sent with.

use http::Method;
use http::request::Parts;
use volley_core::Deadline;

/// A request head kept for retries, taken before the first attempt is sent with the
/// caller's own.
///
/// Cloning a head deep-copies its extensions: three allocations for a map holding just
/// the [`Deadline`] a total timeout put there. When the deadline is all there is, the copy
/// leaves the extensions out and each retry gets the deadline back, so a request that is
/// never retried pays for no extension map.
pub(crate) struct Head {
    parts: Parts,
    /// The extensions' only entry, kept outside `parts`.
    lone_deadline: Option<Deadline>,
}

impl Head {
    pub(crate) fn keep(parts: &mut Parts) -> Self {
        let deadline = parts.extensions.get::<Deadline>().copied();
        let lone_deadline = deadline.filter(|_| parts.extensions.len() == 1);
        if lone_deadline.is_none() {
            return Self { parts: parts.clone(), lone_deadline };
        }
        // Clone the head without its extensions (an empty map allocates nothing).
        let extensions = std::mem::take(&mut parts.extensions);
        let copy = parts.clone();
        parts.extensions = extensions;
        Self { parts: copy, lone_deadline }
    }

    pub(crate) fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The head of a retry: the caller's head, extensions included.
    pub(crate) fn for_retry(&self) -> Parts {
        let mut parts = self.parts.clone();
        if let Some(deadline) = self.lone_deadline {
            parts.extensions.insert(deadline);
        }
        parts
    }
}
