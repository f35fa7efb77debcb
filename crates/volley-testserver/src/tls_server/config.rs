//! [`TlsServerConfig`]: what a [`TlsServer`](super::TlsServer) presents and demands.

use std::io;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::ca::TestCa;

/// The names in the server certificate unless [`TlsServerConfig::names`] says otherwise.
const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "example.test"];

/// How a [`TlsServer`](super::TlsServer) is set up: the CA that signs its certificate,
/// the names in it, client authentication, protocol versions and ALPN.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use volley_testserver::{TestCa, TlsServerConfig};
/// let ca = TestCa::new()?;
/// let config = TlsServerConfig::new(&ca).require_client_cert(true).tls12_only();
/// # let _ = config;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TlsServerConfig {
    pub(super) ca: TestCa,
    names: Vec<String>,
    require_client_cert: bool,
    tls12_only: bool,
    alpn: Vec<Vec<u8>>,
}

impl TlsServerConfig {
    /// A configuration whose server certificate `ca` signs.
    pub fn new(ca: &TestCa) -> Self {
        Self {
            ca: ca.clone(),
            names: DEFAULT_NAMES.iter().map(|name| (*name).to_owned()).collect(),
            require_client_cert: false,
            tls12_only: false,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }

    /// The DNS names and IP addresses in the server certificate.
    /// Defaults to `localhost`, `127.0.0.1` and `example.test`.
    #[must_use]
    pub fn names<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Whether a client must present a certificate signed by the CA; a client
    /// without one fails the handshake. Defaults to `false` (none is asked for).
    #[must_use]
    pub fn require_client_cert(mut self, require: bool) -> Self {
        self.require_client_cert = require;
        self
    }

    /// Speaks TLS 1.2 only, so a client that insists on TLS 1.3 fails the handshake.
    /// Defaults to TLS 1.2 and 1.3.
    #[must_use]
    pub fn tls12_only(mut self) -> Self {
        self.tls12_only = true;
        self
    }

    /// The ALPN protocols offered, in order of preference (empty: no ALPN).
    /// Defaults to `h2`, then `http/1.1`.
    #[must_use]
    pub fn alpn<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Vec<u8>>,
    {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The rustls configuration: a fresh certificate for the names, signed by the CA.
    pub(super) fn build(&self) -> io::Result<Arc<rustls::ServerConfig>> {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let (chain_pem, key_pem) = self.ca.server_cert(&names)?;
        let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(io::Error::other)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(io::Error::other)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] =
            if self.tls12_only { &[&rustls::version::TLS12] } else { rustls::DEFAULT_VERSIONS };
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(io::Error::other)?;
        let builder = if self.require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(CertificateDer::from(self.ca.cert_der())).map_err(io::Error::other)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(io::Error::other)?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(chain, key).map_err(io::Error::other)?;
        config.alpn_protocols.clone_from(&self.alpn);
        Ok(Arc::new(config))
    }
}
