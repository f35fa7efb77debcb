//! Connections, counters, shutdown and the binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use http::StatusCode;
use tokio::io::AsyncReadExt;
use volley_testserver::TestServer;

use crate::common::{client, get, unpooled_client};

#[tokio::test]
async fn connections_show_pool_reuse() {
    let server = TestServer::start().await.unwrap();
    let pooled = client();
    for _ in 0..3 {
        assert_eq!(get(&pooled, &server.url("/get")).await.status, StatusCode::OK);
    }
    assert_eq!(server.connections(), 1);
    let unpooled = unpooled_client();
    for _ in 0..3 {
        assert_eq!(get(&unpooled, &server.url("/get")).await.status, StatusCode::OK);
    }
    assert_eq!(server.connections(), 4);
    assert_eq!(server.total_hits(), 6);
}

#[tokio::test]
async fn dropping_the_server_refuses_new_connections() {
    let server = TestServer::start().await.unwrap();
    let url = server.url("/get");
    let pooled = client();
    assert_eq!(get(&pooled, &url).await.status, StatusCode::OK);
    let addr = server.addr();
    drop(server);

    // Refused at once, before the runtime has run the aborted accept task:
    // a blocking connect here gives that task no chance to run first.
    let refused = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    let err = client().get(url.parse().unwrap()).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // The pooled connection is closed too: the request fails one way or another.
    assert!(pooled.get(url.parse().unwrap()).await.is_err());
}

#[tokio::test]
async fn dropping_the_server_closes_open_connections() {
    let server = TestServer::start().await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    crate::common::yield_until(|| server.connections() == 1).await;
    drop(server);
    let mut buf = [0; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    // EOF or a reset, not a timeout.
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
}

#[tokio::test]
async fn reset_counters_forgets_hits_and_keyed_state() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    assert_eq!(get(&client, &server.url("/flaky/1")).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        get(&client, &server.url("/ratelimit?limit=0")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(server.total_hits(), 2);
    assert_eq!(server.throttled(), 1);
    server.reset_counters();
    assert_eq!(server.total_hits(), 0);
    assert_eq!(server.hits("/flaky/1"), 0);
    assert_eq!(server.endpoint_hits("flaky"), 0);
    assert_eq!(server.throttled(), 0);
    assert_eq!(server.connections(), 0);
    // The flaky key starts over.
    assert_eq!(get(&client, &server.url("/flaky/1")).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits("/flaky/1"), 1);
    assert_eq!(server.endpoint_hits("no-such-endpoint"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_all_counted() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = client.clone();
        let url = server.url(&format!("/anything/{}", i % 5));
        tasks.spawn(async move { get(&client, &url).await.status });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(server.total_hits(), 50);
    assert_eq!(server.endpoint_hits("anything"), 50);
    assert_eq!(server.hits("/anything/3"), 10);
    assert!(server.connections() >= 1 && server.connections() <= 50);
}

#[test]
fn server_can_be_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<TestServer>();
}

#[tokio::test]
async fn bind_url_and_debug() {
    let server = TestServer::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let port = server.addr().port();
    assert_ne!(port, 0);
    assert_eq!(server.url("/get?a=1"), format!("http://127.0.0.1:{port}/get?a=1"));
    assert_eq!(server.url("get"), format!("http://127.0.0.1:{port}/get"));
    let debug = format!("{server:?}");
    assert!(debug.contains(&format!("127.0.0.1:{port}")), "{debug}");
    // The port is taken while the server lives.
    let again = TestServer::bind(server.addr()).await;
    assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn binary_rejects_bad_arguments() {
    for args in [&["--port", "http"][..], &["--port"], &["--bogus"], &["--port=70000"]] {
        let output =
            Command::new(env!("CARGO_BIN_EXE_volley-testserver")).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("volley-testserver: "), "{stderr}");
    }
}

#[test]
fn binary_serves_until_killed() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley-testserver"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let served = (|| {
        let addr = line.trim().strip_prefix("listening on http://")?;
        let mut stream = std::net::TcpStream::connect(addr).ok()?;
        stream
            .write_all(b"GET /status/204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response)
    })();
    child.kill().unwrap();
    child.wait().unwrap();
    let response = served.unwrap_or_else(|| panic!("no response; first line: {line:?}"));
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
}
