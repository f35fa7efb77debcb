use std::error::Error;
use std::fmt;

use http::Uri;
use volley_core::BoxError;
use volley_core::redact::RedactedUrl;

use crate::Hop;

/// Why following a redirect failed the request.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedirectErrorKind {
    /// More redirects than the policy allows.
    TooManyRedirects {
        /// The policy's limit.
        limit: usize,
    },
    /// A redirect from `https` to plain `http`, refused unless
    /// [`allow_https_to_http`](crate::RedirectLayer::allow_https_to_http) is set.
    InsecureRedirect,
    /// A redirect to a loopback, private or link-local address from a public target, with
    /// the [`block_private_redirects`](crate::RedirectLayer::block_private_redirects)
    /// guard on.
    PrivateAddress {
        /// The address the target resolved to.
        addr: std::net::IpAddr,
    },
    /// With the private-address guard on, the target's name did not resolve within the
    /// deadline (or 5 s), so the guard could not check it.
    Unresolved,
    /// The policy returned an error (the source).
    Policy(BoxError),
}

/// A redirect the layer would not follow, with the chain of hops that led to it.
///
/// `Display`: `too many redirects: stopped after 10 (the limit), the next to
/// https://example.com/a`, `refused redirect from https to http://example.com/`,
/// `refused redirect to a private address: http://internal/ resolves to 10.0.0.5`.
pub struct RedirectError {
    kind: RedirectErrorKind,
    chain: Vec<Hop>,
    next: Uri,
}

impl RedirectError {
    pub(crate) fn new(kind: RedirectErrorKind, chain: Vec<Hop>, next: Uri) -> Self {
        Self { kind, chain, next }
    }

    /// What went wrong.
    pub fn kind(&self) -> &RedirectErrorKind {
        &self.kind
    }

    /// The redirects followed before this one, oldest first, and then the refused one
    /// (its URL is the one that answered with the redirect).
    pub fn chain(&self) -> &[Hop] {
        &self.chain
    }

    /// Where the refused redirect pointed.
    pub fn location(&self) -> &Uri {
        &self.next
    }
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let next = RedactedUrl(&self.next.to_string()).to_string();
        match &self.kind {
            RedirectErrorKind::TooManyRedirects { limit } => write!(
                f,
                "too many redirects: stopped after {limit} (the limit), the next to {next}"
            ),
            RedirectErrorKind::InsecureRedirect => {
                write!(f, "refused redirect from https to {next}")
            }
            RedirectErrorKind::PrivateAddress { addr } => {
                write!(f, "refused redirect to a private address: {next} resolves to {addr}")
            }
            RedirectErrorKind::Unresolved => {
                write!(
                    f,
                    "refused redirect to {next}: its address could not be checked (no DNS answer)"
                )
            }
            RedirectErrorKind::Policy(_) => write!(f, "the redirect policy refused {next}"),
        }
    }
}

impl Error for RedirectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            RedirectErrorKind::Policy(err) => Some(&**err),
            _ => None,
        }
    }
}

impl fmt::Debug for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedirectError")
            .field("kind", &self.kind)
            .field("chain", &self.chain)
            .field("next", &RedactedUrl(&self.next.to_string()))
            .finish()
    }
}
