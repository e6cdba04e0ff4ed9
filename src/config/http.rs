//! What the HTTP side reads: the public base URL (cookies, security headers, the setup
//! location) and the CORS origins.

use super::url::url_parts;

/// The plugin's port: used when `BASE_URL` names none.
pub const DEFAULT_PORT: u16 = 8018;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// `BASE_URL`.
    pub base_url: String,
    /// `ALLOWED_CORS_ORIGINS`: origins without a trailing `/`; used only when local mode is off.
    pub allowed_cors_origins: Vec<String>,
    /// `LOCAL_ALLOWED_ORIGINS`: origins without a trailing `/`.
    pub local_allowed_origins: Vec<String>,
}

impl HttpSettings {
    pub fn base_url_is_https(&self) -> bool {
        url_parts(&self.base_url).is_some_and(|u| u.scheme == "https")
    }

    /// The host written in `BASE_URL`, lowercased; `None` when it names none.
    pub fn base_url_host(&self) -> Option<String> {
        url_parts(&self.base_url)
            .map(|u| u.host.trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
    }

    /// The port written in `BASE_URL`, or 8018 when it names none.
    pub fn base_url_port(&self) -> u16 {
        url_parts(&self.base_url)
            .and_then(|u| u.port().ok().flatten())
            .unwrap_or(DEFAULT_PORT)
    }
}
