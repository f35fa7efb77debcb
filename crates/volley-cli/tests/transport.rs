//! `volley fetch`'s transport flags (curl's names): proxies, TLS files, `--resolve` and
//! the HTTP version, against the test server, a TLS test server and a forward proxy.

mod common;

use common::{assert_one_line_usage_error, scratch_dir, volley, volley_with_env};
use http::Version;
use volley_testserver::{ProxyServer, TestCa, TestServer, TlsServer, TlsServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_sends_a_name_to_an_address() {
    let server = TestServer::start().await.unwrap();
    let port = server.addr().port();
    let url = format!("http://example.test:{port}/get");
    let resolve = format!("example.test:{port}:127.0.0.1");
    let run = volley(&["fetch", "-q", "--resolve", &resolve, "-"], &url).await;
    assert_eq!((run.code, run.records()[0]["status"].as_u64()), (0, Some(200)), "{}", run.stderr);
    let seen = server.last_request("/get").unwrap();
    assert_eq!(seen.header("host"), Some(format!("example.test:{port}").as_str()));

    // Unlike curl, the address serves every port of the host: the URL's port is used.
    let run =
        volley(&["fetch", "-q", "--resolve", "example.test:1:[::1],127.0.0.1", "-"], &url).await;
    assert_eq!((run.code, run.records()[0]["status"].as_u64()), (0, Some(200)), "{}", run.stderr);
    assert_eq!(server.hits("/get"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_versions_follow_the_flags() {
    let server = TestServer::start().await.unwrap();
    let url = server.url("/get");
    let mut versions = Vec::new();
    for flag in [None, Some("--http1.1"), Some("--http2-prior-knowledge")] {
        let args: Vec<&str> = ["fetch", "-q"].into_iter().chain(flag).chain(["-"]).collect();
        let run = volley(&args, &url).await;
        assert_eq!(run.code, 0, "{flag:?}: {}", run.stderr);
        versions.push(server.last_request("/get").unwrap().version);
    }
    assert_eq!(versions, [Version::HTTP_11, Version::HTTP_11, Version::HTTP_2]);
}

/// A private CA with `--cacert`, HTTP/2 by ALPN unless `--http1.1`, and a client
/// certificate with `--cert` and `--key` for a server that requires one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_files_trust_a_private_ca_and_present_a_client_certificate() {
    let ca = TestCa::new().unwrap();
    let dir = scratch_dir("tls");
    let ca_pem = dir.join("ca.pem");
    std::fs::write(&ca_pem, ca.cert_pem()).unwrap();
    let (chain, key) = ca.client_identity("volley-cli").unwrap();
    let (cert_pem, key_pem) = (dir.join("client.pem"), dir.join("client.key"));
    std::fs::write(&cert_pem, chain).unwrap();
    std::fs::write(&key_pem, &key).unwrap();
    let cacert = ["--cacert", ca_pem.to_str().unwrap()];

    let server = TlsServer::start(TlsServerConfig::new(&ca)).await.unwrap();
    let url = server.url("/get");
    let untrusted = volley(&["fetch", "-q", "--retries", "2", "-"], &url).await;
    assert_eq!(untrusted.code, 1, "{}", untrusted.stderr);
    assert_eq!(
        untrusted.records()[0]["attempts"].as_u64(),
        Some(1),
        "a bad certificate is not retried"
    );
    assert_eq!(server.total_hits(), 0);
    for (flag, version) in [(None, Version::HTTP_2), (Some("--http1.1"), Version::HTTP_11)] {
        let args: Vec<&str> =
            ["fetch", "-q"].into_iter().chain(cacert).chain(flag).chain(["-"]).collect();
        let run = volley(&args, &url).await;
        assert_eq!(
            (run.code, run.records()[0]["status"].as_u64()),
            (0, Some(200)),
            "{}",
            run.stderr
        );
        assert_eq!(server.requests().last().map(|r| r.version), Some(version), "{flag:?}");
    }
    assert_eq!(server.total_hits(), 2);

    let mutual =
        TlsServer::start(TlsServerConfig::new(&ca).require_client_cert(true)).await.unwrap();
    let url = mutual.url("/get");
    let run = volley(&["fetch", "-q", "--retries", "0", cacert[0], cacert[1], "-"], &url).await;
    assert_eq!((run.code, mutual.total_hits()), (1, 0), "no client certificate: {}", run.stderr);
    let identity = ["--cert", cert_pem.to_str().unwrap(), "--key", key_pem.to_str().unwrap()];
    let args: Vec<&str> =
        ["fetch", "-q"].into_iter().chain(cacert).chain(identity).chain(["-"]).collect();
    let run = volley(&args, &url).await;
    assert_eq!((run.code, run.records()[0]["status"].as_u64()), (0, Some(200)), "{}", run.stderr);
    assert_eq!(mutual.total_hits(), 1);
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!run.stdout.contains(&key_body) && !run.stderr.contains(&key_body));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_flags_and_the_environment_choose_the_route() {
    let origin = TestServer::start().await.unwrap();
    let proxy = ProxyServer::start().await.unwrap();
    let url = origin.url("/get");
    let proxy_url = proxy.url();
    let env_proxy = [("HTTP_PROXY", proxy_url.as_str())];
    /// Flags, environment, and whether the request should go through the proxy.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool);
    let cases: [Case<'_>; 7] = [
        (&["--proxy", &proxy_url], &[], true),
        (&["--proxy", &proxy_url, "--noproxy", "127.0.0.1"], &[], false),
        // As curl: NO_PROXY applies to --proxy too.
        (&["--proxy", &proxy_url], &[("NO_PROXY", "127.0.0.0/8")], false),
        (&[], &env_proxy, true),
        (&["--noproxy", "example.com"], &env_proxy, true),
        (&["--noproxy", "127.0.0.1"], &env_proxy, false),
        (&["--noproxy", "*"], &env_proxy, false),
    ];
    for (i, (flags, env, proxied)) in cases.into_iter().enumerate() {
        let before = (proxy.forwarded(), origin.hits("/get"));
        let args: Vec<&str> = ["fetch", "-q"].iter().chain(flags).chain(&["-"]).copied().collect();
        let run = volley_with_env(&args, env, &url).await;
        assert_eq!(
            (run.code, run.records()[0]["status"].as_u64()),
            (0, Some(200)),
            "{i}: {}",
            run.stderr
        );
        let after = (proxy.forwarded(), origin.hits("/get"));
        assert_eq!(
            after,
            (before.0 + u64::from(proxied), before.1 + 1),
            "case {i}: {flags:?} {env:?}"
        );
    }
    assert_eq!(proxy.seen()[0].target, url, "absolute form, as a forward proxy wants");
}

/// Proxy credentials reach the proxy only, and are never printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_go_to_the_proxy_only() {
    let origin = TestServer::start().await.unwrap();
    let proxy = ProxyServer::start_with_auth("volley", "pr0xy-s3cret").await.unwrap();
    let port = proxy.addr().port();
    let url = origin.url("/get");
    let good = format!("http://volley:pr0xy-s3cret@127.0.0.1:{port}");
    let bad = format!("http://volley:wr0ng-s3cret@127.0.0.1:{port}");
    let run = volley(&["fetch", "--proxy", &good, "-"], &url).await;
    assert_eq!((run.code, run.records()[0]["status"].as_u64()), (0, Some(200)), "{}", run.stderr);
    assert_eq!((proxy.forwarded(), proxy.auth_failures()), (1, 0));
    assert_eq!(proxy.seen()[0].user.as_deref(), Some("volley"));
    assert_eq!(origin.last_request("/get").unwrap().header("proxy-authorization"), None);

    let refused = volley(&["fetch", "--retries", "0", "--proxy", &bad, "-"], &url).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_eq!(refused.records()[0]["status"].as_u64(), Some(407));
    assert_eq!((proxy.forwarded(), proxy.auth_failures(), origin.hits("/get")), (1, 1, 1));
    for text in [&run.stdout, &run.stderr, &refused.stdout, &refused.stderr] {
        assert!(!text.contains("s3cret"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transport_flags_and_files_give_one_line_without_their_contents() {
    let dir = scratch_dir("bad-tls");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a PEM: hunter2\n").unwrap();
    let bad_key = dir.join("bad.key");
    std::fs::write(
        &bad_key,
        "-----BEGIN PRIVATE KEY-----\naHVudGVyMi1rZXktbWF0ZXJpYWw=\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let ca = TestCa::new().unwrap();
    let cert = dir.join("client.pem");
    std::fs::write(&cert, ca.client_identity("volley-cli").unwrap().0).unwrap();
    let (junk, bad_key, cert) =
        (junk.to_str().unwrap(), bad_key.to_str().unwrap(), cert.to_str().unwrap());

    let cannot_use_cacert = format!("cannot use --cacert {junk}");
    let cannot_use_key = format!("cannot use --cert {cert} with --key {bad_key}");
    let cases: [(&[&str], &str); 11] = [
        (&["fetch", "--cacert", "/no/such/ca.pem", "-"], "cannot read /no/such/ca.pem"),
        (&["fetch", "--cacert", junk, "-"], &cannot_use_cacert),
        (&["fetch", "--cert", cert, "-"], "--key <FILE>"),
        (&["fetch", "--key", bad_key, "-"], "--cert <FILE>"),
        (
            &["fetch", "--cert", "/no/such/c.pem", "--key", bad_key, "-"],
            "cannot read /no/such/c.pem",
        ),
        (&["fetch", "--cert", cert, "--key", bad_key, "-"], &cannot_use_key),
        (&["fetch", "--resolve", "example.test:80", "-"], "HOST:PORT:ADDR"),
        (&["fetch", "--resolve", "example.test:80:localhost", "-"], "not an IP address"),
        (&["fetch", "--http1.1", "--http2-prior-knowledge", "-"], "cannot be used with"),
        (&["fetch", "--max-redirects", "51", "-"], "more than the 50"),
        (
            &["fetch", "--proxy", "https://volley:hunter2@127.0.0.1:1", "-"],
            "TLS to the proxy itself is not supported",
        ),
    ];
    for (args, mentions) in cases {
        let run = volley(args, "").await;
        assert_one_line_usage_error(&run, mentions);
        for secret in ["hunter2", "aHVudGVy"] {
            assert!(!run.stderr.contains(secret), "{args:?}: {}", run.stderr);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
