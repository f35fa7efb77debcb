//! Counting what the layers did, from the tracing they emit.
//!
//! The facade reports attempts per response, but not the waits and refusals inside the
//! stack. The retry layer runs each attempt in a `retry_attempt` span (fields
//! `http.request.resend_count`, `outcome`, `delay_ms`, `delay_cause`) and emits an event
//! with a `reason` when it refuses to retry; the rate limiter emits an event when the
//! server makes it pause a host. This layer counts those, for the whole run
//! ([`LayerCounts`]) and for the request being sent ([`ItemTrace`], found through a task
//! local, since every attempt of a request runs on that request's task).

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::stats::{Counts, Refusal};

/// Run-wide counters, shared by the layer and whoever prints them.
#[derive(Debug, Default)]
pub(crate) struct LayerCounts {
    attempts: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    hint_waits: AtomicU64,
    hint_wait_ms: AtomicU64,
    backoff_waits: AtomicU64,
    backoff_wait_ms: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
    pauses: AtomicU64,
    pauses_quota: AtomicU64,
    longest_pause_us: AtomicU64,
    paced: AtomicU64,
}

impl LayerCounts {
    /// The counts so far.
    pub(crate) fn snapshot(&self) -> Counts {
        Counts {
            attempts: self.attempts.load(Relaxed),
            retries: self.retries.load(Relaxed),
            throttled: self.throttled.load(Relaxed),
            hint_waits: self.hint_waits.load(Relaxed),
            hint_wait_ms: self.hint_wait_ms.load(Relaxed),
            backoff_waits: self.backoff_waits.load(Relaxed),
            backoff_wait_ms: self.backoff_wait_ms.load(Relaxed),
            refused: Refusal::ALL.map(|r| self.refused[r as usize].load(Relaxed)),
            pauses: self.pauses.load(Relaxed),
            pauses_quota: self.pauses_quota.load(Relaxed),
            longest_pause_ms: self.longest_pause_us.load(Relaxed) as f64 / 1000.0,
            paced: self.paced.load(Relaxed),
        }
    }
}

/// What the retry layer reported for one request.
#[derive(Debug, Default)]
pub(crate) struct ItemTrace {
    attempts: AtomicU32,
    hint_waits: AtomicU32,
    hint_wait_ms: AtomicU64,
    backoff_waits: AtomicU32,
    backoff_wait_ms: AtomicU64,
    paced: AtomicU32,
}

/// The waits of one request, for `-v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ItemWaits {
    /// Retries that waited for the server's Retry-After, and milliseconds in all.
    pub(crate) hint: (u32, u64),
    /// Retries that waited for backoff, and milliseconds in all.
    pub(crate) backoff: (u32, u64),
    /// Attempts the rate limiter held back to pace the host.
    pub(crate) paced: u32,
}

impl ItemTrace {
    /// Attempts started (0 when retrying is off: the layer then opens no spans).
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts.load(Relaxed)
    }

    /// The waits so far.
    pub(crate) fn waits(&self) -> ItemWaits {
        ItemWaits {
            hint: (self.hint_waits.load(Relaxed), self.hint_wait_ms.load(Relaxed)),
            backoff: (self.backoff_waits.load(Relaxed), self.backoff_wait_ms.load(Relaxed)),
            paced: self.paced.load(Relaxed),
        }
    }
}

tokio::task_local! {
    static ITEM: Arc<ItemTrace>;
}

/// Runs `future` with `item` collecting what its attempts report.
pub(crate) async fn traced<F: Future>(item: Arc<ItemTrace>, future: F) -> F::Output {
    ITEM.scope(item, future).await
}

fn with_item(f: impl FnOnce(&ItemTrace)) {
    let _ = ITEM.try_with(|item| f(item));
}

/// The layer; install it over a `tracing_subscriber::Registry`.
#[derive(Debug)]
pub(crate) struct CountingLayer(pub(crate) Arc<LayerCounts>);

fn interesting(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    *meta.level() <= Level::DEBUG
        && (target.starts_with("volley_retry") || target.starts_with("volley_ratelimit"))
}

