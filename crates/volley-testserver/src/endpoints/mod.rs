//! The handlers, grouped by theme, and what they share: the request view, the
//! rejection type and JSON response helpers.

pub(crate) mod auth;
pub(crate) mod bodies;
pub(crate) mod cookies;
pub(crate) mod echo;
pub(crate) mod encoded;
pub(crate) mod faults;
pub(crate) mod load;
pub(crate) mod redirects;
pub(crate) mod throttle;

use std::borrow::Cow;
use std::str::FromStr;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode, request::Parts};
use serde_json::{Value, json};

use crate::body::ResBody;
use crate::query;

/// A request whose body has been read.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) parts: Parts,
    pub(crate) body: Bytes,
}

impl Req {
    /// The percent-decoded path segment `i` after the endpoint name
    /// (`/basic-auth/{0}/{1}`); the router checked the count.
    pub(crate) fn segment(&self, i: usize) -> Cow<'_, str> {
        let segment = self.parts.uri.path().split('/').nth(i + 2).unwrap_or("");
        query::decode(segment, false)
    }

    /// The decoded query parameter `name`, if present.
    pub(crate) fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        query::get(self.parts.uri.query(), name)
    }

    /// The query parameter `name` parsed as `T`, or `default` when absent.
    pub(crate) fn query_or<T: FromStr>(&self, name: &str, default: T) -> Result<T, Reject> {
        match self.query(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|_| {
                Reject::bad_request(format!("query parameter {name}={raw:?} is not valid"))
            }),
        }
    }

    /// Path segment `i` parsed as `T`.
    pub(crate) fn segment_as<T: FromStr>(&self, i: usize, what: &str) -> Result<T, Reject> {
        let raw = self.segment(i);
        raw.parse().map_err(|_| Reject::bad_request(format!("{what} {raw:?} is not valid")))
    }
}

/// An error answered as `{"error": message}` with `status`.
#[derive(Debug)]
pub(crate) struct Reject {
    status: StatusCode,
    message: Cow<'static, str>,
}

impl Reject {
    pub(crate) fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no endpoint at {path}"))
    }

    pub(crate) fn method_not_allowed(allowed: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method not allowed (allowed: {allowed})"),
        )
    }

    pub(crate) fn into_response(self) -> Response<ResBody> {
        json_response(self.status, &json!({ "error": self.message }))
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<ResBody> {
    // Serializing a `Value` to memory cannot fail; keep an empty body if it did.
    let body = serde_json::to_vec(value).unwrap_or_default();
    json_bytes(status, Bytes::from(body))
}

/// A response whose body is already-serialized JSON.
pub(crate) fn json_bytes(status: StatusCode, body: Bytes) -> Response<ResBody> {
    let mut response = Response::new(ResBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An empty response with `status`.
pub(crate) fn empty(status: StatusCode) -> Response<ResBody> {
    let mut response = Response::new(ResBody::empty());
    *response.status_mut() = status;
    response
}

/// A final status code for a response: 200–599 (1xx cannot end a response).
pub(crate) fn final_status(raw: &str) -> Result<StatusCode, Reject> {
    raw.trim()
        .parse::<u16>()
        .ok()
        .filter(|code| (200..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| Reject::bad_request(format!("status {raw:?} is not a code in 200-599")))
}

/// Copies the raw query parameter `name` into header `header`, if present.
pub(crate) fn copy_header(
    req: &Req,
    response: &mut Response<ResBody>,
    name: &str,
    header: &'static str,
) -> Result<(), Reject> {
    if let Some(raw) = req.query(name) {
        let value = HeaderValue::from_str(&raw)
            .map_err(|_| Reject::bad_request(format!("{name}={raw:?} is not a header value")))?;
        response.headers_mut().insert(header, value);
    }
    Ok(())
}
