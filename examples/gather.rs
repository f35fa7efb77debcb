//! Concurrent requests with `asyncio.gather()` — the seed's `concurrent_requests.py`.
//!
//! For a handful of requests, joining their futures is all it takes: they run at once and
//! the results come back in the order of the URLs. For thousands, bound the concurrency
//! with `volley::join::Fanout` (see `semaphore_10k.rs`).

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use futures_util::future::try_join_all;
use serde_json::Value;
use tokio::time::Instant;
use volley::Client;
use volley_testserver::TestServer;

async fn fetch(client: &Client, url: &str) -> Result<Value, volley::Error> {
    client.get(url).send().await?.error_for_status()?.json().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for jsonplaceholder.typicode.com, so the example runs offline.
    let server = TestServer::start().await?;
    let client = Client::new()?;
    let urls: Vec<String> =
        (1..=3).map(|id| server.url(&format!("/anything/posts/{id}"))).collect();

    let start = Instant::now();
    // Like gather(): the first error would be returned (see gather_errors.rs to keep them all).
    let posts = try_join_all(urls.iter().map(|url| fetch(&client, url))).await?;
    let elapsed = start.elapsed();

    println!("Fetched {} posts in {:.2} seconds", posts.len(), elapsed.as_secs_f64());
    for post in &posts {
        println!("  {}", post["url"].as_str().unwrap_or_default());
    }
    Ok(())
}
