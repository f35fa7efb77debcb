//! hickory-resolver under the client (feature `hickory-dns`), against a tiny DNS server on
//! 127.0.0.1 that counts the queries it gets. No test asks any other nameserver.
//!
//! hickory's cache reads the wall clock (`std::time::Instant`), which paused tokio time
//! cannot move, so the TTL tests sleep for real, briefly, and assert query counts only.

#![cfg(feature = "hickory-dns")]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use volley::{Client, ClientBuilder, HickoryDns, Kind};
use volley_testserver::TestServer;

const NAME: &str = "api.volley.test";
const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;

/// Queries that reached a [`DnsServer`], by record type.
#[derive(Default)]
struct Queries {
    a: AtomicUsize,
    aaaa: AtomicUsize,
    other: AtomicUsize,
}

/// A DNS server on 127.0.0.1 (UDP and TCP, one port) that knows one name,
/// `api.volley.test` → 127.0.0.1, or that never answers at all.
struct DnsServer {
    addr: SocketAddr,
    queries: Arc<Queries>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Answers A queries for `api.volley.test` with 127.0.0.1 and `ttl`, and anything
    /// else with no records and an SOA whose TTL is `ttl` too, so that it is cached alike.
    async fn start(ttl: u32) -> Self {
        Self::bind(Some(ttl)).await
    }

    /// Reads every query, counts it, and never answers.
    async fn silent() -> Self {
        Self::bind(None).await
    }

    async fn bind(ttl: Option<u32>) -> Self {
        // UDP and TCP on the same port, as a nameserver address names both.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let queries = Arc::new(Queries::default());
        let udp_task = tokio::spawn(serve_udp(udp, queries.clone(), ttl));
        let tcp_task = tokio::spawn(serve_tcp(tcp, queries.clone(), ttl));
        Self { addr, queries, tasks: vec![udp_task, tcp_task] }
    }

    fn a(&self) -> usize {
        self.queries.a.load(Ordering::SeqCst)
    }

    fn aaaa(&self) -> usize {
        self.queries.aaaa.load(Ordering::SeqCst)
    }

    fn total(&self) -> usize {
        self.a() + self.aaaa() + self.queries.other.load(Ordering::SeqCst)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

async fn serve_udp(socket: UdpSocket, queries: Arc<Queries>, ttl: Option<u32>) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else { return };
        if let Some(reply) = respond(&buf[..len], &queries, ttl) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, queries: Arc<Queries>, ttl: Option<u32>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        tokio::spawn(serve_tcp_connection(stream, queries.clone(), ttl));
    }
}

