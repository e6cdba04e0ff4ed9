//! Who may ask for the routes a web page must never reach: the `Host` check against DNS
//! rebinding and the cross-site check (`Origin`, `Sec-Fetch-Site`). Sans-IO: the caller says
//! what the daemon's own names and addresses are.
//!
//! - **Host.** A browser tricked by DNS rebinding sends the attacker's name in `Host` (the
//!   name it thinks it is talking to). So `Host` must name this daemon: `localhost`, a
//!   loopback or own interface address, the machine's hostname, `<hostname>.local` (Avahi) or
//!   `BASE_URL`'s host; compared without the port, case-insensitively, ignoring a trailing
//!   dot. The port is not compared: a rebinding page uses the camera's own port anyway, and a
//!   port forward legitimately changes it. A request without `Host` (HTTP/1.0 tools, relayed
//!   commands; HTTP/1.1 requires one, see `wire.rs`) is not from a browser and passes.
//! - **Cross-site.** A request is cross-site when it says `Sec-Fetch-Site: cross-site`, or
//!   carries an `Origin` that is not the daemon's own: own means `http://` or `https://`
//!   followed by exactly the request's `Host` (host and port as sent). `Origin: null` and an
//!   `Origin` on a request without `Host` are foreign. The configured CORS origins do not
//!   count as own here: no other site may read the key, whatever CORS allows elsewhere.

use std::net::IpAddr;

use super::Request;

pub const FOREIGN_HOST: &str = "This camera does not answer to that Host name (DNS rebinding \
                                protection); use its IP address, localhost, its .local name or \
                                the host of BASE_URL";

/// The daemon's own names and addresses, for the `Host` check.
pub trait OwnNames {
    /// Whether `name` (lowercase, no port, no trailing dot) is one of the daemon's names.
    fn is_own_name(&self, name: &str) -> bool;
    /// Whether `ip` is one of the daemon's addresses (loopback is checked before asking).
    fn is_own_address(&self, ip: IpAddr) -> bool;
}

/// Whether the request's `Host` names this daemon (true when there is no `Host`).
pub fn host_is_own(req: &Request, own: &dyn OwnNames) -> bool {
    let Some(host) = req.header("Host") else {
        return true;
    };
    let Some(name) = host_name(host) else {
        return false;
    };
    if let Ok(ip) = name.parse::<IpAddr>() {
        return ip.to_canonical().is_loopback() || own.is_own_address(ip.to_canonical());
    }
    name == "localhost" || own.is_own_name(&name)
}

/// The host part of a `Host` value, lowercased, without port, brackets or trailing dot.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        inside
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return None,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

/// Whether a browser says another site sent the request (see the module text).
pub fn is_cross_site(req: &Request) -> bool {
    let fetch_site = req.header("Sec-Fetch-Site").map(str::trim);
    if fetch_site.is_some_and(|v| v.eq_ignore_ascii_case("cross-site")) {
        return true;
    }
    let Some(origin) = req.header("Origin") else {
        return false;
    };
    let authority = origin
        .trim()
        .strip_prefix("http://")
        .or_else(|| origin.trim().strip_prefix("https://"))
        .map(|rest| rest.trim_end_matches('/'));
    match (authority, req.header("Host")) {
        (Some(a), Some(host)) => !a.eq_ignore_ascii_case(host.trim()),
        _ => true,
    }
}

