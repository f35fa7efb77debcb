//! The retry budget bounds what an outage can multiply.

mod common;

use std::time::Duration;

use futures_util::future::join_all;
use http::StatusCode;
use tower::ServiceExt;
use volley_retry::{Backoff, RetryBudget, RetryPolicy};
use volley_testserver::TestServer;

use common::{get, retrying};

#[tokio::test(start_paused = true)]
async fn a_thousand_failing_requests_stay_within_the_budget() {
    let server = TestServer::start().await.unwrap();
    let svc = retrying(RetryPolicy::new().backoff(Backoff::constant(Duration::from_millis(1))));
    // Ten clients sharing one layer (clones), 100 requests each.
    let clients = (0..10).map(|_| {
        let svc = svc.clone();
        let url = server.url("/status/503");
        async move {
            for _ in 0..100 {
                let res = svc.clone().oneshot(get(url.clone())).await.unwrap();
                assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    });
    join_all(clients).await;

    let budget = RetryBudget::default();
    let floor = u64::from(budget.min_per_sec()) * budget.ttl().as_secs();
    let ceiling = 1000 + (1000.0 * budget.retry_ratio()) as u64 + floor;
    let attempts = server.hits("/status/503");
    assert!(attempts <= ceiling, "{attempts} attempts, budget allows {ceiling}");
    // Without a budget this would be 4,000 attempts; the budget was used, not bypassed.
    assert!(attempts >= ceiling - 10, "{attempts} attempts, expected close to {ceiling}");
}

#[tokio::test(start_paused = true)]
async fn without_a_budget_every_failure_is_retried() {
    let server = TestServer::start().await.unwrap();
    let policy =
        RetryPolicy::new().no_budget().backoff(Backoff::constant(Duration::from_millis(1)));
    let svc = retrying(policy);
    for _ in 0..50 {
        svc.clone().oneshot(get(server.url("/status/500"))).await.unwrap();
    }
    assert_eq!(server.hits("/status/500"), 50 * 4);
}

#[test]
fn invalid_budgets_are_refused() {
    let err = RetryBudget::new(Duration::from_millis(10), 10, 0.2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid retry configuration: retry budget window 10ms is outside 1s..=60s"
    );
    assert!(RetryBudget::new(Duration::from_secs(10), 10, -1.0).is_err());
    assert!(RetryBudget::new(Duration::from_secs(10), 10, f32::NAN).is_err());
    assert!(RetryBudget::new(Duration::from_secs(10), u32::MAX, 0.2).is_err());
    assert!(RetryBudget::new(Duration::from_secs(60), 0, 0.0).is_ok());
}

#[tokio::test]
async fn budgets_of_idle_hosts_are_dropped() {
    use http::{Request, Response};
    use volley_retry::{ReplayBody, RetryLayer};

    let layer = RetryLayer::new(RetryPolicy::new());
    let svc = tower::ServiceBuilder::new().layer(layer.clone()).service(tower::service_fn(
        |_req: Request<ReplayBody<String>>| async {
            Ok::<_, std::convert::Infallible>(Response::new(()))
        },
    ));
    for i in 0..20_000 {
        let req = Request::get(format!("http://host-{i}.example/")).body(String::new()).unwrap();
        svc.clone().oneshot(req).await.unwrap();
    }
    // A crawler's 20,000 hosts: only the recently used ones keep a budget (at most twice the
    // 4,096-request idle horizon between sweeps).
    let tracked = layer.tracked_budgets();
    assert!((4_096..=8_192).contains(&tracked), "{tracked} budgets tracked");
}
