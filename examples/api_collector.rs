//! A concurrent API data collector — the seed's `api_data_collector.py`, with two failing
//! endpoints added to the list.
//!
//! Rate limiting, timeouts and error classification are settings of the client; the
//! collector only sorts each outcome into success, error or timeout.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::fmt;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::Value;
use tokio::time::Instant;
use volley::Client;
use volley_testserver::TestServer;

/// What became of one URL.
enum Outcome {
    Success(Value),
    Error(String),
    Timeout,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success(_) => f.write_str("success"),
            Outcome::Error(why) => write!(f, "error ({why})"),
            Outcome::Timeout => f.write_str("timeout"),
        }
    }
}

struct ApiCollector {
    client: Client,
}

impl ApiCollector {
    fn new(requests_per_second: u32, timeout: Duration) -> Result<Self, volley::Error> {
        let client = Client::builder()
            .rate_limit(requests_per_second, Duration::from_secs(1), 1)
            // The seed's timeout starts once the rate limiter lets a request go: that is
            // the attempt timeout. (The total timeout counts the wait for a slot too.)
            .attempt_timeout(Some(timeout))
            // The seed makes one attempt per URL; volley would retry timeouts and 5xx.
            .retries(0)
            .build()?;
        Ok(Self { client })
    }

    async fn fetch(&self, url: &str) -> Outcome {
        let response = match self.client.get(url).send().await {
            Ok(response) => response,
            Err(err) if err.is_timeout() => return Outcome::Timeout,
            Err(err) => return Outcome::Error(err.to_string()),
        };
        if response.status() != 200 {
            return Outcome::Error(response.status().as_u16().to_string());
        }
        match response.json().await {
            Ok(data) => Outcome::Success(data),
            Err(err) if err.is_timeout() => Outcome::Timeout,
            Err(err) => Outcome::Error(err.to_string()),
        }
    }

    async fn collect(&self, urls: &[String]) -> Vec<Outcome> {
        join_all(urls.iter().map(|url| self.fetch(url))).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for jsonplaceholder.typicode.com, so the example runs offline.
    let server = TestServer::start().await?;
    let collector = ApiCollector::new(3, Duration::from_secs(1))?;

    let urls: Vec<String> = [
        "/anything/posts/1",
        "/delay/10000", // outlasts the timeout
        "/anything/posts/2",
        "/status/404", // not found
        "/anything/posts/3",
        "/anything/users/1",
        "/anything/comments/1",
    ]
    .iter()
    .map(|path| server.url(path))
    .collect();

    let start = Instant::now();
    let results = collector.collect(&urls).await;
    let elapsed = start.elapsed();

    let collected: Vec<&Value> = results
        .iter()
        .filter_map(|r| if let Outcome::Success(data) = r { Some(data) } else { None })
        .collect();
    println!(
        "Collected {}/{} responses in {:.2}s",
        collected.len(),
        urls.len(),
        elapsed.as_secs_f64()
    );
    for (url, result) in urls.iter().zip(&results) {
        println!("  {}: {result}", url.rsplit('/').next().unwrap_or(url));
    }
    Ok(())
}
