//! The transport flags, under curl's names: proxies, TLS files, `--resolve` and the HTTP
//! version, and how they configure the client.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Args;
use volley::{Client, ClientBuilder, Identity, Proxy};

use crate::Fatal;

/// `--proxy`, `--noproxy`, `--cacert`, `--cert`, `--key`, `--resolve`, `--http1.1` and
/// `--http2-prior-knowledge`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Transport")]
pub(crate) struct TransportArgs {
    /// Send every request through this proxy (http://, socks5:// or socks5h://, with
    /// user:password@ if it asks for one) instead of the environment's
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Hosts that go direct, comma-separated: names (with their subdomains), addresses,
    /// CIDR blocks, or * for all; replaces NO_PROXY
    #[arg(long, value_name = "LIST")]
    pub(crate) noproxy: Option<String>,
    /// Also trust the certificates in this PEM file (a private CA)
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,
    /// Client certificate chain (PEM) for servers that ask for one; needs --key
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// Private key (PEM) of the --cert certificate
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// Connect to ADDR instead of asking DNS for HOST, as HOST:PORT:ADDR[,ADDR…]
    /// (repeatable); the address is used for every port of HOST
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    pub(crate) resolve: Vec<Resolve>,
    /// Speak HTTP/1.1 only, also over TLS
    #[arg(long = "http1.1", conflicts_with = "http2_prior_knowledge")]
    pub(crate) http1_1: bool,
    /// Speak HTTP/2 from the first byte: h2c to plain-http servers, HTTP/2 only over TLS
    #[arg(long)]
    pub(crate) http2_prior_knowledge: bool,
}

/// One `--resolve`: `host`'s addresses, given for `port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resolve {
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
}

/// `host:port:addr[,addr…]`, an IPv6 address with or without brackets.
fn parse_resolve(s: &str) -> Result<Resolve, String> {
    let mut parts = s.splitn(3, ':');
    let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected HOST:PORT:ADDR, as 'example.com:443:127.0.0.1'".to_owned());
    };
    if host.is_empty() || host.starts_with(['+', '-', '*', '[']) {
        return Err(format!("{host:?} is not a host name (no wildcard or +/- prefix)"));
    }
    let port = port.parse().map_err(|_| format!("{port:?} is not a port"))?;
    let addrs = addrs
        .split(',')
        .map(|addr| {
            let bare = addr.trim().trim_start_matches('[').trim_end_matches(']');
            bare.parse().map_err(|_| format!("{addr:?} is not an IP address"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Resolve { host: host.to_owned(), port, addrs })
}

impl TransportArgs {
    /// `builder` with these flags applied. A file that cannot be read or used is an error
    /// that names it, never one that shows what is inside.
    pub(crate) fn apply(&self, mut builder: ClientBuilder) -> Result<ClientBuilder, Fatal> {
        if let Some(proxy) = self.proxy_choice() {
            builder = match proxy {
                Some(proxy) => builder.proxy(proxy),
                None => builder.no_proxy(),
            };
        }
        if let Some(path) = &self.cacert {
            let pem = read(path)?;
            let roots = |builder: ClientBuilder| builder.add_root_certificates_pem(&pem);
            alone(roots, || format!("cannot use --cacert {}", path.display()))?;
            builder = roots(builder);
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            let what =
                || format!("cannot use --cert {} with --key {}", cert.display(), key.display());
            let identity = Identity::from_pem(&read(cert)?, &read(key)?)
                .map_err(|err| Fatal::Usage(format!("{}: {err}", what())))?;
            // A key that is PEM but not a key the TLS library can use fails only there.
            alone(|builder| builder.identity(identity.clone()), what)?;
            builder = builder.identity(identity);
        }
        for resolve in &self.resolve {
            for ip in &resolve.addrs {
                builder = builder.resolve(&resolve.host, SocketAddr::new(*ip, resolve.port));
            }
        }
        if self.http1_1 {
            builder = builder.http1_only();
        }
        if self.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        Ok(builder)
    }

    /// `None` leaves the client's default (the environment's proxies); `Some(None)` sends
    /// every request direct. As curl: `--proxy` replaces the environment's proxy variables
    /// but not `NO_PROXY`, which `--noproxy` replaces.
    fn proxy_choice(&self) -> Option<Option<Proxy>> {
        let no_proxy = self.noproxy.clone().or_else(|| first_env(&["NO_PROXY", "no_proxy"]));
        if let Some(url) = &self.proxy {
            return Some(Some(Proxy::all(url).no_proxy(no_proxy.unwrap_or_default())));
        }
        let list = self.noproxy.as_deref()?;
        if list.split(',').any(|host| host.trim() == "*") {
            return Some(None);
        }
        env_proxy().map(|proxy| Some(proxy.no_proxy(list)))
    }
}

/// The environment's proxies as the client reads them (hyper-util's `Matcher::from_env`:
/// `HTTP_PROXY`/`http_proxy`, `HTTPS_PROXY`/`https_proxy`, `ALL_PROXY`/`all_proxy` for
/// either, none at all in a CGI script), for `--noproxy` to apply its list to.
fn env_proxy() -> Option<Proxy> {
    if std::env::var_os("REQUEST_METHOD").is_some() {
        return None;
    }
    let usable = |names: &[&str]| {
        first_env(names).filter(|url| !url.is_empty() && url.parse::<http::Uri>().is_ok())
    };
    let all = usable(&["ALL_PROXY", "all_proxy"]);
    let http = usable(&["HTTP_PROXY", "http_proxy"]).or_else(|| all.clone());
    let https = usable(&["HTTPS_PROXY", "https_proxy"]).or(all);
    match (http, https) {
        (Some(http), Some(https)) => Some(Proxy::http(http).and_https(https)),
        (Some(http), None) => Some(Proxy::http(http)),
        (None, Some(https)) => Some(Proxy::https(https)),
        (None, None) => None,
    }
}

/// The value of the first of `names` that is set, as the client reads them.
fn first_env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| std::env::var(name).ok())
}

