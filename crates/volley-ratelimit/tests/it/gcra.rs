//! The GCRA admits exactly what its formula predicts, per key, shared by every clone.

use std::time::Duration;

use tokio::time::Instant;
use tower::ServiceBuilder;
use volley_core::{Deadline, Key, SingleKey};
use volley_ratelimit::{RateLimitLayer, WaitBound};
use volley_testserver::TestServer;

use crate::common::{Fake, client, drive, gcra_admitted, origin};

const RATE: u32 = 50;
const BURST: u32 = 5;
const WINDOW: Duration = Duration::from_secs(10);

#[test]
fn the_formula_is_burst_plus_one_per_interval_in_a_half_open_window() {
    // Tokens at 0 (×5), 20ms, 40ms, …, 9.98s; the one at exactly 10s is past the window.
    assert_eq!(gcra_admitted(RATE, BURST, WINDOW), 5 + 499);
    assert_eq!(gcra_admitted(1, 1, Duration::from_millis(2500)), 3);
}

#[tokio::test(start_paused = true)]
async fn admits_the_gcra_count_for_each_key_independently() {
    let fake = Fake::default();
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(RATE).burst(BURST))
        .service(fake.service());
    let start = Instant::now();
    let deadline = Deadline::at(start + WINDOW);

    let a = tokio::spawn(drive(svc.clone(), "http://a.example/x".into(), deadline));
    let b = tokio::spawn(drive(svc.clone(), "http://b.example/y".into(), deadline));
    let (sent_a, refused_a) = a.await.unwrap();
    let (sent_b, refused_b) = b.await.unwrap();

    let expected = gcra_admitted(RATE, BURST, WINDOW);
    assert_eq!((sent_a, sent_b), (expected, expected));
    assert_eq!(fake.hits("http://a.example"), expected);
    assert_eq!(fake.hits("http://b.example"), expected);
    // Every arrival conforms: the nth request after the burst arrives at n·20ms, not before.
    let arrivals = fake.arrivals("http://a.example");
    for (i, at) in arrivals.iter().enumerate().skip(BURST as usize) {
        let slot = Duration::from_millis(20) * (i as u32 + 1 - BURST);
        assert!(at.duration_since(start) >= slot, "request {i} at {:?}", at.duration_since(start));
    }
    // The next token would come exactly at the deadline: refused without sleeping into it.
    assert_eq!(refused_a.key(), &Key::new("http://a.example"));
    assert_eq!(refused_b.key(), &Key::new("http://b.example"));
    let WaitBound::Deadline { remaining } = refused_a.bound() else { panic!("{refused_a}") };
    assert_eq!(refused_a.wait(), remaining);
    assert!(refused_a.wait() <= Duration::from_millis(20), "{refused_a}");
    assert!(Instant::now() < start + WINDOW);
    assert_eq!(
        refused_a.to_string(),
        format!(
            "rate limit wait of {:?} for http://a.example exceeds deadline in {remaining:?}",
            refused_a.wait()
        )
    );
}

#[tokio::test(start_paused = true)]
async fn all_clones_share_one_limit() {
    let fake = Fake::default();
    let layer = RateLimitLayer::per_second(RATE).burst(BURST);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    let deadline = Deadline::at(Instant::now() + WINDOW);

    // Ten clones of the service, and one service made by a clone of the layer.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        tasks.push(tokio::spawn(drive(svc.clone(), "http://api.example/".into(), deadline)));
    }
    let other = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    tasks.push(tokio::spawn(drive(other, "http://api.example/".into(), deadline)));
    let mut per_clone = Vec::new();
    for task in tasks {
        per_clone.push(task.await.unwrap().0);
    }

    let expected = gcra_admitted(RATE, BURST, WINDOW);
    assert_eq!(per_clone.iter().sum::<usize>(), expected, "per clone: {per_clone:?}");
    assert_eq!(fake.hits("http://api.example"), expected);
    // The calls really interleaved, and no clone starved: waiters that sleep together get
    // a random offset, so the last winner does not win every token.
    assert!(per_clone.iter().all(|&n| n > 0), "per clone: {per_clone:?}");
    assert_eq!(layer.tracked_keys(), 1);
}

#[tokio::test(start_paused = true)]
async fn global_mode_puts_every_host_in_one_bucket() {
    let fake = Fake::default();
    let layer = RateLimitLayer::per_second(RATE).burst(BURST).global();
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    let deadline = Deadline::at(Instant::now() + WINDOW);
    let a = tokio::spawn(drive(svc.clone(), "http://a.example/".into(), deadline));
    let b = tokio::spawn(drive(svc.clone(), "http://b.example/".into(), deadline));
    let (sent_a, refused) = a.await.unwrap();
    let (sent_b, _) = b.await.unwrap();

    assert_eq!(sent_a + sent_b, gcra_admitted(RATE, BURST, WINDOW));
    assert_eq!(fake.total(), sent_a + sent_b);
    assert!(sent_a > 0 && sent_b > 0, "{sent_a} + {sent_b}");
    assert_eq!(refused.key(), &Key::new("*"));
    assert_eq!(layer.tracked_keys(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_key_function_partitions_by_anything() {
    let fake = Fake::default();
    let layer = RateLimitLayer::per_second(1).key_fn(SingleKey::new("tenant"));
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    let deadline = Deadline::at(Instant::now() + Duration::from_millis(3500));
    let a = tokio::spawn(drive(svc.clone(), "http://a.example/".into(), deadline));
    let b = tokio::spawn(drive(svc.clone(), "http://b.example/".into(), deadline));
    let (sent_a, refused) = a.await.unwrap();
    let (sent_b, _) = b.await.unwrap();
    // One key for both hosts: 1 per second at 0, 1, 2, 3 s.
    assert_eq!(sent_a + sent_b, gcra_admitted(1, 1, Duration::from_millis(3500)));
    assert_eq!(sent_a + sent_b, 4);
    assert_eq!(refused.key(), &Key::new("tenant"));
}

#[tokio::test(start_paused = true)]
async fn admits_the_gcra_count_at_a_real_server() {
    let server = TestServer::start().await.unwrap();
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::per_second(RATE).burst(BURST))
        .service(client());
    let start = Instant::now();
    let (sent, refused) =
        drive_loopback(svc, server.url("/get"), Deadline::at(start + WINDOW)).await;

    let expected = gcra_admitted(RATE, BURST, WINDOW);
    assert_eq!(sent, expected);
    assert_eq!(server.hits("/get"), expected as u64);
    assert_eq!(refused.key(), &origin(&server));
}

/// `drive` for the loopback client (an empty body instead of `()`).
async fn drive_loopback<S, B>(
    mut svc: S,
    uri: String,
    deadline: Deadline,
) -> (usize, volley_ratelimit::RateLimited)
where
    S: tower::Service<
            http::Request<http_body_util::Empty<bytes::Bytes>>,
            Response = http::Response<B>,
            Error = volley_core::BoxError,
        >,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut sent = 0;
    loop {
        let mut req = crate::common::loopback(&uri);
        deadline.insert_into(&mut req);
        match svc.ready().await.unwrap().call(req).await {
            Ok(res) => {
                assert_eq!(res.status(), 200);
                res.into_body().collect().await.unwrap();
                sent += 1;
            }
            Err(err) => return (sent, crate::common::rate_limited(&err)),
        }
    }
}
