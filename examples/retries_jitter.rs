//! Retries with exponential backoff and full jitter — the seed's tenacity snippet
//! (`stop_after_attempt(5)`, `wait_random_exponential(multiplier=1, max=30)`).
//!
//! Retrying is part of the client: failed attempts that are safe to repeat (GET here;
//! connection errors, 5xx, 429) are retried after a random delay between 0 and
//! `base · 2ⁿ` (capped), and a `Retry-After` from the server is honoured
//! (see `retry_after_429.rs`).

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use volley::{Backoff, Client, RetryPolicy};
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `/flaky/N` answers 503 to its first N requests, then 200.
    let server = TestServer::start().await?;
    // 5 attempts in all; the base is 100 ms rather than the seed's 1 s to keep the example
    // quick.
    let policy = RetryPolicy::new()
        .max_retries(4)
        .backoff(Backoff::full_jitter(Duration::from_millis(100), Duration::from_secs(30)));
    let client = Client::builder().retry_policy(policy).build()?;

    let response = client.get(server.url("/flaky/2")).send().await?.error_for_status()?;
    let attempts = response.attempts();
    let body = response.text().await?;
    println!("Succeeded after {attempts} attempts ({} bytes)", body.len());
    println!("The server saw {} requests", server.hits("/flaky/2"));

    // When every attempt fails, the last answer comes back, as raise_for_status() would
    // raise after the last try.
    let response = client.get(server.url("/flaky/10")).send().await?;
    let attempts = response.attempts();
    match response.error_for_status() {
        Ok(_) => println!("Unexpected success"),
        Err(err) => println!("Gave up after {attempts} attempts: {err}"),
    }
    Ok(())
}
