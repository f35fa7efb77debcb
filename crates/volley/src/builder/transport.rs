//! The builder's transport settings: connections, TLS, DNS, proxies, and the connector
//! hook. Defaults and their reasons are in `docs/transport.md`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tower::Layer;
use tower_service::Service;
use volley_core::BoxError;

use super::ClientBuilder;
use crate::Error;
use crate::proxy::{self, Proxies, Proxy};
use crate::tls::{self, Identity, Tls, TlsVersion};
use crate::transport::{self, BoxConnector, Connection, Tcp};

type ConnectorLayer = Box<dyn Fn(BoxConnector) -> BoxConnector + Send + Sync>;

/// Where the proxy settings come from.
#[derive(Debug)]
pub(super) enum ProxyChoice {
    Environment,
    None,
    Explicit(Proxy),
}

/// Everything below the HTTP layers.
pub(super) struct TransportSettings {
    pub(super) connect_timeout: Option<Duration>,
    pub(super) pool_idle_timeout: Option<Duration>,
    pub(super) pool_max_idle_per_host: usize,
    pub(super) http2_keep_alive: Option<(Duration, Duration)>,
    pub(super) tcp_keepalive: Option<Duration>,
    pub(super) tcp_nodelay: bool,
    pub(super) local_address: Option<IpAddr>,
    pub(super) happy_eyeballs: Option<Duration>,
    pub(super) http1_only: bool,
    pub(super) http2_prior_knowledge: bool,
    pub(super) resolve: HashMap<String, Vec<SocketAddr>>,
    #[cfg(feature = "hickory-dns")]
    pub(super) hickory: Option<crate::HickoryDns>,
    pub(super) tls: Tls,
    pub(super) proxy: ProxyChoice,
    pub(super) connector_layers: Vec<ConnectorLayer>,
}

impl Default for TransportSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Some(Duration::from_secs(5)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: usize::MAX,
            http2_keep_alive: Some((Duration::from_secs(30), Duration::from_secs(10))),
            tcp_keepalive: Some(Duration::from_secs(30)),
            tcp_nodelay: true,
            local_address: None,
            happy_eyeballs: Some(Duration::from_millis(300)),
            http1_only: false,
            http2_prior_knowledge: false,
            resolve: HashMap::new(),
            #[cfg(feature = "hickory-dns")]
            hickory: None,
            tls: Tls { webpki: true, ..Tls::default() },
            proxy: ProxyChoice::Environment,
            connector_layers: Vec::new(),
        }
    }
}

impl TransportSettings {
    /// The proxies in force, read from the environment now when that is the choice.
    pub(super) fn proxies(&self) -> Result<Proxies, Error> {
        match &self.proxy {
            ProxyChoice::Environment => Ok(proxy::from_env()),
            ProxyChoice::None => Ok(None),
            ProxyChoice::Explicit(proxy) => Ok(Some(std::sync::Arc::new(proxy.matcher()?))),
        }
    }

    /// The connector, with the caller's layers around volley's (the first added outermost)
    /// and the connect timeout around them all.
    pub(super) fn connector(&self, proxies: Proxies) -> Result<BoxConnector, Error> {
        let tcp = Tcp {
            connect_timeout: self.connect_timeout,
            tcp_keepalive: self.tcp_keepalive,
            nodelay: self.tcp_nodelay,
            local_address: self.local_address,
            happy_eyeballs: self.happy_eyeballs,
            resolve: self.resolve.clone(),
            #[cfg(feature = "hickory-dns")]
            hickory: self.hickory.clone(),
        };
        let mut connector = transport::connector(
            &tcp,
            &self.tls,
            proxies,
            self.http1_only,
            self.http2_prior_knowledge,
        )?;
        for layer in self.connector_layers.iter().rev() {
            connector = layer(connector);
        }
        Ok(transport::timed(connector, self.connect_timeout))
    }
}

