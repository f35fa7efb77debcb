//! The transport under the stack: TCP (no delay, keepalive) and rustls with ring. The
//! connect timeout wraps all of it, in `connect.rs`.

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

/// TCP settings.
pub(crate) struct Tcp {
    /// Also given to hyper-util, which splits it between a host's addresses (so one
    /// black-holed address does not take the whole budget); the whole connect is bounded by
    /// the same value in `connect.rs`.
    pub(crate) connect_timeout: Option<Duration>,
    /// Idle time before keepalive probes; `None` leaves the system's setting.
    pub(crate) tcp_keepalive: Option<Duration>,
}

/// Keepalive probes after the idle time: every 10 s, three of them, so a vanished peer is
/// noticed about 30 s after the first probe rather than after Linux's default 11 minutes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

/// An HTTP and HTTPS connector (HTTP/1.1 and HTTP/2 by ALPN) trusting `roots`.
pub(crate) fn connector(
    tcp: &Tcp,
    roots: &Roots<'_>,
) -> Result<HttpsConnector<HttpConnector>, Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(tcp.connect_timeout);
    if tcp.tcp_keepalive.is_some() {
        http.set_keepalive(tcp.tcp_keepalive);
        http.set_keepalive_interval(Some(KEEPALIVE_INTERVAL));
        http.set_keepalive_retries(Some(KEEPALIVE_RETRIES));
    }

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