/// Whether a browser says the request comes from a page of this very origin: its `Origin`
/// (or, without one, its `Referer`) is `http://` or `https://` followed by exactly the `Host`.
/// A request with neither, or without `Host`, is not.
pub fn is_same_origin(req: &Request) -> bool {
    let Some(host) = req.header("Host").map(str::trim) else {
        return false;
    };
    let source = req.header("Origin").or_else(|| req.header("Referer"));
    let Some(source) = source.map(str::trim) else {
        return false;
    };
    let Some(rest) = source
        .strip_prefix("http://")
        .or_else(|| source.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Own;

    impl OwnNames for Own {
        fn is_own_name(&self, name: &str) -> bool {
            ["campi", "campi.local", "cam.example.org"].contains(&name)
        }
        fn is_own_address(&self, ip: IpAddr) -> bool {
            ["192.168.1.5", "fd00::5"]
                .iter()
                .any(|a| a.parse::<IpAddr>().unwrap() == ip)
        }
    }

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new("GET", "/local-key").unwrap();
        req.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        req
    }

    fn host_ok(host: &str) -> bool {
        host_is_own(&request(&[("Host", host)]), &Own)
    }

    #[test]
    fn own_hosts_pass() {
        for host in [
            "localhost",
            "LOCALHOST:8018",
            "127.0.0.1",
            "127.0.0.1:8018",
            "127.1.2.3:1",
            "[::1]:8018",
            "[::ffff:127.0.0.1]",
            "192.168.1.5:8018",
            "[fd00::5]:8018",
            "campi:8018",
            "CamPi.local.:8018",
            "cam.example.org",
        ] {
            assert!(host_ok(host), "{host}");
        }
        assert!(host_is_own(&request(&[]), &Own), "no Host at all");
    }

    #[test]
    fn foreign_hosts_fail() {
        for host in [
            "evil.example",
            "evil.example:8018",
            "192.168.1.6:8018",
            "[fd00::6]",
            "8.8.8.8",
            "localhost.evil.example",
            "campi.local.evil.example",
            "",
            ":8018",
            "[::1",
            "[::1]x",
            "campi:80:80",
            "campi:port",
        ] {
            assert!(!host_ok(host), "{host:?}");
        }
    }

    #[test]
    fn same_origin_requests() {
        let same = |headers: &[(&str, &str)]| is_same_origin(&request(headers));
        let host = ("Host", "192.168.1.5:8018");
        assert!(same(&[host, ("Origin", "http://192.168.1.5:8018")]));
        assert!(same(&[
            host,
            ("Referer", "https://192.168.1.5:8018/docs?x#y")
        ]));
        assert!(same(&[host, ("Referer", "http://192.168.1.5:8018")]));
        assert!(!same(&[host]), "neither header");
        assert!(!same(&[host, ("Origin", "http://192.168.1.5:8019")]));
        assert!(!same(&[host, ("Origin", "null")]));
        assert!(!same(&[
            host,
            ("Referer", "http://192.168.1.5:8018.evil.example/")
        ]));
        assert!(
            !same(&[
                host,
                ("Origin", "https://evil.example"),
                ("Referer", "http://192.168.1.5:8018/")
            ]),
            "Origin decides when present"
        );
        assert!(!same(&[("Origin", "http://192.168.1.5:8018")]), "no Host");
    }

    #[test]
    fn cross_site_requests() {
        let cross = |headers: &[(&str, &str)]| is_cross_site(&request(headers));
        let host = ("Host", "192.168.1.5:8018");
        assert!(!cross(&[host]));
        assert!(!cross(&[host, ("Origin", "http://192.168.1.5:8018")]));
        assert!(!cross(&[host, ("Origin", "https://192.168.1.5:8018/")]));
        assert!(!cross(&[host, ("Sec-Fetch-Site", "same-origin")]));
        assert!(!cross(&[host, ("Sec-Fetch-Site", "same-site")]));
        assert!(!cross(&[host, ("Sec-Fetch-Site", "none")]));
        assert!(cross(&[host, ("Sec-Fetch-Site", "cross-site")]));
        assert!(cross(&[host, ("Sec-Fetch-Site", " Cross-Site ")]));
        assert!(cross(&[host, ("Origin", "https://evil.example")]));
        assert!(cross(&[host, ("Origin", "http://192.168.1.5:8019")]));
        assert!(cross(&[host, ("Origin", "http://192.168.1.5")]));
        assert!(cross(&[host, ("Origin", "null")]));
        assert!(cross(&[host, ("Origin", "ftp://192.168.1.5:8018")]));
        assert!(cross(&[("Origin", "http://192.168.1.5:8018")]), "no Host");
    }
}
