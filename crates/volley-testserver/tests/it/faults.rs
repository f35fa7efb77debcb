//! `/status`, `/delay`, `/flaky`, `/reset`, `/redirect`.

use std::time::Duration;

use http::{StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;
use volley_testserver::{TestServer, pattern_bytes};

use crate::common::{client, get, h2_client, yield_until};

#[tokio::test]
async fn status_answers_the_code_and_optional_retry_after() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply = get(&client, &server.url("/status/418")).await;
    assert_eq!(reply.status, StatusCode::IM_A_TEAPOT);
    assert!(reply.body.is_empty());
    assert!(reply.headers.get("retry-after").is_none());

    let reply = get(&client, &server.url("/status/503?retry_after=7")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "7");

    // Garbage hints are passed through for parser tests.
    let reply = get(&client, &server.url("/status/429?retry_after=soon%20ish")).await;
    assert_eq!(reply.header("retry-after"), "soon ish");

    for bad in ["/status/100", "/status/199", "/status/600", "/status/abc", "/status/"] {
        let reply = get(&client, &server.url(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(server.endpoint_hits("status"), 8);
    assert_eq!(server.hits("/status/100"), 1);
}

#[tokio::test(start_paused = true)]
async fn delay_waits_on_tokio_time_and_counts_before_waiting() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let start = Instant::now();
    let reply = get(&client, &server.url("/delay/1500?x=1")).await;
    let elapsed = start.elapsed();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["args"]["x"], "1");
    assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1600), "{elapsed:?}");

    // The hit is counted when the head arrives, while the handler still sleeps.
    let start = Instant::now();
    let url = server.url("/delay/120000");
    let pending = tokio::spawn(async move { get(&client, &url).await });
    yield_until(|| server.hits("/delay/120000") == 1).await;
    assert!(!pending.is_finished());
    assert_eq!(start.elapsed(), Duration::ZERO);
    let reply = pending.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    // Clamped to 60 s.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(60) && elapsed < Duration::from_millis(60_100),
        "{elapsed:?}"
    );
    assert_eq!(server.endpoint_hits("delay"), 2);
}

#[tokio::test]
async fn delay_rejects_garbage() {
    let server = TestServer::start().await.unwrap();
    let reply = get(&client(), &server.url("/delay/-5")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(server.endpoint_hits("delay"), 1);
}

#[tokio::test]
async fn flaky_fails_n_times_per_key_then_succeeds() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut got = Vec::new();
    for _ in 0..4 {
        let reply = get(&client, &server.url("/flaky/2")).await;
        if reply.status != StatusCode::OK {
            assert_eq!(reply.json()["attempt"], got.len() + 1);
        }
        got.push(reply.status.as_u16());
    }
    assert_eq!(got, [503, 503, 200, 200]);
    assert_eq!(server.hits("/flaky/2"), 4);
    assert_eq!(server.endpoint_hits("flaky"), 4);

    // Keys and paths are counted separately; status and retry_after apply to failures.
    let a = get(&client, &server.url("/flaky/1?key=a&status=500&retry_after=3")).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.header("retry-after"), "3");
    let b = get(&client, &server.url("/flaky/1?key=b")).await;
    assert_eq!(b.status, StatusCode::SERVICE_UNAVAILABLE);
    let a = get(&client, &server.url("/flaky/1?key=a&status=500")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["args"]["key"], "a");
    let other_path = get(&client, &server.url("/flaky/1")).await;
    assert_eq!(other_path.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits("/flaky/1"), 4);
    assert_eq!(server.total_hits(), 8);

    let bad = get(&client, &server.url("/flaky/1?status=42")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

/// Reads `body` until it fails or ends: (bytes read, whether it failed).
async fn read_until_error(mut body: Incoming) -> (Vec<u8>, bool) {
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => read.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..])),
            Err(_) => return (read, true),
        }
    }
    (read, false)
}

#[tokio::test]
async fn reset_aborts_the_http1_connection_mid_body() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    for (query, after) in [("", 100), ("?after=5000", 5000), ("?after=0", 0)] {
        let response =
            client.get(server.url(&format!("/reset{query}")).parse().unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let promised: u64 = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
        assert_eq!(promised, (after + 1).max(1024));
        let (read, failed) = read_until_error(response.into_body()).await;
        assert!(failed, "body ended cleanly after {} bytes", read.len());
        assert_eq!(read.len(), after as usize);
        assert_eq!(read, pattern_bytes(after as usize));
    }
    assert_eq!(server.endpoint_hits("reset"), 3);
    // Each abort killed its connection.
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn reset_aborts_the_http2_stream() {
    let server = TestServer::start().await.unwrap();
    let client = h2_client();
    let response = client.get(server.url("/reset").parse().unwrap()).await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    let (read, failed) = read_until_error(response.into_body()).await;
    assert!(failed, "body ended cleanly after {} bytes", read.len());
    assert_eq!(read, pattern_bytes(100));
    // Only the stream was reset: the connection serves the next request.
    let reply = get(&client, &server.url("/get")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn redirect_chains_down_to_get() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut path = "/redirect/3".to_owned();
    let mut hops = 0;
    let reply = loop {
        let reply = get(&client, &server.url(&path)).await;
        if reply.status != StatusCode::FOUND {
            break reply;
        }
        hops += 1;
        path = reply.header("location").to_owned();
    };
    assert_eq!(hops, 3);
    assert_eq!(path, "/get");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(server.endpoint_hits("redirect"), 3);
    assert_eq!(server.hits("/redirect/1"), 1);
    assert_eq!(server.endpoint_hits("get"), 1);

    let zero = get(&client, &server.url("/redirect/0")).await;
    assert_eq!(zero.status, StatusCode::OK);
    assert_eq!(zero.json()["method"], "GET");
    let too_many = get(&client, &server.url("/redirect/101")).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    let max = get(&client, &server.url("/redirect/100")).await;
    assert_eq!(max.header("location"), "/redirect/99");
}
