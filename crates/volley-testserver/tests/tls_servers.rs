//! The TLS server and its CA, driven by a raw tokio-rustls client.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    AlertDescription, ClientConfig, ProtocolVersion, RootCertStore, SupportedProtocolVersion,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use volley_testserver::{TestCa, TlsServer, TlsServerConfig};

type Error = Box<dyn std::error::Error + Send + Sync>;

const ALL: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A client that trusts `ca` (through its PEM), speaks `versions`, offers `alpn` and
/// presents `identity` (chain PEM, key PEM) if given.
fn client(
    ca: &TestCa,
    versions: &[&'static SupportedProtocolVersion],
    identity: Option<(String, String)>,
    alpn: &[&[u8]],
) -> Result<TlsConnector, Error> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((chain, key)) => {
            let chain =
                CertificateDer::pem_slice_iter(chain.as_bytes()).collect::<Result<Vec<_>, _>>()?;
            builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(key.as_bytes())?)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Connects to `server` by IP and handshakes with `name` as the server name.
async fn handshake(
    server: &TlsServer,
    connector: &TlsConnector,
    name: ServerName<'static>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(server.addr()).await?;
    connector.connect(name, tcp).await
}

fn name(dns: &str) -> Result<ServerName<'static>, Error> {
    Ok(ServerName::try_from(dns.to_owned())?)
}

/// GET `path` over `tls` with HTTP/1.1.
async fn get(tls: TlsStream<TcpStream>, path: &str) -> Result<(StatusCode, Bytes), Error> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(connection);
    let request = Request::get(path).header("host", "localhost").body(Empty::<Bytes>::new())?;
    let (parts, body) = sender.send_request(request).await?.into_parts();
    Ok((parts.status, body.collect().await?.to_bytes()))
}

/// Waits (at most 5 s) until the server has finished `n` handshakes either way.
async fn settled(server: &TlsServer, n: u64) -> Result<(), Error> {
    tokio::time::timeout(Duration::from_secs(5), server.wait_handshakes(n)).await?;
    Ok(())
}

/// The rustls error inside an I/O error.
fn rustls_error(err: &std::io::Error) -> Option<&rustls::Error> {
    err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

#[tokio::test]
async fn a_client_trusting_the_ca_pem_connects_and_gets_the_endpoints() -> Result<(), Error> {
    let ca = TestCa::new()?;
    let server = TlsServer::start(TlsServerConfig::new(&ca)).await?;
    assert_eq!(server.url("get"), format!("https://localhost:{}/get", server.addr().port()));

    let http1 = client(&ca, ALL, None, &[b"http/1.1"])?;
    let tls = handshake(&server, &http1, name("localhost")?).await?;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(tls.get_ref().1.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    let (status, body) = get(tls, "/get?via=tls").await?;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    assert_eq!(json["args"]["via"], "tls");

    // The server prefers h2 when the client offers both.
    let both = client(&ca, ALL, None, &[b"http/1.1", b"h2"])?;
    let tls = handshake(&server, &both, name("localhost")?).await?;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    settled(&server, 2).await?;

    assert_eq!((server.accepted(), server.handshakes(), server.handshake_failures()), (2, 2, 0));
    assert_eq!((server.hits("/get"), server.total_hits()), (1, 1));
    assert_eq!(server.requests()[0].path_and_query, "/get?via=tls");
    assert_eq!(server.sni_seen(), ["localhost", "localhost"]);
    Ok(())
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_fails() -> Result<(), Error> {
    let ca = TestCa::new()?;
    let server = TlsServer::start(TlsServerConfig::new(&ca)).await?;
    let other_ca = TestCa::new()?;
    let err = handshake(&server, &client(&other_ca, ALL, None, &[])?, name("localhost")?)
        .await
        .unwrap_err();
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))
        ),
        "{err:?}"
    );
    settled(&server, 1).await?;
    assert_eq!((server.accepted(), server.handshakes(), server.handshake_failures()), (1, 0, 1));
    assert_eq!(server.total_hits(), 0);
    Ok(())
}

