//! [`TestServer`]: the listener, the accept loop and shutdown on drop.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::counters::Counters;
use crate::listener::{SharedListener, poll_accept};
use crate::record::SeenRequest;
use crate::routes::{self, Endpoint};

/// An httpbin-like HTTP server on a loopback port, running on the current
/// Tokio runtime until dropped (or until that runtime shuts down).
///
/// Every connection speaks HTTP/1.1 or HTTP/2 with prior knowledge (h2c),
/// detected from its first bytes. The counters see each request when its head
/// arrives, before any delay or body, so they count attempts that reached the
/// server. See the [crate docs](crate) for the endpoints.
///
/// Dropping the server closes the listening socket at once (a new connection
/// is refused from then on) and aborts the accept task, which aborts every
/// connection task; open connections close as soon as the runtime gets to
/// those tasks.
pub struct TestServer {
    addr: SocketAddr,
    counters: Arc<Counters>,
    listener: SharedListener,
    accept: JoinHandle<()>,
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0` (a free port chosen by the OS).
    ///
    /// # Panics
    ///
    /// If called outside a Tokio runtime.
    pub async fn start() -> io::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on `addr`.
    ///
    /// # Panics
    ///
    /// If called outside a Tokio runtime.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let listener = Arc::new(Mutex::new(Some(listener)));
        let counters = Arc::new(Counters::default());
        let accept = tokio::spawn(accept_loop(Arc::clone(&listener), Arc::clone(&counters)));
        Ok(Self { addr, counters, listener, accept })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An absolute URL on this server: `url("/get")` is
    /// `"http://127.0.0.1:PORT/get"`. A missing leading `/` is added.
    pub fn url(&self, path_and_query: &str) -> String {
        let slash = if path_and_query.starts_with('/') { "" } else { "/" };
        format!("http://{}{slash}{path_and_query}", self.addr)
    }

    /// A URL on this server that answers `status` (300–399) with `Location: target`
    /// (`/redirect-to`), `target` percent-encoded into the query: `redirect_to("/get", 307)`.
    pub fn redirect_to(&self, target: &str, status: u16) -> String {
        let encoded: String = target
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.url(&format!("/redirect-to?url={encoded}&status_code={status}"))
    }

    /// Requests that reached exactly `path` (as sent, before percent-decoding;
    /// a query in `path` is ignored), e.g. `"/flaky/2"`.
    pub fn hits(&self, path: &str) -> u64 {
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        self.counters.path(path)
    }

    /// Requests being handled right now: from the arrival of the head until the handler
    /// has produced the response head (for `/delay`, that includes the delay).
    pub fn in_flight(&self) -> u64 {
        self.counters.in_flight()
    }

    /// The most requests handled at once since the start (or the last
    /// [`reset_counters`](Self::reset_counters)): what a client's concurrency limit
    /// looked like from the server.
    pub fn max_in_flight(&self) -> u64 {
        self.counters.max_in_flight()
    }

    /// The non-empty request bodies that reached `/flaky` at exactly `path`, in arrival
    /// order, so retry tests can check that a body was sent again byte for byte.
    pub fn flaky_bodies(&self, path: &str) -> Vec<bytes::Bytes> {
        self.counters.flaky_bodies(path)
    }

    /// Requests served by the endpoint called `endpoint`: `"get"`,
    /// `"anything"`, `"post"` (also counts `/put`, `/patch`, `/delete`),
    /// `"headers"`, `"basic-auth"`, `"bearer"`, `"status"`, `"delay"`,
    /// `"bytes"`, `"stream"`, `"drip"`, `"retry-after"`, `"flaky"`, `"reset"`,
    /// `"redirect"`, `"relative-redirect"`, `"absolute-redirect"`, `"redirect-to"`,
    /// `"ratelimit"`, `"json"`, `"gzip"`, `"deflate"`, `"brotli"`, `"zstd"`, `"bomb"`,
    /// `"cookies"`, `"cookies-set"` (both forms), `"cookies-delete"`,
    /// `"cookies-set-with"`, `"response-headers"` or `"not-found"`. Any other name
    /// gives 0.
    pub fn endpoint_hits(&self, endpoint: &str) -> u64 {
        Endpoint::from_name(endpoint).map_or(0, |e| self.counters.endpoint(e))
    }

    /// All requests that reached the server.
    pub fn total_hits(&self) -> u64 {
        self.counters.total()
    }

    /// The 429 responses `/ratelimit` gave because its quota was exceeded.
    pub fn throttled(&self) -> u64 {
        self.counters.throttled()
    }

    /// TCP connections accepted so far (compare with the request count to see
    /// whether a client reuses its connections).
    pub fn connections(&self) -> u64 {
        self.counters.connections()
    }

    /// Every request head the server has kept, oldest first: the last 10 000 by
    /// default (see [`set_record_limit`](Self::set_record_limit)), each recorded when
    /// its head arrives, so tests can check which headers a client sent on each hop.
    ///
    /// ```
    /// # use volley_testserver::TestServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use http_body_util::Empty;
    /// # use hyper_util::{client::legacy::Client, rt::TokioExecutor};
    /// let server = TestServer::start().await?;
    /// let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    /// let request = http::Request::get(server.url("/get?x=1"))
    ///     .header("x-trace", "abc")
    ///     .body(Empty::new())?;
    /// client.request(request).await?;
    ///
    /// let seen = server.requests();
    /// assert_eq!(seen.len(), 1);
    /// assert_eq!(seen[0].path_and_query, "/get?x=1");
    /// assert_eq!(seen[0].header("x-trace"), Some("abc"));
    /// assert_eq!(server.last_request("/get").map(|r| r.method), Some(http::Method::GET));
    /// # Ok(())
    /// # }
    /// ```
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.counters.seen.matching(|_| true)
    }

    /// The kept requests to exactly `path` (as sent; a query in `path` is ignored),
    /// oldest first.
    pub fn requests_to(&self, path: &str) -> Vec<SeenRequest> {
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        self.counters.seen.matching(|seen| seen.path() == path)
    }

    /// The newest kept request to exactly `path` (as sent; a query in `path` is
    /// ignored).
    pub fn last_request(&self, path: &str) -> Option<SeenRequest> {
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        self.counters.seen.last(|seen| seen.path() == path)
    }

    /// Keeps at most the `limit` newest requests for [`requests`](Self::requests),
    /// dropping older ones now and as new ones arrive; 0 stops recording, which makes
    /// the hot path one atomic load cheaper than a copy of each head (for benchmarks).
    /// Defaults to 10 000.
    pub fn set_record_limit(&self, limit: usize) {
        self.counters.seen.set_limit(limit);
    }

    /// Zeroes every counter (hits, throttled, connections), empties the request
    /// record and forgets the per-key state of `/flaky`, `/retry-after` and
    /// `/ratelimit`, so the server behaves as if just started. Open connections stay
    /// open.
    pub fn reset_counters(&self) {
        self.counters.reset();
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("total_hits", &self.total_hits())
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Close the socket now rather than when the runtime next polls the
        // aborted task, so a connect made right after the drop is refused.
        crate::listener::close(&self.listener);
        self.accept.abort();
    }
}

/// Accepts connections and serves each on a task of its own. The tasks live
/// in a `JoinSet` owned here, so aborting this task aborts them all.
async fn accept_loop(listener: SharedListener, counters: Arc<Counters>) {
    // No timer is set, so hyper applies no header-read timeout: a client may
    // idle on a connection for as long as it likes, and paused-clock tests
    // see no server timers but their own.
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = poll_fn(|cx| poll_accept(&listener, cx)) => match accepted {
                Some(Ok((stream, _peer))) => {
                    counters.connection();
                    // Small responses must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let builder = Arc::clone(&builder);
                    let counters = Arc::clone(&counters);
                    connections.spawn(async move {
                        let service = service_fn(move |req| routes::handle(Arc::clone(&counters), req));
                        // A connection error (client gone, bad bytes) ends only that connection.
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Some(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
                None => return,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
