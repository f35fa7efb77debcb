//! The self-signed certificate of the TLS faults, made once per process.

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The certificate (DER) and its PKCS#8 key (DER), or why they could not be made.
type Identity = Result<(Vec<u8>, Vec<u8>), String>;

fn identity() -> io::Result<&'static (Vec<u8>, Vec<u8>)> {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
            let cert = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
            Ok((cert.cert.der().to_vec(), cert.signing_key.serialize_der()))
        })
        .as_ref()
        .map_err(|e| io::Error::other(format!("self-signed certificate: {e}")))
}

/// The self-signed certificate (DER) that every TLS fault server of this process
/// presents, valid for `127.0.0.1` and `localhost`: a client trusts it with
/// `add_root_certificate`.
pub fn certificate() -> io::Result<Vec<u8>> {
    identity().map(|(cert, _key)| cert.clone())
}

/// A TLS acceptor with that certificate, offering only `h2` by ALPN.
pub(super) fn acceptor() -> io::Result<TlsAcceptor> {
    let (cert, key) = identity()?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(vec![CertificateDer::from(cert.clone())], key)
        })
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
