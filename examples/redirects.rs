//! Redirects — aiohttp's `allow_redirects=True`, `response.url` and `response.history`.
//!
//! The client follows redirects by default (at most 10) and the response says where it
//! ended and which hops led there. A 307 resends a POST with its body; a limit that is
//! reached fails with the chain; `Policy::none()` hands the 3xx back; and credentials set
//! for one origin are removed before a redirect takes the request to another.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use serde_json::{Value, json};
use volley::redirect::{Hop, Policy, RedirectError, RedirectErrorKind};
use volley::{Client, Kind};
use volley_testserver::TestServer;

/// `302 /redirect/3`: status and path of each hop, for printing.
fn describe(hops: &[Hop]) -> Vec<String> {
    hops.iter().map(|hop| format!("{} {}", hop.status().as_u16(), hop.url().path())).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `/redirect/n` answers 302 to `/redirect/{n-1}`, and `/redirect/1` to `/get`;
    // `/redirect-to?url=U&status_code=S` answers S with `Location: U`.
    let server = TestServer::start().await?;
    let client = Client::new()?;

    // Followed by default: the response is the last hop's, and remembers the others.
    let response = client.get(server.url("/redirect/3")).send().await?;
    let hops = describe(response.redirects());
    let url = response.url().map(ToString::to_string).unwrap_or_default();
    println!(
        "Followed /redirect/3: status {} from {} after {} redirects",
        response.status().as_u16(),
        response.url().map_or("?", |url| url.path()),
        hops.len()
    );
    for hop in &hops {
        println!("  {hop}");
    }
    assert_eq!(response.status(), 200);
    assert_eq!(url, server.url("/get"));
    assert_eq!(hops, ["302 /redirect/3", "302 /redirect/2", "302 /redirect/1"]);
    assert_eq!(server.total_hits(), 4);

    // A 302 turns a POST into a GET without its body (as browsers and curl -L do); a 307
    // or 308 repeats the method and the body byte for byte. Buffered bodies (`.json`,
    // `.form`, `.body`) are resent for free; a `.body_stream(..)` cannot be, and its 307
    // comes back unfollowed (`Response::redirect_not_followed`).
    let payload = json!({"name": "Alice", "age": 30});
    let after_302: Value = client
        .post(server.url("/redirect-to"))
        .query(&[("url", "/anything"), ("status_code", "302")])
        .json(&payload)
        .send()
        .await?
        .json()
        .await?;
    println!("302 after a POST: {} with {} body bytes", after_302["method"], after_302["bytes"]);
    assert_eq!((&after_302["method"], &after_302["bytes"]), (&json!("GET"), &json!(0)));

    let after_307: Value = client
        .post(server.url("/redirect-to"))
        .query(&[("url", "/post"), ("status_code", "307")])
        .json(&payload)
        .send()
        .await?
        .json()
        .await?;
    println!("307 after a POST: {} with the body {}", after_307["method"], after_307["json"]);
    assert_eq!((&after_307["method"], &after_307["json"]), (&json!("POST"), &payload));
    assert_eq!(server.hits("/post"), 1);

    // A limit: the hop after the second fails the request with an error of kind
    // `Redirect` that carries the chain, the refused hop last.
    let limited = Client::builder().redirect(Policy::limited(2)).build()?;
    let err = match limited.get(server.url("/redirect/3")).send().await {
        Ok(response) => {
            return Err(format!("followed past the limit: {}", response.status()).into());
        }
        Err(err) => err,
    };
    let Some(redirect) = err.find::<RedirectError>() else {
        return Err(err.into());
    };
    println!("Limited to 2: error of kind {}: {redirect}", err.kind());
    println!("  chain: {} (the last one refused)", describe(redirect.chain()).join(", "));
    assert_eq!(err.kind(), Kind::Redirect);
    assert!(matches!(redirect.kind(), RedirectErrorKind::TooManyRedirects { limit: 2 }));
    assert_eq!(redirect.chain().len(), 3);
    assert_eq!(redirect.location().path(), "/get");

    // `Policy::none()`: the 302 itself comes back, for the caller to read `Location`.
    let manual = Client::builder().redirect(Policy::none()).build()?;
    server.reset_counters();
    let response = manual.get(server.url("/redirect/3")).send().await?;
    let location = response.headers().get("location").and_then(|v| v.to_str().ok());
    println!(
        "Policy::none(): status {} with Location {} ({} request sent)",
        response.status().as_u16(),
        location.unwrap_or("-"),
        server.total_hits()
    );
    assert_eq!((response.status().as_u16(), location), (302, Some("/redirect/2")));
    assert_eq!(server.total_hits(), 1);

    // Credentials stay with their origin (scheme, host and port): a second server on
    // another port is another origin. On the way there `Authorization`, `Cookie` and the
    // other sensitive headers (`ClientBuilder::sensitive_header` adds yours) are removed.
    let other = TestServer::start().await?;
    let mut sent = Vec::new();
    for (name, target) in [("same", server.url("/headers")), ("other", other.url("/headers"))] {
        let echoed: Value = client
            .get(server.url("/redirect-to"))
            .query(&[("url", target.as_str())])
            .bearer_auth("s3cret-token")
            .send()
            .await?
            .json()
            .await?;
        let authorization = echoed["headers"].get("authorization").cloned();
        println!(
            "Redirected to the {name} origin: authorization {}",
            authorization.as_ref().map_or("not sent".to_owned(), Value::to_string)
        );
        sent.push(authorization);
    }
    assert_eq!(sent, [Some(json!("Bearer s3cret-token")), None]);
    // What reached the second server, as it recorded it.
    let seen = other.last_request("/headers").map(|seen| seen.header("authorization").is_some());
    assert_eq!(seen, Some(false));

    // Two more rules the test server (plain http, on loopback) cannot show:
    // - a redirect from https to http fails with an error of kind `Redirect` unless
    //   `ClientBuilder::allow_https_to_http(true)`, and credentials are removed even then;
    // - `ClientBuilder::block_private_redirects(true)` refuses a redirect from a public
    //   host to loopback, private or link-local addresses (169.254.169.254, the cloud
    //   metadata service): turn it on in a server that fetches URLs its users give it.
    Ok(())
}
