//! `/relative-redirect`, `/absolute-redirect`, `/redirect-to`.

use http::{Method, StatusCode};
use volley_testserver::TestServer;

use crate::common::{client, get, request, send};

#[tokio::test]
async fn relative_redirect_chains_with_relative_locations() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut locations = Vec::new();
    let mut path = "/relative-redirect/3".to_owned();
    let reply = loop {
        let reply = get(&client, &server.url(&path)).await;
        if reply.status != StatusCode::FOUND {
            break reply;
        }
        path = reply.header("location").to_owned();
        locations.push(path.clone());
    };
    assert_eq!(locations, ["/relative-redirect/2", "/relative-redirect/1", "/get"]);
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(server.endpoint_hits("relative-redirect"), 3);
    assert_eq!(server.endpoint_hits("get"), 1);

    let zero = get(&client, &server.url("/relative-redirect/0")).await;
    assert_eq!(zero.status, StatusCode::OK);
    assert_eq!(zero.json()["method"], "GET");
    let too_many = get(&client, &server.url("/relative-redirect/101")).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    let garbage = get(&client, &server.url("/relative-redirect/x")).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn absolute_redirect_uses_the_authority_the_request_was_made_to() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply = get(&client, &server.url("/absolute-redirect/2")).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.header("location"), server.url("/absolute-redirect/1"));
    let reply = get(&client, reply.header("location")).await;
    assert_eq!(reply.header("location"), server.url("/get"));

    // The Host header decides, so a client that says `localhost` is sent to `localhost`.
    let port = server.addr().port();
    let mut req = request(Method::GET, &server.url("/absolute-redirect/1"), "");
    req.headers_mut().insert("host", format!("localhost:{port}").parse().unwrap());
    let reply = send(&client, req).await;
    assert_eq!(reply.header("location"), format!("http://localhost:{port}/get"));
    assert_eq!(server.endpoint_hits("absolute-redirect"), 3);
}

#[tokio::test]
async fn redirect_to_answers_the_status_and_location_verbatim() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply =
        get(&client, &server.url("/redirect-to?url=http%3A%2F%2Fexample.com%2Fa%3Fb%3D1%26c"))
            .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.header("location"), "http://example.com/a?b=1&c");
    assert!(reply.body.is_empty());

    for (query, status) in [
        ("status_code=301", 301),
        ("status=307", 307),
        ("status_code=308", 308),
        ("status_code=300", 300),
        ("status_code=399", 399),
    ] {
        let reply = get(&client, &server.url(&format!("/redirect-to?url=/get&{query}"))).await;
        assert_eq!(reply.status.as_u16(), status, "{query}");
        assert_eq!(reply.header("location"), "/get");
    }

    // Non-ASCII bytes go out as they are (servers in the wild do this).
    let reply = get(&client, &server.url("/redirect-to?url=/caf%C3%A9")).await;
    assert_eq!(reply.headers["location"].as_bytes(), "/café".as_bytes());

    for bad in [
        "/redirect-to",
        "/redirect-to?url=/get&status_code=200",
        "/redirect-to?url=/get&status=400",
        "/redirect-to?url=/get&status_code=x",
        "/redirect-to?url=a%0Ab",
    ] {
        let reply = get(&client, &server.url(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(server.endpoint_hits("redirect-to"), 12);
}

#[tokio::test]
async fn redirect_to_reads_a_post_body_and_records_its_length() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let body = "x".repeat(100_000);
    let url = server.url("/redirect-to?url=/anything&status_code=307");
    let reply = send(&client, request(Method::POST, &url, body.clone())).await;
    assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(reply.header("location"), "/anything");
    let seen = server.last_request("/redirect-to").unwrap();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.body_len, 100_000);

    // The connection is still usable: the body was drained.
    let reply = send(&client, request(Method::POST, &server.url("/anything"), body)).await;
    assert_eq!(reply.json()["bytes"], 100_000);
    assert_eq!(server.connections(), 1);
}
