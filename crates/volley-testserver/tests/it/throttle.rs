//! `/retry-after` and `/ratelimit`.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use volley_testserver::TestServer;

use crate::common::{Reply, client, get};

#[tokio::test]
async fn retry_after_seconds_rounds_up() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply = get(&client, &server.url("/retry-after/2")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("retry-after"), "2");
    assert_eq!(reply.json()["retry_after"], 2.0);
    let reply = get(&client, &server.url("/retry-after/1.2?form=seconds&status=503")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "2");
    assert!(reply.headers.get("retry-after-ms").is_none());
    assert_eq!(server.endpoint_hits("retry-after"), 2);
    assert_eq!(server.hits("/retry-after/2"), 1);
}

#[tokio::test]
async fn retry_after_date_is_an_http_date_about_secs_ahead() {
    let server = TestServer::start().await.unwrap();
    let reply = get(&client(), &server.url("/retry-after/2?form=date")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let date = httpdate::parse_http_date(reply.header("retry-after")).unwrap();
    let ahead = date.duration_since(SystemTime::now()).unwrap_or_default();
    // An HTTP-date has whole seconds, so "now + 2 s" truncates to 1-2 s ahead.
    assert!(ahead > Duration::from_millis(900) && ahead <= Duration::from_secs(2), "{ahead:?}");
}

#[tokio::test]
async fn retry_after_ms_forms_replace_retry_after() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply = get(&client, &server.url("/retry-after/1.5?form=ms")).await;
    assert_eq!(reply.header("retry-after-ms"), "1500");
    assert!(reply.headers.get("retry-after").is_none());
    let reply = get(&client, &server.url("/retry-after/0.25?form=x-ms")).await;
    assert_eq!(reply.header("x-ms-retry-after-ms"), "250");
    assert!(reply.headers.get("retry-after").is_none());
}

#[tokio::test]
async fn retry_after_times_throttles_first_k_per_key() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses
            .push(get(&client, &server.url("/retry-after/1?times=2&key=k")).await.status.as_u16());
    }
    assert_eq!(statuses, [429, 429, 200]);
    // Counted per key string, whatever the delay in the path.
    let reply = get(&client, &server.url("/retry-after/5?times=2&key=k")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["args"]["key"], "k");
    let reply = get(&client, &server.url("/retry-after/5?times=2&key=other")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    // Without times: always throttled.
    for _ in 0..3 {
        let reply = get(&client, &server.url("/retry-after/1")).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(server.endpoint_hits("retry-after"), 8);
}

#[tokio::test]
async fn retry_after_rejects_garbage() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    for bad in [
        "/retry-after/-1",
        "/retry-after/NaN",
        "/retry-after/inf",
        "/retry-after/x",
        "/retry-after/1?form=weeks",
        "/retry-after/1?status=99",
        "/retry-after/1?times=-2",
        "/retry-after/99999999999",
    ] {
        let reply = get(&client, &server.url(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(server.endpoint_hits("retry-after"), 8);
}

/// The draft-11 `RateLimit` field's `r` and `t`.
fn ratelimit_field(reply: &Reply) -> (u64, u64) {
    let field = reply.header("ratelimit");
    let rest = field.strip_prefix("\"default\";r=").unwrap_or_else(|| panic!("{field:?}"));
    let (r, t) = rest.split_once(";t=").unwrap();
    (r.parse().unwrap(), t.parse().unwrap())
}

#[tokio::test(start_paused = true)]
async fn ratelimit_allows_the_quota_then_429s_with_headers() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = server.url("/ratelimit?limit=2");
    let replies = [get(&client, &url).await, get(&client, &url).await, get(&client, &url).await];
    let statuses: Vec<_> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses, [200, 200, 429]);
    for (reply, remaining) in replies.iter().zip([1, 0, 0]) {
        assert_eq!(reply.header("ratelimit-policy"), "\"default\";q=2;w=1");
        assert_eq!(ratelimit_field(reply), (remaining, 1));
        assert_eq!(reply.header("ratelimit-limit"), "2");
        assert_eq!(reply.header("ratelimit-remaining"), remaining.to_string());
        assert_eq!(reply.header("ratelimit-reset"), "1");
        assert_eq!(reply.header("x-ratelimit-limit"), "2");
        assert_eq!(reply.header("x-ratelimit-remaining"), remaining.to_string());
        let epoch: u64 = reply.header("x-ratelimit-reset").parse().unwrap();
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert!(epoch > now && epoch <= now + 2, "{epoch} vs {now}");
    }
    assert!(replies[1].headers.get("retry-after").is_none());
    assert_eq!(replies[0].json()["method"], "GET");
    assert_eq!(replies[2].header("retry-after"), "1");
    assert_eq!(replies[2].json()["error"], "rate limited");
    assert_eq!(server.throttled(), 1);
    assert_eq!(server.endpoint_hits("ratelimit"), 3);

    // Another key has its own quota.
    let other = get(&client, &server.url("/ratelimit?limit=2&key=b")).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(server.throttled(), 1);
}

#[tokio::test(start_paused = true)]
async fn ratelimit_window_expires_on_tokio_time() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = server.url("/ratelimit?limit=1&window_ms=3000&key=w");
    assert_eq!(get(&client, &url).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let throttled = get(&client, &url).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.header("ratelimit-policy"), "\"default\";q=1;w=3");
    assert_eq!(ratelimit_field(&throttled), (0, 2));
    assert_eq!(throttled.header("retry-after"), "2");
    tokio::time::sleep(Duration::from_millis(1499)).await;
    assert_eq!(ratelimit_field(&get(&client, &url).await), (0, 1));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let fresh = get(&client, &url).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(ratelimit_field(&fresh), (0, 3));
    assert_eq!(server.throttled(), 2);
    assert_eq!(server.hits("/ratelimit"), 4);
}

#[tokio::test]
async fn ratelimit_rejects_bad_parameters() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    for bad in ["/ratelimit?window_ms=0", "/ratelimit?limit=-1", "/ratelimit?window_ms=86400001"] {
        assert_eq!(get(&client, &server.url(bad)).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(server.throttled(), 0);
}
