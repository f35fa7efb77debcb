//! TLS verification is on by default; trusting a certificate is explicit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use volley::{Client, Kind};

/// An HTTPS server on 127.0.0.1 with a fresh self-signed certificate for `localhost`;
/// returns its port and the certificate (DER).
async fn https_server() -> (u16, Vec<u8>) {
    let (port, cert, _accepted) = counting_https_server().await;
    (port, cert)
}

/// [`https_server`], also counting the TCP connections it accepted.
async fn counting_https_server() -> (u16, Vec<u8>, Arc<AtomicU64>) {
    let (port, cert, _pem, accepted) = https_server_with(false).await;
    (port, cert, accepted)
}

/// The server of [`https_server`], speaking only TLS 1.2 when `tls12_only`; returns its
/// port, its certificate as DER and as PEM, and its accept counter.
async fn https_server_with(tls12_only: bool) -> (u16, Vec<u8>, String, Arc<AtomicU64>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_der = cert.cert.der().to_vec();
    let cert_pem = cert.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    };
    let mut config = builder
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone().into()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                // `/to/HOST:PORT/PATH` redirects to `http://HOST:PORT/PATH`; anything else
                // answers "secure".
                let service = hyper::service::service_fn(|req: http::Request<_>| async move {
                    let res = match req.uri().path().strip_prefix("/to/") {
                        Some(target) => Response::builder()
                            .status(302)
                            .header("location", format!("http://{target}"))
                            .body(Full::new(Bytes::new())),
                        None => Ok(Response::new(Full::new(Bytes::from("secure")))),
                    };
                    Ok::<_, std::convert::Infallible>(res.unwrap())
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, cert_der, cert_pem, accepted)
}

#[tokio::test]
async fn an_unknown_certificate_fails_verification_at_once_and_is_not_retried() {
    let (port, _cert, accepted) = counting_https_server().await;
    // The default policy retries three times; a certificate error is final.
    let client = Client::new().unwrap();
    let err = client.get(format!("https://localhost:{port}/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Connect, "{err}");
    assert!(err.find::<rustls::Error>().is_some(), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one attempt, no retries");
}

#[tokio::test]
async fn a_trusted_root_makes_it_work_over_http2() {
    let (port, cert) = https_server().await;
    let client = Client::builder().add_root_certificate(cert).build().unwrap();
    let res = client.get(format!("https://localhost:{port}/")).send().await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2, "ALPN picked h2");
    assert_eq!(res.text().await.unwrap(), "secure");
}

#[test]
fn a_malformed_root_is_a_configuration_error() {
    let err =
        Client::builder().add_root_certificate(b"not a certificate".to_vec()).build().unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert!(err.to_string().starts_with("invalid root certificate"), "{err}");
}

#[tokio::test]
async fn a_redirect_from_https_to_http_is_refused_unless_allowed() {
    let (port, cert) = https_server().await;
    let plain = volley_testserver::TestServer::start().await.unwrap();
    let url = format!("https://localhost:{port}/to/{}/get", plain.addr());

    let client = Client::builder().add_root_certificate(cert.clone()).build().unwrap();
    let err = client.get(&url).bearer_auth("t0ken").send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Redirect, "{err}");
    assert_eq!(err.to_string(), format!("refused redirect from https to {}", plain.url("/get")));
    assert_eq!(plain.total_hits(), 0, "nothing was sent in the clear");

    let allowing =
        Client::builder().add_root_certificate(cert).allow_https_to_http(true).build().unwrap();
    let res = allowing.get(&url).bearer_auth("t0ken").send().await.unwrap();
    assert_eq!(res.url().unwrap().to_string(), plain.url("/get"));
    let seen: serde_json::Value = res.json().await.unwrap();
    assert_eq!(seen["headers"].get("authorization"), None, "credentials stay on the https origin");
    assert_eq!(plain.total_hits(), 1);
}

#[tokio::test]
async fn a_pem_root_is_trusted_and_http1_only_keeps_to_http1() {
    let (port, _der, pem, _accepted) = https_server_with(false).await;
    let client = Client::builder().add_root_certificates_pem(pem.as_bytes()).build().unwrap();
    let res = client.get(format!("https://localhost:{port}/")).send().await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);

    let h1 =
        Client::builder().add_root_certificates_pem(pem.as_bytes()).http1_only().build().unwrap();
    let res = h1.get(format!("https://localhost:{port}/")).send().await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_11, "ALPN offered http/1.1 alone");
    assert_eq!(res.text().await.unwrap(), "secure");

    let err = Client::builder().add_root_certificates_pem(b"no pem here").build().unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert_eq!(err.to_string(), "root certificates: no certificate in the PEM");
}

#[tokio::test]
async fn tls_1_3_at_least_refuses_a_tls_1_2_server_at_once() {
    let (port, der, _pem, accepted) = https_server_with(true).await;
    let old_ok = Client::builder().add_root_certificate(der.clone()).build().unwrap();
    assert_eq!(
        old_ok.get(format!("https://localhost:{port}/")).send().await.unwrap().status(),
        200
    );
    accepted.store(0, Ordering::SeqCst);

    let strict = Client::builder()
        .add_root_certificate(der)
        .min_tls_version(volley::TlsVersion::V1_3)
        .build()
        .unwrap();
    let err = strict.get(format!("https://localhost:{port}/")).send().await.unwrap_err();
    assert!(err.find::<rustls::Error>().is_some(), "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one attempt: a TLS error is not retried");
}
