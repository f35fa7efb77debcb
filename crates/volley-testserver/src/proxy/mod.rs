//! [`ProxyServer`]: a loopback forward proxy speaking HTTP (absolute form and
//! `CONNECT`) and SOCKS5 on one port, which counts what it carried and records what
//! it saw.

mod forward;
mod socks;
mod state;
mod target;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use state::{Credentials, State, bump};

use crate::listener::{SharedListener, poll_accept};
pub use state::{ProxyKind, ProxySeen};

/// A forward proxy on a loopback port, for testing clients' proxy support.
///
/// One port speaks three protocols, told apart by the first byte a client sends:
///
/// - **HTTP/1.1 absolute form** (`GET http://127.0.0.1:PORT/path HTTP/1.1`): the request
///   is sent on to the origin in origin form over a new connection, without
///   `Proxy-Authorization`, `Proxy-Connection`, `Connection` and `Keep-Alive`;
///   counted by [`forwarded`](Self::forwarded).
/// - **HTTP `CONNECT host:port`**: `200`, then bytes are copied both ways; counted by
///   [`tunnels`](Self::tunnels).
/// - **SOCKS5** (first byte `0x05`, RFC 1928): the `CONNECT` command to an IPv4, IPv6
///   or domain-name target, the name resolved by the proxy; counted by
///   [`socks`](Self::socks).
///
/// **Loopback only.** The proxy connects only to loopback addresses: IP literals that
/// are loopback, `localhost` and `*.localhost` (127.0.0.1, then ::1), and `*.test`
/// names, which it treats as 127.0.0.1 so tests can use `example.test`. It looks up no
/// other name. Any other target is refused without a connection attempt: `403` for
/// HTTP, reply `0x02` ("connection not allowed by ruleset") for SOCKS5, counted by
/// [`refused`](Self::refused).
///
/// **Credentials.** [`start_with_auth`](Self::start_with_auth) requires
/// `Proxy-Authorization: Basic base64(user:pass)` (else `407` with
/// `Proxy-Authenticate: Basic realm="volley-proxy"`) and SOCKS5 username/password
/// authentication (RFC 1929); each refusal counts in
/// [`auth_failures`](Self::auth_failures).
///
/// Every counter is incremented before the proxy answers, so a client that has its
/// answer sees the count. Dropping the proxy closes the listening socket at once and
/// stops every connection and tunnel.
///
/// ```
/// use volley_testserver::{ProxyKind, ProxyServer, TestServer};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let origin = TestServer::start().await?;
/// let proxy = ProxyServer::start().await?;
///
/// let mut tcp = tokio::net::TcpStream::connect(proxy.addr()).await?;
/// let head = format!("GET {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n", origin.url("/get"), origin.addr());
/// tcp.write_all(head.as_bytes()).await?;
/// let mut answer = String::new();
/// tcp.read_to_string(&mut answer).await?;
/// assert!(answer.starts_with("HTTP/1.1 200"));
///
/// assert_eq!(proxy.forwarded(), 1);
/// assert_eq!(proxy.seen()[0].kind, ProxyKind::Forward);
/// assert_eq!(origin.last_request("/get").map(|r| r.path_and_query), Some("/get".to_owned()));
/// # Ok(())
/// # }
/// ```
pub struct ProxyServer {
    addr: SocketAddr,
    state: Arc<State>,
    listener: SharedListener,
    accept: JoinHandle<()>,
    /// Dropped with the proxy, which ends the tunnels that outlive their connection task.
    _shutdown: watch::Sender<()>,
}

impl ProxyServer {
    /// Starts a proxy without authentication on `127.0.0.1:0` (a free port).
    ///
    /// # Panics
    ///
    /// If called outside a Tokio runtime.
    pub async fn start() -> io::Result<Self> {
        Self::bind(None).await
    }

    /// Starts a proxy on `127.0.0.1:0` that requires `user` and `pass`, by
    /// `Proxy-Authorization: Basic` over HTTP and by username/password authentication
    /// over SOCKS5.
    ///
    /// # Panics
    ///
    /// If called outside a Tokio runtime.
    pub async fn start_with_auth(user: &str, pass: &str) -> io::Result<Self> {
        Self::bind(Some(Credentials::new(user, pass))).await
    }

