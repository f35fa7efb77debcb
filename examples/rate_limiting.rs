//! Rate limiting — the seed's `rate_limiting.py`.
//!
//! The seed hand-writes a limiter of 2 requests per second; here it is a setting of the
//! client, shared by every request (and every clone of the client) to the same host. With
//! a burst of 1 the requests are spaced evenly: one every 500 ms.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use futures_util::future::try_join_all;
use serde_json::Value;
use tokio::time::Instant;
use volley::Client;
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for httpbin.org, so the example runs offline.
    let server = TestServer::start().await?;
    // At most 2 requests per second per host, no bursts.
    let client = Client::builder().rate_limit(2, Duration::from_secs(1), 1).build()?;

    let start = Instant::now();
    let fetches = (1..=4).map(|id| {
        let (client, url) = (&client, server.url(&format!("/get?id={id}")));
        async move {
            let data: Value = client.get(url).send().await?.error_for_status()?.json().await?;
            println!("  id={id} fetched at {:.2}s", start.elapsed().as_secs_f64());
            Ok::<_, volley::Error>(data)
        }
    });
    let results = try_join_all(fetches).await?;
    println!("Fetched {} responses in {:.2} seconds", results.len(), start.elapsed().as_secs_f64());
    Ok(())
}
