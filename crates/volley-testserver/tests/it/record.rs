//! The request record: `requests`, `requests_to`, `last_request`, `set_record_limit`.

use http::{Method, Version};
use volley_testserver::TestServer;

use crate::common::{client, get, h2_client, request, send};

#[tokio::test]
async fn each_request_is_recorded_with_its_headers_and_body_length() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut req = request(Method::POST, &server.url("/post?q=1"), "12345");
    req.headers_mut().insert("x-custom", "one".parse().unwrap());
    req.headers_mut().append("x-multi", "a".parse().unwrap());
    req.headers_mut().append("x-multi", "b".parse().unwrap());
    send(&client, req).await;
    get(&client, &server.url("/status/404")).await;
    get(&client, &server.url("/get")).await;

    let seen = server.requests();
    let paths: Vec<_> = seen.iter().map(|s| s.path_and_query.as_str()).collect();
    assert_eq!(paths, ["/post?q=1", "/status/404", "/get"]);
    let post = &seen[0];
    assert_eq!(post.method, Method::POST);
    assert_eq!(post.version, Version::HTTP_11);
    assert_eq!(post.path(), "/post");
    assert_eq!(post.header("x-custom"), Some("one"));
    let multi: Vec<_> = post.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"]);
    assert_eq!(post.header("host"), Some(server.addr().to_string().as_str()));
    assert_eq!(post.body_len, 5);
    assert_eq!(seen[1].body_len, 0);
    assert_eq!(seen[2].header("x-custom"), None);

    assert_eq!(server.last_request("/post?ignored").unwrap().body_len, 5);
    assert!(server.last_request("/nowhere").is_none());
    get(&client, &server.url("/get?second")).await;
    let gets = server.requests_to("/get");
    assert_eq!(gets.len(), 2);
    assert_eq!(server.last_request("/get").unwrap().path_and_query, "/get?second");
}

#[tokio::test]
async fn http2_requests_are_recorded_too() {
    let server = TestServer::start().await.unwrap();
    let mut req = request(Method::PUT, &server.url("/anything/x"), vec![7; 70_000]);
    req.headers_mut().insert("authorization", "Bearer t".parse().unwrap());
    send(&h2_client(), req).await;
    let seen = server.last_request("/anything/x").unwrap();
    assert_eq!(seen.version, Version::HTTP_2);
    assert_eq!(seen.method, Method::PUT);
    assert_eq!(seen.header("authorization"), Some("Bearer t"));
    assert_eq!(seen.body_len, 70_000);
}

#[tokio::test]
async fn the_record_is_bounded_reset_and_can_be_turned_off() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    server.set_record_limit(3);
    for i in 0..5 {
        get(&client, &server.url(&format!("/get?i={i}"))).await;
    }
    let paths: Vec<_> = server.requests().into_iter().map(|s| s.path_and_query).collect();
    assert_eq!(paths, ["/get?i=2", "/get?i=3", "/get?i=4"]);

    server.reset_counters();
    assert!(server.requests().is_empty());
    get(&client, &server.url("/json")).await;
    assert_eq!(server.requests().len(), 1);

    server.set_record_limit(0);
    assert!(server.requests().is_empty());
    get(&client, &server.url("/json")).await;
    assert!(server.requests().is_empty());
    // Counters are not affected by the record.
    assert_eq!(server.hits("/json"), 2);
}
