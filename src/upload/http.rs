//! The HTTP client uploads share: ureq (rustls with the webpki roots) with timeouts, error
//! statuses returned as answers (their bodies name the error), and `*.localhost` names
//! resolved to loopback, as RFC 6761 asks and curl does, so virtual-host S3 addressing works
//! against a local server (`http://<bucket>.localhost:9000`) without a DNS entry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::Agent;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole request, body included: a few MB over a slow uplink.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The agent sinks use. It honours the usual proxy variables (`HTTPS_PROXY`, `ALL_PROXY`).
pub fn agent() -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(REQUEST_TIMEOUT))
        .user_agent(format!("picamd/{}", env!("CARGO_PKG_VERSION")))
        .build();
    Agent::with_parts(
        config,
        DefaultConnector::new(),
        LocalhostResolver::default(),
    )
}

/// Reads at most `limit` bytes of an answer's body as text (error bodies are small).
pub fn body_text(resp: &mut ureq::http::Response<ureq::Body>, limit: u64) -> String {
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_string()
        .unwrap_or_default()
}

/// Whether `host` is `localhost` or a name under it.
fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

#[derive(Debug, Default)]
struct LocalhostResolver {
    system: DefaultResolver,
}

impl Resolver for LocalhostResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(authority) = uri.authority() else {
            return self.system.resolve(uri, config, timeout);
        };
        if !is_localhost_name(authority.host()) {
            return self.system.resolve(uri, config, timeout);
        }
        let port = authority.port_u16().unwrap_or_else(|| {
            if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            }
        });
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        addrs.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names() {
        for yes in [
            "localhost",
            "LOCALHOST",
            "rpi-cam.localhost",
            "a.b.localhost.",
        ] {
            assert!(is_localhost_name(yes), "{yes}");
        }
        for no in [
            "localhost.example",
            "mylocalhost",
            "127.0.0.1",
            "example.com",
            "",
        ] {
            assert!(!is_localhost_name(no), "{no}");
        }
    }

    #[test]
    fn localhost_names_resolve_to_loopback_with_their_port() {
        let r = LocalhostResolver::default();
        let config = Agent::config_builder().build();
        let timeout = NextTimeout::default();
        let uri: Uri = "http://rpi-cam.localhost:9123/key".parse().unwrap();
        let addrs = r.resolve(&uri, &config, timeout).unwrap();
        assert_eq!(addrs[0], "127.0.0.1:9123".parse().unwrap());
        assert_eq!(addrs[1], "[::1]:9123".parse().unwrap());
        let uri: Uri = "https://b.localhost/".parse().unwrap();
        assert_eq!(r.resolve(&uri, &config, timeout).unwrap()[0].port(), 443);
    }
}
