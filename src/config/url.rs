//! The small URL checks the settings need: scheme, host and port of `scheme://host[:port]/…`,
//! whether a host is loopback, and which relay WebSocket URLs are allowed.

use std::fmt;
use std::net::IpAddr;

/// Checks an http(s) endpoint as plugin 0.6 does (`validate_endpoint_transport`): empty, or
/// http(s) with a host, and https unless the host is loopback or `development` is set.
/// `name` names the setting (or the backend answer's field) in the error.
pub fn check_endpoint_transport(
    value: &str,
    name: &'static str,
    development: bool,
) -> Result<(), TransportError> {
    if value.is_empty() {
        return Ok(());
    }
    match url_parts(value) {
        Some(u) if u.scheme == "https" && !u.host.is_empty() => Ok(()),
        Some(u) if u.scheme == "http" && !u.host.is_empty() => {
            if development || is_loopback_url(value) {
                Ok(())
            } else {
                Err(TransportError::NotHttps(name))
            }
        }
        _ => Err(TransportError::NotHttp(name)),
    }
}

/// An endpoint [`check_endpoint_transport`] refuses; the texts are the plugin's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    NotHttp(&'static str),
    NotHttps(&'static str),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::NotHttp(name) => write!(f, "{name} must use http or https."),
            TransportError::NotHttps(name) => write!(
                f,
                "{name} must use https unless it points at loopback or APP_ENV=development."
            ),
        }
    }
}

impl std::error::Error for TransportError {}

/// Checks a relay WebSocket URL: empty, `wss://…`, or `ws://…` when plaintext is allowed
/// (`APP_ENV=development`, or the deprecated `ALLOW_PLAINTEXT_RELAY`).
pub fn check_relay_url(url: &str, allow_plaintext: bool) -> Result<(), RelayUrlError> {
    if url.is_empty() {
        return Ok(());
    }
    match url_parts(url) {
        Some(u) if u.scheme == "wss" && !u.host.is_empty() => Ok(()),
        Some(u) if u.scheme == "ws" && !u.host.is_empty() => {
            if allow_plaintext {
                Ok(())
            } else {
                Err(RelayUrlError::Plaintext(url.to_string()))
            }
        }
        _ => Err(RelayUrlError::NotWebSocket(url.to_string())),
    }
}

/// A relay URL [`check_relay_url`] refuses; each variant holds the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayUrlError {
    /// `ws://` outside `APP_ENV=development`.
    Plaintext(String),
    /// Not `wss://` or `ws://` with a host.
    NotWebSocket(String),
}

impl fmt::Display for RelayUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayUrlError::Plaintext(url) => write!(
                f,
                "RELAY_BACKEND_URL {url:?} uses unencrypted ws://. Set APP_ENV=development for local development, or switch to wss://."
            ),
            RelayUrlError::NotWebSocket(url) => write!(
                f,
                "RELAY_BACKEND_URL must use the wss:// (or ws://) scheme with a host, not http/https; got {url:?}"
            ),
        }
    }
}

impl std::error::Error for RelayUrlError {}

/// Whether a URL's host is `localhost` or a loopback address (`[::1]` too).
pub fn is_loopback_url(url: &str) -> bool {
    let Some(u) = url_parts(url) else {
        return false;
    };
    u.host.eq_ignore_ascii_case("localhost")
        || u.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` is `http://` or `https://` with a host and a valid (or no) port.
pub(crate) fn is_http_url(url: &str) -> bool {
    url_parts(url).is_some_and(|u| {
        matches!(u.scheme.as_str(), "http" | "https") && !u.host.is_empty() && u.port().is_ok()
    })
}

pub(crate) struct UrlParts<'a> {
    pub scheme: String,
    pub host: &'a str,
    port: Option<&'a str>,
}

impl UrlParts<'_> {
    /// The port as written; `Ok(None)` when there is none.
    pub fn port(&self) -> Result<Option<u16>, ()> {
        match self.port {
            None | Some("") => Ok(None),
            Some(p) => p.parse().map(Some).map_err(|_| ()),
        }
    }
}

/// Splits `scheme://[userinfo@]host[:port][/…]`; `None` when there is no `scheme://`.
pub(crate) fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    Some(UrlParts {
        scheme: scheme.to_ascii_lowercase(),
        host,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_unless_loopback_or_development() {
        let ok = |v, dev| check_endpoint_transport(v, "S3_ENDPOINT_URL", dev);
        for fine in [
            "",
            "https://s3.example",
            "http://127.0.0.1:9000",
            "http://localhost:9000/x",
            "http://[::1]:9000",
        ] {
            assert_eq!(ok(fine, false), Ok(()), "{fine}");
        }
        assert_eq!(
            ok("http://minio.lan:9000", false).unwrap_err().to_string(),
            "S3_ENDPOINT_URL must use https unless it points at loopback or APP_ENV=development."
        );
        assert_eq!(ok("http://minio.lan:9000", true), Ok(()));
        assert_eq!(
            ok("ftp://x", true).unwrap_err().to_string(),
            "S3_ENDPOINT_URL must use http or https."
        );
    }
}
