//! One client over one workload, in a process of its own: warm up, measure, print one
//! JSON line.

use clap::Args;
use tokio::time::Instant;

use crate::BoxError;
use crate::clients::{Client, ClientKind};
use crate::report::Measurement;
use crate::workload::Workload;

/// What the comparison tells a worker.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[arg(long, value_enum)]
    client: ClientKind,
    #[arg(long, value_enum)]
    workload: Workload,
    /// `http://127.0.0.1:PORT` of the test server.
    #[arg(long)]
    base: String,
    #[arg(long)]
    quick: bool,
    /// Which repetition this is (also makes W4's failing keys unique to the run).
    #[arg(long)]
    rep: usize,
}

/// The `worker` part.
pub(crate) fn run(args: &WorkerArgs) -> Result<(), BoxError> {
    let requests = args.workload.requests(args.quick);
    let concurrency = args.workload.concurrency();
    let run_id = format!("{}-{:?}-{}", args.rep, args.client, std::process::id());
    let runtime = crate::runtime()?;
    let (elapsed, tally) = runtime.block_on(async {
        let client = Client::build(args.client, concurrency)?;
        // Every client starts the measured pass with its pool already holding up to
        // `concurrency` connections, so the pass measures steady throughput.
        let warm_up = vec![format!("{}/json", args.base); concurrency];
        let warmed = client.run(warm_up, concurrency).await;
        if warmed.failed > 0 {
            return Err(
                format!("warm-up failed: {}", warmed.first_error.unwrap_or_default()).into()
            );
        }
        let urls: Vec<String> = (0..requests)
            .map(|index| format!("{}{}", args.base, args.workload.path(&run_id, index)))
            .collect();
        let started = Instant::now();
        let tally = client.run(urls, concurrency).await;
        Ok::<_, BoxError>((started.elapsed(), tally))
    })?;
    let measurement = Measurement {
        client: args.client,
        workload: args.workload,
        rep: args.rep,
        requests,
        concurrency,
        ok: tally.ok,
        failed: tally.failed,
        bytes: tally.bytes,
        elapsed_s: elapsed.as_secs_f64(),
        p50_us: tally.latency_us.value_at_quantile(0.50),
        p99_us: tally.latency_us.value_at_quantile(0.99),
        // 0 where the peak is not known (not Linux).
        peak_rss_kib: volley_benches::peak_rss_kib().unwrap_or(0),
        first_error: tally.first_error,
    };
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(())
}
