//! The asyncio + aiohttp pattern — `gather(*tasks, return_exceptions=True)` with
//! `raise_for_status()`.
//!
//! [`Fanout::ordered`] returns every result in the order of the inputs, errors included,
//! so one failure does not cancel the rest.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use volley::join::Fanout;
use volley::{Client, Response};
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local server in place of example.com, python.org and github.com, so the example
    // runs offline; the second URL answers 404.
    let server = TestServer::start().await?;
    let client = Client::builder().timeout(Some(Duration::from_secs(10))).build()?;

    let urls = [server.url("/get"), server.url("/status/404"), server.url("/bytes/2048")];
    let builder = client.clone();
    let requests = urls.clone().into_iter().map(move |url| builder.get(url));
    let results = Fanout::new(client, urls.len())?
        .ordered(requests, |res: Response| async move { res.error_for_status()?.bytes().await })
        .await;

    for (url, result) in urls.iter().zip(results) {
        match result {
            Ok(body) => println!("{url} got {} bytes", body.len()),
            Err(err) => println!("{url} FAILED: {err}"),
        }
    }
    Ok(())
}
