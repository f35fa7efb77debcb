//! [`TlsServer`]: the httpbin-like endpoints over TLS, with a certificate from a
//! [`TestCa`], optional client authentication and handshake counters.

mod ca;
mod config;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::LazyConfigAcceptor;

pub use ca::TestCa;
pub use config::TlsServerConfig;

use crate::counters::{Counters, lock};
use crate::listener::{SharedListener, poll_accept};
use crate::record::SeenRequest;
use crate::routes;

/// The [`TestServer`](crate::TestServer)'s endpoints over TLS on a loopback port,
/// for testing a client's TLS settings: custom roots, client certificates, protocol
/// versions, SNI and name resolution.
///
/// The certificate is signed by the configuration's [`TestCa`] for the configured
/// names (by default `localhost`, `127.0.0.1` and `example.test`). ALPN offers `h2`
/// and `http/1.1` by default; either way a connection speaks what its first bytes
/// say. Counters: [`accepted`](Self::accepted) TCP connections,
/// [`handshakes`](Self::handshakes) completed, [`handshake_failures`](Self::handshake_failures),
/// the [`sni_seen`](Self::sni_seen) names, and the request counters of the endpoints.
/// A handshake is counted before the server closes a connection it failed on, and
/// [`wait_handshakes`](Self::wait_handshakes) waits for handshakes still in progress
/// (in TLS 1.3 a client may finish its side before the server has checked it).
///
/// Dropping the server closes the listening socket at once and aborts every connection.
///
/// ```
/// use volley_testserver::{TestCa, TlsServer, TlsServerConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let ca = TestCa::new()?;
/// let server = TlsServer::start(TlsServerConfig::new(&ca)).await?;
/// assert_eq!(server.url("/get"), format!("https://localhost:{}/get", server.addr().port()));
/// // A client trusts `ca.cert_pem()` and connects; then:
/// assert_eq!((server.handshakes(), server.handshake_failures()), (0, 0));
/// # Ok(())
/// # }
/// ```
pub struct TlsServer {
    addr: SocketAddr,
    ca: TestCa,
    counters: Arc<Counters>,
    tls: Arc<TlsCounters>,
    listener: SharedListener,
    accept: JoinHandle<()>,
}

/// What the TLS layer saw.
#[derive(Debug)]
struct TlsCounters {
    accepted: AtomicU64,
    handshakes: AtomicU64,
    failures: AtomicU64,
    sni: Mutex<Vec<String>>,
    /// Handshakes ended, completed or failed, for [`TlsServer::wait_handshakes`].
    ended: watch::Sender<u64>,
}

impl TlsCounters {
    fn end(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
        self.ended.send_modify(|ended| *ended += 1);
    }
}

impl TlsServer {
    /// Starts a server on `127.0.0.1:0` (a free port) with a fresh certificate from
    /// `config`'s CA.
    ///
    /// # Panics
    ///
    /// If called outside a Tokio runtime.
    pub async fn start(config: TlsServerConfig) -> io::Result<Self> {
        let rustls_config = config.build()?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let listener = Arc::new(Mutex::new(Some(listener)));
        let counters = Arc::new(Counters::default());
        let tls = Arc::new(TlsCounters {
            accepted: AtomicU64::new(0),
            handshakes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            sni: Mutex::new(Vec::new()),
            ended: watch::Sender::new(0),
        });
        let accept = tokio::spawn(accept_loop(
            Arc::clone(&listener),
            rustls_config,
            Arc::clone(&counters),
            Arc::clone(&tls),
        ));
        Ok(Self { addr, ca: config.ca, counters, tls, listener, accept })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA that signed the server certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// An absolute URL on this server by name: `url("/get")` is
    /// `"https://localhost:PORT/get"`. A missing leading `/` is added.
    pub fn url(&self, path_and_query: &str) -> String {
        let slash = if path_and_query.starts_with('/') { "" } else { "/" };
        format!("https://localhost:{}{slash}{path_and_query}", self.addr.port())
    }

    /// TCP connections accepted.
    pub fn accepted(&self) -> u64 {
        self.tls.accepted.load(Relaxed)
    }

    /// TLS handshakes completed.
    pub fn handshakes(&self) -> u64 {
        self.tls.handshakes.load(Relaxed)
    }

    /// Connections that ended before a handshake completed: refused protocol
    /// versions, missing or untrusted client certificates, a client that rejected the
    /// server's certificate, or bytes that are not TLS.
    pub fn handshake_failures(&self) -> u64 {
        self.tls.failures.load(Relaxed)
    }

    /// The server names (SNI) clients sent, in order, one per ClientHello that had
    /// one, whether or not the handshake then completed. A client connecting to an IP
    /// address sends none.
    pub fn sni_seen(&self) -> Vec<String> {
        lock(&self.tls.sni).clone()
    }

    /// Waits until `n` handshakes have ended, completed or failed, since the start.
    /// Wrap it in a timeout: it waits for ever if fewer connections come.
    pub async fn wait_handshakes(&self, n: u64) {
        let mut ended = self.tls.ended.subscribe();
        let _ = ended.wait_for(|ended| *ended >= n).await;
    }

    /// Requests that reached exactly `path` (a query in `path` is ignored).
    pub fn hits(&self, path: &str) -> u64 {
        self.counters.path(path.split_once('?').map_or(path, |(path, _)| path))
    }

    /// All requests that reached the endpoints.
    pub fn total_hits(&self) -> u64 {
        self.counters.total()
    }

    /// Every request head kept (the newest 10 000), oldest first; see
    /// [`TestServer::requests`](crate::TestServer::requests).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.counters.seen.matching(|_| true)
    }
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("addr", &self.addr)
            .field("handshakes", &self.handshakes())
            .field("handshake_failures", &self.handshake_failures())
            .finish_non_exhaustive()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        crate::listener::close(&self.listener);
        self.accept.abort();
    }
}

/// Accepts connections and serves each on a task owned here, so aborting this task
/// aborts them all.
async fn accept_loop(
    listener: SharedListener,
    config: Arc<rustls::ServerConfig>,
    counters: Arc<Counters>,
    tls: Arc<TlsCounters>,
) {
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = poll_fn(|cx| poll_accept(&listener, cx)) => match accepted {
                Some(Ok((stream, _peer))) => {
                    tls.accepted.fetch_add(1, Relaxed);
                    counters.connection();
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve(
                        stream,
                        Arc::clone(&config),
                        Arc::clone(&builder),
                        Arc::clone(&counters),
                        Arc::clone(&tls),
                    ));
                }
                Some(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
                None => return,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The handshake (noting the SNI from the ClientHello), then the endpoints.
async fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    builder: Arc<Builder<TokioExecutor>>,
    counters: Arc<Counters>,
    tls: Arc<TlsCounters>,
) {
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let Ok(start) = acceptor.await else {
        return tls.end(&tls.failures);
    };
    if let Some(name) = start.client_hello().server_name() {
        lock(&tls.sni).push(name.to_owned());
    }
    let stream = match start.into_stream(config).into_fallible().await {
        Ok(stream) => stream,
        Err((_err, tcp)) => {
            // Counted before the socket closes, so a client that saw the close sees the count.
            tls.end(&tls.failures);
            drop(tcp);
            return;
        }
    };
    tls.end(&tls.handshakes);
    let service = service_fn(move |req| routes::handle(Arc::clone(&counters), req));
    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
}
