//! What authentication reads: the configured API keys, the header and cookie names, and
//! local mode with its key.

use std::fmt;

use super::action_limits::ActionLimitSettings;
use super::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub struct AuthSettings {
    /// `AUTHORIZED_API_KEYS`.
    pub authorized_api_keys: ApiKeys,
    /// `AUTH_KEY_NAME`: the header that carries an API key.
    pub key_name: String,
    /// `AUTH_COOKIE_SECURE`; `None` follows `BASE_URL` (see `RelabSettings::cookie_secure`).
    pub cookie_secure: Option<bool>,
    /// `SESSION_COOKIE_NAME`.
    pub session_cookie_name: String,
    /// `LOCAL_MODE_ENABLED`.
    pub local_mode_enabled: bool,
    /// `LOCAL_API_KEY`; empty means the credentials file's key or a generated one.
    pub local_api_key: Secret,
    /// `LOGIN_MAX_FAILURES` (picamd's): wrong keys within 300 s that block a client.
    pub login_max_failures: usize,
    /// `RATE_LIMIT_*`: per-route action limits for clients on the network.
    pub action_limits: ActionLimitSettings,
    /// `HLS_CDN_SECRET` (picamd's): a CDN or edge presenting it as `Authorization: Bearer`
    /// may read the LL-HLS files from outside the local network; empty means none may.
    pub hls_cdn_secret: Secret,
    /// `LOCAL_VIEW_WITHOUT_KEY` (picamd's): local-network peers may watch `/frame`,
    /// `/stream.mjpg` and read `/camera/status` without a key, as they may the LL-HLS preview.
    pub local_view_without_key: bool,
    /// `LOCAL_CONTROL_WITHOUT_KEY` (picamd's): local-network peers may also start and stop
    /// the camera and a recording without a key (`/camera/start|stop`, `/record/start|stop`).
    pub local_control_without_key: bool,
}

/// The shortest `HLS_CDN_SECRET` accepted: it guards the preview from the internet.
pub const MIN_CDN_SECRET_LEN: usize = 16;

/// A list of API keys whose `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiKeys(Vec<String>);

impl ApiKeys {
    pub fn new(keys: Vec<String>) -> ApiKeys {
        ApiKeys(keys)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|k| k == key)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&format!("[{} keys]", self.0.len()), f)
    }
}

impl<const N: usize> PartialEq<[&str; N]> for ApiKeys {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.0.iter().eq(other.iter())
    }
}
