//! `/cookies`, `/cookies/set`, `/cookies/delete`, `/cookies/set-with`, `/response-headers`.

use http::{Method, StatusCode};
use serde_json::json;
use volley_testserver::TestServer;

use crate::common::{Reply, client, get, request, send};

fn set_cookies(reply: &Reply) -> Vec<&str> {
    reply.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect()
}

#[tokio::test]
async fn cookies_lists_every_cookie_header() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply = get(&client, &server.url("/cookies")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"cookies": {}}));

    let mut req = request(Method::GET, &server.url("/cookies"), "");
    req.headers_mut().append("cookie", "a=1; b=two words;c=".parse().unwrap());
    req.headers_mut().append("cookie", "a=ignored; d=\"q\"".parse().unwrap());
    let reply = send(&client, req).await;
    assert_eq!(
        reply.json(),
        json!({"cookies": {"a": "1", "b": "two words", "c": "", "d": "\"q\""}})
    );
    assert_eq!(server.endpoint_hits("cookies"), 2);
}

#[tokio::test]
async fn cookies_set_redirects_with_one_set_cookie_per_pair() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply = get(&client, &server.url("/cookies/set?k=v&k2=v%202")).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.header("location"), "/cookies");
    assert_eq!(set_cookies(&reply), ["k=v; Path=/", "k2=v 2; Path=/"]);

    let reply = get(&client, &server.url("/cookies/set/name/va%3Dlue")).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(set_cookies(&reply), ["name=va=lue; Path=/"]);

    let reply = get(&client, &server.url("/cookies/set")).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(set_cookies(&reply).is_empty());

    let bad = get(&client, &server.url("/cookies/set?k=a%0Ab")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(server.endpoint_hits("cookies-set"), 4);
}

#[tokio::test]
async fn cookies_delete_expires_each_name() {
    let server = TestServer::start().await.unwrap();
    let reply = get(&client(), &server.url("/cookies/delete?k&k2")).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.header("location"), "/cookies");
    let expired = "=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/";
    assert_eq!(set_cookies(&reply), [format!("k{expired}"), format!("k2{expired}")]);
    assert_eq!(server.endpoint_hits("cookies-delete"), 1);
}

#[tokio::test]
async fn cookies_set_with_builds_exactly_the_attributes_given() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = "/cookies/set-with?name=sid&value=42&path=/p&domain=example.com&max_age=60&secure&httponly&samesite=Lax";
    let reply = get(&client, &server.url(url)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let expected =
        "sid=42; Path=/p; Domain=example.com; Max-Age=60; SameSite=Lax; Secure; HttpOnly";
    assert_eq!(set_cookies(&reply), [expected]);
    assert_eq!(reply.json(), json!({"set-cookie": expected}));

    // No default Path; `secure=0` is off; `expires` is verbatim.
    let url = "/cookies/set-with?name=a&expires=Wed,%2021%20Oct%202015%2007:28:00%20GMT&secure=0";
    let reply = get(&client, &server.url(url)).await;
    assert_eq!(set_cookies(&reply), ["a=; Expires=Wed, 21 Oct 2015 07:28:00 GMT"]);

    let missing = get(&client, &server.url("/cookies/set-with?value=1")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(server.endpoint_hits("cookies-set-with"), 3);
}

#[tokio::test]
async fn response_headers_sets_any_header_verbatim() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = "/response-headers?Set-Cookie=a%3D1&set-cookie=%3B%3B%3Dgarbage&X-Thing=yes&Content-Type=text/plain";
    let reply = send(&client, request(Method::POST, &server.url(url), "body")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(set_cookies(&reply), ["a=1", ";;=garbage"]);
    assert_eq!(reply.header("x-thing"), "yes");
    assert_eq!(reply.header("content-type"), "text/plain");
    assert_eq!(reply.headers.get_all("content-type").iter().count(), 1);
    assert_eq!(
        reply.json(),
        json!({"set-cookie": ["a=1", ";;=garbage"], "x-thing": "yes", "content-type": "text/plain"})
    );

    for bad in ["content-length=5", "Transfer-Encoding=chunked", "bad%20name=1", "x=a%0Db"] {
        let reply = get(&client, &server.url(&format!("/response-headers?{bad}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(server.endpoint_hits("response-headers"), 5);
}