    async fn bind(auth: Option<Credentials>) -> io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let listener = Arc::new(Mutex::new(Some(listener)));
        let state = Arc::new(State::new(auth));
        let (shutdown, closed) = watch::channel(());
        let accept = tokio::spawn(accept_loop(Arc::clone(&listener), Arc::clone(&state), closed));
        Ok(Self { addr, state, listener, accept, _shutdown: shutdown })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy as an HTTP proxy URL: `"http://127.0.0.1:PORT"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy as a SOCKS5 URL with remote name resolution: `"socks5h://127.0.0.1:PORT"`.
    pub fn socks_url(&self) -> String {
        format!("socks5h://{}", self.addr)
    }

    /// Absolute-form requests sent on to their origin.
    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Relaxed)
    }

    /// `CONNECT` tunnels opened (answered `200`).
    pub fn tunnels(&self) -> u64 {
        self.state.tunnels.load(Relaxed)
    }

    /// SOCKS5 connects completed (answered "succeeded").
    pub fn socks(&self) -> u64 {
        self.state.socks.load(Relaxed)
    }

    /// Requests refused because their target is not loopback (`403` or SOCKS5 reply
    /// `0x02`); none of them led to a connection attempt.
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Relaxed)
    }

    /// Requests and SOCKS5 handshakes refused for missing or wrong credentials
    /// (`407`, or a SOCKS5 method or authentication refusal).
    pub fn auth_failures(&self) -> u64 {
        self.state.auth_failures.load(Relaxed)
    }

    /// Connections the proxy opened, or tried to open, to targets: one per forwarded
    /// request, tunnel and SOCKS5 connect, plus those that failed
    /// ([`upstream_errors`](Self::upstream_errors)). 0 proves nothing left the proxy.
    pub fn upstream_connects(&self) -> u64 {
        self.state.upstream_connects.load(Relaxed)
    }

    /// Connection attempts to an allowed target that failed (`502`, or SOCKS5 reply
    /// `0x05`).
    pub fn upstream_errors(&self) -> u64 {
        self.state.upstream_errors.load(Relaxed)
    }

    /// TCP connections accepted from clients (compare with the request count to see
    /// whether a client reuses its connection to the proxy).
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Relaxed)
    }

    /// Every proxy request the proxy received, oldest first (the newest 10 000): the
    /// head of each absolute-form and `CONNECT` request (refused ones included) and
    /// the target of each SOCKS5 request, recorded before authentication is checked.
    pub fn seen(&self) -> Vec<ProxySeen> {
        self.state.seen()
    }

    /// Zeroes every counter and empties [`seen`](Self::seen). Open connections stay
    /// open.
    pub fn reset_counters(&self) {
        self.state.reset();
    }
}

impl fmt::Debug for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyServer")
            .field("addr", &self.addr)
            .field("forwarded", &self.forwarded())
            .field("tunnels", &self.tunnels())
            .field("socks", &self.socks())
            .field("refused", &self.refused())
            .finish_non_exhaustive()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        crate::listener::close(&self.listener);
        self.accept.abort();
    }
}

/// Accepts clients and serves each on a task owned here, so aborting this task
/// aborts them all.
async fn accept_loop(listener: SharedListener, state: Arc<State>, shutdown: watch::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = poll_fn(|cx| poll_accept(&listener, cx)) => match accepted {
                Some(Ok((stream, _peer))) => {
                    bump(&state.connections);
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve(Arc::clone(&state), shutdown.clone(), stream));
                }
                Some(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
                None => return,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one client: SOCKS5 if its first byte is 0x05, HTTP/1.1 otherwise.
async fn serve(state: Arc<State>, shutdown: watch::Receiver<()>, stream: TcpStream) {
    let mut first = [0; 1];
    if !matches!(stream.peek(&mut first).await, Ok(1..)) {
        return;
    }
    if first[0] == 0x05 {
        let _ = socks::serve(&state, stream).await;
        return;
    }
    let service = service_fn(move |req| forward::handle(Arc::clone(&state), shutdown.clone(), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}
