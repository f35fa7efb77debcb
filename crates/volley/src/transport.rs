//! The connector under hyper-util's pool: DNS (with overrides), TCP (no delay, keepalive,
//! local address), a proxy when one applies, TLS, all under one connect timeout, and the
//! caller's connector layers around the lot.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::util::BoxCloneSyncService;
use tower_service::Service;
use volley_core::BoxError;

use crate::Error;
use crate::connect::TimedConnector;
use crate::proxy::{Proxies, ProxyConnector, ProxyStream};
use crate::tls::Tls;

/// What a connect yields: TCP, maybe through a proxy, maybe wrapped in TLS.
pub type Connection = MaybeHttpsStream<ProxyStream<TokioIo<TcpStream>>>;

/// The connector as the client holds it: boxed, so that the caller's
/// [`connector_layer`](crate::ClientBuilder::connector_layer)s can wrap it. A connect is
/// rare next to a request, so the box costs nothing that shows.
pub type BoxConnector = BoxCloneSyncService<http::Uri, Connection, BoxError>;

/// Keepalive probes after the idle time: every 10 s, three of them, so a vanished peer is
/// noticed about 30 s after the first probe rather than after Linux's default 11 minutes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

/// TCP and DNS settings.
pub(crate) struct Tcp {
    /// Also given to hyper-util, which splits it between a host's addresses (so one
    /// black-holed address does not take the whole budget); the whole connect is bounded by
    /// the same value in `connect.rs`.
    pub(crate) connect_timeout: Option<Duration>,
    /// Idle time before keepalive probes; `None` leaves the system's setting.
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) nodelay: bool,
    pub(crate) local_address: Option<IpAddr>,
    pub(crate) happy_eyeballs: Option<Duration>,
    pub(crate) resolve: HashMap<String, Vec<SocketAddr>>,
    /// hickory-resolver instead of the system resolver.
    #[cfg(feature = "hickory-dns")]
    pub(crate) hickory: Option<crate::HickoryDns>,
}

/// volley's connector: resolver, TCP, proxy, TLS (the timeout goes on in [`timed`]).
pub(crate) fn connector(
    tcp: &Tcp,
    tls: &Tls,
    proxies: Proxies,
    http1_only: bool,
    http2_only: bool,
) -> Result<BoxConnector, Error> {
    let mut http = HttpConnector::new_with_resolver(Resolver::new(tcp)?);
    http.enforce_http(false);
    http.set_nodelay(tcp.nodelay);
    http.set_connect_timeout(tcp.connect_timeout);
    http.set_local_address(tcp.local_address);
    http.set_happy_eyeballs_timeout(tcp.happy_eyeballs);
    if tcp.tcp_keepalive.is_some() {
        http.set_keepalive(tcp.tcp_keepalive);
        http.set_keepalive_interval(Some(KEEPALIVE_INTERVAL));
        http.set_keepalive_retries(Some(KEEPALIVE_RETRIES));
    }
    let proxied = ProxyConnector::new(http, proxies);
    let builder =
        HttpsConnectorBuilder::new().with_tls_config(tls.client_config()?).https_or_http();
    // ALPN follows the HTTP versions the client speaks, whatever a custom config said.
    let https: HttpsConnector<_> = match (http1_only, http2_only) {
        (true, _) => builder.enable_http1().wrap_connector(proxied),
        (false, true) => builder.enable_http2().wrap_connector(proxied),
        (false, false) => builder.enable_http1().enable_http2().wrap_connector(proxied),
    };
    Ok(BoxCloneSyncService::new(https))
}

/// `connector` with the connect timeout around it.
pub(crate) fn timed(connector: BoxConnector, timeout: Option<Duration>) -> BoxConnector {
    BoxCloneSyncService::new(TimedConnector::new(connector, timeout))
}

/// The system resolver (`getaddrinfo` on a blocking thread) or hickory-resolver (async,
/// cached), with fixed answers for the names given to
/// [`resolve`](crate::ClientBuilder::resolve), which come first.
#[derive(Clone)]
pub(crate) struct Resolver {
    overrides: Arc<HashMap<String, Vec<SocketAddr>>>,
    lookup: Lookup,
}

#[derive(Clone)]
enum Lookup {
    System(GaiResolver),
    #[cfg(feature = "hickory-dns")]
    Hickory(crate::dns_hickory::HickoryResolver),
}

impl Resolver {
    fn new(tcp: &Tcp) -> Result<Self, Error> {
        #[cfg(feature = "hickory-dns")]
        let lookup = match &tcp.hickory {
            Some(dns) => Lookup::Hickory(dns.resolver()?),
            None => Lookup::System(GaiResolver::new()),
        };
        #[cfg(not(feature = "hickory-dns"))]
        let lookup = Lookup::System(GaiResolver::new());
        Ok(Self { overrides: Arc::new(tcp.resolve.clone()), lookup })
    }
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, BoxError>> + Send>>;

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Resolving;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match &mut self.lookup {
            Lookup::System(system) => system.poll_ready(cx).map_err(Into::into),
            #[cfg(feature = "hickory-dns")]
            Lookup::Hickory(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(addrs) = self.overrides.get(&name.as_str().to_ascii_lowercase()) {
            let addrs = addrs.clone();
            return Box::pin(async move { Ok(addrs.into_iter()) });
        }
        match &mut self.lookup {
            Lookup::System(system) => {
                let lookup = system.call(name);
                Box::pin(async move { Ok(lookup.await?.collect::<Vec<_>>().into_iter()) })
            }
            #[cfg(feature = "hickory-dns")]
            Lookup::Hickory(hickory) => Box::pin(hickory.lookup(name.as_str())),
        }
    }
}
