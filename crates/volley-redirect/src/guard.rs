//! The guard against redirects into private networks (server-side request forgery).

use std::net::IpAddr;
use std::time::Duration;

use http::Uri;
use volley_core::Deadline;

/// The longest the guard waits for DNS when the request carries no deadline.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `ip` is loopback, private, link-local, carrier-grade NAT, unspecified or
/// otherwise not on the public internet.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                // 100.64.0.0/10, shared address space (RFC 6598)
                || (a == 100 && (64..128).contains(&b))
                // 0.0.0.0/8, "this network"
                || a == 0
                // 192.0.0.0/24 (IETF protocol assignments), 198.18.0.0/15 (benchmarking)
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (b == 18 || b == 19))
                // 224.0.0.0/4 multicast and 240.0.0.0/4 reserved
                || a >= 224
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7, unique local
                || (first & 0xfe00) == 0xfc00
                // fe80::/10, link-local
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The IPv4 address an IPv6 address carries and routes to: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`) and 6to4
/// (`2002::/16`).
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let low = std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::a.b.c.d (but not :: and ::1, which are judged as IPv6)
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(low),
        [0x2002, hi, lo, ..] => {
            Some(std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8))
        }
        _ => None,
    }
}

/// What the guard found out about a host.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Public,
    Private(IpAddr),
    /// DNS gave no answer in time, or none at all: the guard cannot vouch for the host.
    Unresolved,
}

/// Whether `uri`'s host is public: itself when it is an IP literal, else every address
/// DNS gives within the deadline (or 5 s), through the system resolver.
pub(crate) async fn judge(uri: &Uri, deadline: Option<Deadline>) -> Verdict {
    match private_address(uri, deadline).await {
        Ok(None) => Verdict::Public,
        Ok(Some(ip)) => Verdict::Private(ip),
        Err(()) => Verdict::Unresolved,
    }
}

async fn private_address(uri: &Uri, deadline: Option<Deadline>) -> Result<Option<IpAddr>, ()> {
    let host = uri.host().ok_or(())?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(is_private(ip).then_some(ip));
    }
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let wait = deadline.map_or(LOOKUP_TIMEOUT, |deadline| deadline.remaining().min(LOOKUP_TIMEOUT));
    let lookup = tokio::time::timeout(wait, tokio::net::lookup_host((bare, port))).await;
    let mut addrs = lookup.map_err(|_| ())?.map_err(|_| ())?.peekable();
    if addrs.peek().is_none() {
        return Err(());
    }
    Ok(addrs.map(|addr| addr.ip()).find(|ip| is_private(*ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn literals_are_judged_without_dns() {
        let uri: Uri = "http://[::1]:8080/x".parse().unwrap();
        assert_eq!(judge(&uri, None).await, Verdict::Private("::1".parse().unwrap()));
        let uri: Uri = "https://8.8.8.8/".parse().unwrap();
        assert_eq!(judge(&uri, None).await, Verdict::Public);
        let uri: Uri = "http://[::ffff:169.254.169.254]/".parse().unwrap();
        assert_eq!(
            judge(&uri, None).await,
            Verdict::Private("::ffff:169.254.169.254".parse().unwrap())
        );
    }
}
