//! The client on the real web: redirects followed safely, compressed bodies decoded, and a
//! decompression bomb stopped at the body limit.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use volley::redirect::{NotFollowed, Policy, RedirectError, RedirectErrorKind};
use volley::{Client, Kind};
use volley_testserver::TestServer;

#[tokio::test]
async fn redirects_are_followed_and_the_response_knows_its_url() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let res = client.get(server.url("/redirect/3")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().unwrap().to_string(), server.url("/get"));
    let hops: Vec<(String, u16)> = res
        .redirects()
        .iter()
        .map(|hop| (hop.url().path().to_owned(), hop.status().as_u16()))
        .collect();
    assert_eq!(
        hops,
        [
            ("/redirect/3".to_owned(), 302),
            ("/redirect/2".to_owned(), 302),
            ("/redirect/1".to_owned(), 302)
        ]
    );
    assert_eq!(server.total_hits(), 4);
}

#[tokio::test]
async fn more_than_ten_hops_is_an_error_carrying_the_chain() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    assert_eq!(client.get(server.url("/redirect/10")).send().await.unwrap().redirects().len(), 10);
    server.reset_counters();

    let err = client.get(server.url("/redirect/11")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Redirect, "{err}");
    let redirect = err.find::<RedirectError>().unwrap();
    assert!(matches!(redirect.kind(), RedirectErrorKind::TooManyRedirects { limit: 10 }));
    assert_eq!(redirect.chain().len(), 11);
    assert_eq!(server.total_hits(), 11);
}

#[tokio::test]
async fn policy_none_returns_the_redirect() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().redirect(Policy::none()).build().unwrap();
    let res = client.get(server.url("/redirect/2")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert!(res.redirects().is_empty());
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let client = Client::builder()
        .default_header(http::HeaderName::from_static("x-api-key"), "k3y")
        .sensitive_header(http::HeaderName::from_static("x-tenant"))
        .build()
        .unwrap();
    let send = |url: String| {
        client
            .get(url)
            .bearer_auth("t0ken")
            .header("x-tenant", "acme")
            .header("accept", "text/plain")
            .send()
    };

    let same: Value = send(a.redirect_to("/headers", 302)).await.unwrap().json().await.unwrap();
    assert_eq!(same["headers"]["authorization"], "Bearer t0ken");
    assert_eq!(same["headers"]["x-api-key"], "k3y");
    assert_eq!(same["headers"]["x-tenant"], "acme");

    let other: Value =
        send(a.redirect_to(&b.url("/headers"), 307)).await.unwrap().json().await.unwrap();
    for name in ["authorization", "x-api-key", "x-tenant", "referer"] {
        assert_eq!(other["headers"].get(name), None, "{name} reached the second origin");
    }
    assert_eq!(other["headers"]["accept"], "text/plain");
    assert_eq!(b.hits("/headers"), 1);
}

#[tokio::test]
async fn a_307_resends_a_buffered_body_but_not_a_stream() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let payload = "x".repeat(5000) + "end";

    let res = client.post(server.redirect_to("/post", 307)).body(payload.clone()).send().await;
    let echoed: Value = res.unwrap().json().await.unwrap();
    assert_eq!(echoed["data"], payload.as_str());
    assert_eq!(echoed["method"], "POST");

    let stream =
        futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(payload.clone()))]);
    let res =
        client.post(server.redirect_to("/post", 307)).body_stream(stream).send().await.unwrap();
    assert_eq!(res.status(), 307);
    assert_eq!(res.redirect_not_followed(), Some(NotFollowed::BodyNotReplayable));
    assert_eq!(server.hits("/post"), 1);
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_covers_every_hop() {
    let server = TestServer::start().await.unwrap();
    let client =
        Client::builder().timeout(Some(Duration::from_secs(2))).retries(0).build().unwrap();
    let started = tokio::time::Instant::now();
    let err = client.get(server.redirect_to("/delay/10000", 302)).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(server.hits("/delay/10000"), 1);
}

#[tokio::test]
async fn every_encoding_is_decoded_and_accept_encoding_is_sent() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    for (path, flag) in
        [("/gzip", "gzipped"), ("/deflate", "deflated"), ("/brotli", "brotli"), ("/zstd", "zstd")]
    {
        let res = client.get(server.url(path)).send().await.unwrap();
        assert!(res.headers().get("content-encoding").is_none(), "{path}");
        assert!(res.headers().get("content-length").is_none(), "{path}");
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc[flag], true, "{path}: {doc}");
        let sent = doc["headers"]["accept-encoding"].as_str().unwrap_or_default().to_owned();
        for coding in ["gzip", "deflate", "br", "zstd"] {
            assert!(sent.contains(coding), "{path}: accept-encoding {sent:?}");
        }
    }

    let raw = Client::builder().decompress(false).build().unwrap();
    let res = raw.get(server.url("/gzip")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..2], [0x1f, 0x8b], "the gzip magic: not decoded");
}

