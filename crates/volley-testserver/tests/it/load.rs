//! `/queue` and `/tail`.

use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;
use volley_testserver::TestServer;

use crate::common::{client, get};

#[tokio::test(start_paused = true)]
async fn queue_serves_capacity_at_a_time() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = server.url("/queue?capacity=2&service_ms=100&key=q");
    let start = Instant::now();
    // Six at once through two workers: three rounds of 100 ms.
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (client, url) = (client.clone(), url.clone());
        calls.spawn(async move { get(&client, &url).await });
    }
    let replies = calls.join_all().await;
    let elapsed = start.elapsed();
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(350),
        "{elapsed:?}"
    );
    let mut waits: Vec<u64> =
        replies.iter().map(|r| r.header("x-queue-wait-ms").parse().unwrap()).collect();
    waits.sort_unstable();
    assert_eq!(waits, [0, 0, 100, 100, 200, 200]);
    assert_eq!(server.endpoint_hits("queue"), 6);

    // Alone, a request takes the service time and waits for nothing.
    let start = Instant::now();
    let reply = get(&client, &url).await;
    assert_eq!(reply.header("x-queue-wait-ms"), "0");
    assert!(
        start.elapsed() >= Duration::from_millis(100)
            && start.elapsed() < Duration::from_millis(150)
    );

    for bad in ["/queue?capacity=0", "/queue?capacity=10001", "/queue?service_ms=x"] {
        assert_eq!(get(&client, &server.url(bad)).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(start_paused = true)]
async fn tail_slows_every_nth_request_per_key() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut slow = 0;
    for _ in 0..40 {
        let start = Instant::now();
        let reply = get(&client, &server.url("/tail?every=20&slow_ms=1000&fast_ms=5&key=t")).await;
        assert_eq!(reply.status, StatusCode::OK);
        let took = start.elapsed();
        if took >= Duration::from_secs(1) {
            slow += 1;
        } else {
            assert!(
                took >= Duration::from_millis(5) && took < Duration::from_millis(50),
                "{took:?}"
            );
        }
    }
    assert_eq!(slow, 2, "requests 20 and 40");
    // Another key counts from 1.
    let start = Instant::now();
    get(&client, &server.url("/tail?every=2&slow_ms=300&key=other")).await;
    assert!(start.elapsed() < Duration::from_millis(50));
    get(&client, &server.url("/tail?every=2&slow_ms=300&key=other")).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(get(&client, &server.url("/tail?every=0")).await.status, StatusCode::BAD_REQUEST);
}
