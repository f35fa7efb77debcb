//! `/basic-auth/{user}/{passwd}` and `/bearer`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{Method, StatusCode};
use volley_testserver::TestServer;

use crate::common::{Reply, TestClient, client, request, send};

async fn with_auth(client: &TestClient, url: &str, authorization: Option<&str>) -> Reply {
    let mut req = request(Method::GET, url, "");
    if let Some(value) = authorization {
        req.headers_mut().insert("authorization", value.parse().unwrap());
    }
    send(client, req).await
}

#[tokio::test]
async fn basic_auth_accepts_matching_credentials_only() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = server.url("/basic-auth/alice/s3cret");
    let good = format!("Basic {}", STANDARD.encode("alice:s3cret"));
    let reply = with_auth(&client, &url, Some(&good)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["authenticated"], true);
    assert_eq!(reply.json()["user"], "alice");

    let wrong = format!("Basic {}", STANDARD.encode("alice:guess"));
    for auth in [Some(wrong.as_str()), None, Some("Basic !!!not-base64"), Some("Bearer x")] {
        let reply = with_auth(&client, &url, auth).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(reply.header("www-authenticate"), r#"Basic realm="volley""#);
        assert_eq!(reply.json()["authenticated"], false);
    }
    assert_eq!(server.endpoint_hits("basic-auth"), 5);
    assert_eq!(server.hits("/basic-auth/alice/s3cret"), 5);
}

#[tokio::test]
async fn basic_auth_path_segments_are_percent_decoded() {
    let server = TestServer::start().await.unwrap();
    let url = server.url("/basic-auth/a%20b/p%3Aw");
    let auth = format!("basic {}", STANDARD.encode("a b:p:w"));
    let reply = with_auth(&client(), &url, Some(&auth)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["user"], "a b");
}

#[tokio::test]
async fn bearer_echoes_the_token_or_challenges() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let url = server.url("/bearer");
    let reply = with_auth(&client, &url, Some("Bearer tok-123")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["token"], "tok-123");
    assert_eq!(reply.json()["authenticated"], true);

    for auth in [None, Some("Bearer"), Some("Basic dTpw")] {
        let reply = with_auth(&client, &url, auth).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(reply.header("www-authenticate"), "Bearer");
    }
    assert_eq!(server.endpoint_hits("bearer"), 4);
    assert_eq!(server.total_hits(), 4);
}