#[tokio::test]
async fn a_decompression_bomb_stops_at_the_body_limit() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().max_response_body(Some(1024 * 1024)).build().unwrap();
    for coding in ["gzip", "br", "zstd"] {
        let url = server.url(&format!("/bomb/{coding}?size=20000000"));
        let res = client.get(url).send().await.unwrap();
        let err = res.bytes().await.unwrap_err();
        assert_eq!(err.kind(), Kind::BodyTooLarge, "{coding}: {err}");
        assert_eq!(err.to_string(), "response body grew past the limit of 1048576 bytes");
    }
}

#[tokio::test]
async fn a_response_can_be_read_inside_a_spawned_task() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let url = server.url("/bytes/300");
    let read = tokio::spawn(async move { client.get(url).send().await?.bytes().await });
    assert_eq!(read.await.unwrap().unwrap().len(), 300);
}

#[tokio::test]
async fn a_base_url_joins_relative_paths_and_errors_name_the_url() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().base_url(server.url("/anything")).build().unwrap();
    let doc: Value = client.get("items/7?q=a b").send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["url"], server.url("/anything/items/7?q=a%20b"));
    assert_eq!(doc["args"]["q"], "a b");

    let err = client.get(server.url("/status/503?token=s3cret")).send().await;
    let err = err.unwrap().error_for_status().unwrap_err();
    assert_eq!(err.url(), Some(server.url("/status/503?token=[redacted]").as_str()));

    let err = client.get("http://127.0.0.1:1/x").send().await.unwrap_err();
    assert_eq!(err.url(), Some("http://127.0.0.1:1/x"));
}

#[tokio::test]
async fn text_is_decoded_by_its_charset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // "café" in ISO-8859-1 (é is one byte, 0xE9), and a body naming no charset.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = vec![0; 4096];
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            let latin1 = String::from_utf8_lossy(&buf[..n]).contains("GET /latin1");
            let head: &[u8] = if latin1 {
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=\"ISO-8859-1\"\r\ncontent-length: 4\r\nconnection: close\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\n"
            };
            let _ = tcp.write_all(&[head, b"caf\xe9"].concat()).await;
        }
    });
    let client = Client::new().unwrap();
    let text = client.get(format!("http://127.0.0.1:{port}/latin1")).send().await.unwrap().text();
    assert_eq!(text.await.unwrap(), "café");
    let res = client.get(format!("http://127.0.0.1:{port}/plain")).send().await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "caf\u{FFFD}",
        "UTF-8 by default, invalid bytes replaced"
    );
    let res = client.get(format!("http://127.0.0.1:{port}/plain")).send().await.unwrap();
    assert_eq!(res.text_with_charset("windows-1252").await.unwrap(), "café");
}

#[tokio::test]
async fn cookies_are_off_by_default_and_kept_across_redirects_when_on() {
    let server = TestServer::start().await.unwrap();
    let plain = Client::new().unwrap();
    let doc: Value =
        plain.get(server.url("/cookies/set?a=1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["cookies"], serde_json::json!({}), "no jar, no cookies");

    let jar = std::sync::Arc::new(volley::cookies::Jar::new());
    let client = Client::builder().cookie_provider(jar.clone()).build().unwrap();
    // /cookies/set answers 302 to /cookies with Set-Cookie: the next hop carries them.
    let res = client.get(server.url("/cookies/set?a=1&b=2")).send().await.unwrap();
    assert_eq!(res.redirects().len(), 1);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["cookies"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(jar.len(), 2);

    let doc: Value =
        client.get(server.url("/cookies/delete?a")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["cookies"], serde_json::json!({"b": "2"}));
    assert_eq!(jar.len(), 1);

    // Cookies belong to a host: `localhost` is another host than `127.0.0.1`.
    let other = format!("http://localhost:{}/cookies", server.addr().port());
    let doc: Value = client.get(other).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["cookies"], serde_json::json!({}));
    let sent = server.last_request("/cookies").unwrap();
    assert!(sent.header("cookie").is_none());
}
