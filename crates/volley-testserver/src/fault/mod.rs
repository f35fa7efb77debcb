//! [`FaultServer`]: a raw-socket server on a loopback port that misbehaves in one chosen
//! way ([`Fault`]), for testing what a client does when a server is broken or hostile.
//!
//! Unlike [`TestServer`](crate::TestServer), which speaks correct HTTP and fails on
//! request, a fault server writes the bytes of HTTP/1.1 by hand (so it can stall, drip,
//! reset or send garbage at any point), and its HTTP/2 faults run on the `h2` crate
//! directly over TLS (so it can send `GOAWAY` and `REFUSED_STREAM` or fall silent), with
//! a self-signed certificate for `127.0.0.1` and `localhost` ([`certificate`]).
//!
//! Counters say what reached the server: [`connections`](FaultServer::connections)
//! accepted, request heads read in full ([`requests`](FaultServer::requests)), and body
//! bytes written ([`body_bytes_written`](FaultServer::body_bytes_written)).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use volley_testserver::fault::{Fault, FaultServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = FaultServer::start(Fault::GarbageStatus).await?;
//! let mut tcp = tokio::net::TcpStream::connect(server.addr()).await?;
//! tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await?;
//! let mut answer = Vec::new();
//! tcp.read_to_end(&mut answer).await?;
//! assert!(answer.starts_with(b"HTTP/1.1 banana"));
//! assert_eq!((server.connections(), server.requests()), (1, 1));
//! # Ok(())
//! # }
//! ```

mod http1;
mod http2;
mod tls;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::task::{JoinHandle, JoinSet};

pub use tls::certificate;

/// How a [`FaultServer`] treats every connection.
///
/// HTTP/1.1 faults read the request head (and a `content-length` body) before they
/// misbehave, unless they say otherwise. Faults named `H2…` and [`Fault::TlsStall`] are
/// reached over `https`; [`FaultServer::url`] picks the scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Nothing listens: the port is bound but not listening, so every connect is refused.
    Refuse,
    /// Accepts the connection, then never reads or writes a byte.
    AcceptNoRead,
    /// Accepts TCP for `https` and never answers the TLS `ClientHello`.
    TlsStall,
    /// Reads the request, then never answers.
    NoHeaders,
    /// Sends `200` headers promising 1024 bytes, 16 of them, then stalls.
    StalledBody,
    /// Sends `200` headers promising 60 bytes, then one byte every `every`.
    Drip {
        /// The gap between bytes.
        every: Duration,
    },
    /// Sends `200` headers promising 10 000 bytes, 1000 of them, then resets the
    /// connection (`SO_LINGER` 0: a TCP `RST`, not a `FIN`).
    ResetMidBody,
    /// Answers with the status line `HTTP/1.1 banana` and closes.
    GarbageStatus,
    /// Answers `200` with a header block of about `bytes` bytes (filler headers of 100
    /// bytes each), then closes.
    HugeHeaders {
        /// The size of the header block.
        bytes: usize,
    },
    /// Answers `200` with a chunked body that never ends, as fast as the client reads.
    /// After `cap` body bytes the server stops writing and stalls, so a client with no
    /// body limit holds at most `cap` bytes.
    EndlessBody {
        /// The most body bytes written per connection.
        cap: u64,
    },
    /// Answers every request (keep-alive) with `status`, these headers and an empty body.
    Respond {
        /// The status code.
        status: u16,
        /// Header names and values, written verbatim.
        headers: Vec<(String, String)>,
    },
    /// HTTP/2 over TLS. The first connection gets an empty `SETTINGS` and a `GOAWAY`
    /// (`NO_ERROR`, last stream 0: nothing was processed) as soon as the client's preface
    /// arrives, and stays open until the client closes it; later connections answer
    /// `200 ok`.
    H2GoAway,
    /// HTTP/2 over TLS. The first request is reset with `REFUSED_STREAM`; later ones
    /// answer `200 ok` (on the same connection).
    H2RefusedStream,
    /// HTTP/2 over TLS. After the handshake the server keeps reading (and counting
    /// requests) but everything it writes is dropped: to the client the connection went
    /// silent, as if a middlebox black-holed it.
    H2BlackHole,
}

