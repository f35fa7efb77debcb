//! The client's documented defaults and helpers, over loopback to the test server.

use std::time::Duration;

use futures_util::StreamExt;
use http::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;
use volley::{Client, Kind, Multipart};
use volley_testserver::TestServer;

#[tokio::test(start_paused = true)]
async fn the_default_total_timeout_is_30_seconds_and_attempts_10() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let started = Instant::now();
    let err = client.get(server.url("/delay/60000")).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.kind(), Kind::Timeout);
    // Attempts of 10 s each were retried until the 30 s budget ran out.
    assert_eq!(started.elapsed().as_secs(), 30);
    assert!(server.hits("/delay/60000") >= 3, "{}", server.hits("/delay/60000"));
}

#[tokio::test(start_paused = true)]
async fn a_per_request_timeout_overrides_the_clients() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().timeout(Some(Duration::from_secs(1))).build().unwrap();
    // Longer than the client's total: the request's own budget wins.
    let res =
        client.get(server.url("/delay/2000")).timeout(Duration::from_secs(5)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Shorter: fails at the request's budget.
    let started = Instant::now();
    let err = client
        .get(server.url("/delay/2000"))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(started.elapsed().as_millis(), 300);
    // And without one, the client's 1 s applies.
    let err = client.get(server.url("/delay/2000")).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn three_retries_by_default() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let res = client.get(server.url("/flaky/3")).send().await.unwrap();
    assert_eq!((res.status(), res.attempts()), (StatusCode::OK, 4));
    let res = client.get(server.url("/flaky/4?key=more")).send().await.unwrap();
    assert_eq!((res.status(), res.attempts()), (StatusCode::SERVICE_UNAVAILABLE, 4));
    let err = client
        .get(server.url("/flaky/9?key=again"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!((err.status(), err.attempts()), (Some(StatusCode::SERVICE_UNAVAILABLE), Some(4)));
    assert_eq!(server.endpoint_hits("flaky"), 12);
}

#[tokio::test(start_paused = true)]
async fn a_global_concurrency_of_100_by_default() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let calls = (0..150).map(|_| {
        let client = client.clone();
        let url = server.url("/delay/1000");
        async move { client.get(url).send().await.unwrap().bytes().await.unwrap() }
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(server.hits("/delay/1000"), 150);
    assert_eq!(server.max_in_flight(), 100);
}

#[tokio::test]
async fn request_and_response_helpers() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().user_agent("volley-tests/1").build().unwrap();

    let echo: Value = client
        .post(server.url("/post"))
        .query(&[("page", "2")])
        .header("x-trace", "abc")
        .json(&json!({"name": "Alice", "age": 30}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["json"], json!({"name": "Alice", "age": 30}));
    assert_eq!(echo["args"]["page"], "2");
    assert_eq!(echo["headers"]["x-trace"], "abc");
    assert_eq!(echo["headers"]["user-agent"], "volley-tests/1");
    assert_eq!(echo["headers"]["content-type"], "application/json");

    let form: Value = client
        .post(server.url("/post"))
        .form(&[("a", "1"), ("b", "x y")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["data"], "a=1&b=x+y");

    let upload =
        Multipart::new().text("title", "report").file("file", "r.csv", "text/csv", b"a,b\n1,2\n");
    let multipart: Value = client
        .post(server.url("/post"))
        .multipart(upload)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = multipart["data"].as_str().unwrap();
    assert!(data.contains("name=\"title\"\r\n\r\nreport\r\n"), "{data}");
    assert!(
        data.contains("filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n"),
        "{data}"
    );

    let bearer = client.get(server.url("/bearer")).bearer_auth("t0ken").send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let basic =
        client.get(server.url("/basic-auth/u/p")).basic_auth("u", Some("p")).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let wrong = client
        .get(server.url("/basic-auth/u/p"))
        .basic_auth("u", Some("nope"))
        .send()
        .await
        .unwrap();
    let err = wrong.error_for_status().unwrap_err();
    assert_eq!((err.kind(), err.status()), (Kind::Status, Some(StatusCode::UNAUTHORIZED)));

    let text = client.get(server.url("/json")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("slideshow"));
}

#[tokio::test]
async fn streaming_both_ways() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 1000])));
    let echo: Value = client
        .post(server.url("/post"))
        .body_stream(futures_util::stream::iter(chunks))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["bytes"], 100_000);

    let res = client.get(server.url("/bytes/1000000")).send().await.unwrap();
    let mut stream = Box::pin(res.bytes_stream());
    let (mut total, mut chunks) = (0, 0);
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len();
        chunks += 1;
    }
    assert_eq!(total, 1_000_000);
    assert!(chunks > 1, "the body arrived in pieces, not buffered whole");
}

#[tokio::test]
async fn errors_say_what_went_wrong() {
    let client = Client::new().unwrap();
    let err = client.get("not a url").send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Request);
    assert!(err.to_string().contains("not a url"), "{err}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder().retries(0).build().unwrap();
    let err = client.get(format!("http://{addr}/")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(err.to_string().contains("tcp connect error"), "{err}");

    let bad = Client::builder().concurrency(Some(0)).build().unwrap_err();
    assert_eq!(bad.kind(), Kind::Config);
    assert_eq!(bad.to_string(), "a concurrency limit of 0 would admit nothing; use at least 1");
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_comes_back_as_an_error_the_caller_can_read() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let res = client.get(server.url("/retry-after/3600")).send().await.unwrap();
    assert_eq!(res.attempts(), 1);
    assert!(matches!(res.retry_stopped(), Some(volley::StopReason::HintAboveCap { .. })));
    let err = res.error_for_status().unwrap_err();
    assert!(err.is_throttled());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test(start_paused = true)]
async fn retried_503s_with_small_bodies_keep_their_connection() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let res = client.get(server.url("/flaky/2?key=reuse")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.attempts(), 3);
    res.bytes().await.unwrap();
    assert_eq!(server.hits("/flaky/2"), 3);
    // The retry layer drops a failed response unread, but hyper had already read its small
    // body with the head, so the connection went back to the pool and served all three.
    assert_eq!(server.connections(), 1);
}
