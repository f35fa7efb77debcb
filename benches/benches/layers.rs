//! Per-call overhead of each volley layer around a no-op service, next to tower's
//! counterpart. Results and the machine they came from are in `docs/benchmarks.md`.
//!
//! Every case (`volley_benches::cases`) drives one stored service on a current-thread
//! runtime: `ready`, `call`, await the response and read its body to the end (see
//! `volley_benches::run`). Limits never bind: what is measured is the bookkeeping of a call
//! that goes straight through.

// `criterion_group!` and `criterion_main!` generate public items without docs.
#![allow(missing_docs)]

use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tokio::runtime::Runtime;
use tower::Service;
use volley_benches::cases::{self, Visit};
use volley_benches::{run, runtime};

/// Runs every case as a criterion bench named `group/name`.
struct Bench<'a> {
    c: &'a mut Criterion,
    rt: &'a Runtime,
}

impl Visit for Bench<'_> {
    fn case<S, B>(&mut self, group: &'static str, name: &'static str, mut make: impl FnMut() -> S)
    where
        S: Service<Request<Full<Bytes>>, Response = Response<B>>,
        S::Error: Debug,
        B: Body,
        B::Error: Debug,
    {
        let mut group = self.c.benchmark_group(group);
        group.bench_function(name, |b| {
            b.to_async(self.rt).iter_custom(|iters| {
                let mut svc = make();
                async move { run(&mut svc, iters).await }
            });
        });
        group.finish();
    }
}

fn layers(c: &mut Criterion) {
    let rt = runtime();
    // tower's timers and rate limiter look for the runtime when they are built.
    let _context = rt.enter();
    cases::all(&mut Bench { c, rt: &rt });
}

/// Short runs, so that the whole bench takes about a minute on a 2-core machine.
fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = layers
}
criterion_main!(benches);
