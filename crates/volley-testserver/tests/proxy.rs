//! The forward proxy, driven by raw clients: hyper's connection-level client for HTTP,
//! hand-written bytes for `CONNECT` and SOCKS5.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use volley_testserver::{ProxyKind, ProxyServer, TestCa, TestServer, TlsServer, TlsServerConfig};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

/// Sends `request` over `io` with HTTP/1.1, as is (an absolute URI stays absolute),
/// and returns the status, headers and body.
async fn send<T>(
    io: T,
    request: Request<Empty<Bytes>>,
) -> Result<(http::response::Parts, Bytes), Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let (parts, body) = sender.send_request(request).await?.into_parts();
    Ok((parts, body.collect().await?.to_bytes()))
}

/// Reads a response head byte by byte, so nothing after it is consumed.
async fn read_head(tcp: &mut TcpStream) -> Result<String, Error> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await?);
    }
    Ok(String::from_utf8(head)?)
}

/// Sends `CONNECT target` (with `extra` header lines) and returns the response head.
async fn connect(
    proxy: &ProxyServer,
    target: &str,
    extra: &str,
) -> Result<(TcpStream, String), Error> {
    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    let head = format!("CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n{extra}\r\n");
    tcp.write_all(head.as_bytes()).await?;
    let head = read_head(&mut tcp).await?;
    Ok((tcp, head))
}

/// SOCKS5 greeting offering `methods`; returns the method the proxy chose.
async fn socks_greet(tcp: &mut TcpStream, methods: &[u8]) -> Result<u8, Error> {
    let mut greeting = vec![5, u8::try_from(methods.len())?];
    greeting.extend_from_slice(methods);
    tcp.write_all(&greeting).await?;
    let mut choice = [0; 2];
    tcp.read_exact(&mut choice).await?;
    assert_eq!(choice[0], 5);
    Ok(choice[1])
}

/// RFC 1929 username/password; returns the status byte (0 = success).
async fn socks_login(tcp: &mut TcpStream, user: &str, pass: &str) -> Result<u8, Error> {
    let mut login = vec![1, u8::try_from(user.len())?];
    login.extend_from_slice(user.as_bytes());
    login.push(u8::try_from(pass.len())?);
    login.extend_from_slice(pass.as_bytes());
    tcp.write_all(&login).await?;
    let mut status = [0; 2];
    tcp.read_exact(&mut status).await?;
    assert_eq!(status[0], 1);
    Ok(status[1])
}

/// A SOCKS5 CONNECT to `address` (address type byte, then the address) and `port`;
/// returns the reply code and the bound address the proxy reported.
async fn socks_connect(
    tcp: &mut TcpStream,
    address: &[u8],
    port: u16,
) -> Result<(u8, SocketAddr), Error> {
    let mut request = vec![5, 1, 0];
    request.extend_from_slice(address);
    request.extend_from_slice(&port.to_be_bytes());
    tcp.write_all(&request).await?;
    let mut head = [0; 4];
    tcp.read_exact(&mut head).await?;
    assert_eq!((head[0], head[2]), (5, 0));
    let ip: std::net::IpAddr = match head[3] {
        1 => read_n::<4>(tcp).await?.into(),
        4 => read_n::<16>(tcp).await?.into(),
        other => return Err(format!("address type {other}").into()),
    };
    let port = tcp.read_u16().await?;
    Ok((head[1], SocketAddr::new(ip, port)))
}

async fn read_n<const N: usize>(tcp: &mut TcpStream) -> Result<[u8; N], Error> {
    let mut bytes = [0; N];
    tcp.read_exact(&mut bytes).await?;
    Ok(bytes)
}

fn domain(name: &str) -> Vec<u8> {
    let mut address = vec![3, u8::try_from(name.len()).unwrap_or(u8::MAX)];
    address.extend_from_slice(name.as_bytes());
    address
}

fn get(uri: &str, host: &str) -> Result<Request<Empty<Bytes>>, Error> {
    Ok(Request::get(uri).header(HOST, host).body(Empty::new())?)
}

