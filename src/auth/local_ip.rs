//! Which peers count as "local" for the routes the plugin keeps to the LAN (§1.1 local-IP).
//!
//! The plugin asks Python's `ipaddress` for `is_private or is_loopback or is_link_local`; this
//! reproduces Python 3.13.0's answer exactly (checked against it address by address in the
//! tests). That is, an address is local when it lies in one of these blocks and not in one of
//! the exceptions:
//!
//! IPv4: 0.0.0.0/8, 10.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.0.0.0/24,
//! 192.0.2.0/24, 192.168.0.0/16, 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24, 240.0.0.0/4,
//! 255.255.255.255/32; except 192.0.0.9 and 192.0.0.10. The shared address space
//! 100.64.0.0/10 (carrier-grade NAT) is *not* local: Python calls it neither private nor global.
//!
//! IPv6: ::1/128, ::/128, 64:ff9b:1::/48, 100::/64, 2001::/23, 2001:db8::/32, 2002::/16,
//! fc00::/7, fe80::/10; except 2001:1::1, 2001:1::2, 2001:3::/32, 2001:4:112::/48,
//! 2001:20::/28, 2001:30::/28. An IPv4-mapped address (::ffff:a.b.c.d, what a dual-stack socket
//! reports for an IPv4 client) is judged as the IPv4 address it carries. Site-local fec0::/10
//! and the old IPv4-compatible form (::a.b.c.d) are not local, as in Python.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `(network, prefix length)`
const V4_LOCAL: [(u32, u8); 13] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link-local
    (0xac10_0000, 12), // 172.16.0.0/12
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xc0a8_0000, 16), // 192.168.0.0/16
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved
    (0xffff_ffff, 32), // limited broadcast
];

/// Globally reachable anycast services inside 192.0.0.0/24 (PCP and TURN).
const V4_EXCEPTIONS: [(u32, u8); 2] = [(0xc000_0009, 32), (0xc000_000a, 32)];

const V6_LOCAL: [(u128, u8); 9] = [
    (1, 128),                     // ::1 loopback
    (0, 128),                     // :: unspecified
    (0x0064_ff9b_0001 << 80, 48), // 64:ff9b:1::/48 local-use NAT64
    (0x0100 << 112, 64),          // 100::/64 discard-only
    (0x2001 << 112, 23),          // 2001::/23 IETF protocol assignments
    (0x2001_0db8 << 96, 32),      // 2001:db8::/32 documentation
    (0x2002 << 112, 16),          // 2002::/16 6to4
    (0xfc00 << 112, 7),           // fc00::/7 unique local
    (0xfe80 << 112, 10),          // fe80::/10 link-local
];

const V6_EXCEPTIONS: [(u128, u8); 6] = [
    ((0x2001_0001 << 96) | 1, 128), // 2001:1::1
    ((0x2001_0001 << 96) | 2, 128), // 2001:1::2
    (0x2001_0003 << 96, 32),        // 2001:3::/32 AMT
    (0x2001_0004_0112 << 80, 48),   // 2001:4:112::/48 AS112-v6
    (0x2001_0020 << 96, 28),        // 2001:20::/28 ORCHIDv2
    (0x2001_0030 << 96, 28),        // 2001:30::/28 drone remote ID
];

