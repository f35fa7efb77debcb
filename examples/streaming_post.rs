//! A streaming POST — the seed's FAQ: `session.post(url, data=async_iterator)`.
//!
//! The body is produced chunk by chunk while it is sent (chunked transfer encoding), so
//! an upload need not fit in memory.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use bytes::Bytes;
use serde_json::Value;
use volley::Client;
use volley_testserver::TestServer;

const CHUNKS: usize = 100;
const CHUNK_SIZE: usize = 10 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for an upload endpoint: `/post` reports the bytes it received.
    let server = TestServer::start().await?;
    let client = Client::new()?;

    // The async generator: each chunk is made only when the previous one has been sent.
    let chunks = futures_util::stream::unfold(0, |sent| async move {
        let chunk = Bytes::from(vec![b'x'; CHUNK_SIZE]);
        (sent < CHUNKS).then_some((Ok::<_, std::io::Error>(chunk), sent + 1))
    });

    let result: Value = client
        .post(server.url("/post"))
        .body_stream(chunks)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("Streamed {CHUNKS} chunks of {CHUNK_SIZE} bytes");
    println!("The server received {} bytes", result["bytes"]);
    println!("Transfer-Encoding: {}", result["headers"]["transfer-encoding"]);
    Ok(())
}