impl Fault {
    /// Whether clients reach this fault over `https`.
    pub fn is_tls(&self) -> bool {
        matches!(
            self,
            Fault::TlsStall | Fault::H2GoAway | Fault::H2RefusedStream | Fault::H2BlackHole
        )
    }
}

/// What a fault server counts, shared with its connection tasks.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    body_bytes: AtomicU64,
    /// Set by the first connection or request that took the "first time" branch of a
    /// fault (`H2GoAway`, `H2RefusedStream`).
    first_taken: AtomicBool,
}

impl Counters {
    fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// True exactly once per server.
    fn take_first(&self) -> bool {
        !self.first_taken.swap(true, Relaxed)
    }
}

/// A server on `127.0.0.1:0` that answers every connection with one [`Fault`], on the
/// current Tokio runtime until dropped. See the [module docs](self).
///
/// Dropping it aborts the accept task and every connection task (connections held open
/// by a fault close when the runtime next gets to them).
pub struct FaultServer {
    addr: SocketAddr,
    fault: Fault,
    counters: Arc<Counters>,
    task: Option<JoinHandle<()>>,
    /// For [`Fault::Refuse`]: the bound, never listening socket that reserves the port.
    _reserved: Option<TcpSocket>,
}

impl FaultServer {
    /// Starts a server with `fault` on a free loopback port.
    ///
    /// # Panics
    ///
    /// If called outside a Tokio runtime.
    pub async fn start(fault: Fault) -> io::Result<Self> {
        let counters = Arc::new(Counters::default());
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        if fault == Fault::Refuse {
            let socket = TcpSocket::new_v4()?;
            socket.bind(any_port)?;
            let addr = socket.local_addr()?;
            return Ok(Self { addr, fault, counters, task: None, _reserved: Some(socket) });
        }
        let acceptor = if fault.is_tls() { Some(tls::acceptor()?) } else { None };
        let listener = TcpListener::bind(any_port).await?;
        let addr = listener.local_addr()?;
        let task =
            tokio::spawn(accept_loop(listener, fault.clone(), Arc::clone(&counters), acceptor));
        Ok(Self { addr, fault, counters, task: Some(task), _reserved: None })
    }

    /// The address the server listens on (or, for [`Fault::Refuse`], refuses on).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault this server injects.
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// An absolute URL on this server, `https` for TLS faults: `url("/x")` is
    /// `"http://127.0.0.1:PORT/x"`. A missing leading `/` is added.
    pub fn url(&self, path_and_query: &str) -> String {
        let scheme = if self.fault.is_tls() { "https" } else { "http" };
        let slash = if path_and_query.starts_with('/') { "" } else { "/" };
        format!("{scheme}://{}{slash}{path_and_query}", self.addr)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Relaxed)
    }

    /// Request heads read in full so far (HTTP/2: streams accepted, refused ones
    /// included). Faults that never read ([`Fault::AcceptNoRead`], [`Fault::TlsStall`])
    /// count none.
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Relaxed)
    }

    /// Response body bytes handed to the kernel so far, over all connections (the
    /// client has read at most this many).
    pub fn body_bytes_written(&self) -> u64 {
        self.counters.body_bytes.load(Relaxed)
    }
}

impl fmt::Debug for FaultServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultServer")
            .field("addr", &self.addr)
            .field("fault", &self.fault)
            .field("connections", &self.connections())
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Accepts connections and runs the fault on each, on tasks owned here so that aborting
/// this task ends them all.
async fn accept_loop(
    listener: TcpListener,
    fault: Fault,
    counters: Arc<Counters>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    counters.connections.fetch_add(1, Relaxed);
                    let _ = stream.set_nodelay(true);
                    let fault = fault.clone();
                    let counters = Arc::clone(&counters);
                    let acceptor = acceptor.clone();
                    connections.spawn(async move {
                        // A failing connection (client gone, bad bytes) ends only itself.
                        match acceptor {
                            Some(acceptor) if fault != Fault::TlsStall => {
                                let _ = http2::serve(stream, &acceptor, &fault, &counters).await;
                            }
                            _ => {
                                let _ = http1::serve(stream, &fault, &counters).await;
                            }
                        }
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
