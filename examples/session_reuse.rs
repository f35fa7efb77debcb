//! Session management — the seed's `session_management.py`.
//!
//! Create one [`Client`] and reuse it: its pool keeps connections open between requests,
//! so later requests skip the TCP handshake. The server counts the connections it
//! accepted, which shows the reuse.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use futures_util::future::try_join_all;
use serde_json::Value;
use volley::Client;
use volley_testserver::TestServer;

async fn fetch_with_client(client: &Client, url: &str) -> Result<Value, volley::Error> {
    client.get(url).send().await?.error_for_status()?.json().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for httpbin.org, so the example runs offline.
    let server = TestServer::start().await?;
    // Create the client once (cloning it is cheap and shares the pool).
    let client = Client::new()?;

    // One after another: the pool hands the same connection back for each request. (Now
    // and then a request starts a moment before the previous one's connection is back in
    // the pool, and a second connection is opened.)
    for id in 1..=10 {
        fetch_with_client(&client, &server.url(&format!("/get?id={id}"))).await?;
    }
    println!(
        "One after another: {} requests over {} connection(s)",
        server.total_hits(),
        server.connections()
    );

    // At once, as in the seed: the pool opens more connections only when all are busy.
    let urls: Vec<String> = (1..=3).map(|id| server.url(&format!("/get?id={id}"))).collect();
    let results = try_join_all(urls.iter().map(|url| fetch_with_client(&client, url))).await?;
    println!("Successfully fetched {} responses", results.len());
    println!(
        "In all: {} requests over {} connection(s)",
        server.total_hits(),
        server.connections()
    );
    Ok(())
}
