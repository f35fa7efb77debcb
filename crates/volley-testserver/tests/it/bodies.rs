//! `/bytes`, `/stream`, `/drip`.

use std::time::Duration;

use http::StatusCode;
use http_body_util::BodyExt;
use tokio::time::Instant;
use volley_testserver::{TestServer, pattern_bytes};

use crate::common::{client, get};

#[tokio::test]
async fn bytes_sends_the_pattern_with_content_length() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    // Below, at and above the cached 64 KiB chunk.
    for n in [0, 1, 300, 65_536, 200_003] {
        let reply = get(&client, &server.url(&format!("/bytes/{n}"))).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-length"), n.to_string());
        assert_eq!(reply.header("content-type"), "application/octet-stream");
        assert_eq!(reply.body.len(), n);
        assert_eq!(reply.body, pattern_bytes(n), "n = {n}");
    }
    assert_eq!(server.endpoint_hits("bytes"), 5);
    assert_eq!(server.hits("/bytes/300"), 1);
}

#[test]
fn pattern_is_the_documented_formula() {
    let bytes = pattern_bytes(70_000);
    for (i, byte) in bytes.iter().enumerate() {
        assert_eq!(*byte, ((i * 31 + 7) % 256) as u8, "byte {i}");
    }
}

#[tokio::test]
async fn bytes_rejects_oversized_and_garbage_counts() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    for bad in ["/bytes/67108865", "/bytes/-1", "/bytes/1e3"] {
        let reply = get(&client, &server.url(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(server.endpoint_hits("bytes"), 3);
}

#[tokio::test]
async fn stream_sends_n_json_lines_one_frame_each() {
    let server = TestServer::start().await.unwrap();
    let response = client().get(server.url("/stream/5?tag=t").parse().unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-length").is_none());
    let mut body = response.into_body();
    let mut lines = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            lines.push(data);
        }
    }
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line.last(), Some(&b'\n'));
        let json: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert_eq!(json["id"], i);
        assert_eq!(json["args"]["tag"], "t");
        assert_eq!(json["url"], server.url("/stream/5?tag=t"));
    }
    assert_eq!(server.endpoint_hits("stream"), 1);
}

#[tokio::test]
async fn stream_is_capped_at_ten_thousand_lines() {
    let server = TestServer::start().await.unwrap();
    let reply = get(&client(), &server.url("/stream/10001")).await;
    let lines: Vec<_> = reply.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 10_000);
    let last: serde_json::Value = serde_json::from_slice(lines[9_999]).unwrap();
    assert_eq!(last["id"], 9_999);
}

#[tokio::test(start_paused = true)]
async fn drip_spreads_bytes_over_the_duration() {
    let server = TestServer::start().await.unwrap();
    let start = Instant::now();
    let url = server.url("/drip?numbytes=5&duration_ms=1000&delay_ms=300&code=202");
    let response = client().get(url.parse().unwrap()).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["content-length"], "5");

    let mut body = response.into_body();
    let mut arrivals = Vec::new();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            bytes.extend_from_slice(&data);
            arrivals.push((start.elapsed() - Duration::from_millis(300)).as_millis());
        }
    }
    assert_eq!(bytes, b"*****");
    assert_eq!(arrivals, [200, 400, 600, 800, 1000]);
    assert_eq!(server.endpoint_hits("drip"), 1);
}

#[tokio::test(start_paused = true)]
async fn drip_defaults_and_fast_rates() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let start = Instant::now();
    let reply = get(&client, &server.url("/drip")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "*".repeat(10));
    assert_eq!(start.elapsed(), Duration::from_millis(2000));

    // Faster than the timer's millisecond: several bytes per frame, still on time.
    let start = Instant::now();
    let reply = get(&client, &server.url("/drip?numbytes=10000&duration_ms=50")).await;
    assert_eq!(reply.body.len(), 10_000);
    assert!(reply.body.iter().all(|b| *b == b'*'));
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(50) && elapsed <= Duration::from_millis(52),
        "{elapsed:?}"
    );

    let reply = get(&client, &server.url("/drip?numbytes=x")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = get(&client, &server.url("/drip?code=700")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(server.endpoint_hits("drip"), 4);
}
