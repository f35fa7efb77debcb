//! Per-host connection limits — the seed's `TCPConnector(limit=100, limit_per_host=30)`.
//!
//! Two hosts (two local servers on different ports), 10 slow requests each, all started
//! at once: the client lets at most 2 run per host, whatever the caller starts.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use tokio::time::Instant;
use volley::join::Fanout;
use volley::{Client, Response};
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (host_a, host_b) = (TestServer::start().await?, TestServer::start().await?);
    // At most 100 requests in flight in all and 2 per host (scheme, host and port).
    let client = Client::builder().concurrency(Some(100)).per_host(2).build()?;

    let urls: Vec<String> =
        (0..10).flat_map(|_| [host_a.url("/delay/100"), host_b.url("/delay/100")]).collect();
    let builder = client.clone();
    let requests = urls.clone().into_iter().map(move |url| builder.get(url));

    let start = Instant::now();
    // Start all 20 at once: the per-host limit, not the fan-out, does the pacing.
    let results = Fanout::new(client, urls.len())?
        .ordered(requests, |res: Response| async move { res.bytes().await })
        .await;
    let ok = results.iter().filter(|result| result.is_ok()).count();

    println!("Fetched {ok} responses from 2 hosts in {:.2} seconds", start.elapsed().as_secs_f64());
    println!("Most in flight at host A: {}", host_a.max_in_flight());
    println!("Most in flight at host B: {}", host_b.max_in_flight());
    Ok(())
}
