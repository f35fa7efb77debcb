//! Honouring `Retry-After` on a 429 — the seed's FAQ "How do I handle rate limits?".
//!
//! A short wait asked by the server is waited out and the request retried; a wait longer
//! than the policy's `max_retry_after` (60 s by default) is not slept through: the 429
//! comes back at once, with the server's hint, for the caller to decide.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use tokio::time::Instant;
use volley::Client;
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `/retry-after/S?times=K` answers 429 with `Retry-After: S` to its first K requests.
    let server = TestServer::start().await?;
    let client = Client::new()?;

    let start = Instant::now();
    let response =
        client.get(server.url("/retry-after/1?times=1")).send().await?.error_for_status()?;
    println!(
        "Retry-After: 1 -> status {} after {} attempts in {:.2} seconds",
        response.status().as_u16(),
        response.attempts(),
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let response = client.get(server.url("/retry-after/3600")).send().await?;
    let attempts = response.attempts();
    match response.error_for_status() {
        Ok(_) => println!("Unexpected success"),
        Err(err) => {
            let wait = err.retry_after().map_or(0, |wait| wait.as_secs());
            let status = err.status().map_or(0, |status| status.as_u16());
            println!(
                "Retry-After: 3600 -> status {status} after {attempts} attempt(s) in {:.2} seconds; \
                 the server asks to wait {wait} s (throttled: {})",
                start.elapsed().as_secs_f64(),
                err.is_throttled()
            );
        }
    }
    Ok(())
}
