//! `/get`, `/anything`, `/post` and aliases, `/headers`, `/json`, unknown paths, HTTP/2.

use http::{Method, StatusCode, Version};
use serde_json::json;
use volley_testserver::TestServer;

use crate::common::{client, get, h2_client, request, send};

#[tokio::test]
async fn get_echoes_args_headers_url_and_method() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = server.url("/get?a=1&b=x%20y&a=2&flag");
    let mut req = request(Method::GET, &url, "");
    req.headers_mut().insert("x-volley", "one".parse().unwrap());
    req.headers_mut().append("x-multi", "a".parse().unwrap());
    req.headers_mut().append("x-multi", "b".parse().unwrap());
    let reply = send(&client, req).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.version, Version::HTTP_11);
    assert_eq!(reply.header("content-type"), "application/json");
    let json = reply.json();
    assert_eq!(json["args"], json!({"a": ["1", "2"], "b": "x y", "flag": ""}));
    assert_eq!(json["headers"]["x-volley"], "one");
    assert_eq!(json["headers"]["x-multi"], "a, b");
    assert_eq!(json["headers"]["host"], server.addr().to_string());
    assert_eq!(json["url"], url);
    assert_eq!(json["method"], "GET");
    assert!(json.get("data").is_none());

    assert_eq!(server.hits("/get"), 1);
    assert_eq!(server.hits("/get?ignored=1"), 1);
    assert_eq!(server.endpoint_hits("get"), 1);
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test]
async fn get_refuses_post_with_405_and_allow() {
    let server = TestServer::start().await.unwrap();
    let reply = send(&client(), request(Method::POST, &server.url("/get"), "x")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), "GET, HEAD");
    assert!(reply.json()["error"].as_str().unwrap().contains("not allowed"));
    assert_eq!(server.endpoint_hits("get"), 1);
}

#[tokio::test]
async fn post_echoes_json_body() {
    let server = TestServer::start().await.unwrap();
    let body = r#"{"name":"volley","n":3}"#;
    let reply = send(&client(), request(Method::POST, &server.url("/post?x=1"), body)).await;

    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert_eq!(json["data"], body);
    assert_eq!(json["json"], json!({"name": "volley", "n": 3}));
    assert_eq!(json["bytes"], body.len());
    assert_eq!(json["method"], "POST");
    assert_eq!(json["args"]["x"], "1");
    assert_eq!(json["headers"]["content-length"], body.len().to_string());
    assert_eq!(server.endpoint_hits("post"), 1);
}

#[tokio::test]
async fn post_aliases_take_any_body_method_and_bad_json_is_null() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    for (method, path) in
        [(Method::PUT, "/put"), (Method::PATCH, "/patch"), (Method::DELETE, "/delete")]
    {
        let reply =
            send(&client, request(method.clone(), &server.url(path), b"\xffnot json".to_vec()))
                .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let json = reply.json();
        assert_eq!(json["method"], method.as_str());
        assert_eq!(json["json"], serde_json::Value::Null);
        assert_eq!(json["data"], "\u{fffd}not json");
        assert_eq!(json["bytes"], 9);
    }
    let reply = get(&client, &server.url("/post")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), "POST, PUT, PATCH, DELETE");
    assert_eq!(server.endpoint_hits("post"), 4);
    assert_eq!(server.hits("/put"), 1);
    assert_eq!(server.hits("/post"), 1);
}

#[tokio::test]
async fn post_reads_a_large_body() {
    let server = TestServer::start().await.unwrap();
    let body = vec![b'a'; 1024 * 1024];
    let reply = send(&client(), request(Method::POST, &server.url("/post"), body)).await;
    assert_eq!(reply.json()["bytes"], 1024 * 1024);
}

#[tokio::test]
async fn anything_takes_any_method_and_subpath() {
    let server = TestServer::start().await.unwrap();
    let url = server.url("/anything/deep/path?k=v");
    let reply = send(&client(), request(Method::OPTIONS, &url, "hello")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert_eq!(json["method"], "OPTIONS");
    assert_eq!(json["data"], "hello");
    assert_eq!(json["bytes"], 5);
    assert_eq!(json["args"]["k"], "v");
    assert_eq!(json["url"], url);
    assert_eq!(server.endpoint_hits("anything"), 1);
    assert_eq!(server.hits("/anything/deep/path"), 1);
}

#[tokio::test]
async fn headers_and_json_documents() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let mut req = request(Method::GET, &server.url("/headers"), "");
    req.headers_mut().insert("user-agent", "volley-test".parse().unwrap());
    let reply = send(&client, req).await;
    assert_eq!(reply.json()["headers"]["user-agent"], "volley-test");
    assert!(reply.json().get("args").is_none());

    let reply = get(&client, &server.url("/json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.json()["slideshow"]["slides"].as_array().unwrap().len(), 2);
    assert_eq!(server.endpoint_hits("headers"), 1);
    assert_eq!(server.endpoint_hits("json"), 1);
    assert_eq!(server.total_hits(), 2);
}

#[tokio::test]
async fn unknown_paths_are_404_json_and_counted() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    for path in ["/nope", "/status", "/flaky/1/2", "/get/extra"] {
        let reply = get(&client, &server.url(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.json()["error"].as_str().unwrap().contains(path));
    }
    assert_eq!(server.endpoint_hits("not-found"), 4);
    assert_eq!(server.endpoint_hits("status"), 0);
    assert_eq!(server.hits("/nope"), 1);
    assert_eq!(server.total_hits(), 4);
}

#[tokio::test]
async fn http2_prior_knowledge_multiplexes_on_one_connection() {
    let server = TestServer::start().await.unwrap();
    let client = h2_client();
    let reply = get(&client, &server.url("/get?v=2")).await;
    assert_eq!(reply.version, Version::HTTP_2);
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["args"]["v"], "2");
    assert_eq!(reply.json()["url"], server.url("/get?v=2"));

    let requests = (0..20).map(|i| {
        let client = client.clone();
        let url = server.url(&format!("/bytes/{i}"));
        async move { get(&client, &url).await }
    });
    let replies = futures_join_all(requests).await;
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.version, Version::HTTP_2);
        assert_eq!(reply.body.len(), i);
    }
    assert_eq!(server.connections(), 1);
    assert_eq!(server.endpoint_hits("bytes"), 20);
    assert_eq!(server.total_hits(), 21);
}

/// Runs the futures concurrently on spawned tasks, results in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
