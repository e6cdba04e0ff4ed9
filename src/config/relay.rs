//! What the relay reads: bootstrap credentials from the environment, the relay-local key and
//! the connection's limits.

use super::secret::Secret;

/// `RELAY_AUTH_SCHEME`'s default and the only scheme accepted with bootstrap credentials
/// (the pairing protocol's `device_assertion`).
pub const DEFAULT_RELAY_AUTH_SCHEME: &str = "device_assertion";

#[derive(Debug, Clone, PartialEq)]
pub struct RelaySettings {
    /// `RELAY_BACKEND_URL`.
    pub backend_url: String,
    /// `RELAY_CAMERA_ID`.
    pub camera_id: String,
    /// `RELAY_AUTH_SCHEME`.
    pub auth_scheme: String,
    /// `RELAY_KEY_ID`.
    pub key_id: String,
    /// `RELAY_PRIVATE_KEY_PEM`.
    pub private_key_pem: Secret,
    /// `LOCAL_RELAY_API_KEY`: the key relayed commands carry; empty means a fresh one.
    pub local_relay_api_key: Secret,
    /// `RELAY_RECONNECT_MIN_S`.
    pub reconnect_min_s: f64,
    /// `RELAY_RECONNECT_MAX_S`.
    pub reconnect_max_s: f64,
    /// `RELAY_MAX_CONCURRENT_COMMANDS`.
    pub max_concurrent_commands: u32,
    /// `RELAY_MAX_PENDING_COMMANDS` (plugin 0.6): commands running and waiting at most.
    pub max_pending_commands: u32,
    /// `ALLOW_PLAINTEXT_RELAY`: whether `ws://` relay URLs are accepted.
    pub allow_plaintext: bool,
}

impl RelaySettings {
    /// Whether the environment alone carries complete relay credentials.
    pub fn env_complete(&self) -> bool {
        !self.backend_url.is_empty()
            && !self.camera_id.is_empty()
            && self.auth_scheme == DEFAULT_RELAY_AUTH_SCHEME
            && !self.key_id.is_empty()
            && !self.private_key_pem.is_empty()
    }
}
