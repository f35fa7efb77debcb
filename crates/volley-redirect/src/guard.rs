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
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                // fc00::/7, unique local
                || (first & 0xfe00) == 0xfc00
                // fe80::/10, link-local
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The first private address `uri`'s host has: itself when it is an IP literal, else what
/// DNS says within the deadline (or 5 s). `None` when every address is public, or when the
/// name does not resolve (the connect will then fail on its own).
pub(crate) async fn private_address(uri: &Uri, deadline: Option<Deadline>) -> Option<IpAddr> {
    let host = uri.host()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_private(ip).then_some(ip);
    }
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let wait = deadline.map_or(LOOKUP_TIMEOUT, |deadline| deadline.remaining().min(LOOKUP_TIMEOUT));
    let addrs =
        tokio::time::timeout(wait, tokio::net::lookup_host((bare, port))).await.ok()?.ok()?;
    addrs.map(|addr| addr.ip()).find(|ip| is_private(*ip))
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
        assert_eq!(private_address(&uri, None).await, Some("::1".parse().unwrap()));
        let uri: Uri = "https://8.8.8.8/".parse().unwrap();
        assert_eq!(private_address(&uri, None).await, None);
    }
}
