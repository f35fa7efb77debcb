//! The client against servers that misbehave: bodies too large to buffer, connects that
//! stall, connections that go dark, credentials that must not leak.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use volley::{BodyTooLarge, Client, Kind};
use volley_core::{TimedOut, TimeoutKind};
use volley_testserver::TestServer;

/// A real-time bound on a call that must not hang: fails the test instead of waiting.
async fn bounded<T>(limit: Duration, call: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, call).await.expect("the call hung past its documented timeout")
}

#[tokio::test]
async fn a_declared_content_length_over_the_limit_is_refused_before_reading() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().max_response_body(Some(1000)).build().unwrap();

    let res = client.get(server.url("/bytes/1001")).send().await.unwrap();
    assert_eq!(res.max_body(), Some(1000));
    let err = res.bytes().await.unwrap_err();
    assert_eq!(err.kind(), Kind::BodyTooLarge);
    let too_large = err.find::<BodyTooLarge>().unwrap();
    assert_eq!((too_large.limit(), too_large.content_length()), (1000, Some(1001)));
    assert_eq!(
        err.to_string(),
        "response body is larger than the limit of 1000 bytes (content-length 1001)"
    );

    // Exactly at the limit is fine.
    let body = client.get(server.url("/bytes/1000")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(body.len(), 1000);
}

#[tokio::test]
async fn a_body_without_a_length_stops_at_the_limit() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().max_response_body(Some(2000)).build().unwrap();

    // 100 JSON lines, chunked, several KiB in all.
    let err = client.get(server.url("/stream/100")).send().await.unwrap().text().await.unwrap_err();
    assert_eq!(err.kind(), Kind::BodyTooLarge, "{err}");
    assert_eq!(err.find::<BodyTooLarge>().unwrap().content_length(), None);
    assert_eq!(err.to_string(), "response body grew past the limit of 2000 bytes");

    // Streaming reads are not limited.
    let mut res = client.get(server.url("/stream/100")).send().await.unwrap();
    let mut streamed = 0;
    while let Some(chunk) = res.chunk().await.unwrap() {
        streamed += chunk.len();
    }
    assert!(streamed > 2000, "streamed {streamed} bytes");

    // A request can lift the limit for itself, or lower it.
    let lifted = client.get(server.url("/stream/100")).max_response_body(None).send().await;
    assert_eq!(lifted.unwrap().bytes().await.unwrap().len(), streamed);
    let lowered = client.get(server.url("/bytes/20")).max_response_body(Some(10)).send().await;
    assert_eq!(lowered.unwrap().bytes().await.unwrap_err().kind(), Kind::BodyTooLarge);
}

#[tokio::test]
async fn the_default_limit_is_64_mib() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new().unwrap();
    let res = client.get(server.url("/bytes/10")).send().await.unwrap();
    assert_eq!(res.max_body(), Some(64 * 1024 * 1024));
    assert_eq!(volley::DEFAULT_MAX_RESPONSE_BODY, 64 * 1024 * 1024);
}

/// A listener that accepts connections and never says a word: a TLS handshake that stalls.
async fn silent_listener() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn the_connect_timeout_covers_the_tls_handshake() {
    let (port, accepted) = silent_listener().await;
    // No attempt or total timeout: only the connect timeout can end this request.
    let client = Client::builder()
        .connect_timeout(Some(Duration::from_millis(300)))
        .attempt_timeout(None)
        .timeout(None)
        .retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let err =
        bounded(Duration::from_secs(10), client.get(format!("https://localhost:{port}/")).send())
            .await
            .unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout() && err.is_connect(), "{err}");
    let timed_out = err.find::<TimedOut>().unwrap();
    assert_eq!(
        (timed_out.kind(), timed_out.after()),
        (TimeoutKind::Connect, Duration::from_millis(300))
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connect_timeout_is_retried_as_not_sent() {
    let (port, accepted) = silent_listener().await;
    let client = Client::builder()
        .connect_timeout(Some(Duration::from_millis(100)))
        .retry_policy(
            volley::RetryPolicy::new()
                .max_retries(2)
                .backoff(volley::Backoff::constant(Duration::from_millis(1))),
        )
        .build()
        .unwrap();
    // POST without an idempotency key: retried only because nothing was sent.
    let err = bounded(
        Duration::from_secs(10),
        client.post(format!("https://localhost:{port}/")).body("x").send(),
    )
    .await
    .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

/// A TCP relay to `target` whose connections can all be turned dark at once: bytes stop
/// flowing both ways but the sockets stay open, as with a dead NAT entry or a black hole.
struct Relay {
    port: u16,
    dark: Arc<AtomicBool>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dark = Arc::new(AtomicBool::new(false));
        let flag = dark.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                // Connections made after the lights went out work normally.
                let this_dark = Arc::new(AtomicBool::new(false));
                let global = flag.clone();
                let watched = this_dark.clone();
                let was_dark = flag.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    loop {
                        if !was_dark && global.load(Ordering::SeqCst) {
                            watched.store(true, Ordering::SeqCst);
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                });
                let upstream = TcpStream::connect(target).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut ur, mut uw) = upstream.into_split();
                let dark_a = this_dark.clone();
                let dark_b = this_dark;
                tokio::spawn(async move {
                    pump(&mut cr, &mut uw, &dark_a).await;
                    let _keep = (cr, uw);
                    std::future::pending::<()>().await
                });
                tokio::spawn(async move {
                    pump(&mut ur, &mut cw, &dark_b).await;
                    let _keep = (ur, cw);
                    std::future::pending::<()>().await
                });
            }
        });
        Self { port, dark }
    }
}

