//! Fetching 5 URLs concurrently — the seed's `concurrent_fetch_example.py`.
//!
//! Five requests to an endpoint that takes 2 s each, all in flight at once through
//! [`Fanout`]: about 2 s in all, not 10.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use serde_json::Value;
use tokio::time::Instant;
use volley::join::Fanout;
use volley::{Client, Response};
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for httpbin.org, so the example runs offline.
    let server = TestServer::start().await?;
    let client = Client::new()?;

    let urls = vec![server.url("/delay/2000"); 5];
    let builder = client.clone();
    let requests = urls.clone().into_iter().map(move |url| builder.get(url));

    let start = Instant::now();
    let results = Fanout::new(client, urls.len())?
        .ordered(requests, |res: Response| async move { res.json::<Value>().await })
        .await;
    let responses = results.into_iter().collect::<Result<Vec<_>, _>>()?;

    println!("Fetched {} responses", responses.len());
    println!("Elapsed: {:.2} seconds", start.elapsed().as_secs_f64());
    Ok(())
}
