//! Throttling: `/retry-after/{secs}` and the `/ratelimit` quota.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use serde_json::json;

use super::echo::info_response;
use super::{Reject, Req, final_status, json_response};
use crate::body::ResBody;
use crate::counters::Counters;

/// The longest `/retry-after` (one year).
const MAX_RETRY_AFTER_SECS: f64 = 31_536_000.0;
/// The longest `/ratelimit` window (one day).
const MAX_WINDOW_MS: u64 = 86_400_000;

/// `duration` in whole seconds, rounded up.
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Inserts a header built from our own formatting (always a valid value).
fn insert(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

/// `/retry-after/{secs}?form=F&status=S&times=K&key=NAME`: status `S`
/// (default 429) with a hint of `secs` (fractional allowed) in form `F`:
/// `seconds` (default; `Retry-After` in whole seconds, rounded up), `date`
/// (`Retry-After` as the HTTP-date of now + secs), `ms` (`retry-after-ms`,
/// no `Retry-After`) or `x-ms` (`x-ms-retry-after-ms`). With `times=K` only
/// the first `K` requests per key are throttled, then the `/get` document is
/// served; the key defaults to the path.
pub(crate) fn retry_after(req: &Req, counters: &Counters) -> Result<Response<ResBody>, Reject> {
    let secs: f64 = req.segment_as(0, "retry-after seconds")?;
    if !(0.0..=MAX_RETRY_AFTER_SECS).contains(&secs) {
        return Err(Reject::bad_request(format!(
            "retry-after {secs} is not in 0-{MAX_RETRY_AFTER_SECS}"
        )));
    }
    let delay = Duration::from_secs_f64(secs);
    let status = match req.query("status") {
        Some(raw) => final_status(&raw)?,
        None => StatusCode::TOO_MANY_REQUESTS,
    };
    let form = req.query("form");
    let form = form.as_deref().unwrap_or("seconds");
    if !matches!(form, "seconds" | "date" | "ms" | "x-ms") {
        return Err(Reject::bad_request(format!("form={form:?} is not seconds, date, ms or x-ms")));
    }
    if let Some(times) = req.query("times") {
        let times: u64 = times
            .parse()
            .map_err(|_| Reject::bad_request(format!("times={times:?} is not valid")))?;
        let key = req.query("key");
        let key = key.as_deref().unwrap_or(req.parts.uri.path());
        if counters.retry_after_attempt(key) > times {
            return Ok(info_response(req));
        }
    }
    let mut response = json_response(status, &json!({ "error": "throttled", "retry_after": secs }));
    let headers = response.headers_mut();
    let millis = delay.as_millis().to_string();
    match form {
        "date" => {
            insert(headers, "retry-after", httpdate::fmt_http_date(SystemTime::now() + delay))
        }
        "ms" => insert(headers, "retry-after-ms", millis),
        "x-ms" => insert(headers, "x-ms-retry-after-ms", millis),
        _ => {
            headers.insert(RETRY_AFTER, HeaderValue::from(ceil_secs(delay)));
        }
    }
    Ok(response)
}

/// `/ratelimit?limit=N&window_ms=W&key=NAME`: a fixed window of `N` requests
/// (default 10) per `W` ms (default 1000) per key (default ""), on tokio's
/// clock. Every answer carries the IETF draft-11 `RateLimit-Policy` and
/// `RateLimit` fields, the older `RateLimit-Limit/-Remaining/-Reset` and
/// `X-RateLimit-Limit/-Remaining/-Reset` (reset as epoch seconds). Within the
/// quota: the `/get` document; over it: 429 with `Retry-After`.
pub(crate) fn ratelimit(req: &Req, counters: &Counters) -> Result<Response<ResBody>, Reject> {
    let limit: u64 = req.query_or("limit", 10)?;
    let window_ms: u64 = req.query_or("window_ms", 1000)?;
    if !(1..=MAX_WINDOW_MS).contains(&window_ms) {
        return Err(Reject::bad_request(format!(
            "window_ms={window_ms} is not in 1-{MAX_WINDOW_MS}"
        )));
    }
    let window = Duration::from_millis(window_ms);
    let key = req.query("key").unwrap_or_default();
    let quota = counters.take_quota(&key, limit, window);
    let reset = ceil_secs(quota.reset);
    let mut response = if quota.allowed {
        info_response(req)
    } else {
        counters.throttle();
        let body = json!({ "error": "rate limited", "limit": limit, "retry_after": reset });
        let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(reset));
        response
    };
    let epoch_reset =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |now| ceil_secs(now + quota.reset));
    let headers = response.headers_mut();
    let window_secs = ceil_secs(window);
    insert(headers, "ratelimit-policy", format!("\"default\";q={limit};w={window_secs}"));
    insert(headers, "ratelimit", format!("\"default\";r={};t={reset}", quota.remaining));
    let legacy = [
        ("ratelimit-limit", limit),
        ("ratelimit-remaining", quota.remaining),
        ("ratelimit-reset", reset),
        ("x-ratelimit-limit", limit),
        ("x-ratelimit-remaining", quota.remaining),
        ("x-ratelimit-reset", epoch_reset),
    ];
    for (name, value) in legacy {
        headers.insert(name, HeaderValue::from(value));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::ceil_secs;
    use std::time::Duration;

    #[test]
    fn rounds_seconds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1000)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1001)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::ZERO), 0);
    }
}
