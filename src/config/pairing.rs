//! What the pairing run reads besides the backend's address: its pace and where the
//! credentials file lives.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingSettings {
    /// `PAIRING_REGISTER_TIMEOUT_RETRY_S`.
    pub register_timeout_retry_s: u64,
    /// `PAIRING_POLL_INTERVAL_S`.
    pub poll_interval_s: u64,
    /// `RELAB_CREDENTIALS_FILE`.
    pub credentials_file: PathBuf,
}
