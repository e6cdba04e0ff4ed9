//! Which client an address belongs to, for the limits that count clients (connection slots,
//! login failures, action limits): an IPv4 address, or an IPv6 address's /64, since one host
//! usually holds a whole /64 and could otherwise take a fresh address for every attempt.

use std::net::{IpAddr, Ipv6Addr};

/// The IPv4 address (IPv4-mapped IPv6 included), or the IPv6 address's /64.
pub fn client_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_stays_whole_and_ipv6_is_its_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_of(ip("10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(client_of(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(client_of(ip("2001:db8:1:2:ffff::9")), ip("2001:db8:1:2::"));
    }
}
