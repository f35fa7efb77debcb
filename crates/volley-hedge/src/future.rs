//! The response future of [`Hedge`](crate::Hedge).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_service::Service;
use tracing::Instrument;
use tracing::instrument::Instrumented;
use volley_classify::Classify;
use volley_core::{BoxError, Key};

use crate::body::clone_request;
use crate::state::Shared;
use crate::{Hedged, TryCloneBody};

pin_project! {
    /// The future returned by [`Hedge`](crate::Hedge): polls the first attempt and any
    /// hedge sent, and resolves with the first response head.
    ///
    /// When it resolves, or when it is dropped, every other attempt is dropped with it —
    /// cancelled, giving back whatever the layers below held for it.
    #[project = ResponseFutureProj]
    pub struct ResponseFuture<S, B, C>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        first: First<S::Future>,
        // Only read when the winner's latency is recorded, so only then is the clock read.
        started: Option<Instant>,
        hedges: Vec<Attempt<S::Future>>,
        plan: Option<Box<Plan<S, B>>>,
        record: Option<Record<C>>,
        shared: Arc<Shared>,
        sent: u32,
    }
}

pin_project! {
    #[project = FirstProj]
    enum First<F> {
        Running { #[pin] future: F },
        Done,
    }
}

/// A hedge in flight, in its `hedge = true` span.
struct Attempt<F> {
    future: Pin<Box<Instrumented<F>>>,
    started: Instant,
    /// The `key` label of `volley.hedge.won`, should this hedge answer first.
    #[cfg(feature = "metrics")]
    key_label: metrics::SharedString,
}

/// What is needed to record the winner's latency in its key's histogram.
pub(crate) struct Record<C> {
    pub(crate) key: Key,
    pub(crate) method: Method,
    pub(crate) classifier: Arc<C>,
}

/// The hedges still to send: a clone of the service (readied when needed), a copy of the
/// request, and the timer.
pub(crate) struct Plan<S, B> {
    svc: S,
    template: Option<Request<B>>,
    delay: Duration,
    /// When the next hedge is due.
    at: Instant,
    /// Made on the first poll that needs it: most first attempts answer at their first
    /// poll, and those pay for no timer.
    sleep: Option<Pin<Box<Sleep>>>,
    key: Option<Key>,
    /// The delay has passed and a budget token is taken: waiting for `svc` to be ready.
    armed: bool,
}

impl<S, B> Plan<S, B> {
    pub(crate) fn new(
        svc: S,
        template: Request<B>,
        delay: Duration,
        key: Option<Key>,
        now: Instant,
    ) -> Self {
        Self {
            svc,
            template: Some(template),
            delay,
            at: now + delay,
            sleep: None,
            key,
            armed: false,
        }
    }
}

impl<S, B, C> ResponseFuture<S, B, C>
where
    S: Service<Request<B>>,
{
    pub(crate) fn new(
        future: S::Future,
        started: Option<Instant>,
        plan: Option<Box<Plan<S, B>>>,
        record: Option<Record<C>>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            first: First::Running { future },
            started,
            hedges: Vec::new(),
            plan,
            record,
            shared,
            sent: 0,
        }
    }
}

impl<S, B, C, ResBody> Future for ResponseFuture<S, B, C>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    B: TryCloneBody,
    C: Classify,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let FirstProj::Running { future } = this.first.as_mut().project() {
                match future.poll(cx) {
                    Poll::Pending => {}
                    Poll::Ready(result) => {
                        this.first.set(First::Done);
                        match result {
                            Ok(res) => {
                                let started = *this.started;
                                return Poll::Ready(Ok(finish(&mut this, res, started, false)));
                            }
                            // The only attempt in flight failed: return it, hedging is not
                            // retrying. Otherwise wait for the hedges.
                            Err(error) if this.hedges.is_empty() => {
                                *this.plan = None;
                                return Poll::Ready(Err(error.into()));
                            }
                            Err(error) => {
                                tracing::debug!(error = %error.into(), "first attempt failed, awaiting the hedge");
                            }
                        }
                    }
                }
            }
            let mut i = 0;
            while i < this.hedges.len() {
                let attempt = &mut this.hedges[i];
                match attempt.future.as_mut().poll(cx) {
                    Poll::Pending => i += 1,
                    Poll::Ready(Ok(res)) => {
                        let started = Some(attempt.started);
                        #[cfg(feature = "metrics")]
                        metrics::counter!(
                            volley_core::telemetry::names::HEDGES_WON,
                            "key" => attempt.key_label.clone()
                        )
                        .increment(1);
                        return Poll::Ready(Ok(finish(&mut this, res, started, true)));
                    }
                    Poll::Ready(Err(error)) => {
                        this.hedges.swap_remove(i);
                        let first_done = matches!(*this.first, First::Done);
                        if first_done && this.hedges.is_empty() {
                            *this.plan = None;
                            return Poll::Ready(Err(error.into()));
                        }
                        tracing::debug!(error = %error.into(), "hedge failed, awaiting the other attempt");
                    }
                }
            }
            let Some(plan) = this.plan.as_mut() else { return Poll::Pending };
            match poll_send(plan, cx, this.shared, *this.sent) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    *this.plan = None;
                    return Poll::Pending;
                }
                Poll::Ready(Some(attempt)) => {
                    *this.sent += 1;
                    this.hedges.push(attempt);
                    if *this.sent >= this.shared.config.max_hedges {
                        *this.plan = None;
                    }
                    // Poll the new hedge (and arm the next timer) before returning.
                }
            }
        }
    }
}