#[tokio::test]
async fn a_required_client_certificate_refuses_without_one_and_answers_with_one()
-> Result<(), Error> {
    let ca = TestCa::new()?;
    let server = TlsServer::start(TlsServerConfig::new(&ca).require_client_cert(true)).await?;

    // TLS 1.3: the client may finish its side first; the refusal arrives as an alert.
    let without = client(&ca, ALL, None, &[])?;
    let failure = match handshake(&server, &without, name("localhost")?).await {
        Err(err) => err,
        Ok(mut tls) => {
            tls.write_all(b"GET /get HTTP/1.1\r\nhost: localhost\r\n\r\n").await?;
            let mut buf = [0; 64];
            tls.read(&mut buf).await.unwrap_err()
        }
    };
    assert_eq!(
        rustls_error(&failure),
        Some(&rustls::Error::AlertReceived(AlertDescription::CertificateRequired)),
        "{failure:?}"
    );
    settled(&server, 1).await?;
    assert_eq!((server.accepted(), server.handshakes(), server.handshake_failures()), (1, 0, 1));

    // An identity from another CA is refused as well.
    let stranger = TestCa::new()?.client_identity("client.test")?;
    let untrusted = client(&ca, ALL, Some(stranger), &[])?;
    if let Ok(tls) = handshake(&server, &untrusted, name("localhost")?).await {
        assert!(get(tls, "/get").await.is_err());
    }
    settled(&server, 2).await?;
    assert_eq!((server.handshakes(), server.handshake_failures()), (0, 2));

    let with = client(&ca, ALL, Some(ca.client_identity("client.test")?), &[])?;
    let (status, _) = get(handshake(&server, &with, name("localhost")?).await?, "/get").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((server.accepted(), server.handshakes(), server.handshake_failures()), (3, 1, 2));
    assert_eq!(server.total_hits(), 1);
    Ok(())
}

#[tokio::test]
async fn a_tls12_only_server_refuses_a_tls13_only_client() -> Result<(), Error> {
    let ca = TestCa::new()?;
    let server = TlsServer::start(TlsServerConfig::new(&ca).tls12_only()).await?;

    let tls13 = client(&ca, &[&rustls::version::TLS13], None, &[])?;
    let err = handshake(&server, &tls13, name("localhost")?).await.unwrap_err();
    assert_eq!(
        rustls_error(&err),
        Some(&rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)),
        "{err:?}"
    );
    settled(&server, 1).await?;
    assert_eq!((server.handshakes(), server.handshake_failures()), (0, 1));

    let tls12 = client(&ca, &[&rustls::version::TLS12], None, &[b"http/1.1"])?;
    let tls = handshake(&server, &tls12, name("localhost")?).await?;
    assert_eq!(tls.get_ref().1.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(get(tls, "/get").await?.0, StatusCode::OK);
    assert_eq!((server.accepted(), server.handshakes(), server.handshake_failures()), (2, 1, 1));
    Ok(())
}

#[tokio::test]
async fn sni_is_recorded_and_the_certificate_names_are_checked() -> Result<(), Error> {
    let ca = TestCa::new()?;
    let server = TlsServer::start(TlsServerConfig::new(&ca)).await?;
    let connector = client(&ca, ALL, None, &[b"http/1.1"])?;
    let by_name = handshake(&server, &connector, name("example.test")?).await?;
    assert_eq!(get(by_name, "/get").await?.0, StatusCode::OK);
    // By IP address (in the certificate by default): no SNI is sent.
    let by_ip = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    assert_eq!(get(handshake(&server, &connector, by_ip).await?, "/get").await?.0, StatusCode::OK);
    assert_eq!(
        get(handshake(&server, &connector, name("localhost")?).await?, "/get").await?.0,
        StatusCode::OK
    );
    assert_eq!(server.sni_seen(), ["example.test", "localhost"]);
    assert_eq!((server.handshakes(), server.hits("/get")), (3, 3));

    let narrow = TlsServer::start(TlsServerConfig::new(&ca).names(["only.test"])).await?;
    let err = handshake(&narrow, &connector, name("localhost")?).await.unwrap_err();
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err:?}"
    );
    handshake(&narrow, &connector, name("only.test")?).await?;
    settled(&narrow, 2).await?;
    assert_eq!((narrow.handshakes(), narrow.handshake_failures()), (1, 1));
    assert_eq!(narrow.sni_seen(), ["localhost", "only.test"]);
    Ok(())
}