/// Whether the peer may use the local-only routes. No known peer address is never local.
pub fn is_local_peer(peer: Option<IpAddr>) -> bool {
    match peer {
        Some(IpAddr::V4(v4)) => is_local_v4(v4),
        Some(IpAddr::V6(v6)) => is_local_v6(v6),
        None => false,
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    let within = |&(net, len): &(u32, u8)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        bits & mask == net
    };
    V4_LOCAL.iter().any(within) && !V4_EXCEPTIONS.iter().any(within)
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_local_v4(v4);
    }
    let bits = u128::from(ip);
    let within = |&(net, len): &(u128, u8)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        bits & mask == net
    };
    V6_LOCAL.iter().any(within) && !V6_EXCEPTIONS.iter().any(within)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(addr: &str) -> bool {
        is_local_peer(Some(addr.parse().unwrap()))
    }

    #[test]
    fn contract_examples() {
        for addr in [
            "127.0.0.1",
            "::1",
            "192.168.2.10",
            "10.0.0.5",
            "172.20.0.2",
            "169.254.1.2",
        ] {
            assert!(local(addr), "{addr} is local");
        }
        for addr in ["8.8.8.8", "2001:4860:4860::8888"] {
            assert!(!local(addr), "{addr} is not local");
        }
        assert!(!is_local_peer(None));
    }

    #[test]
    fn mapped_v6_is_judged_as_its_v4() {
        assert!(local("::ffff:127.0.0.1"));
        assert!(local("::ffff:192.168.1.1"));
        assert!(!local("::ffff:8.8.8.8"));
        assert!(!local("::ffff:100.64.0.1"));
        assert!(!local("::ffff:192.0.0.9"));
    }

    #[test]
    fn prefix_table_is_well_formed() {
        // A network with bits beyond its prefix would never match anything.
        for &(net, len) in V4_LOCAL.iter().chain(&V4_EXCEPTIONS) {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            assert_eq!(net & mask, net, "{}/{len}", Ipv4Addr::from(net));
        }
        for &(net, len) in V6_LOCAL.iter().chain(&V6_EXCEPTIONS) {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            assert_eq!(net & mask, net, "{}/{len}", Ipv6Addr::from(net));
        }
    }

    /// Generated with Python 3.13.0: `ip.is_private or ip.is_loopback or ip.is_link_local`.
    #[rustfmt::skip]
    const PYTHON_3_13: &[(&str, bool)] = &[
        ("127.0.0.1", true), ("127.255.255.254", true), ("::1", true),
        ("192.168.2.10", true), ("10.0.0.5", true), ("172.20.0.2", true),
        ("169.254.1.2", true), ("8.8.8.8", false), ("2001:4860:4860::8888", false),
        ("0.0.0.0", true), ("0.1.2.3", true), ("1.0.0.1", false), ("9.255.255.255", false),
        ("11.0.0.0", false), ("100.64.0.1", false), ("100.127.255.255", false),
        ("172.15.255.255", false), ("172.16.0.0", true), ("172.31.255.255", true),
        ("172.32.0.0", false), ("192.0.0.1", true), ("192.0.0.9", false),
        ("192.0.0.10", false), ("192.0.0.170", true), ("192.0.0.171", true),
        ("192.0.1.1", false), ("192.0.2.1", true), ("192.88.99.1", false),
        ("192.167.255.255", false), ("192.169.0.0", false), ("198.17.255.255", false),
        ("198.18.0.0", true), ("198.19.255.255", true), ("198.20.0.0", false),
        ("198.51.100.7", true), ("203.0.113.9", true), ("203.0.114.1", false),
        ("223.255.255.255", false), ("224.0.0.1", false), ("239.255.255.250", false),
        ("240.0.0.1", true), ("255.255.255.254", true), ("255.255.255.255", true),
        ("169.253.255.255", false), ("169.255.0.0", false), ("::", true), ("::2", false),
        ("::ffff:127.0.0.1", true), ("::ffff:192.168.1.1", true), ("::ffff:8.8.8.8", false),
        ("::ffff:169.254.0.1", true), ("::ffff:100.64.0.1", false),
        ("::ffff:192.0.0.9", false), ("::127.0.0.1", false), ("64:ff9b::808:808", false),
        ("64:ff9b:1::1", true), ("64:ff9b:2::1", false), ("100::1", true),
        ("100::ffff:ffff:ffff:ffff", true), ("100:0:0:1::1", false), ("2001::1", true),
        ("2001:1::1", false), ("2001:1::2", false), ("2001:1::3", true), ("2001:2::1", true),
        ("2001:3::1", false), ("2001:4:112::1", false), ("2001:4:113::1", true),
        ("2001:10::1", true), ("2001:20::1", false), ("2001:2f:ffff::1", false),
        ("2001:30::1", false), ("2001:3f::1", false), ("2001:1ff::1", true),
        ("2001:200::1", false), ("2001:db8::1", true), ("2001:db9::1", false),
        ("2002::1", true), ("2002:c0a8:101::1", true), ("2003::1", false), ("3fff::1", false),
        ("fbff::1", false), ("fc00::1", true), ("fdff:ffff::1", true), ("fe00::1", false),
        ("fe80::1", true), ("febf::1", true), ("fec0::1", false), ("ff02::1", false),
        ("2a00:1450:4001:82b::200e", false),
    ];

    #[test]
    fn agrees_with_python() {
        for &(addr, expected) in PYTHON_3_13 {
            assert_eq!(local(addr), expected, "{addr}");
        }
    }
}
