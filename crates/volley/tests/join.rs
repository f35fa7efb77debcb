//! The fan-out helper: bounded in flight, ordered results, fail-fast, cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use http::{Request, Response};
use serde_json::Value;
use volley::join::{Fanout, Progress};
use volley::{Client, Kind};
use volley_testserver::TestServer;

#[tokio::test(start_paused = true)]
async fn ten_thousand_requests_twenty_at_a_time_in_input_order() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let requests: Vec<_> = (0..10_000)
        .map(|i| client.get(server.url(&format!("/delay/5?i={i}"))).build().unwrap())
        .collect();
    let fanout = Fanout::new(client, 20).unwrap();
    let results = fanout
        .ordered(requests, |res| async move {
            let echo: Value = volley::Response::from(res).json().await?;
            Ok::<_, volley::Error>(echo["args"]["i"].as_str().unwrap_or_default().to_owned())
        })
        .await;
    assert_eq!(results.len(), 10_000);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.as_ref().unwrap(), &i.to_string());
    }
    assert_eq!(server.hits("/delay/5"), 10_000);
    assert_eq!(server.max_in_flight(), 20);
}

#[tokio::test(start_paused = true)]
async fn request_builders_fan_out_lazily_into_responses() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let builder = client.clone();
    let base = server.url("/bytes/");
    let requests = (0..200).map(move |i| builder.get(format!("{base}{i}")));
    let sizes = Fanout::new(client, 8)
        .unwrap()
        .ordered(requests, |res: volley::Response| async move {
            Ok::<_, volley::Error>(res.bytes().await?.len())
        })
        .await;
    let sizes: Vec<usize> = sizes.into_iter().map(Result::unwrap).collect();
    assert_eq!(sizes, (0..200).collect::<Vec<_>>());
    assert!(server.max_in_flight() <= 8);
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_the_rest() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().retries(0).build().unwrap();
    let requests: Vec<_> = (0..1000)
        .map(|i| {
            let path = if i == 30 { "/status/500".to_owned() } else { format!("/delay/100?i={i}") };
            client.get(server.url(&path)).build().unwrap()
        })
        .collect();
    let fanout = Fanout::new(client, 10).unwrap();
    let err = fanout
        .fail_fast(requests, |res| async move {
            volley::Response::from(res).error_for_status()?.bytes().await
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Status);
    let hits = server.total_hits();
    assert!(hits < 100, "stopped soon after the failure, not after 1000 requests: {hits}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(server.total_hits(), hits, "nothing was started after the failure");
}

/// A fake service that counts items alive (started and not yet finished or dropped).
fn counting_service(
    alive: Arc<AtomicUsize>,
    delay: Duration,
) -> impl tower::Service<
    Request<()>,
    Response = Response<()>,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
+ Send {
    tower::service_fn(move |_req: Request<()>| {
        let guard = AliveGuard::new(alive.clone());
        async move {
            tokio::time::sleep(delay).await;
            drop(guard);
            Ok(Response::new(()))
        }
    })
}

struct AliveGuard(Arc<AtomicUsize>);

impl AliveGuard {
    fn new(alive: Arc<AtomicUsize>) -> Self {
        alive.fetch_add(1, Ordering::SeqCst);
        Self(alive)
    }
}

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_midway_leaves_nothing_running() {
    let alive = Arc::new(AtomicUsize::new(0));
    let fanout =
        Fanout::new(counting_service(alive.clone(), Duration::from_millis(100)), 16).unwrap();
    let requests = (0..1_000_000).map(|_| Request::new(()));
    let mut stream = fanout.unordered(requests, |_res| async { Ok::<_, volley::Error>(()) });
    for _ in 0..50 {
        stream.next().await.unwrap().1.unwrap();
    }
    assert_eq!(stream.in_flight(), 16);
    tokio::task::yield_now().await; // let the newest tasks start their calls
    let before = alive.load(Ordering::SeqCst);
    assert!(before > 0 && before <= 16, "{before} calls alive");
    drop(stream);
    tokio::task::yield_now().await;
    assert_eq!(alive.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_does_not_stall_the_items() {
    let alive = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let fanout = Fanout::new(counting_service(alive, Duration::from_millis(10)), 4).unwrap();
    let done = finished.clone();
    let mut stream = fanout.unordered((0..100).map(|_| Request::new(())), move |_res| {
        let done = done.clone();
        async move {
            done.fetch_add(1, Ordering::SeqCst);
            Ok::<_, volley::Error>(())
        }
    });
    stream.next().await.unwrap().1.unwrap();
    // The consumer is busy for a second; the four items in flight finish meanwhile.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(finished.load(Ordering::SeqCst), 1 + 4);
}

#[tokio::test]
async fn zero_in_flight_is_an_error_not_a_hang() {
    let err = Fanout::new(
        tower::service_fn(|_: Request<()>| async { Ok::<_, std::convert::Infallible>(()) }),
        0,
    )
    .unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert_eq!(err.to_string(), "fan-out limit must be at least 1, got 0");
}

#[tokio::test(start_paused = true)]
async fn ordered_keeps_errors_in_place_and_reports_progress() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().retries(0).build().unwrap();
    let paths = ["/get", "/status/404", "/json", "/status/500", "/get"];
    let requests: Vec<_> =
        paths.iter().map(|p| client.get(server.url(p)).build().unwrap()).collect();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let fanout =
        Fanout::new(client, 2).unwrap().on_progress(move |p| record.lock().unwrap().push(p));
    let results = fanout
        .ordered(requests, |res| async move {
            volley::Response::from(res).error_for_status()?.bytes().await
        })
        .await;
    let statuses: Vec<_> =
        results.iter().map(|r| r.as_ref().err().and_then(volley::Error::status)).collect();
    assert_eq!(
        statuses,
        [
            None,
            Some(http::StatusCode::NOT_FOUND),
            None,
            Some(http::StatusCode::INTERNAL_SERVER_ERROR),
            None
        ]
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.last(), Some(&Progress { done: 5, total: Some(5) }));
}
