//! Load-dependent latency: `/queue` (a server of fixed capacity, so latency grows with
//! what is in flight) and `/tail` (a deterministic slow tail), for adaptive concurrency
//! and hedging.

use std::time::Duration;

use http::Response;

use super::echo::info_response;
use super::faults::MAX_DELAY_MS;
use super::{Reject, Req};
use crate::body::ResBody;
use crate::counters::Counters;

/// The largest `/queue` capacity.
const MAX_CAPACITY: u32 = 10_000;

/// `/queue?capacity=[10]&service_ms=[10]&key=[""]`: a server with `capacity` workers per
/// key, each taking `service_ms` per request on tokio's clock. Requests beyond the
/// capacity wait in a FIFO queue, so the latency a client sees is `service_ms` while it
/// keeps at most `capacity` in flight and grows by `service_ms / capacity` for each
/// request queued beyond that (Little's law). Answers the `/get` document plus the
/// `x-queue-wait-ms` header (time spent queued).
pub(crate) async fn queue(req: &Req, counters: &Counters) -> Result<Response<ResBody>, Reject> {
    let capacity: u32 = req.query_or("capacity", 10)?;
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        return Err(Reject::bad_request(format!("capacity={capacity} is not in 1-{MAX_CAPACITY}")));
    }
    let service_ms: u64 = req.query_or("service_ms", 10)?;
    let key = req.query("key").unwrap_or_default();
    let workers = counters.queue(&key, capacity);
    let queued_at = tokio::time::Instant::now();
    // The semaphore is never closed, so acquiring cannot fail.
    let _worker = workers.acquire_owned().await.map_err(|_| Reject::bad_request("queue closed"))?;
    let waited = queued_at.elapsed();
    tokio::time::sleep(Duration::from_millis(service_ms.min(MAX_DELAY_MS))).await;
    let mut response = info_response(req);
    response
        .headers_mut()
        .insert("x-queue-wait-ms", http::HeaderValue::from(waited.as_millis() as u64));
    Ok(response)
}

/// `/tail?every=[20]&slow_ms=[1000]&fast_ms=[0]&key=[""]`: request `k` (1-based, counted
/// per key) takes `slow_ms` when `k` is a multiple of `every`, else `fast_ms`; so with the
/// defaults exactly 5 % of requests are slow, deterministically. Then the `/get` document.
pub(crate) async fn tail(req: &Req, counters: &Counters) -> Result<Response<ResBody>, Reject> {
    let every: u64 = req.query_or("every", 20)?;
    if every == 0 {
        return Err(Reject::bad_request("every=0 is not valid (1 makes every request slow)"));
    }
    let slow_ms: u64 = req.query_or("slow_ms", 1000)?;
    let fast_ms: u64 = req.query_or("fast_ms", 0)?;
    let key = req.query("key").unwrap_or_default();
    let k = counters.tail_request(&key);
    let ms = if k.is_multiple_of(every) { slow_ms } else { fast_ms };
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms.min(MAX_DELAY_MS))).await;
    }
    Ok(info_response(req))
}
