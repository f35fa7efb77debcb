//! The fault server's raw behaviours, over plain TCP.

use std::io::ErrorKind;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use volley_testserver::fault::{Fault, FaultServer};

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";

#[tokio::test]
async fn refuse_refuses_every_connect() {
    let server = FaultServer::start(Fault::Refuse).await.unwrap();
    let err = TcpStream::connect(server.addr()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!((server.connections(), server.requests()), (0, 0));
}

#[tokio::test]
async fn respond_answers_every_request_on_one_connection() {
    let server = FaultServer::start(Fault::Respond {
        status: 429,
        headers: vec![("retry-after".into(), "7".into())],
    })
    .await
    .unwrap();
    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    // A POST with a body, then a GET, in one write: the body must not be read as a head.
    tcp.write_all(b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello").await.unwrap();
    tcp.write_all(GET).await.unwrap();
    let expected = b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nretry-after: 7\r\n\r\n";
    let mut answers = vec![0; expected.len() * 2];
    tcp.read_exact(&mut answers).await.unwrap();
    assert_eq!(&answers[..expected.len()], expected);
    assert_eq!(&answers[expected.len()..], expected);
    assert_eq!((server.connections(), server.requests()), (1, 2));
}

#[tokio::test]
async fn an_endless_body_stops_at_its_cap_and_counts_what_it_wrote() {
    let cap = 4 * 64 * 1024;
    let server = FaultServer::start(Fault::EndlessBody { cap }).await.unwrap();
    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(GET).await.unwrap();
    let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    // Four chunks of 64 KiB, each framed by `10000\r\n` and `\r\n`.
    let mut answer = vec![0; head.len() + 4 * (7 + 64 * 1024 + 2)];
    tcp.read_exact(&mut answer).await.unwrap();
    assert!(answer.starts_with(head));
    assert_eq!(server.body_bytes_written(), cap);
}

#[tokio::test]
async fn reset_mid_body_sends_part_of_the_body_then_a_reset() {
    let server = FaultServer::start(Fault::ResetMidBody).await.unwrap();
    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(GET).await.unwrap();
    let mut answer = Vec::new();
    let err = loop {
        let mut buf = [0; 4096];
        match tcp.read(&mut buf).await {
            Ok(0) => panic!("a clean close after {} bytes, not a reset", answer.len()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(err) => break err,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n";
    assert_eq!(answer.len(), head.len() + 1000);
    assert_eq!(server.body_bytes_written(), 1000);
}
