//! Addresses that are never looked up: private, shared (CGNAT), loopback, link-local,
//! documentation, multicast and other special-purpose ranges (IANA IPv4 and IPv6 Special-Purpose
//! Address Registries, RFC 6890). A geolocation or feed answer for them would be noise at best.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::IpAddr;
use std::sync::LazyLock;

/// The special-purpose ranges, each with the reason it is skipped.
static RESERVED: LazyLock<Vec<(IpNet, &'static str)>> = LazyLock::new(|| {
    let v4 = |s: &str, why| s.parse::<Ipv4Net>().ok().map(|n| (IpNet::V4(n), why));
    let v6 = |s: &str, why| s.parse::<Ipv6Net>().ok().map(|n| (IpNet::V6(n), why));
    [
        v4("0.0.0.0/8", "this network (RFC 791)"),
        v4("10.0.0.0/8", "private (RFC 1918)"),
        v4("100.64.0.0/10", "shared address space / CGNAT (RFC 6598)"),
        v4("127.0.0.0/8", "loopback (RFC 1122)"),
        v4("169.254.0.0/16", "link-local (RFC 3927)"),
        v4("172.16.0.0/12", "private (RFC 1918)"),
        v4("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        v4("192.0.2.0/24", "documentation (RFC 5737)"),
        v4("192.88.99.0/24", "6to4 relay anycast (RFC 7526)"),
        v4("192.168.0.0/16", "private (RFC 1918)"),
        v4("198.18.0.0/15", "benchmarking (RFC 2544)"),
        v4("198.51.100.0/24", "documentation (RFC 5737)"),
        v4("203.0.113.0/24", "documentation (RFC 5737)"),
        v4("224.0.0.0/4", "multicast (RFC 5771)"),
        v4("240.0.0.0/4", "reserved (RFC 1112)"),
        v6("::/128", "unspecified (RFC 4291)"),
        v6("::1/128", "loopback (RFC 4291)"),
        v6(
            "64:ff9b:1::/48",
            "local-use IPv4/IPv6 translation (RFC 8215)",
        ),
        v6("100::/64", "discard-only (RFC 6666)"),
        v6("2001:db8::/32", "documentation (RFC 3849)"),
        v6("fc00::/7", "unique local (RFC 4193)"),
        v6("fe80::/10", "link-local (RFC 4291)"),
        v6("ff00::/8", "multicast (RFC 4291)"),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// Why `ip` is not a public address, or `None` when it is one worth looking up. IPv4-mapped IPv6
/// addresses are judged as the IPv4 address they carry.
pub fn special(ip: IpAddr) -> Option<&'static str> {
    let ip = crate::config::canonical(ip);
    RESERVED
        .iter()
        .find(|(n, _)| n.contains(&ip))
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_cgnat_documentation_and_mapped_addresses_are_special() {
        for (ip, why) in [
            ("10.1.2.3", "private"),
            ("100.72.0.1", "CGNAT"),
            ("192.0.2.9", "documentation"),
            ("fe80::1", "link-local"),
            ("::ffff:192.168.1.1", "private"),
            ("fd12::1", "unique local"),
        ] {
            let got = special(ip.parse().unwrap());
            assert!(got.is_some_and(|g| g.contains(why)), "{ip}: {got:?}");
        }
        for ip in [
            "8.8.8.8",
            "2001:4860:4860::8888",
            "::ffff:1.1.1.1",
            "100.128.0.1",
        ] {
            assert_eq!(special(ip.parse().unwrap()), None, "{ip}");
        }
    }
}
