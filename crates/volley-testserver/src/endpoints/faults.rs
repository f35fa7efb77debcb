//! Failure injection: `/status/{code}`, `/delay/{ms}`, `/flaky/{n}` and `/reset`.

use std::time::Duration;

use http::header::{CONTENT_LENGTH, HeaderValue};
use http::{Response, StatusCode};
use serde_json::json;

use super::echo::{echo, info_response};
use super::{Reject, Req, copy_header, empty, final_status, json_response};
use crate::body::ResBody;
use crate::counters::Counters;

/// The longest `/delay` (longer requests are clamped).
pub(crate) const MAX_DELAY_MS: u64 = 60_000;
/// The most bytes `/reset` sends before failing.
const MAX_RESET_AFTER: u64 = 64 * 1024 * 1024;

/// `/status/{code}[?retry_after=V]`: that status, empty body; `retry_after`
/// is copied verbatim into `Retry-After` (so garbage can be tested too).
pub(crate) fn status(req: &Req) -> Result<Response<ResBody>, Reject> {
    let status = final_status(&req.segment(0))?;
    let mut response = empty(status);
    copy_header(req, &mut response, "retry_after", "retry-after")?;
    Ok(response)
}

/// `/delay/{ms}`: sleeps `min(ms, 60000)`, then the `/get` document.
pub(crate) async fn delay(req: &Req) -> Result<Response<ResBody>, Reject> {
    let ms: u64 = req.segment_as(0, "delay in milliseconds")?;
    tokio::time::sleep(Duration::from_millis(ms.min(MAX_DELAY_MS))).await;
    Ok(info_response(req))
}

/// `/flaky/{n}?key=K&status=C&retry_after=V`: status C (default 503) for the
/// first `n` requests per path and key, then the `/get` document.
pub(crate) fn flaky(req: &Req, counters: &Counters) -> Result<Response<ResBody>, Reject> {
    let failures: u64 = req.segment_as(0, "failure count")?;
    let status = match req.query("status") {
        Some(raw) => final_status(&raw)?,
        None => StatusCode::SERVICE_UNAVAILABLE,
    };
    let key = req.query("key").unwrap_or_default();
    let attempt = counters.flaky_attempt(&format!("{}\0{key}", req.parts.uri.path()));
    if !req.body.is_empty() {
        counters.record_flaky_body(req.parts.uri.path(), req.body.clone());
    }
    if attempt > failures {
        return Ok(echo(req));
    }
    let body = json!({ "error": "flaky", "attempt": attempt, "failures": failures, "bytes": req.body.len() });
    let mut response = json_response(status, &body);
    copy_header(req, &mut response, "retry_after", "retry-after")?;
    Ok(response)
}

/// `/reset?after=N`: promises `max(1024, N + 1)` bytes, sends `N` (default
/// 100) bytes of the pattern, then fails the body so the connection (HTTP/1)
/// or stream (HTTP/2) is aborted.
pub(crate) fn reset(req: &Req) -> Result<Response<ResBody>, Reject> {
    let after: u64 = req.query_or("after", 100)?;
    if after > MAX_RESET_AFTER {
        return Err(Reject::bad_request(format!("after={after} is over {MAX_RESET_AFTER}")));
    }
    let declared = after.saturating_add(1).max(1024);
    let mut response = Response::new(ResBody::reset(after, declared));
    response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(declared));
    Ok(response)
}