/// A `delay_ms` recorded on an attempt span, waiting for its `delay_cause`.
struct PendingDelay(u64);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CountingLayer {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if interesting(meta) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        interesting(meta)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() != "retry_attempt" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.0.attempts.fetch_add(1, Relaxed);
        if fields.resend_count.is_some_and(|n| n > 0) {
            self.0.retries.fetch_add(1, Relaxed);
        }
        with_item(|item| {
            item.attempts.fetch_add(1, Relaxed);
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.name() != "retry_attempt" {
            return;
        }
        let mut fields = Fields::default();
        values.record(&mut fields);
        if fields.outcome.as_deref() == Some("throttled") {
            self.0.throttled.fetch_add(1, Relaxed);
        }
        let mut extensions = span.extensions_mut();
        if let Some(ms) = fields.delay_ms {
            extensions.replace(PendingDelay(ms));
        }
        if let Some(cause) = fields.delay_cause {
            let ms = extensions.remove::<PendingDelay>().map_or(0, |d| d.0);
            let hint = cause == "server hint";
            let (count, total) = if hint {
                (&self.0.hint_waits, &self.0.hint_wait_ms)
            } else {
                (&self.0.backoff_waits, &self.0.backoff_wait_ms)
            };
            count.fetch_add(1, Relaxed);
            total.fetch_add(ms, Relaxed);
            with_item(|item| {
                let (count, total) = if hint {
                    (&item.hint_waits, &item.hint_wait_ms)
                } else {
                    (&item.backoff_waits, &item.backoff_wait_ms)
                };
                count.fetch_add(1, Relaxed);
                total.fetch_add(ms, Relaxed);
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(reason) = fields.reason {
            self.0.refused[Refusal::from_reason(&reason) as usize].fetch_add(1, Relaxed);
        } else if let Some(pause) = fields.cooldown_us {
            self.0.pauses.fetch_add(1, Relaxed);
            if fields.quota_exhausted == Some(true) && fields.throttled != Some(true) {
                self.0.pauses_quota.fetch_add(1, Relaxed);
            }
            self.0.longest_pause_us.fetch_max(pause, Relaxed);
        } else if fields.wait_ms.is_some() {
            // volley-ratelimit's "rate limit wait", once per attempt held back to pace its host.
            self.0.paced.fetch_add(1, Relaxed);
            with_item(|item| {
                item.paced.fetch_add(1, Relaxed);
            });
        }
    }
}

/// The fields this layer reads, from spans and events alike.
#[derive(Default)]
struct Fields {
    resend_count: Option<u64>,
    outcome: Option<String>,
    delay_ms: Option<u64>,
    delay_cause: Option<String>,
    reason: Option<String>,
    cooldown_us: Option<u64>,
    throttled: Option<bool>,
    quota_exhausted: Option<bool>,
    wait_ms: Option<u64>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "http.request.resend_count" => self.resend_count = Some(value),
            "delay_ms" => self.delay_ms = Some(value),
            // Typed, when the rate limiter emits it; else read from `cooldown` below.
            "cooldown_ms" => self.cooldown_us = Some(value.saturating_mul(1000)),
            "wait_ms" => self.wait_ms = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "throttled" => self.throttled = Some(value),
            "quota_exhausted" => self.quota_exhausted = Some(value),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "outcome" => self.outcome = Some(value.to_owned()),
            "delay_cause" => self.delay_cause = Some(value.to_owned()),
            "reason" => self.reason = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        match field.name() {
            // `%reason` arrives here, formatted with Display.
            "reason" => self.reason = Some(format!("{value:?}")),
            "cooldown" if self.cooldown_us.is_none() => {
                self.cooldown_us = parse_debug_duration_us(&format!("{value:?}"));
            }
            _ => {}
        }
    }
}

/// Microseconds in a `Duration`'s `Debug` form (`1s`, `873.2ms`, `12µs`, `100ns`).
fn parse_debug_duration_us(text: &str) -> Option<u64> {
    let units = [("ns", 0.001), ("µs", 1.0), ("us", 1.0), ("ms", 1_000.0), ("s", 1_000_000.0)];
    let (number, scale) =
        units.iter().find_map(|(unit, scale)| Some((text.strip_suffix(unit)?, *scale)))?;
    let value: f64 = number.parse().ok()?;
    Some((value * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_debug_duration_us;

    #[test]
    fn duration_debug_forms() {
        assert_eq!(parse_debug_duration_us("1s"), Some(1_000_000));
        assert_eq!(parse_debug_duration_us("873.5ms"), Some(873_500));
        assert_eq!(parse_debug_duration_us("12µs"), Some(12));
        assert_eq!(parse_debug_duration_us("1500ns"), Some(2));
        assert_eq!(parse_debug_duration_us("soon"), None);
    }
}
