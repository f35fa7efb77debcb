//! `volley fetch`: the client from the flags, the fan-out, the records and the summary.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::time::Instant;
use volley::join::Fanout;
use volley::redirect::Policy;
use volley::{Client, RetryPolicy};

use crate::args::FetchArgs;
use crate::input::{self, Input};
use crate::item::{self, Defaults, Done, Job, Shared};
use crate::output::{Record, Writer};
use crate::progress::Progress;
use crate::resilience;
use crate::shared_limit::SharedLimit;
use crate::signals::LayerCounts;
use crate::stats::{Outcome, Stats, Stopped};
use crate::summary;
use crate::summary_json::SummaryJson;
use crate::{Exit, Fatal, console, files, verbose};

/// A batch of lines to send through one client.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) client: Client,
    pub(crate) concurrency: usize,
    pub(crate) defaults: Defaults,
    pub(crate) save_dir: Option<std::path::PathBuf>,
    /// `-v`: a line on stderr per request as it finishes.
    pub(crate) verbose: bool,
    /// `--fail-fast`: stop at the first request that is not ok.
    pub(crate) fail_fast: bool,
}

/// What a batch came to.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) stats: Stats,
    pub(crate) wall: Duration,
}

/// Records a run in input order may hold back for an earlier request still running; no
/// new line is started past this, so a request that hangs cannot make the others pile up
/// in memory (it holds the output, and the run, until its timeout).
pub(crate) const MAX_BACKLOG: usize = 10_000;

/// Sends every line of `lines`, at most `concurrency` at once, taking a line only when a
/// slot frees. Each record goes to `sink` with the line's 0-based index as its request
/// finishes; `sink` says how many records it holds back (see [`MAX_BACKLOG`]).
pub(crate) async fn run_batch(
    batch: Batch,
    lines: impl Stream<Item = Input> + Send + 'static,
    progress: &Progress,
    mut sink: impl FnMut(usize, Record) -> io::Result<usize>,
) -> Result<Report, Fatal> {
    let shared = Arc::new(Shared {
        client: batch.client.clone(),
        save_dir: batch.save_dir,
        run_started: Instant::now(),
    });
    // Set by the first failed item, before its task ends: no line starts after it.
    let failed = Arc::new(AtomicBool::new(false));
    let (fail_fast, verbose) = (batch.fail_fast, batch.verbose);
    let service = tower::service_fn({
        let (shared, failed) = (shared.clone(), failed.clone());
        move |job| {
            let (shared, failed) = (shared.clone(), failed.clone());
            async move {
                let done = item::run(shared, job).await;
                if fail_fast && done.outcome != Outcome::Ok {
                    failed.store(true, Ordering::Release);
                }
                Ok::<Done, Infallible>(done)
            }
        }
    });
    let gate = Arc::new(Gate::default());
    // The line number of every job started and not yet finished, for `lost`.
    let started = Arc::new(Mutex::new(HashMap::new()));
    let jobs = {
        let (client, defaults) = (batch.client, batch.defaults);
        let (gate, started, progress) = (gate.clone(), started.clone(), progress.clone());
        let mut lines = Box::pin(lines);
        let mut next_index = 0;
        futures_util::stream::poll_fn(move |cx| {
            if failed.load(Ordering::Acquire) {
                return Poll::Ready(None);
            }
            if gate.closed(cx) {
                return Poll::Pending;
            }
            let job = match ready!(lines.as_mut().poll_next(cx)) {
                Some(Ok(line)) => item::prepare(&client, &defaults, &line),
                Some(Err(bad)) => Job::refused(bad),
                None => return Poll::Ready(None),
            };
            if let Ok(mut started) = started.lock() {
                started.insert(next_index, job.line());
            }
            next_index += 1;
            progress.start();
            Poll::Ready(Some(job))
        })
    };
    let fanout =
        Fanout::new(service, batch.concurrency).map_err(|err| Fatal::Usage(err.to_string()))?;
    let mut results =
        fanout.unordered_stream(jobs, |done| async move { Ok::<Done, Infallible>(done) });

    let mut stats = Stats::default();
    let mut first_failure = None;
    loop {
        // After the first failure under --fail-fast, only what has already finished.
        let next = match first_failure {
            None => results.next().await,
            Some(_) => results.next().now_or_never().flatten(),
        };
        let Some((index, result)) = next else { break };
        let line = started.lock().ok().and_then(|mut started| started.remove(&index));
        let done = result.unwrap_or_else(|err| lost(line.unwrap_or_default(), &err));
        if fail_fast && first_failure.is_none() && done.outcome != Outcome::Ok {
            first_failure = Some(done.record.line);
        }
        add(&mut stats, &done);
        if verbose {
            progress.println(&verbose::line(&done));
        }
        progress.inc();
        let backlog =
            sink(index, done.record).map_err(|err| Fatal::writing(&err, exit_for(&stats)))?;
        gate.set_backlog(backlog);
    }
    if let Some(line) = first_failure {
        let cancelled = started.lock().map_or(0, |started| started.len() as u64);
        stats.stopped = Some(Stopped { line, cancelled });
    }
    // Aborts the requests still running (only under --fail-fast: otherwise none are).
    drop(results);
    progress.finish();
    Ok(Report { stats, wall: shared.run_started.elapsed() })
}

