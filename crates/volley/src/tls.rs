//! TLS: rustls with ring, the roots to trust, a client identity, the lowest version, or a
//! whole `rustls::ClientConfig` of the caller's.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::Error;
use crate::error::Kind;

/// The lowest TLS version the client accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    V1_2,
    /// TLS 1.3 (RFC 8446).
    V1_3,
}

/// A client certificate and its private key, for servers that ask for mutual TLS.
///
/// Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl Identity {
    /// From PEM: `chain` holds the client certificate first, then any intermediates;
    /// `key` holds its private key (PKCS#8, PKCS#1 or SEC1). Fails with an error of kind
    /// `Config` that says what is missing.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, Error> {
        let chain = certificates_from_pem(chain, "the client certificate chain")?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|err| {
            Error::with_kind(Kind::Config, format!("no usable private key in the PEM: {err}"))
        })?;
        Ok(Self { chain, key: Arc::new(key) })
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").field("certificates", &self.chain.len()).finish_non_exhaustive()
    }
}

/// Every certificate in `pem`, or an error naming `what` when there is none.
pub(crate) fn certificates_from_pem(
    pem: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| Error::with_kind(Kind::Config, format!("{what}: invalid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(Error::with_kind(Kind::Config, format!("{what}: no certificate in the PEM")));
    }
    Ok(certs)
}

/// What the builder decided about TLS.
#[derive(Clone, Default)]
pub(crate) struct Tls {
    pub(crate) webpki: bool,
    pub(crate) native: bool,
    pub(crate) extra: Vec<CertificateDer<'static>>,
    pub(crate) identity: Option<Identity>,
    pub(crate) min_version: Option<TlsVersion>,
    /// The caller's own configuration, used as it is (ALPN aside).
    pub(crate) custom: Option<ClientConfig>,
}

impl Tls {
    /// The rustls configuration these settings describe.
    pub(crate) fn client_config(&self) -> Result<ClientConfig, Error> {
        if let Some(custom) = &self.custom {
            return Ok(custom.clone());
        }
        let config_error = |err: rustls::Error| {
            Error::with_kind(Kind::Config, format!("TLS configuration: {err}"))
        };
        // Name the provider: another crate enabling aws-lc-rs must not make rustls panic.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider);
        let builder = match self.min_version {
            Some(TlsVersion::V1_3) => builder.with_protocol_versions(&[&rustls::version::TLS13]),
            _ => builder.with_safe_default_protocol_versions(),
        }
        .map_err(config_error)?
        .with_root_certificates(self.roots()?);
        match &self.identity {
            Some(identity) => builder
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                .map_err(config_error),
            None => Ok(builder.with_no_client_auth()),
        }
    }

    fn roots(&self) -> Result<RootCertStore, Error> {
        let mut store = RootCertStore::empty();
        if self.webpki {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if self.native {
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(native.certs);
            if added == 0 {
                let reasons: Vec<String> = native.errors.iter().map(ToString::to_string).collect();
                return Err(Error::with_kind(
                    Kind::Config,
                    format!("no usable native root certificates: {}", reasons.join("; ")),
                ));
            }
        }
        for root in &self.extra {
            store.add(root.clone()).map_err(|err| {
                Error::with_kind(Kind::Config, format!("invalid root certificate: {err}"))
            })?;
        }
        Ok(store)
    }
}
