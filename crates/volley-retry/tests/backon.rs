//! Any backon builder works as a delay schedule (feature `backon`).
#![cfg(feature = "backon")]

mod common;

use std::time::Duration;

use backon::ExponentialBuilder;
use tokio::time::Instant;
use tower::ServiceExt;
use volley_retry::{Backoff, RetryInfo, RetryPolicy, StopReason};
use volley_testserver::TestServer;

#[tokio::test(start_paused = true)]
async fn a_backon_builder_sets_the_delays_and_can_end_the_retries() {
    let builder =
        ExponentialBuilder::default().with_min_delay(Duration::from_millis(100)).with_max_times(2);
    let backoff = Backoff::from_backon(builder);
    // backon computes with f32 factors: compare at millisecond resolution.
    let ms = |retry| backoff.delay(retry, Duration::ZERO).map(|d| d.as_millis());
    assert_eq!((ms(0), ms(1)), (Some(100), Some(200)));
    assert_eq!(backoff.delay(2, Duration::ZERO), None);

    let server = TestServer::start().await.unwrap();
    let svc = common::retrying(RetryPolicy::new().max_retries(5).backoff(backoff));
    let started = Instant::now();
    let res = svc.oneshot(common::get(server.url("/status/500"))).await.unwrap();
    // tokio timers round up to the next millisecond.
    assert!((300..=302).contains(&started.elapsed().as_millis()), "{:?}", started.elapsed());
    let info = res.extensions().get::<RetryInfo>().unwrap();
    assert_eq!(*info, RetryInfo { attempts: 3, stopped: Some(StopReason::ScheduleExhausted) });
    assert_eq!(server.hits("/status/500"), 3);
}
