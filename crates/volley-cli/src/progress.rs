//! The progress bar on stderr, drawn only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use volley::limit::LimitState;

use crate::console;
use crate::signals::LayerCounts;

/// Done / total, rate, requests in flight and waiting for a permit, retries and throttled
/// attempts and waits; hidden when stderr is piped. Clones share the bar.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    counts: Arc<LayerCounts>,
    /// The client's concurrency limit, read for the requests waiting for a permit.
    limit: Option<LimitState>,
    /// Requests started, for those in flight (started and not done).
    started: Arc<AtomicU64>,
}

impl Progress {
    /// A bar for `total` requests (`None`: a count, the total being unknown until the
    /// input ends), drawn if `wanted` and stderr is a terminal. `limit` is the client's
    /// concurrency limit (`Limits::concurrency`), when it has one.
    pub(crate) fn new(
        total: Option<usize>,
        counts: Arc<LayerCounts>,
        limit: Option<LimitState>,
        wanted: bool,
    ) -> Self {
        let visible = Self::visible(wanted);
        let target =
            if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(total.map(|total| total as u64), target);
        let template = match total {
            Some(_) => "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {msg}",
            None => "{spinner} {elapsed_precise} {pos} done {msg}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        if visible {
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        let progress = Self { bar, counts, limit, started: Arc::default() };
        progress.refresh();
        progress
    }

    /// Whether a bar would be drawn: asked for, and stderr a terminal.
    pub(crate) fn visible(wanted: bool) -> bool {
        wanted && std::io::stderr().is_terminal()
    }

    /// One more request started.
    pub(crate) fn start(&self) {
        self.started.fetch_add(1, Relaxed);
        self.refresh();
    }

    /// One more request done.
    pub(crate) fn inc(&self) {
        self.bar.inc(1);
        self.refresh();
    }

    /// Prints `line` (ending in a newline) on stderr, above the bar when there is one.
    pub(crate) fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            console::write_stderr(line);
        } else {
            self.bar.suspend(|| console::write_stderr(line));
        }
    }

    fn refresh(&self) {
        if self.bar.is_hidden() {
            return;
        }
        let counts = self.counts.snapshot();
        // Waits the server asked for: Retry-After sleeps, and host pauses in the limiter.
        let throttled = counts.hint_waits + counts.pauses;
        let secs = self.bar.elapsed().as_secs_f64();
        let done = self.bar.position();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let in_flight = self.started.load(Relaxed).saturating_sub(done);
        // Of those in flight, the ones queued for a permit of the client's limit.
        let waiting = self.limit.as_ref().map_or(0, LimitState::waiting);
        self.bar.set_message(format!(
            "{rate:.0}/s · in flight {in_flight} (waiting {waiting}) · retries {} · throttled {} \
             · throttled waits {throttled}",
            counts.retries, counts.throttled
        ));
    }

    /// Removes the bar, so the summary starts on a clean line.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
