//! How a client on the LAN can reach us directly: one `http://<ipv4>:<port>` per address,
//! ordered by how likely the interface is the real LAN, and the mDNS name `<host>.local`.

use std::ffi::CStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Models 0.5.2 accept at most 16 candidate URLs.
pub const MAX_CANDIDATE_URLS: usize = 16;

/// Longest `mdns_name` the 0.5.2 models accept.
const MAX_MDNS_NAME_LEN: usize = 253;

const LAN_PREFIXES: [&str; 4] = ["eth", "en", "wlan", "wl"];
const VIRTUAL_PREFIXES: [&str; 7] = ["docker", "veth", "br-", "virbr", "tap", "tun", "zt"];

const PRIORITY_LAN: u8 = 0;
const PRIORITY_OTHER: u8 = 10;
const PRIORITY_VIRTUAL: u8 = 100;

/// Candidate URLs for every local IPv4 address (see [`rank`]); empty when the interfaces
/// cannot be listed.
pub fn candidate_urls(port: u16) -> Vec<String> {
    match ipv4_addresses() {
        Ok(entries) => rank(&entries, port),
        Err(e) => {
            log::debug!("cannot list network interfaces: {e}");
            Vec::new()
        }
    }
}

/// The URLs clients reach a server listening on `listen` at: the candidate LAN URLs when it
/// listens on every address, else its one address (loopback only: the loopback URL, never
/// LAN URLs it does not answer on).
pub fn listen_urls(listen: SocketAddr) -> Vec<String> {
    if listen.ip().is_unspecified() {
        candidate_urls(listen.port())
    } else {
        vec![format!("http://{listen}")]
    }
}

/// Every (interface name, IPv4 address) pair the kernel reports, loopback included, whether
/// the interface is up or not (as psutil's `net_if_addrs`).
pub fn ipv4_addresses() -> io::Result<Vec<(String, Ipv4Addr)>> {
    Ok(addresses()?
        .into_iter()
        .filter_map(|(name, ip)| match ip {
            IpAddr::V4(v4) => Some((name, v4)),
            IpAddr::V6(_) => None,
        })
        .collect())
}

/// Every (interface name, IPv4 or IPv6 address) pair the kernel reports.
pub fn addresses() -> io::Result<Vec<(String, IpAddr)>> {
    let list = IfAddrs::new()?;
    let mut out = Vec::new();
    let mut cur = list.head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned, alive until `list` drops.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a non-null ifa_addr points to a sockaddr at least as large as its family's.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        let ip = if family == libc::AF_INET {
            // SAFETY: AF_INET means the sockaddr is a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        } else if family == libc::AF_INET6 {
            // SAFETY: AF_INET6 means the sockaddr is a sockaddr_in6.
            let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
            IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
        } else {
            continue;
        };
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) };
        out.push((name.to_string_lossy().into_owned(), ip));
    }
    Ok(out)
}

/// The list from getifaddrs(3), freed on drop.
struct IfAddrs {
    head: *mut libc::ifaddrs,
}

impl IfAddrs {
    fn new() -> io::Result<Self> {
        let mut head = std::ptr::null_mut();
        // SAFETY: head is a valid out-pointer; on success we own the list until freeifaddrs.
        if unsafe { libc::getifaddrs(&mut head) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { head })
    }
}

impl Drop for IfAddrs {
    fn drop(&mut self) {
        if !self.head.is_null() {
            // SAFETY: head came from a successful getifaddrs and is freed exactly once.
            unsafe { libc::freeifaddrs(self.head) };
        }
    }
}

/// Physical LAN interfaces first, container and tunnel interfaces last.
fn interface_priority(name: &str) -> u8 {
    let name = name.to_ascii_lowercase();
    if VIRTUAL_PREFIXES.iter().any(|p| name.starts_with(p)) {
        PRIORITY_VIRTUAL
    } else if LAN_PREFIXES.iter().any(|p| name.starts_with(p)) {
        PRIORITY_LAN
    } else {
        PRIORITY_OTHER
    }
}

/// The plugin's ordering: drop 127.0.0.0/8; drop container/tunnel addresses when anything
/// else exists; sort by (priority, IP as a string, so lexicographic); then, beyond the
/// plugin, drop repeated URLs and keep at most [`MAX_CANDIDATE_URLS`].
pub fn rank(entries: &[(String, Ipv4Addr)], port: u16) -> Vec<String> {
    let mut ranked: Vec<(u8, String)> = entries
        .iter()
        .filter(|(_, ip)| !ip.is_loopback())
        .map(|(name, ip)| (interface_priority(name), ip.to_string()))
        .collect();
    if ranked.iter().any(|(p, _)| *p < PRIORITY_VIRTUAL) {
        ranked.retain(|(p, _)| *p < PRIORITY_VIRTUAL);
    }
    ranked.sort();
    let mut urls: Vec<String> = Vec::new();
    for (_, ip) in ranked {
        let url = format!("http://{ip}:{port}");
        if !urls.contains(&url) {
            urls.push(url);
        }
        if urls.len() == MAX_CANDIDATE_URLS {
            break;
        }
    }
    urls
}

/// `<hostname>.local`, or None when the hostname cannot be read or the name would not pass
/// the 0.5.2 models' `^[A-Za-z0-9.-]+$` (at most 253 characters).
pub fn mdns_name() -> Option<String> {
    mdns_name_for(&hostname()?)
}

/// The machine's hostname (gethostname(2)), or None when it cannot be read.
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for buf.len() bytes.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        log::debug!("gethostname failed: {}", io::Error::last_os_error());
        return None;
    }
    // No NUL means the name was truncated; a partial name is worse than none.
    let end = buf.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&buf[..end]).ok().map(str::to_string)
}