fn read(path: &Path) -> Result<Vec<u8>, Fatal> {
    std::fs::read(path)
        .map_err(|err| Fatal::Usage(format!("cannot read {}: {err}", path.display())))
}

/// Builds a client with `setting` alone, so that an error it causes can name the flag and
/// its files (`what`) rather than come from the whole build.
fn alone(
    setting: impl FnOnce(ClientBuilder) -> ClientBuilder,
    what: impl FnOnce() -> String,
) -> Result<(), Fatal> {
    match setting(Client::builder().no_proxy()).build() {
        Ok(_) => Ok(()),
        Err(err) => Err(Fatal::Usage(format!("{}: {err}", what()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_takes_host_port_and_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            parse_resolve("example.test:8080:127.0.0.1"),
            Ok(Resolve {
                host: "example.test".to_owned(),
                port: 8080,
                addrs: vec![ip("127.0.0.1")]
            })
        );
        assert_eq!(
            parse_resolve("a.test:443:[::1],10.0.0.2").map(|r| r.addrs),
            Ok(vec![ip("::1"), ip("10.0.0.2")])
        );
        assert_eq!(parse_resolve("a.test:443:::1").map(|r| r.addrs), Ok(vec![ip("::1")]));
        assert!(parse_resolve("a.test:443").unwrap_err().contains("HOST:PORT:ADDR"));
        assert!(parse_resolve("a.test:http:127.0.0.1").unwrap_err().contains("not a port"));
        assert!(parse_resolve("a.test:443:localhost").unwrap_err().contains("not an IP"));
        assert!(parse_resolve("*:443:127.0.0.1").unwrap_err().contains("wildcard"));
        assert!(parse_resolve(":443:127.0.0.1").is_err());
    }
}