/// Sends the next hedge once its delay has passed, the budget allows it and the service is
/// ready; `None` when no more hedges will be sent.
fn poll_send<S, B>(
    plan: &mut Plan<S, B>,
    cx: &mut Context<'_>,
    shared: &Shared,
    sent: u32,
) -> Poll<Option<Attempt<S::Future>>>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
    B: TryCloneBody,
{
    if !plan.armed {
        let at = plan.at;
        let sleep = plan.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        ready!(sleep.as_mut().poll(cx));
        if !shared.budget.try_withdraw() {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                key = plan.key.as_ref().map(Key::as_str),
                delay_ms = millis(plan.delay),
                "hedge not sent: budget spent"
            );
            return Poll::Ready(None);
        }
        plan.armed = true;
    }
    if let Err(error) = ready!(plan.svc.poll_ready(cx)) {
        tracing::debug!(error = %error.into(), "hedge not sent: service not ready");
        return Poll::Ready(None);
    }
    plan.armed = false;
    let last = sent + 1 >= shared.config.max_hedges;
    let req = match &plan.template {
        Some(template) if !last => clone_request(template),
        _ => plan.template.take(),
    };
    let Some(req) = req else { return Poll::Ready(None) };
    let key = plan.key.clone().unwrap_or_else(|| Key::from_uri(req.uri()));
    let n = sent + 1;
    let span = tracing::debug_span!("hedge_attempt", hedge = true, attempt = n, key = %key);
    let future = span.in_scope(|| plan.svc.call(req)).instrument(span);
    let now = Instant::now();
    shared.sent.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(key = %key, delay_ms = millis(plan.delay), attempt = n, "hedge sent");
    #[cfg(feature = "metrics")]
    let key_label = volley_core::telemetry::key_label(&key);
    #[cfg(feature = "metrics")]
    metrics::counter!(volley_core::telemetry::names::HEDGES, "key" => key_label.clone())
        .increment(1);
    if !last {
        plan.at = now + plan.delay;
        if let Some(sleep) = plan.sleep.as_mut() {
            sleep.as_mut().reset(plan.at);
        }
    }
    Poll::Ready(Some(Attempt {
        future: Box::pin(future),
        started: now,
        #[cfg(feature = "metrics")]
        key_label,
    }))
}

/// A duration as whole milliseconds, for the typed `*_ms` fields of events.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The winner: records its latency if it succeeded, marks the response, cancels the rest.
fn finish<S, B, C, ResBody>(
    this: &mut ResponseFutureProj<'_, S, B, C>,
    mut res: Response<ResBody>,
    started: Option<Instant>,
    won_by_hedge: bool,
) -> Response<ResBody>
where
    S: Service<Request<B>>,
    C: Classify,
{
    // Losers are dropped now, not when the caller drops this future: their permits and
    // connections are free before the response is even read.
    this.first.set(First::Done);
    this.hedges.clear();
    *this.plan = None;
    if let (Some(record), Some(started)) = (this.record.as_ref(), started)
        && record.classifier.classify(&record.method, Ok(&res)).is_success()
    {
        let now = Instant::now();
        this.shared.record(&record.key, now, now.saturating_duration_since(started));
    }
    if *this.sent > 0 {
        if won_by_hedge {
            this.shared.won.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(won_by_hedge, hedges = *this.sent, "hedged request answered");
        res.extensions_mut().insert(Hedged { hedges: *this.sent, won_by_hedge });
    }
    res
}

impl<S, B, C> fmt::Debug for ResponseFuture<S, B, C>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("first_running", &matches!(self.first, First::Running { .. }))
            .field("hedges_in_flight", &self.hedges.len())
            .field("hedges_sent", &self.sent)
            .field("more_hedges", &self.plan.is_some())
            .finish()
    }
}
