//! Compressed responses — decoded transparently, as aiohttp's `auto_decompress=True`.
//!
//! The client asks for gzip, deflate, br and zstd (`Accept-Encoding`) and decodes the
//! answer; `Content-Encoding` and `Content-Length` are removed from a decoded response,
//! since they describe bytes the caller never sees. `decompress(false)` hands the bytes
//! over as they came. The response-body limit counts decoded bytes, so a small
//! compressed body that expands to 100 MB (a decompression bomb) stops at the limit.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use serde_json::Value;
use volley::{BodyTooLarge, Client, Kind};
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `/gzip`, `/deflate`, `/brotli` and `/zstd` answer the `/get` document, compressed,
    // with a flag naming the encoding; `/bomb/gzip?size=N` is N zeros, gzipped.
    let server = TestServer::start().await?;
    let client = Client::new()?;

    for (path, flag) in
        [("/gzip", "gzipped"), ("/brotli", "brotli"), ("/zstd", "zstd"), ("/deflate", "deflated")]
    {
        let response = client.get(server.url(path)).send().await?.error_for_status()?;
        let encoding = response.headers().get("content-encoding").cloned();
        let doc: Value = response.json().await?;
        let asked = doc["headers"]["accept-encoding"].as_str().unwrap_or("none").to_owned();
        println!(
            "{path}: decoded JSON with {flag}={}, Content-Encoding {}, asked for {asked:?}",
            doc[flag],
            encoding.as_ref().map_or("removed", |_| "kept")
        );
        assert_eq!((&doc[flag], encoding), (&Value::Bool(true), None));
    }

    // The raw bytes, for storing or forwarding them as they are: ask for one encoding
    // yourself, since the client no longer asks for any.
    let raw = Client::builder().decompress(false).build()?;
    let response = raw.get(server.url("/gzip")).header("accept-encoding", "gzip").send().await?;
    let encoding = response.headers().get("content-encoding").cloned();
    let bytes = response.bytes().await?;
    println!(
        "decompress(false): Content-Encoding {}, {} bytes starting {:02x} {:02x} (the gzip magic)",
        encoding.as_ref().and_then(|value| value.to_str().ok()).unwrap_or("none"),
        bytes.len(),
        bytes.first().copied().unwrap_or_default(),
        bytes.get(1).copied().unwrap_or_default()
    );
    assert_eq!(encoding.as_ref().map(|value| value.as_bytes()), Some(&b"gzip"[..]));
    assert!(bytes.starts_with(&[0x1f, 0x8b]));

    // A decompression bomb: 100 MB of zeros sent as a gzip body of about 100 KB.
    let bomb = server.url("/bomb/gzip?size=100000000");
    let on_the_wire =
        raw.get(&bomb).header("accept-encoding", "gzip").send().await?.bytes().await?;
    println!("The bomb: 100000000 bytes sent as {} gzip bytes", on_the_wire.len());

    // The limit (64 MiB by default) counts decoded bytes: reading stops at the first
    // chunk past it, whatever `Content-Length` promised.
    let limited = Client::builder().max_response_body(Some(1 << 20)).build()?;
    let response = limited.get(&bomb).send().await?;
    let err = match response.bytes().await {
        Ok(body) => return Err(format!("read {} bytes past a 1 MiB limit", body.len()).into()),
        Err(err) => err,
    };
    let limit = err.find::<BodyTooLarge>().map(BodyTooLarge::limit);
    println!("max_response_body(1 MiB): error of kind {}: {err}", err.kind());
    assert_eq!((err.kind(), limit), (Kind::BodyTooLarge, Some(1 << 20)));
    Ok(())
}
