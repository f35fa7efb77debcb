//! Loopback throughput: volley's standard stack against the plain hyper-util client,
//! reqwest, and reqwest-middleware with reqwest-retry, over real sockets to
//! volley-testserver running in a separate process.
//!
//! ```text
//! cargo run --release -p volley-benches --bin loopback               # all four workloads, 10 repetitions
//! cargo run --release -p volley-benches --bin loopback -- --quick    # a tenth of the requests, 3 repetitions
//! cargo run --release -p volley-benches --bin loopback -- --workload w1 --reps 20
//! ```
//!
//! The binary plays three parts. Run plainly, it compares: it starts itself as the test
//! server (`serve`, pinned to the last core where `taskset` exists), then, for every
//! workload and repetition, starts itself once per client as a `worker` pinned to the
//! first core, so each client runs in a fresh process whose peak RSS is its own. Clients
//! alternate in A B C D D C B A order across repetitions. The report (medians, ratios to the
//! hyper-util client within each repetition, latency percentiles, peak RSS, the targets)
//! goes to stdout and `OUT/report.md`, every measurement to `OUT/results.json`, and the
//! chart to `OUT/loopback.svg` (OUT defaults to `target/loopback`).

// A measuring tool reports on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod chart;
mod clients;
mod compare;
mod report;
mod server;
mod stacks;
mod worker;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::clients::ClientKind;
use crate::workload::Workload;

#[derive(Debug, Parser)]
#[command(about = "Loopback throughput of volley against hyper-util and reqwest")]
struct Cli {
    #[command(subcommand)]
    part: Option<Part>,
    #[command(flatten)]
    compare: CompareArgs,
}

/// What the comparison runs and where it writes.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// A tenth of each workload's requests and 3 repetitions (finishes in well under a minute).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Repetitions of each client per workload [default: 10, or 3 with --quick].
    #[arg(long)]
    pub(crate) reps: Option<usize>,
    /// Workloads to run (repeatable) [default: all].
    #[arg(long = "workload", value_enum)]
    pub(crate) workloads: Vec<Workload>,
    /// Clients to run (repeatable) [default: all; hyper is always run, as the baseline].
    #[arg(long = "client", value_enum)]
    pub(crate) clients: Vec<ClientKind>,
    /// Where the report, the results and the chart go.
    #[arg(long, default_value = "target/loopback")]
    pub(crate) out: PathBuf,
    /// Do not pin the server and the clients to separate cores.
    #[arg(long)]
    pub(crate) no_pin: bool,
}

#[derive(Debug, Subcommand)]
enum Part {
    /// Serve volley-testserver on 127.0.0.1 until stdin closes (started by the comparison).
    #[command(hide = true)]
    Serve,
    /// Run one client over one workload and print the measurement as JSON (started by the
    /// comparison).
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.part {
        Some(Part::Serve) => server::serve(),
        Some(Part::Worker(args)) => worker::run(&args),
        None => compare::run(&cli.compare),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loopback: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The error every part reports: a message for the person running the bench.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A multi-threaded runtime with one worker per core this process may run on (one when
/// pinned).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?)
}
