//! Streaming a large response to a file — the seed's `iter_chunked(8192)` snippet.
//!
//! Each chunk is written as it arrives, so memory stays at one chunk whatever the size of
//! the download.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use tokio::fs::File;
use tokio::io::AsyncWriteExt;
use volley::Client;
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local server standing in for a large file's URL, so the example runs offline.
    let server = TestServer::start().await?;
    let client = Client::new()?;
    let path = std::env::temp_dir().join(format!("volley-download-{}.bin", std::process::id()));

    let mut response = client.get(server.url("/bytes/5000000")).send().await?.error_for_status()?;
    let mut file = File::create(&path).await?;
    let (mut written, mut chunks, mut largest) = (0, 0, 0);
    while let Some(chunk) = response.chunk().await? {
        file.write_all(&chunk).await?;
        written += chunk.len();
        chunks += 1;
        largest = largest.max(chunk.len());
    }
    file.flush().await?;

    println!("Wrote {written} bytes to {} in {chunks} chunks", path.display());
    println!("Largest chunk held in memory: {largest} bytes");
    println!("Size on disk: {} bytes", tokio::fs::metadata(&path).await?.len());
    tokio::fs::remove_file(&path).await?;
    Ok(())
}