async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    dark: &AtomicBool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else { return };
        if n == 0 || dark.load(Ordering::SeqCst) {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_black_holed_http2_connection_is_found_dead_by_keep_alive_pings() {
    let server = TestServer::start().await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let client = Client::builder()
        .http2_prior_knowledge()
        .http2_keep_alive(Some((Duration::from_millis(200), Duration::from_millis(200))))
        // Only the keep-alive can notice: no attempt or total timeout.
        .attempt_timeout(None)
        .timeout(None)
        .retry_policy(
            volley::RetryPolicy::new().backoff(volley::Backoff::constant(Duration::from_millis(1))),
        )
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{}/get", relay.port);
    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.version(), http::Version::HTTP_2);
    first.bytes().await.unwrap();

    relay.dark.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    let res = bounded(Duration::from_secs(10), client.get(&url).send()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.attempts(), 2, "the attempt on the dead connection failed and was retried");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn userinfo_becomes_basic_auth_and_never_reaches_the_http2_authority() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().http2_prior_knowledge().build().unwrap();
    let url = format!("http://alice:s%3Acret@{}/get", server.addr());
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);
    assert_eq!(res.url().unwrap().to_string(), format!("http://{}/get", server.addr()));
    let doc: serde_json::Value = res.json().await.unwrap();
    // base64("alice:s:cret")
    assert_eq!(doc["headers"]["authorization"], "Basic YWxpY2U6czpjcmV0");
    let seen = doc["url"].as_str().unwrap();
    assert_eq!(seen, format!("http://{}/get", server.addr()), "the server saw {seen}");
}

#[tokio::test]
async fn only_http_and_https_are_sent_and_nothing_is_retried() {
    let client = Client::new().unwrap();
    let err = client.get("ftp://127.0.0.1:1/file").send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Request);
    assert_eq!(err.attempts(), None);
}

/// A server that answers every request with `response` and counts the requests.
async fn raw_server(response: &'static str) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while let Ok(n) = tcp.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        counter.fetch_add(1, Ordering::SeqCst);
                        if tcp.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, hits)
}

#[tokio::test]
async fn no_debug_or_error_output_shows_a_credential() {
    const SECRETS: [&str; 6] =
        ["hunter2", "tok-123", "sess-456", "key-789", "default-secret", "qtoken"];
    let (port, hits) = raw_server(
        "HTTP/1.1 403 Forbidden\r\nSet-Cookie: session=sess-456\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let builder = Client::builder()
        .default_header(http::header::AUTHORIZATION, "Bearer default-secret")
        .sensitive_header(http::HeaderName::from_static("x-my-key"));
    let client = builder.build().unwrap();

    let request = client
        .get(format!("http://bob:hunter2@127.0.0.1:{port}/x?token=qtoken&page=1"))
        .header("cookie", "id=tok-123")
        .header("x-my-key", "key-789");
    let shown = [
        format!("{:?}", Client::builder().default_header(http::header::COOKIE, "a=default-secret")),
        format!("{client:?}"),
        format!("{request:?}"),
    ];
    let res = request.send().await.unwrap();
    let res_debug = format!("{res:?}");
    let err = res.error_for_status().unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let everything = [&shown[..], &[res_debug, format!("{err:?}"), err.to_string()]].concat();
    for text in &everything {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret:?} leaked in {text}");
        }
    }
    assert!(everything[2].contains("page=1"), "{}", everything[2]);
    assert!(everything.iter().filter(|text| text.contains("[redacted]")).count() >= 5);
}

#[test]
fn rate_limits_governor_cannot_hold_are_configuration_errors_not_panics() {
    let cases = [
        (1, Duration::from_secs(60), u32::MAX),
        (1, Duration::MAX, 1),
        (u32::MAX, Duration::from_nanos(1), 1),
    ];
    for (n, per, burst) in cases {
        let err = Client::builder().rate_limit(n, per, burst).build().unwrap_err();
        assert_eq!(err.kind(), Kind::Config, "{n}/{per:?} burst {burst}: {err}");
        assert!(err.to_string().starts_with("invalid rate limit"), "{err}");
    }
}

#[tokio::test]
async fn a_head_response_declaring_a_large_length_is_not_refused() {
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().max_response_body(Some(1000)).build().unwrap();
    let res = client.head(server.url("/bytes/5000")).send().await.unwrap();
    assert_eq!(res.headers()["content-length"], "5000");
    assert_eq!(res.bytes().await.unwrap().len(), 0);
}
