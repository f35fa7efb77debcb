//! `volley`: fetch many URLs through volley's standard stack (bounded concurrency, per-host
//! rate limits, retries that honour Retry-After, timeouts), run the test server, or watch
//! a demo of every layer at work. See `docs/cli.md`.
//!
//! Exit codes: 0 when every request succeeded (status below 400), 1 when some failed, 2
//! for a usage or input error (a bad flag, an unreadable file, an input line that is not
//! a request). `volley demo` exits 0 when the run completed, failures included: they are
//! part of the show.

mod args;
mod demo;
mod demo_table;
mod fetch;
mod input;
mod item;
mod output;
mod progress;
mod serve;
mod stats;
mod summary;
mod trace;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::{Cli, Command};
use crate::trace::{CountingLayer, LayerCounts};

/// How a run ended, as the process reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    Failures = 1,
    Usage = 2,
}

/// A usage or input error: one line for the user, then exit 2.
#[derive(Debug)]
pub(crate) struct Fatal(pub(crate) String);

// The binary talks to its user on stdout and stderr.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let counts = Arc::new(LayerCounts::default());
    {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(CountingLayer(counts.clone()));
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            eprintln!("volley: tracing was already set up; layer counts will be missing");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("volley: cannot start the runtime: {err}");
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
        Ok(exit) => ExitCode::from(exit as u8),
        Err(Fatal(message)) => {
            eprintln!("volley: {message}");
            ExitCode::from(Exit::Usage as u8)
        }
    }
}

/// Help and version go to stdout with exit 0; anything else is one line on stderr.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn usage_error(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print!("{err}");
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{err}");
            ExitCode::from(Exit::Usage as u8)
        }
        _ => {
            // clap's first paragraph, on one line: the message, and any argument it lists.
            let text = err.to_string();
            let first: Vec<&str> =
                text.lines().take_while(|line| !line.trim().is_empty()).map(str::trim).collect();
            let first = first.join(" ");
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            eprintln!("volley: {first} (see volley --help)");
            ExitCode::from(Exit::Usage as u8)
        }
    }
}
