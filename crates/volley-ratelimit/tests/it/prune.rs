//! Idle keys are dropped lazily, without a background task.

use std::time::Duration;

use tower::{ServiceBuilder, ServiceExt};
use volley_ratelimit::RateLimitLayer;

use crate::common::{Fake, get};

#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_idle_keys_are_pruned() {
    const KEYS: usize = 100_000;
    let fake = Fake::default();
    // max_wait(0): calls over the rate fail at once, so no virtual time passes by accident.
    let layer = RateLimitLayer::per_second(10).max_wait(Duration::ZERO);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(fake.service());
    for i in 0..KEYS {
        svc.clone().oneshot(get(&format!("http://host-{i}.example/"))).await.unwrap();
    }
    assert_eq!(layer.tracked_keys(), KEYS);
    assert_eq!(fake.total(), KEYS);

    // Still fresh: more calls do not drop anything.
    for _ in 0..2048 {
        let _ = svc.clone().oneshot(get("http://host-0.example/")).await;
    }
    assert_eq!(layer.tracked_keys(), KEYS);

    // Once the sweep interval (10 s) has passed, one of the next 1024 calls sweeps.
    tokio::time::advance(Duration::from_secs(10)).await;
    let mut calls = 0;
    while layer.tracked_keys() > 1 {
        let _ = svc.clone().oneshot(get("http://busy.example/")).await;
        calls += 1;
        assert!(calls <= 1024, "no sweep after {calls} calls");
    }
    // Only the key in use survives.
    assert_eq!(layer.tracked_keys(), 1);
    assert!(calls >= 1);
}
