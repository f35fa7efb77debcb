//! The cookie layer around the real hyper-util client, against a server on 127.0.0.1.

mod common;

use std::sync::Arc;

use common::{CookieServer, client, get, set_url};
use serde_json::json;
use url::Url;
use volley_cookies::{CookieLayer, Jar, MAX_COOKIE_BYTES};
use volley_testserver::TestServer;

fn names(jar: &Jar) -> Vec<String> {
    jar.snapshot().iter().map(|c| c.name().to_owned()).collect()
}

#[tokio::test]
async fn cookies_set_on_a_redirect_are_stored_sent_and_deleted() {
    let server = TestServer::start().await.unwrap();
    let jar = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(jar.clone()));

    // The redirect hop sets two cookies…
    let (status, sent) = get(&svc, &server.url("/cookies/set?a=1&b=2")).await;
    assert_eq!((status, sent), (302, json!(null)));
    assert_eq!(names(&jar), ["a", "b"]);
    let a = &jar.snapshot()[0];
    assert_eq!((a.value(), a.domain(), a.path(), a.host_only()), ("1", "127.0.0.1", "/", true));
    assert_eq!(a.expires(), None); // a session cookie

    // …and the next hop (the Location, followed by hand) sends them.
    let (status, sent) = get(&svc, &server.url("/cookies")).await;
    assert_eq!((status, sent), (200, json!({"a": "1", "b": "2"})));

    // Deleting one (Max-Age=0 and a past Expires) leaves the other.
    let (status, _) = get(&svc, &server.url("/cookies/delete?a")).await;
    assert_eq!(status, 302);
    assert_eq!(names(&jar), ["b"]);
    let (_, sent) = get(&svc, &server.url("/cookies")).await;
    assert_eq!(sent, json!({"b": "2"}));
    assert_eq!(server.hits("/cookies"), 2);
}

#[tokio::test]
async fn a_cookie_goes_to_its_own_host_only_but_to_every_port() {
    let server = TestServer::start().await.unwrap();
    let other_port = TestServer::start().await.unwrap();
    let localhost = |path: &str| format!("http://localhost:{}{path}", server.addr().port());
    let jar = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(jar.clone()));

    get(&svc, &server.url("/cookies/set?ip=1")).await;
    get(&svc, &localhost("/cookies/set?name=2")).await;
    assert_eq!(jar.len(), 2);

    // One server, two hosts: each gets its own cookie only.
    assert_eq!(get(&svc, &server.url("/cookies")).await.1, json!({"ip": "1"}));
    assert_eq!(get(&svc, &localhost("/cookies")).await.1, json!({"name": "2"}));
    // Cookies ignore ports (RFC 6265 §8.5): another server on 127.0.0.1 gets `ip` too.
    assert_eq!(get(&svc, &other_port.url("/cookies")).await.1, json!({"ip": "1"}));
}

#[tokio::test]
async fn a_path_cookie_goes_to_its_path_and_below_only() {
    let server = CookieServer::start().await;
    let jar = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(jar.clone()));

    get(&svc, &set_url(&server, &["p=1; Path=/p", "root=2; Path=/"])).await;
    assert_eq!(jar.len(), 2);
    // The longer path goes first (RFC 6265 §5.4).
    get(&svc, &server.url("/p")).await;
    assert_eq!(server.last_cookie("/p").as_deref(), Some("p=1; root=2"));
    get(&svc, &server.url("/p/deeper")).await;
    assert_eq!(server.last_cookie("/p/deeper").as_deref(), Some("p=1; root=2"));
    get(&svc, &server.url("/pp")).await;
    assert_eq!(server.last_cookie("/pp").as_deref(), Some("root=2"));
    get(&svc, &server.url("/q")).await;
    assert_eq!(server.last_cookie("/q").as_deref(), Some("root=2"));
}

#[tokio::test]
async fn an_explicit_cookie_header_wins_and_the_response_is_still_stored() {
    let server = CookieServer::start().await;
    let jar = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(jar.clone()));
    get(&svc, &server.url("/cookies/set?jar=1")).await;

    let req = http::Request::get(set_url(&server, &["new=2"]))
        .header("cookie", "mine=0")
        .body(http_body_util::Empty::new())
        .unwrap();
    let res = tower::ServiceExt::oneshot(svc.clone(), req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(server.last_cookie("/set").as_deref(), Some("mine=0"));
    assert_eq!(names(&jar), ["jar", "new"]);
}

#[tokio::test]
async fn secure_cookies_are_accepted_and_sent_on_loopback_like_browsers_do() {
    let server = CookieServer::start().await;
    let jar = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(jar.clone()));
    get(&svc, &set_url(&server, &["s=1; Secure; HttpOnly"])).await;
    let stored = &jar.snapshot()[0];
    assert_eq!((stored.secure(), stored.http_only()), (true, true));
    assert_eq!(get(&svc, &server.url("/cookies")).await.1, json!({"s": "1"}));
    // The same cookie is never sent over plain http to a host that is not loopback.
    let remote = Url::parse(&format!("http://example.com:{}/", server.addr.port())).unwrap();
    assert!(jar.add_cookie_str(
        "s=1; Secure; Domain=example.com",
        &Url::parse("https://example.com/").unwrap()
    ));
    assert!(jar.cookies(&remote).is_none());
}

#[tokio::test]
async fn at_most_50_set_cookie_headers_are_read_from_one_response() {
    let server = TestServer::start().await.unwrap();
    let query: Vec<String> = (0..200).map(|i| format!("Set-Cookie=c{i}%3D{i}")).collect();
    let many = server.url(&format!("/response-headers?{}", query.join("&")));
    let jar = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(jar.clone()));
    let (status, _) = get(&svc, &many).await;
    assert_eq!(status, 200);
    // The first 50 headers were read (the per-domain cap would have kept the last 50).
    let expected: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    assert_eq!(names(&jar), expected);

    let few = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(few.clone()).max_set_cookie_headers(7));
    get(&svc, &many).await;
    assert_eq!(few.len(), 7);
}

#[tokio::test]
async fn a_full_domain_evicts_its_oldest_cookies() {
    let server = CookieServer::start().await;
    let jar = Arc::new(Jar::new().max_cookies_per_domain(10));
    let svc = client(&CookieLayer::new(jar.clone()));
    get(&svc, &server.url("/many/30")).await;
    let expected: Vec<String> = (20..30).map(|i| format!("c{i}")).collect();
    assert_eq!(names(&jar), expected);
    let (_, sent) = get(&svc, &server.url("/cookies")).await;
    assert_eq!(sent.as_object().map(|o| o.len()), Some(10));
    assert_eq!(sent["c29"], "29");
}

#[tokio::test]
async fn an_oversized_cookie_is_ignored_and_its_neighbours_kept() {
    let server = CookieServer::start().await;
    let jar = Arc::new(Jar::new());
    let svc = client(&CookieLayer::new(jar.clone()));
    let big = format!("big={}", "x".repeat(5000 - 4));
    let at_limit = format!("edge={}", "y".repeat(MAX_COOKIE_BYTES - 5));
    assert_eq!((big.len(), at_limit.len()), (5000, 4096));
    get(&svc, &set_url(&server, &[&big, "small=1", &at_limit])).await;
    assert_eq!(names(&jar), ["small", "edge"]);
    assert_eq!(jar.snapshot()[1].value().len(), 4091);
}
