//! Peak memory of `volley::join`'s unordered stream over a lazily generated input.
//!
//! `fanout_memory N [LIMIT]` runs N requests (default 1,000,000) through a no-op service
//! with at most LIMIT (default 256) in flight, consuming results as they finish, and prints
//! the item count, the elapsed time and the process's peak resident set (VmHWM). Memory
//! must not grow with N: run it with 100,000 and 1,000,000 and compare.

// A measuring tool reports on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::convert::Infallible;
use std::process::ExitCode;

use futures_util::StreamExt;
use http::{Request, Response};
use volley::join::Fanout;
use volley_benches::peak_rss_kib;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let parse = |arg: Option<String>, default: usize| {
        arg.map_or(Ok(default), |a| a.replace('_', "").parse::<usize>())
    };
    let (Ok(items), Ok(limit)) = (parse(args.next(), 1_000_000), parse(args.next(), 256)) else {
        eprintln!("usage: fanout_memory [ITEMS] [LIMIT]");
        return ExitCode::from(2);
    };
    let Ok(runtime) =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
    else {
        eprintln!("fanout_memory: cannot start a tokio runtime");
        return ExitCode::FAILURE;
    };
    let started = tokio::time::Instant::now();
    let done = runtime.block_on(async move {
        let service =
            tower::service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
        let Ok(fanout) = Fanout::new(service, limit) else { return 0 };
        // The input is generated as it is read: nothing holds a million requests at once.
        let requests = (0..items).map(|_| Request::new(()));
        let mut stream = fanout.unordered(requests, |_res| async { Ok::<_, volley::Error>(()) });
        let mut done = 0usize;
        while let Some((_index, result)) = stream.next().await {
            done += usize::from(result.is_ok());
        }
        done
    });
    let elapsed = started.elapsed();
    let peak = peak_rss_kib()
        .map_or_else(|| "unknown".to_owned(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0));
    println!(
        "items {done} of {items}, in flight at most {limit}, {:.2} s, peak RSS {peak}",
        elapsed.as_secs_f64()
    );
    if done == items { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