impl ClientBuilder {
    /// How long to wait for a connection: DNS resolution, TCP connect, proxy handshake and
    /// TLS handshake together, one budget for all; `None` for no limit. A connect that runs
    /// out fails with a [`TimedOut`](volley_core::TimedOut) of kind `Connect` (nothing was
    /// sent, so it is retried). Defaults to 5 s.
    #[must_use]
    pub fn connect_timeout(mut self, connect: Option<Duration>) -> Self {
        self.transport.connect_timeout = connect;
        self
    }

    /// How long an idle pooled connection is kept; `None` keeps it forever. Defaults to
    /// 90 s.
    #[must_use]
    pub fn pool_idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.transport.pool_idle_timeout = idle;
        self
    }

    /// The most idle connections kept per host; 0 closes each connection after its
    /// request. Defaults to no limit (idle ones still close after `pool_idle_timeout`).
    #[must_use]
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.transport.pool_max_idle_per_host = max;
        self
    }

    /// HTTP/2 keep-alive: a PING every `interval`, also while the connection is idle, and
    /// the connection closed when no answer comes within `timeout`, so a black-holed
    /// connection fails the requests on it then instead of at their timeouts; `None` sends
    /// no pings. Some gRPC servers answer frequent pings on idle connections with `GOAWAY`
    /// (`ENHANCE_YOUR_CALM`); lengthen the interval for those. Defaults to a ping every
    /// 30 s and a 10 s timeout.
    #[must_use]
    pub fn http2_keep_alive(mut self, interval_and_timeout: Option<(Duration, Duration)>) -> Self {
        self.transport.http2_keep_alive = interval_and_timeout;
        self
    }

    /// TCP keepalive: probes start after the connection was idle this long and repeat
    /// every 10 s, three times, before the kernel declares the peer gone; `None` leaves the
    /// operating system's setting (often off). Defaults to 30 s.
    #[must_use]
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.transport.tcp_keepalive = idle;
        self
    }

    /// `TCP_NODELAY`: small requests go out at once instead of waiting for Nagle's
    /// algorithm. Defaults to `true`.
    #[must_use]
    pub fn tcp_nodelay(mut self, enabled: bool) -> Self {
        self.transport.tcp_nodelay = enabled;
        self
    }

    /// The local address connections are made from (a source IP on a host with several).
    /// Defaults to the operating system's choice.
    #[must_use]
    pub fn local_address(mut self, addr: Option<IpAddr>) -> Self {
        self.transport.local_address = addr;
        self
    }

    /// Happy eyeballs (RFC 8305): when a host has IPv6 and IPv4 addresses, how long the
    /// first family gets before the other is tried too; `None` tries them one after the
    /// other. Defaults to 300 ms.
    #[must_use]
    pub fn happy_eyeballs_timeout(mut self, delay: Option<Duration>) -> Self {
        self.transport.happy_eyeballs = delay;
        self
    }

    /// Speaks HTTP/1.1 only, also over TLS (ALPN offers `http/1.1` alone). Defaults to off.
    #[must_use]
    pub fn http1_only(mut self) -> Self {
        self.transport.http1_only = true;
        self
    }

    /// Speaks HTTP/2 from the first byte, without ALPN or an upgrade: `h2c` to plain-text
    /// servers that expect it, and HTTP/2 only over TLS. Defaults to off (HTTP/1.1 over
    /// plain TCP, HTTP/2 or HTTP/1.1 by ALPN over TLS).
    #[must_use]
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.transport.http2_prior_knowledge = true;
        self
    }

    /// Sends requests for `host` to `addr` instead of asking DNS, as curl's `--resolve`:
    /// the URL, the `Host` header and TLS's SNI and certificate check keep `host`. The port
    /// of `addr` is ignored; the URL's is used. Calling it again for a host adds addresses.
    /// Defaults to none.
    #[must_use]
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        self.transport.resolve.entry(host.to_ascii_lowercase()).or_default().push(addr);
        self
    }

    /// Resolves names with hickory-resolver (feature `hickory-dns`) instead of the system's
    /// `getaddrinfo`: lookups are async, so a nameserver that never answers costs a timer,
    /// not a blocked thread, and the connect timeout still ends them; answers are cached for
    /// their TTL, within the bounds `dns` sets, and shared by every clone of the client.
    /// Names given to [`resolve`](Self::resolve) are still answered first. The system
    /// configuration, when `dns` uses it, is read at [`build`](Self::build). Defaults to the
    /// system resolver (`getaddrinfo` on tokio's blocking pool, one thread per lookup in
    /// flight).
    #[cfg(feature = "hickory-dns")]
    #[must_use]
    pub fn hickory_dns(mut self, dns: crate::HickoryDns) -> Self {
        self.transport.hickory = Some(dns);
        self
    }

    /// Sends requests through `proxy` instead of the one the environment names. Defaults to
    /// the environment's `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`, read
    /// when the client is built.
    #[must_use]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.transport.proxy = ProxyChoice::Explicit(proxy);
        self
    }

    /// Ignores the environment's proxy variables and any [`proxy`](Self::proxy): every
    /// request goes direct.
    #[must_use]
    pub fn no_proxy(mut self) -> Self {
        self.transport.proxy = ProxyChoice::None;
        self
    }

    /// Trusts one more root certificate (DER), such as a private CA or a test server's
    /// self-signed certificate. Verification itself cannot be turned off.
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.transport.tls.extra.push(CertificateDer::from(der.into()));
        self
    }

    /// Trusts every certificate in `pem` (a private CA bundle). A PEM with no certificate
    /// is an error of kind `Config` at [`build`](Self::build).
    #[must_use]
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        match tls::certificates_from_pem(pem, "root certificates") {
            Ok(certs) => self.transport.tls.extra.extend(certs),
            Err(err) => self.keep_error(err),
        }
        self
    }

    /// Also trusts the operating system's root store. Defaults to `false`.
    #[must_use]
    pub fn native_roots(mut self, enabled: bool) -> Self {
        self.transport.tls.native = enabled;
        self
    }

    /// Trusts the Mozilla root store bundled by `webpki-roots`. Defaults to `true`; turn it
    /// off to trust only the roots you add.
    #[must_use]
    pub fn webpki_roots(mut self, enabled: bool) -> Self {
        self.transport.tls.webpki = enabled;
        self
    }

    /// Presents `identity` to servers that ask for a client certificate (mutual TLS).
    /// Defaults to none.
    #[must_use]
    pub fn identity(mut self, identity: Identity) -> Self {
        self.transport.tls.identity = Some(identity);
        self
    }

    /// The lowest TLS version accepted: with [`TlsVersion::V1_3`], a server that speaks
    /// only TLS 1.2 fails the handshake (an error, not retried). Defaults to TLS 1.2.
    #[must_use]
    pub fn min_tls_version(mut self, version: TlsVersion) -> Self {
        self.transport.tls.min_version = Some(version);
        self
    }

    /// Uses `config` as it is for every TLS connection — for certificate pinning, a FIPS
    /// crypto provider, session resumption settings. It replaces the roots, identity and
    /// minimum version set here; volley only sets its ALPN protocols (`h2`, `http/1.1`, as
    /// the HTTP settings allow). Defaults to volley's own (ring, verification on).
    #[must_use]
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.transport.tls.custom = Some(config);
        self
    }

    /// Wraps the connector (DNS, TCP, proxy, TLS) in `layer`, inside the connect timeout,
    /// for logging connects, counting them, or handing out connections of your own. It
    /// sees every connect the pool starts, including one started while a request waits for
    /// a pooled connection that then comes back first (hyper-util races the two). Layers
    /// added first are outermost.
    #[must_use]
    pub fn connector_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<BoxConnector> + Send + Sync + 'static,
        L::Service: Service<http::Uri, Response = Connection> + Clone + Send + Sync + 'static,
        <L::Service as Service<http::Uri>>::Future: Send + 'static,
        <L::Service as Service<http::Uri>>::Error: Into<BoxError>,
    {
        self.transport.connector_layers.push(Box::new(move |inner| {
            tower::util::BoxCloneSyncService::new(tower::ServiceExt::map_err(
                layer.layer(inner),
                Into::into,
            ))
        }));
        self
    }
}
