//! `volley serve`: the test server on 127.0.0.1, for trying the client by hand.

use std::net::SocketAddr;

use volley_testserver::TestServer;

use crate::args::ServeArgs;
use crate::{Exit, Fatal, console};

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

/// Serves until Ctrl-C, or until stdout's reader goes away (`volley serve | head -1`),
/// then exits 0.
pub(crate) async fn serve(args: ServeArgs) -> Result<Exit, Fatal> {
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let server = TestServer::bind(addr)
        .await
        .map_err(|err| Fatal::Usage(format!("cannot listen on {addr}: {err}")))?;
    let base = format!("http://{}", server.addr());
    let mut banner = format!("listening on {base} (Ctrl-C stops)\n");
    for (path, what) in ENDPOINTS {
        banner.push_str(&format!("  {base}{path:<40} {what}\n"));
    }
    console::print(&banner).map_err(|err| Fatal::writing(&err, Exit::Ok))?;
    tokio::select! {
        stopped = tokio::signal::ctrl_c() => {
            stopped.map_err(|err| Fatal::Usage(format!("cannot wait for Ctrl-C: {err}")))?;
        }
        () = console::stdout_closed() => return Ok(Exit::Ok),
    }
    let served = format!("served {} requests\n", server.total_hits());
    console::print(&served).map_err(|err| Fatal::writing(&err, Exit::Ok))?;
    Ok(Exit::Ok)
}
