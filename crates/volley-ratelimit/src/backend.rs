//! The seam between the layer and the state it limits with.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;
use volley_core::{BoxError, Key};

/// Where the rate-limit state lives: token buckets per key and server-requested cooldowns.
///
/// The layer asks [`acquire`](Backend::acquire) once per attempt and reports cooldowns with
/// [`cool_down`](Backend::cool_down); it owns everything else (waiting, the deadline,
/// `max_wait`, classifying responses). [`GovernorBackend`](crate::GovernorBackend), the
/// default, keeps its state in this process and answers synchronously without allocating. A
/// backend shared by many processes (a Redis script, say) answers with
/// [`Acquire::Pending`] and does its I/O in that future, without any change to the layer.
///
/// # Example
///
/// A backend that lets every request through, and counts them:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tokio::time::Instant;
/// use volley_core::Key;
/// use volley_ratelimit::{Acquire, Backend};
///
/// #[derive(Debug, Default)]
/// struct CountOnly(AtomicU64);
///
/// impl Backend for CountOnly {
///     fn acquire(&self, _key: &Key) -> Acquire {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         Acquire::Ready
///     }
///     fn cool_down(&self, _key: &Key, _until: Instant) {}
/// }
///
/// let layer = volley_ratelimit::RateLimitLayer::per_second(1).backend(CountOnly::default());
/// # drop(layer);
/// ```
pub trait Backend: fmt::Debug + Send + Sync + 'static {
    /// Takes one token for `key` if one is available now ([`Acquire::Ready`]); otherwise takes
    /// nothing and says how long to wait before asking again ([`Acquire::Wait`]), or answers
    /// later ([`Acquire::Pending`]). A key that is cooling down answers `Wait` with the time
    /// left.
    fn acquire(&self, key: &Key) -> Acquire;

    /// The server asked the client to slow down: `acquire` for `key` must not answer `Ready`
    /// before `until`. A later call with an earlier `until` does not shorten a cooldown.
    fn cool_down(&self, key: &Key, until: Instant);

    /// The time left of `key`'s cooldown, if it is cooling down. Defaults to `None` (the
    /// backend does not report cooldowns).
    fn cooldown_remaining(&self, _key: &Key) -> Option<Duration> {
        None
    }

    /// How many keys the backend holds state for. Defaults to 0 (not reported).
    fn tracked_keys(&self) -> usize {
        0
    }

    /// How many cooldowns the backend holds, expired ones not yet dropped included. Defaults
    /// to 0 (not reported).
    fn tracked_cooldowns(&self) -> usize {
        0
    }
}

/// A backend's answer that is not known yet: resolves to the final [`Acquire`], or an error
/// that the layer returns as the request's error.
pub type AcquireFuture = Pin<Box<dyn Future<Output = Result<Acquire, BoxError>> + Send>>;

/// The answer of [`Backend::acquire`].
pub enum Acquire {
    /// A token was taken: send the request now.
    Ready,
    /// No token was taken: ask again after this long (unless that passes the request's
    /// `max_wait` or [`Deadline`](volley_core::Deadline), in which case the layer fails
    /// fast).
    Wait(Duration),
    /// The answer needs I/O (a shared store): the layer polls this future, then acts on its
    /// result as if `acquire` had returned it.
    Pending(AcquireFuture),
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Acquire::Ready => f.write_str("Ready"),
            Acquire::Wait(wait) => f.debug_tuple("Wait").field(wait).finish(),
            Acquire::Pending(_) => f.write_str("Pending(..)"),
        }
    }
}