/// The mDNS name for a hostname, if it is one the models accept.
pub fn mdns_name_for(host: &str) -> Option<String> {
    if host.is_empty() {
        return None;
    }
    let name = format!("{host}.local");
    let valid = name.len() <= MAX_MDNS_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_one_address_is_reached_there_only() {
        let urls = |addr: &str| listen_urls(addr.parse().unwrap());
        assert_eq!(urls("127.0.0.1:8018"), ["http://127.0.0.1:8018"]);
        assert_eq!(urls("[::1]:8018"), ["http://[::1]:8018"]);
        assert_eq!(urls("192.168.1.20:8018"), ["http://192.168.1.20:8018"]);
        assert_eq!(urls("0.0.0.0:8018"), candidate_urls(8018));
    }

    fn entry(name: &str, ip: [u8; 4]) -> (String, Ipv4Addr) {
        (name.to_string(), Ipv4Addr::from(ip))
    }

    #[test]
    fn prefers_ethernet_over_docker_and_drops_loopback() {
        let entries = [
            entry("lo", [127, 0, 0, 1]),
            entry("docker0", [172, 17, 0, 1]),
            entry("eth0", [192, 168, 1, 50]),
        ];
        assert_eq!(rank(&entries, 8018), ["http://192.168.1.50:8018"]);
    }

    #[test]
    fn priorities() {
        for lan in ["eth0", "enp3s0", "eno1", "wlan0", "wlp2s0", "ETH1"] {
            assert_eq!(interface_priority(lan), PRIORITY_LAN, "{lan}");
        }
        for virt in [
            "docker0",
            "veth12ab",
            "br-3f2a",
            "virbr0",
            "tap0",
            "tun0",
            "zt7nnig26",
            "Docker1",
        ] {
            assert_eq!(interface_priority(virt), PRIORITY_VIRTUAL, "{virt}");
        }
        for other in ["usb0", "wwan0", "bond0", "ppp0", "lo"] {
            assert_eq!(interface_priority(other), PRIORITY_OTHER, "{other}");
        }
    }

    #[test]
    fn sorts_by_priority_then_ip_as_text() {
        let entries = [
            entry("usb0", [10, 55, 0, 1]),
            entry("wlan0", [192, 168, 1, 9]),
            entry("eth0", [192, 168, 1, 10]),
            entry("eth1", [9, 1, 1, 1]),
        ];
        assert_eq!(
            rank(&entries, 8018),
            [
                // Text order: "192.168.1.10" < "192.168.1.9" < "9.1.1.1".
                "http://192.168.1.10:8018",
                "http://192.168.1.9:8018",
                "http://9.1.1.1:8018",
                "http://10.55.0.1:8018",
            ]
        );
    }

    #[test]
    fn only_virtual_interfaces_are_kept_when_nothing_else_exists() {
        let entries = [
            entry("lo", [127, 0, 0, 1]),
            entry("docker0", [172, 17, 0, 1]),
            entry("br-1a2b", [172, 18, 0, 1]),
        ];
        assert_eq!(
            rank(&entries, 8018),
            ["http://172.17.0.1:8018", "http://172.18.0.1:8018"]
        );
    }

    #[test]
    fn empty_and_loopback_only_give_no_urls() {
        assert!(rank(&[], 8018).is_empty());
        assert!(rank(
            &[entry("lo", [127, 0, 0, 1]), entry("lo:1", [127, 9, 9, 9])],
            8018
        )
        .is_empty());
    }

    #[test]
    fn dedupes_and_caps_at_sixteen() {
        let entries = [entry("eth0", [10, 0, 0, 1]), entry("wlan0", [10, 0, 0, 1])];
        assert_eq!(rank(&entries, 80), ["http://10.0.0.1:80"]);
        let many: Vec<_> = (1..=40).map(|i| entry("eth0", [10, 0, 0, i])).collect();
        let urls = rank(&many, 8018);
        assert_eq!(urls.len(), MAX_CANDIDATE_URLS);
        assert_eq!(urls[0], "http://10.0.0.1:8018");
        assert_eq!(urls[1], "http://10.0.0.10:8018");
    }

    #[test]
    fn uses_the_given_port() {
        assert_eq!(
            rank(&[entry("eth0", [10, 1, 2, 3])], 9000),
            ["http://10.1.2.3:9000"]
        );
    }

    #[test]
    fn lists_this_machine_including_loopback() {
        let addrs = ipv4_addresses().unwrap();
        assert!(addrs.iter().any(|(_, ip)| ip.is_loopback()), "{addrs:?}");
        assert!(candidate_urls(8018)
            .iter()
            .all(|u| u.starts_with("http://") && !u.starts_with("http://127.")));
    }

    #[test]
    fn mdns_names() {
        assert_eq!(
            mdns_name_for("raspberrypi").as_deref(),
            Some("raspberrypi.local")
        );
        assert_eq!(
            mdns_name_for("cam-01.lab").as_deref(),
            Some("cam-01.lab.local")
        );
        assert_eq!(mdns_name_for(""), None);
        assert_eq!(mdns_name_for("my_pi"), None);
        assert_eq!(mdns_name_for("pi cam"), None);
        assert_eq!(mdns_name_for("kamera-ä"), None);
        assert!(mdns_name_for(&"a".repeat(247)).is_some());
        assert_eq!(mdns_name_for(&"a".repeat(248)), None);
        // This machine's name either passes the pattern or is withheld; never malformed.
        if let Some(name) = mdns_name() {
            assert!(name.ends_with(".local") && name.len() > ".local".len());
        }
    }
}
