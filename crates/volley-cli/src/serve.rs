//! `volley serve`: the test server on 127.0.0.1, for trying the client by hand.

use std::net::SocketAddr;

use volley_testserver::TestServer;

use crate::args::ServeArgs;
use crate::{Exit, Fatal};

/// Endpoints worth trying first, with what they do.
const ENDPOINTS: [(&str, &str); 9] = [
    ("/get", "echo the request as JSON"),
    ("/bytes/1024", "1024 bytes"),
    ("/delay/500", "answer after 500 ms"),
    ("/status/503", "any status"),
    ("/flaky/2?key=a", "503 twice per key, then 200"),
    ("/retry-after/1?times=1&key=b", "429 with Retry-After: 1 once per key, then 200"),
    ("/ratelimit?limit=5&window_ms=1000", "a server-side quota: 429 past 5 a second"),
    ("/drip?numbytes=10&duration_ms=2000", "a slow body"),
    ("/reset", "a connection closed mid-body"),
];

/// Serves until Ctrl-C.
// The server's address and endpoints are this command's output.
#[allow(clippy::print_stdout)]
pub(crate) async fn serve(args: ServeArgs) -> Result<Exit, Fatal> {
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let server = TestServer::bind(addr)
        .await
        .map_err(|err| Fatal(format!("cannot listen on {addr}: {err}")))?;
    let base = format!("http://{}", server.addr());
    println!("listening on {base} (Ctrl-C stops)");
    for (path, what) in ENDPOINTS {
        println!("  {base}{path:<40} {what}");
    }
    tokio::signal::ctrl_c().await.map_err(|err| Fatal(format!("cannot wait for Ctrl-C: {err}")))?;
    println!("served {} requests", server.total_hits());
    Ok(Exit::Ok)
}
