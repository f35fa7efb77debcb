//! Where the proxy may connect: loopback addresses, and nothing else.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpStream;

/// The loopback addresses `host` stands for, or `None` to refuse the target.
///
/// An IP literal (IPv6 with or without brackets) is kept only if it is loopback.
/// `localhost` and names under `.localhost` (RFC 6761) are 127.0.0.1 then ::1; names
/// under `.test` are 127.0.0.1, so tests can use `example.test`. No other name is
/// looked up: a DNS query could leave the machine, and a fixture must not.
pub(crate) fn resolve(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let ip = ip.to_canonical();
        return ip.is_loopback().then(|| vec![SocketAddr::new(ip, port)]);
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let v4 = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    if name == "localhost" || name.ends_with(".localhost") {
        Some(vec![v4, SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port)])
    } else if name.ends_with(".test") && name.len() > ".test".len() {
        Some(vec![v4])
    } else {
        None
    }
}

/// Connects to the first of `addrs` that answers.
pub(crate) async fn connect(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(err) => last = err,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::resolve;

    fn ips(host: &str) -> Option<Vec<String>> {
        resolve(host, 80).map(|addrs| addrs.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn only_loopback_targets_resolve() {
        assert_eq!(ips("127.0.0.1"), Some(vec!["127.0.0.1:80".to_owned()]));
        assert_eq!(ips("127.8.9.10"), Some(vec!["127.8.9.10:80".to_owned()]));
        assert_eq!(ips("[::1]"), Some(vec!["[::1]:80".to_owned()]));
        assert_eq!(ips("::ffff:127.0.0.1"), Some(vec!["127.0.0.1:80".to_owned()]));
        assert_eq!(ips("LocalHost."), Some(vec!["127.0.0.1:80".to_owned(), "[::1]:80".to_owned()]));
        assert_eq!(
            ips("api.localhost"),
            Some(vec!["127.0.0.1:80".to_owned(), "[::1]:80".to_owned()])
        );
        assert_eq!(ips("example.test"), Some(vec!["127.0.0.1:80".to_owned()]));
        for refused in
            ["192.0.2.1", "[2001:db8::1]", "::ffff:192.0.2.1", "example.com", "test", "0.0.0.0"]
        {
            assert_eq!(ips(refused), None, "{refused}");
        }
    }
}
