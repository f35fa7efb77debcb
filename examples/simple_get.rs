//! A simple GET request — the seed's `simple_get_request.py`.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use serde_json::Value;
use volley::Client;
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for httpbin.org, so the example runs offline.
    let server = TestServer::start().await?;
    // Like a ClientSession: one connection pool, reused by every request made with it.
    let client = Client::new()?;

    let response = client.get(server.url("/get")).send().await?;
    println!("Status: {}", response.status().as_u16());
    println!("Headers: {:?}", response.headers());
    let data: Value = response.json().await?;
    println!("Data: {data}");
    Ok(())
}
