//! What the layer records on the response: the hops it followed, the final URL, and why it
//! stopped at a 3xx when it did.

use std::fmt;

use http::{StatusCode, Uri};
use volley_core::redact::RedactedUrl;

/// One redirect that was followed: the URL that answered and its 3xx status.
#[derive(Clone, PartialEq, Eq)]
pub struct Hop {
    pub(crate) url: Uri,
    pub(crate) status: StatusCode,
}

impl Hop {
    /// The URL that answered with the redirect.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// Its status (301, 302, 303, 307 or 308).
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl fmt::Debug for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), RedactedUrl(&self.url.to_string()))
    }
}

/// Why a 3xx response came back as it is instead of being followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotFollowed {
    /// The [`Policy`](crate::Policy) said stop (or is [`Policy::none`](crate::Policy::none)).
    Policy,
    /// A 307 or 308 must resend the body, and the body was a stream that cannot be sent
    /// twice.
    BodyNotReplayable,
    /// The `Location` header is missing its value, is not a URL, is longer than 8 KiB, or
    /// names a scheme other than http and https.
    InvalidLocation,
}

impl fmt::Display for NotFollowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotFollowed::Policy => "the redirect policy stopped",
            NotFollowed::BodyNotReplayable => "the request body is a stream that cannot be resent",
            NotFollowed::InvalidLocation => "the Location header is not a usable http(s) URL",
        })
    }
}

/// The redirect history of a response, in its extensions whenever a redirect was followed
/// or a 3xx response was handed back unfollowed (responses that never redirected carry
/// nothing, and cost nothing).
#[derive(Clone)]
pub struct Redirects {
    pub(crate) hops: Vec<Hop>,
    pub(crate) url: Uri,
    pub(crate) not_followed: Option<NotFollowed>,
}

impl Redirects {
    /// The redirects followed, oldest first.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// The URL that gave this response.
    pub fn final_url(&self) -> &Uri {
        &self.url
    }

    /// Why this 3xx response was not followed, if it is one.
    pub fn not_followed(&self) -> Option<NotFollowed> {
        self.not_followed
    }
}

impl fmt::Debug for Redirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redirects")
            .field("hops", &self.hops)
            .field("url", &RedactedUrl(&self.url.to_string()))
            .field("not_followed", &self.not_followed)
            .finish()
    }
}
