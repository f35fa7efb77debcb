//! Sequential versus concurrent — the seed's FAQ "How fast is concurrent vs sequential?"
//! (100 sequential 100 ms requests take 10 s; 100 concurrent ones about 150 ms), scaled to
//! 20 requests.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use futures_util::future::try_join_all;
use tokio::time::Instant;
use volley::Client;
use volley_testserver::TestServer;

const REQUESTS: usize = 20;

async fn fetch(client: &Client, url: &str) -> Result<usize, volley::Error> {
    Ok(client.get(url).send().await?.error_for_status()?.bytes().await?.len())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local server whose `/delay/100` takes 100 ms, so the example runs offline.
    let server = TestServer::start().await?;
    let client = Client::new()?;
    let url = server.url("/delay/100");

    let start = Instant::now();
    for _ in 0..REQUESTS {
        fetch(&client, &url).await?;
    }
    println!("Sequential: {REQUESTS} requests in {:.2} seconds", start.elapsed().as_secs_f64());

    let start = Instant::now();
    try_join_all((0..REQUESTS).map(|_| fetch(&client, &url))).await?;
    println!("Concurrent: {REQUESTS} requests in {:.2} seconds", start.elapsed().as_secs_f64());
    Ok(())
}