#[tokio::test]
async fn forward_reaches_the_origin_without_the_proxy_headers() -> Result<(), Error> {
    let origin = TestServer::start().await?;
    let proxy = ProxyServer::start_with_auth("alice", "s3cret").await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(proxy.addr()).await?,
    ))
    .await?;
    tokio::spawn(connection);
    for n in 1..=2 {
        let request = Request::get(origin.url("/headers?x=1"))
            .header(HOST, origin.addr().to_string())
            .header(PROXY_AUTHORIZATION, basic("alice", "s3cret"))
            .header("proxy-connection", "keep-alive")
            .header("x-trace", format!("t{n}"))
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await?.to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body)?;
        assert_eq!(json["headers"]["x-trace"], format!("t{n}"));
        assert!(json["headers"].get("proxy-authorization").is_none());
    }

    let at_origin = origin.requests();
    assert_eq!(at_origin.len(), 2);
    for (seen, n) in at_origin.iter().zip(1..) {
        assert_eq!(seen.path_and_query, "/headers?x=1");
        assert_eq!(seen.header("host"), Some(origin.addr().to_string().as_str()));
        assert_eq!(seen.header("x-trace"), Some(format!("t{n}").as_str()));
        assert_eq!(seen.header("proxy-authorization"), None);
        assert_eq!(seen.header("proxy-connection"), None);
    }
    // One client connection to the proxy, one proxy connection to the origin per request.
    assert_eq!((proxy.connections(), origin.connections()), (1, 2));
    assert_eq!((proxy.forwarded(), proxy.tunnels(), proxy.socks()), (2, 0, 0));
    assert_eq!((proxy.refused(), proxy.auth_failures(), proxy.upstream_connects()), (0, 0, 2));

    let seen = proxy.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].kind, ProxyKind::Forward);
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(seen[0].target, origin.url("/headers?x=1"));
    assert_eq!((seen[0].host.as_str(), seen[0].port), ("127.0.0.1", origin.addr().port()));
    assert_eq!(seen[0].header("proxy-authorization"), Some(basic("alice", "s3cret").as_str()));
    assert_eq!(seen[1].header("x-trace"), Some("t2"));
    assert_eq!(seen[0].user.as_deref(), Some("alice"));
    Ok(())
}

#[tokio::test]
async fn credentials_are_required_when_set() -> Result<(), Error> {
    let origin = TestServer::start().await?;
    let proxy = ProxyServer::start_with_auth("alice", "s3cret").await?;
    let host = origin.addr().to_string();

    let (parts, _) =
        send(TcpStream::connect(proxy.addr()).await?, get(&origin.url("/get"), &host)?).await?;
    assert_eq!(parts.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    assert_eq!(parts.headers[PROXY_AUTHENTICATE], "Basic realm=\"volley-proxy\"");

    let mut wrong = get(&origin.url("/get"), &host)?;
    wrong.headers_mut().insert(PROXY_AUTHORIZATION, basic("alice", "guess").parse()?);
    let (parts, _) = send(TcpStream::connect(proxy.addr()).await?, wrong).await?;
    assert_eq!(parts.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);

    let (_tcp, head) = connect(&proxy, &host, "").await?;
    assert!(head.starts_with("HTTP/1.1 407"), "{head}");
    assert_eq!((proxy.auth_failures(), proxy.upstream_connects(), origin.total_hits()), (3, 0, 0));
    assert_eq!(
        proxy.seen().iter().map(|s| s.user.as_deref()).collect::<Vec<_>>(),
        [None, Some("alice"), None]
    );

    let mut right = get(&origin.url("/get"), &host)?;
    right.headers_mut().insert(PROXY_AUTHORIZATION, basic("alice", "s3cret").parse()?);
    let (parts, _) = send(TcpStream::connect(proxy.addr()).await?, right).await?;
    assert_eq!(parts.status, StatusCode::OK);
    let (_tcp, head) =
        connect(&proxy, &host, &format!("proxy-authorization: {}\r\n", basic("alice", "s3cret")))
            .await?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!((proxy.forwarded(), proxy.tunnels(), proxy.auth_failures()), (1, 1, 3));
    assert_eq!(origin.total_hits(), 1);
    Ok(())
}

#[tokio::test]
async fn connect_tunnel_carries_requests() -> Result<(), Error> {
    let origin = TestServer::start().await?;
    let proxy = ProxyServer::start().await?;
    let target = origin.addr().to_string();
    let (tcp, head) = connect(&proxy, &target, "").await?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // RFC 9110 §9.3.6: a 2xx answer to CONNECT has no content-length or transfer-encoding.
    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("content-length") && !lower.contains("transfer-encoding"), "{head}");

    // Two requests through one tunnel: one connection at the origin.
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    for path in ["/get?n=1", "/get?n=2"] {
        let response = sender.send_request(get(path, &target)?).await?;
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await?;
    }
    assert_eq!((origin.hits("/get"), origin.connections()), (2, 1));
    assert_eq!(origin.requests()[1].path_and_query, "/get?n=2");
    assert_eq!(
        (proxy.tunnels(), proxy.forwarded(), proxy.socks(), proxy.upstream_connects()),
        (1, 0, 0, 1)
    );
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "requests inside the tunnel are not proxy requests");
    assert_eq!((seen[0].kind, &seen[0].method), (ProxyKind::Connect, &Method::CONNECT));
    assert_eq!(seen[0].target, target);
    Ok(())
}

