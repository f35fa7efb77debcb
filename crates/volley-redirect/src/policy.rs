//! Which redirects to follow: [`Policy`], and what it sees of each one, [`Attempt`].

use std::fmt;
use std::sync::Arc;

use http::{StatusCode, Uri};
use volley_core::BoxError;

use crate::Hop;

/// The most hops any policy follows, custom ones included: a server that redirects forever
/// ends here even with every timeout off.
pub const MAX_HOPS: usize = 50;

/// Which redirects to follow.
///
/// [`Policy::limited`] (the default, 10 hops) follows redirects until a limit and then
/// fails with [`RedirectError`](crate::RedirectError) of kind
/// [`TooManyRedirects`](crate::RedirectErrorKind::TooManyRedirects); [`Policy::none`]
/// follows nothing and hands 3xx responses back; [`Policy::custom`] decides per hop. The
/// security rules (credentials, downgrades, private addresses) are the layer's and apply
/// whatever the policy says.
///
/// ```
/// use volley_redirect::Policy;
///
/// // Follow at most 5 hops, and never off the API's own host.
/// let policy = Policy::custom(|attempt| {
///     if attempt.previous().len() >= 5 {
///         attempt.error("too many redirects")
///     } else if attempt.url().host() != Some("api.example.com") {
///         attempt.stop()
///     } else {
///         attempt.follow()
///     }
/// });
/// # drop(policy);
/// ```
#[derive(Clone)]
pub struct Policy(Rule);

#[derive(Clone)]
enum Rule {
    Limited(usize),
    None,
    Custom(Arc<dyn Fn(Attempt<'_>) -> Action + Send + Sync>),
}

impl Policy {
    /// Follows up to `max` hops; the next one fails the request with the chain so far. At
    /// most [`MAX_HOPS`].
    pub fn limited(max: usize) -> Self {
        Self(Rule::Limited(max.min(MAX_HOPS)))
    }

    /// Follows no redirect: a 3xx response is returned as it is.
    pub fn none() -> Self {
        Self(Rule::None)
    }

    /// Asks `decide` about every hop. It still stops at [`MAX_HOPS`].
    pub fn custom<F>(decide: F) -> Self
    where
        F: Fn(Attempt<'_>) -> Action + Send + Sync + 'static,
    {
        Self(Rule::Custom(Arc::new(decide)))
    }

    /// Whether this policy follows nothing at all.
    pub fn is_none(&self) -> bool {
        matches!(self.0, Rule::None)
    }

    pub(crate) fn decide(&self, attempt: Attempt<'_>) -> Action {
        match &self.0 {
            Rule::None => attempt.stop(),
            Rule::Limited(max) if attempt.previous.len() >= *max => Action(Decision::TooMany(*max)),
            Rule::Limited(_) => attempt.follow(),
            Rule::Custom(_) if attempt.previous.len() >= MAX_HOPS => {
                Action(Decision::TooMany(MAX_HOPS))
            }
            Rule::Custom(decide) => decide(attempt),
        }
    }
}

impl Default for Policy {
    /// [`Policy::limited(10)`](Policy::limited), as curl's browsers-like default and
    /// reqwest's.
    fn default() -> Self {
        Self::limited(10)
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Rule::Limited(max) => write!(f, "Policy::limited({max})"),
            Rule::None => f.write_str("Policy::none()"),
            Rule::Custom(_) => f.write_str("Policy::custom(..)"),
        }
    }
}

/// One redirect about to be followed, as a [`Policy`] sees it.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub(crate) status: StatusCode,
    pub(crate) next: &'a Uri,
    pub(crate) previous: &'a [Hop],
}

impl Attempt<'_> {
    /// The redirect's status (301, 302, 303, 307 or 308).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Where the redirect points, resolved against the URL that answered.
    pub fn url(&self) -> &Uri {
        self.next
    }

    /// The redirects already followed for this request, oldest first (this one not
    /// included).
    pub fn previous(&self) -> &[Hop] {
        self.previous
    }

    /// Follows this redirect.
    pub fn follow(self) -> Action {
        Action(Decision::Follow)
    }

    /// Returns the redirect response as it is.
    pub fn stop(self) -> Action {
        Action(Decision::Stop)
    }

    /// Fails the request with `error` (found in the chain of the
    /// [`RedirectError`](crate::RedirectError) returned).
    pub fn error(self, error: impl Into<BoxError>) -> Action {
        Action(Decision::Error(error.into()))
    }
}

/// What a [`Policy`] decided, made by [`Attempt::follow`], [`Attempt::stop`] or
/// [`Attempt::error`].
#[derive(Debug)]
pub struct Action(pub(crate) Decision);

#[derive(Debug)]
pub(crate) enum Decision {
    Follow,
    Stop,
    Error(BoxError),
    TooMany(usize),
}
