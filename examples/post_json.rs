//! A POST request with a JSON body — the seed's `post_request_example.py`.
//!
//! `.json(..)` serialises the body and sets `Content-Type: application/json`; `.form(..)`
//! and `.multipart(..)` are the other bodies (see `post_form_json_multipart.rs`).

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use serde_json::{Value, json};
use volley::Client;
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for httpbin.org, so the example runs offline.
    let server = TestServer::start().await?;
    let client = Client::new()?;

    let payload = json!({"name": "Alice", "age": 30});
    let response = client.post(server.url("/post")).json(&payload).send().await?;
    println!("Status: {}", response.status().as_u16());
    let result: Value = response.json().await?;
    // The server echoes the JSON it parsed from the request body.
    println!("Sent data: {}", result["json"]);
    Ok(())
}
