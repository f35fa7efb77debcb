//! [`TestCa`]: a throwaway certificate authority made with rcgen.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// A certificate authority for tests: a self-signed CA certificate and its key, which
/// signs server certificates ([`server_cert`](Self::server_cert)) and client
/// identities for mutual TLS ([`client_identity`](Self::client_identity)).
///
/// A client trusts everything the CA signed by adding [`cert_pem`](Self::cert_pem)
/// (or [`cert_der`](Self::cert_der)) to its roots. Clones share one CA. Keys are
/// ECDSA P-256; certificates are valid from 1975 to 4096.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let ca = volley_testserver::TestCa::new()?;
/// assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let (chain, key) = ca.server_cert(&["example.test"])?;
/// assert!(chain.contains("BEGIN CERTIFICATE") && key.contains("BEGIN PRIVATE KEY"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TestCa {
    inner: Arc<Inner>,
}

struct Inner {
    cert: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// Makes a new CA, with a fresh key.
    pub fn new() -> io::Result<Self> {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own, so a client that trusts another test CA finds no issuer
        // rather than a namesake with the wrong key.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let serial = NEXT.fetch_add(1, Relaxed);
        let name = format!("volley test CA {}-{serial}", std::process::id());
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(tls_error)?;
        let cert = params.self_signed(&key).map_err(tls_error)?;
        let issuer = Issuer::new(params, key);
        Ok(Self { inner: Arc::new(Inner { cert, issuer }) })
    }

    /// The CA certificate, PEM-encoded: what a client adds to its roots.
    pub fn cert_pem(&self) -> String {
        self.inner.cert.pem()
    }

    /// The CA certificate, DER-encoded.
    pub fn cert_der(&self) -> Vec<u8> {
        self.inner.cert.der().to_vec()
    }

    /// A server certificate for `names` (DNS names or IP addresses, e.g.
    /// `["localhost", "127.0.0.1"]`), signed by this CA: `(chain_pem, key_pem)`, the
    /// chain being the leaf certificate alone (the CA signs it directly) and the key
    /// PKCS#8.
    pub fn server_cert(&self, names: &[&str]) -> io::Result<(String, String)> {
        self.leaf(
            names,
            names.first().copied().unwrap_or("server"),
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client identity for mutual TLS, signed by this CA: `(chain_pem, key_pem)`,
    /// a certificate for client authentication whose common name and DNS name are
    /// `name`, and its PKCS#8 key.
    pub fn client_identity(&self, name: &str) -> io::Result<(String, String)> {
        self.leaf(&[name], name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(
        &self,
        names: &[&str],
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> io::Result<(String, String)> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(tls_error)?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages.push(KeyUsagePurpose::DigitalSignature);
        params.extended_key_usages.push(usage);
        let key = KeyPair::generate().map_err(tls_error)?;
        let cert = params.signed_by(&key, &self.inner.issuer).map_err(tls_error)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` wants
fn tls_error(err: rcgen::Error) -> io::Error {
    io::Error::other(format!("test certificate: {err}"))
}
