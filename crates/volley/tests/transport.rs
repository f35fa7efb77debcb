//! The client through proxies and over TLS options, against the test server's forward
//! proxy and its TLS servers with their own CA.

use std::time::Duration;

use serde_json::Value;
use volley::{Client, Identity, Kind, Proxy};
use volley_testserver::{ProxyServer, TestCa, TestServer, TlsServer, TlsServerConfig};

#[tokio::test]
async fn plain_http_goes_through_a_forward_proxy_with_credentials_for_the_proxy_only() {
    let origin = TestServer::start().await.unwrap();
    let proxy = ProxyServer::start_with_auth("alice", "s3cret").await.unwrap();
    let proxy_url = proxy.url().replace("http://", "http://alice:s3cret@");
    let client = Client::builder().proxy(Proxy::all(proxy_url)).build().unwrap();
    assert!(!format!("{client:?}").contains("s3cret"));

    let doc: Value = client.get(origin.url("/headers")).send().await.unwrap().json().await.unwrap();
    assert_eq!((proxy.forwarded(), proxy.tunnels(), proxy.auth_failures()), (1, 0, 0));
    let seen = &proxy.seen()[0];
    assert_eq!(seen.user.as_deref(), Some("alice"));
    assert!(seen.header("proxy-authorization").is_some());
    assert_eq!(doc["headers"].get("proxy-authorization"), None, "the origin never sees it");
    assert_eq!(origin.hits("/headers"), 1);
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_end_to_end() {
    let ca = TestCa::new().unwrap();
    let tls = TlsServer::start(TlsServerConfig::new(&ca)).await.unwrap();
    let proxy = ProxyServer::start().await.unwrap();
    let client = Client::builder()
        .add_root_certificates_pem(ca.cert_pem().as_bytes())
        .proxy(Proxy::all(proxy.url()))
        .build()
        .unwrap();
    let res = client.get(tls.url("/get")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!((proxy.tunnels(), proxy.forwarded()), (1, 0));
    assert_eq!(tls.sni_seen(), ["localhost"]);
    assert_eq!(tls.hits("/get"), 1);
}

#[tokio::test]
async fn socks5h_lets_the_proxy_resolve_the_name() {
    let origin = TestServer::start().await.unwrap();
    let proxy = ProxyServer::start().await.unwrap();
    let client = Client::builder().proxy(Proxy::all(proxy.socks_url())).build().unwrap();
    let url = format!("http://example.test:{}/get", origin.addr().port());
    let res = client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(proxy.socks(), 1);
    assert_eq!(proxy.seen()[0].host, "example.test", "the name went to the proxy, not DNS");
}

#[tokio::test]
async fn no_proxy_hosts_go_direct() {
    let origin = TestServer::start().await.unwrap();
    let proxy = ProxyServer::start().await.unwrap();
    let client = Client::builder()
        .proxy(Proxy::all(proxy.url()).no_proxy("localhost, 127.0.0.0/8"))
        .build()
        .unwrap();
    client.get(origin.url("/get")).send().await.unwrap();
    assert_eq!((proxy.forwarded(), proxy.connections()), (0, 0));
    let direct = Client::builder().proxy(Proxy::all(proxy.url())).no_proxy().build().unwrap();
    direct.get(origin.url("/get")).send().await.unwrap();
    assert_eq!(proxy.connections(), 0);
    assert_eq!(origin.hits("/get"), 2);
}

#[tokio::test]
async fn limits_stay_keyed_by_the_origin_behind_a_proxy() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let proxy = ProxyServer::start().await.unwrap();
    // One request per 10 s per host: through a proxy keyed by the proxy, the second host
    // would have to wait 10 s, past the 1 s deadline.
    let client = Client::builder()
        .proxy(Proxy::all(proxy.url()))
        .rate_limit(1, Duration::from_secs(10), 1)
        .timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    client.get(a.url("/get")).send().await.unwrap();
    client.get(b.url("/get")).send().await.unwrap();
    let err = client.get(a.url("/get")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::RateLimited, "{err}");
    assert_eq!(proxy.forwarded(), 2);
}

#[tokio::test]
async fn a_server_that_wants_a_client_certificate_gets_one() {
    let ca = TestCa::new().unwrap();
    let tls = TlsServer::start(TlsServerConfig::new(&ca).require_client_cert(true)).await.unwrap();
    let trusting = || Client::builder().add_root_certificates_pem(ca.cert_pem().as_bytes());

    let without = trusting().build().unwrap();
    let err = without.get(tls.url("/get")).send().await.unwrap_err();
    // Under TLS 1.3 the server checks the certificate after the client's side of the
    // handshake is done, so the refusal arrives as an alert on the first read.
    assert!(err.to_string().contains("CertificateRequired"), "{err}");
    tokio::time::timeout(Duration::from_secs(5), tls.wait_handshakes(1)).await.unwrap();
    assert_eq!((tls.accepted(), tls.handshake_failures()), (1, 1), "one attempt, not retried");

    let (chain, key) = ca.client_identity("volley-client").unwrap();
    let identity = Identity::from_pem(chain.as_bytes(), key.as_bytes()).unwrap();
    assert!(!format!("{identity:?}").contains("PRIVATE"));
    let with = trusting().identity(identity).build().unwrap();
    assert_eq!(with.get(tls.url("/get")).send().await.unwrap().status(), 200);
    assert_eq!(tls.handshakes(), 1);
}

#[tokio::test]
async fn resolve_keeps_the_name_for_sni() {
    let ca = TestCa::new().unwrap();
    let tls = TlsServer::start(TlsServerConfig::new(&ca)).await.unwrap();
    let client = Client::builder()
        .add_root_certificates_pem(ca.cert_pem().as_bytes())
        .resolve("example.test", tls.addr())
        .build()
        .unwrap();
    let url = format!("https://example.test:{}/get", tls.addr().port());
    assert_eq!(client.get(url).send().await.unwrap().status(), 200);
    assert_eq!(tls.sni_seen(), ["example.test"]);
}

#[tokio::test]
async fn an_https_proxy_url_is_a_configuration_error() {
    let err = Client::builder().proxy(Proxy::all("https://proxy.test:443")).build().unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert!(err.to_string().contains("TLS to the proxy itself is not supported"), "{err}");
}
