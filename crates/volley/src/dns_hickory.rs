//! DNS by hickory-resolver (feature `hickory-dns`): lookups are async, so a nameserver that
//! never answers costs a timer and a socket instead of a blocked thread, and answers are
//! cached for their TTL, within bounds the caller sets.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use volley_core::BoxError;

use crate::error::{Error, Kind};

/// hickory-resolver's ceiling on any TTL, and the default upper bound here: one day.
const ONE_DAY: Duration = Duration::from_secs(86_400);

/// How [`ClientBuilder::hickory_dns`](crate::ClientBuilder::hickory_dns) resolves names:
/// which nameservers to ask, and how long to keep their answers.
///
/// Every clone of a client built with it shares one resolver and one cache. Names given to
/// [`resolve`](crate::ClientBuilder::resolve) are answered first, without a lookup.
///
/// ```
/// use std::time::Duration;
/// use volley::HickoryDns;
///
/// let dns = HickoryDns::new()
///     .nameservers(["127.0.0.53:53".parse().unwrap()])
///     .positive_ttl(Duration::from_secs(5), Duration::from_secs(300));
/// let client = volley::Client::builder().hickory_dns(dns).build()?;
/// # Ok::<(), volley::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct HickoryDns {
    /// `None`: the system's configuration, read at `build()`.
    nameservers: Option<Vec<SocketAddr>>,
    cache_size: u64,
    positive_ttl: (Duration, Duration),
    negative_ttl: (Duration, Duration),
}

impl Default for HickoryDns {
    fn default() -> Self {
        Self {
            nameservers: None,
            cache_size: 8_192,
            positive_ttl: (Duration::ZERO, ONE_DAY),
            negative_ttl: (Duration::ZERO, Duration::from_secs(300)),
        }
    }
}

impl HickoryDns {
    /// The system's configuration (`/etc/resolv.conf` on Unix: nameservers, search domains,
    /// `ndots`, `timeout`, `attempts`), with the defaults of each knob below.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks these nameservers, over UDP (and TCP for truncated answers), instead of the
    /// system's; no search domains apply. An empty list is an error of kind `Config` at
    /// [`build`](crate::ClientBuilder::build). Defaults to the system's configuration, read
    /// when the client is built.
    #[must_use]
    pub fn nameservers(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.nameservers = Some(addrs.into_iter().collect());
        self
    }

    /// How many answers the cache holds (one per name and record type; 0 caches nothing).
    /// Defaults to 8192.
    #[must_use]
    pub fn cache_size(mut self, entries: u64) -> Self {
        self.cache_size = entries;
        self
    }

    /// Bounds on how long an answer with addresses is cached: its TTL, raised to `min` and
    /// lowered to `max` (aiohttp's `ttl_dns_cache` is `min == max`). `min` above `max` is an
    /// error of kind `Config` at [`build`](crate::ClientBuilder::build). Defaults to the
    /// record's TTL, at most one day.
    #[must_use]
    pub fn positive_ttl(mut self, min: Duration, max: Duration) -> Self {
        self.positive_ttl = (min, max);
        self
    }

    /// Bounds on how long "no such name" or "no such address" is cached: the TTL the
    /// zone's SOA gives it, raised to `min` and lowered to `max`; an answer without an SOA
    /// is cached for `min`. `min` above `max` is an error of kind `Config` at
    /// [`build`](crate::ClientBuilder::build). Defaults to the SOA's TTL, at most 5 minutes,
    /// so a name created a moment ago is found soon.
    #[must_use]
    pub fn negative_ttl(mut self, min: Duration, max: Duration) -> Self {
        self.negative_ttl = (min, max);
        self
    }

    /// The resolver, built now: the system configuration is read here.
    pub(crate) fn resolver(&self) -> Result<HickoryResolver, Error> {
        let config = |message: String| Error::with_kind(Kind::Config, message);
        for (what, (min, max)) in [("positive", self.positive_ttl), ("negative", self.negative_ttl)]
        {
            if min > max {
                return Err(config(format!(
                    "hickory-dns: {what} TTL minimum {min:?} is above the maximum {max:?}"
                )));
            }
        }
        let provider = TokioRuntimeProvider::default();
        let mut builder = match &self.nameservers {
            None => TokioResolver::builder(provider).map_err(|err| {
                config(format!("hickory-dns: cannot read the system's DNS configuration: {err}"))
            })?,
            Some(addrs) if addrs.is_empty() => {
                return Err(config("hickory-dns: no nameservers given".to_owned()));
            }
            Some(addrs) => {
                let servers = addrs.iter().map(|addr| udp_and_tcp(*addr)).collect();
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(servers),
                    provider,
                )
            }
        };
        let opts = builder.options_mut();
        opts.cache_size = self.cache_size;
        opts.positive_min_ttl = Some(self.positive_ttl.0);
        opts.positive_max_ttl = Some(self.positive_ttl.1);
        opts.negative_min_ttl = Some(self.negative_ttl.0);
        opts.negative_max_ttl = Some(self.negative_ttl.1);
        let resolver = builder
            .build()
            .map_err(|err| config(format!("hickory-dns: cannot build the resolver: {err}")))?;
        Ok(HickoryResolver(Arc::new(resolver)))
    }
}

/// A nameserver at `addr`, UDP first and TCP on the same port.
fn udp_and_tcp(addr: SocketAddr) -> NameServerConfig {
    let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
        .into_iter()
        .map(|mut connection| {
            connection.port = addr.port();
            connection
        })
        .collect();
    NameServerConfig::new(addr.ip(), true, connections)
}

/// The built resolver, shared (with its cache) by every clone of the connector.
#[derive(Clone)]
pub(crate) struct HickoryResolver(Arc<TokioResolver>);

impl HickoryResolver {
    /// The addresses of `host` (port 0; the connector sets the URL's), IPv6 first when
    /// there are both, for happy eyeballs to sort out.
    pub(crate) fn lookup(
        &self,
        host: &str,
    ) -> impl Future<Output = Result<std::vec::IntoIter<SocketAddr>, BoxError>> + Send + 'static
    {
        let resolver = Arc::clone(&self.0);
        let host = host.to_owned();
        async move {
            let found = resolver.lookup_ip(host).await?;
            Ok(found.iter().map(|ip| SocketAddr::new(ip, 0)).collect::<Vec<_>>().into_iter())
        }
    }
}
