//! The tracing feeder of [`LayerCounts`]: the figures no metric carries yet.
//!
//! With the `metrics` feature (the default) the recorder (`recorder`) counts attempts,
//! retries, waits and refusals, and this layer only reads the rate limiter's host-pause
//! event for what the `volley.ratelimit.cooldowns` counter does not say: how long the
//! pause was and whether a quota header (not a 429) caused it. Without the feature it is
//! the only feeder, as before: the retry layer's `retry_attempt` spans (fields
//! `http.request.resend_count`, `outcome`, `delay_ms`, `delay_cause`), its refusal events
//! (`stop_reason`), and the rate limiter's wait and pause events.
//!
//! It reads typed fields: numbers (`cooldown_ms`, `delay_ms`, `wait_ms`), booleans, and
//! the retry layer's `as_str` names; never a `Debug` text. (An event with a `reason` and
//! no `stop_reason`, from an older retry layer, is still told apart by its wording.)

use std::fmt::Debug;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::signals::LayerCounts;
#[cfg(not(feature = "metrics"))]
use crate::stats::Refusal;

/// Whether the metrics recorder feeds the counts it can (see the module docs).
const METRICS: bool = cfg!(feature = "metrics");

/// The layer; install it over a `tracing_subscriber::Registry`.
#[derive(Debug)]
pub(crate) struct CountingLayer(pub(crate) Arc<LayerCounts>);

fn interesting(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    *meta.level() <= Level::DEBUG
        && (target.starts_with("volley_ratelimit")
            || (!METRICS && target.starts_with("volley_retry")))
}

/// A `delay_ms` recorded on an attempt span, waiting for its `delay_cause`.
#[cfg(not(feature = "metrics"))]
struct PendingDelay(u64);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CountingLayer {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if interesting(meta) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        interesting(meta)
    }

    #[cfg(not(feature = "metrics"))]
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() != "retry_attempt" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.0.attempts(1);
        if fields.resend_count.is_some_and(|n| n > 0) {
            self.0.retries(1);
        }
    }

    #[cfg(not(feature = "metrics"))]
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.name() != "retry_attempt" {
            return;
        }
        let mut fields = Fields::default();
        values.record(&mut fields);
        if fields.outcome.as_deref() == Some("throttled") {
            self.0.throttled(1);
        }
        let mut extensions = span.extensions_mut();
        if let Some(ms) = fields.delay_ms {
            extensions.replace(PendingDelay(ms));
        }
        if let Some(cause) = fields.delay_cause {
            let ms = extensions.remove::<PendingDelay>().map_or(0, |d| d.0);
            self.0.retry_wait(cause == "server hint", ms);
        }
    }

    #[cfg(feature = "metrics")]
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {}

    #[cfg(feature = "metrics")]
    fn on_record(&self, _: &Id, _: &Record<'_>, _: Context<'_, S>) {}

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.stop_reason.is_some() || fields.reason.is_some() {
            // The typed `stop_reason` when the retry layer sends it; its wording else.
            #[cfg(not(feature = "metrics"))]
            self.0.refused(
                match (&fields.stop_reason, &fields.reason) {
                    (Some(label), _) => Refusal::from_label(label),
                    (None, Some(reason)) => Refusal::from_reason(reason),
                    (None, None) => Refusal::Other,
                },
                1,
            );
        } else if let Some(pause) = fields.cooldown_us {
            if !METRICS {
                self.0.pauses(1);
            }
            let on_quota = fields.quota_exhausted == Some(true) && fields.throttled != Some(true);
            self.0.pause_detail(pause, on_quota);
        } else if fields.wait_ms.is_some() && !METRICS {
            // volley-ratelimit's "rate limit wait", once per attempt held back to pace its host.
            self.0.paced();
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
    stop_reason: Option<String>,
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
            "stop_reason" => self.stop_reason = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        // `%reason` arrives here, formatted with Display.
        if field.name() == "reason" {
            self.reason = Some(format!("{value:?}"));
        }
    }
}