/// DNS over TCP: each message behind a two-byte length.
async fn serve_tcp_connection(mut stream: TcpStream, queries: Arc<Queries>, ttl: Option<u32>) {
    loop {
        let Ok(len) = stream.read_u16().await else { return };
        let mut query = vec![0; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        if let Some(reply) = respond(&query, &queries, ttl) {
            let Ok(len) = u16::try_from(reply.len()) else { return };
            if stream.write_u16(len).await.is_err() || stream.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
}

/// Counts the query and builds the answer (`None`: stay silent, or not a query we read).
/// Reads the header and the question only; an EDNS record after them is ignored.
fn respond(query: &[u8], queries: &Queries, ttl: Option<u32>) -> Option<Vec<u8>> {
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question = query.get(12..pos + 4)?;
    let counter = match qtype {
        TYPE_A => &queries.a,
        TYPE_AAAA => &queries.aaaa,
        _ => &queries.other,
    };
    counter.fetch_add(1, Ordering::SeqCst);
    let ttl = ttl?;

    let known = labels.join(".") == NAME;
    let answer = known && qtype == TYPE_A;
    let rcode: u16 = if known { 0 } else { 3 }; // NOERROR, or NXDOMAIN
    // QR, AA and RA set; RD copied from the query.
    let flags = 0x8000 | 0x0400 | 0x0080 | (u16::from_be_bytes([query[2], query[3]]) & 0x0100);
    let mut reply = Vec::with_capacity(128);
    reply.extend_from_slice(&query[..2]); // id
    reply.extend_from_slice(&(flags | rcode).to_be_bytes());
    reply.extend_from_slice(&1u16.to_be_bytes()); // questions
    reply.extend_from_slice(&u16::from(answer).to_be_bytes()); // answers
    reply.extend_from_slice(&u16::from(!answer).to_be_bytes()); // authorities
    reply.extend_from_slice(&0u16.to_be_bytes()); // additionals
    reply.extend_from_slice(question);
    // Every record's owner is the question's name: a pointer to offset 12.
    reply.extend_from_slice(&[0xc0, 0x0c]);
    if answer {
        reply.extend_from_slice(&TYPE_A.to_be_bytes());
        reply.extend_from_slice(&1u16.to_be_bytes()); // IN
        reply.extend_from_slice(&ttl.to_be_bytes());
        reply.extend_from_slice(&4u16.to_be_bytes());
        reply.extend_from_slice(&Ipv4Addr::LOCALHOST.octets());
    } else {
        // The SOA that makes "no records" cacheable: its TTL and MINIMUM are `ttl`.
        reply.extend_from_slice(&TYPE_SOA.to_be_bytes());
        reply.extend_from_slice(&1u16.to_be_bytes());
        reply.extend_from_slice(&ttl.to_be_bytes());
        reply.extend_from_slice(&24u16.to_be_bytes());
        reply.extend_from_slice(&[0xc0, 0x0c, 0xc0, 0x0c]); // MNAME, RNAME
        for field in [1, 3600, 600, 86_400, ttl] {
            // SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM
            reply.extend_from_slice(&u32::to_be_bytes(field));
        }
    }
    Some(reply)
}

/// A client that asks only `dns` and opens a new connection for every request, so that
/// every request needs a lookup (from the cache or the server).
fn client(dns: &DnsServer, config: HickoryDns) -> ClientBuilder {
    Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .hickory_dns(config.nameservers([dns.addr]))
}

fn url(server: &TestServer) -> String {
    format!("http://{NAME}:{}/get", server.addr().port())
}

async fn get(client: &Client, url: &str) {
    let res = client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl() {
    let server = TestServer::start().await.unwrap();
    let dns = DnsServer::start(1).await;
    let client = client(&dns, HickoryDns::new()).build().unwrap();
    let url = url(&server);

    get(&client, &url).await;
    assert_eq!((dns.a(), dns.aaaa()), (1, 1), "one lookup: A and AAAA");
    get(&client, &url).await;
    assert_eq!(server.connections(), 2, "a new connection, so a second lookup");
    assert_eq!(dns.total(), 2, "answered from the cache");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    get(&client.clone(), &url).await;
    assert_eq!((dns.a(), dns.aaaa()), (2, 2), "the 1 s TTL ran out: asked again");
    assert_eq!(server.hits("/get"), 3);
}

#[tokio::test]
async fn a_zero_ttl_is_not_cached_unless_the_minimum_raises_it() {
    let server = TestServer::start().await.unwrap();
    let url = url(&server);

    let dns = DnsServer::start(0).await;
    let honoured = client(&dns, HickoryDns::new()).build().unwrap();
    get(&honoured, &url).await;
    get(&honoured, &url).await;
    assert_eq!(dns.a(), 2, "TTL 0: every lookup asks");

    let dns = DnsServer::start(0).await;
    let raised = HickoryDns::new()
        .positive_ttl(Duration::from_secs(60), Duration::from_secs(3_600))
        .negative_ttl(Duration::from_secs(60), Duration::from_secs(3_600));
    let raised = client(&dns, raised).build().unwrap();
    get(&raised, &url).await;
    get(&raised, &url).await;
    assert_eq!((dns.a(), dns.aaaa()), (1, 1), "kept for the 60 s minimum");
}

#[tokio::test]
async fn the_maximum_shortens_a_long_ttl() {
    let server = TestServer::start().await.unwrap();
    let url = url(&server);
    let dns = DnsServer::start(3_600).await;
    let capped = HickoryDns::new().positive_ttl(Duration::ZERO, Duration::from_secs(1));
    let client = client(&dns, capped).build().unwrap();

    get(&client, &url).await;
    get(&client, &url).await;
    assert_eq!(dns.a(), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    get(&client, &url).await;
    assert_eq!(dns.a(), 2, "the hour-long TTL was cut to 1 s");
    assert_eq!(dns.aaaa(), 1, "no AAAA: cached for the hour, cut to the 5 min default");
}

#[tokio::test]
async fn resolve_overrides_come_before_hickory() {
    let server = TestServer::start().await.unwrap();
    let dns = DnsServer::start(60).await;
    let client = client(&dns, HickoryDns::new()).resolve(NAME, server.addr()).build().unwrap();
    get(&client, &url(&server)).await;
    assert_eq!(dns.total(), 0);
    assert_eq!(server.hits("/get"), 1);
}

#[tokio::test]
async fn a_silent_nameserver_fails_at_the_connect_timeout() {
    let server = TestServer::start().await.unwrap();
    let dns = DnsServer::silent().await;
    let client = client(&dns, HickoryDns::new())
        .connect_timeout(Some(Duration::from_millis(300)))
        .retries(0)
        .build()
        .unwrap();

    let started = Instant::now();
    let err = client.get(url(&server)).send().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout() && err.is_connect(), "{err}");
    assert_eq!(err.kind(), Kind::Timeout);
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(dns.total() >= 1, "the nameserver was asked");
    assert_eq!(server.connections(), 0);
}

/// The process's thread count, from `/proc/self/status`.
#[cfg(target_os = "linux")]
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find_map(|line| line.strip_prefix("Threads:")).unwrap();
    line.trim().parse().unwrap()
}

/// With `getaddrinfo`, each of these lookups would hold a blocking-pool thread until the
/// system resolver gave up (seconds, not the 300 ms connect timeout); hickory's hold a
/// timer each, on this one runtime thread.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn hung_lookups_hold_no_threads() {
    let server = TestServer::start().await.unwrap();
    let dns = DnsServer::silent().await;
    let client = client(&dns, HickoryDns::new())
        .connect_timeout(Some(Duration::from_millis(300)))
        .retries(0)
        .build()
        .unwrap();
    // Twenty names: hickory shares one query among lookups of the same name in flight.
    let urls: Vec<String> =
        (0..20).map(|i| format!("http://n{i}.volley.test:{}/get", server.addr().port())).collect();

    let before = threads();
    let started = Instant::now();
    let requests = urls.iter().map(|url| client.get(url).send());
    let results = futures_util::future::join_all(requests).await;
    let elapsed = started.elapsed();
    let after = threads();

    for result in results {
        let err = result.unwrap_err();
        assert!(err.is_timeout() && err.is_connect(), "{err}");
    }
    assert!(elapsed < Duration::from_secs(2), "all 20 ended at their timeouts: {elapsed:?}");
    // Slack for the test harness starting or ending another test's thread meanwhile.
    assert!(after <= before + 2, "threads: {before} before, {after} after");
    assert_eq!((dns.a(), dns.aaaa()), (20, 20), "every lookup was sent, and left hanging");
}

#[test]
fn bad_settings_are_refused_at_build() {
    let empty = Client::builder().hickory_dns(HickoryDns::new().nameservers([])).build();
    assert_eq!(empty.unwrap_err().kind(), Kind::Config);

    let upside_down = HickoryDns::new()
        .nameservers([SocketAddr::from((Ipv4Addr::LOCALHOST, 53))])
        .negative_ttl(Duration::from_secs(10), Duration::from_secs(1));
    let err = Client::builder().hickory_dns(upside_down).build().unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert!(err.to_string().contains("negative TTL minimum 10s is above the maximum 1s"), "{err}");
}

#[test]
fn a_client_with_hickory_builds_outside_a_runtime() {
    let dns = HickoryDns::new().nameservers([SocketAddr::from((Ipv4Addr::LOCALHOST, 53))]);
    let client = Client::builder().hickory_dns(dns).build();
    assert!(client.is_ok(), "{:?}", client.err());
}
