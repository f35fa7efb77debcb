//! A concurrency limit — the seed's semaphore snippet: 10,000 URLs, at most 20 in flight.
//!
//! [`Fanout`] is `gather` and the semaphore in one: it starts a request only when one of
//! its 20 slots is free, takes the inputs lazily, and keeps every result in order. Each
//! response's body is read inside its slot.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use tokio::time::Instant;
use volley::join::Fanout;
use volley::{Client, Response};
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local server standing in for 10,000 pages, so the example runs offline.
    let server = TestServer::start().await?;
    let client = Client::new()?;
    let concurrency = 20;

    let urls: Vec<String> =
        (0..10_000).map(|page| server.url(&format!("/delay/1?page={page}"))).collect();
    // Request builders are taken lazily, one as each slot frees.
    let builder = client.clone();
    let requests =
        urls.into_iter().map(move |url| builder.get(url).timeout(Duration::from_secs(10)));

    let start = Instant::now();
    let results = Fanout::new(client, concurrency)?
        .on_progress(|progress| {
            if progress.done % 2_500 == 0 {
                println!("  {} done", progress.done);
            }
        })
        .ordered(requests, |res: Response| async move { res.text().await })
        .await;

    let ok = results.iter().filter(|result| result.is_ok()).count();
    println!(
        "Fetched {ok} of {} URLs in {:.2} seconds",
        results.len(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "Most requests in flight at the server: {} (limit {concurrency})",
        server.max_in_flight()
    );
    println!("Connections opened: {}", server.connections());
    Ok(())
}
