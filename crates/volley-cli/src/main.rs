//! `volley`: fetch many URLs through volley's standard stack (bounded concurrency, per-host
//! rate limits, retries that honour Retry-After, timeouts), run the test server, or watch
//! a demo of every layer at work. See `docs/cli.md`.
//!
//! Exit codes: 0 when every request succeeded (status below 400), 1 when some failed
//! (`--fail-fast` stopped at one, say), 2 for a usage or input error (a bad flag, an
//! unreadable file, an input line that is not a request). `volley demo` exits 0 when the run completed, failures included: they are
//! part of the show.
//!
//! A closed stdout (`volley fetch urls.txt | head -3`) stops the command at once, quietly:
//! no message, no summary, and the status of what was done until then (0 for `serve`,
//! `demo` and `--help`), like ripgrep. No input or flag makes it panic; should a bug do
//! so, it prints one line, not a backtrace.

mod args;
mod console;
mod demo;
mod demo_table;
mod fetch;
mod files;
mod input;
mod item;
mod output;
mod progress;
#[cfg(feature = "metrics")]
mod recorder;
mod resilience;
mod serve;
mod shared_limit;
mod signals;
mod stats;
mod summary;
mod summary_json;
mod trace;
mod transport;
mod verbose;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::args::{Cli, Command};
use crate::signals::LayerCounts;
use crate::trace::CountingLayer;

/// How a run ended, as the process reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    Failures = 1,
    Usage = 2,
}

/// Why a command stopped before the end.
#[derive(Debug)]
pub(crate) enum Fatal {
    /// A usage or input error: one line for the user, then exit 2.
    Usage(String),
    /// Stdout's reader went away (`volley … | head`): stop at once, say nothing more, and
    /// exit with this status, as ripgrep does (coreutils die of SIGPIPE, which Rust
    /// programs ignore).
    Closed(Exit),
}

impl Fatal {
    /// What a failed write to the records' output or stdout means: a closed pipe ends the
    /// run quietly with `status`; anything else (a full disk) is an error that says so.
    pub(crate) fn writing(err: &std::io::Error, status: Exit) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            Fatal::Closed(status)
        } else {
            Fatal::Usage(format!("cannot write the output: {err}"))
        }
    }
}

fn main() -> ExitCode {
    console::quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let counts = Arc::new(LayerCounts::default());
    {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(CountingLayer(counts.clone()));
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            console::error("tracing was already set up; layer counts will be missing");
        }
    }
    // The layers' metrics (`--features metrics`, the default) feed most of the counts.
    #[cfg(feature = "metrics")]
    if metrics::set_global_recorder(recorder::CountingRecorder(counts.clone())).is_err() {
        console::error("a metrics recorder was already set up; layer counts will be missing");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            console::error(&format!("cannot start the runtime: {err}"));
            return ExitCode::from(Exit::Usage as u8);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Fetch(args) => fetch::fetch(args, counts).await,
            Command::Serve(args) => serve::serve(args).await,
            Command::Demo(args) => demo::demo(args, counts).await,
        }
    });
    // Pooled connections and the test server's tasks need not finish.
    runtime.shutdown_background();
    match result {
        Ok(exit) | Err(Fatal::Closed(exit)) => ExitCode::from(exit as u8),
        Err(Fatal::Usage(message)) => {
            console::error(&message);
            ExitCode::from(Exit::Usage as u8)
        }
    }
}

/// Help and version go to stdout with exit 0; anything else is one line on stderr.
fn usage_error(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // `volley --help | head -1`: the reader has what it wanted.
            match console::print(&err.to_string()).map_err(|err| Fatal::writing(&err, Exit::Ok)) {
                Ok(()) | Err(Fatal::Closed(_)) => ExitCode::SUCCESS,
                Err(Fatal::Usage(message)) => {
                    console::error(&message);
                    ExitCode::from(Exit::Usage as u8)
                }
            }
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            console::write_stderr(&err.to_string());
            ExitCode::from(Exit::Usage as u8)
        }
        _ => {
            console::error(&format!("{} (see volley --help)", one_line(err)));
            ExitCode::from(Exit::Usage as u8)
        }
    }
}

/// clap's first paragraph, on one line: the message, and any argument it lists. A bad
/// `-H` value is not repeated: it may carry a credential.
fn one_line(err: &clap::Error) -> String {
    if err.kind() == ErrorKind::ValueValidation
        && let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg)
        && arg.starts_with("--header")
    {
        let why = std::error::Error::source(err).map(ToString::to_string).unwrap_or_default();
        return format!("invalid value for '{arg}': {why}");
    }
    let text = err.to_string();
    let first: Vec<&str> =
        text.lines().take_while(|line| !line.trim().is_empty()).map(str::trim).collect();
    let first = first.join(" ");
    first.strip_prefix("error: ").unwrap_or(&first).to_owned()
}
