//! Error handling and timeouts — the seed's `error_handling.py`.
//!
//! One request succeeds, one gets a 500, one outlasts its timeout. Every outcome is a
//! value: a status to look at, or an [`volley::Error`] whose kind says what went wrong.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::Value;
use volley::Client;
use volley_testserver::TestServer;

async fn fetch_with_error_handling(client: &Client, url: &str) -> Option<Value> {
    let result = async {
        // Like ClientTimeout(total=...): the whole request, body included.
        let response = client.get(url).timeout(Duration::from_secs(1)).send().await?;
        if response.status() != 200 {
            println!("Error: {} for {url}", response.status().as_u16());
            return Ok(None);
        }
        response.json().await.map(Some)
    }
    .await;
    match result {
        Ok(data) => data,
        Err(err) if err.is_timeout() => {
            println!("Timeout fetching {url}");
            None
        }
        Err(err) => {
            println!("Request failed for {url} ({}): {err}", err.kind());
            None
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for httpbin.org, so the example runs offline.
    let server = TestServer::start().await?;
    // aiohttp does not retry, so turn volley's retries off to show each failure as it
    // comes (with them on, the 500 would be retried first: see retries_jitter.rs).
    let client = Client::builder().retries(0).build()?;

    let urls = [
        server.url("/delay/100"),
        server.url("/status/500"),
        server.url("/delay/5000"), // will time out
    ];
    let results = join_all(urls.iter().map(|url| fetch_with_error_handling(&client, url))).await;
    let successful = results.iter().flatten().count();
    println!("Successfully fetched {successful} out of {} responses", urls.len());
    Ok(())
}
