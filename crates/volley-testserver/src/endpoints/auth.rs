//! `/basic-auth/{user}/{passwd}` and `/bearer`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use serde_json::json;

use super::{Req, json_response};
use crate::body::ResBody;

/// The credentials after `scheme ` in `Authorization`, if the scheme matches
/// (case-insensitively).
fn credentials<'r>(req: &'r Req, scheme: &str) -> Option<&'r str> {
    let value = req.parts.headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn unauthorized(challenge: &'static str) -> Response<ResBody> {
    let mut response = json_response(StatusCode::UNAUTHORIZED, &json!({ "authenticated": false }));
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

/// 200 when `Authorization: Basic base64(user:passwd)` matches the path.
pub(crate) fn basic(req: &Req) -> Response<ResBody> {
    let (user, passwd) = (req.segment(0), req.segment(1));
    let decoded = credentials(req, "Basic").and_then(|b64| STANDARD.decode(b64).ok());
    let expected = format!("{user}:{passwd}");
    if decoded.as_deref() == Some(expected.as_bytes()) {
        json_response(StatusCode::OK, &json!({ "authenticated": true, "user": user }))
    } else {
        unauthorized(r#"Basic realm="volley""#)
    }
}

/// 200 with the token when `Authorization: Bearer <token>` is present.
pub(crate) fn bearer(req: &Req) -> Response<ResBody> {
    match credentials(req, "Bearer").filter(|token| !token.is_empty()) {
        Some(token) => {
            json_response(StatusCode::OK, &json!({ "authenticated": true, "token": token }))
        }
        None => unauthorized("Bearer"),
    }
}