/// Counts one finished item.
fn add(stats: &mut Stats, done: &Done) {
    stats.add(done.outcome, done.record.attempts, done.record.bytes, done.elapsed);
    stats.redirects += u64::from(done.record.redirects.unwrap_or(0));
    if let Some(kind) = done.timeout {
        stats.add_timeout(kind);
    }
    stats.rate_limited += u64::from(done.rate_limited);
}

/// Holds new lines back while the output holds [`MAX_BACKLOG`] records or more.
#[derive(Debug, Default)]
struct Gate {
    backlog: AtomicUsize,
    waker: AtomicWaker,
}

impl Gate {
    /// Whether no line may start now; if so, the task is woken when one may.
    fn closed(&self, cx: &mut Context<'_>) -> bool {
        if self.backlog.load(Ordering::Acquire) < MAX_BACKLOG {
            return false;
        }
        self.waker.register(cx.waker());
        self.backlog.load(Ordering::Acquire) >= MAX_BACKLOG
    }

    fn set_backlog(&self, backlog: usize) {
        self.backlog.store(backlog, Ordering::Release);
        if backlog < MAX_BACKLOG {
            self.waker.wake();
        }
    }
}

/// The record of an item whose task failed outside the request (it cannot: the service
/// is infallible, but a record per line is the contract).
fn lost(line: usize, err: &volley::Error) -> Done {
    let mut record = Record::new(line, None);
    record.error("other", err.to_string());
    Done::unsent(record, Outcome::Other)
}

