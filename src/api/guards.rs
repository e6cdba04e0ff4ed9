//! The route guards of [`Guard`]: the daemon's own names for the `Host` check, and the
//! answers for a foreign `Host` (421), a cross-site request (403) and a preflight to a
//! same-site route (403, without any CORS or Private Network Access grant).

use std::net::IpAddr;

use super::routes::Guard;
use crate::http::site_guard::{host_is_own, is_cross_site, OwnNames, FOREIGN_HOST};
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::system::interfaces;

/// 421 Misdirected Request: the request names a host this server does not serve.
pub const MISDIRECTED: u16 = 421;

/// The daemon's names: `BASE_URL`'s host, the hostname and `<hostname>.local`; its
/// addresses: those of its interfaces, read when asked (DHCP may change them at any time).
struct DaemonNames<'a> {
    rt: &'a Runtime,
}

impl OwnNames for DaemonNames<'_> {
    fn is_own_name(&self, name: &str) -> bool {
        if self.rt.config.relab.http.base_url_host().as_deref() == Some(name) {
            return true;
        }
        let Some(host) = interfaces::hostname() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        name == host || name.strip_suffix(".local") == Some(host.as_str())
    }

    fn is_own_address(&self, ip: IpAddr) -> bool {
        if self.rt.config.relab.http.base_url_host() == Some(ip.to_string()) {
            return true;
        }
        interfaces::addresses()
            .map(|all| all.iter().any(|(_, own)| own.to_canonical() == ip))
            .unwrap_or(false)
    }
}

/// Applies a route's guard to a request that passed its auth check. The `Host` check keeps
/// a browser tricked by DNS rebinding out; an edge presenting the CDN secret is no browser,
/// and it may forward its own viewers' `Host`.
pub fn check(rt: &Runtime, req: &Request, guard: Guard) -> Result<(), Response> {
    if guard == Guard::Open || (guard == Guard::OwnHost && super::is_cdn(rt, req)) {
        return Ok(());
    }
    if !host_is_own(req, &DaemonNames { rt }) {
        return Err(Response::detail(MISDIRECTED, FOREIGN_HOST));
    }
    match guard {
        Guard::SameSite(detail) if is_cross_site(req) => Err(Response::detail(403, detail)),
        _ => Ok(()),
    }
}

/// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) for a
/// same-site route: only another site sends one, so it is refused outright.
pub fn refuse_preflight(req: &Request, guard: Guard) -> Option<Response> {
    let Guard::SameSite(detail) = guard else {
        return None;
    };
    let preflight = req.method == "OPTIONS"
        && req.header("Origin").is_some()
        && req.header("Access-Control-Request-Method").is_some();
    preflight.then(|| Response::detail(403, detail).with_header("Cache-Control", "no-store"))
}
