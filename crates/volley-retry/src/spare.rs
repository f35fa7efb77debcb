//! What a `Retry` service shares with the requests it sends: the layer's settings, and
//! where retries get their service from.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::layer::Shared;

/// The layer's settings and a clone of the inner service, made when the retry layer
/// wrapped it and shared by every clone of that [`Retry`](crate::Retry). A request keeps
/// one `Arc` of this (one reference count), and takes a fresh clone of the service from it
/// only once a retry is decided.
///
/// tower's `Retry` clones the inner service for every request, so that later attempts have
/// one of their own. A clone of a boxed stage is an allocation and one reference count per
/// handle inside it, and most requests are never retried. The lock is taken only to clone,
/// on a retry. Clones of a service share its state (limits, pools), so a clone of the first
/// clone is as good as a clone of the service that sent the first attempt.
pub(crate) struct Spare<S, C, K> {
    pub(crate) shared: Arc<Shared<C, K>>,
    service: Mutex<S>,
}

impl<S: Clone, C, K> Spare<S, C, K> {
    pub(crate) fn new(service: &S, shared: Arc<Shared<C, K>>) -> Arc<Self> {
        Arc::new(Self { shared, service: Mutex::new(service.clone()) })
    }

    /// A clone of the service, for the attempts after the first.
    pub(crate) fn service(&self) -> S {
        // A clone that panicked cannot have left a half-made service behind: the original
        // is untouched, so a poisoned lock is still good.
        self.service.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl<S, C, K> fmt::Debug for Spare<S, C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Spare")
    }
}