/// `volley fetch`.
pub(crate) async fn fetch(args: FetchArgs, counts: Arc<LayerCounts>) -> Result<Exit, Fatal> {
    if let Some(rate) = args.rate {
        rate.check_burst(args.burst).map_err(Fatal::Usage)?;
    }
    let input = input::open(args.input.as_deref()).map_err(Fatal::Usage)?;
    let body = match args.data.as_deref() {
        Some(data) => Some(match data.strip_prefix('@') {
            Some(path) => Bytes::from(
                std::fs::read(path)
                    .map_err(|err| Fatal::Usage(format!("cannot read {path}: {err}")))?,
            ),
            None => Bytes::from(data.to_owned()),
        }),
        None => None,
    };
    if let Some(dir) = &args.save_bodies {
        std::fs::create_dir_all(dir)
            .map_err(|err| Fatal::Usage(format!("cannot create {}: {err}", dir.display())))?;
    }
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            files::create_output(path, input.file.as_ref()).map_err(Fatal::Usage)?,
        )),
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let mut writer = Writer::new(out, !args.unordered);
    let summary_json = match &args.summary_json {
        Some(path) if args.output.as_ref() == Some(path) => {
            return Err(Fatal::Usage(format!(
                "--summary-json {} is also the --output file",
                path.display()
            )));
        }
        Some(path) => Some(files::create_output(path, input.file.as_ref()).map_err(Fatal::Usage)?),
        None => None,
    };
    let (client, shared_limit) = client(&args)?;
    let limits = client.limits();
    // The length of a file is worth a second read only for a bar someone sees.
    let total = match (&args.input, &input.file) {
        (Some(path), Some(_)) if Progress::visible(!args.quiet) => input::count(path),
        _ => None,
    };
    let progress = Progress::new(total, counts.clone(), limits.concurrency().cloned(), !args.quiet);
    let batch = Batch {
        client,
        concurrency: args.concurrency,
        defaults: Defaults { method: args.method.clone(), body },
        save_dir: args.save_bodies.clone(),
        verbose: args.verbose,
        fail_fast: args.fail_fast,
    };
    let (lines, read_error) = input.reader.spawn();
    let report = run_batch(batch, lines, &progress, |index, record| {
        writer.push(index, record)?;
        Ok(writer.backlog())
    })
    .await?;
    let exit = exit_for(&report.stats);
    writer.finish().map_err(|err| Fatal::writing(&err, exit))?;
    let counts = counts.snapshot();
    // Even with --quiet: it was asked for by name.
    if let Some(file) = summary_json {
        SummaryJson::new(&report.stats, &counts, report.wall)
            .write(BufWriter::new(file))
            .map_err(|err| Fatal::Usage(format!("cannot write the --summary-json file: {err}")))?;
    }
    if !args.quiet {
        // The summary is for the person at the terminal; stdout carries the records.
        console::write_stderr(&summary::render(&report.stats, &counts, report.wall));
        if let Some(stages) = resilience::render(&limits) {
            console::write_stderr(&stages);
        }
    }
    // Even with --quiet: a quota that was not shared is worth knowing.
    if let Some(shared_limit) = &shared_limit {
        shared_limit.report();
    }
    match read_error.take() {
        Some(message) => Err(Fatal::Usage(message)),
        None => Ok(exit),
    }
}

/// 2 if any line was not understood, 1 if any request failed, else 0.
pub(crate) fn exit_for(stats: &Stats) -> Exit {
    if stats.count(Outcome::BadInput) > 0 {
        Exit::Usage
    } else if stats.failed() > 0 {
        Exit::Failures
    } else {
        Exit::Ok
    }
}

/// The client the flags describe, and its rate limiter in Redis with `--redis`.
fn client(args: &FetchArgs) -> Result<(Client, Option<SharedLimit>), Fatal> {
    let policy = RetryPolicy::new().max_retries(args.retries).max_retry_after(args.max_retry_after);
    let mut builder = Client::builder()
        .timeout(args.timeout.0)
        .attempt_timeout(args.attempt_timeout.0)
        .connect_timeout(args.connect_timeout.0)
        .retry_policy(policy)
        .concurrency(Some(args.concurrency));
    if let Some(per_host) = args.per_host {
        builder = builder.per_host(per_host);
    }
    let mut shared_limit = None;
    if let Some(rate) = args.rate {
        builder = match args.redis.layer(rate, args.burst)? {
            Some((layer, shared)) => {
                shared_limit = Some(shared);
                builder.rate_limit_layer(layer)
            }
            None => builder.rate_limit(rate.n, rate.per, args.burst),
        };
    }
    for (name, value) in &args.headers {
        builder = builder.default_header(name.clone(), value.clone());
    }
    let redirects = match args.max_redirects {
        0 => Policy::none(),
        n => Policy::limited(n),
    };
    builder =
        builder.redirect(redirects).decompress(!args.no_decompress).cookie_store(args.cookies);
    builder = args.resilience.apply(builder);
    builder = args.transport.apply(builder)?;
    let client =
        builder.build().map_err(|err| Fatal::Usage(format!("cannot build the client: {err}")))?;
    Ok((client, shared_limit))
}