#[tokio::test]
async fn connect_tunnel_carries_tls_with_the_name_as_sni() -> Result<(), Error> {
    let ca = TestCa::new()?;
    let origin = TlsServer::start(TlsServerConfig::new(&ca)).await?;
    let proxy = ProxyServer::start().await?;
    let target = format!("example.test:{}", origin.addr().port());
    let (tcp, head) = connect(&proxy, &target, "").await?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().into())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("example.test".try_into()?, tcp)
        .await?;
    let (parts, _) = send(tls, get("/get", &target)?).await?;
    assert_eq!(parts.status, StatusCode::OK);

    assert_eq!(origin.sni_seen(), ["example.test"]);
    assert_eq!((origin.handshakes(), origin.hits("/get")), (1, 1));
    assert_eq!((proxy.tunnels(), proxy.seen()[0].host.as_str()), (1, "example.test"));
    Ok(())
}

#[tokio::test]
async fn socks5_resolves_names_itself() -> Result<(), Error> {
    let origin = TestServer::start().await?;
    let proxy = ProxyServer::start().await?;
    let port = origin.addr().port();

    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    assert_eq!(socks_greet(&mut tcp, &[0]).await?, 0);
    let (reply, bound) = socks_connect(&mut tcp, &domain("example.test"), port).await?;
    assert_eq!(reply, 0);
    assert!(bound.ip().is_loopback() && bound.port() != 0, "{bound}");
    let host = format!("example.test:{port}");
    let (parts, _) = send(tcp, get("/get", &host)?).await?;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(
        origin.last_request("/get").and_then(|r| r.header("host").map(str::to_owned)),
        Some(host.clone())
    );

    // An IPv4 target too.
    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    assert_eq!(socks_greet(&mut tcp, &[0]).await?, 0);
    assert_eq!(socks_connect(&mut tcp, &[1, 127, 0, 0, 1], port).await?.0, 0);
    assert_eq!(send(tcp, get("/get", &host)?).await?.0.status, StatusCode::OK);

    assert_eq!(
        (proxy.socks(), proxy.tunnels(), proxy.forwarded(), proxy.upstream_connects()),
        (2, 0, 0, 2)
    );
    assert_eq!(origin.hits("/get"), 2);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].kind, seen[0].host.as_str(), seen[0].target.as_str()),
        (ProxyKind::Socks5, "example.test", host.as_str())
    );
    assert_eq!((seen[0].port, seen[0].user.as_deref(), seen[0].headers.len()), (port, None, 0));
    assert_eq!(seen[1].host, "127.0.0.1");
    Ok(())
}

#[tokio::test]
async fn socks5_to_ipv6_loopback() -> Result<(), Error> {
    // Only where the host has IPv6 loopback; the refusal test covers IPv6 parsing anywhere.
    let Ok(origin) = TestServer::bind("[::1]:0".parse()?).await else { return Ok(()) };
    let proxy = ProxyServer::start().await?;
    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    assert_eq!(socks_greet(&mut tcp, &[0]).await?, 0);
    let mut address = vec![4];
    address.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    assert_eq!(socks_connect(&mut tcp, &address, origin.addr().port()).await?.0, 0);
    assert_eq!(send(tcp, get("/get", "[::1]")?).await?.0.status, StatusCode::OK);
    assert_eq!((proxy.socks(), origin.hits("/get")), (1, 1));
    assert_eq!(proxy.seen()[0].target, format!("[::1]:{}", origin.addr().port()));
    Ok(())
}

