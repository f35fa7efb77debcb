//! `volley fetch`: the client from the flags, the fan-out, the records and the summary.

use std::convert::Infallible;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::Instant;
use volley::join::Fanout;
use volley::{Client, RetryPolicy};

use crate::args::FetchArgs;
use crate::input::{self, Line};
use crate::item::{self, Defaults, Done, Shared};
use crate::output::{Record, Writer};
use crate::progress::Progress;
use crate::stats::{Outcome, Stats};
use crate::summary;
use crate::trace::LayerCounts;
use crate::{Exit, Fatal};

/// A batch of lines to send through one client.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) client: Client,
    pub(crate) concurrency: usize,
    pub(crate) defaults: Defaults,
    pub(crate) save_dir: Option<std::path::PathBuf>,
}

/// What a batch came to.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) stats: Stats,
    pub(crate) wall: Duration,
}

/// Sends every line, at most `concurrency` at once, handing each record to `sink` (with
/// the line's 0-based index) as its request finishes.
pub(crate) async fn run_batch(
    batch: Batch,
    lines: Vec<Line>,
    progress: &Progress,
    mut sink: impl FnMut(usize, Record) -> io::Result<()>,
) -> Result<Report, Fatal> {
    let numbers: Vec<usize> = lines.iter().map(|line| line.number).collect();
    let shared = Arc::new(Shared {
        client: batch.client.clone(),
        save_dir: batch.save_dir,
        run_started: Instant::now(),
    });
    let service = tower::service_fn({
        let shared = shared.clone();
        move |job| {
            let shared = shared.clone();
            async move { Ok::<Done, Infallible>(item::run(shared, job).await) }
        }
    });
    let (client, defaults) = (batch.client, batch.defaults);
    let jobs = lines.into_iter().map(move |line| item::prepare(&client, &defaults, &line));
    let fanout = Fanout::new(service, batch.concurrency).map_err(|err| Fatal(err.to_string()))?;
    let mut results = fanout.unordered(jobs, |done| async move { Ok::<Done, Infallible>(done) });

    let mut stats = Stats::default();
    while let Some((index, result)) = results.next().await {
        let done = result
            .unwrap_or_else(|err| lost(numbers.get(index).copied().unwrap_or_default(), &err));
        let attempts = done.record.attempts;
        stats.add(done.outcome, attempts, done.record.bytes, done.elapsed);
        if let Some(kind) = done.timeout {
            stats.add_timeout(kind);
        }
        stats.rate_limited += u64::from(done.rate_limited);
        progress.inc();
        sink(index, done.record).map_err(|err| Fatal(format!("cannot write the output: {err}")))?;
    }
    progress.finish();
    Ok(Report { stats, wall: shared.run_started.elapsed() })
}

/// The record of an item whose task failed outside the request (it cannot: the service
/// is infallible, but a record per line is the contract).
fn lost(line: usize, err: &volley::Error) -> Done {
    let mut record = Record {
        line,
        url: None,
        status: None,
        attempts: 0,
        start_ms: 0.0,
        elapsed_ms: 0.0,
        bytes: 0,
        saved: None,
        error: None,
    };
    record.error("other", err.to_string());
    Done { record, outcome: Outcome::Other, timeout: None, rate_limited: false, elapsed: None }
}

/// `volley fetch`.
pub(crate) async fn fetch(args: FetchArgs, counts: Arc<LayerCounts>) -> Result<Exit, Fatal> {
    let lines = input::read(args.input.as_deref()).map_err(Fatal)?;
    let body = match args.data.as_deref() {
        Some(data) => Some(match data.strip_prefix('@') {
            Some(path) => Bytes::from(
                std::fs::read(path).map_err(|err| Fatal(format!("cannot read {path}: {err}")))?,
            ),
            None => Bytes::from(data.to_owned()),
        }),
        None => None,
    };
    if let Some(dir) = &args.save_bodies {
        std::fs::create_dir_all(dir)
            .map_err(|err| Fatal(format!("cannot create {}: {err}", dir.display())))?;
    }
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path)
                .map_err(|err| Fatal(format!("cannot create {}: {err}", path.display())))?,
        )),
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let mut writer = Writer::new(out, !args.unordered);
    let client = client(&args)?;
    let progress = Progress::new(lines.len(), counts.clone(), !args.quiet);
    let batch = Batch {
        client,
        concurrency: args.concurrency,
        defaults: Defaults { method: args.method.clone(), body },
        save_dir: args.save_bodies.clone(),
    };
    let report =
        run_batch(batch, lines, &progress, |index, record| writer.push(index, record)).await?;
    writer.finish().map_err(|err| Fatal(format!("cannot write the output: {err}")))?;
    if !args.quiet {
        let text = summary::render(&report.stats, &counts.snapshot(), report.wall);
        // The summary is for the person at the terminal; stdout carries the records.
        #[allow(clippy::print_stderr)]
        {
            eprint!("{text}");
        }
    }
    Ok(exit_for(&report.stats))
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

/// The client the flags describe.
fn client(args: &FetchArgs) -> Result<Client, Fatal> {
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
    if let Some(rate) = args.rate {
        builder = builder.rate_limit(rate.n, rate.per, args.burst);
    }
    for (name, value) in &args.headers {
        builder = builder.default_header(name.clone(), value.clone());
    }
    builder.build().map_err(|err| Fatal(format!("cannot build the client: {err}")))
}
