//! Headers and authentication — the seed's `headers_auth.py`, plus the Basic auth it
//! mentions.
//!
//! Headers for every request are set once on the client (like the session's default
//! headers); headers for one request are set on the request.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use futures_util::future::try_join_all;
use http::header::ACCEPT;
use serde_json::Value;
use volley::Client;
use volley_testserver::TestServer;

async fn fetch_with_auth(client: &Client, url: &str, token: &str) -> Result<Value, volley::Error> {
    let response =
        client.get(url).bearer_auth(token).header(ACCEPT, "application/json").send().await?;
    response.error_for_status()?.json().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for the seed's API, so the example runs offline.
    let server = TestServer::start().await?;
    let client = Client::builder().user_agent("MyApp/1.0").build()?;
    let token = "your_api_token_here";

    // `/bearer` checks the token; `/headers` shows every header the server received.
    let urls = [server.url("/bearer"), server.url("/headers")];
    let results = try_join_all(urls.iter().map(|url| fetch_with_auth(&client, url, token))).await?;
    println!("Fetched {} authenticated responses", results.len());
    println!(
        "  /bearer: authenticated={} token={}",
        results[0]["authenticated"], results[0]["token"]
    );
    let seen = &results[1]["headers"];
    println!("  /headers: user-agent={} accept={}", seen["user-agent"], seen["accept"]);

    // Basic authentication: aiohttp.BasicAuth('user', 'passwd').
    let url = server.url("/basic-auth/user/passwd");
    let ok = client.get(&url).basic_auth("user", Some("passwd")).send().await?;
    println!("Basic auth with the right password: {}", ok.status().as_u16());
    let refused = client.get(&url).basic_auth("user", Some("wrong")).send().await?;
    println!("Basic auth with a wrong password: {}", refused.status().as_u16());
    Ok(())
}