#[tokio::test]
async fn socks5_checks_username_and_password() -> Result<(), Error> {
    let origin = TestServer::start().await?;
    let proxy = ProxyServer::start_with_auth("alice", "s3cret").await?;

    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    assert_eq!(socks_greet(&mut tcp, &[0]).await?, 0xFF, "no-auth only: no acceptable method");
    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    assert_eq!(socks_greet(&mut tcp, &[0, 2]).await?, 2);
    assert_eq!(socks_login(&mut tcp, "alice", "guess").await?, 1);
    assert_eq!((proxy.auth_failures(), proxy.upstream_connects()), (2, 0));

    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    assert_eq!(socks_greet(&mut tcp, &[0, 2]).await?, 2);
    assert_eq!(socks_login(&mut tcp, "alice", "s3cret").await?, 0);
    assert_eq!(socks_connect(&mut tcp, &domain("localhost"), origin.addr().port()).await?.0, 0);
    assert_eq!(send(tcp, get("/get", "localhost")?).await?.0.status, StatusCode::OK);

    assert_eq!((proxy.socks(), proxy.auth_failures(), origin.hits("/get")), (1, 2, 1));
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "a refused login sends no request");
    assert_eq!((seen[0].user.as_deref(), seen[0].host.as_str()), (Some("alice"), "localhost"));
    Ok(())
}

#[tokio::test]
async fn non_loopback_targets_are_refused_without_a_connection() -> Result<(), Error> {
    let proxy = ProxyServer::start().await?;

    let (_tcp, head) = connect(&proxy, "192.0.2.1:443", "").await?;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let (parts, _) =
        send(TcpStream::connect(proxy.addr()).await?, get("http://example.com/", "example.com")?)
            .await?;
    assert_eq!(parts.status, StatusCode::FORBIDDEN);

    let mut v6 = vec![4];
    v6.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>()?.octets());
    for address in [vec![1, 192, 0, 2, 1], domain("example.com"), v6] {
        let mut tcp = TcpStream::connect(proxy.addr()).await?;
        assert_eq!(socks_greet(&mut tcp, &[0]).await?, 0);
        assert_eq!(socks_connect(&mut tcp, &address, 80).await?.0, 2, "not allowed by ruleset");
    }

    // An origin-form request is not a proxy request at all.
    let (parts, _) = send(TcpStream::connect(proxy.addr()).await?, get("/get", "x")?).await?;
    assert_eq!(parts.status, StatusCode::BAD_REQUEST);

    assert_eq!(proxy.refused(), 5);
    assert_eq!((proxy.upstream_connects(), proxy.upstream_errors()), (0, 0));
    assert_eq!((proxy.forwarded(), proxy.tunnels(), proxy.socks()), (0, 0, 0));
    let targets: Vec<_> = proxy.seen().into_iter().map(|s| (s.kind, s.target)).collect();
    assert_eq!(
        targets,
        [
            (ProxyKind::Connect, "192.0.2.1:443".to_owned()),
            (ProxyKind::Forward, "http://example.com/".to_owned()),
            (ProxyKind::Socks5, "192.0.2.1:80".to_owned()),
            (ProxyKind::Socks5, "example.com:80".to_owned()),
            (ProxyKind::Socks5, "[2001:db8::1]:80".to_owned()),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_closed_loopback_port_is_a_bad_gateway() -> Result<(), Error> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let proxy = ProxyServer::start().await?;
    let (_tcp, head) = connect(&proxy, &closed.to_string(), "").await?;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    let mut tcp = TcpStream::connect(proxy.addr()).await?;
    assert_eq!(socks_greet(&mut tcp, &[0]).await?, 0);
    assert_eq!(
        socks_connect(&mut tcp, &[1, 127, 0, 0, 1], closed.port()).await?.0,
        5,
        "connection refused"
    );
    assert_eq!((proxy.upstream_connects(), proxy.upstream_errors(), proxy.refused()), (2, 2, 0));
    assert_eq!((proxy.tunnels(), proxy.socks()), (0, 0));

    proxy.reset_counters();
    assert_eq!((proxy.upstream_errors(), proxy.connections(), proxy.seen().len()), (0, 0, 0));
    let addr = proxy.addr();
    drop(proxy);
    assert!(TcpStream::connect(addr).await.is_err(), "dropping the proxy closes its port");
    Ok(())
}
