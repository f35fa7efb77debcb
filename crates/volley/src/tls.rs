//! The transport under the stack: TCP with a connect timeout, and rustls with ring.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::Error;
use crate::error::Kind;

/// Which roots to trust.
pub(crate) struct Roots<'a> {
    pub(crate) webpki: bool,
    pub(crate) native: bool,
    pub(crate) extra: &'a [CertificateDer<'static>],
}

/// An HTTP and HTTPS connector (HTTP/1.1 and HTTP/2 by ALPN) trusting `roots`.
pub(crate) fn connector(
    connect_timeout: Option<Duration>,
    roots: &Roots<'_>,
) -> Result<HttpsConnector<HttpConnector>, Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(connect_timeout);

    let mut store = RootCertStore::empty();
    if roots.webpki {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if roots.native {
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
    for root in roots.extra {
        store.add(root.clone()).map_err(|err| {
            Error::with_kind(Kind::Config, format!("invalid root certificate: {err}"))
        })?;
    }
    // Name the provider: another crate enabling aws-lc-rs must not make rustls panic.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::with_kind(Kind::Config, format!("TLS configuration: {err}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http))
}
