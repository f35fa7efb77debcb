//! Bodies of a chosen size and pace: `/bytes/{n}`, `/stream/{n}` and `/drip`.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde_json::Value;

use super::echo::info;
use super::faults::MAX_DELAY_MS;
use super::{Reject, Req, final_status};
use crate::body::ResBody;

/// The largest `/bytes` and `/drip` body.
const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The most lines `/stream` sends (larger requests are clamped).
const MAX_LINES: u64 = 10_000;

/// One cached run of the pattern. Its length is a multiple of the pattern's
/// period (256), so consecutive slices of it continue the pattern.
pub(crate) static PATTERN: [u8; 64 * 1024] = pattern_array();

/// Bytes for `/drip`.
pub(crate) static STARS: [u8; 4096] = [b'*'; 4096];

const fn pattern_array() -> [u8; 64 * 1024] {
    let mut array = [0; 64 * 1024];
    let mut i = 0;
    while i < array.len() {
        array[i] = pattern_byte(i);
        i += 1;
    }
    array
}

const fn pattern_byte(i: usize) -> u8 {
    // Truncation is the point: the pattern repeats every 256 bytes.
    (i.wrapping_mul(31).wrapping_add(7) % 256) as u8
}

/// The first `n` bytes that `/bytes/{n}` (and `/reset`) send: byte `i` is
/// `(i * 31 + 7) % 256`, a pattern with period 256 in which every byte value
/// occurs once, so a dropped, duplicated or reordered chunk shows.
///
/// Up to 64 KiB this is a slice of a static buffer and costs nothing.
///
/// ```
/// let bytes = volley_testserver::pattern_bytes(300);
/// assert_eq!(&bytes[..3], &[7, 38, 69]);
/// assert_eq!(bytes[256], bytes[0]);
/// ```
pub fn pattern_bytes(n: usize) -> Bytes {
    if n <= PATTERN.len() {
        return Bytes::from_static(&PATTERN[..n]);
    }
    Bytes::from((0..n).map(pattern_byte).collect::<Vec<u8>>())
}

/// `/bytes/{n}` (n ≤ 64 MiB): `n` pattern bytes with `content-length`.
pub(crate) fn bytes(req: &Req) -> Result<Response<ResBody>, Reject> {
    let n: u64 = req.segment_as(0, "byte count")?;
    if n > MAX_BYTES {
        return Err(Reject::bad_request(format!("byte count {n} is over {MAX_BYTES}")));
    }
    let mut response = Response::new(ResBody::pattern(n));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
    Ok(response)
}

/// `/stream/{n}`: `min(n, 10000)` lines of JSON, one frame each:
/// `{"id": i, "args": .., "headers": .., "method": .., "url": ..}`.
pub(crate) fn stream(req: &Req) -> Result<Response<ResBody>, Reject> {
    let n: u64 = req.segment_as(0, "line count")?;
    // `{"args":…}` becomes the tail `"args":…}\n` after each line's `{"id":i,`.
    let mut tail = serde_json::to_vec(&Value::Object(info(req))).unwrap_or_default();
    if tail.first() == Some(&b'{') {
        tail.remove(0);
    }
    tail.push(b'\n');
    let mut response = Response::new(ResBody::lines(n.min(MAX_LINES), Bytes::from(tail)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `/drip?numbytes=N&duration_ms=D&delay_ms=W&code=C`: waits `W` ms
/// (default 0), answers status `C` (default 200), then sends `N` (default 10)
/// `*` bytes spread evenly over `D` ms (default 2000): byte `k` leaves at
/// `k·D/N` ms after the headers, so the body ends at `D`. Delays are clamped
/// to 60 s, `N` is at most 64 MiB.
pub(crate) async fn drip(req: &Req) -> Result<Response<ResBody>, Reject> {
    let total: u64 = req.query_or("numbytes", 10)?;
    let duration_ms: u64 = req.query_or("duration_ms", 2000)?;
    let delay_ms: u64 = req.query_or("delay_ms", 0)?;
    let status = match req.query("code") {
        Some(raw) => final_status(&raw)?,
        None => StatusCode::OK,
    };
    if total > MAX_BYTES {
        return Err(Reject::bad_request(format!("numbytes={total} is over {MAX_BYTES}")));
    }
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms.min(MAX_DELAY_MS))).await;
    }
    let duration = Duration::from_millis(duration_ms.min(MAX_DELAY_MS));
    let mut response = Response::new(ResBody::drip(total, duration));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(total));
    Ok(response)
}
