//! A plain loop over one case of `volley_benches::cases`, for profilers: no statistics, no
//! threads, nothing but the calls.
//!
//! ```text
//! cargo bench -p volley-benches --bench profile -- concurrency/volley_global 1000000
//! valgrind --tool=callgrind --toggle-collect='volley_benches::run*' \
//!     target/release/deps/profile-<hash> concurrency/volley_global 100000
//! ```
//!
//! Without a case it lists the cases (so that `cargo bench -p volley-benches` passes by).
//! The first 1 000 calls warm the layers' maps up outside the measured `run`.

use std::fmt::Debug;
use std::io::{self, Write};
use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tokio::runtime::Runtime;
use tower::Service;
use volley_benches::cases::{self, Visit};
use volley_benches::{call, request, run, runtime};

const WARM_UP: u64 = 1_000;

/// Runs the case called `wanted` (`group/name`) and reports its time per call.
struct Profile<'a> {
    wanted: Option<&'a str>,
    iters: u64,
    rt: &'a Runtime,
    found: bool,
    out: io::StdoutLock<'static>,
}

impl Visit for Profile<'_> {
    fn case<S, B>(&mut self, group: &'static str, name: &'static str, mut make: impl FnMut() -> S)
    where
        S: Service<Request<Full<Bytes>>, Response = Response<B>>,
        S::Error: Debug,
        B: Body,
        B::Error: Debug,
    {
        let id = format!("{group}/{name}");
        let Some(wanted) = self.wanted else {
            let _ = writeln!(self.out, "{id}");
            return;
        };
        if id != wanted {
            return;
        }
        self.found = true;
        let iters = self.iters;
        let elapsed = self.rt.block_on(async {
            let mut svc = make();
            for _ in 0..WARM_UP {
                call(&mut svc, request()).await;
            }
            run(&mut svc, iters).await
        });
        let per_call = elapsed.as_nanos() as f64 / iters.max(1) as f64;
        let _ = writeln!(self.out, "{id}: {iters} calls, {per_call:.1} ns/call");
    }
}

fn main() -> ExitCode {
    // cargo bench passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let iters = match args.get(1).map(|n| n.parse::<u64>()) {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(err)) => {
            let _ = writeln!(io::stderr(), "iterations must be a number: {err}");
            return ExitCode::FAILURE;
        }
    };
    let rt = runtime();
    let _context = rt.enter();
    let wanted = args.first().map(String::as_str);
    let mut profile = Profile { wanted, iters, rt: &rt, found: false, out: io::stdout().lock() };
    if wanted.is_none() {
        let _ = writeln!(profile.out, "usage: profile <group/name> [iterations]; cases:");
    }
    cases::all(&mut profile);
    if wanted.is_some() && !profile.found {
        let _ = writeln!(io::stderr(), "no case {:?}; run without arguments for the list", wanted);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
